"""L7 policies and rules through PharosProviderDriver (real octavia-lib data
models, SQLite store) and the controller's status documents for them."""
import json

import pytest

from octavia_lib.api.drivers import data_models as dm
from octavia_lib.api.drivers import exceptions as lib_exc

from pharos import _core
from pharos import tree as lbtree
from pharos.controller import reconciler
from pharos.controller import status as st

from test_driver import (  # noqa: F401  (fixtures)
    driver, full, make_lb, make_listener, make_member, make_pool, record, uid)


def make_policy(listener, action='REJECT', position=dm.Unset, **kw):
    """An L7Policy as Octavia hands it to l7policy_create."""
    args = dict(l7policy_id=uid(), listener_id=listener.listener_id, action=action,
                position=position, admin_state_up=True, name='p', description=None,
                project_id='p1', redirect_pool_id=None, redirect_url=None,
                redirect_prefix=None, redirect_http_code=None, rules=[])
    args.update(kw)
    return dm.L7Policy(**args)


def make_rule(policy, type_='PATH', compare_type='STARTS_WITH', value='/api', **kw):
    args = dict(l7rule_id=uid(), l7policy_id=policy.l7policy_id, type=type_,
                compare_type=compare_type, key=None, value=value, invert=False,
                admin_state_up=True, project_id='p1')
    args.update(kw)
    return dm.L7Rule(**args)


@pytest.fixture
def second_pool(driver, full):
    """A pool of the load balancer that no listener uses by default."""
    pool = make_pool(full['lb'], name='pool2')
    driver.pool_create(pool)
    driver.member_create(make_member(pool, 3))
    return pool


def policies(store, objs):
    return record(store, objs['lb']).tree['listeners'][0]['l7policies']


def compiled_policies(store, objs):
    tree = lbtree.engine_tree(record(store, objs['lb']).tree, 'amp-1', 1)
    return json.loads(_core.compile_loadbalancer(json.dumps(tree)))[
        'listeners'][0].get('l7policies', [])


def test_redirect_to_pool_with_a_rule(driver, store, full, second_pool):
    v = record(store, full['lb']).desired_version
    policy = make_policy(full['listener'], 'REDIRECT_TO_POOL', position=1,
                         redirect_pool_id=second_pool.pool_id)
    driver.l7policy_create(policy)
    rule = make_rule(policy)
    driver.l7rule_create(rule)
    assert record(store, full['lb']).desired_version == v + 2
    lb_id = full['lb'].loadbalancer_id
    assert store.loadbalancer_of(policy.l7policy_id) == lb_id
    assert store.loadbalancer_of(rule.l7rule_id) == lb_id
    [stored] = policies(store, full)
    assert stored['redirect_pool_id'] == second_pool.pool_id
    assert [r['l7rule_id'] for r in stored['rules']] == [rule.l7rule_id]
    [got] = compiled_policies(store, full)
    assert got['action'] == 'REDIRECT_TO_POOL' and got['redirect_pool_id'] == second_pool.pool_id
    assert got['rules'] == [{'id': rule.l7rule_id, 'type': 'PATH', 'compare_type': 'STARTS_WITH',
                             'value': '/api', 'invert': False, 'admin_state_up': True}]
    assert second_pool.pool_id in [p['id'] for p in json.loads(_core.compile_loadbalancer(
        json.dumps(record(store, full['lb']).tree)))['pools']]


def test_positions_follow_octavia(driver, store, full):
    listener = full['listener']
    a = make_policy(listener, position=None)
    b = make_policy(listener, position=1)
    c = make_policy(listener, position=7)   # past the end: last
    for p in (a, b, c):
        driver.l7policy_create(p)
    order = lambda: [(p['l7policy_id'], p['position']) for p in policies(store, full)]  # noqa
    assert order() == [(b.l7policy_id, 1), (a.l7policy_id, 2), (c.l7policy_id, 3)]
    driver.l7policy_update(c, dm.L7Policy(l7policy_id=c.l7policy_id, position=1))
    assert order() == [(c.l7policy_id, 1), (b.l7policy_id, 2), (a.l7policy_id, 3)]
    driver.l7policy_delete(b)
    assert order() == [(c.l7policy_id, 1), (a.l7policy_id, 2)]
    assert store.loadbalancer_of(b.l7policy_id) is None


def test_update_merges_and_an_action_change_clears_the_old_target(
        driver, store, full, second_pool):
    policy = make_policy(full['listener'], 'REDIRECT_TO_POOL',
                         redirect_pool_id=second_pool.pool_id)
    driver.l7policy_create(policy)
    rule = make_rule(policy)
    driver.l7rule_create(rule)
    # what Octavia sends for `l7policy set --action REDIRECT_TO_URL --redirect-url ...`
    driver.l7policy_update(policy, dm.L7Policy(
        l7policy_id=policy.l7policy_id, action='REDIRECT_TO_URL',
        redirect_url='https://example.com/', redirect_pool_id=None,
        redirect_http_code=301))
    [stored] = policies(store, full)
    assert stored['redirect_pool_id'] is None and stored['redirect_prefix'] is None
    assert stored['redirect_url'] == 'https://example.com/'
    assert [r['l7rule_id'] for r in stored['rules']] == [rule.l7rule_id]
    # `l7policy set --action REJECT`: only the action reaches the driver
    driver.l7policy_update(policy, dm.L7Policy(l7policy_id=policy.l7policy_id,
                                               action='REJECT'))
    [got] = compiled_policies(store, full)
    assert got['action'] == 'REJECT'
    assert not {'redirect_url', 'redirect_http_code', 'redirect_pool_id'} & set(got)
    driver.l7policy_update(policy, dm.L7Policy(name='renamed', admin_state_up=False))
    [stored] = policies(store, full)
    assert stored['name'] == 'renamed' and stored['admin_state_up'] is False
    assert stored['action'] == 'REJECT'


def test_rule_update_and_delete(driver, store, full):
    policy = make_policy(full['listener'])
    driver.l7policy_create(policy)
    rule = make_rule(policy)
    keep = make_rule(policy, type_='HEADER', compare_type='EQUAL_TO', key='X-A', value='1')
    driver.l7rule_create(rule)
    driver.l7rule_create(keep)
    # Octavia leaves l7policy_id out of the new rule
    driver.l7rule_update(rule, dm.L7Rule(l7rule_id=rule.l7rule_id, value='/v2', invert=True))
    [stored] = policies(store, full)
    assert stored['rules'][0]['value'] == '/v2' and stored['rules'][0]['invert'] is True
    assert stored['rules'][0]['compare_type'] == 'STARTS_WITH'
    driver.l7rule_delete(rule)
    [stored] = policies(store, full)
    assert [r['l7rule_id'] for r in stored['rules']] == [keep.l7rule_id]
    assert store.loadbalancer_of(rule.l7rule_id) is None


def test_re2_incompatible_regex_is_refused_naming_the_value(driver, store, full):
    policy = make_policy(full['listener'])
    driver.l7policy_create(policy)
    v = record(store, full['lb']).desired_version
    rule = make_rule(policy, compare_type='REGEX', value='^/(?!admin)')
    with pytest.raises(lib_exc.DriverError) as exc:
        driver.l7rule_create(rule)
    message = exc.value.user_fault_string
    assert message.startswith('value: "^/(?!admin)" is not a RE2 regular expression')
    assert message.endswith('(l7rule %s)' % rule.l7rule_id)
    assert record(store, full['lb']).desired_version == v
    assert store.loadbalancer_of(rule.l7rule_id) is None
    good = make_rule(policy, compare_type='REGEX', value='^/admin')
    driver.l7rule_create(good)
    with pytest.raises(lib_exc.DriverError) as exc:
        driver.l7rule_update(good, dm.L7Rule(l7rule_id=good.l7rule_id, value='(a)\\1'))
    assert 'value: ' in exc.value.user_fault_string
    assert policies(store, full)[0]['rules'][0]['value'] == '^/admin'


def test_redirect_to_a_pool_of_another_protocol_is_refused(driver, store, full):
    tcp = make_pool(full['lb'], protocol='TCP', name='tcp')
    driver.pool_create(tcp)
    policy = make_policy(full['listener'], 'REDIRECT_TO_POOL', redirect_pool_id=tcp.pool_id)
    with pytest.raises(lib_exc.DriverError) as exc:
        driver.l7policy_create(policy)
    assert exc.value.user_fault_string.startswith('redirect_pool_id: HTTP listeners cannot use TCP')
    assert '(l7policy %s)' % policy.l7policy_id in exc.value.user_fault_string


def test_listener_update_and_delete_keep_and_drop_its_policies(driver, store, full):
    policy = make_policy(full['listener'])
    driver.l7policy_create(policy)
    rule = make_rule(policy)
    driver.l7rule_create(rule)
    driver.listener_update(full['listener'], dm.Listener(
        listener_id=full['listener'].listener_id, name='renamed'))
    assert [p['l7policy_id'] for p in policies(store, full)] == [policy.l7policy_id]
    driver.listener_delete(full['listener'])
    assert store.loadbalancer_of(policy.l7policy_id) is None
    assert store.loadbalancer_of(rule.l7rule_id) is None


def test_full_graph_create_with_policies(driver, store):
    lb = make_lb()
    listener = make_listener(lb)
    default = make_pool(lb, listener)
    api = make_pool(lb, name='api')
    listener.default_pool = default
    listener.default_pool_id = default.pool_id
    first = make_policy(listener, 'REDIRECT_TO_POOL', position=2,
                        redirect_pool_id=api.pool_id)
    first.rules = [make_rule(first)]
    second = make_policy(listener, 'REJECT', position=1)
    second.rules = [make_rule(second, type_='HEADER', compare_type='EQUAL_TO',
                              key='X-Block', value='yes')]
    listener.l7policies = [first, second]
    lb.listeners = [listener]
    lb.pools = [default, api]
    driver.loadbalancer_create(lb)
    got = record(store, lb).tree['listeners'][0]['l7policies']
    assert [(p['l7policy_id'], p['position']) for p in got] == [
        (second.l7policy_id, 1), (first.l7policy_id, 2)]
    assert store.loadbalancer_of(first.rules[0].l7rule_id) == lb.loadbalancer_id


def test_l7_of_unknown_objects_is_a_driver_error(driver, full):
    orphan = dm.L7Policy(l7policy_id=uid(), listener_id=uid(), action='REJECT')
    with pytest.raises(lib_exc.DriverError):
        driver.l7policy_create(orphan)
    with pytest.raises(lib_exc.DriverError):
        driver.l7rule_create(make_rule(orphan))


# ---- controller status -----------------------------------------------------

def test_status_documents_carry_policies_and_rules(driver, store, full):
    enabled = make_policy(full['listener'])
    disabled = make_policy(full['listener'], admin_state_up=False)
    driver.l7policy_create(enabled)
    driver.l7policy_create(disabled)
    on, off = make_rule(enabled), make_rule(enabled, admin_state_up=False)
    under_disabled = make_rule(disabled)
    for r in (on, off, under_disabled):
        driver.l7rule_create(r)
    tree = record(store, full['lb']).tree
    operating = st.operating_statuses(tree, {})
    assert operating['l7policy'] == {enabled.l7policy_id: 'ONLINE',
                                     disabled.l7policy_id: 'OFFLINE'}
    assert operating['l7rule'] == {on.l7rule_id: 'ONLINE', off.l7rule_id: 'OFFLINE',
                                   under_disabled.l7rule_id: 'OFFLINE'}
    doc = st.document(st.all_provisioning(tree, 'ACTIVE'), operating)
    assert {e['id']: e['provisioning_status'] for e in doc['l7policies']} == {
        enabled.l7policy_id: 'ACTIVE', disabled.l7policy_id: 'ACTIVE'}
    assert {e['id']: e['operating_status'] for e in doc['l7rules']}[on.l7rule_id] == 'ONLINE'
    driver.l7policy_delete(enabled)
    removed = st.removed(tree, record(store, full['lb']).tree)
    assert removed == {'l7policy': {enabled.l7policy_id}, 'l7rule': {on.l7rule_id, off.l7rule_id}}
    doc = st.document({}, deleted=removed)
    assert {e['provisioning_status'] for e in doc['l7policies'] + doc['l7rules']} == {'DELETED'}


def test_read_back_sees_policies_and_rules():
    got = dm.LoadBalancer.from_dict({'loadbalancer_id': 'lb', 'listeners': [
        {'listener_id': 'l1', 'l7policies': [
            {'l7policy_id': 'p1', 'rules': [{'l7rule_id': 'r1'}]}]}], 'pools': []})
    assert reconciler._seen(got) == {'l1', 'p1', 'r1'}


def test_graph_policies_as_dicts_are_kept_too():
    # octavia-lib's from_dict leaves nested objects as dicts
    lb = make_lb()
    listener = make_listener(lb, l7policies=[
        {'l7policy_id': 'p1', 'action': 'REJECT', 'position': 1,
         'rules': [{'l7rule_id': 'r1', 'type': 'PATH', 'compare_type': 'EQUAL_TO',
                    'value': '/x'}]}])
    lb.listeners = [listener]
    tree = lbtree.from_loadbalancer(lb)
    assert tree['listeners'][0]['l7policies'] == [
        {'l7policy_id': 'p1', 'action': 'REJECT', 'position': 1,
         'rules': [{'l7rule_id': 'r1', 'type': 'PATH', 'compare_type': 'EQUAL_TO',
                    'value': '/x'}]}]
    assert lbtree.object_ids(tree)['l7rule'] == {'r1'}
