"""Type stub for the pybind11 extension built from provider_driver/core/core_module.cc."""
from typing import List, Tuple

class CompileError(Exception):
    errors: List[Tuple[str, str]]

class UnsupportedOption(CompileError):
    """A field valid for Octavia that Pharos does not implement."""

class InvalidConfig(CompileError):
    """A value the engine's validator rejects."""

class HeartbeatError(Exception):
    """str(e) is the reason: bad_signature, replay, malformed, wrong_version."""

def compile_loadbalancer(tree: str) -> str:
    """Compile a load balancer tree (JSON) into the engine config (JSON)."""

def validate_engine_config(config: str) -> List[Tuple[str, str]]:
    """Every problem of an engine config document, as (path, message)."""

def engine_config_schema() -> str: ...

def decode_heartbeat(datagram: bytes, key: bytes, last_sequence: int) -> str:
    """Verify a signed heartbeat and return its payload JSON."""

def encode_heartbeat(payload_json: str, key: bytes) -> bytes:
    """Sign a heartbeat payload as the agent does."""
