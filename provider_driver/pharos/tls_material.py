"""API-time checks of the certificate material in a load balancer tree.

Octavia hands the provider what its certificate manager holds, unchecked
beyond "readable": a key that belongs to another certificate, an expired
certificate or a CA bundle that is not PEM would only fail when an amphora
applies the config, long after the API said yes. These checks (with
python3-cryptography) refuse such material while the user is still there,
naming the field they set (default_tls_container_ref, ...). The engine checks
again with BoringSSL when it builds the TLS contexts.

Only material that differs from the load balancer's previous tree is checked,
so an unrelated change (a member added) is never refused because a
certificate expired since it was accepted, and unchanged certificates are not
parsed again on every request.
"""
import datetime
import hashlib
import json
import re

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa

from octavia_lib.api.drivers import exceptions as lib_exc

_PEM_BLOCK = re.compile(
    r'-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----', re.DOTALL)
_CERTIFICATE = 'CERTIFICATE'
_CRL = 'X509 CRL'

# Listener and pool fields holding material, with the request field the user
# set (what the messages name).
_CONTAINERS = {
    'listeners': (('default_tls_container_data', 'default_tls_container_ref'),),
    'pools': (('tls_container_data', 'tls_container_ref'),),
}
_SNI = ('sni_container_data', 'sni_container_refs')
_CA_BUNDLES = {
    'listeners': (('client_ca_tls_container_data',
                   'client_ca_tls_container_ref'),),
    'pools': (('ca_tls_container_data', 'ca_tls_container_ref'),),
}
_CRLS = {
    'listeners': (('client_crl_container_data', 'client_crl_container_ref'),),
    'pools': (('crl_container_data', 'crl_container_ref'),),
}


class _Problem(Exception):
    """One bad piece of material; `unsupported` when it is valid TLS material
    the engine cannot use (rather than broken material)."""

    def __init__(self, message, unsupported=False):
        super().__init__(message)
        self.unsupported = unsupported


def _text(value):
    if isinstance(value, bytes):
        return value.decode('utf-8', errors='replace')
    return value if isinstance(value, str) else ''


def _blocks(text, label):
    """The PEM blocks of one kind in `text`, as bytes."""
    return [m.group(0).encode('ascii', errors='replace')
            for m in _PEM_BLOCK.finditer(_text(text)) if m.group(1) == label]


def _utc(moment):
    # cryptography 38 returns naive datetimes in UTC.
    return moment.replace(tzinfo=datetime.timezone.utc)


def _load_certificates(text, what):
    blocks = _blocks(text, _CERTIFICATE)
    if not blocks:
        raise _Problem('%s is not a PEM certificate (no "-----BEGIN '
                       'CERTIFICATE-----" block)' % what)
    certificates = []
    for i, block in enumerate(blocks):
        try:
            certificates.append(x509.load_pem_x509_certificate(block))
        except ValueError as e:
            raise _Problem('%s: certificate %d of %d does not parse (%s)' % (
                what, i + 1, len(blocks), e))
    return certificates


def _check_dates(certificate, what, now):
    not_before = _utc(certificate.not_valid_before)
    not_after = _utc(certificate.not_valid_after)
    if now < not_before:
        raise _Problem('%s is not valid before %s' % (
            what, not_before.strftime('%Y-%m-%d %H:%M:%S UTC')))
    if now > not_after:
        raise _Problem('%s expired on %s' % (
            what, not_after.strftime('%Y-%m-%d %H:%M:%S UTC')))


def _public_der(key):
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def check_container(data, now=None):
    """A certificate container (Octavia's TLSContainer as a dict: certificate,
    private_key, intermediates...): raise _Problem unless the certificate
    parses and is valid now, the key is unencrypted, usable and belongs to
    the certificate, and the intermediates parse."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if not isinstance(data, dict):
        raise _Problem('the certificate container is not an object')
    leaf = _load_certificates(data.get('certificate'), 'the certificate')[0]
    _check_dates(leaf, 'the certificate', now)
    key_text = _text(data.get('private_key'))
    if not key_text.strip():
        raise _Problem('the certificate container has no private key')
    if 'ENCRYPTED' in key_text:
        raise _Problem('the private key is encrypted with a passphrase; store '
                       'it unencrypted, or with its passphrase in the '
                       'certificate container so that Octavia decrypts it',
                       unsupported=True)
    try:
        key = serialization.load_pem_private_key(
            key_text.encode('ascii', errors='replace'), password=None)
    except TypeError:
        raise _Problem('the private key is encrypted with a passphrase that '
                       'Octavia did not pass', unsupported=True)
    except (ValueError, UnicodeError) as e:
        raise _Problem('the private key is not a PEM private key (%s)' % e)
    if isinstance(key, dsa.DSAPrivateKey):
        raise _Problem('DSA keys cannot be used for TLS by the pharos engine; '
                       'use an RSA or ECDSA key', unsupported=True)
    if _public_der(key.public_key()) != _public_der(leaf.public_key()):
        raise _Problem('the private key does not match the certificate')
    for i, pem in enumerate(data.get('intermediates') or []):
        for certificate in _load_certificates(
                pem, 'intermediate certificate %d' % (i + 1)):
            _check_dates(certificate, 'intermediate certificate %d' % (i + 1),
                         now)


def check_ca_bundle(text):
    """PEM CA certificates (client CA, members' CA)."""
    _load_certificates(text, 'the CA bundle')


def check_crl(text):
    blocks = _blocks(text, _CRL)
    if not blocks:
        raise _Problem('the revocation list is not a PEM CRL (no "-----BEGIN '
                       'X509 CRL-----" block)')
    for i, block in enumerate(blocks):
        try:
            x509.load_pem_x509_crl(block)
        except ValueError as e:
            raise _Problem('revocation list %d of %d does not parse (%s)' % (
                i + 1, len(blocks), e))


def _fingerprint(value):
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=_text)
                          .encode()).hexdigest()


def _material(tree):
    """Yields (object description, field, checker, value) for every piece of
    material in the tree."""
    for collection in ('listeners', 'pools'):
        id_key = 'listener_id' if collection == 'listeners' else 'pool_id'
        kind = 'listener' if collection == 'listeners' else 'pool'
        for obj in tree.get(collection) or []:
            if not isinstance(obj, dict):
                continue
            where = '%s %s' % (kind, obj.get(id_key))
            for data_key, field in _CONTAINERS[collection]:
                if obj.get(data_key):
                    yield where, field, check_container, obj[data_key]
            if collection == 'listeners' and isinstance(
                    obj.get(_SNI[0]), list):
                for i, data in enumerate(obj[_SNI[0]]):
                    name = data.get('primary_cn') if isinstance(
                        data, dict) else None
                    field = '%s[%d]%s' % (_SNI[1], i,
                                          ' (%s)' % name if name else '')
                    yield where, field, check_container, data
            for data_key, field in _CA_BUNDLES[collection]:
                if obj.get(data_key):
                    yield where, field, check_ca_bundle, obj[data_key]
            for data_key, field in _CRLS[collection]:
                if obj.get(data_key):
                    yield where, field, check_crl, obj[data_key]


def _missing(tree):
    """References whose data Octavia did not pass. Its listener update fills
    the data only when a certificate or CA reference is part of the request,
    so a request changing client_crl_container_ref alone arrives without the
    CRL; serving without it would silently stop checking revocations."""
    for collection in ('listeners', 'pools'):
        pairs = (_CONTAINERS[collection] + _CA_BUNDLES[collection] +
                 _CRLS[collection] + ((_SNI,) if collection == 'listeners'
                                      else ()))
        id_key = 'listener_id' if collection == 'listeners' else 'pool_id'
        for obj in tree.get(collection) or []:
            if not isinstance(obj, dict):
                continue
            for data_key, field in pairs:
                if obj.get(field) and not obj.get(data_key):
                    yield '%s: Octavia passed no data for %s; set it again ' \
                          'together with the other certificate references ' \
                          '(%s %s)' % (field, obj[field], collection[:-1],
                                       obj.get(id_key))


def problems(tree, previous=None, now=None):
    """[(unsupported, message)] for the material of `tree` that is not in
    `previous` (the tree as last accepted), one per bad piece."""
    seen = {_fingerprint(value) for _, _, _, value in _material(previous or {})}
    out = [(False, message) for message in _missing(tree)]
    for where, field, checker, value in _material(tree):
        if _fingerprint(value) in seen:
            continue
        try:
            if checker is check_container:
                checker(value, now=now)
            else:
                checker(value)
        except _Problem as e:
            out.append((e.unsupported, '%s: %s (%s)' % (field, e, where)))
    return out


def check_tree(tree, previous=None, now=None):
    """Raise the octavia-lib exception the API expects for bad material:
    UnsupportedOptionError for material Pharos cannot use, DriverError for
    broken material; the message names the field and the object."""
    found = problems(tree, previous, now)
    if not found:
        return
    unsupported = [m for u, m in found if u]
    if unsupported:
        message = '; '.join(unsupported)
        raise lib_exc.UnsupportedOptionError(user_fault_string=message,
                                             operator_fault_string=message)
    message = '; '.join(m for _, m in found)
    raise lib_exc.DriverError(user_fault_string=message,
                              operator_fault_string=message)
