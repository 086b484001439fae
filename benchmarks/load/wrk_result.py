"""Runs wrk and turns its text report into numbers."""

import re
from dataclasses import dataclass

_UNITS_US = {"us": 1.0, "ms": 1000.0, "s": 1_000_000.0, "m": 60_000_000.0}


@dataclass
class WrkResult:
    requests: int
    rps: float
    p50_us: float
    p99_us: float
    socket_errors: dict   # connect/read/write/timeout counts
    non_2xx: int          # wrk's "Non-2xx or 3xx responses"

    def problems(self) -> list:
        found = [f"{count} socket {kind} errors" for kind, count in self.socket_errors.items() if count]
        if self.non_2xx:
            found.append(f"{self.non_2xx} non-2xx/3xx responses")
        if self.requests == 0:
            found.append("no requests completed")
        return found


def _latency_us(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"unrecognised wrk latency '{text}'")
    return float(match.group(1)) * _UNITS_US[match.group(2)]


def command(url: str, duration_s: int, connections: int, close: bool) -> list:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration_s}s", "--latency", "--timeout", "5s"]
    if close:
        argv += ["-H", "Connection: close"]
    return argv + [url]


def parse(text: str) -> WrkResult:
    def number(pattern, default=None):
        match = re.search(pattern, text)
        if match is None:
            if default is None:
                raise ValueError(f"wrk output lacks /{pattern}/:\n{text}")
            return default
        return match.group(1)

    errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    match = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if match:
        errors = dict(zip(errors, map(int, match.groups())))
    return WrkResult(
        requests=int(number(r"(\d+) requests in")),
        rps=float(number(r"Requests/sec:\s+([\d.]+)")),
        p50_us=_latency_us(number(r"\n\s+50%\s+(\S+)")),
        p99_us=_latency_us(number(r"\n\s+99%\s+(\S+)")),
        socket_errors=errors,
        non_2xx=int(number(r"Non-2xx or 3xx responses:\s+(\d+)", "0")),
    )
