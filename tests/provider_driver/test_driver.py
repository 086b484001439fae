"""PharosProviderDriver with the real octavia-lib data models and a SQLite store."""
import json
import uuid

import pytest

from octavia_lib.api.drivers import data_models as dm
from octavia_lib.api.drivers import exceptions as lib_exc

from pharos import _core
from pharos import driver as pharos_driver


def uid():
    return str(uuid.uuid4())


@pytest.fixture
def driver(store):
    return pharos_driver.PharosProviderDriver(store=store)


def make_lb(**kw):
    args = dict(loadbalancer_id=uid(), project_id='p1', vip_address='10.250.0.100',
                vip_subnet_id=uid(), vip_port_id=uid(), admin_state_up=True,
                name='lb1')
    args.update(kw)
    return dm.LoadBalancer(**args)


def make_listener(lb, **kw):
    args = dict(listener_id=uid(), loadbalancer_id=lb.loadbalancer_id,
                protocol='HTTP', protocol_port=80, admin_state_up=True,
                connection_limit=-1, timeout_client_data=50000,
                timeout_member_connect=5000, timeout_member_data=50000,
                timeout_tcp_inspect=0, insert_headers={}, name='l1')
    args.update(kw)
    return dm.Listener(**args)


def make_pool(lb, listener=None, **kw):
    args = dict(pool_id=uid(), loadbalancer_id=lb.loadbalancer_id,
                listener_id=listener.listener_id if listener else dm.Unset,
                protocol='HTTP', lb_algorithm='ROUND_ROBIN',
                admin_state_up=True, name='pool1', session_persistence=None)
    args.update(kw)
    return dm.Pool(**args)


def make_member(pool, n=1, **kw):
    args = dict(member_id=uid(), pool_id=pool.pool_id,
                address='10.250.0.2%d' % n, protocol_port=8080, weight=1,
                admin_state_up=True, backup=False, name='m%d' % n)
    args.update(kw)
    return dm.Member(**args)


def make_hm(pool, **kw):
    args = dict(healthmonitor_id=uid(), pool_id=pool.pool_id, type='HTTP',
                delay=2, timeout=1, max_retries=2, max_retries_down=2,
                http_method='GET', url_path='/', expected_codes='200',
                admin_state_up=True)
    args.update(kw)
    return dm.HealthMonitor(**args)


@pytest.fixture
def full(driver, store):
    """An LB with a listener, a pool, two members and a health monitor."""
    lb = make_lb()
    driver.loadbalancer_create(lb)
    listener = make_listener(lb)
    driver.listener_create(listener)
    pool = make_pool(lb, listener)
    driver.pool_create(pool)
    members = [make_member(pool, 1), make_member(pool, 2)]
    for m in members:
        driver.member_create(m)
    hm = make_hm(pool)
    driver.health_monitor_create(hm)
    return dict(lb=lb, listener=listener, pool=pool, members=members, hm=hm)


def record(store, lb):
    return store.get_loadbalancer(lb.loadbalancer_id)


def test_loadbalancer_create_stores_version_1(driver, store):
    lb = make_lb()
    driver.loadbalancer_create(lb)
    r = record(store, lb)
    assert r.desired_version == 1 and r.applied_version == 0
    assert r.tree['loadbalancer']['vip_address'] == '10.250.0.100'
    assert not r.deleted


def test_full_graph_create(driver, store):
    lb = make_lb()
    listener = make_listener(lb)
    pool = make_pool(lb, listener)
    pool.members = [make_member(pool, 1), make_member(pool, 2)]
    pool.healthmonitor = make_hm(pool)
    listener.default_pool = pool
    listener.default_pool_id = pool.pool_id
    lb.listeners = [listener]
    lb.pools = [pool]
    driver.loadbalancer_create(lb)
    r = record(store, lb)
    assert r.desired_version == 1
    assert len(r.tree['pools']) == 1
    assert len(r.tree['pools'][0]['members']) == 2
    assert r.tree['pools'][0]['healthmonitor']['type'] == 'HTTP'
    assert store.loadbalancer_of(pool.members[0].member_id) == lb.loadbalancer_id


def test_every_child_create_bumps_version(driver, store, full):
    r = record(store, full['lb'])
    assert r.desired_version == 6   # lb, listener, pool, 2 members, hm
    assert r.tree['listeners'][0]['default_pool_id'] == full['pool'].pool_id
    for kind, obj in (('listener', full['listener'].listener_id),
                      ('pool', full['pool'].pool_id),
                      ('member', full['members'][0].member_id),
                      ('healthmonitor', full['hm'].healthmonitor_id)):
        assert store.loadbalancer_of(obj) == full['lb'].loadbalancer_id, kind


def test_update_merges_only_set_fields(driver, store, full):
    listener = full['listener']
    new = dm.Listener(listener_id=listener.listener_id, connection_limit=100)
    driver.listener_update(listener, new)
    entry = record(store, full['lb']).tree['listeners'][0]
    assert entry['connection_limit'] == 100
    assert entry['protocol'] == 'HTTP' and entry['protocol_port'] == 80
    assert entry['name'] == 'l1' and entry['timeout_client_data'] == 50000

    pool = full['pool']
    driver.pool_update(pool, dm.Pool(pool_id=pool.pool_id,
                                     lb_algorithm='LEAST_CONNECTIONS'))
    p = record(store, full['lb']).tree['pools'][0]
    assert p['lb_algorithm'] == 'LEAST_CONNECTIONS' and p['name'] == 'pool1'
    assert len(p['members']) == 2 and 'healthmonitor' in p

    m = full['members'][0]
    driver.member_update(m, dm.Member(member_id=m.member_id, weight=5))
    p = record(store, full['lb']).tree['pools'][0]
    got = [x for x in p['members'] if x['member_id'] == m.member_id][0]
    assert got['weight'] == 5 and got['address'] == '10.250.0.21'

    hm = full['hm']
    driver.health_monitor_update(hm, dm.HealthMonitor(
        healthmonitor_id=hm.healthmonitor_id, delay=7))
    p = record(store, full['lb']).tree['pools'][0]
    assert p['healthmonitor']['delay'] == 7
    assert p['healthmonitor']['url_path'] == '/'

    lb = full['lb']
    driver.loadbalancer_update(lb, dm.LoadBalancer(
        loadbalancer_id=lb.loadbalancer_id, admin_state_up=False))
    r = record(store, lb)
    assert r.tree['loadbalancer']['admin_state_up'] is False
    assert r.tree['loadbalancer']['vip_address'] == '10.250.0.100'
    assert r.desired_version == 11


def test_update_none_clears_a_field(driver, store, full):
    listener = full['listener']
    driver.listener_update(listener, dm.Listener(
        listener_id=listener.listener_id, default_pool_id=None))
    assert record(store, full['lb']).tree['listeners'][0][
        'default_pool_id'] is None


def test_unsupported_option_refused_naming_field(driver, store, full):
    before = record(store, full['lb'])
    pool = make_pool(full['lb'], protocol='PROXY')
    with pytest.raises(lib_exc.UnsupportedOptionError) as exc:
        driver.pool_create(pool)
    assert 'protocol' in exc.value.user_fault_string
    assert 'PROXY' in exc.value.user_fault_string
    assert pool.pool_id in exc.value.user_fault_string
    after = record(store, full['lb'])
    assert after.desired_version == before.desired_version
    assert after.tree == before.tree
    assert store.loadbalancer_of(pool.pool_id) is None


def test_unsupported_listener_protocol(driver, store, full):
    listener = make_listener(full['lb'], protocol='UDP', protocol_port=53)
    with pytest.raises(lib_exc.UnsupportedOptionError) as exc:
        driver.listener_create(listener)
    assert 'protocol' in exc.value.user_fault_string
    assert 'UDP' in exc.value.user_fault_string


def test_unsupported_update_refused(driver, store, full):
    listener = full['listener']
    before = record(store, full['lb'])
    with pytest.raises(lib_exc.UnsupportedOptionError) as exc:
        driver.listener_update(listener, dm.Listener(
            listener_id=listener.listener_id,
            insert_headers={'X-Forwarded-For': 'true', 'X-Real-Ip': 'true'}))
    assert 'X-Real-Ip' in exc.value.user_fault_string
    assert record(store, full['lb']).desired_version == before.desired_version
    assert record(store, full['lb']).tree == before.tree


@pytest.mark.parametrize('persistence', [
    {'type': 'SOURCE_IP', 'cookie_name': None, 'persistence_timeout': None,
     'persistence_granularity': None},
    {'type': 'HTTP_COOKIE'},
    {'type': 'APP_COOKIE', 'cookie_name': 'JSESSIONID', 'persistence_timeout': 600},
])
def test_session_persistence_compiles_to_the_engine_config(driver, store, full, persistence):
    pool = full['pool']
    driver.pool_update(pool, dm.Pool(pool_id=pool.pool_id, session_persistence=persistence))
    config = json.loads(_core.compile_loadbalancer(json.dumps(record(store, full['lb']).tree)))
    compiled = [p for p in config['pools'] if p['id'] == pool.pool_id][0]
    expected = {k: v for k, v in persistence.items()
                if v is not None and k != 'persistence_granularity'}
    assert compiled['session_persistence'] == expected


def test_app_cookie_without_name_is_refused_naming_the_field(driver, store, full):
    pool = full['pool']
    with pytest.raises(lib_exc.DriverError) as exc:
        driver.pool_update(pool, dm.Pool(pool_id=pool.pool_id,
                                         session_persistence={'type': 'APP_COOKIE'}))
    assert 'cookie_name' in exc.value.user_fault_string


def test_invalid_value_refused_as_driver_error(driver, store, full):
    before = record(store, full['lb'])
    m = make_member(full['pool'], 3, address='not-an-ip')
    with pytest.raises(lib_exc.DriverError) as exc:
        driver.member_create(m)
    assert exc.value.user_fault_string
    assert record(store, full['lb']).desired_version == before.desired_version
    assert store.loadbalancer_of(m.member_id) is None


def test_unsupported_lb_create_stores_nothing(driver, store):
    lb = make_lb()
    listener = make_listener(lb, protocol='UDP', protocol_port=53)
    lb.listeners = [listener]
    with pytest.raises(lib_exc.UnsupportedOptionError) as exc:
        driver.loadbalancer_create(lb)
    assert 'protocol' in exc.value.user_fault_string
    assert record(store, lb) is None


def test_deletes(driver, store, full):
    lb = full['lb']
    driver.health_monitor_delete(full['hm'])
    assert 'healthmonitor' not in record(store, lb).tree['pools'][0]
    driver.member_delete(full['members'][1])
    assert len(record(store, lb).tree['pools'][0]['members']) == 1
    driver.pool_delete(full['pool'])
    r = record(store, lb)
    assert r.tree['pools'] == []
    assert r.tree['listeners'][0]['default_pool_id'] is None
    driver.listener_delete(full['listener'])
    assert record(store, lb).tree['listeners'] == []
    v = record(store, lb).desired_version
    driver.loadbalancer_delete(lb)
    r = record(store, lb)
    assert r.deleted and not r.cascade and r.desired_version == v + 1


def test_cascade_delete(driver, store, full):
    driver.loadbalancer_delete(full['lb'], cascade=True)
    r = record(store, full['lb'])
    assert r.deleted and r.cascade
    # the tree stays, so the controller can report every child DELETED
    assert len(r.tree['pools'][0]['members']) == 2


def test_delete_of_unknown_lb_is_recorded(driver, store):
    lb = make_lb()
    driver.loadbalancer_delete(lb)
    r = record(store, lb)
    assert r.deleted


def test_member_batch_update(driver, store, full):
    pool = full['pool']
    keep = full['members'][0]
    new = make_member(pool, 3)
    driver.member_batch_update(pool.pool_id, [
        dm.Member(member_id=keep.member_id, pool_id=pool.pool_id, weight=3),
        new])
    members = record(store, full['lb']).tree['pools'][0]['members']
    assert {m['member_id'] for m in members} == {keep.member_id, new.member_id}
    kept = [m for m in members if m['member_id'] == keep.member_id][0]
    assert kept['weight'] == 3 and kept['address'] == '10.250.0.21'
    assert store.loadbalancer_of(full['members'][1].member_id) is None


def test_failover_bumps_version(driver, store, full):
    v = record(store, full['lb']).desired_version
    driver.loadbalancer_failover(full['lb'].loadbalancer_id)
    r = record(store, full['lb'])
    assert r.desired_version == v + 1 and r.tree['_failover'] == 1


def test_flavor(driver):
    meta = driver.get_supported_flavor_metadata()
    assert set(meta) == {'engine_workers', 'topology', 'analytics_level'}
    driver.validate_flavor({'engine_workers': 4, 'topology': 'SINGLE',
                            'analytics_level': 'basic'})
    for bad, field in (({'engine_workers': 0}, 'engine_workers'),
                       ({'topology': 'ACTIVE_STANDBY'}, 'topology'),
                       ({'analytics_level': 'lots'}, 'analytics_level'),
                       ({'compute_flavor': 'x'}, 'compute_flavor')):
        with pytest.raises(lib_exc.UnsupportedOptionError) as exc:
            driver.validate_flavor(bad)
        assert field in exc.value.user_fault_string


def test_lb_create_with_bad_flavor_refused(driver, store):
    lb = make_lb(flavor={'topology': 'ACTIVE_STANDBY'})
    with pytest.raises(lib_exc.UnsupportedOptionError):
        driver.loadbalancer_create(lb)
    assert record(store, lb) is None


def test_availability_zone(driver):
    meta = driver.get_supported_availability_zone_metadata()
    assert 'compute_driver' in meta
    driver.validate_availability_zone({'compute_driver': 'local'})
    with pytest.raises(lib_exc.UnsupportedOptionError) as exc:
        driver.validate_availability_zone({'compute_driver': 'vmware'})
    assert 'compute_driver' in exc.value.user_fault_string
    with pytest.raises(lib_exc.UnsupportedOptionError):
        driver.validate_availability_zone({'bogus': 1})


def test_child_of_unknown_lb_is_driver_error(driver):
    lb = make_lb()
    with pytest.raises(lib_exc.DriverError):
        driver.listener_create(make_listener(lb))
    pool = make_pool(lb)
    with pytest.raises(lib_exc.DriverError):
        driver.member_create(make_member(pool))


def test_compiled_tree_is_valid_engine_config(driver, store, full):
    import json
    from pharos import _core, tree as lbtree
    r = record(store, full['lb'])
    config = json.loads(_core.compile_loadbalancer(json.dumps(
        lbtree.engine_tree(r.tree, 'amp-1', 9))))
    assert config['version'] == 9 and config['amphora_id'] == 'amp-1'
    assert config['listeners'][0]['bind_address'] == '10.250.0.100'
    assert len(config['pools'][0]['members']) == 2
    assert _core.validate_engine_config(json.dumps(config)) == []
