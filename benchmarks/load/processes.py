"""Starting, pinning, watching and stopping the processes of one harness run.

Every process is started through Supervisor.start() and killed by its PID in stop_all(), which
the harness calls from a finally block (and on SIGTERM/SIGINT/SIGHUP).
"""

import os
import signal
import socket
import subprocess
import time

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A port the kernel just handed out on 127.0.0.1 (closed again, so reusable at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_listening(port: int, process: subprocess.Popen, timeout_s: float = 10.0):
    """Returns once 127.0.0.1:port accepts a connection; raises if the process died or time ran out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout_s}s")


def proc_status(pid: int) -> dict:
    """/proc/PID/status memory lines in KiB: VmRSS, VmHWM."""
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return values


def cpu_user_system(pid: int) -> tuple:
    """User and system CPU time of the whole process (all threads) so far, in seconds."""
    with open(f"/proc/{pid}/stat") as stat:
        # The command name may hold spaces; fields after ')' are fixed.
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the whole process (all threads) so far."""
    return sum(cpu_user_system(pid))


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def loadavg() -> str:
    with open("/proc/loadavg") as load:
        return " ".join(load.read().split()[:3])


class Supervisor:
    """Owns the child processes; pins each to a CPU list and optionally raises its priority."""

    def __init__(self, log_dir: str, nice: int):
        self.log_dir = log_dir
        self.nice = nice
        self.children = []

    def command(self, cpus: str, argv: list) -> list:
        prefix = ["taskset", "-c", cpus]
        if self.nice:
            prefix += ["nice", "-n", str(self.nice)]
        return prefix + argv

    def start(self, name: str, cpus: str, argv: list) -> subprocess.Popen:
        """Starts argv pinned to cpus; taskset and nice exec, so the PID is the program's own."""
        log = open(os.path.join(self.log_dir, f"{name}.log"), "w")
        process = subprocess.Popen(self.command(cpus, argv), stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
        log.close()
        self.children.append(process)
        return process

    def run(self, cpus: str, argv: list, timeout_s: float) -> subprocess.CompletedProcess:
        """Runs a bounded foreground command (wrk, the idle client) and returns its output."""
        process = subprocess.Popen(self.command(cpus, argv), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        self.children.append(process)
        try:
            out, err = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.stop(process)
            raise RuntimeError(f"{argv[0]} did not finish within {timeout_s}s")
        self.children.remove(process)
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)

    def stop(self, process: subprocess.Popen):
        """SIGTERM, then SIGKILL after 3 s, by PID only."""
        if process.poll() is None:
            try:
                os.kill(process.pid, signal.SIGTERM)
                process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
            except ProcessLookupError:
                pass
        if process in self.children:
            self.children.remove(process)

    def stop_all(self):
        for process in list(reversed(self.children)):
            self.stop(process)
