"""The load clients of the TLS suite: command lines and output parsing.

- wrk over https (keep-alive requests; TLS 1.3, wrk's OpenSSL offers it first),
- h2load (HTTP/2 over TLS with ALPN h2, and h2c with prior knowledge),
- tls_handshake_client (tls_handshake_client.c, built here at run time): new connections with
  one request each, full or resumed handshakes, TLS 1.2 or 1.3 pinned on the client.
"""

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
BORINGSSL_INCLUDE = "/usr/include/android"
BORINGSSL_LIB = "/usr/lib/x86_64-linux-gnu/android"


def build_handshake_client(out_dir: str, library: str = "auto") -> tuple:
    """Compiles tls_handshake_client.c into out_dir; returns (path, library used).

    BoringSSL (Debian's android-libboringssl-dev, which the engine links too) makes the cheaper
    client per handshake than OpenSSL 3, so it is preferred when its headers are there.
    """
    source = os.path.join(HERE, "tls_handshake_client.c")
    binary = os.path.join(out_dir, "tls_handshake_client")
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise RuntimeError("no C compiler (cc) to build tls_handshake_client")
    if library == "auto":
        library = "boringssl" if os.path.exists(os.path.join(BORINGSSL_INCLUDE, "openssl", "ssl.h")) else "openssl"
    argv = [compiler, "-O2", "-Wall", "-o", binary, source]
    if library == "boringssl":
        argv += ["-DWITH_BORINGSSL", f"-I{BORINGSSL_INCLUDE}", f"-L{BORINGSSL_LIB}", f"-Wl,-rpath,{BORINGSSL_LIB}"]
    argv += ["-lssl", "-lcrypto"]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"building tls_handshake_client failed:\n{' '.join(argv)}\n{done.stderr}")
    return binary, library


# ---- the handshake client ----

def handshake_command(binary: str, port: int, duration_s: float, connections: int, tls: str,
                      resume: bool, tickets: bool = True) -> list:
    """tickets=False (TLS 1.2): the client offers no ticket extension, so it resumes from the
    server's session cache by session ID."""
    argv = [binary, "--port", str(port), "--duration", str(duration_s), "--connections", str(connections),
            "--tls", tls]
    return argv + (["--resume"] if resume else []) + ([] if tickets else ["--no-tickets"])


@dataclass
class HandshakeResult:
    handshakes: int
    reused: int
    responses_ok: int
    seconds: float          # longest of the client processes
    client_cpu_s: float     # their own user+system time
    errors: dict
    negotiated: dict        # protocol, cipher, group, alpn, library
    last_error: str = ""

    @property
    def rate(self) -> float:
        return self.handshakes / self.seconds if self.seconds else 0.0

    def problems(self, resume: bool) -> list:
        found = [f"{count} {kind} errors" for kind, count in self.errors.items() if count]
        if self.handshakes == 0:
            found.append("no handshake completed")
        if self.responses_ok != self.handshakes:
            found.append(f"{self.handshakes - self.responses_ok} handshakes without a 200 response")
        if resume and self.handshakes and self.reused < 0.95 * self.handshakes:
            found.append(f"only {self.reused} of {self.handshakes} handshakes resumed")
        if not resume and self.reused:
            found.append(f"{self.reused} handshakes resumed in a full-handshake run")
        if found and self.last_error:
            found.append(f"last error: {self.last_error}")
        return found


def parse_handshakes(outputs: list) -> HandshakeResult:
    """Sums the JSON reports of several client processes run side by side."""
    reports = [json.loads(text) for text in outputs]
    total = HandshakeResult(0, 0, 0, 0.0, 0.0, {"connect": 0, "tls": 0, "http": 0, "unfinished": 0}, {})
    for r in reports:
        total.handshakes += r["handshakes"]
        total.reused += r["reused"]
        total.responses_ok += r["responses_ok"]
        total.seconds = max(total.seconds, r["seconds"])
        total.client_cpu_s += r["cpu_user_s"] + r["cpu_sys_s"]
        total.errors["connect"] += r["connect_errors"]
        total.errors["tls"] += r["tls_errors"]
        total.errors["http"] += r["http_errors"]
        total.errors["unfinished"] += r["unfinished"]
        total.last_error = r["last_error"] or total.last_error
        if r["protocol"]:
            total.negotiated = {k: r[k] for k in ("protocol", "cipher", "group", "alpn", "library")}
    return total


# ---- h2load ----

def h2load_command(url: str, duration_s: int, clients: int, streams: int, warmup_s: int = 1) -> list:
    # One thread: the load side has one CPU. -D runs for a duration after the warm-up.
    return ["h2load", "-t1", f"-c{clients}", f"-m{streams}", "-D", str(duration_s),
            "--warm-up-time", str(warmup_s), url]


@dataclass
class H2loadResult:
    requests: int
    rps: float
    mean_us: float
    max_us: float
    failed: int
    errored: int
    timeout: int
    non_2xx: int
    negotiated: dict = field(default_factory=dict)

    def problems(self) -> list:
        found = []
        for kind in ("failed", "errored", "timeout"):
            if getattr(self, kind):
                found.append(f"{getattr(self, kind)} requests {kind}")
        if self.non_2xx:
            found.append(f"{self.non_2xx} non-2xx responses")
        if self.requests == 0:
            found.append("no requests completed")
        return found


_UNITS_US = {"us": 1.0, "ms": 1000.0, "s": 1_000_000.0}


def _us(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    return float(match.group(1)) * _UNITS_US[match.group(2)] if match else float("nan")


def parse_h2load(text: str) -> H2loadResult:
    finished = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", text)
    counts = re.search(r"requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, "
                       r"(\d+) errored, (\d+) timeout", text)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    timing = re.search(r"time for request:\s+(\S+)\s+(\S+)\s+(\S+)", text)
    if not (finished and counts and codes):
        raise ValueError(f"unrecognised h2load output:\n{text}")
    negotiated = {}
    for key, pattern in (("protocol", r"TLS Protocol: (\S+)"), ("cipher", r"Cipher: (\S+)"),
                         ("group", r"Server Temp Key: (\S+)"), ("alpn", r"Application protocol: (\S+)")):
        match = re.search(pattern, text)
        if match:
            negotiated[key] = match.group(1)
    return H2loadResult(
        requests=int(counts.group(2)), rps=float(finished.group(1)),
        mean_us=_us(timing.group(3)) if timing else float("nan"),
        max_us=_us(timing.group(2)) if timing else float("nan"),
        failed=int(counts.group(3)), errored=int(counts.group(4)), timeout=int(counts.group(5)),
        non_2xx=sum(int(codes.group(i)) for i in (2, 3, 4)), negotiated=negotiated)
