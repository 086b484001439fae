"""TLS termination end to end through the real local cloud and CLI.

Run as root:  /usr/bin/python3 -m pytest -v -s tests/e2e/test_pharos_tls_e2e.py
Octavia reads certificates through its local cert manager (no Barbican here;
devstack/localcloud.sh sets [certificates] cert_manager = local_cert_manager):
the test writes <ref>.crt/.key/.int into its storage_path and passes <ref> as
--default-tls-container-ref. It then checks that
  - a certificate whose key belongs to another certificate is refused at API
    time, naming default_tls_container_ref, and the load balancer stays ACTIVE;
  - a good certificate reaches the pharos driver (default_tls_container_data in
    the pharos store);
  - once the engine terminates TLS (`pharos-engine --check-config` accepts a
    TERMINATED_HTTPS config), the listener goes ACTIVE and curl --cacert from
    pharos-client gets the member's answer over HTTPS with the certificate of
    the right name.
Uses the fixtures of test_pharos_e2e.py (local cloud, lbnet, subnet); stops
only what it started.
"""
import configparser
import datetime
import os
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest

from test_pharos_e2e import (  # noqa: F401  (fixtures)
    BUILD, LOCALCLOUD, REPO, STATE, cloud, in_ns, lbnet, osc, pytestmark, refused,
    run, subnet, wait_until)

ENGINE = os.path.join(BUILD, 'bin', 'pharos-engine')
EXAMPLES = os.path.join(REPO, 'schema', 'examples')
OCTAVIA_CONF = os.path.join(STATE, 'localcloud', 'etc', 'octavia', 'octavia.conf')


def engine_terminates_tls():
    """(True, '') when pharos-engine --check-config accepts the TERMINATED_HTTPS
    example with real certificates, else (False, why)."""
    if not os.path.exists(ENGINE):
        return False, '%s is not built' % ENGINE
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(os.path.join(EXAMPLES, 'https-two-members.json'), tmp)
        subprocess.run([os.path.join(EXAMPLES, 'make-test-certs.sh'),
                        os.path.join(tmp, 'certs')], check=True, capture_output=True)
        proc = subprocess.run([ENGINE, '--check-config',
                               os.path.join(tmp, 'https-two-members.json')],
                              capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        return False, (proc.stdout + proc.stderr).strip()
    return True, ''


def cert_storage_path():
    """Octavia's [certificates] storage_path when the local cert manager is
    configured, else None."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read(OCTAVIA_CONF)
    except configparser.Error:
        return None
    if parser.get('certificates', 'cert_manager', fallback='') != 'local_cert_manager':
        return None
    return parser.get('certificates', 'storage_path', fallback=None)


class Certificates:
    """A test CA with an intermediate; server certificates stored as refs of
    Octavia's local cert manager (<ref>.crt, .key, .int)."""

    def __init__(self, storage_path):
        from cryptography.hazmat.primitives.asymmetric import ec
        self.storage_path = storage_path
        self.ec = ec
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ca = self._certificate(self.ca_key, 'Pharos e2e CA', ca=True)
        self.int_key = ec.generate_private_key(ec.SECP256R1())
        self.intermediate = self._certificate(self.int_key, 'Pharos e2e intermediate',
                                              self.ca, self.ca_key, ca=True)
        self.refs = []

    def _certificate(self, key, cn, issuer=None, issuer_key=None, ca=False):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.x509.oid import NameOID
        now = datetime.datetime.utcnow()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        builder = (x509.CertificateBuilder().subject_name(name)
                   .issuer_name(issuer.subject if issuer else name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(hours=1))
                   .not_valid_after(now + datetime.timedelta(days=7))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
        return builder.sign(issuer_key or key, hashes.SHA256())

    @staticmethod
    def pem(obj):
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        if isinstance(obj, x509.Certificate):
            return obj.public_bytes(serialization.Encoding.PEM).decode()
        return obj.private_bytes(serialization.Encoding.PEM,
                                 serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode()

    def store(self, cn, mismatched_key=False):
        """A server certificate for `cn` in the cert manager; returns its ref."""
        key = self.ec.generate_private_key(self.ec.SECP256R1())
        cert = self._certificate(key, cn, self.intermediate, self.int_key)
        if mismatched_key:
            key = self.ec.generate_private_key(self.ec.SECP256R1())
        ref = str(uuid.uuid4())
        for suffix, text in (('.crt', self.pem(cert)), ('.key', self.pem(key)),
                             ('.int', self.pem(self.intermediate))):
            path = os.path.join(self.storage_path, ref + suffix)
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), 'w') as f:
                f.write(text)
        self.refs.append(ref)
        return ref

    def remove(self):
        for ref in self.refs:
            for suffix in ('.crt', '.key', '.int'):
                try:
                    os.unlink(os.path.join(self.storage_path, ref + suffix))
                except FileNotFoundError:
                    pass


@pytest.fixture(scope='module')
def certificates(cloud):  # noqa: F811
    path = cert_storage_path()
    if not path:
        pytest.skip('the running local cloud was started without Octavia\'s local cert '
                    'manager ([certificates] in %s); restart it with the current '
                    'devstack/localcloud.sh when nobody else uses it' % OCTAVIA_CONF)
    os.makedirs(path, mode=0o700, exist_ok=True)
    certs = Certificates(path)
    yield certs
    certs.remove()


@pytest.fixture(scope='module')
def lb(cloud, certificates, lbnet, subnet):  # noqa: F811
    # (the local compute driver plugs the VIP into lbnet's bridge)
    name = 'pharos-tls-e2e-%s' % uuid.uuid4().hex[:6]
    ids = {}
    try:
        created = osc('loadbalancer', 'create', '--provider', 'pharos', '--name', name,
                      '--vip-subnet-id', subnet['id'], '--wait')
        ids.update(lb=created['id'], vip=created['vip_address'], name=name)
        yield ids
    finally:
        if 'lb' not in ids:
            found = osc('loadbalancer', 'list', '--name', name)
            ids['lb'] = found[0]['id'] if found else None
        if ids.get('lb'):
            subprocess.run([LOCALCLOUD, 'openstack', 'loadbalancer', 'delete', '--cascade',
                            '--wait', ids['lb']], timeout=300)


@pytest.fixture(scope='module')
def tls_listener(lb, certificates):
    """A TERMINATED_HTTPS listener on 443 with a good certificate (not waited
    for: the engine may not terminate TLS yet)."""
    cn = 'www.pharos-e2e-%s.test' % uuid.uuid4().hex[:6]
    ref = certificates.store(cn)
    listener = osc('loadbalancer', 'listener', 'create', '--name', lb['name'],
                   '--protocol', 'TERMINATED_HTTPS', '--protocol-port', '443',
                   '--default-tls-container-ref', ref, lb['lb'])
    return dict(id=listener['id'], cn=cn, ref=ref)


def stored_listener(lb_id, listener_id):
    from pharos import store as pharos_store
    store = pharos_store.Store('sqlite:///' + os.path.join(STATE, 'pharos', 'pharos.sqlite'))
    try:
        tree = store.get_loadbalancer(lb_id).tree
    finally:
        store.dispose()
    return next(li for li in tree['listeners'] if li.get('listener_id') == listener_id)


def test_mismatched_key_refused_at_api_time(certificates, lb):
    ref = certificates.store('bad.pharos-e2e.test', mismatched_key=True)
    err = refused('loadbalancer', 'listener', 'create', '--name', 'bad-cert',
                  '--protocol', 'TERMINATED_HTTPS', '--protocol-port', '8443',
                  '--default-tls-container-ref', ref, lb['lb'])
    assert 'default_tls_container_ref' in err
    assert 'the private key does not match the certificate' in err
    assert osc('loadbalancer', 'show', lb['lb'])['provisioning_status'] == 'ACTIVE'
    assert [li['name'] for li in osc('loadbalancer', 'listener', 'list',
                                     '--loadbalancer', lb['lb'])] in ([], [lb['name']])


def test_certificate_reaches_the_driver(certificates, lb, tls_listener):
    listener = stored_listener(lb['lb'], tls_listener['id'])
    data = listener['default_tls_container_data']
    with open(os.path.join(certificates.storage_path, tls_listener['ref'] + '.crt')) as f:
        assert data['certificate'] == f.read()
    assert data['primary_cn'] == tls_listener['cn']
    # (Octavia strips the last newline of each intermediate)
    assert [i.strip() for i in data['intermediates']] == [
        certificates.pem(certificates.intermediate).strip()]
    assert listener['default_tls_container_ref'] == tls_listener['ref']


def test_https_through_the_vip(certificates, lb, tls_listener, subnet):  # noqa: F811
    ok, why = engine_terminates_tls()
    if not ok:
        pytest.skip('pharos-engine does not terminate TLS yet: %s' % why)
    t = time.monotonic()
    pool = osc('loadbalancer', 'pool', 'create', '--name', lb['name'],
               '--listener', tls_listener['id'], '--protocol', 'HTTP',
               '--lb-algorithm', 'ROUND_ROBIN', '--wait')
    osc('loadbalancer', 'member', 'create', '--name', 'member-1', '--subnet-id', subnet['id'],
        '--address', '10.250.0.21', '--protocol-port', '8080', '--wait', pool['id'])
    wait_until(lambda: osc('loadbalancer', 'show', lb['lb'])['provisioning_status'] == 'ACTIVE',
               120, 'load balancer ACTIVE', interval=1)
    listener = osc('loadbalancer', 'listener', 'show', tls_listener['id'])
    assert listener['provisioning_status'] == 'ACTIVE'
    print('TERMINATED_HTTPS tree ACTIVE in %.1fs' % (time.monotonic() - t))

    with tempfile.NamedTemporaryFile('w', suffix='.pem') as ca:
        ca.write(certificates.pem(certificates.ca))
        ca.flush()
        url = 'https://%s/' % tls_listener['cn']
        resolve = '%s:443:%s' % (tls_listener['cn'], lb['vip'])

        def get():
            out = in_ns('pharos-client', 'curl', '-sS', '-v', '-m', '3', '--cacert', ca.name,
                        '--resolve', resolve, url, timeout=10)
            return out if out.returncode == 0 else None
        out = wait_until(get, 30, 'HTTPS answer from the VIP', interval=1)
    print(out.stderr)
    assert out.stdout.strip() == 'member-1'
    assert 'subject: CN=%s' % tls_listener['cn'] in out.stderr
    assert 'issuer: CN=Pharos e2e intermediate' in out.stderr
