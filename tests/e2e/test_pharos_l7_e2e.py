"""Octavia L7 policies and rules end to end: the real local cloud and the
real `openstack loadbalancer l7policy/l7rule` CLI with the pharos provider.

Run as root:  /usr/bin/python3 -m pytest -v -s tests/e2e/test_pharos_l7_e2e.py
One load balancer with an HTTP listener, a default pool (member-1) and a
second pool (member-2) that no listener uses by default; traffic only from
pharos-client. In order:
  - REDIRECT_TO_POOL with a PATH STARTS_WITH /api rule: /api/* reaches
    member-2, every other path member-1;
  - REJECT with a HEADER rule: 403 for requests that carry the header;
  - REDIRECT_TO_URL with a PATH EQUAL_TO rule: 301 with the Location;
  - `l7policy set` turns it into a REDIRECT_PREFIX keeping path and query;
  - `l7rule set` moves the /api rule to /v2 and routing follows;
  - a regular expression Python accepts and RE2 does not is refused at API
    time naming the rule's value, and the load balancer stays ACTIVE;
  - deleting the pool policy restores default routing;
  - every policy and rule reaches provisioning_status ACTIVE, deletes leave
    none, and the cascade delete leaves no amphora.
Uses the fixtures of test_pharos_e2e.py; stops only what it started.
"""
import time
import uuid

import pytest

from test_pharos_e2e import (  # noqa: F401  (fixtures)
    TIMINGS, assert_nothing_left, cloud, in_ns, lbnet, osc, print_timings, pytestmark,
    refused, remove_loadbalancer, subnet, wait_until)


@pytest.fixture(scope='module')
def lb(cloud, lbnet, subnet):
    name = 'pharos-l7-%s' % uuid.uuid4().hex[:6]
    ids = {}
    try:
        created = osc('loadbalancer', 'create', '--provider', 'pharos', '--name', name,
                      '--vip-subnet-id', subnet['id'], '--wait')
        ids.update(lb=created['id'], vip=created['vip_address'])
        listener = osc('loadbalancer', 'listener', 'create', '--name', name, '--protocol', 'HTTP',
                       '--protocol-port', '80', '--wait', ids['lb'])
        ids['listener'] = listener['id']
        default = osc('loadbalancer', 'pool', 'create', '--name', name + '-default',
                      '--listener', listener['id'], '--protocol', 'HTTP',
                      '--lb-algorithm', 'ROUND_ROBIN', '--wait')
        api = osc('loadbalancer', 'pool', 'create', '--name', name + '-api',
                  '--loadbalancer', ids['lb'], '--protocol', 'HTTP',
                  '--lb-algorithm', 'ROUND_ROBIN', '--wait')
        ids.update(default_pool=default['id'], api_pool=api['id'])
        for n, pool in ((1, default['id']), (2, api['id'])):
            osc('loadbalancer', 'member', 'create', '--name', 'member-%d' % n,
                '--subnet-id', subnet['id'], '--address', '10.250.0.2%d' % n,
                '--protocol-port', '8080', '--wait', pool)
        yield ids
    finally:
        remove_loadbalancer(ids, name)
        print_timings()


def request(vip, path='/', headers=()):
    """(status, body, Location) of one GET from pharos-client."""
    args = ['curl', '-s', '-m', '3', '-o', '/dev/stderr', '-w',
            '%{http_code} %{redirect_url}']
    for header in headers:
        args += ['-H', header]
    out = in_ns('pharos-client', *args, 'http://%s%s' % (vip, path))
    code, _, location = out.stdout.strip().partition(' ')
    return int(code or 0), out.stderr.strip(), location


def body(vip, path='/', headers=()):
    return request(vip, path, headers)[1]


def assert_active(kind, *args):
    """The object is ACTIVE and ONLINE (reported by the pharos controller)."""
    shown = osc('loadbalancer', kind, 'show', *args)
    assert (shown['provisioning_status'], shown['operating_status']) == ('ACTIVE', 'ONLINE'), shown
    return shown


def create_policy(lb, *args):
    t = time.monotonic()
    policy = osc('loadbalancer', 'l7policy', 'create', '--wait', *args, lb['listener'])
    TIMINGS.setdefault('l7policy create -> ACTIVE (CLI --wait)', time.monotonic() - t)
    return policy


def create_rule(policy_id, *args):
    # python-octaviaclient 3.1's `l7rule create --wait` shows the new rule with
    # its two ids swapped (HTTP 404 after the create): wait here instead
    t = time.monotonic()
    rule = osc('loadbalancer', 'l7rule', 'create', *args, policy_id)
    wait_until(lambda: osc('loadbalancer', 'l7rule', 'show', policy_id, rule['id'])[
        'provisioning_status'] == 'ACTIVE', 60, 'l7rule %s ACTIVE' % rule['id'], interval=0.5)
    TIMINGS.setdefault('l7rule create -> ACTIVE (polled)', time.monotonic() - t)
    assert_active('l7rule', policy_id, rule['id'])
    return rule


def test_redirect_to_pool_by_path(lb):
    policy = create_policy(lb, '--name', 'api', '--action', 'REDIRECT_TO_POOL',
                           '--redirect-pool', lb['api_pool'])
    lb['api_policy'] = policy['id']
    rule = create_rule(policy['id'], '--type', 'PATH', '--compare-type', 'STARTS_WITH',
                       '--value', '/api')
    lb['api_rule'] = rule['id']
    assert_active('l7policy', policy['id'])
    assert osc('loadbalancer', 'show', lb['lb'])['provisioning_status'] == 'ACTIVE'
    got = {path: body(lb['vip'], path) for path in ('/api', '/api/users', '/', '/apx', '/v1/api')}
    print('routing:', got)
    assert got == {'/api': 'member-2', '/api/users': 'member-2', '/': 'member-1',
                   '/apx': 'member-1', '/v1/api': 'member-1'}


def test_reject_by_header(lb):
    policy = create_policy(lb, '--name', 'block', '--action', 'REJECT', '--position', '1')
    lb['reject_policy'] = policy['id']
    create_rule(policy['id'], '--type', 'HEADER', '--key', 'X-Block', '--compare-type',
                'EQUAL_TO', '--value', 'yes')
    assert_active('l7policy', policy['id'])
    # the new policy went first, as Octavia numbers them
    positions = {p['id']: p['position'] for p in
                 osc('loadbalancer', 'l7policy', 'list', '--listener', lb['listener'])}
    assert positions == {policy['id']: 1, lb['api_policy']: 2}
    assert request(lb['vip'], '/', ['X-Block: yes'])[0] == 403
    assert request(lb['vip'], '/api/x', ['X-Block: yes'])[0] == 403
    assert request(lb['vip'], '/', ['X-Block: no'])[:2] == (200, 'member-1')
    assert body(lb['vip'], '/api/x') == 'member-2'


def test_redirect_to_url(lb):
    policy = create_policy(lb, '--name', 'moved', '--action', 'REDIRECT_TO_URL',
                           '--redirect-url', 'http://example.com/new-home',
                           '--redirect-http-code', '301')
    lb['url_policy'] = policy['id']
    create_rule(policy['id'], '--type', 'PATH', '--compare-type', 'EQUAL_TO', '--value', '/old')
    assert_active('l7policy', policy['id'])
    code, _, location = request(lb['vip'], '/old')
    assert (code, location) == (301, 'http://example.com/new-home')
    assert body(lb['vip'], '/old/x') == 'member-1'


def test_policy_update_changes_the_answer(lb):
    # The action changes to REDIRECT_PREFIX: Octavia drops the old URL, the
    # engine now keeps the request's path and query after the prefix.
    osc('loadbalancer', 'l7policy', 'set', '--action', 'REDIRECT_PREFIX',
        '--redirect-prefix', 'https://example.net', '--redirect-http-code', '308', '--wait',
        lb['url_policy'], fmt=False)
    shown = assert_active('l7policy', lb['url_policy'])
    assert (shown['action'], shown['redirect_url']) == ('REDIRECT_PREFIX', None)
    code, _, location = request(lb['vip'], '/old?page=2')
    assert (code, location) == (308, 'https://example.net/old?page=2')


def test_rule_update_changes_routing(lb):
    t = time.monotonic()
    osc('loadbalancer', 'l7rule', 'set', '--value', '/v2', '--wait',
        lb['api_policy'], lb['api_rule'], fmt=False)
    TIMINGS['l7rule set -> ACTIVE (CLI --wait)'] = time.monotonic() - t
    rule = assert_active('l7rule', lb['api_policy'], lb['api_rule'])
    assert rule['value'] == '/v2'
    assert body(lb['vip'], '/v2/users') == 'member-2'
    assert body(lb['vip'], '/api/users') == 'member-1'


def test_re2_incompatible_regex_refused_at_api_time(lb):
    import re
    pattern = '^/(?=admin)'
    re.compile(pattern)   # Octavia's own check accepts it
    before = osc('loadbalancer', 'l7rule', 'list', lb['api_policy'])
    err = refused('loadbalancer', 'l7rule', 'create', '--type', 'PATH', '--compare-type', 'REGEX',
                  '--value', pattern, lb['api_policy'])
    assert 'value: "^/(?=admin)" is not a RE2 regular expression' in err
    assert 'l7rule ' in err
    assert osc('loadbalancer', 'show', lb['lb'])['provisioning_status'] == 'ACTIVE'
    assert osc('loadbalancer', 'l7rule', 'list', lb['api_policy']) == before
    assert_active('l7policy', lb['api_policy'])


def test_policy_delete_restores_default_routing(lb):
    t = time.monotonic()
    osc('loadbalancer', 'l7policy', 'delete', '--wait', lb['api_policy'], fmt=False)
    TIMINGS['l7policy delete -> gone (CLI --wait)'] = time.monotonic() - t
    left = {p['id'] for p in osc('loadbalancer', 'l7policy', 'list', '--listener', lb['listener'])}
    assert left == {lb['reject_policy'], lb['url_policy']}
    assert {body(lb['vip'], '/v2/users') for _ in range(4)} == {'member-1'}
    assert osc('loadbalancer', 'show', lb['lb'])['provisioning_status'] == 'ACTIVE'


def test_deletes_leave_nothing(lb):
    rules = osc('loadbalancer', 'l7rule', 'list', lb['reject_policy'])
    for rule in rules:
        osc('loadbalancer', 'l7rule', 'delete', '--wait', lb['reject_policy'], rule['id'], fmt=False)
    assert osc('loadbalancer', 'l7rule', 'list', lb['reject_policy']) == []
    # a policy without rules never matches
    assert request(lb['vip'], '/', ['X-Block: yes'])[:2] == (200, 'member-1')
    for policy in (lb['reject_policy'], lb['url_policy']):
        osc('loadbalancer', 'l7policy', 'delete', '--wait', policy, fmt=False)
    assert osc('loadbalancer', 'l7policy', 'list', '--listener', lb['listener']) == []
    assert request(lb['vip'], '/old')[:2] == (200, 'member-1')
    osc('loadbalancer', 'delete', '--cascade', '--wait', lb['lb'], fmt=False)
    lb['deleted'] = True
    assert_nothing_left(lb['lb'])
    wait_until(lambda: in_ns('pharos-client', 'curl', '-s', '-m', '2',
                             'http://%s/' % lb['vip']).returncode != 0, 10, 'the VIP to go')
