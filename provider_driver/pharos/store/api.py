"""Store operations. Every write is one short transaction; writes that race
between controllers (or API workers) are conditional UPDATEs whose row count
says who won, which is atomic on SQLite and on MariaDB/InnoDB alike."""
import dataclasses
import datetime
import json
import os
import time

import sqlalchemy as sa

from pharos.store import models

LB_STATES_DONE = ('ACTIVE', 'DELETED')


def _now():
    return datetime.datetime.utcnow()


@dataclasses.dataclass
class LoadBalancerRecord:
    id: str
    project_id: str
    tree: dict
    desired_version: int
    applied_version: int
    applied_tree: dict
    deleted: bool
    cascade: bool
    status: str
    status_reason: str
    claimed_by: str
    attempts: int
    operating_status: str
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @classmethod
    def from_row(cls, row):
        return cls(id=row.id, project_id=row.project_id,
                   tree=json.loads(row.tree),
                   desired_version=row.desired_version,
                   applied_version=row.applied_version,
                   applied_tree=json.loads(row.applied_tree)
                   if row.applied_tree else None,
                   deleted=bool(row.deleted), cascade=bool(row.cascade),
                   status=row.status, status_reason=row.status_reason,
                   claimed_by=row.claimed_by, attempts=row.attempts,
                   operating_status=row.operating_status,
                   created_at=row.created_at, updated_at=row.updated_at)


@dataclasses.dataclass
class Amphora:
    id: str
    loadbalancer_id: str
    compute_driver: str
    compute_id: dict
    management_address: str
    agent_port: int
    state: str
    last_heartbeat: float
    last_sequence: int
    config_version: int
    cert_ref: dict
    created_at: datetime.datetime

    @classmethod
    def from_row(cls, row):
        return cls(id=row.id, loadbalancer_id=row.loadbalancer_id,
                   compute_driver=row.compute_driver,
                   compute_id=json.loads(row.compute_id)
                   if row.compute_id else {},
                   management_address=row.management_address,
                   agent_port=row.agent_port, state=row.state,
                   last_heartbeat=row.last_heartbeat,
                   last_sequence=row.last_sequence or 0,
                   config_version=row.config_version or 0,
                   cert_ref=json.loads(row.cert_ref) if row.cert_ref else {},
                   created_at=row.created_at)


class Store:
    def __init__(self, url):
        kwargs = {'future': True}
        if url.startswith('sqlite'):
            path = url.split('///', 1)[-1]
            if path and path != ':memory:':
                os.makedirs(os.path.dirname(os.path.abspath(path)),
                            exist_ok=True)
            # several processes (API workers, controller) share the file
            kwargs['connect_args'] = {'timeout': 30, 'check_same_thread': False}
        else:
            kwargs['pool_pre_ping'] = True
            kwargs['pool_recycle'] = 3600
        self.engine = sa.create_engine(url, **kwargs)
        if url.startswith('sqlite'):
            @sa.event.listens_for(self.engine, 'connect')
            def _sqlite_pragmas(dbapi_conn, _record):
                cur = dbapi_conn.cursor()
                cur.execute('PRAGMA journal_mode=WAL')
                cur.execute('PRAGMA busy_timeout=30000')
                cur.close()
        try:
            models.metadata.create_all(self.engine)
        except (sa.exc.OperationalError, sa.exc.ProgrammingError):
            # another process (API worker, controller) created them meanwhile
            models.metadata.create_all(self.engine)

    def dispose(self):
        self.engine.dispose()

    # ---- load balancers ---------------------------------------------------

    def create_loadbalancer(self, lb_id, project_id, tree):
        """Insert a new load balancer at desired_version 1."""
        now = _now()
        tree = dict(tree, version=1)
        with self.engine.begin() as conn:
            conn.execute(models.loadbalancers.insert().values(
                id=lb_id, project_id=project_id, tree=json.dumps(tree),
                desired_version=1, applied_version=0, deleted=False,
                cascade=False, status='PENDING', attempts=0, next_attempt=0.0,
                created_at=now, updated_at=now))
            self._reindex(conn, lb_id, tree)

    def get_loadbalancer(self, lb_id):
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(models.loadbalancers).where(
                models.loadbalancers.c.id == lb_id)).first()
        return LoadBalancerRecord.from_row(row) if row else None

    def list_loadbalancers(self):
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(models.loadbalancers)).all()
        return [LoadBalancerRecord.from_row(r) for r in rows]

    def loadbalancer_of(self, object_id):
        """Id of the load balancer holding a listener/pool/member/... id."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(models.objects.c.loadbalancer_id)
                                .where(models.objects.c.id == object_id)
                                ).scalar()

    def save_tree(self, lb_id, tree, expected_version, deleted=None,
                  cascade=None):
        """Store `tree` as desired_version expected_version + 1, only if the
        stored version is still `expected_version`. Returns the new version,
        or None when someone else changed it first."""
        lbs = models.loadbalancers
        version = expected_version + 1
        tree = dict(tree, version=version)
        values = dict(tree=json.dumps(tree), desired_version=version,
                      status='PENDING', status_reason=None, attempts=0,
                      next_attempt=0.0, updated_at=_now())
        if deleted is not None:
            values['deleted'] = deleted
        if cascade is not None:
            values['cascade'] = cascade
        with self.engine.begin() as conn:
            result = conn.execute(lbs.update().where(
                lbs.c.id == lb_id,
                lbs.c.desired_version == expected_version).values(**values))
            if result.rowcount != 1:
                return None
            self._reindex(conn, lb_id, tree)
        return version

    @staticmethod
    def _reindex(conn, lb_id, tree):
        from pharos import tree as lbtree
        conn.execute(models.objects.delete().where(
            models.objects.c.loadbalancer_id == lb_id))
        rows = [{'id': obj_id, 'kind': kind, 'loadbalancer_id': lb_id}
                for kind, ids in lbtree.object_ids(tree).items()
                for obj_id in ids]
        if rows:
            conn.execute(models.objects.insert(), rows)

    def claim(self, controller_id, lease, limit=20):
        """Claim load balancers that need work (desired != applied, or deleted
        and not yet reported) and that nobody else holds. Returns records."""
        lbs = models.loadbalancers
        now = time.time()
        needs_work = sa.or_(lbs.c.desired_version != lbs.c.applied_version,
                            sa.and_(lbs.c.deleted == sa.true(),
                                    lbs.c.status != 'DELETED'))
        free = sa.or_(lbs.c.claimed_by.is_(None),
                      lbs.c.claim_expires < now,
                      lbs.c.claimed_by == controller_id)
        with self.engine.connect() as conn:
            candidates = conn.execute(
                sa.select(lbs.c.id).where(needs_work, free,
                                          lbs.c.next_attempt <= now)
                .order_by(lbs.c.updated_at).limit(limit)).scalars().all()
        claimed = []
        for lb_id in candidates:
            with self.engine.begin() as conn:
                result = conn.execute(lbs.update().where(
                    lbs.c.id == lb_id, needs_work, free).values(
                        claimed_by=controller_id, claim_expires=now + lease))
            if result.rowcount == 1:
                claimed.append(self.get_loadbalancer(lb_id))
        return [c for c in claimed if c is not None]

    def renew_claim(self, lb_id, controller_id, lease):
        lbs = models.loadbalancers
        with self.engine.begin() as conn:
            return conn.execute(lbs.update().where(
                lbs.c.id == lb_id, lbs.c.claimed_by == controller_id).values(
                    claim_expires=time.time() + lease)).rowcount == 1

    def finish(self, lb_id, controller_id, applied_version, applied_tree,
               status='ACTIVE', operating_status=None):
        """Record what was applied and reported; releases the claim. Returns
        False if the claim was lost (another controller took over)."""
        lbs = models.loadbalancers
        values = dict(applied_version=applied_version,
                      applied_tree=json.dumps(applied_tree)
                      if applied_tree is not None else None,
                      status=status, status_reason=None, claimed_by=None,
                      claim_expires=None, attempts=0, next_attempt=0.0)
        if operating_status:
            values['operating_status'] = operating_status
        with self.engine.begin() as conn:
            return conn.execute(lbs.update().where(
                lbs.c.id == lb_id, lbs.c.claimed_by == controller_id).values(
                    **values)).rowcount == 1

    def fail(self, lb_id, controller_id, reason, retry_after):
        lbs = models.loadbalancers
        with self.engine.begin() as conn:
            conn.execute(lbs.update().where(
                lbs.c.id == lb_id, lbs.c.claimed_by == controller_id).values(
                    status='ERROR', status_reason=reason[:4000],
                    claimed_by=None, claim_expires=None,
                    attempts=lbs.c.attempts + 1,
                    next_attempt=time.time() + retry_after))

    def defer(self, lb_id, controller_id, reason, retry_after):
        """Release the claim and look again later (not a failure)."""
        lbs = models.loadbalancers
        with self.engine.begin() as conn:
            conn.execute(lbs.update().where(
                lbs.c.id == lb_id, lbs.c.claimed_by == controller_id).values(
                    status_reason=reason[:4000], claimed_by=None,
                    claim_expires=None,
                    next_attempt=time.time() + retry_after))

    def set_operating_status(self, lb_id, operating_status):
        lbs = models.loadbalancers
        with self.engine.begin() as conn:
            conn.execute(lbs.update().where(lbs.c.id == lb_id).values(
                operating_status=operating_status))

    def purge_loadbalancer(self, lb_id):
        """Forget a deleted load balancer once it is reported DELETED."""
        with self.engine.begin() as conn:
            conn.execute(models.objects.delete().where(
                models.objects.c.loadbalancer_id == lb_id))
            conn.execute(models.amphorae.delete().where(
                models.amphorae.c.loadbalancer_id == lb_id,
                models.amphorae.c.state == 'DELETED'))
            conn.execute(models.loadbalancers.delete().where(
                models.loadbalancers.c.id == lb_id))

    # ---- amphorae -----------------------------------------------------------

    def add_amphora(self, amphora_id, lb_id, compute_driver, state='BOOTING',
                    **fields):
        now = _now()
        for key in ('compute_id', 'cert_ref'):
            if key in fields and not isinstance(fields[key], (str, type(None))):
                fields[key] = json.dumps(fields[key])
        with self.engine.begin() as conn:
            conn.execute(models.amphorae.insert().values(
                id=amphora_id, loadbalancer_id=lb_id,
                compute_driver=compute_driver, state=state, last_sequence=0,
                config_version=0, created_at=now, updated_at=now, **fields))
        return self.get_amphora(amphora_id)

    def get_amphora(self, amphora_id):
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(models.amphorae).where(
                models.amphorae.c.id == amphora_id)).first()
        return Amphora.from_row(row) if row else None

    def amphora_of(self, lb_id):
        """The live (not DELETED) amphora of a load balancer, or None."""
        amps = models.amphorae
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(amps).where(
                amps.c.loadbalancer_id == lb_id, amps.c.state != 'DELETED')
                .order_by(amps.c.created_at.desc())).first()
        return Amphora.from_row(row) if row else None

    def list_amphorae(self, states=None):
        amps = models.amphorae
        query = sa.select(amps)
        if states:
            query = query.where(amps.c.state.in_(list(states)))
        with self.engine.connect() as conn:
            return [Amphora.from_row(r) for r in conn.execute(query).all()]

    def update_amphora(self, amphora_id, **fields):
        for key in ('compute_id', 'cert_ref'):
            if key in fields and not isinstance(fields[key], (str, type(None))):
                fields[key] = json.dumps(fields[key])
        fields['updated_at'] = _now()
        with self.engine.begin() as conn:
            conn.execute(models.amphorae.update().where(
                models.amphorae.c.id == amphora_id).values(**fields))

    def record_heartbeat(self, amphora_id, sequence, received_at,
                         config_version):
        """Accept a verified heartbeat only if its sequence is newer than the
        stored one (two health managers may receive the same amphora)."""
        amps = models.amphorae
        with self.engine.begin() as conn:
            return conn.execute(amps.update().where(
                amps.c.id == amphora_id, amps.c.last_sequence < sequence,
                amps.c.state != 'DELETED').values(
                    last_sequence=sequence, last_heartbeat=received_at,
                    config_version=config_version,
                    updated_at=_now())).rowcount == 1

    def used_management_addresses(self):
        amps = models.amphorae
        with self.engine.connect() as conn:
            return set(conn.execute(sa.select(amps.c.management_address).where(
                amps.c.state != 'DELETED',
                amps.c.management_address.isnot(None))).scalars().all())
