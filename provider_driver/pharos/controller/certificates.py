"""The controller's certificate authority.

The controller is the CA: it issues itself a client certificate and every
amphora agent a server certificate (SAN = the agent's management address and
amphora id). Agents trust only this CA for clients, the controller only this
CA for agents: mutual TLS with no outside PKI.
"""
import datetime
import ipaddress
import os
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.oid import NameOID

_VALIDITY = datetime.timedelta(days=3650)
_LEAF_VALIDITY = datetime.timedelta(days=730)


def _write(path, data, mode=0o600):
    tmp = path + '.tmp'
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, 'wb') as f:
        f.write(data)
    os.replace(tmp, path)


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


class CertificateAuthority:
    """A CA in a directory: ca.pem/ca.key, controller.pem/controller.key."""

    _lock = threading.Lock()

    def __init__(self, directory):
        self.dir = directory
        self.ca_file = os.path.join(directory, 'ca.pem')
        self.ca_key_file = os.path.join(directory, 'ca.key')
        self.client_cert_file = os.path.join(directory, 'controller.pem')
        self.client_key_file = os.path.join(directory, 'controller.key')
        self._ensure()

    def _ensure(self):
        """Create the CA and the controller's client certificate once."""
        with self._lock:
            os.makedirs(self.dir, mode=0o700, exist_ok=True)
            if not os.path.exists(self.ca_file):
                key = ec.generate_private_key(ec.SECP256R1())
                name = x509.Name([x509.NameAttribute(
                    NameOID.COMMON_NAME, 'Pharos controller CA')])
                now = datetime.datetime.utcnow()
                cert = (x509.CertificateBuilder()
                        .subject_name(name).issuer_name(name)
                        .public_key(key.public_key())
                        .serial_number(x509.random_serial_number())
                        .not_valid_before(now - datetime.timedelta(minutes=5))
                        .not_valid_after(now + _VALIDITY)
                        .add_extension(x509.BasicConstraints(
                            ca=True, path_length=0), critical=True)
                        .add_extension(x509.KeyUsage(
                            digital_signature=True, key_cert_sign=True,
                            crl_sign=True, content_commitment=False,
                            key_encipherment=False, data_encipherment=False,
                            key_agreement=False, encipher_only=False,
                            decipher_only=False), critical=True)
                        .sign(key, hashes.SHA256()))
                _write(self.ca_key_file, _key_pem(key))
                _write(self.ca_file, _cert_pem(cert), 0o644)
            if not os.path.exists(self.client_cert_file):
                cert, key = self._issue('pharos-controller', client=True)
                _write(self.client_key_file, _key_pem(key))
                _write(self.client_cert_file, _cert_pem(cert), 0o644)

    def _load_ca(self):
        with open(self.ca_file, 'rb') as f:
            cert = x509.load_pem_x509_certificate(f.read())
        with open(self.ca_key_file, 'rb') as f:
            key = serialization.load_pem_private_key(f.read(), None)
        return cert, key

    def _issue(self, common_name, client=False, addresses=(), names=()):
        ca_cert, ca_key = self._load_ca()
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.utcnow()
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(
                       NameOID.COMMON_NAME, common_name)]))
                   .issuer_name(ca_cert.subject)
                   .public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + _LEAF_VALIDITY)
                   .add_extension(x509.BasicConstraints(
                       ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage(
                       [ExtendedKeyUsageOID.CLIENT_AUTH if client
                        else ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False))
        sans = [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
        sans += [x509.DNSName(n) for n in names]
        if sans:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(sans), critical=False)
        return builder.sign(ca_key, hashes.SHA256()), key

    def issue_server(self, amphora_id, addresses=()):
        """(cert PEM, key PEM) for an amphora agent."""
        cert, key = self._issue(amphora_id, addresses=addresses,
                                names=[amphora_id])
        return _cert_pem(cert), _key_pem(key)

    def ca_pem(self):
        with open(self.ca_file, 'rb') as f:
            return f.read()

    @property
    def client_cert(self):
        """(cert, key) paths for python-requests."""
        return self.client_cert_file, self.client_key_file
