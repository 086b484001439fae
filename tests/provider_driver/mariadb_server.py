"""A throwaway mariadbd for tests: its own datadir in a temp dir, 127.0.0.1 on
a free port, stopped by PID."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class MariaDB:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix='pharos-mariadb-')
        self.port = _free_port()
        self.proc = None
        self.cnf = os.path.join(self.dir, 'my.cnf')
        self.sock = os.path.join(self.dir, 'mysqld.sock')

    def start(self, timeout=60):
        with open(self.cnf, 'w') as f:
            f.write('[mysqld]\ndatadir=%s/data\nsocket=%s\nport=%d\n'
                    'bind-address=127.0.0.1\nskip-name-resolve\n'
                    'pid-file=%s/mysqld.pid\nlog-error=%s/error.log\n'
                    'innodb_buffer_pool_size=32M\nperformance_schema=OFF\n'
                    'innodb_flush_log_at_trx_commit=2\n'
                    '[client]\nsocket=%s\n' % (self.dir, self.sock, self.port,
                                               self.dir, self.dir, self.sock))
        subprocess.run(['mariadb-install-db', '--defaults-file=' + self.cnf,
                        '--user=root', '--skip-test-db',
                        '--auth-root-authentication-method=socket'],
                       check=True, capture_output=True, timeout=timeout)
        self.proc = subprocess.Popen(
            ['mariadbd', '--defaults-file=' + self.cnf, '--user=root'],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('mariadbd exited: %s' % self._log())
            if subprocess.run(['mariadb-admin', '--defaults-file=' + self.cnf,
                               '-uroot', 'ping'],
                              capture_output=True).returncode == 0:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError('mariadbd did not start: %s' % self._log())
        subprocess.run(['mariadb', '--defaults-file=' + self.cnf, '-uroot', '-e',
                        "CREATE DATABASE pharos; CREATE USER 'pharos'@'127.0.0.1' "
                        "IDENTIFIED BY 'pharos'; GRANT ALL ON pharos.* TO "
                        "'pharos'@'127.0.0.1';"], check=True, timeout=30)
        return 'mysql+pymysql://pharos:pharos@127.0.0.1:%d/pharos' % self.port

    def _log(self):
        try:
            with open(os.path.join(self.dir, 'error.log')) as f:
                return f.read()[-2000:]
        except OSError:
            return ''

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)
