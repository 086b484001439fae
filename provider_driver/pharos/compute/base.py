"""The compute driver interface and what every amphora is given at boot."""
import abc
import dataclasses


@dataclasses.dataclass
class AmphoraBundle:
    """Everything an amphora agent needs to start, whatever runs it."""
    amphora_id: str
    loadbalancer_id: str
    vip_address: str
    vip_prefixlen: int
    cert_pem: bytes          # the agent's server certificate
    key_pem: bytes
    ca_pem: bytes            # the controller CA (trusted for clients)
    agent_port: int
    heartbeat_key: str
    heartbeat_interval: int
    heartbeat_targets: list  # ["host:port", ...]; empty: the driver decides
    vip_port_id: str = None  # Neutron VIP port (attached by the nova driver)


def agent_config(bundle, bind_host, paths, heartbeat_targets, engine_binary):
    """pharos-agent INI config (amphora_agent/agent/pharos-agent.conf.sample)."""
    return '\n'.join([
        '# written by the pharos controller',
        '[amphora]',
        'amphora_id = %s' % bundle.amphora_id,
        '[api]',
        'bind_host = %s' % bind_host,
        'bind_port = %d' % bundle.agent_port,
        'cert_file = %s' % paths['cert_file'],
        'key_file = %s' % paths['key_file'],
        'ca_file = %s' % paths['ca_file'],
        '[state]',
        'state_dir = %s' % paths['state_dir'],
        '[engine]',
        'binary = %s' % engine_binary,
        'control_socket = %s' % paths['control_socket'],
        'records_socket = %s' % paths['records_socket'],
        'restart_backoff_initial_ms = 200',
        'restart_backoff_max_ms = 5000',
        '[heartbeat]',
        'targets = %s' % ', '.join(heartbeat_targets),
        'key = %s' % bundle.heartbeat_key,
        'interval = %d' % bundle.heartbeat_interval,
        '[metrics]',
        'bind_port = 0',
        '',
    ])


class ComputeDriver(abc.ABC):
    """Creates and destroys amphorae. Handles are JSON-able dicts kept in the
    store, so a restarted controller can delete what an earlier one made."""

    name = None

    @abc.abstractmethod
    def create(self, bundle):
        """Start an amphora; return its handle, which has at least
        "management_address" and "agent_port". Raises on failure, after
        undoing what it did."""

    @abc.abstractmethod
    def handle_for(self, amphora_id):
        """A handle that lets delete() remove what an interrupted
        create() of `amphora_id` may have left."""

    @abc.abstractmethod
    def delete(self, handle):
        """Destroy the amphora of `handle`; idempotent, nothing left behind."""

    @abc.abstractmethod
    def is_alive(self, handle):
        """True if the amphora of `handle` still exists (not: is healthy)."""
