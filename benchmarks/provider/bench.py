#!/usr/bin/python3
"""Provider latency benchmark: Octavia API -> pharos controller -> ACTIVE.

Called by benchmarks/provider/run.sh (which brings up the cloud and the
namespaces). Talks to Octavia's v2 REST API directly through one
keystoneauth1 session obtained from openstacksdk (openstack.connect with the
local cloud's clouds.yaml): one keystone token for the whole run, no CLI
start-up per call or poll.

Measures, per run:
  1. POST /v2/lbaas/loadbalancers -> provisioning_status ACTIVE
  2. listener, pool, 10 members, HTTP health monitor, one after the other,
     each -> LB back to ACTIVE (Octavia refuses calls while PENDING_UPDATE)
  4. the same tree in one call (Octavia's graph create: the load balancer
     with its listener, pool, members and monitor in one POST) -> ACTIVE
and once, on the last run's pool:
  3. PUT /v2/lbaas/pools/{id}/members with N (1000) members -> ACTIVE

"to ACTIVE" = from the API call returning to the first poll that sees
ACTIVE (polls every --poll seconds); "call" = the API call itself.
"""
import argparse
import datetime
import ipaddress
import json
import os
import re
import statistics
import sys
import time
import uuid

import openstack

LOG_LINE = re.compile(r'^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) \d+ INFO '
                      r'pharos\.controller\.reconciler \[[^]]*\] pharos: load '
                      r'balancer (\S+) at version (\d+) on amphora')


class Octavia:
    def __init__(self, cloud, poll):
        self.conn = openstack.connect(cloud=cloud)
        self.sess = self.conn.session
        self.url = self.conn.endpoint_for('load-balancer').rstrip('/')
        if not self.url.endswith('/v2') and not self.url.endswith('/v2.0'):
            self.url += '/v2'
        self.poll = poll
        self.sess.get_token()   # token fetched before any timing

    def _req(self, method, path, **kw):
        resp = self.sess.request(self.url + path, method, raise_exc=False,
                                 **kw)
        if resp.status_code >= 400:
            raise RuntimeError('%s %s -> %d %s' % (method, path,
                                                   resp.status_code,
                                                   resp.text[:500]))
        return resp.json() if resp.content else None

    def get(self, path):
        return self._req('GET', path)

    def post(self, path, body):
        return self._req('POST', path, json=body)

    def put(self, path, body):
        return self._req('PUT', path, json=body)

    def delete(self, path):
        return self._req('DELETE', path)

    def lb_status(self, lb_id):
        return self.get('/lbaas/loadbalancers/' + lb_id)['loadbalancer'][
            'provisioning_status']

    def wait_active(self, lb_id, timeout=120):
        """Poll until ACTIVE; returns (seconds, polls)."""
        t0 = time.monotonic()
        polls = 0
        while True:
            polls += 1
            st = self.lb_status(lb_id)
            if st == 'ACTIVE':
                return time.monotonic() - t0, polls
            if st == 'ERROR':
                raise RuntimeError('load balancer %s went ERROR' % lb_id)
            if time.monotonic() - t0 > timeout:
                raise RuntimeError('load balancer %s still %s after %ss' %
                                   (lb_id, st, timeout))
            time.sleep(self.poll)

    def wait_gone(self, lb_id, timeout=120):
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            resp = self.sess.get(self.url + '/lbaas/loadbalancers/' + lb_id,
                                 raise_exc=False)
            if resp.status_code == 404 or (
                    resp.ok and resp.json()['loadbalancer'][
                        'provisioning_status'] == 'DELETED'):
                return time.monotonic() - t0
            time.sleep(self.poll)
        raise RuntimeError('load balancer %s not deleted after %ss' %
                           (lb_id, timeout))


def timed(fn, *args):
    t0 = time.monotonic()
    out = fn(*args)
    return out, time.monotonic() - t0


def step(os_, name, fn, *args, lb_id=None):
    """One API call then wait for ACTIVE; returns (result, record)."""
    wall0 = time.time()
    out, call = timed(fn, *args)
    lb_id = lb_id or out['loadbalancer']['id']
    active, polls = os_.wait_active(lb_id)
    rec = {'what': name, 'call': call, 'active': active, 'total': call + active,
           'polls': polls, 'start_wall': wall0}
    print('  %-28s call %6.3fs  -> ACTIVE %6.3fs  (%d polls)' % (
        name, call, active, polls), flush=True)
    return out, rec


def one_run(os_, subnet_id, name, members):
    recs = []
    out, rec = step(os_, 'loadbalancer', os_.post, '/lbaas/loadbalancers',
                    {'loadbalancer': {'name': name, 'vip_subnet_id': subnet_id,
                                      'provider': 'pharos'}})
    lb_id = out['loadbalancer']['id']
    recs.append(rec)
    try:
        out, rec = step(os_, 'listener', os_.post, '/lbaas/listeners',
                        {'listener': {'name': name, 'loadbalancer_id': lb_id,
                                      'protocol': 'HTTP',
                                      'protocol_port': 80}}, lb_id=lb_id)
        recs.append(rec)
        listener_id = out['listener']['id']
        out, rec = step(os_, 'pool', os_.post, '/lbaas/pools',
                        {'pool': {'name': name, 'listener_id': listener_id,
                                  'protocol': 'HTTP',
                                  'lb_algorithm': 'ROUND_ROBIN'}}, lb_id=lb_id)
        recs.append(rec)
        pool_id = out['pool']['id']
        for i, addr in enumerate(members):
            _, rec = step(os_, 'member %d' % (i + 1), os_.post,
                          '/lbaas/pools/%s/members' % pool_id,
                          {'member': {'name': 'm%d' % (i + 1),
                                      'address': addr, 'protocol_port': 8080,
                                      'subnet_id': subnet_id}}, lb_id=lb_id)
            recs.append(rec)
        _, rec = step(os_, 'healthmonitor', os_.post, '/lbaas/healthmonitors',
                      {'healthmonitor': {'name': name, 'pool_id': pool_id,
                                         'type': 'HTTP', 'delay': 5,
                                         'timeout': 2, 'max_retries': 1,
                                         'max_retries_down': 1,
                                         'url_path': '/'}}, lb_id=lb_id)
        recs.append(rec)
        # every object of the tree ACTIVE
        status = os_.get('/lbaas/loadbalancers/%s/status' % lb_id)
        bad = []

        def walk(node, kind):
            if isinstance(node, dict):
                if node.get('provisioning_status') not in (None, 'ACTIVE'):
                    bad.append((kind, node.get('id'),
                                node['provisioning_status']))
                for k, v in node.items():
                    walk(v, k)
            elif isinstance(node, list):
                for v in node:
                    walk(v, kind)
        walk(status, 'statuses')
        if bad:
            raise RuntimeError('objects not ACTIVE: %s' % bad)
    except Exception:
        cleanup_lb(os_, lb_id)
        raise
    return lb_id, pool_id, recs


def graph_run(os_, subnet_id, name, members):
    """The whole tree in one POST; returns (lb id, record)."""
    pool = {'name': name, 'protocol': 'HTTP', 'lb_algorithm': 'ROUND_ROBIN',
            'members': [{'name': 'm%d' % (i + 1), 'address': addr,
                         'protocol_port': 8080, 'subnet_id': subnet_id}
                        for i, addr in enumerate(members)],
            'healthmonitor': {'type': 'HTTP', 'delay': 5, 'timeout': 2,
                              'max_retries': 1, 'max_retries_down': 1,
                              'url_path': '/'}}
    out, rec = step(os_, 'graph', os_.post, '/lbaas/loadbalancers',
                    {'loadbalancer': {
                        'name': name + '-graph', 'vip_subnet_id': subnet_id,
                        'provider': 'pharos',
                        'listeners': [{'name': name, 'protocol': 'HTTP',
                                       'protocol_port': 80,
                                       'default_pool': pool}]}})
    return out['loadbalancer']['id'], rec


def cleanup_lb(os_, lb_id):
    try:
        os_.wait_active(lb_id, timeout=60)
    except Exception as e:  # noqa: try the delete anyway
        print('  (cleanup: %s)' % e)
    t0 = time.monotonic()
    os_.delete('/lbaas/loadbalancers/%s?cascade=true' % lb_id)
    gone = os_.wait_gone(lb_id)
    return time.monotonic() - t0, gone


def controller_applies(log, since_wall):
    """(wall time, lb id, version) of the controller's 'at version' lines."""
    out = []
    try:
        with open(log, errors='replace') as f:
            for line in f:
                m = LOG_LINE.match(line)
                if not m:
                    continue
                t = datetime.datetime.strptime(
                    m.group(1), '%Y-%m-%d %H:%M:%S.%f').timestamp()
                if t >= since_wall - 1:
                    out.append((t, m.group(2), int(m.group(3))))
    except OSError:
        pass
    return out


def med(xs):
    return statistics.median(xs) if xs else float('nan')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--cloud', default='pharos-local')
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--members', type=int, default=10)
    ap.add_argument('--batch', type=int, default=1000)
    ap.add_argument('--poll', type=float, default=0.05)
    ap.add_argument('--log', default='')
    ap.add_argument('--json', default='')
    ap.add_argument('--warmup', type=int, default=1,
                    help='LB create+delete rounds before measuring (not '
                    'counted: first calls after a cloud start are slower)')
    ap.add_argument('--budget', type=float, default=900,
                    help='no new run starts after this many seconds')
    a = ap.parse_args()
    t_start = time.monotonic()
    wall_start = time.time()

    os_ = Octavia(a.cloud, a.poll)
    client = ('openstacksdk %s Connection -> its keystoneauth1 session (one '
              'keystone token), raw Octavia v2 REST at %s, LB polled every '
              '%.0f ms' % (openstack.version.__version__, os_.url,
                           a.poll * 1000))
    print('client: ' + client, flush=True)
    net = os_.conn.network
    name = 'pharos-bench-%s' % uuid.uuid4().hex[:6]
    network = net.create_network(name=name)
    subnet = None
    lbs = []
    res = {'runs': [], 'batch': None, 'errors': []}
    try:
        subnet = net.create_subnet(
            network_id=network.id, name=name, ip_version=4,
            cidr='10.250.0.0/16', gateway_ip=None,
            allocation_pools=[{'start': '10.250.0.100',
                               'end': '10.250.0.200'}])
        # members: 10.250.1.x for the tree, 10.250.2.0 onwards for the batch
        tree_members = ['10.250.1.%d' % (i + 1) for i in range(a.members)]
        base = int(ipaddress.ip_address('10.250.2.1'))
        batch_members = [str(ipaddress.ip_address(base + i))
                         for i in range(a.batch)]
        for w in range(a.warmup):
            print('warm-up %d (not counted)' % (w + 1), flush=True)
            out = os_.post('/lbaas/loadbalancers', {'loadbalancer': {
                'name': name + '-warmup', 'vip_subnet_id': subnet.id,
                'provider': 'pharos'}})
            wid = out['loadbalancer']['id']
            lbs.append(wid)
            cleanup_lb(os_, wid)
            lbs.remove(wid)
        for r in range(a.runs):
            if r and time.monotonic() - t_start > a.budget:
                print('budget reached: %d runs done' % r)
                break
            print('run %d' % (r + 1), flush=True)
            try:
                lb_id, pool_id, recs = one_run(os_, subnet.id,
                                               '%s-%d' % (name, r),
                                               tree_members)
            except Exception as e:  # noqa: report and go on
                print('  run failed: %s' % e, flush=True)
                res['errors'].append('run %d: %s' % (r + 1, e))
                continue
            lbs.append(lb_id)
            res['runs'].append({'lb': lb_id, 'steps': recs})
            try:
                graph_id, rec = graph_run(os_, subnet.id, '%s-%d' % (name, r),
                                          tree_members)
                lbs.append(graph_id)
                res.setdefault('graph', []).append(rec)
                cleanup_lb(os_, graph_id)
                lbs.remove(graph_id)
            except Exception as e:  # noqa: report and go on
                print('  graph create failed: %s' % e, flush=True)
                res['errors'].append('graph %d: %s' % (r + 1, e))
            last_is = (r == a.runs - 1 or
                       time.monotonic() - t_start > a.budget)
            if a.batch and last_is:
                print('batch update: %d members' % a.batch, flush=True)
                body = {'members': [
                    {'address': addr, 'protocol_port': 8080,
                     'subnet_id': subnet.id, 'name': 'b%d' % i}
                    for i, addr in enumerate(batch_members)]}
                try:
                    _, rec = step(os_, 'member batch %d' % a.batch, os_.put,
                                  '/lbaas/pools/%s/members' % pool_id, body,
                                  lb_id=lb_id)
                    t_list = time.monotonic()
                    got = os_.get('/lbaas/pools/%s/members?limit=5000' %
                                  pool_id)['members']
                    rec['list_members'] = time.monotonic() - t_list
                    rec['members_after'] = len(got)
                    rec['not_active'] = sum(
                        1 for m in got if m['provisioning_status'] != 'ACTIVE')
                    print('  members now %d, not ACTIVE %d (GET of the '
                          'member list took %.1fs)' % (
                              len(got), rec['not_active'],
                              rec['list_members']), flush=True)
                    res['batch'] = rec
                except Exception as e:  # noqa
                    print('  batch failed: %s' % e, flush=True)
                    res['errors'].append('batch: %s' % e)
            t0 = time.monotonic()
            try:
                _, gone = cleanup_lb(os_, lb_id)
                lbs.remove(lb_id)
                res['runs'][-1]['delete'] = time.monotonic() - t0
                print('  delete --cascade -> gone %6.3fs' %
                      res['runs'][-1]['delete'], flush=True)
            except Exception as e:  # noqa
                res['errors'].append('delete %s: %s' % (lb_id, e))
    finally:
        for lb_id in lbs:
            try:
                cleanup_lb(os_, lb_id)
            except Exception as e:  # noqa
                print('cleanup of %s failed: %s' % (lb_id, e))
        try:
            if subnet is not None:
                net.delete_subnet(subnet.id)
            net.delete_network(network.id)
        except Exception as e:  # noqa
            print('network cleanup failed: %s' % e)

    # controller apply times from its log ("load balancer X at version N",
    # written right after it reported ACTIVE): every step is one driver call,
    # i.e. one new desired version, so the k-th distinct version logged for a
    # load balancer belongs to its k-th step (the batch update is the last).
    applies = controller_applies(a.log, wall_start) if a.log else []
    for i, run in enumerate(res['runs']):
        seen = {}
        for t, lb, v in applies:
            if lb == run['lb']:
                seen.setdefault(v, t)
        steps = list(run['steps'])
        if res['batch'] and i == len(res['runs']) - 1:
            steps.append(res['batch'])
        for rec, v in zip(steps, sorted(seen)):
            rec['version'] = v
            # from the API call returning to the controller's log line
            rec['ctl'] = seen[v] - (rec['start_wall'] + rec['call'])

    summary = summarize(res)
    res['summary'] = summary
    res['batch_size'] = a.batch
    res['members'] = a.members
    res['client'] = client
    res['poll'] = a.poll
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(res, f, indent=1)
    return 0 if res['runs'] and not res['errors'] else 1


def summarize(res):
    runs = res['runs']
    s = {'n': len(runs)}
    if not runs:
        return s
    kinds = [rec['what'] for rec in runs[0]['steps']]
    per = {}
    for k in kinds:
        recs = [rec for run in runs for rec in run['steps'] if rec['what'] == k]
        per[k] = {'call': med([r['call'] for r in recs]),
                  'active': med([r['active'] for r in recs]),
                  'total': med([r['total'] for r in recs]),
                  'ctl': med([r['ctl'] for r in recs if 'ctl' in r])}
    s['per'] = per
    s['lb_active'] = [run['steps'][0]['active'] for run in runs]
    s['lb_total'] = [run['steps'][0]['total'] for run in runs]
    s['tree_total'] = [sum(r['total'] for r in run['steps'][1:])
                       for run in runs]
    s['tree_active_sum'] = [sum(r['active'] for r in run['steps'][1:])
                            for run in runs]
    s['tree_call_sum'] = [sum(r['call'] for r in run['steps'][1:])
                          for run in runs]
    s['delete'] = [run['delete'] for run in runs if 'delete' in run]
    return s


def fmt(x):
    return '-' if x is None or x != x else '%.2f' % x


def rng(xs):
    return '' if len(xs) < 2 else ' [%.2f-%.2f]' % (min(xs), max(xs))


def table(res):
    """The results table (plain text, markdown-compatible)."""
    s = res['summary']
    n = s['n']
    lines = ['| measurement | goal | API call | call -> ACTIVE | total '
             '| controller | runs |',
             '| --- | --- | ---: | ---: | ---: | ---: | ---: |']
    if not n:
        return '\n'.join(lines + ['| no successful run | | | | | | 0 |'])
    per = s['per']
    runs = res['runs']

    def row(name, goal, call, active, total, ctl, runs_, extra=''):
        lines.append('| %s | %s | %s | %s | %s%s | %s | %s |' % (
            name, goal, fmt(call), fmt(active), fmt(total), extra, fmt(ctl),
            runs_))
    lb = per['loadbalancer']
    row('1. LB create -> ACTIVE', '<= 1 s', lb['call'], lb['active'],
        lb['total'], lb['ctl'], n, rng(s['lb_total']))
    ctl_tree = [sum(r.get('ctl', 0) for r in run['steps'][1:]) for run in runs]
    row('2. tree: listener+pool+%d members+HM (sum)' % res['members'],
        '<= 2 s', med(s['tree_call_sum']), med(s['tree_active_sum']),
        med(s['tree_total']), med(ctl_tree), n, rng(s['tree_total']))
    lb_tree = [a + b for a, b in zip(s['lb_total'], s['tree_total'])]
    row('   LB + tree, end to end', '', None, None, med(lb_tree), None, n,
        rng(lb_tree))
    for k in ('listener', 'pool'):
        p = per[k]
        row('   %s' % k, '', p['call'], p['active'], p['total'], p['ctl'], n)
    mem = [r for run in runs for r in run['steps'] if
           r['what'].startswith('member ')]
    if mem:
        row('   member (one of %d, median)' % res['members'], '',
            med([r['call'] for r in mem]), med([r['active'] for r in mem]),
            med([r['total'] for r in mem]),
            med([r['ctl'] for r in mem if 'ctl' in r]), len(mem),
            rng([r['total'] for r in mem]))
    p = per.get('healthmonitor')
    if p:
        row('   healthmonitor', '', p['call'], p['active'], p['total'],
            p['ctl'], n)
    graph = res.get('graph') or []
    if graph:
        row('4. the same tree in one call (graph create)', '<= 2 s',
            med([g['call'] for g in graph]), med([g['active'] for g in graph]),
            med([g['total'] for g in graph]), None, len(graph),
            rng([g['total'] for g in graph]))
    b = res.get('batch')
    if b:
        row('3. member batch update %d -> ACTIVE' % res['batch_size'],
            '(<= 2 s)', b['call'], b['active'], b['total'], b.get('ctl'), 1)
    else:
        lines.append('| 3. member batch update | | failed/skipped | | | | 0 |')
    plain = [run['delete'] for run in runs if 'delete' in run and
             not (b and run is runs[-1])]
    if plain:
        lines.append('| (LB delete --cascade -> gone, %d members) | | | | '
                     '%s%s | | %d |' % (res['members'], fmt(med(plain)),
                                        rng(plain), len(plain)))
    if b and 'delete' in runs[-1]:
        lines.append('| (LB delete --cascade -> gone, %d members) | | | | '
                     '%s | | 1 |' % (b.get('members_after', 0),
                                      fmt(runs[-1]['delete'])))
    return '\n'.join(lines)


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == '--table':
        print(table(json.load(open(sys.argv[2]))))
        sys.exit(0)
    sys.exit(main())
