"""Wake-ups: a driver call starts a pass of a running controller at once (real
UDP datagrams, the real reconcile loop and store); a lost wake-up still
converges through the poll. No root: the apply itself is a stand-in that
reports ACTIVE and records what it applied.

The poll interval is set far beyond every wait here, so that a status that
arrives at all arrived because of a wake-up; nothing asserts a duration.
"""
import socket
import threading
import time

from oslo_config import cfg

from pharos import config as pharos_config
from pharos import driver as pharos_driver
from pharos.controller import agent as controller_agent
from pharos.controller import wakeup

import fakes
from test_driver import make_lb, make_listener

SLOW_POLL = 600.0    # never reached: any progress comes from a wake-up
WAIT = 60.0          # generous bound for what a wake-up starts at once


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def make_conf(tmp_path, port, interval, targets=None):
    conf = cfg.ConfigOpts()
    pharos_config.register_opts(conf)
    controller_agent.register_driver_agent_opts(conf)
    conf([])
    for key, value in (('state_dir', str(tmp_path)), ('wakeup_port', port),
                       ('wakeup_bind', '127.0.0.1'),
                       ('reconcile_interval', interval),
                       ('wakeup_targets', targets or [])):
        conf.set_override(key, value, 'pharos')
    return conf


class FakeCompute:
    name = 'fake'


class StandInApply:
    """Reconciler.reconcile without amphorae: report ACTIVE, record done.
    `hold` (an Event) keeps the worker busy until set."""

    def __init__(self, ctl, hold=None):
        self.ctl = ctl
        self.hold = hold
        self.applied = []

    def __call__(self, record):
        if self.hold is not None:
            self.hold.wait(WAIT)
        self.ctl.lib.update_loadbalancer_status({'loadbalancers': [
            {'id': record.id, 'provisioning_status': 'ACTIVE'}]})
        self.applied.append((record.id, record.desired_version))
        self.ctl.store.finish(record.id, self.ctl.controller_id,
                              record.desired_version, record.tree)


class Running:
    """A controller running its loop in a thread, as in the driver agent."""

    def __init__(self, conf, store, hold=None):
        self.lib = fakes.FakeDriverLibrary(store)
        hb = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        hb.bind(('127.0.0.1', 0))
        self.ctl = controller_agent.Controller(
            conf, store=store, compute=FakeCompute(), lib=self.lib,
            heartbeat_socket=hb, controller_id='wake-test')
        self.apply = StandInApply(self.ctl, hold)
        self.ctl.reconciler.reconcile = self.apply
        self.exit = threading.Event()
        self.thread = threading.Thread(target=self.ctl.run, args=(self.exit,))

    def __enter__(self):
        self.thread.start()
        # the first pass (at start) is over: from now on only a wake-up or
        # the (distant) poll starts one
        wait_for(lambda: self.ctl.passes >= 1, 'the first pass')
        return self

    def __exit__(self, *exc):
        self.exit.set()
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), 'controller did not stop'


def wait_for(predicate, what, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError('timed out waiting for ' + what)


def active(lib, lb_id):
    return lib.last('loadbalancers', lb_id, 'provisioning_status') == 'ACTIVE'


def test_notify_reaches_the_waker_after_the_commit(tmp_path, store):
    """The datagram leaves only once the new version is in the store."""
    port = free_udp_port()
    conf = make_conf(tmp_path, port, SLOW_POLL)
    waker = wakeup.Waker(conf)
    assert waker.address == ('127.0.0.1', port)
    seen = []

    class Watching(wakeup.Waker):
        def poke(self, reason):
            lb_id = reason.rsplit(' ', 1)[-1]
            record = store.get_loadbalancer(lb_id)
            seen.append(record and record.desired_version)
            super().poke(reason)

    waker.__class__ = Watching
    exit_event = threading.Event()
    waker.start(exit_event)
    try:
        drv = pharos_driver.PharosProviderDriver(store=store, conf=conf)
        lb = make_lb()
        drv.loadbalancer_create(lb)
        wait_for(lambda: seen, 'the wake-up of the create')
        drv.listener_create(make_listener(lb))
        wait_for(lambda: len(seen) >= 2, 'the wake-up of the listener')
        assert seen[:2] == [1, 2]
        assert any(lb.loadbalancer_id in r for r in waker.wait(0))
    finally:
        exit_event.set()
        waker.close()


def test_wakeups_off_and_targets():
    conf = cfg.ConfigOpts()
    pharos_config.register_opts(conf)
    conf([])
    assert wakeup.targets(conf) == [('127.0.0.1', 5556)]
    conf.set_override('wakeup_targets', ['10.0.0.2:7000', '[fd00::3]:7001'],
                      'pharos')
    assert wakeup.targets(conf) == [('10.0.0.2', 7000), ('fd00::3', 7001)]
    conf.set_override('wakeup_port', 0, 'pharos')
    assert wakeup.targets(conf) == []
    assert wakeup.Waker(conf).sock is None
    wakeup.notify(conf, 'nobody-listens')      # and it does not raise


def test_driver_call_wakes_a_running_controller(tmp_path, store):
    conf = make_conf(tmp_path, free_udp_port(), SLOW_POLL)
    drv = pharos_driver.PharosProviderDriver(store=store, conf=conf)
    with Running(conf, store) as run:
        passes = run.ctl.passes
        lb = make_lb()
        drv.loadbalancer_create(lb)
        wait_for(lambda: active(run.lib, lb.loadbalancer_id), 'ACTIVE')
        assert run.ctl.waker.received >= 1
        assert run.ctl.passes > passes
        # and the next change too
        drv.listener_create(make_listener(lb))
        wait_for(lambda: (lb.loadbalancer_id, 2) in run.apply.applied,
                 'version 2 applied')
    assert run.apply.applied == [(lb.loadbalancer_id, 1),
                                 (lb.loadbalancer_id, 2)]


def test_change_stored_while_busy_is_applied_when_the_worker_is_done(
        tmp_path, store):
    """A wake-up that finds the load balancer in flight is not lost: the
    worker's end starts the next pass."""
    conf = make_conf(tmp_path, free_udp_port(), SLOW_POLL)
    drv = pharos_driver.PharosProviderDriver(store=store, conf=conf)
    hold = threading.Event()
    with Running(conf, store, hold=hold) as run:
        lb = make_lb()
        drv.loadbalancer_create(lb)
        # the pass of the first wake-up has started version 1 (held)
        wait_for(lambda: run.ctl.passes >= 2, 'the pass of the wake-up')
        passes = run.ctl.passes
        drv.listener_create(make_listener(lb))          # version 2
        # its pass found the load balancer in flight and left it
        wait_for(lambda: run.ctl.waker.received >= 2 and
                 run.ctl.passes > passes, 'the pass of the second wake-up')
        assert run.apply.applied == []
        hold.set()
        wait_for(lambda: (lb.loadbalancer_id, 2) in run.apply.applied,
                 'version 2 applied')
    assert run.apply.applied[-1] == (lb.loadbalancer_id, 2)


def test_lost_wakeup_still_converges_through_the_poll(tmp_path, store):
    controller_port, elsewhere = free_udp_port(), free_udp_port()
    conf = make_conf(tmp_path, controller_port, 0.2)
    # the driver's datagrams go where nobody listens: every wake-up is lost
    driver_conf = make_conf(tmp_path, controller_port, 0.2,
                            targets=['127.0.0.1:%d' % elsewhere])
    drv = pharos_driver.PharosProviderDriver(store=store, conf=driver_conf)
    with Running(conf, store) as run:
        lb = make_lb()
        drv.loadbalancer_create(lb)
        wait_for(lambda: active(run.lib, lb.loadbalancer_id), 'ACTIVE')
        assert run.ctl.waker.received == 0


def test_second_controller_on_the_port_polls_only(tmp_path):
    port = free_udp_port()
    conf = make_conf(tmp_path, port, SLOW_POLL)
    first = wakeup.Waker(conf)
    try:
        second = wakeup.Waker(conf)
        assert first.sock is not None and second.sock is None
        second.close()
    finally:
        first.close()
