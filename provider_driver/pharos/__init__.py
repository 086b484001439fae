"""Pharos: an Octavia provider driver backed by the Pharos C++ data plane.

``pharos._core`` is the engine's own config compiler/validator and heartbeat
codec (pybind11); it is re-exported here so callers write ``pharos._core`` or
``from pharos import compile_loadbalancer``.
"""
from pharos import _core  # noqa: F401
from pharos._core import (  # noqa: F401
    CompileError, HeartbeatError, InvalidConfig, UnsupportedOption,
    compile_loadbalancer, decode_heartbeat, encode_heartbeat,
    engine_config_schema, validate_engine_config)

__all__ = ['_core', 'CompileError', 'HeartbeatError', 'InvalidConfig',
           'UnsupportedOption', 'compile_loadbalancer', 'decode_heartbeat',
           'encode_heartbeat', 'engine_config_schema', 'validate_engine_config']
__version__ = '0.1.0'
