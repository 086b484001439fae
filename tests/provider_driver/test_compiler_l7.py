"""Octavia L7 policies and rules through the engine's own compiler
(pharos._core): every action and rule type maps onto the engine config, and
what the engine cannot serve is refused naming the Octavia object and field."""
import json

import pytest

from pharos import _core
from pharos import errors


def policy(pid, action, position=1, rules=(), **kw):
    """An L7Policy as octavia-lib hands it over (unset targets as None)."""
    out = {'l7policy_id': pid, 'listener_id': 'l1', 'name': 'p-' + pid,
           'description': None, 'project_id': 'p1', 'action': action,
           'position': position, 'redirect_pool_id': None, 'redirect_url': None,
           'redirect_prefix': None, 'redirect_http_code': None,
           'admin_state_up': True, 'rules': list(rules)}
    out.update(kw)
    return out


def rule(rid, type_, compare_type, value, key=None, **kw):
    out = {'l7rule_id': rid, 'l7policy_id': 'x', 'project_id': 'p1',
           'type': type_, 'compare_type': compare_type, 'key': key,
           'value': value, 'invert': False, 'admin_state_up': True}
    out.update(kw)
    return out


def http_tree(policies, protocol='HTTP'):
    listener = {'listener_id': 'l1', 'protocol': protocol, 'protocol_port': 80,
                'admin_state_up': True, 'default_pool_id': 'pool-a',
                'l7policies': policies}
    pools = [{'pool_id': pid, 'protocol': 'HTTP', 'lb_algorithm': 'ROUND_ROBIN',
              'admin_state_up': True,
              'members': [{'member_id': 'm-' + pid, 'address': '10.0.0.2%d' % n,
                           'protocol_port': 8080}]}
             for n, pid in enumerate(('pool-a', 'pool-b'), 1)]
    return {'version': 2, 'loadbalancer': {'loadbalancer_id': 'lb1',
                                           'vip_address': '10.0.0.10'},
            'listeners': [listener], 'pools': pools}


def compile_tree(tree):
    return json.loads(_core.compile_loadbalancer(json.dumps(tree)))


def refusal(tree, kind=_core.CompileError):
    """(errors, the user message the driver would send)."""
    with pytest.raises(kind) as exc:
        compile_tree(tree)
    return exc.value.errors, errors.user_message(tree, exc.value.errors)


def test_every_action_maps_with_its_target_only():
    tree = http_tree([
        policy('reject', 'REJECT', 1, [rule('r1', 'HEADER', 'EQUAL_TO', 'bad', key='X-Bad')]),
        policy('to-url', 'REDIRECT_TO_URL', 2, [rule('r2', 'PATH', 'EQUAL_TO', '/old')],
               redirect_url='https://example.com/new', redirect_http_code=301),
        policy('to-pool', 'REDIRECT_TO_POOL', 3, [rule('r3', 'PATH', 'STARTS_WITH', '/api')],
               redirect_pool_id='pool-b'),
        policy('prefix', 'REDIRECT_PREFIX', 4, [rule('r4', 'HOST_NAME', 'ENDS_WITH', '.old')],
               redirect_prefix='https://new.example.com', redirect_http_code=308),
    ])
    got = compile_tree(tree)['listeners'][0]['l7policies']
    assert got == [
        {'id': 'reject', 'name': 'p-reject', 'action': 'REJECT', 'position': 1,
         'admin_state_up': True,
         'rules': [{'id': 'r1', 'type': 'HEADER', 'compare_type': 'EQUAL_TO', 'key': 'X-Bad',
                    'value': 'bad', 'invert': False, 'admin_state_up': True}]},
        {'id': 'to-url', 'name': 'p-to-url', 'action': 'REDIRECT_TO_URL', 'position': 2,
         'admin_state_up': True, 'redirect_url': 'https://example.com/new',
         'redirect_http_code': 301,
         'rules': [{'id': 'r2', 'type': 'PATH', 'compare_type': 'EQUAL_TO', 'value': '/old',
                    'invert': False, 'admin_state_up': True}]},
        {'id': 'to-pool', 'name': 'p-to-pool', 'action': 'REDIRECT_TO_POOL', 'position': 3,
         'admin_state_up': True, 'redirect_pool_id': 'pool-b',
         'rules': [{'id': 'r3', 'type': 'PATH', 'compare_type': 'STARTS_WITH', 'value': '/api',
                    'invert': False, 'admin_state_up': True}]},
        {'id': 'prefix', 'name': 'p-prefix', 'action': 'REDIRECT_PREFIX', 'position': 4,
         'admin_state_up': True, 'redirect_prefix': 'https://new.example.com',
         'redirect_http_code': 308,
         'rules': [{'id': 'r4', 'type': 'HOST_NAME', 'compare_type': 'ENDS_WITH',
                    'value': '.old', 'invert': False, 'admin_state_up': True}]},
    ]


def test_a_stale_target_of_another_action_is_left_out():
    # what Octavia's database may still hold after an action change
    tree = http_tree([policy('p', 'REJECT', redirect_url='https://x.example/',
                             redirect_http_code=302, redirect_pool_id='pool-b')])
    got = compile_tree(tree)['listeners'][0]['l7policies'][0]
    assert not {'redirect_url', 'redirect_http_code', 'redirect_pool_id'} & set(got)


@pytest.mark.parametrize('type_,compare_type,value,key', [
    ('HOST_NAME', 'EQUAL_TO', 'www.example.com', None),
    ('HOST_NAME', 'REGEX', r'^api\d+\.example\.com$', None),
    ('PATH', 'STARTS_WITH', '/api', None),
    ('PATH', 'ENDS_WITH', '.php', None),
    ('PATH', 'CONTAINS', 'admin', None),
    ('PATH', 'REGEX', '^/v[12]/', None),
    ('FILE_TYPE', 'EQUAL_TO', 'jpg', None),
    ('FILE_TYPE', 'REGEX', 'jpe?g', None),
    ('HEADER', 'CONTAINS', 'curl', 'User-Agent'),
    ('HEADER', 'REGEX', '^Bearer ', 'Authorization'),
    ('COOKIE', 'EQUAL_TO', 'beta', 'channel'),
    ('COOKIE', 'STARTS_WITH', 'b', 'channel'),
])
def test_every_http_rule_type_maps(type_, compare_type, value, key):
    tree = http_tree([policy('p', 'REJECT', rules=[
        rule('r', type_, compare_type, value, key=key, invert=True)])])
    got = compile_tree(tree)['listeners'][0]['l7policies'][0]['rules'][0]
    expected = {'id': 'r', 'type': type_, 'compare_type': compare_type, 'value': value,
                'invert': True, 'admin_state_up': True}
    if key:
        expected['key'] = key
    assert got == expected


@pytest.mark.parametrize('type_,value,key', [
    ('SSL_CONN_HAS_CERT', 'True', None),
    ('SSL_VERIFY_RESULT', '0', None),
    ('SSL_DN_FIELD', 'alice', 'CN'),
])
def test_client_certificate_rules_map_on_terminated_https(type_, value, key):
    tree = http_tree([policy('p', 'REJECT', rules=[
        rule('r', type_, 'EQUAL_TO', value, key=key)])], protocol='TERMINATED_HTTPS')
    # only the L7 part matters here: the TLS part is test_compiler_tls.py's
    errs, _ = refusal(tree)
    assert not [p for p, _ in errs if 'l7policies' in p]
    tree['listeners'][0]['protocol'] = 'HTTP'
    errs, message = refusal(tree)
    assert [p for p, _ in errs] == ['/listeners/0/l7policies/0/rules/0/type']
    assert message.startswith('type: %s rules need a TERMINATED_HTTPS listener' % type_)
    assert message.endswith('(l7rule r)')


def test_a_key_octavia_ignores_is_dropped():
    # Octavia accepts a key on PATH rules (and keeps it when a rule's type changes)
    tree = http_tree([policy('p', 'REJECT', rules=[
        rule('r', 'PATH', 'EQUAL_TO', '/x', key='X-Ignored')])])
    assert 'key' not in compile_tree(tree)['listeners'][0]['l7policies'][0]['rules'][0]


def test_disabled_policies_and_rules_stay_in_the_config():
    tree = http_tree([policy('p', 'REJECT', admin_state_up=False, rules=[
        rule('r', 'PATH', 'EQUAL_TO', '/x', admin_state_up=False)])])
    got = compile_tree(tree)['listeners'][0]['l7policies'][0]
    assert got['admin_state_up'] is False and got['rules'][0]['admin_state_up'] is False


def test_a_listener_without_policies_has_none_in_the_config():
    assert 'l7policies' not in compile_tree(http_tree([]))['listeners'][0]


def test_redirect_to_pool_needs_a_pool_of_the_load_balancer():
    tree = http_tree([policy('p', 'REDIRECT_TO_POOL', redirect_pool_id='pool-z')])
    errs, message = refusal(tree, _core.InvalidConfig)
    assert [p for p, _ in errs] == ['/listeners/0/l7policies/0/redirect_pool_id']
    assert message.startswith('redirect_pool_id: ') and 'pool-z' in message
    assert message.endswith('(l7policy p)')


def test_an_action_without_its_target_is_invalid():
    tree = http_tree([policy('p', 'REDIRECT_TO_URL')])
    errs, message = refusal(tree, _core.InvalidConfig)
    assert errs == [('/listeners/0/l7policies/0/redirect_url',
                     'REDIRECT_TO_URL needs redirect_url')]
    assert message == 'redirect_url: REDIRECT_TO_URL needs redirect_url (l7policy p)'


def test_re2_incompatible_regex_names_the_rule_value():
    import re
    pattern = '^/(?=api)'
    re.compile(pattern)   # what Octavia's API checks with: accepted
    tree = http_tree([policy('p', 'REJECT', rules=[
        rule('ok', 'PATH', 'STARTS_WITH', '/'),
        rule('look', 'PATH', 'REGEX', pattern)])])
    errs, message = refusal(tree, _core.InvalidConfig)
    assert [p for p, _ in errs] == ['/listeners/0/l7policies/0/rules/1/value']
    assert message.startswith('value: "^/(?=api)" is not a RE2 regular expression')
    assert 'lookaround' in message and message.endswith('(l7rule look)')


def test_keyed_rule_without_key_is_invalid():
    tree = http_tree([policy('p', 'REJECT', rules=[rule('r', 'COOKIE', 'EQUAL_TO', 'v')])])
    _, message = refusal(tree, _core.InvalidConfig)
    assert message.startswith('key: COOKIE rules need key') and message.endswith('(l7rule r)')


def test_duplicate_ids_name_the_octavia_id_field():
    tree = http_tree([policy('p', 'REJECT'), policy('p', 'REJECT', 2)])
    errs, message = refusal(tree, _core.InvalidConfig)
    assert [p for p, _ in errs] == ['/listeners/0/l7policies/1/l7policy_id']
    assert message.startswith('l7policy_id: ')
    tree = http_tree([policy('p', 'REJECT', rules=[rule('r', 'PATH', 'EQUAL_TO', '/a'),
                                                   rule('r', 'PATH', 'EQUAL_TO', '/b')])])
    errs, _ = refusal(tree, _core.InvalidConfig)
    assert [p for p, _ in errs] == ['/listeners/0/l7policies/0/rules/1/l7rule_id']


def test_policies_on_a_tcp_listener_are_invalid():
    tree = http_tree([policy('p', 'REJECT')])
    tree['listeners'][0]['protocol'] = 'TCP'
    tree['pools'] = [dict(p, protocol='TCP') for p in tree['pools']]
    errs, message = refusal(tree, _core.InvalidConfig)
    assert ('/listeners/0/l7policies',
            'L7 policies apply only to HTTP and TERMINATED_HTTPS listeners, not TCP') in errs
    assert 'l7policies: L7 policies apply only' in message


def test_compiled_l7_config_passes_the_engines_own_validator():
    tree = http_tree([policy('p', 'REDIRECT_TO_POOL', redirect_pool_id='pool-b',
                             rules=[rule('r', 'PATH', 'STARTS_WITH', '/api')])])
    assert _core.validate_engine_config(json.dumps(compile_tree(tree))) == []
