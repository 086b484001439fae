"""Octavia status documents (for DriverLibrary.update_loadbalancer_status)
built from a load balancer tree and member health."""
from pharos import tree as lbtree

# engine / agent member states -> Octavia operating status
_ENGINE_TO_OCTAVIA = {'UP': 'ONLINE', 'DOWN': 'ERROR', 'DRAINING': 'DRAINING',
                      'MAINT': 'OFFLINE', 'NO_CHECK': 'NO_MONITOR'}

_COLLECTIONS = {'loadbalancer': 'loadbalancers', 'listener': 'listeners',
                'pool': 'pools', 'member': 'members',
                'healthmonitor': 'healthmonitors', 'l7policy': 'l7policies',
                'l7rule': 'l7rules'}


def octavia_member_status(value):
    """Agent status ({'status': 'UP'} or 'UP') or heartbeat string -> Octavia."""
    if isinstance(value, dict):
        value = value.get('operating_status') or value.get('status')
    if not value:
        return None
    return _ENGINE_TO_OCTAVIA.get(value, value)


def _up(obj):
    return obj.get('admin_state_up', True) is not False


def operating_statuses(tree, member_health):
    """{kind: {id: operating status}} for the whole tree. `member_health`
    maps member id -> Octavia status (from the agent or a heartbeat)."""
    out = {k: {} for k in lbtree.KINDS}
    lb = tree.get('loadbalancer') or {}
    lb_id = lb.get('loadbalancer_id')
    lb_up = _up(lb)
    worst = 'ONLINE'
    for pool in tree.get('pools', []):
        hm = pool.get('healthmonitor')
        monitored = bool(hm) and _up(hm)
        statuses = []
        for member in pool.get('members', []):
            mid = member.get('member_id')
            if not _up(member) or not _up(pool) or not lb_up:
                status = 'OFFLINE'
            elif not monitored:
                status = 'NO_MONITOR'
            else:
                status = member_health.get(mid) or 'NO_MONITOR'
            out['member'][mid] = status
            statuses.append(status)
        if hm:
            out['healthmonitor'][hm.get('healthmonitor_id')] = \
                'ONLINE' if _up(hm) else 'OFFLINE'
        if not _up(pool) or not lb_up:
            pool_status = 'OFFLINE'
        else:
            errors = sum(1 for s in statuses if s == 'ERROR')
            considered = [s for s in statuses if s != 'OFFLINE']
            if considered and errors == len(considered):
                pool_status = 'ERROR'
            elif errors:
                pool_status = 'DEGRADED'
            else:
                pool_status = 'ONLINE'
        out['pool'][pool.get('pool_id')] = pool_status
        if pool_status in ('ERROR', 'DEGRADED'):
            worst = 'DEGRADED'
    for listener in tree.get('listeners', []):
        listener_up = _up(listener) and lb_up
        out['listener'][listener.get('listener_id')] = \
            'ONLINE' if listener_up else 'OFFLINE'
        # as Octavia's amphora driver: ONLINE when enabled (and all above)
        for policy in listener.get('l7policies') or []:
            policy_up = listener_up and _up(policy)
            out['l7policy'][policy.get('l7policy_id')] = \
                'ONLINE' if policy_up else 'OFFLINE'
            for rule in policy.get('rules') or []:
                out['l7rule'][rule.get('l7rule_id')] = \
                    'ONLINE' if policy_up and _up(rule) else 'OFFLINE'
    if lb_id:
        out['loadbalancer'][lb_id] = worst if lb_up else 'OFFLINE'
    for kind in out:
        out[kind].pop(None, None)
    return out


def document(provisioning, operating=None, deleted=None, lb_id=None,
             lb_provisioning=None):
    """Status document: `provisioning` {kind: {id: status}} or {kind: set};
    `operating` {kind: {id: status}}; `deleted` {kind: ids}."""
    entries = {}

    def entry(kind, obj_id):
        key = (kind, obj_id)
        if key not in entries:
            entries[key] = {'id': obj_id}
        return entries[key]

    for kind, items in (provisioning or {}).items():
        if isinstance(items, dict):
            for obj_id, status in items.items():
                entry(kind, obj_id)['provisioning_status'] = status
    for kind, items in (operating or {}).items():
        for obj_id, status in items.items():
            entry(kind, obj_id)['operating_status'] = status
    for kind, ids in (deleted or {}).items():
        for obj_id in ids:
            entries[(kind, obj_id)] = {'id': obj_id,
                                       'provisioning_status': 'DELETED'}
    if lb_id and lb_provisioning:
        entry('loadbalancer', lb_id)['provisioning_status'] = lb_provisioning
    doc = {}
    for (kind, _), value in entries.items():
        doc.setdefault(_COLLECTIONS[kind], []).append(value)
    return doc


def all_provisioning(tree, status):
    return {kind: {obj_id: status for obj_id in ids}
            for kind, ids in lbtree.object_ids(tree).items()}


def removed(applied_tree, desired_tree):
    """{kind: ids} in the applied tree that the desired tree no longer has."""
    if not applied_tree:
        return {}
    before = lbtree.object_ids(applied_tree)
    after = lbtree.object_ids(desired_tree)
    return {kind: before[kind] - after[kind] for kind in before
            if before[kind] - after[kind]}
