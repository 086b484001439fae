"""Nova compute driver: an amphora is a VM booted from the amphora image.

The agent's config and certificates travel as cloud-init user data
(write_files); the agent listens on the management network, its heartbeats go
to controller_bind:heartbeat_port, and the VIP port from Neutron is attached
as the second NIC. Uses openstacksdk (Debian python3-openstacksdk).
"""
import base64
import time

from oslo_log import log as logging

from pharos.compute import base

LOG = logging.getLogger(__name__)

_AGENT_DIR = '/etc/pharos'
_PATHS = {'cert_file': _AGENT_DIR + '/certs/agent.pem',
          'key_file': _AGENT_DIR + '/certs/agent.key',
          'ca_file': _AGENT_DIR + '/certs/client_ca.pem',
          'state_dir': '/var/lib/pharos-agent',
          'control_socket': '/run/pharos/engine.sock',
          'records_socket': '/run/pharos/records.sock'}


def _indent(data):
    if isinstance(data, bytes):
        data = data.decode()
    return '\n'.join('      ' + line for line in data.splitlines())


def user_data(bundle, heartbeat_targets):
    """cloud-init document carrying the agent config and certificates."""
    config = base.agent_config(bundle, '0.0.0.0', _PATHS, heartbeat_targets,
                               '/usr/bin/pharos-engine')
    files = [(_PATHS['cert_file'], bundle.cert_pem, '0644'),
             (_PATHS['key_file'], bundle.key_pem, '0600'),
             (_PATHS['ca_file'], bundle.ca_pem, '0644'),
             (_AGENT_DIR + '/pharos-agent.conf', config, '0600')]
    out = ['#cloud-config', 'write_files:']
    for path, content, mode in files:
        out += ['  - path: %s' % path, "    permissions: '%s'" % mode,
                '    content: |', _indent(content)]
    out += ['runcmd:',
            '  - [systemctl, enable, --now, pharos-agent.service]', '']
    return '\n'.join(out)


class NovaCompute(base.ComputeDriver):
    name = 'nova'

    def __init__(self, conf, connection=None, **_):
        self.conf = conf
        self._conn = connection

    @property
    def conn(self):
        if self._conn is None:
            import openstack
            p = self.conf.pharos
            kwargs = {}
            if p.nova_cloud:
                kwargs['cloud'] = p.nova_cloud
            if p.nova_auth_type:
                kwargs['auth_type'] = p.nova_auth_type
            if p.nova_endpoint_override:
                kwargs['compute_endpoint_override'] = p.nova_endpoint_override
            self._conn = openstack.connect(**kwargs)
        return self._conn

    @staticmethod
    def _name(amphora_id):
        return 'pharos-amphora-' + amphora_id

    def handle_for(self, amphora_id):
        return {'name': self._name(amphora_id),
                'agent_port': self.conf.pharos.agent_port}

    def create(self, bundle):
        p = self.conf.pharos
        targets = bundle.heartbeat_targets or [
            '%s:%d' % (p.controller_bind, p.heartbeat_port)]
        networks = [{'uuid': p.nova_network_id}]
        if getattr(bundle, 'vip_port_id', None):
            networks.append({'port': bundle.vip_port_id})
        handle = self.handle_for(bundle.amphora_id)
        server = self.conn.compute.create_server(
            name=handle['name'], image_id=p.nova_image_id,
            flavor_id=p.nova_flavor_id, networks=networks, config_drive=True,
            user_data=base64.b64encode(user_data(bundle, targets).encode()
                                       ).decode(),
            metadata={'pharos_amphora_id': bundle.amphora_id,
                      'pharos_loadbalancer_id': bundle.loadbalancer_id})
        handle['server_id'] = server.id
        try:
            server = self._wait_active(server.id, p.amphora_boot_timeout)
            handle['management_address'] = self._management_address(server)
        except Exception:
            self.delete(handle)
            raise
        return handle

    def _wait_active(self, server_id, timeout):
        deadline = time.monotonic() + timeout
        while True:
            server = self.conn.compute.get_server(server_id)
            if server.status == 'ACTIVE':
                return server
            if server.status == 'ERROR':
                raise RuntimeError('amphora server %s went to ERROR' %
                                   server_id)
            if time.monotonic() > deadline:
                raise RuntimeError('amphora server %s not ACTIVE after %ss' %
                                   (server_id, timeout))
            time.sleep(0.5)

    def _management_address(self, server):
        for name, addresses in (server.addresses or {}).items():
            for address in addresses:
                if address.get('addr'):
                    return address['addr']
        raise RuntimeError('amphora server %s has no address' % server.id)

    def _server_id(self, handle):
        if handle.get('server_id'):
            return handle['server_id']
        server = self.conn.compute.find_server(handle['name'],
                                               ignore_missing=True)
        return server.id if server else None

    def delete(self, handle):
        server_id = self._server_id(handle)
        if not server_id:
            return
        self.conn.compute.delete_server(server_id, ignore_missing=True)
        deadline = time.monotonic() + self.conf.pharos.amphora_boot_timeout
        while time.monotonic() < deadline:
            if self.conn.compute.find_server(server_id,
                                             ignore_missing=True) is None:
                return
            time.sleep(0.5)
        raise RuntimeError('amphora server %s not deleted' % server_id)

    def is_alive(self, handle):
        server_id = self._server_id(handle)
        if not server_id:
            return False
        server = self.conn.compute.find_server(server_id, ignore_missing=True)
        return server is not None and server.status not in (
            'ERROR', 'DELETED', 'SOFT_DELETED')
