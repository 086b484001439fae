"""pharos.tls_material: certificate material checked at API time, and the
tree keeping Octavia's certificate data as JSON-safe text."""
import datetime
import json
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from octavia_lib.api.drivers import data_models as dm
from octavia_lib.api.drivers import exceptions as lib_exc

from pharos import _core
from pharos import driver as pharos_driver
from pharos import tls_material
from pharos import tree as lbtree

NOW = datetime.datetime.now(datetime.timezone.utc)
DAY = datetime.timedelta(days=1)


def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


def certificate(key, cn, issuer=None, issuer_key=None, not_before=None,
                not_after=None, ca=False):
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (x509.CertificateBuilder()
               .subject_name(subject)
               .issuer_name(issuer.subject if issuer else subject)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before((not_before or NOW - DAY).replace(tzinfo=None))
               .not_valid_after((not_after or NOW + 30 * DAY).replace(tzinfo=None))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None),
                              critical=True))
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


def pem(obj):
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM)
    return obj.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class PKI:
    """A CA, an intermediate and a server certificate for www.example.com."""

    def __init__(self):
        self.ca_key = ec_key()
        self.ca = certificate(self.ca_key, 'Test CA', ca=True)
        self.int_key = ec_key()
        self.intermediate = certificate(self.int_key, 'Test intermediate',
                                        self.ca, self.ca_key, ca=True)
        self.key = ec_key()
        self.cert = certificate(self.key, 'www.example.com', self.intermediate,
                                self.int_key)

    def container(self, cert=None, key=None, cn='www.example.com'):
        """As Octavia's TLSContainer.to_dict(): bytes, primary_cn, id."""
        cert_pem = pem(cert or self.cert)
        return {'id': uuid.uuid4().hex, 'primary_cn': cn,
                'certificate': cert_pem, 'private_key': pem(key or self.key),
                'passphrase': None, 'intermediates': [pem(self.intermediate)]}

    def crl(self, revoked=()):
        builder = (x509.CertificateRevocationListBuilder()
                   .issuer_name(self.ca.subject)
                   .last_update((NOW - DAY).replace(tzinfo=None))
                   .next_update((NOW + DAY).replace(tzinfo=None)))
        for serial in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial)
                .revocation_date((NOW - DAY).replace(tzinfo=None)).build())
        return builder.sign(self.ca_key, hashes.SHA256()).public_bytes(
            serialization.Encoding.PEM).decode()


@pytest.fixture(scope='module')
def pki():
    return PKI()


def tree_with(listener=None, pool=None):
    listener = dict(listener_id='l1', protocol='TERMINATED_HTTPS',
                    protocol_port=443, **(listener or {}))
    pool = dict(pool_id='p1', protocol='HTTP', lb_algorithm='ROUND_ROBIN',
                members=[], **(pool or {}))
    return lbtree._plain({'version': 1, 'loadbalancer': {
        'loadbalancer_id': 'lb1', 'vip_address': '10.0.0.10'},
        'listeners': [listener], 'pools': [pool]})


def refused(tree, previous=None, kind=lib_exc.DriverError):
    with pytest.raises(kind) as exc:
        tls_material.check_tree(tree, previous)
    return exc.value.user_fault_string


# ---- containers --------------------------------------------------------------

def test_good_containers_pass(pki):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_cert = certificate(rsa_key, 'rsa.example.com', pki.intermediate,
                           pki.int_key)
    tree = tree_with(
        listener={'default_tls_container_data': pki.container(),
                  'sni_container_data': [pki.container(rsa_cert, rsa_key)],
                  'client_ca_tls_container_data': pem(pki.ca).decode(),
                  'client_crl_container_data': pki.crl([12345])},
        pool={'tls_enabled': True, 'tls_container_data': pki.container(),
              'ca_tls_container_data': pem(pki.ca).decode() + pem(
                  pki.intermediate).decode(),
              'crl_container_data': pki.crl()})
    assert tls_material.problems(tree) == []
    tls_material.check_tree(tree)


def test_bytes_are_accepted_as_octavia_passes_them(pki):
    tls_material.check_container(pki.container())  # bytes throughout


def test_key_of_another_certificate_is_refused_naming_the_field(pki):
    tree = tree_with(listener={
        'default_tls_container_data': pki.container(key=ec_key())})
    message = refused(tree)
    assert message == ('default_tls_container_ref: the private key does not '
                       'match the certificate (listener l1)')


def test_rsa_key_for_ecdsa_certificate_is_refused(pki):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    message = refused(tree_with(listener={
        'default_tls_container_data': pki.container(key=other)}))
    assert 'does not match' in message


def test_expired_certificate(pki):
    old = certificate(pki.key, 'www.example.com', pki.intermediate,
                      pki.int_key, not_before=NOW - 60 * DAY,
                      not_after=NOW - DAY)
    message = refused(tree_with(listener={
        'default_tls_container_data': pki.container(old)}))
    assert message.startswith('default_tls_container_ref: the certificate '
                              'expired on ')


def test_not_yet_valid_certificate(pki):
    future = certificate(pki.key, 'www.example.com', pki.intermediate,
                         pki.int_key, not_before=NOW + DAY,
                         not_after=NOW + 60 * DAY)
    message = refused(tree_with(listener={
        'default_tls_container_data': pki.container(future)}))
    assert 'the certificate is not valid before' in message


def test_expired_intermediate(pki):
    container = pki.container()
    stale = certificate(pki.int_key, 'Test intermediate', pki.ca, pki.ca_key,
                        not_before=NOW - 60 * DAY, not_after=NOW - DAY,
                        ca=True)
    container['intermediates'] = [pem(stale)]
    message = refused(tree_with(listener={
        'default_tls_container_data': container}))
    assert 'intermediate certificate 1 expired' in message


@pytest.mark.parametrize('certificate_text,expected', [
    (b'not a certificate', 'is not a PEM certificate'),
    (b'-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
     'does not parse'),
])
def test_certificate_that_is_not_pem(pki, certificate_text, expected):
    container = pki.container()
    container['certificate'] = certificate_text
    message = refused(tree_with(listener={
        'default_tls_container_data': container}))
    assert message.startswith('default_tls_container_ref: ')
    assert expected in message


def test_private_key_that_is_not_pem(pki):
    container = pki.container()
    container['private_key'] = b'garbage'
    assert 'the private key is not a PEM private key' in refused(tree_with(
        listener={'default_tls_container_data': container}))


def test_missing_private_key(pki):
    container = pki.container()
    container['private_key'] = None
    assert 'has no private key' in refused(tree_with(
        listener={'default_tls_container_data': container}))


def test_passphrase_protected_key_is_unsupported(pki):
    container = pki.container()
    container['private_key'] = pki.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b'secret'))
    container['passphrase'] = b'secret'
    message = refused(tree_with(listener={
        'default_tls_container_data': container}),
        kind=lib_exc.UnsupportedOptionError)
    assert message.startswith('default_tls_container_ref: the private key is '
                              'encrypted')


def test_sni_certificate_named_by_index_and_name(pki):
    tree = tree_with(listener={
        'default_tls_container_data': pki.container(),
        'sni_container_data': [pki.container(),
                               pki.container(key=ec_key(), cn='b.example')]})
    assert refused(tree) == ('sni_container_refs[1] (b.example): the private '
                             'key does not match the certificate (listener '
                             'l1)')


def test_pool_client_certificate(pki):
    tree = tree_with(pool={'tls_enabled': True,
                           'tls_container_data': pki.container(key=ec_key())})
    assert refused(tree) == ('tls_container_ref: the private key does not '
                             'match the certificate (pool p1)')


# ---- CA bundles and CRLs -------------------------------------------------------

@pytest.mark.parametrize('field,data_key,where', [
    ('client_ca_tls_container_ref', 'client_ca_tls_container_data', 'listener'),
    ('ca_tls_container_ref', 'ca_tls_container_data', 'pool'),
])
def test_ca_bundle_must_be_pem_certificates(pki, field, data_key, where):
    tree = tree_with(**{where: {data_key: 'just text'}})
    message = refused(tree)
    assert message.startswith(field + ': the CA bundle is not a PEM '
                              'certificate')


@pytest.mark.parametrize('field,data_key,where', [
    ('client_crl_container_ref', 'client_crl_container_data', 'listener'),
    ('crl_container_ref', 'crl_container_data', 'pool'),
])
def test_crl_must_be_pem(pki, field, data_key, where):
    message = refused(tree_with(**{where: {data_key: pem(pki.ca).decode()}}))
    assert message.startswith(field + ': the revocation list is not a PEM CRL')
    broken = '-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n'
    message = refused(tree_with(**{where: {data_key: broken}}))
    assert 'revocation list 1 of 1 does not parse' in message


def test_every_problem_is_listed(pki):
    tree = tree_with(listener={
        'default_tls_container_data': pki.container(key=ec_key()),
        'client_ca_tls_container_data': 'nope'})
    message = refused(tree)
    assert 'default_tls_container_ref' in message
    assert 'client_ca_tls_container_ref' in message


# ---- only what changed is checked ---------------------------------------------

def test_unchanged_material_is_not_checked_again(pki):
    old = certificate(pki.key, 'www.example.com', pki.intermediate,
                      pki.int_key, not_before=NOW - 60 * DAY,
                      not_after=NOW - DAY)
    previous = tree_with(listener={
        'default_tls_container_data': pki.container(old)})
    # A member added later: the certificate expired since, the change is fine.
    tree = json.loads(json.dumps(previous))
    tree['pools'][0]['members'].append({'member_id': 'm1'})
    tls_material.check_tree(tree, previous)
    # A new certificate is checked.
    tree['listeners'][0]['sni_container_data'] = [pki.container(old)]
    tree['listeners'][0]['sni_container_data'][0]['id'] = 'other'
    assert 'expired' in refused(tree, previous)


# ---- the tree keeps what Octavia passes ------------------------------------------

def test_tree_keeps_lists_and_turns_bytes_into_text(pki):
    listener = dm.Listener(
        listener_id='l1', protocol='TERMINATED_HTTPS', protocol_port=443,
        allowed_cidrs=['10.0.0.0/8'], tls_versions=['TLSv1.2', 'TLSv1.3'],
        alpn_protocols=['h2', 'http/1.1'], tls_ciphers='ECDHE-ECDSA-AES128-GCM-SHA256',
        default_tls_container_ref='ref-1',
        default_tls_container_data=pki.container(),
        sni_container_refs=['ref-2'],
        sni_container_data=[pki.container()],
        client_ca_tls_container_data=pem(pki.ca),
        default_pool=dm.Pool(pool_id='p1'), l7policies=[])
    out = lbtree.to_dict(listener)
    json.dumps(out)  # JSON-safe
    assert out['allowed_cidrs'] == ['10.0.0.0/8']
    assert out['tls_versions'] == ['TLSv1.2', 'TLSv1.3']
    assert out['alpn_protocols'] == ['h2', 'http/1.1']
    assert out['sni_container_refs'] == ['ref-2']
    data = out['default_tls_container_data']
    assert data['certificate'].startswith('-----BEGIN CERTIFICATE-----')
    assert data['private_key'].startswith('-----BEGIN PRIVATE KEY-----')
    assert data['intermediates'][0].startswith('-----BEGIN CERTIFICATE-----')
    assert out['sni_container_data'][0]['certificate'] == data['certificate']
    assert out['client_ca_tls_container_data'].startswith('-----BEGIN')
    assert 'default_pool' not in out and 'l7policies' not in out


def test_tree_merge_keeps_certificates_across_updates(pki):
    tree = lbtree.empty(dm.LoadBalancer(loadbalancer_id='lb1',
                                        vip_address='10.0.0.10'))
    tree = lbtree.put_listener(tree, dm.Listener(
        listener_id='l1', protocol='TERMINATED_HTTPS', protocol_port=443,
        default_tls_container_data=pki.container()))
    tree = lbtree.put_listener(tree, dm.Listener(
        listener_id='l1', name='renamed'), update=True)
    listener = tree['listeners'][0]
    assert listener['name'] == 'renamed'
    assert listener['default_tls_container_data']['certificate'].startswith(
        '-----BEGIN CERTIFICATE-----')


# ---- through the driver --------------------------------------------------------

def _engine_takes_terminated_https():
    try:
        _core.compile_loadbalancer(json.dumps(tree_with(listener={
            'default_tls_container_data': {'certificate': 'x', 'private_key': 'y'}})))
    except _core.CompileError as e:
        return not any('not supported' in m for _, m in e.errors)
    return True


def _lb(driver):
    lb = dm.LoadBalancer(loadbalancer_id=str(uuid.uuid4()), project_id='p',
                         vip_address='10.250.0.100', admin_state_up=True)
    driver.loadbalancer_create(lb)
    return lb


def _https_listener(lb, container):
    return dm.Listener(listener_id=str(uuid.uuid4()),
                       loadbalancer_id=lb.loadbalancer_id,
                       protocol='TERMINATED_HTTPS', protocol_port=443,
                       admin_state_up=True, client_authentication='NONE',
                       default_tls_container_ref='ref',
                       default_tls_container_data=container,
                       tls_versions=['TLSv1.2', 'TLSv1.3'],
                       alpn_protocols=['h2', 'http/1.1'])


def test_driver_refuses_mismatched_key_and_stores_nothing(store, pki):
    driver = pharos_driver.PharosProviderDriver(store=store)
    lb = _lb(driver)
    version = store.get_loadbalancer(lb.loadbalancer_id).desired_version
    listener = _https_listener(lb, pki.container(key=ec_key()))
    with pytest.raises(lib_exc.DriverError) as exc:
        driver.listener_create(listener)
    assert exc.value.user_fault_string.startswith(
        'default_tls_container_ref: the private key does not match the '
        'certificate (listener %s)' % listener.listener_id)
    assert store.get_loadbalancer(lb.loadbalancer_id).desired_version == version


def test_driver_stores_certificates_as_text(store, pki):
    if not _engine_takes_terminated_https():
        pytest.skip('this pharos._core build refuses TERMINATED_HTTPS '
                    '(engine config loader without TLS)')
    driver = pharos_driver.PharosProviderDriver(store=store)
    lb = _lb(driver)
    listener = _https_listener(lb, pki.container())
    driver.listener_create(listener)
    stored = store.get_loadbalancer(lb.loadbalancer_id).tree['listeners'][0]
    assert stored['default_tls_container_data']['certificate'] == \
        pem(pki.cert).decode()
    assert stored['alpn_protocols'] == ['h2', 'http/1.1']
    # An update that does not touch the certificate keeps it.
    driver.listener_update(listener, dm.Listener(
        listener_id=listener.listener_id, name='web'))
    stored = store.get_loadbalancer(lb.loadbalancer_id).tree['listeners'][0]
    assert stored['name'] == 'web'
    assert stored['default_tls_container_data']['private_key'] == \
        pem(pki.key).decode()


def test_tree_update_clearing_a_reference_drops_its_certificate(pki):
    tree = lbtree.empty(dm.LoadBalancer(loadbalancer_id='lb1',
                                        vip_address='10.0.0.10'))
    tree = lbtree.put_listener(tree, dm.Listener(
        listener_id='l1', protocol='TERMINATED_HTTPS', protocol_port=443,
        default_tls_container_ref='ref-1',
        default_tls_container_data=pki.container(),
        sni_container_refs=['ref-2'], sni_container_data=[pki.container()],
        client_ca_tls_container_ref='ref-3',
        client_ca_tls_container_data=pem(pki.ca)))
    # a new default certificate, SNI unset, client CA untouched
    new = pki.container(cn='new')
    tree = lbtree.put_listener(tree, dm.Listener(
        listener_id='l1', default_tls_container_ref='ref-4',
        default_tls_container_data=new, sni_container_refs=[]), update=True)
    listener = tree['listeners'][0]
    assert listener['default_tls_container_data']['primary_cn'] == 'new'
    assert 'sni_container_data' not in listener
    assert listener['client_ca_tls_container_data'].startswith('-----BEGIN')


def test_reference_without_data_is_refused(pki):
    # Octavia's listener update passes no CRL data when only the CRL changes.
    tree = tree_with(listener={
        'default_tls_container_ref': 'ref-1',
        'default_tls_container_data': pki.container(),
        'client_ca_tls_container_ref': 'ref-2',
        'client_ca_tls_container_data': pem(pki.ca).decode(),
        'client_crl_container_ref': 'ref-3'})
    assert refused(tree).startswith(
        'client_crl_container_ref: Octavia passed no data for ref-3')
