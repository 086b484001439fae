"""Certificates and equivalent TLS/HTTP/2 configurations for the two proxies under test.

Both proxies serve the same certificate (generated at run time with the openssl CLI), allow
TLS 1.2 and 1.3 with the same TLS 1.2 cipher list, offer ALPN h2 then http/1.1, keep the same
session cache size and lifetime, and forward to the same two members over HTTP/1.1 with
member connection reuse. One worker thread each; no logging; no inserted headers.
"""

import json
import os
import subprocess
from dataclasses import dataclass

from proxy_configs import TIMEOUT_CONNECT_MS, TIMEOUT_DATA_MS, haproxy_defaults

# TLS 1.2 suites both sides allow: forward-secret AEAD only (the engine's own default set),
# spelled the same for BoringSSL and OpenSSL. TLS 1.3 suites are the library defaults on both.
TLS12_CIPHERS = ":".join([
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
])
SESSION_CACHE_SIZE = 20000
SESSION_TIMEOUT_S = 300
TICKET_KEY_ROTATION_S = 3600
# Key exchange groups offered by the proxies; clients offer X25519 first, so both negotiate it.
CURVES = "X25519:P-256"


@dataclass(frozen=True)
class Ports:
    members: tuple  # the two pharos-demo-backend members
    https: int      # TERMINATED_HTTPS listener (ALPN h2, http/1.1)
    h2c: int        # plaintext HTTP listener that also takes HTTP/2 with prior knowledge


@dataclass(frozen=True)
class Certificates:
    key_type: str     # "ecdsa-p256" or "rsa2048"
    ca: str           # CA certificate (for clients that verify)
    certificate: str  # server certificate, PEM file
    private_key: str  # server key, PEM file
    bundle: str       # certificate then key in one file (HAProxy's `crt`)


def make_certificates(directory: str, key_type: str = "ecdsa-p256") -> Certificates:
    """A throwaway CA and a server certificate for localhost/127.0.0.1, signed by it."""
    def key(path):
        if key_type == "ecdsa-p256":
            algorithm = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
        elif key_type == "rsa2048":
            algorithm = ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
        else:
            raise ValueError(f"unknown key type {key_type}")
        subprocess.run(["openssl", "genpkey", *algorithm, "-out", path], check=True, capture_output=True)

    def path(name):
        return os.path.join(directory, name)

    with open(path("ext.cnf"), "w") as ext:
        ext.write("[req]\ndistinguished_name = dn\n[dn]\n"
                  "[ca]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign\n"
                  "[server]\nbasicConstraints = critical, CA:FALSE\n"
                  "keyUsage = critical, digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\n"
                  "subjectAltName = DNS:localhost, IP:127.0.0.1\n")
    key(path("ca.key"))
    subprocess.run(["openssl", "req", "-x509", "-new", "-key", path("ca.key"), "-subj", "/CN=pharos bench CA",
                    "-days", "2", "-sha256", "-config", path("ext.cnf"), "-extensions", "ca",
                    "-out", path("ca.pem")], check=True, capture_output=True)
    key(path("server.key"))
    subprocess.run(["openssl", "req", "-new", "-key", path("server.key"), "-subj", "/CN=localhost",
                    "-config", path("ext.cnf"), "-out", path("server.csr")], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"),
                    "-CAkey", path("ca.key"), "-CAcreateserial", "-days", "2", "-sha256",
                    "-extfile", path("ext.cnf"), "-extensions", "server", "-out", path("server.pem")],
                   check=True, capture_output=True)
    with open(path("bundle.pem"), "w") as bundle:
        for part in ("server.pem", "server.key"):
            with open(path(part)) as src:
                bundle.write(src.read())
    return Certificates(key_type, path("ca.pem"), path("server.pem"), path("server.key"), path("bundle.pem"))


def engine_config(ports: Ports, certs: Certificates) -> dict:
    """A TERMINATED_HTTPS listener and an HTTP listener with h2c, each with its own pool."""
    with open(certs.certificate) as cert, open(certs.private_key) as key:
        container = {"id": "bench-cert", "certificate": cert.read(), "private_key": key.read()}

    def pool(pool_id):
        return {
            "id": pool_id, "name": pool_id, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
            "admin_state_up": True,
            "members": [{"id": f"{pool_id}-m{i}", "name": f"member-{i}", "address": "127.0.0.1",
                         "protocol_port": port, "weight": 1, "admin_state_up": True}
                        for i, port in enumerate(ports.members, start=1)],
        }

    def listener(listener_id, protocol, port, pool_id, extra):
        return {
            "id": listener_id, "name": listener_id, "protocol": protocol,
            "bind_address": "127.0.0.1", "protocol_port": port, "admin_state_up": True,
            "connection_limit": -1, "timeout_client_data": TIMEOUT_DATA_MS,
            "timeout_member_connect": TIMEOUT_CONNECT_MS, "timeout_member_data": TIMEOUT_DATA_MS,
            "default_pool_id": pool_id, **extra,
        }

    return {
        "version": 1,
        "workers": 1,
        "tls": {"ticket_key_rotation_s": TICKET_KEY_ROTATION_S, "session_cache_size": SESSION_CACHE_SIZE,
                "session_timeout_s": SESSION_TIMEOUT_S},
        "http2": {"max_concurrent_streams": 100},
        "listeners": [
            listener("bench-https", "TERMINATED_HTTPS", ports.https, "bench-https-pool", {
                "default_tls_container": container,
                "tls_versions": ["TLSv1.2", "TLSv1.3"],
                "tls_ciphers": TLS12_CIPHERS,
                "alpn_protocols": ["h2", "http/1.1"],
            }),
            listener("bench-h2c", "HTTP", ports.h2c, "bench-h2c-pool", {"h2c": True}),
        ],
        "pools": [pool("bench-https-pool"), pool("bench-h2c-pool")],
    }


def haproxy_config(ports: Ports, certs: Certificates, maxconn: int) -> str:
    """The same two listeners for HAProxy: `ssl crt` with the same certificate, one thread."""
    members = "\n".join(f"    server member-{i} 127.0.0.1:{port}" for i, port in enumerate(ports.members, start=1))
    return f"""\
# Written by benchmarks/load (TLS suite); no 'log' line anywhere, so nothing is logged.
global
    nbthread 1
    maxconn {maxconn}
    tune.ssl.cachesize {SESSION_CACHE_SIZE}
    tune.ssl.lifetime {SESSION_TIMEOUT_S}
    ssl-default-bind-options ssl-min-ver TLSv1.2
    ssl-default-bind-ciphers {TLS12_CIPHERS}

{haproxy_defaults(maxconn)}
frontend bench-https
    bind 127.0.0.1:{ports.https} ssl crt {certs.bundle} alpn h2,http/1.1 curves {CURVES}
    default_backend bench-https-pool

backend bench-https-pool
    balance roundrobin
{members}

# A plain HTTP bind: HAProxy takes HTTP/2 with prior knowledge on it by its preface.
frontend bench-h2c
    bind 127.0.0.1:{ports.h2c}
    default_backend bench-h2c-pool

backend bench-h2c-pool
    balance roundrobin
{members}
"""


def write_configs(directory, engine_ports: Ports, haproxy_ports: Ports, certs: Certificates, maxconn: int):
    """Writes engine-tls.json and haproxy-tls.cfg into directory; returns their paths."""
    engine_path = os.path.join(directory, "engine-tls.json")
    haproxy_path = os.path.join(directory, "haproxy-tls.cfg")
    with open(engine_path, "w") as out:
        json.dump(engine_config(engine_ports, certs), out, indent=2)
    with open(haproxy_path, "w") as out:
        out.write(haproxy_config(haproxy_ports, certs, maxconn))
    return engine_path, haproxy_path
