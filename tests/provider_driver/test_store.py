"""The store against SQLite and against a real MariaDB (own mariadbd)."""
import shutil
import threading
import time
import uuid

import pytest

from pharos import store as pharos_store

import mariadb_server


@pytest.fixture(scope='module')
def mariadb_url():
    if shutil.which('mariadbd') is None or shutil.which('mariadb-install-db') is None:
        pytest.skip('mariadb-server is not installed')
    server = mariadb_server.MariaDB()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(params=['sqlite', 'mariadb'])
def any_store(request, tmp_path):
    if request.param == 'sqlite':
        url = 'sqlite:///%s' % (tmp_path / 's.sqlite')
    else:
        url = request.getfixturevalue('mariadb_url')
    s = pharos_store.Store(url)
    yield s
    if request.param == 'mariadb':
        from pharos.store import models
        models.metadata.drop_all(s.engine)
    s.dispose()


def tree(lb_id, n_members=1):
    return {'loadbalancer': {'loadbalancer_id': lb_id, 'vip_address': '10.0.0.1'},
            'listeners': [{'listener_id': 'l-' + lb_id}],
            'pools': [{'pool_id': 'p-' + lb_id,
                       'members': [{'member_id': 'm%d-%s' % (i, lb_id)}
                                   for i in range(n_members)],
                       'healthmonitor': {'healthmonitor_id': 'h-' + lb_id}}]}


def test_create_get_index(any_store):
    lb = str(uuid.uuid4())
    any_store.create_loadbalancer(lb, 'proj', tree(lb))
    r = any_store.get_loadbalancer(lb)
    assert r.desired_version == 1 and r.applied_version == 0 and not r.deleted
    assert r.tree['version'] == 1
    for obj in ('l-', 'p-', 'm0-', 'h-'):
        assert any_store.loadbalancer_of(obj + lb) == lb


def test_save_tree_is_optimistic(any_store):
    lb = str(uuid.uuid4())
    any_store.create_loadbalancer(lb, 'proj', tree(lb))
    assert any_store.save_tree(lb, tree(lb, 2), 1) == 2
    # a writer that read version 1 loses
    assert any_store.save_tree(lb, tree(lb, 3), 1) is None
    r = any_store.get_loadbalancer(lb)
    assert r.desired_version == 2 and len(r.tree['pools'][0]['members']) == 2
    assert any_store.loadbalancer_of('m1-' + lb) == lb
    assert any_store.save_tree(lb, tree(lb, 1), 2, deleted=True, cascade=True) == 3
    r = any_store.get_loadbalancer(lb)
    assert r.deleted and r.cascade
    assert any_store.loadbalancer_of('m1-' + lb) is None


def test_claim_is_exclusive_between_controllers(any_store):
    lbs = [str(uuid.uuid4()) for _ in range(6)]
    for lb in lbs:
        any_store.create_loadbalancer(lb, 'proj', tree(lb))
    results = {}

    def claim(name):
        results[name] = [r.id for r in any_store.claim(name, lease=60)]
    threads = [threading.Thread(target=claim, args=('c%d' % i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [lb for ids in results.values() for lb in ids]
    assert sorted(claimed) == sorted(lbs)       # each claimed exactly once
    # nothing left for a fourth controller while the leases hold
    assert any_store.claim('c9', lease=60) == []


def test_claim_lease_expires_and_finish(any_store):
    lb = str(uuid.uuid4())
    any_store.create_loadbalancer(lb, 'proj', tree(lb))
    assert [r.id for r in any_store.claim('a', lease=1)] == [lb]
    assert any_store.claim('b', lease=1) == []
    time.sleep(1.2)
    assert [r.id for r in any_store.claim('b', lease=30)] == [lb]
    # a lost claim cannot finish
    assert not any_store.finish(lb, 'a', 1, tree(lb))
    assert any_store.finish(lb, 'b', 1, tree(lb), operating_status='ONLINE')
    r = any_store.get_loadbalancer(lb)
    assert r.applied_version == 1 and r.status == 'ACTIVE'
    assert r.applied_tree['pools'][0]['pool_id'] == 'p-' + lb
    assert any_store.claim('a', lease=30) == []   # nothing to do


def test_fail_backs_off(any_store):
    lb = str(uuid.uuid4())
    any_store.create_loadbalancer(lb, 'proj', tree(lb))
    any_store.claim('a', lease=30)
    any_store.fail(lb, 'a', 'boom', retry_after=30)
    r = any_store.get_loadbalancer(lb)
    assert r.status == 'ERROR' and r.status_reason == 'boom' and r.attempts == 1
    assert any_store.claim('a', lease=30) == []
    # a new change resets the back-off
    any_store.save_tree(lb, tree(lb), 1)
    assert [r.id for r in any_store.claim('a', lease=30)] == [lb]


def test_amphorae_and_heartbeats(any_store):
    lb = str(uuid.uuid4())
    any_store.create_loadbalancer(lb, 'proj', tree(lb))
    amp = any_store.add_amphora('amp-' + lb[:8], lb, 'local',
                                compute_id={'netns': 'x', 'pid': 1},
                                management_address='169.254.64.2',
                                agent_port=9443, cert_ref={'cert': '/x'})
    assert amp.compute_id == {'netns': 'x', 'pid': 1} and amp.state == 'BOOTING'
    assert any_store.amphora_of(lb).id == amp.id
    assert '169.254.64.2' in any_store.used_management_addresses()
    assert any_store.record_heartbeat(amp.id, 5, 100.0, 3)
    assert not any_store.record_heartbeat(amp.id, 5, 101.0, 3)   # replay
    assert not any_store.record_heartbeat(amp.id, 4, 101.0, 3)
    a = any_store.get_amphora(amp.id)
    assert a.last_sequence == 5 and a.last_heartbeat == 100.0 and a.config_version == 3
    any_store.update_amphora(amp.id, state='DELETED')
    assert any_store.amphora_of(lb) is None
    any_store.purge_loadbalancer(lb)
    assert any_store.get_loadbalancer(lb) is None
    assert any_store.get_amphora(amp.id) is None
