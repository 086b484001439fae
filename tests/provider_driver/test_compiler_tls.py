"""The Octavia -> engine config compiler (engine/octavia/octavia_compiler.cc,
through pharos._core) on TERMINATED_HTTPS listeners and re-encrypting pools.

Certificates come from schema/examples/make-test-certs.sh; the compiler only
moves PEM text (pharos.tls_material and the engine's BoringSSL check it).
"""
import copy
import json
import os
import pathlib
import subprocess

import pytest

from octavia_lib.api.drivers import data_models as dm

from pharos import _core
from pharos import errors
from pharos import tree as lbtree

REPO = pathlib.Path(__file__).resolve().parents[2]
MAKE_CERTS = REPO / 'schema' / 'examples' / 'make-test-certs.sh'
LOADER_REFUSAL = 'TERMINATED_HTTPS listeners are not supported by this engine'


@pytest.fixture(scope='module')
def certs(tmp_path_factory):
    out = tmp_path_factory.mktemp('certs')
    subprocess.run([str(MAKE_CERTS), str(out)], check=True, capture_output=True)

    def read(name):
        return (out / name).read_text()
    return {'cert': read('server-ecdsa.crt'), 'key': read('server-ecdsa.key'),
            'intermediate': read('intermediate.pem'),
            'rsa_cert': read('server-rsa.crt'), 'rsa_key': read('server-rsa.key'),
            'ca': read('ca.pem'), 'crl': read('ca.crl.pem'), 'dir': out}


def container(certs, rsa=False, **extra):
    """As Octavia's TLSContainer.to_dict(recurse=True), after tree.py."""
    prefix = 'rsa_' if rsa else ''
    out = {'id': 'c' * 40, 'primary_cn': 'localhost', 'passphrase': None,
           'certificate': certs[prefix + 'cert'], 'private_key': certs[prefix + 'key'],
           'intermediates': [certs['intermediate']]}
    out.update(extra)
    return out


def https_tree(certs, listener=None, pool=None):
    li = {'listener_id': 'l1', 'loadbalancer_id': 'lb1', 'protocol': 'TERMINATED_HTTPS',
          'protocol_port': 443, 'admin_state_up': True, 'default_pool_id': 'p1',
          'client_authentication': 'NONE', 'default_tls_container_ref': 'ref-1',
          'default_tls_container_data': container(certs),
          # Octavia's defaults for a TERMINATED_HTTPS listener
          'tls_versions': ['TLSv1.2', 'TLSv1.3'],
          'tls_ciphers': 'ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384',
          'alpn_protocols': ['h2', 'http/1.1', 'http/1.0']}
    li.update(listener or {})
    po = {'pool_id': 'p1', 'loadbalancer_id': 'lb1', 'protocol': 'HTTP',
          'lb_algorithm': 'ROUND_ROBIN', 'admin_state_up': True, 'tls_enabled': False,
          'members': [{'member_id': 'm1', 'address': '10.0.0.21', 'protocol_port': 8080}]}
    po.update(pool or {})
    return {'version': 2, 'loadbalancer': {'loadbalancer_id': 'lb1',
                                           'vip_address': '10.0.0.10'},
            'listeners': [li], 'pools': [po]}


def compile_tree(tree):
    return json.loads(_core.compile_loadbalancer(json.dumps(tree)))


def compile_or_skip(tree):
    """The engine config, or a skip while the engine's loader (linked into
    this _core) still refuses TERMINATED_HTTPS; any other error fails."""
    try:
        return compile_tree(tree)
    except _core.CompileError as e:
        others = [(p, m) for p, m in e.errors if LOADER_REFUSAL not in m]
        assert others == [], 'compiled config rejected: %r' % (e.errors,)
        pytest.skip('this _core links an engine config loader that refuses '
                    'TERMINATED_HTTPS (rebuild _core after the TLS loader lands)')


def errors_of(tree, kind=_core.CompileError):
    with pytest.raises(kind) as exc:
        compile_tree(tree)
    return [(p, m) for p, m in exc.value.errors if LOADER_REFUSAL not in m]


# ---- listeners --------------------------------------------------------------

def test_terminated_https_listener_maps_every_field(certs):
    sni = container(certs, rsa=True, id='d' * 40, intermediates=[])
    tree = https_tree(certs, listener={
        'sni_container_refs': ['ref-2'], 'sni_container_data': [sni],
        'client_authentication': 'MANDATORY',
        'client_ca_tls_container_data': certs['ca'],
        'client_crl_container_data': certs['crl'],
        'insert_headers': {'X-Forwarded-Proto': 'true', 'X-SSL-Client-Verify': 'true',
                           'X-SSL-Client-Has-Cert': 'true', 'X-SSL-Client-DN': 'true',
                           'X-SSL-Client-CN': 'true', 'X-SSL-Issuer': 'true',
                           'X-SSL-Client-SHA1': 'true', 'X-SSL-Client-Not-Before': 'true',
                           'X-SSL-Client-Not-After': 'true'},
        'hsts_max_age': 31536000, 'hsts_include_subdomains': True, 'hsts_preload': False})
    listener = compile_or_skip(tree)['listeners'][0]
    assert listener['protocol'] == 'TERMINATED_HTTPS'
    assert listener['bind_address'] == '10.0.0.10' and listener['protocol_port'] == 443
    # Octavia's primary_cn and passphrase are not engine fields.
    assert listener['default_tls_container'] == {
        'id': 'c' * 40, 'certificate': certs['cert'], 'private_key': certs['key'],
        'intermediates': [certs['intermediate']]}
    assert listener['sni_containers'] == [{
        'id': 'd' * 40, 'certificate': certs['rsa_cert'], 'private_key': certs['rsa_key']}]
    assert listener['tls_versions'] == ['TLSv1.2', 'TLSv1.3']
    assert listener['tls_ciphers'] == tree['listeners'][0]['tls_ciphers']
    assert listener['alpn_protocols'] == ['h2', 'http/1.1', 'http/1.0']
    assert listener['client_authentication'] == 'MANDATORY'
    assert listener['client_ca_tls_container'] == certs['ca']
    assert listener['client_crl_container'] == certs['crl']
    assert listener['insert_headers'] == tree['listeners'][0]['insert_headers']
    assert listener['hsts_max_age'] == 31536000
    assert listener['hsts_include_subdomains'] is True
    assert 'hsts_preload' not in listener
    assert not {'default_tls_container_data', 'sni_container_data', 'primary_cn',
                'default_tls_container_ref', 'sni_container_refs'} & set(listener)


def test_defaults_stay_out_of_the_config(certs):
    tree = https_tree(certs, listener={'tls_versions': None, 'tls_ciphers': '',
                                       'alpn_protocols': [], 'sni_container_data': []})
    listener = compile_or_skip(tree)['listeners'][0]
    assert not {'tls_versions', 'tls_ciphers', 'alpn_protocols', 'sni_containers',
                'client_authentication', 'client_ca_tls_container',
                'hsts_max_age'} & set(listener)


def test_sni_only_listener_serves_the_first_sni_certificate_by_default(certs):
    first = container(certs, id='1' * 40)
    second = container(certs, rsa=True, id='2' * 40)
    tree = https_tree(certs, listener={'default_tls_container_data': None,
                                       'sni_container_data': [first, second]})
    listener = compile_or_skip(tree)['listeners'][0]
    assert listener['default_tls_container']['id'] == '1' * 40
    assert [c['id'] for c in listener['sni_containers']] == ['1' * 40, '2' * 40]


def test_listener_without_certificate_is_invalid(certs):
    tree = https_tree(certs, listener={'default_tls_container_data': None})
    errs = errors_of(tree, _core.InvalidConfig)
    assert errs[0][0] == '/listeners/0/default_tls_container_ref'
    assert 'need a certificate' in errs[0][1]


def test_missing_key_is_invalid(certs):
    tree = https_tree(certs, listener={
        'default_tls_container_data': container(certs, private_key=None)})
    assert errors_of(tree, _core.InvalidConfig) == [
        ('/listeners/0/default_tls_container_ref',
         'the certificate container has no private key')]


@pytest.mark.parametrize('header', [
    '-----BEGIN ENCRYPTED PRIVATE KEY-----',
    '-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED',
])
def test_still_encrypted_key_is_refused(certs, header):
    key = header + '\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END X-----\n'
    tree = https_tree(certs, listener={
        'sni_container_data': [container(certs, private_key=key)]})
    errs = errors_of(tree, _core.UnsupportedOption)
    assert errs[0][0] == '/listeners/0/sni_container_refs/0'
    assert 'encrypted with a passphrase' in errs[0][1]
    # ... and the message the user reads names the field they set.
    message = errors.user_message(tree, errs)
    assert message.startswith('sni_container_refs.0: the private key is encrypted')
    assert message.endswith('(listener l1)')


def test_loader_errors_name_the_request_fields(certs):
    # What the engine's loader finds wrong inside a container is reported
    # under the field the user set, not the engine config's name.
    tree = https_tree(certs, listener={
        'default_tls_container_data': container(certs, certificate='not pem'),
        'tls_versions': ['SSLv3', 'TLSv1.2']})
    paths = {p for p, _ in errors_of(tree, _core.InvalidConfig)}
    assert '/listeners/0/default_tls_container_ref/certificate' in paths
    assert '/listeners/0/tls_versions/0' in paths


def test_loader_errors_in_sni_only_default_point_at_the_sni_certificate(certs):
    tree = https_tree(certs, listener={
        'default_tls_container_data': None,
        'sni_container_data': [container(certs, certificate='not pem')]})
    paths = {p for p, _ in errors_of(tree, _core.InvalidConfig)}
    assert paths == {'/listeners/0/sni_container_refs/0/certificate'}


def test_client_authentication_needs_a_ca(certs):
    tree = https_tree(certs, listener={'client_authentication': 'OPTIONAL'})
    errs = errors_of(tree, _core.InvalidConfig)
    assert errs and errs[0][0] == '/listeners/0/client_authentication'


def test_http_listener_ignores_octavia_tls_defaults(certs):
    tree = https_tree(certs, listener={
        'protocol': 'HTTP', 'protocol_port': 80, 'default_tls_container_data': None,
        'client_authentication': 'NONE'})
    listener = compile_tree(tree)['listeners'][0]
    assert not {'tls_versions', 'tls_ciphers', 'alpn_protocols', 'client_authentication',
                'default_tls_container'} & set(listener)


def test_certificates_on_an_http_listener_are_invalid(certs):
    tree = https_tree(certs, listener={'protocol': 'HTTP', 'protocol_port': 80})
    assert errors_of(tree, _core.InvalidConfig) == [
        ('/listeners/0/default_tls_container_ref',
         'default_tls_container_ref applies only to TERMINATED_HTTPS listeners')]


def test_client_certificate_headers_need_terminated_https(certs):
    tree = https_tree(certs, listener={
        'protocol': 'HTTP', 'protocol_port': 80, 'default_tls_container_data': None,
        'insert_headers': {'X-SSL-Client-CN': 'true'}})
    errs = errors_of(tree, _core.InvalidConfig)
    assert [p for p, _ in errs] == ['/listeners/0/insert_headers/X-SSL-Client-CN']


def test_unknown_header_is_unsupported(certs):
    tree = https_tree(certs, listener={'insert_headers': {'X-Forwarded-Host': 'true'}})
    errs = errors_of(tree, _core.UnsupportedOption)
    assert errs[0][0] == '/listeners/0/insert_headers/X-Forwarded-Host'


# ---- pools ---------------------------------------------------------------------

def test_reencrypting_pool_maps_every_field(certs):
    tree = https_tree(certs, pool={
        'tls_enabled': True, 'tls_container_ref': 'ref-3',
        'tls_container_data': container(certs, rsa=True),
        'ca_tls_container_data': certs['ca'], 'crl_container_data': certs['crl'],
        'tls_versions': ['TLSv1.3'], 'tls_ciphers': 'ECDHE-RSA-AES128-GCM-SHA256',
        'alpn_protocols': ['http/1.1']})
    pool = compile_or_skip(tree)['pools'][0]
    assert pool['tls_enabled'] is True
    assert pool['tls_container'] == {
        'id': 'c' * 40, 'certificate': certs['rsa_cert'], 'private_key': certs['rsa_key'],
        'intermediates': [certs['intermediate']]}
    assert pool['ca_tls_container'] == certs['ca']
    assert pool['crl_container'] == certs['crl']
    assert pool['tls_versions'] == ['TLSv1.3']
    assert pool['tls_ciphers'] == 'ECDHE-RSA-AES128-GCM-SHA256'
    assert pool['alpn_protocols'] == ['http/1.1']


def test_pool_keeps_its_certificates_out_while_tls_is_off(certs):
    tree = https_tree(certs, pool={
        'tls_enabled': False, 'tls_container_data': container(certs),
        'ca_tls_container_data': certs['ca'], 'tls_versions': ['TLSv1.3']})
    pool = compile_or_skip(tree)['pools'][0]
    assert not {'tls_enabled', 'tls_container', 'ca_tls_container',
                'tls_versions'} & set(pool)


def test_pool_errors_name_the_request_fields(certs):
    tree = https_tree(certs, pool={
        'tls_enabled': True, 'ca_tls_container_data': 'not pem'})
    errs = errors_of(tree, _core.InvalidConfig)
    assert [p for p, _ in errs] == ['/pools/0/ca_tls_container_ref']
    assert errors.user_message(tree, errs).startswith('ca_tls_container_ref: ')


# ---- engine-wide settings and the whole path from octavia-lib -----------------

def test_engine_wide_tls_and_http2_settings_pass_through(certs):
    tree = https_tree(certs)
    tree['tls'] = {'session_cache_size': 0}
    tree['http2'] = {'max_concurrent_streams': 50}
    config = compile_or_skip(tree)
    assert config['tls'] == {'session_cache_size': 0}
    assert config['http2'] == {'max_concurrent_streams': 50}


def test_octavia_objects_with_bytes_compile(certs):
    """octavia-lib objects as octavia-api builds them (bytes PEM) ->
    tree.py -> compiler."""
    as_bytes = {k: (v.encode() if isinstance(v, str) and k != 'id' else v)
                for k, v in container(certs).items()}
    as_bytes['intermediates'] = [certs['intermediate'].encode()]
    pool = dm.Pool(pool_id='p1', loadbalancer_id='lb1', protocol='HTTP',
                   lb_algorithm='ROUND_ROBIN', admin_state_up=True, tls_enabled=False,
                   members=[dm.Member(member_id='m1', address='10.0.0.21',
                                      protocol_port=8080)])
    listener = dm.Listener(
        listener_id='l1', loadbalancer_id='lb1', protocol='TERMINATED_HTTPS',
        protocol_port=443, admin_state_up=True, default_pool=pool, default_pool_id='p1',
        default_tls_container_ref='ref-1', default_tls_container_data=as_bytes,
        sni_container_refs=['ref-1'], sni_container_data=[copy.deepcopy(as_bytes)],
        client_authentication='NONE', tls_versions=['TLSv1.2', 'TLSv1.3'],
        alpn_protocols=['h2', 'http/1.1'], allowed_cidrs=['10.0.0.0/8'])
    lb = dm.LoadBalancer(loadbalancer_id='lb1', vip_address='10.0.0.10',
                         admin_state_up=True, listeners=[listener], pools=[pool])
    tree = lbtree.from_loadbalancer(lb)
    listener = compile_or_skip(tree)['listeners'][0]
    assert listener['default_tls_container']['certificate'] == certs['cert']
    assert listener['sni_containers'][0]['private_key'] == certs['key']
    assert listener['allowed_cidrs'] == ['10.0.0.0/8']
    assert listener['alpn_protocols'] == ['h2', 'http/1.1']


def test_compiled_config_passes_the_engines_own_validator(certs):
    config = compile_or_skip(https_tree(certs, listener={
        'client_authentication': 'OPTIONAL', 'client_ca_tls_container_data': certs['ca']}))
    assert _core.validate_engine_config(json.dumps(config)) == []


def test_make_test_certs_is_idempotent(certs):
    before = {p.name: p.read_bytes() for p in certs['dir'].iterdir()}
    out = subprocess.run([str(MAKE_CERTS), str(certs['dir'])], check=True,
                         capture_output=True, text=True).stdout
    assert 'up to date' in out
    assert before == {p.name: p.read_bytes() for p in certs['dir'].iterdir()}
    keys = [p for p in certs['dir'].iterdir() if p.name.endswith('.key')]
    assert keys and all(os.stat(p).st_mode & 0o077 == 0 for p in keys)


def test_pem_text_ends_in_a_newline(certs):
    # Octavia's local and Barbican cert managers hand intermediates over
    # without their last newline.
    tree = https_tree(certs, listener={'default_tls_container_data': container(
        certs, certificate=certs['cert'].rstrip('\n'),
        intermediates=[certs['intermediate'].rstrip('\n')])})
    listener = compile_or_skip(tree)['listeners'][0]
    assert listener['default_tls_container']['certificate'] == certs['cert']
    assert listener['default_tls_container']['intermediates'] == [certs['intermediate']]
