"""Table definitions of the Pharos store."""
import sqlalchemy as sa
import sqlalchemy.dialects.mysql  # noqa: F401 (LONGTEXT)

metadata = sa.MetaData()

# A load balancer's tree carries its certificates' PEM text: MariaDB's TEXT (64 KiB) is too small
# for a listener with many SNI certificates, so trees are LONGTEXT there (TEXT elsewhere).
TreeText = sa.Text().with_variant(sa.dialects.mysql.LONGTEXT(), 'mysql')

loadbalancers = sa.Table(
    'pharos_loadbalancers', metadata,
    sa.Column('id', sa.String(64), primary_key=True),
    sa.Column('project_id', sa.String(64)),
    # the desired tree (JSON) and its version; the driver bumps both
    sa.Column('tree', TreeText, nullable=False),
    sa.Column('desired_version', sa.Integer, nullable=False, default=1),
    # what the controller last applied and reported (JSON, version)
    sa.Column('applied_tree', TreeText),
    sa.Column('applied_version', sa.Integer, nullable=False, default=0),
    sa.Column('deleted', sa.Boolean, nullable=False, default=False),
    sa.Column('cascade', sa.Boolean, nullable=False, default=False),
    # controller bookkeeping: last outcome and who works on it until when
    sa.Column('status', sa.String(32), nullable=False, default='PENDING'),
    sa.Column('status_reason', sa.Text),
    sa.Column('claimed_by', sa.String(255)),
    sa.Column('claim_expires', sa.Float(53)),
    sa.Column('attempts', sa.Integer, nullable=False, default=0),
    sa.Column('next_attempt', sa.Float(53), nullable=False, default=0.0),
    sa.Column('operating_status', sa.String(16)),
    sa.Column('created_at', sa.DateTime, nullable=False),
    sa.Column('updated_at', sa.DateTime, nullable=False),
    mysql_engine='InnoDB',
)

# Which load balancer an object (listener, pool, member, ...) belongs to, so
# that a request naming only a pool or listener finds its tree.
objects = sa.Table(
    'pharos_objects', metadata,
    sa.Column('id', sa.String(64), primary_key=True),
    sa.Column('kind', sa.String(16), nullable=False),
    sa.Column('loadbalancer_id', sa.String(64), nullable=False, index=True),
    mysql_engine='InnoDB',
)

amphorae = sa.Table(
    'pharos_amphorae', metadata,
    sa.Column('id', sa.String(64), primary_key=True),
    sa.Column('loadbalancer_id', sa.String(64), nullable=False, index=True),
    sa.Column('compute_driver', sa.String(16), nullable=False),
    # the compute driver's handle (JSON): netns/pids, or the Nova server id
    sa.Column('compute_id', sa.Text),
    sa.Column('management_address', sa.String(64)),
    sa.Column('agent_port', sa.Integer),
    # BOOTING, READY, MISSING, DELETING, DELETED, ERROR
    sa.Column('state', sa.String(16), nullable=False),
    sa.Column('last_heartbeat', sa.Float(53)),
    sa.Column('last_sequence', sa.BigInteger, nullable=False, default=0),
    sa.Column('config_version', sa.Integer, nullable=False, default=0),
    # paths of the agent's certificate bundle and CA files issued for it
    sa.Column('cert_ref', sa.Text),
    sa.Column('created_at', sa.DateTime, nullable=False),
    sa.Column('updated_at', sa.DateTime, nullable=False),
    mysql_engine='InnoDB',
)
