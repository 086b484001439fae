"""The engine-config schema as the Python side sees it.

The C++ tests (tests/engine/config) load the same example files through the engine's own
validator; both suites agreeing on every file is what keeps the driver, the agent and the
engine from drifting apart.
"""
import json
import pathlib

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
