"""pharos-controller: the provider agent outside octavia-driver-agent.

    pharos-controller --config-file /etc/octavia/octavia.conf [--config-dir D]

It needs the [driver_agent] socket paths of a running octavia-driver-agent.
"""
import signal
import sys
import threading

from oslo_config import cfg
from oslo_log import log as logging

from pharos.controller import agent


def main(argv=None):
    conf = cfg.CONF
    logging.register_options(conf)
    agent.register_driver_agent_opts(conf)
    conf(sys.argv[1:] if argv is None else argv, project='pharos')
    logging.setup(conf, 'pharos')
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    agent.Controller(conf).run(stop)
    return 0


if __name__ == '__main__':
    sys.exit(main())
