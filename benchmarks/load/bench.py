#!/usr/bin/python3
"""The load harness: pharos-engine and HAProxy side by side, same members, alternating runs.

Called by run.sh, which documents the options. Reads nothing but the build directory; writes a
temp dir (configs, logs) and the result table (stdout and --results).
"""

import datetime
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import harness
import processes
import proxy_configs
import report
import wrk_result

HERE = os.path.dirname(os.path.abspath(__file__))
PROXIES = harness.PROXIES
# (key, title, listener, new connection per request)
CASES = (
    ("http-ka", "HTTP keep-alive", "http", False),
    ("http-close", "HTTP new connection per request", "http", True),
    ("tcp-ka", "TCP mode, keep-alive", "tcp", False),
)


def parse_args():
    parser = harness.argument_parser(__doc__, HERE, "latest.txt", "seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument("--idle-connections", type=int, default=5000)
    parser.add_argument("--load-cpu", default="1", help="CPUs for wrk, the members and the idle client")
    parser.add_argument("--no-tcp", action="store_true", help="skip the TCP mode case")
    parser.add_argument("--profile", action="store_true",
                        help="also perf-record each proxy during one extra run of each case")
    return parser.parse_args()


class Harness(harness.ProxyHarness):
    def __init__(self, args, workdir):
        super().__init__(args, workdir)
        members = (processes.free_port(), processes.free_port())
        self.ports = {
            "engine": proxy_configs.Ports(members, processes.free_port(), processes.free_port()),
            "haproxy": proxy_configs.Ports(members, processes.free_port(), processes.free_port()),
        }
        self.maxconn = args.idle_connections + 2000
        self.engine_cfg, self.haproxy_cfg = proxy_configs.write_configs(
            workdir, self.ports["engine"], self.ports["haproxy"], self.maxconn)
        self.configs = {"engine": self.engine_cfg, "haproxy": self.haproxy_cfg}

    # ---- processes ----

    def check_configs(self):
        for argv in ([self.engine_bin, "--check-config", self.engine_cfg], ["haproxy", "-c", "-q", "-f", self.haproxy_cfg]):
            done = subprocess.run(argv, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(argv)} rejected the config:\n{done.stdout}{done.stderr}")

    def start_proxies(self, tag):
        for name in PROXIES:
            argv = self.proxy_argv(name, self.configs[name])
            self.proxy[name] = self.supervisor.start(f"{name}-{tag}", self.args.proxy_cpu, argv)
            self.commands[name] = " ".join(self.supervisor.command(self.args.proxy_cpu, argv))
        for name in PROXIES:
            processes.wait_listening(self.ports[name].http, self.proxy[name])
            processes.wait_listening(self.ports[name].tcp, self.proxy[name])

    def stop_proxies(self):
        for name in PROXIES:
            self.supervisor.stop(self.proxy.pop(name))

    def idle_client(self, name, listener, count, with_pid):
        argv = ["/usr/bin/python3", os.path.join(HERE, "idle_connections.py"),
                "--port", str(getattr(self.ports[name], listener)), "--count", str(count)]
        if with_pid:
            argv += ["--pid", str(self.proxy[name].pid)]
        done = self.supervisor.run(self.args.load_cpu, argv, timeout_s=120 + count / 50)
        if done.returncode != 0:
            raise RuntimeError(f"idle client against {name}/{listener} failed:\n{done.stderr}")
        return json.loads(done.stdout)

    # ---- phases ----

    def sanity_check(self):
        """Both members must answer through both listeners of both proxies."""
        for name in PROXIES:
            for listener in ("http", "tcp"):
                seen = self.idle_client(name, listener, 4, False)["members"]
                if sorted(seen) != ["member-1", "member-2"]:
                    raise RuntimeError(f"{name}/{listener}: round robin reached {seen}, expected both members")

    def run_case(self, name, case, duration, record, round_index=None):
        """One wrk run; recorded runs go to self.runs."""
        key, _title, listener, close = case
        url = f"http://127.0.0.1:{getattr(self.ports[name], listener)}/"
        argv = wrk_result.command(url, duration, self.args.connections, close)
        if record:
            self.commands[f"wrk-{key}"] = " ".join(self.supervisor.command(self.args.load_cpu, argv)).replace(
                f":{getattr(self.ports[name], listener)}/", ":PORT/").replace("Connection: close", "'Connection: close'")
        pid = self.proxy[name].pid
        load = processes.loadavg()
        cpu_before, started = processes.cpu_seconds(pid), time.monotonic()
        done = self.supervisor.run(self.args.load_cpu, argv, timeout_s=duration + 60)
        cpu = (processes.cpu_seconds(pid) - cpu_before) / (time.monotonic() - started)
        if done.returncode != 0:
            raise RuntimeError(f"wrk failed against {name}: {done.stderr}")
        result = wrk_result.parse(done.stdout)
        if self.proxy[name].poll() is not None:
            raise RuntimeError(f"{name} exited during {key}")
        if not record:
            return result
        for problem in result.problems():
            self.problems.append(f"{name} {key} round {round_index}: {problem}")
        self.runs.append({"proxy": name, "case": key, "round": round_index, "loadavg": load,
                          "rps": result.rps, "p50_us": result.p50_us, "p99_us": result.p99_us,
                          "cpu": cpu, "errors": result.problems(), "requests": result.requests})
        print(f"  round {round_index} {key:10s} {name:7s} load {load:15s} {result.rps:10.0f} req/s  "
              f"p50 {result.p50_us / 1000:6.2f} ms  p99 {result.p99_us / 1000:6.2f} ms  proxy cpu {cpu * 100:5.1f}%"
              + (f"  ERRORS: {', '.join(result.problems())}" if result.problems() else ""), flush=True)
        return result

    def load_phase(self, cases):
        super().load_phase(cases)
        return {name: processes.proc_status(self.proxy[name].pid)["VmHWM"] for name in PROXIES}

    def profile_phase(self, cases):
        if not shutil.which("perf"):
            print("perf not installed; skipping --profile")
            return
        out_dir = os.path.join(os.path.dirname(self.args.results), "perf")
        os.makedirs(out_dir, exist_ok=True)
        for case in cases:
            for name in PROXIES:
                data = os.path.join(self.workdir, f"perf-{name}-{case[0]}.data")
                recorder = self.supervisor.start(f"perf-{name}-{case[0]}", self.args.load_cpu,
                                                 ["perf", "record", "-F", "499", "-g", "-o", data,
                                                  "-p", str(self.proxy[name].pid)])
                time.sleep(0.5)
                self.run_case(name, case, self.args.duration, record=False)
                recorder.send_signal(signal.SIGINT)
                recorder.wait(timeout=30)
                self.supervisor.stop(recorder)
                path = os.path.join(out_dir, f"{name}-{case[0]}.txt")
                with open(path, "w") as out:
                    out.write(perf_summary(data))
                    if shutil.which("strace"):
                        out.write("\n" + self.syscalls_per_request(name, case))
                print(f"  profile written to {os.path.relpath(path, HERE)}")

    def syscalls_per_request(self, name, case):
        """strace -c over one short wrk run: which syscalls, how many per request (strace slows it)."""
        trace = os.path.join(self.workdir, f"strace-{name}-{case[0]}.txt")
        tracer = self.supervisor.start(f"strace-{name}-{case[0]}", self.args.load_cpu,
                                       ["strace", "-c", "-f", "-o", trace, "-p", str(self.proxy[name].pid)])
        time.sleep(0.5)
        result = self.run_case(name, case, 3, record=False)
        time.sleep(0.2)
        tracer.send_signal(signal.SIGINT)
        tracer.wait(timeout=30)
        self.supervisor.stop(tracer)
        lines = [f"== syscalls per request under strace -c ({result.requests} requests, wrk 3 s)"]
        with open(trace) as counts:
            for line in counts:
                fields = line.split()
                if len(fields) >= 5 and fields[0][0].isdigit() and fields[-1] != "total":
                    calls = int(fields[3])
                    lines.append(f"  {fields[-1]:16s} {calls / max(result.requests, 1):6.2f}")
        return "\n".join(lines) + "\n"

    def idle_phase(self):
        memory = {}
        for name in PROXIES:
            memory[name] = self.idle_client(name, "http", self.args.idle_connections, True)
            print(f"  {name}: {json.dumps(memory[name])}", flush=True)
        return memory


def perf_summary(data):
    """Three views of one perf recording: CPU by binary, hottest symbols, time inside each syscall."""

    def report(extra, keep=lambda line: True, limit=40):
        done = subprocess.run(["perf", "report", "-i", data, "--stdio", "-g", "none"] + extra,
                              capture_output=True, text=True)
        lines = [re.sub(r"(\s+-)+\s*$", "", line.rstrip()) for line in done.stdout.splitlines()
                 if "%" in line and not line.startswith("#")]
        return "\n".join([line for line in lines if keep(line)][:limit])

    syscall = re.compile(r"\] (__x64_sys_\w+|__GI___(writev|readv|ioctl)|epoll_ctl)$")
    return "\n\n".join([
        "== self time by binary\n" + report(["--no-children", "--sort", "dso"]),
        "== self time by symbol (top 40)\n" + report(["--no-children", "--sort", "dso,sym"]),
        "== time in and under each syscall (children)\n" + report(
            ["--children", "--sort", "sym"], keep=lambda line: syscall.search(line) is not None),
    ]) + "\n"


def versions(engine_bin):
    def first_line(argv):
        done = subprocess.run(argv, capture_output=True, text=True)
        return (done.stdout + done.stderr).strip().splitlines()[0]

    with open(engine_bin, "rb") as binary:
        digest = hashlib.sha256(binary.read()).hexdigest()[:12]
    built = datetime.datetime.fromtimestamp(os.path.getmtime(engine_bin)).isoformat(timespec="seconds")
    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "engine": f"{engine_bin} (sha256 {digest}, built {built})",
        "haproxy": first_line(["haproxy", "-v"]),
        "wrk": first_line(["wrk", "-v"]),
        "kernel": platform.release(),
        "cpu": f"{cpu}, {os.cpu_count()} CPUs",
    }


def main():
    args = parse_args()
    harness.install_signal_handlers()
    workdir = tempfile.mkdtemp(prefix="pharos-load-")
    suite = Harness(args, workdir)
    started = datetime.datetime.now().isoformat(timespec="seconds")
    load_at_start = processes.loadavg()
    cases = [case for case in CASES if not (args.no_tcp and case[2] == "tcp")]
    try:
        suite.check_configs()
        suite.start_members(suite.ports["engine"].members)
        suite.start_proxies("load")
        suite.sanity_check()
        print(f"load phase: {args.rounds} rounds x {len(cases)} cases x 2 proxies x {args.duration}s "
              f"(workdir {workdir})", flush=True)
        peak = suite.load_phase(cases)
        if args.profile:
            suite.profile_phase(cases)
        suite.stop_proxies()
        print(f"idle phase: {args.idle_connections} idle keep-alive connections per proxy, fresh processes",
              flush=True)
        suite.start_proxies("idle")
        idle = suite.idle_phase()
        suite.stop_proxies()
    finally:
        suite.supervisor.stop_all()

    text = report.render(
        cases=cases, runs=suite.runs, peak_kib=peak, idle=idle, problems=suite.problems,
        header={
            "started": started,
            "load average at start": load_at_start,
            "load average at end": processes.loadavg(),
            **versions(suite.engine_bin),
            "pinning": f"proxy under test on CPU {args.proxy_cpu}; wrk, both members and the idle client on "
                       f"CPU {args.load_cpu}; nice {args.nice} for every process started",
            "runs": f"{args.rounds} rounds (ABBA order) x {args.duration}s per proxy and case, median taken; "
                    f"{args.warmup}s unrecorded warm-up each; wrk {args.connections} connections, 1 thread",
        },
        commands=suite.commands)
    print(text)
    os.makedirs(os.path.dirname(args.results), exist_ok=True)
    with open(args.results, "w") as out:
        out.write(text)
    shutil.copy(suite.engine_cfg, os.path.join(os.path.dirname(args.results), "engine.json"))
    shutil.copy(suite.haproxy_cfg, os.path.join(os.path.dirname(args.results), "haproxy.cfg"))
    shutil.rmtree(workdir, ignore_errors=True)
    if suite.problems:
        print("FAILED: the load did not go through cleanly:\n  " + "\n  ".join(suite.problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
