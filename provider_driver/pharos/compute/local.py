"""Local compute driver: an amphora is a network namespace on this host.

    pharos-amp-<id8>   eth0  VIP/prefix   <-veth->  va-<id8> on the VIP bridge
                                                     (netns local_bridge_netns)
                       mgmt0 x.x.x.2/30   <-veth->  pm-<id8> x.x.x.1/30 +
                                                     controller_bind/32 (root)
    pharos-agent runs inside (ip netns exec), in its own session, and starts
    pharos-engine; its config, certificates and state live in
    <state_dir>/amphorae/<id8>/.

Everything is found again from the handle (netns, veth names, PID + start
time), so a restarted controller deletes exactly what an earlier one made.
"""
import ipaddress
import os
import shutil
import signal
import subprocess
import time

from oslo_log import log as logging

from pharos.compute import base

LOG = logging.getLogger(__name__)


def _ip(*args, check=True):
    proc = subprocess.run(['ip'] + list(args), capture_output=True, text=True,
                          timeout=30)
    if check and proc.returncode != 0:
        raise RuntimeError('ip %s: %s' % (' '.join(args), proc.stderr.strip()))
    return proc


def proc_start_time(pid):
    """Field 22 of /proc/PID/stat, to tell a PID from a reused one."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            data = f.read()
    except OSError:
        return None
    fields = data.rsplit(')', 1)[1].split()
    if fields[0] == 'Z':
        return None
    return fields[19]


def netns_exists(name):
    return os.path.exists('/var/run/netns/%s' % name) or \
        os.path.exists('/run/netns/%s' % name)


class LocalCompute(base.ComputeDriver):
    name = 'local'

    def __init__(self, conf, used_addresses=None):
        self.conf = conf
        self._used = used_addresses or (lambda: set())

    def _paths(self, amphora_id):
        root = os.path.join(self.conf.pharos.state_dir, 'amphorae',
                            amphora_id[:8])
        return {'dir': root,
                'cert_file': os.path.join(root, 'agent.pem'),
                'key_file': os.path.join(root, 'agent.key'),
                'ca_file': os.path.join(root, 'client_ca.pem'),
                'config': os.path.join(root, 'pharos-agent.conf'),
                'log': os.path.join(root, 'agent.log'),
                'state_dir': os.path.join(root, 'state'),
                'control_socket': os.path.join(root, 'run', 'engine.sock'),
                'records_socket': os.path.join(root, 'run', 'records.sock')}

    def _allocate(self):
        used = self._used()
        net = ipaddress.ip_network(self.conf.pharos.local_management_cidr)
        for block in net.subnets(new_prefix=30):
            root, amp = str(block[1]), str(block[2])
            if amp in used:
                continue
            # a leftover of another process still holding it?
            out = _ip('-o', 'addr', 'show', 'to', root + '/32', check=False)
            if out.stdout.strip():
                continue
            return root, amp
        raise RuntimeError('no free management /30 in %s' % net)

    def handle_for(self, amphora_id):
        short = amphora_id[:8]
        return {'netns': 'pharos-amp-' + short, 'vip_veth': 'va-' + short,
                'mgmt_veth': 'pm-' + short,
                'bridge_netns': self.conf.pharos.local_bridge_netns,
                'dir': self._paths(amphora_id)['dir'],
                'agent_port': self.conf.pharos.agent_port}

    def create(self, bundle):
        handle = self.handle_for(bundle.amphora_id)
        handle['agent_port'] = bundle.agent_port
        self.delete(handle)   # leftovers of an interrupted create
        try:
            self._create(bundle, handle)
        except Exception:
            self.delete(handle)
            raise
        return handle

    def _create(self, bundle, handle):
        conf = self.conf.pharos
        paths = self._paths(bundle.amphora_id)
        ns, va, pm = handle['netns'], handle['vip_veth'], handle['mgmt_veth']
        if not netns_exists(conf.local_bridge_netns):
            raise RuntimeError('bridge namespace %s does not exist (run '
                               'devstack/lbnet.sh up)' % conf.local_bridge_netns)
        root_addr, amp_addr = self._allocate()
        handle['management_address'] = amp_addr
        handle['root_address'] = root_addr
        _ip('netns', 'add', ns)
        _ip('-n', ns, 'link', 'set', 'lo', 'up')
        # VIP side: a veth onto the subnet's bridge
        _ip('-n', conf.local_bridge_netns, 'link', 'add', va, 'type', 'veth',
            'peer', 'name', 'eth0', 'netns', ns)
        _ip('-n', conf.local_bridge_netns, 'link', 'set', va, 'master',
            conf.local_bridge, 'up')
        _ip('-n', ns, 'addr', 'add', '%s/%d' % (bundle.vip_address,
                                               bundle.vip_prefixlen),
            'dev', 'eth0')
        _ip('-n', ns, 'link', 'set', 'eth0', 'up')
        # management side: a /30 to the root namespace
        _ip('link', 'add', pm, 'type', 'veth', 'peer', 'name', 'mgmt0',
            'netns', ns)
        _ip('addr', 'add', root_addr + '/30', 'dev', pm)
        if conf.controller_bind and conf.controller_bind != root_addr:
            _ip('addr', 'add', conf.controller_bind + '/32', 'dev', pm,
                'noprefixroute', check=False)
        _ip('link', 'set', pm, 'up')
        _ip('-n', ns, 'addr', 'add', amp_addr + '/30', 'dev', 'mgmt0')
        _ip('-n', ns, 'link', 'set', 'mgmt0', 'up')
        targets = bundle.heartbeat_targets or [
            '%s:%d' % (conf.controller_bind or root_addr, conf.heartbeat_port)]
        for target in targets:
            host = target.rsplit(':', 1)[0].strip('[]')
            if not ipaddress.ip_network(root_addr + '/30',
                                        strict=False).__contains__(
                                            ipaddress.ip_address(host)):
                _ip('-n', ns, 'route', 'replace', host, 'dev', 'mgmt0',
                    'src', amp_addr, check=False)
        # files, then the agent
        os.makedirs(paths['state_dir'], mode=0o700, exist_ok=True)
        os.makedirs(os.path.dirname(paths['control_socket']), exist_ok=True)
        for key, data in (('cert_file', bundle.cert_pem),
                          ('key_file', bundle.key_pem),
                          ('ca_file', bundle.ca_pem)):
            fd = os.open(paths[key], os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                         0o600)
            with os.fdopen(fd, 'wb') as f:
                f.write(data)
        with open(paths['config'], 'w') as f:
            f.write(base.agent_config(bundle, amp_addr, paths, targets,
                                      conf.engine_binary))
        log = open(paths['log'], 'ab')
        try:
            proc = subprocess.Popen(
                ['ip', 'netns', 'exec', ns, conf.agent_binary,
                 '--config-file', paths['config']],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True, close_fds=True)
        finally:
            log.close()
        handle['pid'] = proc.pid
        handle['start'] = proc_start_time(proc.pid)
        # The agent is not our child for long: a restarted controller cannot
        # wait() for it, so nobody should; reap it in the background.
        _reap_later(proc)
        LOG.info('pharos local compute: amphora %s in %s, agent pid %d, '
                 'management %s', bundle.amphora_id, ns, proc.pid, amp_addr)

    def _agent_alive(self, handle):
        pid = handle.get('pid')
        return bool(pid) and handle.get('start') is not None and \
            proc_start_time(pid) == handle.get('start')

    def is_alive(self, handle):
        return netns_exists(handle['netns']) and self._agent_alive(handle)

    def delete(self, handle):
        ns = handle['netns']
        if self._agent_alive(handle):
            pid = handle['pid']
            # the agent leads its own session: its engine goes with the group
            _signal_group(pid, signal.SIGTERM)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and self._agent_alive(handle):
                time.sleep(0.05)
            _signal_group(pid, signal.SIGKILL)
        if netns_exists(ns):
            # anything still running in our namespace is ours (engine)
            out = _ip('netns', 'pids', ns, check=False).stdout.split()
            for pid in out:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and \
                    _ip('netns', 'pids', ns, check=False).stdout.strip():
                time.sleep(0.05)
            # the veth peers (va-*, pm-*) die with their ends inside
            _ip('netns', 'del', ns, check=False)
        # a veth whose netns end was never made
        _ip('link', 'del', handle['mgmt_veth'], check=False)
        bridge_ns = handle.get('bridge_netns')
        if bridge_ns and netns_exists(bridge_ns):
            _ip('-n', bridge_ns, 'link', 'del', handle['vip_veth'], check=False)
        if handle.get('dir'):
            shutil.rmtree(handle['dir'], ignore_errors=True)


def _signal_group(pid, sig):
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _reap_later(proc):
    import threading
    threading.Thread(target=proc.wait, daemon=True).start()
