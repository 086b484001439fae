"""End-to-end check of devstack/localcloud.sh with the real openstack CLI.

Run as root:  /usr/bin/python3 -m pytest -v tests/localcloud
Starts the localcloud if it is not up (and stops it again afterwards in that
case), creates a network, a subnet and a load balancer, checks that the load
balancer is ACTIVE with a VIP that is a real Neutron port, deletes it all.
Every command is bounded in time; the whole module in ~PHAROS_LC_TEST_BUDGET s.
Skipped when not root or when the packages are missing
(devstack/install-packages.sh).
"""
import json
import os
import shutil
import subprocess
import time
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOCALCLOUD = os.path.join(REPO, 'devstack', 'localcloud.sh')
BUDGET = float(os.environ.get('PHAROS_LC_TEST_BUDGET', '600'))
T0 = None  # when this module's first test starts (not when pytest collected it)

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason='localcloud needs root'),
    pytest.mark.skipif(shutil.which('openstack') is None or
                       shutil.which('mariadbd') is None or
                       shutil.which('octavia-api') is None,
                       reason='run devstack/install-packages.sh first'),
]


@pytest.fixture(scope='module', autouse=True)
def budget_clock():
    global T0
    T0 = time.monotonic()
    yield


def _left():
    left = BUDGET - (time.monotonic() - T0)
    if left <= 0:
        pytest.fail('localcloud test budget of %.0fs exhausted' % BUDGET)
    return left


def run(*args, timeout=120):
    proc = subprocess.run(list(args), capture_output=True, text=True,
                          timeout=min(timeout, _left()))
    if proc.returncode != 0:
        raise AssertionError('%s failed (%d):\n%s\n%s' % (
            ' '.join(args), proc.returncode, proc.stdout, proc.stderr))
    return proc.stdout


def osc(*args, timeout=120):
    out = run(LOCALCLOUD, 'openstack', *args, '-f', 'json', timeout=timeout)
    return json.loads(out) if out.strip() else None


@pytest.fixture(scope='module')
def cloud():
    up = subprocess.run([LOCALCLOUD, 'status'], capture_output=True,
                        timeout=30).returncode == 0
    started = False
    if not up:
        t = time.monotonic()
        try:
            run(LOCALCLOUD, 'start', timeout=400)
        except BaseException:
            # A start that failed or ran out of time may have started some services: end them.
            subprocess.run([LOCALCLOUD, 'stop'], timeout=120)
            raise
        print('localcloud start took %.1fs' % (time.monotonic() - t))
        started = True
    yield
    if started:
        subprocess.run([LOCALCLOUD, 'stop'], timeout=120)


@pytest.fixture(scope='module')
def subnet(cloud):
    name = 'pharos-test-%s' % uuid.uuid4().hex[:8]
    net = osc('network', 'create', name)
    try:
        sub = osc('subnet', 'create', '--network', net['id'],
                  '--subnet-range', '10.250.0.0/24',
                  '--allocation-pool', 'start=10.250.0.100,end=10.250.0.200',
                  '--gateway', 'none', name)
        yield sub
    finally:
        run(LOCALCLOUD, 'openstack', 'network', 'delete', net['id'])


def test_status_lists_every_service(cloud):
    out = run(LOCALCLOUD, 'status')
    for svc in ('mariadb', 'keystone', 'neutron', 'octavia-api',
                'octavia-driver-agent'):
        assert any(line.split()[:2] == [svc, 'up']
                   for line in out.splitlines()), out


def test_providers_enabled(cloud):
    names = {p.get('name', p.get('Name')) for p in
             osc('loadbalancer', 'provider', 'list')}
    assert {'localcloud_noop', 'noop_driver'} <= names


def test_loadbalancer_active_with_real_vip_port(subnet):
    name = 'pharos-test-lb-%s' % uuid.uuid4().hex[:8]
    t = time.monotonic()
    lb = osc('loadbalancer', 'create', '--name', name,
             '--vip-subnet-id', subnet['id'], '--provider', 'localcloud_noop',
             '--wait', timeout=180)
    took = time.monotonic() - t
    print('loadbalancer create --wait took %.1fs' % took)
    try:
        assert lb['provisioning_status'] == 'ACTIVE'
        assert lb['operating_status'] == 'ONLINE'
        assert lb['vip_address'].startswith('10.250.0.')
        port = osc('port', 'show', lb['vip_port_id'])
        assert port['device_owner'] == 'Octavia'
        assert port['status'] == 'DOWN'
        ips = [ip['ip_address'] for ip in port['fixed_ips']]
        assert lb['vip_address'] in ips
    finally:
        run(LOCALCLOUD, 'openstack', 'loadbalancer', 'delete', '--wait',
            lb['id'], timeout=180)
    # the driver agent frees the VIP port once the provider reports DELETED
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ports = osc('port', 'list', '--device-id', 'lb-%s' % lb['id'])
        if not ports and not osc('port', 'list', '--network',
                                 subnet['network_id']):
            break
        time.sleep(1)
    assert not osc('port', 'list', '--network', subnet['network_id'])
