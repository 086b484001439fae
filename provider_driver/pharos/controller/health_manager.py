"""Health manager: receives the amphorae's signed UDP heartbeats.

A heartbeat is verified with the agents' own codec (`_core.decode_heartbeat`,
HMAC + sequence + timestamp) against the stored last sequence, recorded with a
compare-and-set (so two health managers never both accept one), and turned
into member operating statuses and listener statistics for Octavia. Amphorae
silent beyond heartbeat_timeout are marked MISSING and their load balancer
ERROR (no failover yet).
"""
import calendar
import json
import socket
import time

from oslo_log import log as logging

from pharos import _core
from pharos.controller import status as st

LOG = logging.getLogger(__name__)

_IP_FREEBIND = 15   # Linux: bind before the address exists (local compute)


def bind_socket(host, port):
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.setsockopt(socket.SOL_IP, _IP_FREEBIND, 1)
    except OSError:
        pass
    sock.bind((host, port))
    return sock


def _peek_amphora_id(datagram):
    """Unauthenticated look at the amphora id, only to find its sequence."""
    try:
        return json.loads(datagram[4:-32].decode()).get('amphora_id')
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None


class HealthManager:
    def __init__(self, conf, store, lib, sock=None):
        self.conf = conf
        self.store = store
        self.lib = lib
        self.key = conf.pharos.heartbeat_key.encode()
        self.sock = sock or bind_socket(conf.pharos.controller_bind,
                                        conf.pharos.heartbeat_port)
        self.sock.settimeout(0.5)
        self._reported = {}      # amphora id -> last operating doc sent
        self.counters = {'accepted': 0, 'rejected': 0, 'stale': 0,
                         'unknown': 0}
        self._last_sweep = 0.0
        self.last_payload = {}   # amphora id -> last accepted payload

    def close(self):
        self.sock.close()

    def run(self, exit_event):
        while not exit_event.is_set():
            self.poll_once()

    def poll_once(self):
        try:
            datagram, _ = self.sock.recvfrom(65535)
        except socket.timeout:
            datagram = None
        except OSError as e:
            LOG.warning('pharos health manager: recv failed: %s', e)
            time.sleep(0.5)
            datagram = None
        if datagram:
            try:
                self.handle(datagram, time.time())
            except Exception:  # noqa: one bad heartbeat never stops us
                LOG.exception('pharos health manager: heartbeat failed')
        now = time.monotonic()
        if now - self._last_sweep >= 1.0:
            self._last_sweep = now
            try:
                self.sweep(time.time())
            except Exception:  # noqa
                LOG.exception('pharos health manager: sweep failed')

    def handle(self, datagram, received_at):
        amphora_id = _peek_amphora_id(datagram)
        amp = self.store.get_amphora(amphora_id) if amphora_id else None
        if amp is None or amp.state in ('DELETING', 'DELETED'):
            self.counters['unknown'] += 1
            return False
        try:
            payload = json.loads(_core.decode_heartbeat(
                datagram, self.key, amp.last_sequence))
        except _core.HeartbeatError as e:
            self.counters['rejected'] += 1
            LOG.debug('pharos: heartbeat of %s refused: %s', amphora_id, e)
            return False
        if payload.get('amphora_id') != amp.id:
            self.counters['rejected'] += 1
            return False
        if not self.store.record_heartbeat(amp.id, payload['seq'],
                                           received_at,
                                           payload.get('config_version', 0)):
            self.counters['stale'] += 1
            return False
        self.counters['accepted'] += 1
        self.last_payload[amp.id] = payload
        if amp.state == 'MISSING':
            self.store.update_amphora(amp.id, state='READY')
            self._reported.pop(amp.id, None)
            LOG.info('pharos: amphora %s is back', amp.id)
        self._report(amp, payload)
        return True

    def _report(self, amp, payload):
        record = self.store.get_loadbalancer(amp.loadbalancer_id)
        if record is None or record.deleted or record.applied_tree is None:
            return
        if payload.get('config_version', 0) < record.applied_version:
            return   # sent before the agent had the config we reported
        tree = record.applied_tree
        health = {mid: st.octavia_member_status(v)
                  for mid, v in (payload.get('members') or {}).items()}
        engine_up = (payload.get('engine') or {}).get('up', False)
        operating = st.operating_statuses(tree, health)
        if not engine_up and record.applied_version > 0:
            operating['loadbalancer'][record.id] = 'ERROR'
        doc = st.document({}, operating)
        if doc != self._reported.get(amp.id):
            self.lib.update_loadbalancer_status(doc)
            self._reported[amp.id] = doc
            self.store.set_operating_status(
                record.id, operating['loadbalancer'].get(record.id))
        known = {li.get('listener_id') for li in tree.get('listeners', [])}
        stats = []
        for listener_id, values in (payload.get('listeners') or {}).items():
            if listener_id not in known:
                continue
            stats.append({'id': listener_id,
                          'active_connections': values['active_connections'],
                          'bytes_in': values['bytes_in'],
                          'bytes_out': values['bytes_out'],
                          'request_errors': values['request_errors'],
                          'total_connections': values['total_connections']})
        if stats:
            self.lib.update_listener_statistics({'listeners': stats})

    def sweep(self, now):
        """Mark amphorae silent for longer than heartbeat_timeout."""
        timeout = self.conf.pharos.heartbeat_timeout
        for amp in self.store.list_amphorae(states=('READY',)):
            last = amp.last_heartbeat
            if last is None:   # created_at is UTC
                last = calendar.timegm(amp.created_at.timetuple())
            if now - last <= timeout:
                continue
            LOG.warning('pharos: amphora %s missed heartbeats for %.0fs',
                        amp.id, now - last)
            self.store.update_amphora(amp.id, state='MISSING')
            self._reported.pop(amp.id, None)
            record = self.store.get_loadbalancer(amp.loadbalancer_id)
            if record is None or record.deleted:
                continue
            self.store.set_operating_status(record.id, 'ERROR')
            try:
                self.lib.update_loadbalancer_status({'loadbalancers': [
                    {'id': record.id, 'operating_status': 'ERROR'}]})
            except Exception as e:  # noqa
                LOG.warning('pharos: could not report %s ERROR: %s',
                            record.id, e)
