"""Private network namespaces for controller tests (root only): a bridge
namespace standing in for pharos-net and member namespaces running the demo
backend. Everything is removed in teardown, processes by PID."""
import os
import subprocess
import time
import uuid

from conftest import REPO

DEMO_BACKEND = os.path.join(os.environ.get('PHAROS_BUILD_DIR', os.path.join(REPO, 'build')),
                            'bin', 'pharos-demo-backend')


def sh(*args, check=True):
    return subprocess.run(list(args), check=check, capture_output=True, text=True,
                          timeout=30)


class TestNet:
    def __init__(self, prefix='10.252.0'):
        tag = uuid.uuid4().hex[:6]
        self.prefix = prefix
        self.bridge_ns = 'pht-br-' + tag
        self.tag = tag
        self.namespaces = []
        self.procs = {}

    def up(self):
        ns = self.bridge_ns
        sh('ip', 'netns', 'add', ns)
        self.namespaces.append(ns)
        sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')
        sh('ip', '-n', ns, 'link', 'add', 'br-pharos', 'type', 'bridge')
        sh('ip', '-n', ns, 'addr', 'add', self.prefix + '.1/24', 'dev', 'br-pharos')
        sh('ip', '-n', ns, 'link', 'set', 'br-pharos', 'up')
        return self

    def add_member(self, n):
        ns = 'pht-m%d-%s' % (n, self.tag)
        sh('ip', 'netns', 'add', ns)
        self.namespaces.insert(0, ns)
        sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')
        sh('ip', '-n', self.bridge_ns, 'link', 'add', 'vm%d' % n, 'type', 'veth',
           'peer', 'name', 'eth0', 'netns', ns)
        sh('ip', '-n', self.bridge_ns, 'link', 'set', 'vm%d' % n, 'master',
           'br-pharos', 'up')
        sh('ip', '-n', ns, 'addr', 'add', '%s.%d/24' % (self.prefix, 20 + n), 'dev', 'eth0')
        sh('ip', '-n', ns, 'link', 'set', 'eth0', 'up')
        self.start_member(n)
        return '%s.%d' % (self.prefix, 20 + n)

    def start_member(self, n):
        ns = 'pht-m%d-%s' % (n, self.tag)
        self.procs[n] = subprocess.Popen(
            ['ip', 'netns', 'exec', ns, DEMO_BACKEND, '--address',
             '%s.%d' % (self.prefix, 20 + n), '--port', '8080', '--name', 'member-%d' % n],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.curl('http://%s.%d:8080/' % (self.prefix, 20 + n), timeout=1):
                return
            time.sleep(0.05)
        raise RuntimeError('demo backend %d did not start' % n)

    def stop_member(self, n):
        proc = self.procs.pop(n, None)
        if proc:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def curl(self, url, timeout=3):
        out = subprocess.run(['ip', 'netns', 'exec', self.bridge_ns, 'curl', '-s',
                              '-m', str(timeout), url], capture_output=True, text=True,
                             timeout=timeout + 5)
        return out.stdout if out.returncode == 0 else None

    def down(self):
        for n in list(self.procs):
            self.stop_member(n)
        for ns in self.namespaces:
            sh('ip', 'netns', 'del', ns, check=False)
        self.namespaces = []
