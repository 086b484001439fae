"""The provider agent octavia-driver-agent starts (`run(exit_event)`), also
run standalone by `pharos-controller`.

Threads: the reconcile loop (claims load balancers that need work and hands
them to a small worker pool), the wake-up receiver (the driver's datagrams
start a pass at once; the loop's own timeout is only the safety net) and the
health manager (heartbeats).
"""
import concurrent.futures
import os
import socket
import threading

from oslo_config import cfg
from oslo_log import log as logging

from pharos import compute as pharos_compute
from pharos import config as pharos_config
from pharos import store as pharos_store
from pharos.controller import certificates
from pharos.controller import health_manager
from pharos.controller import reconciler
from pharos.controller import wakeup

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

_WORKERS = 4

_driver_agent_opts = [
    cfg.StrOpt('status_socket_path', default='/var/run/octavia/status.sock'),
    cfg.StrOpt('stats_socket_path', default='/var/run/octavia/stats.sock'),
    cfg.StrOpt('get_socket_path', default='/var/run/octavia/get.sock'),
]


def register_driver_agent_opts(conf):
    """[driver_agent] socket paths, unless Octavia registered them already."""
    try:
        conf.driver_agent.status_socket_path
    except cfg.NoSuchOptError:
        conf.register_opts(_driver_agent_opts, group='driver_agent')


def driver_library(conf):
    from pharos.controller import driver_lib
    da = conf.driver_agent
    return driver_lib.DriverLibrary(status_socket=da.status_socket_path,
                                    stats_socket=da.stats_socket_path,
                                    get_socket=da.get_socket_path)


class Controller:
    def __init__(self, conf, store=None, compute=None, lib=None,
                 heartbeat_socket=None, controller_id=None,
                 wakeup_socket=None):
        self.conf = conf
        self.store = store or pharos_store.Store(pharos_config.store_url(conf))
        self.compute = compute or pharos_compute.get_driver(
            conf.pharos.compute_driver, conf,
            used_addresses=self.store.used_management_addresses)
        self.ca = certificates.CertificateAuthority(pharos_config.ca_dir(conf))
        self.lib = lib or driver_library(conf)
        self.controller_id = controller_id or '%s:%s' % (
            socket.gethostname(), os.path.abspath(conf.pharos.state_dir))
        self.reconciler = reconciler.Reconciler(
            conf, self.store, self.compute, self.ca, self.lib,
            self.controller_id)
        self.health = health_manager.HealthManager(conf, self.store, self.lib,
                                                   sock=heartbeat_socket)
        self.waker = wakeup.Waker(conf, sock=wakeup_socket)
        self.passes = 0          # reconcile passes run (tests, logs)

    def reconcile_pass(self, pool, in_flight):
        """Claim what needs work and is not already being worked on here."""
        done = [lb for lb, fut in in_flight.items() if fut.done()]
        for lb in done:
            in_flight.pop(lb).result()
        free = _WORKERS - len(in_flight)
        if free <= 0:
            return
        for record in self.reconciler.claim(limit=free):
            if record.id in in_flight:
                continue
            fut = pool.submit(self.reconciler.reconcile, record)
            # a finished worker frees a slot and may leave a newer version
            # behind: look again at once rather than at the next poll
            fut.add_done_callback(
                lambda _f, lb=record.id: self.waker.poke('done ' + lb))
            in_flight[record.id] = fut

    def run(self, exit_event):
        LOG.info('pharos controller %s starting (compute %s, store %s, '
                 'wake-ups on %s)', self.controller_id, self.compute.name,
                 self.store.engine.url.render_as_string(hide_password=True),
                 self.waker.address or 'nothing (poll only)')
        hm = threading.Thread(target=self.health.run, args=(exit_event,),
                              name='pharos-health', daemon=True)
        hm.start()
        self.waker.start(exit_event)
        in_flight = {}
        with concurrent.futures.ThreadPoolExecutor(
                _WORKERS, thread_name_prefix='pharos-reconcile') as pool:
            while not exit_event.is_set():
                try:
                    self.reconcile_pass(pool, in_flight)
                except Exception:  # noqa: the store may be briefly away
                    LOG.exception('pharos: reconcile pass failed')
                self.passes += 1
                reasons = self.waker.wait(self.conf.pharos.reconcile_interval)
                if reasons:
                    LOG.debug('pharos: reconcile pass: %s', ', '.join(
                        reasons[:5]))
            for fut in in_flight.values():
                fut.result()
        hm.join(5)
        self.health.close()
        self.waker.close()
        LOG.info('pharos controller stopped')


def run(exit_event):
    """octavia.driver_agent.provider_agents entry point."""
    register_driver_agent_opts(CONF)
    Controller(CONF).run(exit_event)
