"""What both load suites (bench.py, tls_bench.py) share: the command-line options every run
takes, the signal handling, the binaries, the members, each proxy's command line, and the
alternating (ABBA) rounds that put the engine and HAProxy under the same background load.

A suite subclasses ProxyHarness and provides run_case(name, case, duration, record, round_index).
"""

import argparse
import os
import signal

import processes

PROXIES = ("engine", "haproxy")


def argument_parser(doc, here, results_name, duration_help):
    """The options of every suite; a suite adds its own to the parser it gets back."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--build", required=True)
    parser.add_argument("--duration", type=int, default=10, help=duration_help)
    parser.add_argument("--rounds", type=int, default=3, help="runs per proxy and case (median taken)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of unrecorded load per proxy and case")
    parser.add_argument("--proxy-cpu", default="0")
    parser.add_argument("--nice", type=int, default=-10 if os.geteuid() == 0 else 0)
    parser.add_argument("--results", default=os.path.join(here, "results", results_name))
    return parser


def on_signal(signum, _frame):
    raise SystemExit(f"interrupted by signal {signum}")


def install_signal_handlers():
    """SIGTERM/SIGINT/SIGHUP unwind through the suite's finally block, which stops every process."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)


class ProxyHarness:
    def __init__(self, args, workdir):
        self.args = args
        self.workdir = workdir
        self.supervisor = processes.Supervisor(workdir, args.nice)
        self.engine_bin = os.path.join(args.build, "bin", "pharos-engine")
        self.backend_bin = os.path.join(args.build, "bin", "pharos-demo-backend")
        self.proxy = {}
        self.members = []
        self.runs = []        # one dict per recorded run
        self.commands = {}
        self.problems = []

    def proxy_argv(self, name, config):
        if name == "engine":
            return [self.engine_bin, "--config", config, "--workers", "1", "--drain-timeout", "1"]
        return ["haproxy", "-db", "-f", config]

    def start_members(self, ports):
        """Two demo members on the load CPU, answering "member-N"."""
        for i, port in enumerate(ports, start=1):
            member = self.supervisor.start(f"member-{i}", self.args.load_cpu,
                                           [self.backend_bin, "--port", str(port), "--name", f"member-{i}"])
            processes.wait_listening(port, member)
            self.members.append(member)
        self.commands["members"] = " ".join(self.supervisor.command(
            self.args.load_cpu, [self.backend_bin, "--port", "P", "--name", "member-N"]))

    def run_case(self, name, case, duration, record, round_index=None):
        raise NotImplementedError

    def load_phase(self, cases):
        """A warm-up per proxy and case, then the recorded rounds."""
        for case in cases:
            for name in PROXIES:
                self.run_case(name, case, self.args.warmup, record=False)
        for round_index in range(1, self.args.rounds + 1):
            for case in cases:
                # ABBA order: a drift in background load hits both proxies alike.
                order = PROXIES if round_index % 2 else tuple(reversed(PROXIES))
                for name in order:
                    self.run_case(name, case, self.args.duration, record=True, round_index=round_index)
