"""PharosProviderDriver: the octavia-lib provider the Octavia API calls.

Thin on purpose: each mutation applies the change to the stored load balancer
tree, compiles the whole new tree with the engine's own compiler
(`pharos._core`, GIL released in C++), and stores it with desired_version + 1
only if it compiles. It then wakes the controllers (one UDP datagram each,
`pharos.controller.wakeup`) and returns; the controller (provider agent)
creates amphorae, pushes configs and reports statuses.
"""
import json
import threading

from oslo_config import cfg
from oslo_log import log as logging

from octavia_lib.api.drivers import data_models
from octavia_lib.api.drivers import exceptions as lib_exc
from octavia_lib.api.drivers import provider_base

from pharos import _core
from pharos import config as pharos_config
from pharos import errors
from pharos import flavor
from pharos import store as pharos_store
from pharos import tls_material
from pharos import tree as lbtree
from pharos.controller import wakeup

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

_SAVE_RETRIES = 5


def _unset(value):
    return value is None or isinstance(value, data_models.UnsetType)


def _first_set(*values):
    for value in values:
        if not _unset(value):
            return value
    return None


class PharosProviderDriver(provider_base.ProviderDriver):
    def __init__(self, store=None, conf=None):
        super().__init__()
        self._store = store
        self._conf = conf or CONF
        self._store_lock = threading.Lock()

    @property
    def store(self):
        if self._store is None:
            with self._store_lock:
                if self._store is None:
                    self._store = pharos_store.Store(
                        pharos_config.store_url(self._conf))
        return self._store

    def _wake(self, lb_id):
        """After the commit: a controller woken earlier could miss it."""
        wakeup.notify(self._conf, lb_id)

    # ---- helpers --------------------------------------------------------

    @staticmethod
    def compile(tree, previous=None):
        """Compile or raise the octavia-lib exception the API expects.
        Certificate material not in `previous` (the stored tree) is checked
        first (pharos.tls_material)."""
        tls_material.check_tree(tree, previous)
        try:
            return _core.compile_loadbalancer(json.dumps(tree))
        except _core.UnsupportedOption as e:
            message = errors.user_message(tree, e.errors)
            raise lib_exc.UnsupportedOptionError(
                user_fault_string=message, operator_fault_string=message)
        except _core.InvalidConfig as e:
            message = errors.user_message(tree, e.errors)
            raise lib_exc.DriverError(
                user_fault_string=message, operator_fault_string=message)

    def _lb_id_of(self, object_id, what):
        lb_id = self.store.loadbalancer_of(object_id)
        if lb_id is None:
            message = '%s %s is not known to the pharos provider' % (
                what, object_id)
            raise lib_exc.DriverError(user_fault_string=message,
                                      operator_fault_string=message)
        return lb_id

    def _mutate(self, lb_id, change, deleted=None, cascade=None,
                compile_it=True):
        """Apply `change(tree) -> tree`, compile, store as a new version."""
        for _ in range(_SAVE_RETRIES):
            record = self.store.get_loadbalancer(lb_id)
            if record is None:
                message = ('load balancer %s is not known to the pharos '
                           'provider' % lb_id)
                raise lib_exc.DriverError(user_fault_string=message,
                                          operator_fault_string=message)
            try:
                tree = change(record.tree)
            except lbtree.NotInTree as e:
                message = '%s is not part of load balancer %s' % (
                    e.args[0], lb_id)
                raise lib_exc.DriverError(user_fault_string=message,
                                          operator_fault_string=message)
            if compile_it:
                self.compile(tree, record.tree)
            version = self.store.save_tree(lb_id, tree,
                                           record.desired_version,
                                           deleted=deleted, cascade=cascade)
            if version is not None:
                LOG.debug('pharos: load balancer %s now at version %d',
                          lb_id, version)
                self._wake(lb_id)
                return version
        message = 'load balancer %s is being changed concurrently' % lb_id
        raise lib_exc.DriverError(user_fault_string=message,
                                  operator_fault_string=message)

    # ---- load balancer ---------------------------------------------------

    def loadbalancer_create(self, loadbalancer):
        if not _unset(loadbalancer.flavor) and loadbalancer.flavor:
            self.validate_flavor(loadbalancer.flavor)
        if not _unset(loadbalancer.availability_zone) and \
                isinstance(loadbalancer.availability_zone, dict):
            self.validate_availability_zone(loadbalancer.availability_zone)
        tree = lbtree.from_loadbalancer(loadbalancer)
        self.compile(tree)
        self.store.create_loadbalancer(
            loadbalancer.loadbalancer_id,
            None if _unset(loadbalancer.project_id)
            else loadbalancer.project_id, tree)
        self._wake(loadbalancer.loadbalancer_id)

    def loadbalancer_update(self, old_loadbalancer, new_loadbalancer):
        lb_id = _first_set(new_loadbalancer.loadbalancer_id,
                           old_loadbalancer.loadbalancer_id)
        self._mutate(lb_id, lambda t: lbtree.update_loadbalancer(
            t, new_loadbalancer))

    def loadbalancer_delete(self, loadbalancer, cascade=False):
        lb_id = loadbalancer.loadbalancer_id
        if self.store.get_loadbalancer(lb_id) is None:
            # Unknown here (e.g. its create was refused later by Octavia):
            # record it deleted so that the controller reports DELETED.
            self.store.create_loadbalancer(
                lb_id, None, lbtree.empty(loadbalancer))
        self._mutate(lb_id, lambda t: t, deleted=True, cascade=bool(cascade),
                     compile_it=False)

    def loadbalancer_failover(self, loadbalancer_id):
        def bump(tree):
            tree = dict(tree)
            tree['_failover'] = int(tree.get('_failover', 0)) + 1
            return tree
        self._mutate(loadbalancer_id, bump, compile_it=False)

    # ---- listener ----------------------------------------------------------

    def listener_create(self, listener):
        self._mutate(listener.loadbalancer_id,
                     lambda t: lbtree.put_listener(t, listener))

    def listener_update(self, old_listener, new_listener):
        if _unset(new_listener.listener_id):
            new_listener.listener_id = old_listener.listener_id
        lb_id = _first_set(old_listener.loadbalancer_id,
                           new_listener.loadbalancer_id) or \
            self._lb_id_of(old_listener.listener_id, 'listener')
        self._mutate(lb_id, lambda t: lbtree.put_listener(
            t, new_listener, update=True))

    def listener_delete(self, listener):
        lb_id = _first_set(listener.loadbalancer_id) or \
            self._lb_id_of(listener.listener_id, 'listener')
        self._mutate(lb_id, lambda t: lbtree.delete_listener(
            t, listener.listener_id), compile_it=False)

    # ---- pool --------------------------------------------------------------

    def pool_create(self, pool):
        lb_id = _first_set(pool.loadbalancer_id) or \
            self._lb_id_of(pool.listener_id, 'listener')
        self._mutate(lb_id, lambda t: lbtree.put_pool(t, pool))

    def pool_update(self, old_pool, new_pool):
        if _unset(new_pool.pool_id):
            new_pool.pool_id = old_pool.pool_id
        lb_id = _first_set(old_pool.loadbalancer_id) or \
            self._lb_id_of(old_pool.pool_id, 'pool')
        self._mutate(lb_id, lambda t: lbtree.put_pool(t, new_pool,
                                                      update=True))

    def pool_delete(self, pool):
        lb_id = _first_set(pool.loadbalancer_id) or \
            self._lb_id_of(pool.pool_id, 'pool')
        self._mutate(lb_id, lambda t: lbtree.delete_pool(t, pool.pool_id),
                     compile_it=False)

    # ---- member ------------------------------------------------------------

    def member_create(self, member):
        lb_id = self._lb_id_of(member.pool_id, 'pool')
        self._mutate(lb_id, lambda t: lbtree.put_member(t, member))

    def member_update(self, old_member, new_member):
        if _unset(new_member.member_id):
            new_member.member_id = old_member.member_id
        if _unset(new_member.pool_id):
            new_member.pool_id = old_member.pool_id
        lb_id = self._lb_id_of(old_member.pool_id, 'pool')
        self._mutate(lb_id, lambda t: lbtree.put_member(t, new_member,
                                                        update=True))

    def member_delete(self, member):
        lb_id = self._lb_id_of(member.pool_id, 'pool')
        self._mutate(lb_id, lambda t: lbtree.delete_member(
            t, member.pool_id, member.member_id), compile_it=False)

    def member_batch_update(self, pool_id, members):
        lb_id = self._lb_id_of(pool_id, 'pool')
        self._mutate(lb_id, lambda t: lbtree.replace_members(
            t, pool_id, members))

    # ---- health monitor ----------------------------------------------------

    def health_monitor_create(self, healthmonitor):
        lb_id = self._lb_id_of(healthmonitor.pool_id, 'pool')
        self._mutate(lb_id, lambda t: lbtree.put_healthmonitor(
            t, healthmonitor))

    def health_monitor_update(self, old_healthmonitor, new_healthmonitor):
        if _unset(new_healthmonitor.healthmonitor_id):
            new_healthmonitor.healthmonitor_id = \
                old_healthmonitor.healthmonitor_id
        pool_id = old_healthmonitor.pool_id
        lb_id = self._lb_id_of(pool_id, 'pool')
        self._mutate(lb_id, lambda t: lbtree.put_healthmonitor(
            t, new_healthmonitor, update=True, pool_id=pool_id))

    def health_monitor_delete(self, healthmonitor):
        lb_id = self._lb_id_of(healthmonitor.pool_id, 'pool')
        self._mutate(lb_id, lambda t: lbtree.delete_healthmonitor(
            t, healthmonitor.pool_id), compile_it=False)

    # ---- L7 policy ---------------------------------------------------------

    def l7policy_create(self, l7policy):
        lb_id = self._lb_id_of(l7policy.listener_id, 'listener')
        self._mutate(lb_id, lambda t: lbtree.put_l7policy(t, l7policy))

    def l7policy_update(self, old_l7policy, new_l7policy):
        if _unset(new_l7policy.l7policy_id):
            new_l7policy.l7policy_id = old_l7policy.l7policy_id
        lb_id = self._lb_id_of(old_l7policy.l7policy_id, 'l7policy')
        self._mutate(lb_id, lambda t: lbtree.put_l7policy(
            t, new_l7policy, update=True))

    def l7policy_delete(self, l7policy):
        lb_id = self._lb_id_of(l7policy.l7policy_id, 'l7policy')
        self._mutate(lb_id, lambda t: lbtree.delete_l7policy(
            t, l7policy.l7policy_id), compile_it=False)

    # ---- L7 rule -----------------------------------------------------------

    def l7rule_create(self, l7rule):
        lb_id = self._lb_id_of(l7rule.l7policy_id, 'l7policy')
        self._mutate(lb_id, lambda t: lbtree.put_l7rule(t, l7rule))

    def l7rule_update(self, old_l7rule, new_l7rule):
        # Octavia leaves the policy out of the update: it is in the URL.
        if _unset(new_l7rule.l7rule_id):
            new_l7rule.l7rule_id = old_l7rule.l7rule_id
        lb_id = self._lb_id_of(old_l7rule.l7rule_id, 'l7rule')
        self._mutate(lb_id, lambda t: lbtree.put_l7rule(
            t, new_l7rule, update=True, l7policy_id=old_l7rule.l7policy_id))

    def l7rule_delete(self, l7rule):
        lb_id = self._lb_id_of(l7rule.l7rule_id, 'l7rule')
        self._mutate(lb_id, lambda t: lbtree.delete_l7rule(
            t, l7rule.l7policy_id, l7rule.l7rule_id), compile_it=False)

    # ---- flavors and availability zones ------------------------------------

    def get_supported_flavor_metadata(self):
        return flavor.FLAVOR_METADATA

    def validate_flavor(self, flavor_metadata):
        flavor.validate(flavor.FLAVOR_SCHEMA, flavor_metadata, 'flavor')

    def get_supported_availability_zone_metadata(self):
        return flavor.AZ_METADATA

    def validate_availability_zone(self, availability_zone_metadata):
        flavor.validate(flavor.AZ_SCHEMA, availability_zone_metadata,
                        'availability zone')
