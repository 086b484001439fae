"""A do-nothing Octavia provider that behaves like a real one towards Octavia.

Octavia's built-in ``noop_driver`` fakes the VIP (198.0.2.5 / random port id)
and never reports a status, so its load balancers stay PENDING_CREATE.  This
provider is what devstack/localcloud.sh uses to prove the control plane end to
end, the same way the Pharos provider will work:

* ``create_vip_port`` is not implemented, so the Octavia API allocates the VIP
  as a real Neutron port (allowed_address_pairs network driver);
* every create/update/delete is acknowledged asynchronously through the
  octavia-driver-agent status socket (octavia_lib DriverLibrary): objects go
  ACTIVE/ONLINE, or DELETED (the driver agent then frees the VIP port).

Only load balancers, listeners, pools, members and health monitors are handled.
"""

import threading
import time

from oslo_config import cfg
from oslo_log import log as logging

from octavia_lib.api.drivers import driver_lib
from octavia_lib.api.drivers import provider_base

LOG = logging.getLogger(__name__)

# How long to wait for the API transaction that created an object to commit
# before giving up on acknowledging it.
_COMMIT_WAIT_S = 30.0


class LocalcloudNoopProvider(provider_base.ProviderDriver):
    def __init__(self):
        super().__init__()
        self._lib = None

    def _driver_lib(self):
        if self._lib is None:
            da = cfg.CONF.driver_agent
            self._lib = driver_lib.DriverLibrary(
                status_socket=da.status_socket_path,
                stats_socket=da.stats_socket_path,
                get_socket=da.get_socket_path)
        return self._lib

    def _later(self, getter_name, obj_id, status):
        """Report status once the object is visible through the agent."""
        def run():
            lib = self._driver_lib()
            getter = getattr(lib, getter_name)
            deadline = time.monotonic() + _COMMIT_WAIT_S
            while time.monotonic() < deadline:
                try:
                    if getter(obj_id) is not None:
                        break
                except Exception:  # agent busy or not there yet
                    pass
                time.sleep(0.1)
            else:
                LOG.error('localcloud_noop: %s %s never became visible',
                          getter_name, obj_id)
                return
            try:
                lib.update_loadbalancer_status(status)
            except Exception:
                LOG.exception('localcloud_noop: status update failed: %s',
                              status)
        threading.Thread(target=run, daemon=True).start()

    @staticmethod
    def _st(kind, obj_id, prov, oper=None):
        entry = {'id': obj_id, 'provisioning_status': prov}
        if oper:
            entry['operating_status'] = oper
        return {kind: [entry]}

    @staticmethod
    def _with_lb(status, lb_id):
        status['loadbalancers'] = [{'id': lb_id,
                                    'provisioning_status': 'ACTIVE'}]
        return status

    # Load balancer
    def loadbalancer_create(self, loadbalancer):
        lb_id = loadbalancer.loadbalancer_id
        self._later('get_loadbalancer', lb_id,
                    self._st('loadbalancers', lb_id, 'ACTIVE', 'ONLINE'))

    def loadbalancer_update(self, old_loadbalancer, new_loadbalancer):
        lb_id = new_loadbalancer.loadbalancer_id
        self._later('get_loadbalancer', lb_id,
                    self._st('loadbalancers', lb_id, 'ACTIVE'))

    def loadbalancer_delete(self, loadbalancer, cascade=False):
        lb_id = loadbalancer.loadbalancer_id
        self._later('get_loadbalancer', lb_id,
                    self._st('loadbalancers', lb_id, 'DELETED'))

    def loadbalancer_failover(self, loadbalancer_id):
        self._later('get_loadbalancer', loadbalancer_id,
                    self._st('loadbalancers', loadbalancer_id, 'ACTIVE'))

    # Children: acknowledge the object and put the load balancer back ACTIVE.
    def _child(self, kind, getter, obj_id, lb_id, prov, oper=None):
        self._later(getter, lb_id,
                    self._with_lb(self._st(kind, obj_id, prov, oper), lb_id))

    def listener_create(self, listener):
        self._child('listeners', 'get_loadbalancer', listener.listener_id,
                    listener.loadbalancer_id, 'ACTIVE', 'ONLINE')

    def listener_update(self, old_listener, new_listener):
        self._child('listeners', 'get_loadbalancer', new_listener.listener_id,
                    old_listener.loadbalancer_id, 'ACTIVE')

    def listener_delete(self, listener):
        self._child('listeners', 'get_loadbalancer', listener.listener_id,
                    listener.loadbalancer_id, 'DELETED')

    def pool_create(self, pool):
        self._child('pools', 'get_loadbalancer', pool.pool_id,
                    pool.loadbalancer_id, 'ACTIVE', 'ONLINE')

    def pool_update(self, old_pool, new_pool):
        self._child('pools', 'get_loadbalancer', new_pool.pool_id,
                    old_pool.loadbalancer_id, 'ACTIVE')

    def pool_delete(self, pool):
        self._child('pools', 'get_loadbalancer', pool.pool_id,
                    pool.loadbalancer_id, 'DELETED')

    def _member_lb(self, pool_id):
        pool = self._driver_lib().get_pool(pool_id)
        return pool['loadbalancer_id'] if pool else None

    def _member(self, member, prov, oper=None):
        def run():
            lb_id = None
            deadline = time.monotonic() + _COMMIT_WAIT_S
            while lb_id is None and time.monotonic() < deadline:
                try:
                    lb_id = self._member_lb(member.pool_id)
                except Exception:
                    pass
                if lb_id is None:
                    time.sleep(0.1)
            if lb_id:
                self._child('members', 'get_loadbalancer', member.member_id,
                            lb_id, prov, oper)
        threading.Thread(target=run, daemon=True).start()

    def member_create(self, member):
        self._member(member, 'ACTIVE', 'NO_MONITOR')

    def member_update(self, old_member, new_member):
        self._member(new_member, 'ACTIVE')

    def member_delete(self, member):
        self._member(member, 'DELETED')

    def health_monitor_create(self, healthmonitor):
        self._hm(healthmonitor, 'ACTIVE', 'ONLINE')

    def health_monitor_update(self, old_healthmonitor, new_healthmonitor):
        self._hm(new_healthmonitor, 'ACTIVE')

    def health_monitor_delete(self, healthmonitor):
        self._hm(healthmonitor, 'DELETED')

    def _hm(self, hm, prov, oper=None):
        def run():
            lb_id = None
            deadline = time.monotonic() + _COMMIT_WAIT_S
            while lb_id is None and time.monotonic() < deadline:
                try:
                    lb_id = self._member_lb(hm.pool_id)
                except Exception:
                    pass
                if lb_id is None:
                    time.sleep(0.1)
            if lb_id:
                self._child('healthmonitors', 'get_loadbalancer',
                            hm.healthmonitor_id, lb_id, prov, oper)
        threading.Thread(target=run, daemon=True).start()
