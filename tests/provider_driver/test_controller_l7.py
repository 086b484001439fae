"""L7 policies and rules through the controller with a real amphora (local
compute, pharos-agent, pharos-engine) and the fake driver agent library:
statuses of policies and rules, DELETED on delete, and the engine routing by
them. Root only."""
from test_controller import build_lb, env, pytestmark, reconcile_all, served_names  # noqa: F401
from test_driver import make_member, make_pool
from test_driver_l7 import make_policy, make_rule


def api_policy(e):
    """A load balancer whose listener sends /api* to a second pool (member-2)
    and everything else to its default pool (member-1), applied."""
    objs = build_lb(e, members=(1,), hm=False)
    api = make_pool(objs['lb'], name='api')
    e['driver'].pool_create(api)
    e['driver'].member_create(make_member(api, 2, address=e['net'].add_member(2)))
    policy = make_policy(objs['listener'], 'REDIRECT_TO_POOL', position=1,
                         redirect_pool_id=api.pool_id)
    e['driver'].l7policy_create(policy)
    rule = make_rule(policy, value='/api')
    e['driver'].l7rule_create(rule)
    reconcile_all(e)
    return dict(objs, policy=policy, rule=rule)


def test_policies_and_rules_go_active_and_deleted(env):
    e = env
    objs = api_policy(e)
    policy, rule = objs['policy'], objs['rule']
    disabled = make_rule(policy, type_='HEADER', compare_type='EQUAL_TO', key='X-Never',
                         value='1', admin_state_up=False)
    e['driver'].l7rule_create(disabled)
    reconcile_all(e)
    lib = e['lib']
    assert lib.last('l7policies', policy.l7policy_id, 'provisioning_status') == 'ACTIVE'
    assert lib.last('l7policies', policy.l7policy_id, 'operating_status') == 'ONLINE'
    assert lib.last('l7rules', rule.l7rule_id, 'provisioning_status') == 'ACTIVE'
    assert lib.last('l7rules', rule.l7rule_id, 'operating_status') == 'ONLINE'
    assert lib.last('l7rules', disabled.l7rule_id, 'provisioning_status') == 'ACTIVE'
    assert lib.last('l7rules', disabled.l7rule_id, 'operating_status') == 'OFFLINE'

    e['driver'].l7rule_delete(disabled)
    reconcile_all(e)
    assert lib.last('l7rules', disabled.l7rule_id, 'provisioning_status') == 'DELETED'
    e['driver'].l7policy_delete(policy)
    reconcile_all(e)
    assert lib.last('l7policies', policy.l7policy_id, 'provisioning_status') == 'DELETED'
    assert lib.last('l7rules', rule.l7rule_id, 'provisioning_status') == 'DELETED'
    assert lib.last('loadbalancers', objs['lb'].loadbalancer_id,
                    'provisioning_status') == 'ACTIVE'


def test_engine_routes_by_policy(env):
    e = env
    objs = api_policy(e)
    vip = objs['lb'].vip_address

    def get(path):
        return (e['net'].curl('http://%s%s' % (vip, path)) or '').strip()
    routed = {path: get(path) for path in ('/', '/api/x', '/apx')}
    assert routed == {'/': 'member-1', '/api/x': 'member-2', '/apx': 'member-1'}, routed
    e['driver'].l7policy_delete(objs['policy'])
    reconcile_all(e)
    assert served_names(e, vip, 3) == {'member-1'}
    assert get('/api/x') == 'member-1'
