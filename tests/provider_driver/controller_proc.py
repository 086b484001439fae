"""A controller process for kill tests: the real Controller with the fake
driver library, status documents appended to a JSON-lines file.

    controller_proc.py STATE_DIR BRIDGE_NS HEARTBEAT_PORT STATUS_FILE
"""
import json
import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'provider_driver'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from oslo_config import cfg  # noqa: E402

from pharos import config as pharos_config  # noqa: E402
from pharos import store as pharos_store  # noqa: E402
from pharos.controller import agent as controller_agent  # noqa: E402

import fakes  # noqa: E402


class FileLib(fakes.FakeDriverLibrary):
    def __init__(self, store, path):
        super().__init__(store)
        self.path = path

    def update_loadbalancer_status(self, status):
        with open(self.path, 'a') as f:
            f.write(json.dumps(status) + '\n')


def main():
    state, bridge, port, status_file = sys.argv[1:5]
    conf = cfg.ConfigOpts()
    pharos_config.register_opts(conf)
    controller_agent.register_driver_agent_opts(conf)
    conf([])
    for key, value in (('state_dir', state), ('local_bridge_netns', bridge),
                       ('heartbeat_port', int(port)), ('reconcile_interval', 0.1),
                       ('local_management_cidr', '169.254.201.0/24'),
                       ('heartbeat_key', 'test-heartbeat-key-0123456789')):
        conf.set_override(key, value, 'pharos')
    store = pharos_store.Store(pharos_config.store_url(conf))
    ctl = controller_agent.Controller(conf, store=store, lib=FileLib(store, status_file),
                                      controller_id='kill-test')
    ctl.run(threading.Event())


if __name__ == '__main__':
    main()
