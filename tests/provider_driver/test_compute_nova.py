"""The nova compute driver against a tiny fake Nova (HTTP on 127.0.0.1) through
the real openstacksdk: boot with user data, wait ACTIVE, management address,
find by name after an interrupted create, delete."""
import base64
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from oslo_config import cfg

from pharos import config as pharos_config
from pharos.compute import base
from pharos.compute import nova

openstack = pytest.importorskip('openstack')


class FakeNova:
    def __init__(self):
        self.servers = {}
        self.requests = []
        self.polls_until_active = 2
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code, body=None):
                data = json.dumps(body).encode() if body is not None else b''
                self.send_response(code)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _server(self, s):
                return {'id': s['id'], 'name': s['name'], 'status': s['status'],
                        'addresses': s['addresses'], 'metadata': s['metadata'],
                        'links': []}

            def do_GET(self):
                fake.requests.append(('GET', self.path))
                path = self.path.split('?')[0].rstrip('/')
                if path in ('', '/v2.1'):
                    return self._send(200, {'version': {
                        'id': 'v2.1', 'status': 'CURRENT', 'version': '2.79',
                        'min_version': '2.1', 'links': [{'rel': 'self',
                                                         'href': fake.url + '/'}]}})
                if path == '/v2.1/servers/detail' or path == '/v2.1/servers':
                    query = self.path.split('?', 1)[1] if '?' in self.path else ''
                    name = dict(p.split('=', 1) for p in query.split('&') if '=' in p).get('name')
                    found = [self._server(s) for s in fake.servers.values()
                             if name is None or s['name'] == name.strip('^$')]
                    return self._send(200, {'servers': found})
                if path.startswith('/v2.1/servers/'):
                    sid = path.rsplit('/', 1)[1]
                    s = fake.servers.get(sid)
                    if s is None:
                        return self._send(404, {'itemNotFound': {'code': 404, 'message': 'no'}})
                    s['polls'] += 1
                    if s['polls'] >= fake.polls_until_active:
                        s['status'] = 'ACTIVE'
                        s['addresses'] = {'lb-mgmt': [{'addr': '192.0.2.%d' % (10 + len(fake.servers)),
                                                       'version': 4}]}
                    return self._send(200, {'server': self._server(s)})
                return self._send(404, {})

            def do_POST(self):
                length = int(self.headers.get('Content-Length', 0))
                body = json.loads(self.rfile.read(length))
                fake.requests.append(('POST', self.path, body))
                if self.path.rstrip('/') == '/v2.1/servers':
                    req = body['server']
                    sid = str(uuid.uuid4())
                    fake.servers[sid] = {'id': sid, 'name': req['name'], 'status': 'BUILD',
                                         'addresses': {}, 'metadata': req.get('metadata', {}),
                                         'request': req, 'polls': 0}
                    return self._send(202, {'server': {'id': sid, 'links': []}})
                return self._send(404, {})

            def do_DELETE(self):
                fake.requests.append(('DELETE', self.path))
                sid = self.path.rstrip('/').rsplit('/', 1)[1]
                if fake.servers.pop(sid, None) is None:
                    return self._send(404, {'itemNotFound': {'code': 404, 'message': 'no'}})
                return self._send(204)

        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = 'http://127.0.0.1:%d/v2.1' % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake_nova():
    f = FakeNova()
    yield f
    f.stop()


@pytest.fixture
def driver(fake_nova, tmp_path):
    conf = cfg.ConfigOpts()
    pharos_config.register_opts(conf)
    conf([])
    for key, value in (('compute_driver', 'nova'), ('nova_image_id', 'img-1'),
                       ('nova_flavor_id', 'flv-1'), ('nova_network_id', 'net-mgmt'),
                       ('nova_auth_type', 'none'),
                       ('nova_endpoint_override', fake_nova.url),
                       ('amphora_boot_timeout', 10), ('controller_bind', '192.0.2.1')):
        conf.set_override(key, value, 'pharos')
    return nova.NovaCompute(conf)


def bundle(amphora_id):
    return base.AmphoraBundle(
        amphora_id=amphora_id, loadbalancer_id='lb-1', vip_address='10.0.0.5',
        vip_prefixlen=24, cert_pem=b'-----BEGIN CERTIFICATE-----\nAA\n-----END CERTIFICATE-----\n',
        key_pem=b'KEY', ca_pem=b'CA', agent_port=9443, heartbeat_key='k' * 20,
        heartbeat_interval=10, heartbeat_targets=[], vip_port_id='vip-port-1')


def test_create_boots_with_user_data_and_deletes(driver, fake_nova):
    amp = str(uuid.uuid4())
    handle = driver.create(bundle(amp))
    assert handle['management_address'].startswith('192.0.2.')
    assert handle['name'] == 'pharos-amphora-' + amp
    server = fake_nova.servers[handle['server_id']]
    req = server['request']
    assert req['imageRef'] == 'img-1' and req['flavorRef'] == 'flv-1'
    assert {'uuid': 'net-mgmt'} in req['networks']
    assert {'port': 'vip-port-1'} in req['networks']
    assert req['metadata']['pharos_amphora_id'] == amp
    ud = base64.b64decode(req['user_data']).decode()
    assert ud.startswith('#cloud-config')
    assert 'amphora_id = %s' % amp in ud
    assert 'targets = 192.0.2.1:5555' in ud
    assert '/etc/pharos/certs/agent.pem' in ud
    assert driver.is_alive(handle)
    driver.delete(handle)
    assert fake_nova.servers == {}
    assert not driver.is_alive(handle)
    driver.delete(handle)   # idempotent


def test_interrupted_create_is_found_by_name(driver, fake_nova):
    amp = str(uuid.uuid4())
    driver.create(bundle(amp))
    # the controller died before recording the server id
    handle = driver.handle_for(amp)
    assert 'server_id' not in handle
    assert driver.is_alive(handle)
    driver.delete(handle)
    assert fake_nova.servers == {}
