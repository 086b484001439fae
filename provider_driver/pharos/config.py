"""oslo.config options of the Pharos provider driver and controller ([pharos]).

`list_opts()` is the `oslo.config.opts` entry point, so
`oslo-config-generator --namespace pharos` prints a sample.
"""
import os

from oslo_config import cfg

GROUP = 'pharos'

_REPO_BIN = os.path.normpath(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), '..', '..', 'build', 'bin'))


def _default_binary(name):
    env = os.environ.get('PHAROS_%s_BINARY' % name.split('-', 1)[1].upper())
    if env:
        return env
    local = os.path.join(_REPO_BIN, name)
    return local if os.path.exists(local) else os.path.join('/usr/bin', name)


pharos_opts = [
    cfg.StrOpt('state_dir', default='/var/lib/pharos',
               help='Directory for the controller state: the default SQLite '
                    'store, the CA, local amphorae.'),
    cfg.StrOpt('store_url', default='', secret=True,
               help='SQLAlchemy URL of the Pharos store. Empty means '
                    'sqlite:///<state_dir>/pharos.sqlite. Use a MariaDB URL '
                    '(mysql+pymysql://...) when several controllers share it.'),
    cfg.StrOpt('compute_driver', default='local', choices=['local', 'nova'],
               help='Where amphorae run: "local" (a network namespace per '
                    'amphora on this host) or "nova" (a VM per amphora).'),
    cfg.StrOpt('heartbeat_key', default='insecure-pharos-heartbeat-key',
               secret=True,
               help='HMAC-SHA256 key shared with the amphora agents (at '
                    'least 16 bytes).'),
    cfg.PortOpt('heartbeat_port', default=5555,
                help='UDP port the health manager receives heartbeats on.'),
    cfg.StrOpt('controller_bind', default='169.254.0.1',
               help='Address the health manager binds to (the agents send '
                    'heartbeats there). With the local compute driver it is '
                    'put on the root side of every management veth.'),
    cfg.IntOpt('heartbeat_interval', default=5, min=1,
               help='Seconds between heartbeats of an amphora agent.'),
    cfg.IntOpt('heartbeat_timeout', default=30, min=1,
               help='An amphora without a valid heartbeat for this many '
                    'seconds is marked missing (load balancer ERROR).'),
    cfg.FloatOpt('reconcile_interval', default=1.0, min=0.05,
                 help='Seconds between two passes of the reconcile loop '
                      'when nothing wakes it up: the safety net behind the '
                      'wake-ups (wakeup_port).'),
    cfg.StrOpt('wakeup_bind', default='127.0.0.1',
               help='Address the controller receives wake-up datagrams on '
                    '(UDP, wakeup_port): the driver sends one after each '
                    'change it stores, so that the controller reconciles '
                    'at once instead of at its next pass.'),
    cfg.PortOpt('wakeup_port', default=5556,
                help='UDP port of the wake-ups; 0 turns them off (the '
                     'controller then only polls every reconcile_interval).'),
    cfg.ListOpt('wakeup_targets', default=[],
                help='host:port list the driver sends wake-ups to; empty '
                     'means wakeup_bind:wakeup_port. List every controller '
                     'when several share a MariaDB store. A lost wake-up '
                     'costs at most reconcile_interval.'),
    cfg.IntOpt('claim_lease', default=120, min=5,
               help='Seconds a controller owns a load balancer it works on; '
                    'another controller may take it over after that.'),
    cfg.IntOpt('orphan_grace', default=300, min=10,
               help='A load balancer or object Octavia never committed '
                    '(not visible through the driver agent) for this long is '
                    'dropped from the store.'),
    cfg.StrOpt('agent_binary', default=_default_binary('pharos-agent'),
               help='pharos-agent binary (local compute driver).'),
    cfg.StrOpt('engine_binary', default=_default_binary('pharos-engine'),
               help='pharos-engine binary (local compute driver).'),
    cfg.PortOpt('agent_port', default=9443,
                help='Port of the amphora agent REST API (mutual TLS).'),
    cfg.FloatOpt('agent_timeout', default=10.0,
                 help='Timeout in seconds of one request to an agent.'),
    cfg.IntOpt('amphora_boot_timeout', default=60,
               help='Seconds an amphora agent has to answer after create.'),
    cfg.StrOpt('ca_dir', default='',
               help='Certificate authority of the controller (CA key and '
                    'certificate, the controller client certificate). '
                    'Empty means <state_dir>/ca.'),
    cfg.IntOpt('engine_workers', default=1, min=1, max=64,
               help='Engine worker threads when the flavor does not say.'),
    # local compute driver
    cfg.StrOpt('local_bridge_netns', default='pharos-net',
               help='Network namespace holding the bridge of the VIP subnet.'),
    cfg.StrOpt('local_bridge', default='br-pharos',
               help='Bridge (in local_bridge_netns) the VIP veth joins.'),
    cfg.IntOpt('local_vip_prefixlen', default=24, min=1, max=32,
               help='Prefix length of the VIP subnet when the controller '
                    'cannot ask Neutron.'),
    cfg.StrOpt('local_management_cidr', default='169.254.64.0/18',
               help='Link-local range carved into one /30 per amphora for '
                    'controller <-> agent traffic.'),
    # nova compute driver
    cfg.StrOpt('nova_image_id', default='', help='Amphora image (nova).'),
    cfg.StrOpt('nova_flavor_id', default='', help='Amphora flavor (nova).'),
    cfg.StrOpt('nova_network_id', default='',
               help='Management network of the amphorae (nova).'),
    cfg.StrOpt('nova_cloud', default='',
               help='openstacksdk cloud name (clouds.yaml) for Nova.'),
    cfg.StrOpt('nova_endpoint_override', default='',
               help='Compute endpoint to use instead of the catalog one.'),
    cfg.StrOpt('nova_auth_type', default='',
               help='openstacksdk auth_type, e.g. "none" with '
                    'nova_endpoint_override.'),
]


def register_opts(conf=cfg.CONF):
    conf.register_opts(pharos_opts, group=GROUP)


def list_opts():
    return [(GROUP, pharos_opts)]


def store_url(conf=cfg.CONF):
    url = conf.pharos.store_url
    if url:
        return url
    return 'sqlite:///' + os.path.join(conf.pharos.state_dir, 'pharos.sqlite')


def ca_dir(conf=cfg.CONF):
    return conf.pharos.ca_dir or os.path.join(conf.pharos.state_dir, 'ca')


register_opts()
