"""End to end through the real local cloud with the pharos provider.

Run as root:  /usr/bin/python3 -m pytest -v -s tests/e2e
Starts the local cloud with the pharos provider (devstack/pharos-provider.sh)
unless it already runs that way, brings up devstack/lbnet.sh and two demo
members, then drives everything with the real `openstack` CLI: load balancer,
HTTP listener, ROUND_ROBIN pool, 2 members, HTTP health monitor; traffic from
pharos-client; status show and stats show; an unsupported option refused at
API time; HTTP_COOKIE session persistence set and unset with `pool set/unset`;
listener timeouts and a member weight changed under a request in flight;
a member going ERROR and back ONLINE; cascade delete leaving no
process or namespace. Stops only what it started. Bounded by
PHAROS_E2E_BUDGET seconds (default 1500, the three e2e modules together)
and per-command timeouts.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, 'provider_driver'))
DEVSTACK = os.path.join(REPO, 'devstack')
LOCALCLOUD = os.path.join(DEVSTACK, 'localcloud.sh')
PROVIDER = os.path.join(DEVSTACK, 'pharos-provider.sh')
LBNET = os.path.join(DEVSTACK, 'lbnet.sh')
BUILD = os.environ.get('PHAROS_BUILD_DIR', os.path.join(REPO, 'build'))
STATE = os.environ.get('PHAROS_STATE_DIR', os.path.join(REPO, '.state'))
DEMO_BACKEND = os.path.join(BUILD, 'bin', 'pharos-demo-backend')
BUDGET = float(os.environ.get('PHAROS_E2E_BUDGET', '1500'))
T0 = time.monotonic()
TIMINGS = {}

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0,
                       reason='needs root: network namespaces and the local cloud'),
    pytest.mark.skipif(shutil.which('openstack') is None or shutil.which('octavia-api') is None,
                       reason='run devstack/install-packages.sh first'),
    pytest.mark.skipif(not os.path.exists(DEMO_BACKEND) or not (
        os.path.exists(os.path.join(BUILD, 'bin', 'pharos-agent')) or
        os.environ.get('PHAROS_AGENT_BINARY')),
        reason='build pharos-engine, pharos-agent, pharos-demo-backend and _core first'),
]


def _left():
    left = BUDGET - (time.monotonic() - T0)
    if left <= 0:
        pytest.fail('e2e budget of %.0fs exhausted' % BUDGET)
    return left


def run(*args, timeout=120, check=True):
    proc = subprocess.run(list(args), capture_output=True, text=True,
                          timeout=min(timeout, _left()))
    if check and proc.returncode != 0:
        raise AssertionError('%s failed (%d):\n%s\n%s' % (
            ' '.join(args), proc.returncode, proc.stdout, proc.stderr))
    return proc


def osc(*args, timeout=180, fmt=True):
    cmd = [LOCALCLOUD, 'openstack'] + list(args) + (['-f', 'json'] if fmt else [])
    print('$ openstack ' + ' '.join(args))
    out = run(*cmd, timeout=timeout).stdout
    return json.loads(out) if out.strip() else None


def in_ns(ns, *args, timeout=10, check=False):
    return run('ip', 'netns', 'exec', ns, *args, timeout=timeout, check=check)


def wait_until(predicate, timeout, what, interval=1.0):
    deadline = time.monotonic() + min(timeout, _left())
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError('timed out after %ss waiting for %s (last: %r)' % (timeout, what, last))


def pharos_configured():
    conf = os.path.join(STATE, 'localcloud', 'etc', 'octavia', 'octavia.conf')
    try:
        text = open(conf).read()
    except OSError:
        return False
    return 'enabled_provider_drivers = pharos:' in text and \
        'enabled_provider_agents = pharos\n' in text


@pytest.fixture(scope='module')
def cloud():
    up = subprocess.run([LOCALCLOUD, 'status'], capture_output=True, timeout=30).returncode == 0
    was_pharos = up and pharos_configured()
    if not was_pharos:
        # (a cloud running without pharos is restarted with it, and put back after)
        t = time.monotonic()
        try:
            run(PROVIDER, 'start', timeout=600)
        except BaseException:
            # A start that failed or ran out of time may have started some services: end them.
            subprocess.run([LOCALCLOUD, 'stop'], timeout=120)
            raise
        TIMINGS['cloud start'] = time.monotonic() - t
    yield
    if not was_pharos:
        subprocess.run([LOCALCLOUD, 'stop'], timeout=120)
        if up:
            env = {k: v for k, v in os.environ.items() if not k.startswith('PHAROS_LC_')}
            subprocess.run([LOCALCLOUD, 'start'], timeout=600, env=env)


@pytest.fixture(scope='module')
def lbnet():
    existed = subprocess.run(['ip', 'netns', 'pids', 'pharos-net'],
                             capture_output=True).returncode == 0
    run(LBNET, 'up', timeout=60)
    members = {}

    def start(n):
        members[n] = subprocess.Popen(
            ['ip', 'netns', 'exec', 'pharos-member-%d' % n, DEMO_BACKEND,
             '--address', '10.250.0.2%d' % n, '--port', '8080', '--name', 'member-%d' % n],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: in_ns('pharos-client', 'curl', '-sf', '-m', '1',
                                 'http://10.250.0.2%d:8080/' % n).returncode == 0,
                   10, 'member %d' % n, interval=0.1)

    def stop(n):
        proc = members.pop(n, None)
        if proc:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
    start(1)
    start(2)
    yield {'start': start, 'stop': stop}
    for n in list(members):
        stop(n)
    if not existed:
        subprocess.run([LBNET, 'down'], timeout=60)


@pytest.fixture(scope='module')
def subnet(cloud):
    name = 'pharos-e2e-%s' % uuid.uuid4().hex[:8]
    net = osc('network', 'create', name)
    sub = None
    try:
        sub = osc('subnet', 'create', '--network', net['id'], '--subnet-range', '10.250.0.0/24',
                  '--allocation-pool', 'start=10.250.0.100,end=10.250.0.200',
                  '--gateway', 'none', name)
        yield sub
    finally:
        if sub:
            subprocess.run([LOCALCLOUD, 'openstack', 'subnet', 'delete', sub['id']], timeout=120)
        subprocess.run([LOCALCLOUD, 'openstack', 'network', 'delete', net['id']], timeout=120)


def _amphora_leftovers(lb_id):
    """Namespaces and agent processes of this load balancer's amphorae."""
    from oslo_config import cfg
    from pharos import config as pharos_config
    from pharos import store as pharos_store
    from pharos.compute import local
    store = pharos_store.Store('sqlite:///' + os.path.join(STATE, 'pharos', 'pharos.sqlite'))
    try:
        amps = [a for a in store.list_amphorae() if a.loadbalancer_id == lb_id]
    finally:
        store.dispose()
    left = []
    for amp in amps:
        h = amp.compute_id or {}
        ns = h.get('netns') or 'pharos-amp-' + amp.id[:8]
        if local.netns_exists(ns):
            left.append(ns)
        if h.get('pid') and local.proc_start_time(h['pid']) == h.get('start'):
            left.append('pid %d' % h['pid'])
    conf = cfg.ConfigOpts()
    pharos_config.register_opts(conf)
    conf([])
    return left, amps, conf


def remove_loadbalancer(ids, name):
    """Teardown of a test's load balancer `name` (ids['lb'] when its create
    got that far): cascade delete unless ids['deleted'], then whatever
    amphora is still there (a failed delete) goes by its handle."""
    if 'lb' not in ids:   # create failed: find it by name
        found = osc('loadbalancer', 'list', '--name', name)
        ids['lb'] = found[0]['id'] if found else None
    if ids['lb'] and not ids.get('deleted'):
        subprocess.run([LOCALCLOUD, 'openstack', 'loadbalancer', 'delete', '--cascade',
                        '--wait', ids['lb']], timeout=300)
    left, amps, conf = _amphora_leftovers(ids['lb']) if ids['lb'] else ([], [], None)
    if left:
        from pharos.compute import local
        conf.set_override('state_dir', os.path.join(STATE, 'pharos'), 'pharos')
        for amp in amps:
            local.LocalCompute(conf).delete(amp.compute_id if amp.compute_id.get('netns')
                                            else local.LocalCompute(conf).handle_for(amp.id))


def print_timings():
    print('\nTIMINGS:')
    for k, v in TIMINGS.items():
        print('  %-60s %6.1fs' % (k, v))


def assert_nothing_left(lb_id):
    """After the load balancer's delete: no amphora, namespace or agent
    process of it is left."""
    left, amps, _ = _amphora_leftovers(lb_id)
    assert amps == [] or all(a.state == 'DELETED' for a in amps)
    assert left == []
    out = run('ip', 'netns', 'list').stdout
    assert 'pharos-amp-' not in out


@pytest.fixture(scope='module')
def lb(cloud, lbnet, subnet):
    name = 'pharos-e2e-%s' % uuid.uuid4().hex[:6]
    t0 = time.monotonic()
    ids = {}
    try:
        created = osc('loadbalancer', 'create', '--provider', 'pharos', '--name', name,
                      '--vip-subnet-id', subnet['id'], '--wait')
        TIMINGS['loadbalancer create -> ACTIVE (CLI --wait)'] = time.monotonic() - t0
        ids.update(lb=created['id'], vip=created['vip_address'])
        listener = osc('loadbalancer', 'listener', 'create', '--name', name, '--protocol', 'HTTP',
                       '--protocol-port', '80', '--wait', ids['lb'])
        ids['listener'] = listener['id']
        pool = osc('loadbalancer', 'pool', 'create', '--name', name, '--listener', listener['id'],
                   '--protocol', 'HTTP', '--lb-algorithm', 'ROUND_ROBIN', '--wait')
        ids['pool'] = pool['id']
        for n in (1, 2):
            member = osc('loadbalancer', 'member', 'create', '--name', 'member-%d' % n,
                         '--subnet-id', subnet['id'], '--address', '10.250.0.2%d' % n,
                         '--protocol-port', '8080', '--wait', pool['id'])
            ids['member%d' % n] = member['id']
        hm = osc('loadbalancer', 'healthmonitor', 'create', '--name', name, '--type', 'HTTP',
                 '--delay', '2', '--timeout', '1', '--max-retries', '1',
                 '--max-retries-down', '1', '--url-path', '/', '--wait', pool['id'])
        ids['hm'] = hm['id']
        TIMINGS['full tree (lb, listener, pool, 2 members, hm) -> ACTIVE'] = time.monotonic() - t0
        yield ids
    finally:
        remove_loadbalancer(ids, name)
        print_timings()


def status_tree(lb_id):
    out = osc('loadbalancer', 'status', 'show', lb_id, fmt=False)
    return out['loadbalancer']


def member_statuses(lb_id):
    tree = status_tree(lb_id)
    return {m['name']: m['operating_status']
            for li in tree.get('listeners', []) for p in li.get('pools', [])
            for m in p.get('members', [])}


def get(vip):
    out = in_ns('pharos-client', 'curl', '-s', '-m', '3', 'http://%s/' % vip)
    return out.stdout.strip() if out.returncode == 0 else None


def test_requests_are_balanced(lb):
    got = [get(lb['vip']) for _ in range(10)]
    print('responses:', got)
    assert set(got) == {'member-1', 'member-2'}


def test_status_show(lb):
    wait_until(lambda: set(member_statuses(lb['lb']).values()) == {'ONLINE'}, 60,
               'members ONLINE', interval=2)
    tree = status_tree(lb['lb'])
    print(json.dumps(tree, indent=1))
    assert tree['provisioning_status'] == 'ACTIVE'
    assert tree['operating_status'] == 'ONLINE'
    listener = tree['listeners'][0]
    assert listener['provisioning_status'] == 'ACTIVE' and listener['operating_status'] == 'ONLINE'
    pool = listener['pools'][0]
    assert pool['provisioning_status'] == 'ACTIVE' and pool['operating_status'] == 'ONLINE'
    assert pool['health_monitor']['provisioning_status'] == 'ACTIVE'


def test_stats_grow_with_traffic(lb):
    before = osc('loadbalancer', 'stats', 'show', lb['lb'])
    for _ in range(20):
        assert get(lb['vip'])
    after = wait_until(lambda: (lambda s: s if s['total_connections'] >= before['total_connections'] + 20
                                else None)(osc('loadbalancer', 'stats', 'show', lb['lb'])),
                       60, 'statistics to grow', interval=2)
    print('stats before:', before, '\nstats after:', after)
    assert after['bytes_in'] > before['bytes_in'] and after['bytes_out'] > before['bytes_out']


def refused(*args):
    cmd = [LOCALCLOUD, 'openstack'] + list(args)
    print('$ openstack ' + ' '.join(args))
    proc = run(*cmd, timeout=120, check=False)
    print(proc.stdout + proc.stderr)
    assert proc.returncode != 0
    return proc.stderr


def test_unsupported_option_refused_at_api_time(lb):
    # The PROXY protocol towards members is not offered: refused on create.
    t = time.monotonic()
    err = refused('loadbalancer', 'pool', 'create', '--loadbalancer', lb['lb'],
                  '--protocol', 'PROXY', '--lb-algorithm', 'ROUND_ROBIN')
    TIMINGS['unsupported option refused (pool create)'] = time.monotonic() - t
    assert 'protocol' in err and 'not supported' in err
    assert osc('loadbalancer', 'show', lb['lb'])['provisioning_status'] == 'ACTIVE'
    pools = osc('loadbalancer', 'pool', 'list', '--loadbalancer', lb['lb'])
    assert [p['id'] for p in pools] == [lb['pool']]


def fetch(vip, cookie=None):
    """(response head, body) of one GET from pharos-client."""
    args = ['curl', '-s', '-m', '3', '-D', '-'] + (['-b', cookie] if cookie else [])
    out = in_ns('pharos-client', *args, 'http://%s/' % vip)
    assert out.returncode == 0, out.stderr
    head, _, body = out.stdout.partition('\n\n')   # text mode: CRLF read as LF
    return head, body.strip()


def test_session_persistence_keeps_a_client_on_its_member(lb):
    t = time.monotonic()
    osc('loadbalancer', 'pool', 'set', '--session-persistence', 'type=HTTP_COOKIE', '--wait',
        lb['pool'], fmt=False)
    TIMINGS['pool set --session-persistence HTTP_COOKIE -> ACTIVE'] = time.monotonic() - t
    assert 'HTTP_COOKIE' in str(osc('loadbalancer', 'pool', 'show', lb['pool'])['session_persistence'])
    head, body = fetch(lb['vip'])
    found = re.search(r'^set-cookie: (SRV=([^;\n]+))', head, re.I | re.M)
    assert found, head
    cookie, member_id = found.group(1), found.group(2)
    names = {lb['member1']: 'member-1', lb['member2']: 'member-2'}
    assert names[member_id] == body     # the cookie names the member that answered
    assert [fetch(lb['vip'], cookie)[1] for _ in range(6)] == [body] * 6
    other = lb['member2'] if member_id == lb['member1'] else lb['member1']
    assert [fetch(lb['vip'], 'SRV=' + other)[1] for _ in range(3)] == [names[other]] * 3
    # Unset: no cookie, balanced again.
    osc('loadbalancer', 'pool', 'unset', '--session-persistence', '--wait', lb['pool'], fmt=False)
    head, _ = fetch(lb['vip'])
    assert 'set-cookie' not in head.lower()
    assert {fetch(lb['vip'], cookie)[1] for _ in range(6)} == {'member-1', 'member-2'}


def test_updates_apply_without_dropping_connections(lb):
    """A request in flight (30 s) while the listener's timeouts and a member's
    weight change finishes normally; the new weight steers the next ones."""
    slow = subprocess.Popen(
        ['ip', 'netns', 'exec', 'pharos-client', 'curl', '-s', '-m', '60', '-o', '/dev/null',
         '-w', '%{http_code}', 'http://%s/delay/30000' % lb['vip']],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)   # the request is with a member now
        t = time.monotonic()
        osc('loadbalancer', 'listener', 'set', '--timeout-client-data', '40000',
            '--timeout-member-data', '40000', '--wait', lb['listener'], fmt=False)
        osc('loadbalancer', 'member', 'set', '--weight', '0', '--wait', lb['pool'], lb['member1'],
            fmt=False)
        TIMINGS['listener set + member set --weight 0 (both --wait)'] = time.monotonic() - t
        assert slow.poll() is None, 'the slow request ended before the updates were applied'
        out, err = slow.communicate(timeout=60)
    finally:
        if slow.poll() is None:
            slow.kill()
            slow.wait(5)
    assert out == '200', (out, err)
    listener = osc('loadbalancer', 'listener', 'show', lb['listener'])
    assert listener['timeout_client_data'] == 40000 and listener['provisioning_status'] == 'ACTIVE'
    assert [get(lb['vip']) for _ in range(6)] == ['member-2'] * 6   # weight 0: no new requests
    osc('loadbalancer', 'member', 'set', '--weight', '1', '--wait', lb['pool'], lb['member1'],
        fmt=False)
    assert {get(lb['vip']) for _ in range(6)} == {'member-1', 'member-2'}


def test_loadbalancer_and_monitor_updates(lb):
    osc('loadbalancer', 'set', '--description', 'updated by the e2e test', '--wait', lb['lb'],
        fmt=False)
    osc('loadbalancer', 'healthmonitor', 'set', '--delay', '3', '--wait', lb['hm'], fmt=False)
    shown = osc('loadbalancer', 'show', lb['lb'])
    assert (shown['description'], shown['provisioning_status']) == ('updated by the e2e test', 'ACTIVE')
    hm = osc('loadbalancer', 'healthmonitor', 'show', lb['hm'])
    assert (hm['delay'], hm['provisioning_status']) == (3, 'ACTIVE')
    assert {get(lb['vip']) for _ in range(6)} == {'member-1', 'member-2'}


def _agent_has_member_health(lb_id):
    from pharos import store as pharos_store
    from pharos.controller import agent_client, certificates
    store = pharos_store.Store('sqlite:///' + os.path.join(STATE, 'pharos', 'pharos.sqlite'))
    try:
        amp = store.amphora_of(lb_id)
    finally:
        store.dispose()
    ca = certificates.CertificateAuthority(os.path.join(STATE, 'pharos', 'ca'))
    client = agent_client.AgentClient(amp.id, amp.management_address, amp.agent_port,
                                      ca.ca_file, ca.client_cert)
    try:
        members = client.status().get('members') or {}
    finally:
        client.close()
    return any('health' in v for v in members.values())


def test_member_down_and_back(lb, lbnet):
    if not _agent_has_member_health(lb['lb']):
        pytest.skip('this pharos-agent build runs no member health checks '
                    '(set PHAROS_AGENT_BINARY to one that does)')
    lbnet['stop'](1)
    t = time.monotonic()
    wait_until(lambda: member_statuses(lb['lb']).get('member-1') == 'ERROR', 60,
               'member-1 ERROR', interval=1)
    TIMINGS['member server stopped -> ERROR in status show'] = time.monotonic() - t
    tree = status_tree(lb['lb'])
    assert tree['listeners'][0]['pools'][0]['operating_status'] == 'DEGRADED'
    assert {get(lb['vip']) for _ in range(6)} == {'member-2'}
    lbnet['start'](1)
    t = time.monotonic()
    wait_until(lambda: member_statuses(lb['lb']).get('member-1') == 'ONLINE', 60,
               'member-1 ONLINE', interval=1)
    TIMINGS['member server restarted -> ONLINE in status show'] = time.monotonic() - t


def test_cascade_delete_leaves_nothing(lb):
    t = time.monotonic()
    osc('loadbalancer', 'delete', '--cascade', '--wait', lb['lb'], fmt=False)
    TIMINGS['loadbalancer delete --cascade -> DELETED'] = time.monotonic() - t
    lb['deleted'] = True
    assert_nothing_left(lb['lb'])
    assert in_ns('pharos-client', 'curl', '-s', '-m', '2',
                 'http://%s/' % lb['vip']).returncode != 0
