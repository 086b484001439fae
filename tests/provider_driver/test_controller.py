"""The controller with real amphorae (local compute driver: namespaces,
pharos-agent, pharos-engine, mutual TLS, signed heartbeats) against private
namespaces, and a fake driver agent library. Root only."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid

import pytest
from oslo_config import cfg

from pharos import config as pharos_config
from pharos import driver as pharos_driver
from pharos import store as pharos_store
from pharos.compute import local
from pharos.controller import agent as controller_agent

import fakes
import netns_fixture
from test_driver import make_hm, make_lb, make_listener, make_member, make_pool

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason='needs root (network namespaces)'),
    pytest.mark.skipif(not os.path.exists(pharos_config._default_binary('pharos-agent')) or
                       not os.path.exists(netns_fixture.DEMO_BACKEND),
                       reason='build pharos-agent, pharos-engine, pharos-demo-backend first'),
]


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture
def env(net):
    state = tempfile.mkdtemp(prefix='pht-', dir='/tmp')
    conf = cfg.ConfigOpts()
    pharos_config.register_opts(conf)
    controller_agent.register_driver_agent_opts(conf)
    conf([])
    for key, value in (('state_dir', state), ('local_bridge_netns', net.bridge_ns),
                       ('controller_bind', '169.254.0.1'),
                       ('heartbeat_port', free_udp_port()),
                       ('wakeup_port', free_udp_port()),
                       ('heartbeat_interval', 1), ('heartbeat_timeout', 3),
                       ('local_management_cidr', '169.254.200.0/24'),
                       ('heartbeat_key', 'test-heartbeat-key-0123456789')):
        conf.set_override(key, value, 'pharos')
    store = pharos_store.Store(pharos_config.store_url(conf))
    lib = fakes.FakeDriverLibrary(store)
    ctl = controller_agent.Controller(conf, store=store, lib=lib, controller_id='test')
    drv = pharos_driver.PharosProviderDriver(store=store, conf=conf)
    e = dict(conf=conf, store=store, lib=lib, ctl=ctl, driver=drv, net=net, state=state)
    try:
        yield e
    finally:
        # whatever a failed test left: every amphora by its handle
        for amp in store.list_amphorae():
            if amp.state != 'DELETED':
                ctl.compute.delete(amp.compute_id if amp.compute_id.get('netns')
                                   else ctl.compute.handle_for(amp.id))
        ctl.health.close()
        ctl.waker.close()
        e['ctl'].waker.close()
        store.dispose()
        shutil.rmtree(state, ignore_errors=True)


def reconcile_all(e, rounds=20):
    """Run reconcile passes until nothing is left to do."""
    for _ in range(rounds):
        records = e['ctl'].reconciler.claim()
        if not records:
            still = [r for r in e['store'].list_loadbalancers()
                     if r.desired_version != r.applied_version or
                     (r.deleted and r.status != 'DELETED')]
            if not still:
                return
            time.sleep(0.25)
            continue
        for r in records:
            e['ctl'].reconciler.reconcile(r)
    raise AssertionError('reconcile did not converge: %s' % [
        (r.id, r.status, r.status_reason) for r in e['store'].list_loadbalancers()])


def build_lb(e, members=(1, 2), hm=True):
    net, drv = e['net'], e['driver']
    lb = make_lb(vip_address=net.prefix + '.100')
    drv.loadbalancer_create(lb)
    listener = make_listener(lb)
    drv.listener_create(listener)
    pool = make_pool(lb, listener)
    drv.pool_create(pool)
    ms = []
    for n in members:
        address = net.add_member(n)
        m = make_member(pool, n, address=address)
        drv.member_create(m)
        ms.append(m)
    h = None
    if hm:
        h = make_hm(pool, delay=1, timeout=1, max_retries=1, max_retries_down=1)
        drv.health_monitor_create(h)
    return dict(lb=lb, listener=listener, pool=pool, members=ms, hm=h)


def served_names(e, vip, n=8):
    names = set()
    for _ in range(n):
        out = e['net'].curl('http://%s/' % vip)
        if out:
            names.update(w for w in out.split() if w.startswith('member-'))
    return names


def wait_for(predicate, timeout, what, step=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if step:
            step()
        value = predicate()
        if value:
            return value
        if not step:
            time.sleep(0.1)
    raise AssertionError('timed out waiting for ' + what)


def test_create_apply_heartbeat_delete(env):
    e = env
    t0 = time.monotonic()
    objs = build_lb(e)
    lb_id = objs['lb'].loadbalancer_id
    reconcile_all(e)
    print('tree -> ACTIVE in %.2fs' % (time.monotonic() - t0))
    lib = e['lib']
    assert lib.last('loadbalancers', lb_id, 'provisioning_status') == 'ACTIVE'
    for coll, obj in (('listeners', objs['listener'].listener_id),
                      ('pools', objs['pool'].pool_id),
                      ('members', objs['members'][0].member_id),
                      ('healthmonitors', objs['hm'].healthmonitor_id)):
        assert lib.last(coll, obj, 'provisioning_status') == 'ACTIVE', coll
    record = e['store'].get_loadbalancer(lb_id)
    assert record.applied_version == record.desired_version
    amp = e['store'].amphora_of(lb_id)
    assert amp.state == 'READY' and local.netns_exists(amp.compute_id['netns'])

    vip = objs['lb'].vip_address
    assert served_names(e, vip) == {'member-1', 'member-2'}

    # heartbeats: member statuses and listener statistics reach Octavia
    hm = e['ctl'].health
    wait_for(lambda: lib.stats and any(
        s['listeners'][0]['total_connections'] >= 8 for s in lib.stats),
        15, 'listener statistics', step=hm.poll_once)
    m1 = objs['members'][0].member_id
    wait_for(lambda: lib.last('members', m1, 'operating_status') == 'ONLINE',
             15, 'member ONLINE', step=hm.poll_once)
    assert hm.counters['accepted'] >= 1

    # an update: one member removed is reported DELETED, traffic follows
    e['driver'].member_delete(objs['members'][1])
    reconcile_all(e)
    assert lib.last('members', objs['members'][1].member_id,
                    'provisioning_status') == 'DELETED'
    assert e['store'].amphora_of(lb_id).id == amp.id   # same amphora
    assert served_names(e, vip) == {'member-1'}

    # cascade delete: every object DELETED, no namespace, no process
    e['driver'].loadbalancer_delete(objs['lb'], cascade=True)
    reconcile_all(e)
    assert lib.last('loadbalancers', lb_id, 'provisioning_status') == 'DELETED'
    assert lib.last('listeners', objs['listener'].listener_id,
                    'provisioning_status') == 'DELETED'
    assert lib.last('members', m1, 'provisioning_status') == 'DELETED'
    assert not local.netns_exists(amp.compute_id['netns'])
    assert local.proc_start_time(amp.compute_id['pid']) is None
    assert e['store'].get_loadbalancer(lb_id) is None
    out = subprocess.run(['ip', 'link', 'show', amp.compute_id['mgmt_veth']],
                         capture_output=True)
    assert out.returncode != 0


def test_member_down_and_up(env):
    e = env
    objs = build_lb(e)
    reconcile_all(e)
    lib, hm = e['lib'], e['ctl'].health
    amp = e['store'].amphora_of(objs['lb'].loadbalancer_id)
    wait_for(lambda: amp.id in hm.last_payload, 10, 'a heartbeat', step=hm.poll_once)
    client = e['ctl'].reconciler._client(amp)
    members = client.status().get('members') or {}
    client.close()
    if not any('health' in v for v in members.values()):
        pytest.skip('this pharos-agent build has no member health checks (set '
                    'PHAROS_AGENT_BINARY to a newer one)')
    m1 = objs['members'][0].member_id
    e['net'].stop_member(1)
    wait_for(lambda: lib.last('members', m1, 'operating_status') == 'ERROR',
             20, 'member ERROR', step=hm.poll_once)
    assert lib.last('pools', objs['pool'].pool_id, 'operating_status') == 'DEGRADED'
    assert lib.last('loadbalancers', objs['lb'].loadbalancer_id,
                    'operating_status') == 'DEGRADED'
    e['net'].start_member(1)
    wait_for(lambda: lib.last('members', m1, 'operating_status') == 'ONLINE',
             20, 'member ONLINE again', step=hm.poll_once)
    assert lib.last('pools', objs['pool'].pool_id, 'operating_status') == 'ONLINE'


def test_restart_resumes_and_interrupted_create_is_cleaned(env):
    e = env
    objs = build_lb(e, members=(1,), hm=False)
    lb_id = objs['lb'].loadbalancer_id
    # a controller died right after recording its intent to create an amphora
    stale_id = str(uuid.uuid4())
    e['store'].add_amphora(stale_id, lb_id, 'local', compute_id={}, agent_port=9443)
    # ... and even got as far as the namespace
    subprocess.run(['ip', 'netns', 'add', 'pharos-amp-' + stale_id[:8]], check=True)
    # a new controller process (same store) takes over
    ctl2 = controller_agent.Controller(e['conf'], store=e['store'], lib=e['lib'],
                                       heartbeat_socket=socket.socket(socket.AF_INET,
                                                                      socket.SOCK_DGRAM),
                                       controller_id='test')
    e['ctl'].health.close()
    e['ctl'].waker.close()
    e['ctl'] = ctl2
    reconcile_all(e)
    assert not local.netns_exists('pharos-amp-' + stale_id[:8])
    assert e['store'].get_amphora(stale_id).state == 'DELETED'
    amp = e['store'].amphora_of(lb_id)
    assert amp.id != stale_id and amp.state == 'READY'
    assert served_names(e, objs['lb'].vip_address, 3) == {'member-1'}
    assert e['lib'].last('members', objs['members'][0].member_id,
                         'operating_status') == 'NO_MONITOR'


def test_claim_lease_taken_over_after_a_crash(env):
    e = env
    objs = build_lb(e, members=(1,), hm=False)
    lb_id = objs['lb'].loadbalancer_id
    # controller "a" claimed it and died
    assert [r.id for r in e['store'].claim('a', lease=1)] == [lb_id]
    assert e['ctl'].reconciler.claim() == []
    time.sleep(1.1)
    reconcile_all(e)
    assert e['store'].get_loadbalancer(lb_id).applied_version == \
        e['store'].get_loadbalancer(lb_id).desired_version


def test_not_visible_in_octavia_waits(env):
    e = env
    lb = make_lb(vip_address=e['net'].prefix + '.100')
    e['driver'].loadbalancer_create(lb)
    e['lib'].hidden.add(lb.loadbalancer_id)
    for r in e['ctl'].reconciler.claim():
        e['ctl'].reconciler.reconcile(r)
    assert e['lib'].statuses == []
    assert e['store'].amphora_of(lb.loadbalancer_id) is None
    e['lib'].hidden.clear()
    reconcile_all(e)
    assert e['lib'].last('loadbalancers', lb.loadbalancer_id,
                         'provisioning_status') == 'ACTIVE'


def test_missing_heartbeats_mark_amphora_and_lb(env):
    e = env
    objs = build_lb(e, members=(1,), hm=False)
    lb_id = objs['lb'].loadbalancer_id
    reconcile_all(e)
    hm = e['ctl'].health
    wait_for(lambda: hm.counters['accepted'] >= 1, 10, 'a heartbeat', step=hm.poll_once)
    amp = e['store'].amphora_of(lb_id)
    os.killpg(amp.compute_id['pid'], signal.SIGKILL)
    wait_for(lambda: e['store'].get_amphora(amp.id).state == 'MISSING', 15,
             'amphora MISSING', step=hm.poll_once)
    assert e['lib'].last('loadbalancers', lb_id, 'operating_status') == 'ERROR'
    # a failover request recreates the amphora
    e['driver'].loadbalancer_failover(lb_id)
    reconcile_all(e)
    new = e['store'].amphora_of(lb_id)
    assert new.id != amp.id and new.state == 'READY'
    assert not local.netns_exists(amp.compute_id['netns'])
    assert served_names(e, objs['lb'].vip_address, 3) == {'member-1'}


def test_forged_heartbeat_refused(env):
    e = env
    objs = build_lb(e, members=(1,), hm=False)
    reconcile_all(e)
    amp = e['store'].amphora_of(objs['lb'].loadbalancer_id)
    import json
    from pharos import _core
    payload = {'seq': 10 ** 9, 'timestamp_ms': int(time.time() * 1000),
               'amphora_id': amp.id, 'config_version': 1,
               'engine': {'up': True, 'restarts': 0}, 'listeners': {}, 'members': {},
               'quality': {'listeners': {}, 'pools': {}},
               'resources': {'cpu_percent': 0.0, 'rss_bytes': 0, 'connections': 0}}
    forged = _core.encode_heartbeat(json.dumps(payload), b'wrong-key-wrong-key-123')
    assert not e['ctl'].health.handle(forged, time.time())
    assert e['ctl'].health.counters['rejected'] == 1
    good = _core.encode_heartbeat(json.dumps(payload), e['conf'].pharos.heartbeat_key.encode())
    assert e['ctl'].health.handle(good, time.time())
    assert not e['ctl'].health.handle(good, time.time())   # replay


def test_option_octavia_hid_from_the_driver_is_applied_by_the_controller(env):
    """Octavia 11 passes session_persistence=None on pool create; the
    controller reads the committed pool back and applies its persistence."""
    e = env
    objs = build_lb(e, members=(1,), hm=False)
    reconcile_all(e)
    lb_id = objs['lb'].loadbalancer_id
    pool2 = make_pool(objs['lb'], name='sticky')
    e['driver'].pool_create(pool2)          # what the driver was given: no persistence
    real = e['lib'].get_pool
    sticky = {'type': 'APP_COOKIE', 'cookie_name': 'sid', 'persistence_timeout': None,
              'persistence_granularity': None}

    def committed(pool_id):
        got = real(pool_id)
        if got is not None and pool_id == pool2.pool_id:
            got.session_persistence = sticky
        return got
    # the controller reads back only the added pool (not the whole tree)
    e['lib'].get_pool = committed
    for r in e['ctl'].reconciler.claim():
        e['ctl'].reconciler.reconcile(r)
    e['lib'].get_pool = real
    assert e['lib'].last('pools', pool2.pool_id, 'provisioning_status') == 'ACTIVE'
    assert e['lib'].last('loadbalancers', lb_id, 'provisioning_status') == 'ACTIVE'
    record = e['store'].get_loadbalancer(lb_id)
    assert record.applied_version == record.desired_version
    applied = [p for p in record.applied_tree['pools'] if p['pool_id'] == pool2.pool_id][0]
    assert applied['session_persistence'] == sticky

def test_running_controller_is_woken_by_the_driver(env):
    """The real loop and amphora: each driver call wakes the controller, which
    applies it long before its next poll (set far away)."""
    e = env
    e['conf'].set_override('reconcile_interval', 300, 'pharos')
    ctl, lib = e['ctl'], e['lib']
    stop = threading.Event()
    loop = threading.Thread(target=ctl.run, args=(stop,))
    loop.start()
    try:
        wait_for(lambda: ctl.passes >= 1, 30, 'the first pass')
        objs = build_lb(e, members=(1,), hm=False)
        lb_id = objs['lb'].loadbalancer_id
        m1 = objs['members'][0].member_id

        def applied():
            r = e['store'].get_loadbalancer(lb_id)
            return r.applied_version == r.desired_version and \
                lib.last('members', m1, 'provisioning_status') == 'ACTIVE'
        wait_for(applied, 120, 'the tree applied')
        assert ctl.waker.received >= 1
        assert served_names(e, objs['lb'].vip_address, 3) == {'member-1'}
        # one more change, one more wake-up
        received = ctl.waker.received
        address = e['net'].add_member(2)
        m2 = make_member(objs['pool'], 2, address=address)
        e['driver'].member_create(m2)
        wait_for(lambda: lib.last('members', m2.member_id,
                                  'provisioning_status') == 'ACTIVE',
                 120, 'member 2 ACTIVE')
        assert ctl.waker.received > received
        e['driver'].loadbalancer_delete(objs['lb'], cascade=True)
        wait_for(lambda: e['store'].get_loadbalancer(lb_id) is None, 120,
                 'the load balancer deleted')
        assert lib.last('loadbalancers', lb_id,
                        'provisioning_status') == 'DELETED'
    finally:
        stop.set()
        loop.join(60)
    assert not loop.is_alive()


def test_added_member_not_visible_yet_waits(env):
    """Only the added member is read back; until Octavia shows it, nothing
    is reported and the version stays unapplied."""
    e = env
    objs = build_lb(e, members=(1,), hm=False)
    reconcile_all(e)
    lb_id = objs['lb'].loadbalancer_id
    m2 = make_member(objs['pool'], 2, address=e['net'].add_member(2))
    e['driver'].member_create(m2)
    e['lib'].hidden.add(m2.member_id)
    for r in e['ctl'].reconciler.claim():
        e['ctl'].reconciler.reconcile(r)
    assert e['lib'].last('members', m2.member_id, 'provisioning_status') is None
    record = e['store'].get_loadbalancer(lb_id)
    assert record.applied_version < record.desired_version
    e['lib'].hidden.clear()
    reconcile_all(e)
    assert e['lib'].last('members', m2.member_id,
                         'provisioning_status') == 'ACTIVE'
