"""The engine-config schema as the Python side sees it.

The C++ tests (tests/engine/config) load the same example files through the engine's own
validator; both suites agreeing on every file is what keeps the driver, the agent and the
engine from drifting apart.
"""
import json
import os
import pathlib
import re
import shutil
import subprocess

import jsonschema
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO / "schema" / "engine-config.schema.json"
EXAMPLES = REPO / "schema" / "examples"

VALID = sorted(EXAMPLES.glob("*.json"))
INVALID = sorted((EXAMPLES / "invalid").glob("*.json"))
# Documents the schema accepts but the engine rejects: the checks a schema cannot express
# (references between ids, unique binds, protocol pairs, exact IP/CIDR syntax).
SEMANTIC_INVALID = sorted((EXAMPLES / "semantic-invalid").glob("*.json"))

# What engine/config/json_schema.cc implements; anything else would be checked by Python only.
CPP_KEYWORDS = {
    "$schema", "$id", "$comment", "$defs", "$ref", "title", "description", "default",
    "examples", "deprecated", "readOnly", "writeOnly", "type", "properties", "required",
    "additionalProperties", "items", "enum", "const", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "minLength", "maxLength", "minItems", "maxItems", "uniqueItems",
    "pattern", "allOf", "anyOf", "oneOf", "not",
}
# Keywords whose value is a map of name -> subschema, or a list of subschemas.
SCHEMA_MAPS = {"properties", "$defs"}
SCHEMA_LISTS = {"allOf", "anyOf", "oneOf"}
SCHEMA_VALUES = {"additionalProperties", "items", "not"}


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def schema():
    return load(SCHEMA_PATH)


@pytest.fixture(scope="module")
def validator(schema):
    return jsonschema.Draft202012Validator(schema)


def subschemas(node, where="#"):
    """Yields (location, subschema) for every schema object in the document."""
    if not isinstance(node, dict):
        return
    yield where, node
    for key, value in node.items():
        if key in SCHEMA_MAPS:
            for name, sub in value.items():
                yield from subschemas(sub, f"{where}/{key}/{name}")
        elif key in SCHEMA_LISTS:
            for i, sub in enumerate(value):
                yield from subschemas(sub, f"{where}/{key}/{i}")
        elif key in SCHEMA_VALUES:
            yield from subschemas(value, f"{where}/{key}")


def test_schema_is_valid_draft_2020_12(schema):
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_schema_uses_only_keywords_the_engine_implements(schema):
    for where, node in subschemas(schema):
        unknown = set(node) - CPP_KEYWORDS
        assert not unknown, f"{where} uses {sorted(unknown)}, which the C++ validator lacks"


def test_every_ref_resolves(schema, validator):
    for where, node in subschemas(schema):
        if "$ref" in node:
            assert node["$ref"].startswith("#/"), where
            validator.resolver.resolve(node["$ref"])


def test_objects_reject_unknown_fields(schema):
    for where, node in subschemas(schema):
        if node.get("type") == "object":
            assert node.get("additionalProperties") is False, where


def test_there_are_examples():
    assert len(VALID) >= 3 and len(INVALID) >= 3 and len(SEMANTIC_INVALID) >= 3


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_example_validates(validator, path):
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(load(path))]
    assert errors == []


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_example_fails(validator, path):
    assert list(validator.iter_errors(load(path))), f"{path.name} unexpectedly validates"


@pytest.mark.parametrize("path", SEMANTIC_INVALID, ids=lambda p: p.name)
def test_semantic_invalid_example_passes_schema(validator, path):
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(load(path))]
    assert errors == [], "semantic-invalid examples must fail only the engine's own checks"


@pytest.mark.parametrize("value,ok", [
    (-1, True), (1, True), (2147483647, True), (0, False), (-2, False), (2147483648, False),
])
def test_connection_limit(validator, value, ok):
    doc = load(EXAMPLES / "http-two-members.json")
    doc["listeners"][0]["connection_limit"] = value
    assert validator.is_valid(doc) is ok


@pytest.mark.parametrize("value,ok", [
    ("true", True), ("false", True), (True, True), (False, True), ("yes", False), (1, False),
])
def test_insert_header_values(validator, value, ok):
    doc = load(EXAMPLES / "http-two-members.json")
    doc["listeners"][0]["insert_headers"] = {"X-Forwarded-Proto": value}
    assert validator.is_valid(doc) is ok


@pytest.mark.parametrize("value,ok", [
    ("200", True), ("200,202", True), ("200-204", True), ("2xx", False), ("200,", False),
    ("200-", False), ("600", False), ("200, 202", False),
])
def test_expected_codes(validator, value, ok):
    doc = load(EXAMPLES / "all-fields.json")
    doc["pools"][0]["healthmonitor"]["expected_codes"] = value
    assert validator.is_valid(doc) is ok


# ---- TLS: the TERMINATED_HTTPS example and its test certificates ----------------

HTTPS_EXAMPLE = EXAMPLES / "https-two-members.json"
MAKE_CERTS = EXAMPLES / "make-test-certs.sh"
ENGINE = pathlib.Path(os.environ.get("PHAROS_BUILD_DIR", REPO / "build")) / "bin" / "pharos-engine"


@pytest.fixture(scope="module")
def https_copy(tmp_path_factory):
    """The HTTPS example beside a fresh certs/ made by make-test-certs.sh."""
    out = tmp_path_factory.mktemp("https-example")
    shutil.copy(HTTPS_EXAMPLE, out / HTTPS_EXAMPLE.name)
    subprocess.run([str(MAKE_CERTS), str(out / "certs")], check=True, capture_output=True)
    return out


def test_https_example_is_what_the_docs_say():
    doc = load(HTTPS_EXAMPLE)
    listener = doc["listeners"][0]
    assert listener["protocol"] == "TERMINATED_HTTPS"
    assert (listener["bind_address"], listener["protocol_port"]) == ("127.0.0.1", 18443)
    assert listener["alpn_protocols"] == ["h2", "http/1.1"]
    assert not listener["default_tls_container"]["file"].startswith("/")
    members = doc["pools"][0]["members"]
    assert [(m["address"], m["protocol_port"]) for m in members] == [
        ("127.0.0.1", 18481), ("127.0.0.1", 18482)]


@pytest.mark.parametrize("value,ok", [
    ("certs/server.pem", True), ("/etc/pharos/server.pem", True), ("server.pem", True),
    ("", False),
])
def test_tls_container_file_may_be_relative(validator, value, ok):
    doc = load(HTTPS_EXAMPLE)
    doc["listeners"][0]["default_tls_container"] = {"file": value}
    assert validator.is_valid(doc) is ok


def test_no_private_key_is_committed():
    tracked = subprocess.run(["git", "-C", str(REPO), "ls-files", "schema"],
                             capture_output=True, text=True).stdout.split()
    for name in tracked:
        path = REPO / name
        if path.is_file() and path.stat().st_size < 1_000_000:
            assert "PRIVATE KEY-----" not in path.read_text(errors="replace") or \
                name.endswith((".md", ".sh", ".py")), f"{name} holds a private key"


@pytest.mark.parametrize("bundle,key_type", [
    ("server-ecdsa.pem", "ec"), ("server-rsa.pem", "rsa"),
])
def test_make_test_certs_bundles(https_copy, bundle, key_type):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    text = (https_copy / "certs" / bundle).read_bytes()
    blocks = re.findall(rb"-----BEGIN ([A-Z ]+)-----", text)
    assert blocks == [b"CERTIFICATE", b"CERTIFICATE", b"PRIVATE KEY"]  # cert, chain, key
    certs = [x509.load_pem_x509_certificate(b) for b in re.findall(
        rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n", text, re.S)]
    key = serialization.load_pem_private_key(re.search(
        rb"-----BEGIN PRIVATE KEY-----.*?-----END PRIVATE KEY-----\n", text, re.S).group(0), None)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    assert key.public_key().public_bytes(serialization.Encoding.DER, spki) == \
        certs[0].public_key().public_bytes(serialization.Encoding.DER, spki)
    if key_type == "ec":
        assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    else:
        assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    san = certs[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert "127.0.0.1" in {str(a) for a in san.get_values_for_type(x509.IPAddress)}
    assert certs[0].issuer == certs[1].subject  # the chain is the issuing intermediate
    ca = x509.load_pem_x509_certificate((https_copy / "certs" / "ca.pem").read_bytes())
    assert certs[1].issuer == ca.subject
    crl = x509.load_pem_x509_crl((https_copy / "certs" / "ca.crl.pem").read_bytes())
    revoked = x509.load_pem_x509_certificate(
        (https_copy / "certs" / "client-revoked.pem").read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(revoked.serial_number) is not None


def test_https_example_passes_engine_check_config(https_copy):
    if not ENGINE.exists():
        pytest.skip(f"{ENGINE} is not built")
    proc = subprocess.run([str(ENGINE), "--check-config", str(https_copy / HTTPS_EXAMPLE.name)],
                          capture_output=True, text=True, timeout=60)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0 and ("TERMINATED_HTTPS listeners are not supported" in output or
                                 "is not an absolute path" in output):
        pytest.skip(f"{ENGINE} predates TLS termination: {output.strip()}")
    assert proc.returncode == 0, output
