"""The reconcile loop: level-triggered, one load balancer at a time.

For every load balancer whose desired_version differs from applied_version
(or that is deleted and not yet reported), a claimed worker makes the world
match: the amphora exists, the agent runs the compiled config of exactly that
version, and Octavia is told. Every step is idempotent and recorded in the
store before or after it happens, so a controller killed anywhere resumes.
"""
import datetime
import json
import time
import uuid

from oslo_log import log as logging

from pharos import _core
from pharos import tree as lbtree
from pharos.compute import base as compute_base
from pharos.controller import agent_client
from pharos.controller import status as st

LOG = logging.getLogger(__name__)

_MAX_QUIET_ATTEMPTS = 3   # failures retried before ERROR is reported
# how long a worker waits for Octavia to commit what it was woken for before
# it lets go (the record is then retried after a short defer)
_VISIBLE_WAIT = 2.0
# added objects read one by one at most (else the whole load balancer)
_TARGETED_READS = 4
_GETTERS = {'listener': 'get_listener', 'pool': 'get_pool',
            'member': 'get_member', 'healthmonitor': 'get_healthmonitor',
            'l7policy': 'get_l7policy', 'l7rule': 'get_l7rule'}


class Reconciler:
    def __init__(self, conf, store, compute, ca, lib, controller_id):
        self.conf = conf
        self.store = store
        self.compute = compute
        self.ca = ca
        self.lib = lib
        self.controller_id = controller_id

    # ---- one pass ----------------------------------------------------------

    def claim(self, limit=20):
        return self.store.claim(self.controller_id,
                                self.conf.pharos.claim_lease, limit=limit)

    def reconcile(self, record):
        """Bring one claimed load balancer to its desired state."""
        try:
            if record.deleted:
                self._delete(record)
            else:
                self._apply(record)
        except _Defer as e:
            LOG.debug('pharos: %s deferred: %s', record.id, e)
            self.store.defer(record.id, self.controller_id, str(e),
                             retry_after=e.retry_after)
        except _core.CompileError as e:
            # nothing to retry: the tree itself is refused (see _visible)
            LOG.warning('pharos: load balancer %s refused: %s', record.id, e)
            self._report_error(record)
            self.store.fail(record.id, self.controller_id, str(e),
                            retry_after=60.0)
        except Exception as e:  # noqa: any failure is retried, then reported
            LOG.warning('pharos: reconcile of load balancer %s failed: %s',
                        record.id, e, exc_info=not isinstance(
                            e, agent_client.AgentError))
            attempts = record.attempts + 1
            if attempts >= _MAX_QUIET_ATTEMPTS and not record.deleted:
                self._report_error(record)
            self.store.fail(record.id, self.controller_id, str(e),
                            retry_after=min(30.0, 0.5 * 2 ** attempts))

    # ---- delete ------------------------------------------------------------

    def _delete(self, record):
        amp = self.store.amphora_of(record.id)
        while amp is not None:
            self._destroy_amphora(amp)
            amp = self.store.amphora_of(record.id)
        tree = record.tree
        deleted = {k: v for k, v in lbtree.object_ids(tree).items()
                   if k != 'loadbalancer' and v}
        for kind, ids in st.removed(record.applied_tree, tree).items():
            deleted.setdefault(kind, set()).update(ids)
        doc = st.document({}, deleted=deleted)
        doc['loadbalancers'] = [{'id': record.id,
                                 'provisioning_status': 'DELETED'}]
        self.lib.update_loadbalancer_status(doc)
        self.store.finish(record.id, self.controller_id,
                          record.desired_version, None, status='DELETED')
        self.store.purge_loadbalancer(record.id)
        LOG.info('pharos: load balancer %s deleted', record.id)

    def _destroy_amphora(self, amp):
        self.store.update_amphora(amp.id, state='DELETING')
        handle = amp.compute_id or {}
        if not handle.get('management_address'):
            handle = self.compute.handle_for(amp.id)
        self.compute.delete(handle)
        self.store.update_amphora(amp.id, state='DELETED')

    # ---- apply -------------------------------------------------------------

    def _visible(self, record):
        """Octavia commits after calling the driver: report only once the
        objects can be read back through the driver agent. A wake-up comes
        right after the driver call, before that commit, so look again here
        for a moment rather than at the next pass. Returns the reads made."""
        probe = self._probe(record)
        if probe is None:
            return 0    # nothing added since the last apply: all committed
        deadline = time.monotonic() + _VISIBLE_WAIT
        delay = 0.01
        reads = 0
        while True:
            reads += 1
            lb_seen, missing = probe()
            if lb_seen and not missing:
                return reads
            age = (datetime.datetime.utcnow() -
                   record.updated_at).total_seconds()
            if age > self.conf.pharos.orphan_grace:
                if not lb_seen:
                    # never committed by Octavia: forget it
                    LOG.warning('pharos: load balancer %s never appeared in '
                                'Octavia; dropping it', record.id)
                    self.store.save_tree(record.id, record.tree,
                                         record.desired_version, deleted=True)
                    raise _Defer('orphan', 0)
                return reads
            if time.monotonic() + delay > deadline:
                raise _Defer('not visible in Octavia yet' if not lb_seen else
                             'objects not visible in Octavia yet', 0.2)
            time.sleep(delay)
            delay = min(0.2, delay * 2)

    def _probe(self, record):
        """A read-back of what this version added: () -> (load balancer
        seen, ids not seen yet); None when nothing needs reading.

        The first apply reads the whole load balancer. Later ones read a few
        of the added objects one by one (a whole read of a big load balancer
        takes the driver agent seconds): Octavia accepts a change only on an
        ACTIVE load balancer and commits each call in one transaction, so
        what was added since the last apply is one call's work, or older
        work committed long ago."""
        wanted = {}
        for kind, ids in lbtree.object_ids(record.tree).items():
            if kind != 'loadbalancer':
                wanted[kind] = ids
        if record.applied_tree is not None:
            done = lbtree.object_ids(record.applied_tree)
            added = {k: sorted(v - done[k]) for k, v in wanted.items()}
            sample = [(k, ids[0]) for k, ids in added.items()
                      if ids and k != 'pool']
            sample += [('pool', i) for i in added.get('pool', [])]
            if not sample:
                return None
            if len(sample) <= _TARGETED_READS:
                return lambda: self._read_objects(record, sample)
        everything = set().union(*wanted.values())

        def read_all():
            got = self.lib.get_loadbalancer(record.id)
            if not got:
                return False, everything
            for pool in _field(got, 'pools') or []:
                self._overlay_unseen_options(record, pool)
            return True, everything - _seen(got)
        return read_all

    def _read_objects(self, record, sample):
        missing = set()
        for kind, obj_id in sample:
            got = getattr(self.lib, _GETTERS[kind])(obj_id)
            if not got:
                missing.add(obj_id)
            elif kind == 'pool':
                self._overlay_unseen_options(record, got)
        return True, missing

    @staticmethod
    def _overlay_unseen_options(record, pool):
        """Octavia 11 hands the provider session_persistence=None on pool
        create (not loaded yet); what it committed is visible here, so the
        engine gets the persistence the user asked for."""
        persistence = _field(pool, 'session_persistence')
        if not persistence:
            return
        mine = lbtree.find_pool(record.tree, _field(pool, 'pool_id'))
        if mine is not None and not mine.get('session_persistence'):
            mine['session_persistence'] = persistence

    def _apply(self, record):
        timer = _Timer()
        reads = self._visible(record)
        timer.mark('visible/%d' % reads)
        tree = record.tree
        amp = self.store.amphora_of(record.id)
        if amp is not None:
            handle = amp.compute_id or {}
            failover = int(tree.get('_failover', 0))
            if not handle.get('management_address'):
                LOG.info('pharos: amphora %s: create was interrupted, '
                         'recreating', amp.id)
                self._destroy_amphora(amp)
                amp = None
            elif int(handle.get('failover', 0)) != failover:
                LOG.info('pharos: failover of load balancer %s', record.id)
                self._destroy_amphora(amp)
                amp = None
            elif not self.compute.is_alive(handle):
                LOG.warning('pharos: amphora %s is gone, recreating', amp.id)
                self._destroy_amphora(amp)
                amp = None
        if amp is None:
            amp = self._create_amphora(record)
            timer.mark('amphora')
        client = self._client(amp)
        try:
            self._wait_agent(client, amp)
            timer.mark('agent')
            version = record.desired_version
            config = _core.compile_loadbalancer(json.dumps(lbtree.engine_tree(
                tree, amp.id, version, self._workers(tree))))
            timer.mark('compile')
            client.put_config(config)
            timer.mark('put')
            agent_status = self._wait_applied(client, version)
            timer.mark('applied')
        finally:
            client.close()
        health = {mid: st.octavia_member_status(v) for mid, v in
                  (agent_status.get('members') or {}).items()}
        operating = st.operating_statuses(tree, health)
        doc = st.document(st.all_provisioning(tree, 'ACTIVE'), operating,
                          deleted=st.removed(record.applied_tree, tree))
        self.lib.update_loadbalancer_status(doc)
        timer.mark('status')
        self.store.update_amphora(amp.id, state='READY')
        lb_operating = operating['loadbalancer'].get(record.id)
        if not self.store.finish(record.id, self.controller_id, version, tree,
                                 operating_status=lb_operating):
            LOG.warning('pharos: lost the claim on %s while applying',
                        record.id)
        timer.mark('store')
        LOG.info('pharos: load balancer %s at version %d on amphora %s '
                 '(%s, %d status rows)', record.id, version, amp.id, timer,
                 sum(len(v) for v in doc.values()))

    def _workers(self, tree):
        flavor = (tree.get('loadbalancer') or {}).get('flavor') or {}
        return flavor.get('engine_workers') or self.conf.pharos.engine_workers

    def _create_amphora(self, record):
        conf = self.conf.pharos
        amphora_id = str(uuid.uuid4())
        lb = record.tree.get('loadbalancer') or {}
        # the intent first: a crash from here on leaves a record to clean up
        self.store.add_amphora(amphora_id, record.id, self.compute.name,
                               compute_id={}, agent_port=conf.agent_port)
        cert, key = self.ca.issue_server(amphora_id)
        bundle = compute_base.AmphoraBundle(
            amphora_id=amphora_id, loadbalancer_id=record.id,
            vip_address=lb.get('vip_address'),
            vip_prefixlen=conf.local_vip_prefixlen, cert_pem=cert,
            key_pem=key, ca_pem=self.ca.ca_pem(), agent_port=conf.agent_port,
            heartbeat_key=conf.heartbeat_key,
            heartbeat_interval=conf.heartbeat_interval, heartbeat_targets=[],
            vip_port_id=lb.get('vip_port_id'))
        handle = self.compute.create(bundle)
        handle['failover'] = int(record.tree.get('_failover', 0))
        self.store.update_amphora(
            amphora_id, compute_id=handle,
            management_address=handle['management_address'],
            agent_port=handle.get('agent_port', conf.agent_port),
            cert_ref={'ca': self.ca.ca_file})
        return self.store.get_amphora(amphora_id)

    def _client(self, amp):
        return agent_client.AgentClient(
            amp.id, amp.management_address, amp.agent_port or
            self.conf.pharos.agent_port, self.ca.ca_file, self.ca.client_cert,
            timeout=self.conf.pharos.agent_timeout)

    def _wait_agent(self, client, amp):
        deadline = time.monotonic() + self.conf.pharos.amphora_boot_timeout
        delay = 0.05
        while True:
            try:
                client.info()
                return
            except agent_client.AgentError:
                if time.monotonic() > deadline:
                    raise
            self.store.renew_claim(amp.loadbalancer_id, self.controller_id,
                                   self.conf.pharos.claim_lease)
            time.sleep(delay)
            delay = min(1.0, delay * 2)

    def _wait_applied(self, client, version, timeout=15.0):
        deadline = time.monotonic() + timeout
        while True:
            status = client.status()
            applied = (status.get('config') or {}).get('applied_version')
            if applied == version:
                return status
            if time.monotonic() > deadline:
                raise agent_client.AgentError(
                    'agent applied version %s, expected %d' % (applied,
                                                               version))
            time.sleep(0.1)

    def _report_error(self, record):
        try:
            # the load balancer and what has not been applied yet
            ids = lbtree.object_ids(record.tree)
            done = lbtree.object_ids(record.applied_tree or {})
            doc = st.document({k: {i: 'ERROR' for i in v - done[k]}
                               for k, v in ids.items()})
            doc['loadbalancers'] = [{'id': record.id,
                                     'provisioning_status': 'ERROR'}]
            self.lib.update_loadbalancer_status(doc)
        except Exception as e:  # noqa: the driver agent may be down
            LOG.warning('pharos: could not report ERROR for %s: %s',
                        record.id, e)


def _seen(got):
    """Ids of the listeners, L7 policies and rules, pools, members and health
    monitors Octavia returned for a load balancer."""
    seen = set()
    for listener in _field(got, 'listeners') or []:
        seen.add(_field(listener, 'listener_id'))
        for policy in _field(listener, 'l7policies') or []:
            seen.add(_field(policy, 'l7policy_id'))
            for rule in _field(policy, 'rules') or []:
                seen.add(_field(rule, 'l7rule_id'))
    for pool in _field(got, 'pools') or []:
        seen.add(_field(pool, 'pool_id'))
        for member in _field(pool, 'members') or []:
            seen.add(_field(member, 'member_id'))
        seen.add(_field(_field(pool, 'healthmonitor'), 'healthmonitor_id'))
    seen.discard(None)
    return seen


def _field(obj, name):
    """A field of what the driver agent returns: octavia-lib objects at the
    top, plain dicts inside them."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    value = getattr(obj, name, None)
    return None if type(value).__name__ == 'UnsetType' else value


class _Timer:
    """Seconds spent in each step of one apply, for the log line."""

    def __init__(self):
        self.last = time.monotonic()
        self.steps = []

    def mark(self, step):
        now = time.monotonic()
        self.steps.append((step, now - self.last))
        self.last = now

    def __str__(self):
        return ' '.join('%s %.3fs' % s for s in self.steps)


class _Defer(Exception):
    def __init__(self, reason, retry_after):
        super().__init__(reason)
        self.retry_after = retry_after
