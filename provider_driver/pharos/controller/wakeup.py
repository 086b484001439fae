"""Wake-ups from the driver (octavia-api's process) to the controllers
(octavia-driver-agent's process, possibly on other hosts).

The driver stores a new desired version, then sends one UDP datagram to each
controller; a controller that receives it runs a reconcile pass at once. The
datagram carries no state (only the load balancer id, for logs): the store
stays the one source of truth and the controller's periodic pass stays the
level-triggered safety net, so a lost or forged wake-up costs at most one
reconcile_interval, or one extra pass.
"""
import select
import socket
import threading

from oslo_log import log as logging

LOG = logging.getLogger(__name__)

_PREFIX = b'pharos-wakeup '


def _split(target):
    """'host:port' or '[v6]:port' -> (host, port)."""
    host, _, port = target.strip().rpartition(':')
    return host.strip('[]'), int(port)


def targets(conf):
    """Where the driver sends wake-ups: [(host, port)], empty if off."""
    opts = conf.pharos
    if not opts.wakeup_port:
        return []
    if opts.wakeup_targets:
        return [_split(t) for t in opts.wakeup_targets if t.strip()]
    return [(opts.wakeup_bind, opts.wakeup_port)]


def notify(conf, lb_id):
    """Send a wake-up to every controller. Never raises, never blocks: the
    change is already stored and the poll will find it anyway."""
    payload = _PREFIX + (lb_id or '').encode()[:64]
    for host, port in targets(conf):
        try:
            family = socket.AF_INET6 if ':' in host else socket.AF_INET
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.setblocking(False)
                sock.sendto(payload, (host, port))
        except OSError as e:
            LOG.debug('pharos: wake-up to %s:%s not sent: %s', host, port, e)


class Waker:
    """What the reconcile loop waits on: a wake-up datagram, a local poke
    (a worker finished, the controller stops), or its poll timeout."""

    def __init__(self, conf, sock=None):
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._reasons = []
        self.received = 0
        self.sock = sock
        if sock is None and conf.pharos.wakeup_port:
            self.sock = self._bind(conf.pharos.wakeup_bind,
                                   conf.pharos.wakeup_port)
        self._thread = None

    @staticmethod
    def _bind(host, port):
        family = socket.AF_INET6 if ':' in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.bind((host, port))
        except OSError as e:
            # e.g. another controller on this host has the port: poll only
            LOG.warning('pharos: cannot receive wake-ups on %s:%d (%s); '
                        'polling only', host, port, e)
            sock.close()
            return None
        return sock

    @property
    def address(self):
        return self.sock.getsockname() if self.sock else None

    def start(self, exit_event):
        """Receive wake-ups until exit_event, which also wakes the loop."""
        self._thread = threading.Thread(target=self._receive,
                                        args=(exit_event,),
                                        name='pharos-wakeup', daemon=True)
        self._thread.start()

    def _receive(self, exit_event):
        while not exit_event.is_set():
            if self.sock is None:
                exit_event.wait(1.0)
                continue
            try:
                ready, _, _ = select.select([self.sock], [], [], 0.5)
                if not ready:
                    continue
                datagram = self.sock.recv(512)
            except OSError as e:
                if exit_event.is_set():
                    break
                LOG.warning('pharos: wake-up socket failed: %s', e)
                exit_event.wait(0.5)
                continue
            if datagram.startswith(_PREFIX):
                self.received += 1
                self.poke('wake-up for %s' % datagram[len(_PREFIX):].decode(
                    errors='replace'))
        self.poke('stopping')

    def poke(self, reason):
        with self._lock:
            self._reasons.append(reason)
        self._event.set()

    def wait(self, timeout):
        """Block until poked or `timeout`; returns the reasons (empty on
        timeout)."""
        self._event.wait(timeout)
        self._event.clear()
        with self._lock:
            reasons, self._reasons = self._reasons, []
        return reasons

    def close(self):
        if self._thread is not None:
            self._thread.join(2)
        if self.sock is not None:
            self.sock.close()
            self.sock = None
