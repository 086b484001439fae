"""The Pharos store: desired/applied load balancer trees and amphorae.

SQLAlchemy Core (1.4, 2.0-style API); SQLite by default, MariaDB when several
controllers share it. `Store` is the only way the driver and controller touch
it.
"""
from pharos.store.api import Amphora, LoadBalancerRecord, Store  # noqa: F401

__all__ = ['Amphora', 'LoadBalancerRecord', 'Store']
