"""Kill-safety: a controller process SIGKILLed in the middle of creating an
amphora; a new one resumes from the store and converges to exactly one
amphora serving the tree. Root only."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from pharos import config as pharos_config
from pharos import driver as pharos_driver
from pharos import store as pharos_store
from pharos.compute import local

import netns_fixture
from test_controller import free_udp_port, served_names
from test_driver import make_lb, make_listener, make_member, make_pool

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason='needs root (network namespaces)'),
    pytest.mark.skipif(not os.path.exists(pharos_config._default_binary('pharos-agent')) or
                       not os.path.exists(netns_fixture.DEMO_BACKEND),
                       reason='build pharos-agent, pharos-engine, pharos-demo-backend first'),
]

HERE = os.path.dirname(os.path.abspath(__file__))


def amp_namespaces():
    out = subprocess.run(['ip', 'netns', 'list'], capture_output=True, text=True).stdout
    return sorted(line.split()[0] for line in out.splitlines()
                  if line.startswith('pharos-amp-'))


def start_controller(state, bridge, port, status_file):
    return subprocess.Popen([sys.executable, os.path.join(HERE, 'controller_proc.py'),
                             state, bridge, str(port), status_file],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_killed_controller_resumes(net, tmp_path):
    import tempfile
    import shutil
    state = tempfile.mkdtemp(prefix='phk-', dir='/tmp')
    status_file = str(tmp_path / 'status.jsonl')
    store = pharos_store.Store('sqlite:///' + os.path.join(state, 'pharos.sqlite'))
    drv = pharos_driver.PharosProviderDriver(store=store)
    before = set(amp_namespaces())
    procs = []
    try:
        lb = make_lb(vip_address=net.prefix + '.100')
        drv.loadbalancer_create(lb)
        listener = make_listener(lb)
        drv.listener_create(listener)
        pool = make_pool(lb, listener)
        drv.pool_create(pool)
        drv.member_create(make_member(pool, 1, address=net.add_member(1)))
        port = free_udp_port()
        # first controller: killed as soon as the amphora namespace appears
        procs.append(start_controller(state, net.bridge_ns, port, status_file))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and set(amp_namespaces()) == before:
            time.sleep(0.005)
        assert set(amp_namespaces()) != before, 'the controller never created an amphora'
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(10)
        first = store.amphora_of(lb.loadbalancer_id)
        assert first is not None            # the intent was recorded first
        print('killed with amphora handle recorded:', bool(first.compute_id.get('management_address')))
        assert store.get_loadbalancer(lb.loadbalancer_id).applied_version == 0
        # second controller: resumes
        procs.append(start_controller(state, net.bridge_ns, port, status_file))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            r = store.get_loadbalancer(lb.loadbalancer_id)
            if r.applied_version == r.desired_version:
                break
            time.sleep(0.1)
        r = store.get_loadbalancer(lb.loadbalancer_id)
        assert r.applied_version == r.desired_version, (r.status, r.status_reason)
        live = [a for a in store.list_amphorae() if a.state != 'DELETED']
        assert len(live) == 1
        assert set(amp_namespaces()) - before == {live[0].compute_id['netns']}
        assert served_names({'net': net}, lb.vip_address, 3) == {'member-1'}
        docs = [json.loads(line) for line in open(status_file)]
        assert any(e['id'] == lb.loadbalancer_id and e.get('provisioning_status') == 'ACTIVE'
                   for d in docs for e in d.get('loadbalancers', []))
        # and a delete through the second controller leaves nothing
        drv.loadbalancer_delete(lb, cascade=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and store.get_loadbalancer(lb.loadbalancer_id):
            time.sleep(0.1)
        assert store.get_loadbalancer(lb.loadbalancer_id) is None
        assert set(amp_namespaces()) == before
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        compute = None
        for amp in store.list_amphorae():
            if amp.state != 'DELETED':
                from oslo_config import cfg
                conf = cfg.ConfigOpts()
                pharos_config.register_opts(conf)
                conf([])
                conf.set_override('state_dir', state, 'pharos')
                compute = compute or local.LocalCompute(conf)
                compute.delete(amp.compute_id if amp.compute_id.get('netns')
                               else compute.handle_for(amp.id))
        store.dispose()
        shutil.rmtree(state, ignore_errors=True)
