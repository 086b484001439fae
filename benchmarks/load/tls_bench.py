#!/usr/bin/python3
"""The TLS and HTTP/2 suite of the load harness: pharos-engine and HAProxy side by side.

Called by `run.sh --tls`, which documents the options. Same members, same pinning and the same
alternating (ABBA) rounds as bench.py; both proxies serve one certificate generated at run time.
When the engine build cannot serve TERMINATED_HTTPS (or h2c), it says so and the HAProxy half
still runs. Writes results/latest-tls.txt and results/latest-tls.json.
"""

import datetime
import json
import os
import resource
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

import harness
import processes
import tls_clients
import tls_configs
import tls_report
import wrk_result
from bench import versions

HERE = os.path.dirname(os.path.abspath(__file__))
PROXIES = harness.PROXIES


def parse_args():
    parser = harness.argument_parser(__doc__, HERE, "latest-tls.txt", "seconds per run")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (TLS keep-alive)")
    parser.add_argument("--hs-clients", type=int, default=2, help="handshake client processes (all on the load CPU)")
    parser.add_argument("--hs-connections", type=int, default=32, help="concurrent connections per handshake client")
    parser.add_argument("--client-lib", choices=("auto", "boringssl", "openssl"), default="auto",
                        help="TLS library of the handshake client (auto: BoringSSL when installed, the cheaper one)")
    parser.add_argument("--h2", default="4x10,16x100",
                        help="h2load shapes as CLIENTSxSTREAMS, comma-separated (each over TLS and h2c)")
    parser.add_argument("--key-type", choices=("ecdsa-p256", "rsa2048"), default="ecdsa-p256")
    parser.add_argument("--cases", default="", help="comma-separated case keys to run (default: all)")
    parser.add_argument("--load-cpu", default="1", help="CPUs for the clients and the members")
    return parser.parse_args()


def make_cases(args):
    """(key, title, kind, params). kind: wrk, handshake or h2load."""
    cases = [("tls-ka", "TLS 1.3 keep-alive, HTTP/1.1 (wrk)", "wrk", {})]
    for tls in ("1.3", "1.2"):
        cases.append((f"hs-full-{tls}", f"New full handshakes, TLS {tls}", "handshake", {"tls": tls, "resume": False}))
    for tls in ("1.3", "1.2"):
        cases.append((f"hs-resume-{tls}", f"Resumed handshakes (tickets), TLS {tls}", "handshake",
                      {"tls": tls, "resume": True}))
    # TLS 1.3 resumes with tickets only; a TLS 1.2 client without tickets resumes by session ID.
    cases.append(("hs-cache-1.2", "Resumed handshakes (session cache, no tickets), TLS 1.2", "handshake",
                  {"tls": "1.2", "resume": True, "tickets": False}))
    for shape in args.h2.split(","):
        clients, streams = (int(n) for n in shape.lower().split("x"))
        cases.append((f"h2-tls-c{clients}m{streams}", f"HTTP/2 over TLS (ALPN h2), h2load -c{clients} -m{streams}",
                      "h2load", {"listener": "https", "clients": clients, "streams": streams}))
        cases.append((f"h2c-c{clients}m{streams}", f"h2c prior knowledge, h2load -c{clients} -m{streams}",
                      "h2load", {"listener": "h2c", "clients": clients, "streams": streams}))
    if args.cases:
        wanted = set(args.cases.split(","))
        cases = [case for case in cases if case[0] in wanted]
    return cases


def cpu_times():
    """Busy and total jiffies per CPU from /proc/stat: {cpu index: (busy, total)}."""
    out = {}
    with open("/proc/stat") as stat:
        for line in stat:
            if line.startswith("cpu") and line[3].isdigit():
                name, *values = line.split()
                values = [int(v) for v in values[:8]]
                idle = values[3] + values[4]
                out[int(name[3:])] = (sum(values) - idle, sum(values))
    return out


def cpu_busy(before, after, cpus: str):
    """Fraction of the CPUs in the list `cpus` ("1" or "1,2") that was busy between two samples."""
    busy = total = 0
    for cpu in (int(c) for c in cpus.split(",")):
        busy += after[cpu][0] - before[cpu][0]
        total += after[cpu][1] - before[cpu][1]
    return busy / total * len(cpus.split(",")) if total else float("nan")


def children_cpu_s():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class TlsHarness(harness.ProxyHarness):
    def __init__(self, args, workdir):
        super().__init__(args, workdir)
        members = (processes.free_port(), processes.free_port())
        self.ports = {name: tls_configs.Ports(members, processes.free_port(), processes.free_port())
                      for name in PROXIES}
        self.certs = tls_configs.make_certificates(workdir, args.key_type)
        with open(self.certs.certificate) as cert:
            self.cert_fingerprint = ssl.PEM_cert_to_DER_cert(cert.read())
        self.engine_cfg, self.haproxy_cfg = tls_configs.write_configs(
            workdir, self.ports["engine"], self.ports["haproxy"], self.certs, maxconn=4000)
        self.client_bin, self.client_lib = tls_clients.build_handshake_client(workdir, args.client_lib)
        # What each proxy serves: {"https": bool, "h2c": bool}; and why not, for the engine.
        self.serves = {name: {"https": True, "h2c": True} for name in PROXIES}
        self.engine_notes = []
        self.negotiated = {}   # proxy -> listener probe results

    # ---- processes ----

    def start_haproxy(self):
        done = subprocess.run(["haproxy", "-c", "-q", "-f", self.haproxy_cfg], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"haproxy rejected its config:\n{done.stdout}{done.stderr}")
        argv = self.proxy_argv("haproxy", self.haproxy_cfg)
        self.proxy["haproxy"] = self.supervisor.start("haproxy", self.args.proxy_cpu, argv)
        self.commands["haproxy"] = " ".join(self.supervisor.command(self.args.proxy_cpu, argv))
        for port in (self.ports["haproxy"].https, self.ports["haproxy"].h2c):
            processes.wait_listening(port, self.proxy["haproxy"])

    def start_engine(self):
        """Starts the engine with the listeners this build can serve; records what it cannot.

        Tries both listeners, then each alone: an engine that refuses h2c may still serve TLS.
        """
        full = tls_configs.engine_config(self.ports["engine"], self.certs)
        attempts = [("https", "h2c"), ("https",), ("h2c",)]
        reasons = {}
        for listeners in attempts:
            config = dict(full, listeners=[l for l in full["listeners"]
                                           if ("https" if l["protocol"] == "TERMINATED_HTTPS" else "h2c") in listeners])
            config["pools"] = [p for p in full["pools"] if p["id"] in {l["default_pool_id"] for l in config["listeners"]}]
            path = os.path.join(self.workdir, f"engine-{'-'.join(listeners)}.json")
            with open(path, "w") as out:
                json.dump(config, out, indent=2)
            check = subprocess.run([self.engine_bin, "--check-config", path], capture_output=True, text=True)
            if check.returncode != 0:
                reasons["+".join(listeners)] = "--check-config: " + " | ".join(
                    (check.stdout + check.stderr).strip().splitlines()[:4])
                continue
            argv = self.proxy_argv("engine", path)
            engine = self.supervisor.start(f"engine-{'-'.join(listeners)}", self.args.proxy_cpu, argv)
            error = self.wait_engine(engine, listeners)
            if error is None:
                self.proxy["engine"] = engine
                self.engine_cfg = path
                self.commands["engine"] = " ".join(self.supervisor.command(self.args.proxy_cpu, argv))
                self.serves["engine"] = {"https": "https" in listeners, "h2c": "h2c" in listeners}
                break
            self.supervisor.stop(engine)
            reasons["+".join(listeners)] = error
        for listener, label in (("https", "TERMINATED_HTTPS"), ("h2c", "h2c")):
            if not self.serves["engine"][listener] or "engine" not in self.proxy:
                self.serves["engine"][listener] = False
                why = "; ".join(f"[{k}] {v}" for k, v in reasons.items() if listener in k)
                note = f"engine: {label} not supported by this build ({why})"
                self.engine_notes.append(note)
                print(note, flush=True)

    def wait_engine(self, engine, listeners):
        """None once the engine answers on every listener, else why not (its log's last lines)."""
        try:
            for listener in listeners:
                processes.wait_listening(getattr(self.ports["engine"], listener), engine, timeout_s=5)
            if "https" in listeners:
                self.probe_tls("engine")
            if "h2c" in listeners:
                self.probe_h2c("engine")
            return None
        except Exception as failure:  # noqa: BLE001 - any failure means "cannot serve"
            time.sleep(0.2)
            log = os.path.join(self.workdir, f"engine-{'-'.join(listeners)}.log")
            tail = open(log).read().strip().splitlines()[-3:] if os.path.exists(log) else []
            return f"{failure}" + (f"; log: {' | '.join(tail)}" if tail else "")

    # ---- probes: what each proxy negotiates, and that both members answer ----

    def probe_tls(self, name):
        port = self.ports[name].https
        found = {}
        for offer in (["h2", "http/1.1"], ["http/1.1"]):
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            context.set_alpn_protocols(offer)
            members = set()
            for _ in range(4 if offer == ["http/1.1"] else 1):
                with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                    with context.wrap_socket(raw, server_hostname="localhost") as tls:
                        if tls.getpeercert(binary_form=True) != self.cert_fingerprint:
                            raise RuntimeError(f"{name} serves another certificate than the generated one")
                        if offer == ["h2", "http/1.1"]:
                            found.update(protocol=tls.version(), cipher=tls.cipher()[0],
                                         alpn_offered_h2=tls.selected_alpn_protocol())
                            break
                        found["alpn_http1"] = tls.selected_alpn_protocol()
                        tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                        response = b""
                        while chunk := tls.recv(65536):
                            response += chunk
                if not response.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(f"{name} https: unexpected response {response[:60]!r}")
                members.add(response.rsplit(b"\r\n\r\n", 1)[-1].strip().decode())
            if offer == ["http/1.1"] and members != {"member-1", "member-2"}:
                raise RuntimeError(f"{name} https: round robin reached {sorted(members)}, expected both members")
        if found.get("alpn_offered_h2") != "h2":
            raise RuntimeError(f"{name} https: ALPN picked {found.get('alpn_offered_h2')!r} when h2 was offered")
        self.negotiated.setdefault(name, {})["https"] = found

    def probe_h2c(self, name):
        done = subprocess.run(["h2load", "-n4", "-c1", f"http://127.0.0.1:{self.ports[name].h2c}/"],
                              capture_output=True, text=True, timeout=20)
        result = tls_clients.parse_h2load(done.stdout)
        if result.problems() or result.negotiated.get("alpn") != "h2c":
            raise RuntimeError(f"{name} h2c: {result.problems() or result.negotiated}")
        self.negotiated.setdefault(name, {})["h2c"] = result.negotiated

    # ---- one measured run ----

    def run_case(self, name, case, duration, record, round_index=None):
        key, _title, kind, params = case
        listener = params.get("listener", "https")
        if not self.serves[name][listener]:
            return None
        port = getattr(self.ports[name], listener)
        pid = self.proxy[name].pid
        if kind == "wrk":
            argvs = [wrk_result.command(f"https://127.0.0.1:{port}/", duration, self.args.connections, False)]
        elif kind == "h2load":
            scheme = "https" if listener == "https" else "http"
            argvs = [tls_clients.h2load_command(f"{scheme}://127.0.0.1:{port}/", duration,
                                                params["clients"], params["streams"])]
        else:
            argvs = [tls_clients.handshake_command(self.client_bin, port, duration, self.args.hs_connections,
                                                   params["tls"], params["resume"], params.get("tickets", True))
                     for _ in range(self.args.hs_clients)]
        if record and key not in self.commands:
            shown = [" ".join(self.supervisor.command(self.args.load_cpu, argv)).replace(f":{port}/", ":PORT/")
                     .replace(f"--port {port}", "--port PORT") for argv in argvs]
            self.commands[key] = shown[0] + (f"   (x{len(shown)} processes)" if len(shown) > 1 else "")

        load = processes.loadavg()
        members_before = sum(processes.cpu_seconds(m.pid) for m in self.members)
        children_before = children_cpu_s()
        cpus_before = cpu_times()
        proxy_before, started = processes.cpu_user_system(pid), time.monotonic()
        outputs = self.run_parallel(argvs, timeout_s=duration + 60)
        elapsed = time.monotonic() - started
        proxy_after = processes.cpu_user_system(pid)
        proxy_user = (proxy_after[0] - proxy_before[0]) / elapsed
        proxy_system = (proxy_after[1] - proxy_before[1]) / elapsed
        proxy_cpu = proxy_user + proxy_system
        cpus_after = cpu_times()
        client_cpu = (children_cpu_s() - children_before) / elapsed
        members_cpu = (sum(processes.cpu_seconds(m.pid) for m in self.members) - members_before) / elapsed
        if self.proxy[name].poll() is not None:
            raise RuntimeError(f"{name} exited during {key}")

        if kind == "wrk":
            parsed = wrk_result.parse(outputs[0])
            rate, problems, extra = parsed.rps, parsed.problems(), {"p50_us": parsed.p50_us, "p99_us": parsed.p99_us}
        elif kind == "h2load":
            parsed = tls_clients.parse_h2load(outputs[0])
            rate, problems = parsed.rps, parsed.problems()
            extra = {"mean_us": parsed.mean_us, "negotiated": parsed.negotiated}
            want = "h2" if listener == "https" else "h2c"
            if parsed.negotiated.get("alpn") != want:
                problems.append(f"h2load negotiated {parsed.negotiated.get('alpn')!r}, not {want}")
        else:
            parsed = tls_clients.parse_handshakes(outputs)
            rate, problems = parsed.rate, parsed.problems(params["resume"])
            extra = {"handshakes": parsed.handshakes, "reused": parsed.reused, "negotiated": parsed.negotiated,
                     "client_errors": parsed.errors}
            if parsed.negotiated.get("protocol") != f"TLSv{params['tls']}":
                problems.append(f"negotiated {parsed.negotiated.get('protocol')!r}, not TLSv{params['tls']}")
        if not record:
            return rate
        run = {"proxy": name, "case": key, "round": round_index, "loadavg": load, "rate": rate,
               "proxy_cpu": proxy_cpu, "proxy_user": proxy_user, "proxy_system": proxy_system,
               "client_cpu": client_cpu, "members_cpu": members_cpu,
               "proxy_cpu_busy": cpu_busy(cpus_before, cpus_after, self.args.proxy_cpu),
               "load_cpu_busy": cpu_busy(cpus_before, cpus_after, self.args.load_cpu),
               "errors": problems, **extra}
        run["limit"] = tls_report.limit_of(run)
        self.runs.append(run)
        for problem in problems:
            self.problems.append(f"{name} {key} round {round_index}: {problem}")
        print("  " + tls_report.run_line(run, self.args.load_cpu), flush=True)
        return rate

    def run_parallel(self, argvs, timeout_s):
        """Runs the client processes side by side on the load CPU; returns their stdout."""
        running = []
        for argv in argvs:
            process = subprocess.Popen(self.supervisor.command(self.args.load_cpu, argv), stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
            self.supervisor.children.append(process)
            running.append(process)
        outputs = []
        deadline = time.monotonic() + timeout_s
        for process in running:
            try:
                out, err = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                for p in running:
                    self.supervisor.stop(p)
                raise RuntimeError(f"{process.args} did not finish within {timeout_s}s")
            self.supervisor.children.remove(process)
            if process.returncode != 0:
                raise RuntimeError(f"{' '.join(process.args)} failed ({process.returncode}):\n{err}")
            outputs.append(out)
        return outputs


def redacted_engine_config(path):
    """The engine config without the throwaway key and certificate (never written to results/)."""
    with open(path) as src:
        config = json.load(src)
    for listener in config.get("listeners", []):
        container = listener.get("default_tls_container")
        if container:
            for field in ("certificate", "private_key"):
                if field in container:
                    container[field] = f"<PEM generated at run time ({field})>"
    return config


def main():
    args = parse_args()
    harness.install_signal_handlers()
    workdir = tempfile.mkdtemp(prefix="pharos-tls-")
    suite = TlsHarness(args, workdir)
    started = datetime.datetime.now().isoformat(timespec="seconds")
    load_at_start = processes.loadavg()
    cases = make_cases(args)
    try:
        suite.start_members(suite.ports["engine"].members)
        suite.start_haproxy()
        suite.probe_tls("haproxy")
        suite.probe_h2c("haproxy")
        suite.start_engine()
        print(f"TLS load phase: {args.rounds} rounds x {len(cases)} cases x 2 proxies x {args.duration}s "
              f"(workdir {workdir})", flush=True)
        suite.load_phase(cases)
    finally:
        suite.supervisor.stop_all()

    header = {
        "started": started,
        "load average at start": load_at_start,
        "load average at end": processes.loadavg(),
        **versions(suite.engine_bin),
        "h2load": subprocess.run(["h2load", "--version"], capture_output=True, text=True).stdout.strip(),
        "handshake client": f"benchmarks/load/tls_handshake_client.c built with {suite.client_lib}; "
                            f"{args.hs_clients} processes x {args.hs_connections} connections, one GET each, "
                            f"no certificate verification",
        "certificate": f"{args.key_type}, generated at run time, the same file for both proxies",
        "pinning": f"proxy under test on CPU {args.proxy_cpu}; every client and both members on CPU "
                   f"{args.load_cpu}; nice {args.nice} for every process started",
        "runs": f"{args.rounds} rounds (ABBA order) x {args.duration}s per proxy and case, median taken; "
                f"{args.warmup}s unrecorded warm-up each",
    }
    result = tls_report.render(cases=cases, runs=suite.runs, header=header, commands=suite.commands,
                               negotiated=suite.negotiated, engine_notes=suite.engine_notes,
                               problems=suite.problems, load_cpu=args.load_cpu)
    print(result["text"])
    results_dir = os.path.dirname(args.results)
    os.makedirs(results_dir, exist_ok=True)
    with open(args.results, "w") as out:
        out.write(result["text"])
    with open(os.path.splitext(args.results)[0] + ".json", "w") as out:
        json.dump(result["json"], out, indent=2)
        out.write("\n")
    with open(os.path.join(results_dir, "engine-tls.json"), "w") as out:
        json.dump(redacted_engine_config(suite.engine_cfg), out, indent=2)
        out.write("\n")
    with open(suite.haproxy_cfg) as src, open(os.path.join(results_dir, "haproxy-tls.cfg"), "w") as out:
        out.write(src.read().replace(workdir, "$WORKDIR"))
    shutil.rmtree(workdir, ignore_errors=True)
    if suite.problems:
        print("FAILED: the load did not go through cleanly:\n  " + "\n  ".join(suite.problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
