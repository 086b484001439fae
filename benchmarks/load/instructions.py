#!/usr/bin/python3
"""User-space instructions per request of pharos-engine builds, counted by callgrind.

The load harness (run.sh) measures time, which on this 2-core machine moves by several percent
from one run to the next. An instruction count does not: the same binary, config and load give
the same count to within 0.1%, whatever else the machine is doing. So this is how a change to
the engine's own work (user space: the engine, libevent, BoringSSL, nghttp2, libc) is compared
before and after, one engine build against another; it says nothing of kernel time, which is
most of a proxy's CPU on loopback, nor of how either compares with HAProxy.

For each build: two pharos-demo-backend members, the engine under `valgrind --tool=callgrind`
with instrumentation off, 2000 warm-up requests with h2load, instrumentation on, N requests,
a dump; the figure is the dump's total over N. The same certificate and config shapes as the
TLS suite (tls_configs.py).

  benchmarks/load/instructions.py --engine NAME=PATH [--engine NAME=PATH ...]
                                  [--case CASE] [--requests N]

Cases: keep-alive HTTP/1.1 over TLS (h2load --h1, 16 connections), the same over plain HTTP,
and HTTP/2 over h2c or TLS with 4 connections x 10 streams (h2c, h2-tls) or 16 x 100
(h2c-c16m100, h2-tls-c16m100), as in the TLS suite. Needs valgrind and h2load.
"""

import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import processes  # noqa: E402
import tls_clients  # noqa: E402
import tls_configs  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WARMUP_REQUESTS = 2000
# (listener, h2load arguments) per case.
CASES = {
    "tls": ("https", ["--h1", "-c16"]),
    "http": ("h2c", ["--h1", "-c16"]),
    "h2c": ("h2c", ["-c4", "-m10"]),
    "h2-tls": ("https", ["-c4", "-m10"]),
    "h2c-c16m100": ("h2c", ["-c16", "-m100"]),
    "h2-tls-c16m100": ("https", ["-c16", "-m100"]),
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", action="append", required=True, metavar="NAME=PATH",
                        help="an engine binary to count (repeat to compare builds)")
    parser.add_argument("--backend", default=os.path.join(ROOT, "build-bench", "bin", "pharos-demo-backend"))
    parser.add_argument("--case", choices=sorted(CASES), default="tls")
    parser.add_argument("--requests", type=int, default=10000)
    return parser.parse_args()


def h2load(supervisor, url, requests, extra):
    done = supervisor.run("1", ["h2load", "-t1", "-n", str(requests)] + extra + [url], timeout_s=600)
    result = tls_clients.parse_h2load(done.stdout)
    problems = result.problems()
    if result.requests != requests:
        problems.append(f"{result.requests} of {requests} requests succeeded")
    if problems:
        raise RuntimeError(f"h2load: {'; '.join(problems)}")


def count(supervisor, workdir, certs, members, name, engine, case, requests):
    listener, extra = CASES[case]
    ports = tls_configs.Ports(members, processes.free_port(), processes.free_port())
    engine_config, _ = tls_configs.write_configs(workdir, ports, ports, certs, 3000)
    out = os.path.join(workdir, f"{name}.callgrind")
    process = supervisor.start(f"engine-{name}", "0", [
        "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
        engine, "--config", engine_config, "--workers", "1"])
    try:
        processes.wait_listening(getattr(ports, listener), process, timeout_s=60)
        scheme = "https" if listener == "https" else "http"
        url = f"{scheme}://127.0.0.1:{getattr(ports, listener)}/"
        h2load(supervisor, url, WARMUP_REQUESTS, extra)
        subprocess.run(["callgrind_control", "--instr=on", str(process.pid)], check=True, capture_output=True)
        h2load(supervisor, url, requests, extra)
        subprocess.run(["callgrind_control", "--dump", str(process.pid)], check=True, capture_output=True)
    finally:
        supervisor.stop(process)
    dumps = sorted(glob.glob(out + ".*"), key=os.path.getmtime)
    with open(dumps[-1]) as dump:
        total = int(re.search(r"^summary: (\d+)", dump.read(), re.M).group(1))
    return total / requests, dumps[-1]


def main():
    args = parse_args()
    workdir = tempfile.mkdtemp(prefix="pharos-instructions-")
    supervisor = processes.Supervisor(workdir, nice=0)
    try:
        certs = tls_configs.make_certificates(workdir)
        members = (processes.free_port(), processes.free_port())
        for index, port in enumerate(members, start=1):
            member = supervisor.start(f"member-{index}", "1", [
                args.backend, "--port", str(port), "--name", f"member-{index}"])
            processes.wait_listening(port, member)
        print(f"case {args.case}, {args.requests} requests after {WARMUP_REQUESTS} unrecorded; "
              f"callgrind dumps in {workdir}")
        for spec in args.engine:
            name, engine = spec.split("=", 1)
            per_request, dump = count(supervisor, workdir, certs, members, name, engine, args.case, args.requests)
            print(f"{name:12s} {per_request:9.0f} instructions per request ({os.path.basename(dump)})", flush=True)
    finally:
        supervisor.stop_all()


if __name__ == "__main__":
    main()
