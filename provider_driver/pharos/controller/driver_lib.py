"""octavia-lib's DriverLibrary (the octavia-driver-agent sockets) with the
exchange itself replaced, same wire format (length line, JSON).

octavia-lib 2.x sleeps 10 ms after every byte of the length line and every
chunk of the reply (about 30 ms per call, more for a large load balancer read
back through the get socket), and gives up after 5 s without a reply: the
driver agent writes a status document row by row with a commit each, so the
report of a thousand members takes longer than that, and octavia-lib's
timeout made the controller send it all again.
"""
import socket
import time

from octavia_lib.api.drivers import driver_lib
from octavia_lib.api.drivers import exceptions as driver_exceptions
from oslo_serialization import jsonutils

# seconds allowed for one call, reply included
TIMEOUT = 120.0


class DriverLibrary(driver_lib.DriverLibrary):

    def __init__(self, timeout=TIMEOUT, **kwargs):
        self.timeout = timeout
        super().__init__(**kwargs)

    def _send(self, socket_path, data):
        payload = jsonutils.dump_as_bytes(data)
        deadline = time.monotonic() + self.timeout
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(self.timeout)
            sock.connect(socket_path)
            sock.sendall(b'%d\n' % len(payload) + payload)
            return jsonutils.loads(_recv(sock, deadline))


def _recv(sock, deadline):
    """One length-prefixed reply; blocks in recv, never sleeps."""
    buf = b''
    while b'\n' not in buf:
        buf += _chunk(sock, deadline, 64)
        if b'\n' not in buf and len(buf) > 32:
            raise driver_exceptions.DriverError(
                operator_fault_string='bad reply from the driver agent')
    size, _, body = buf.partition(b'\n')
    size = int(size)
    parts = [body]
    got = len(body)
    while got < size:
        part = _chunk(sock, deadline, min(size - got, 1 << 20))
        parts.append(part)
        got += len(part)
    return b''.join(parts)


def _chunk(sock, deadline, limit):
    left = deadline - time.monotonic()
    if left <= 0:
        raise driver_exceptions.DriverAgentTimeout(
            fault_string='the driver agent did not answer in time')
    sock.settimeout(left)
    data = sock.recv(limit)
    if not data:
        raise ConnectionError('the driver agent closed the connection')
    return data
