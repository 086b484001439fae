"""The load balancer tree: one load balancer and its children as plain dicts.

Format (what `pharos._core.compile_loadbalancer` takes, see
engine/octavia/octavia_compiler.cc): ``{"version", "loadbalancer": {...},
"listeners": [Listener dicts], "pools": [Pool dicts with "members" and
"healthmonitor"]}``, all with octavia-lib provider names. Functions here never
touch the store or the network; they return new trees.
"""
import copy

from octavia_lib.api.drivers import data_models

KINDS = ('loadbalancer', 'listener', 'pool', 'member', 'healthmonitor')

# Children the functions below place themselves (or drop), never copied as
# fields of their parent.
_CHILDREN = frozenset(('listeners', 'pools', 'members', 'healthmonitor',
                       'l7policies', 'rules', 'default_pool'))


def _plain(value):
    """A value as JSON can hold it. Octavia hands certificate material
    (the *_container_data fields) over as bytes; PEM is ASCII, and anything
    else is kept readable enough for tls_material to refuse it by name."""
    if isinstance(value, bytes):
        try:
            return value.decode('utf-8')
        except UnicodeDecodeError:
            return value.decode('latin-1')
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()
                if not isinstance(v, data_models.UnsetType)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _is_model(value):
    if isinstance(value, data_models.BaseDataModel):
        return True
    return isinstance(value, (list, tuple)) and any(
        isinstance(v, data_models.BaseDataModel) for v in value)


def to_dict(obj):
    """octavia-lib object -> dict of the fields that are set (Unset skipped).

    Lists of values (allowed_cidrs, tls_versions, sni_container_data...) are
    kept, which octavia-lib's own to_dict() drops; child objects are not.
    """
    if obj is None or isinstance(obj, data_models.UnsetType):
        return {}
    items = obj.items() if isinstance(obj, dict) else vars(obj).items()
    return {k: _plain(v) for k, v in items
            if not k.startswith('_') and k not in _CHILDREN and
            not isinstance(v, data_models.UnsetType) and not _is_model(v)}


# A certificate reference and the data Octavia read for it. An update carries
# the data only with a new reference; a reference in an update without its
# data was cleared, and its old data goes with it.
_MATERIAL_OF_REF = {
    'default_tls_container_ref': 'default_tls_container_data',
    'sni_container_refs': 'sni_container_data',
    'client_ca_tls_container_ref': 'client_ca_tls_container_data',
    'client_crl_container_ref': 'client_crl_container_data',
    'tls_container_ref': 'tls_container_data',
    'ca_tls_container_ref': 'ca_tls_container_data',
    'crl_container_ref': 'crl_container_data',
}


def merge(old, update):
    """`old` with the set fields of `update` (None is a value: 'unset it')."""
    out = dict(old)
    changes = to_dict(update)
    for key, value in changes.items():
        out[key] = value
    for ref, data in _MATERIAL_OF_REF.items():
        if ref in changes and data not in changes:
            out.pop(data, None)
    return out


def empty(loadbalancer):
    lb = to_dict(loadbalancer)
    return {'version': 1, 'loadbalancer': lb, 'listeners': [], 'pools': []}


def _member_dict(member):
    return to_dict(member)


def _pool_dict(pool):
    out = to_dict(pool)
    members = getattr(pool, 'members', None)
    out['members'] = [_member_dict(m) for m in (members or [])
                      if not isinstance(m, data_models.UnsetType)]
    hm = getattr(pool, 'healthmonitor', None)
    if hm and not isinstance(hm, data_models.UnsetType):
        out['healthmonitor'] = to_dict(hm)
    return out


def _listener_dict(listener):
    out = to_dict(listener)
    policies = getattr(listener, 'l7policies', None)
    if policies and not isinstance(policies, data_models.UnsetType):
        # Kept so that the compiler refuses them with their path.
        out['l7policies'] = [to_dict(p) for p in policies]
    return out


def from_loadbalancer(loadbalancer):
    """Tree of a (possibly full-graph) LoadBalancer create request."""
    tree = empty(loadbalancer)
    lb_id = tree['loadbalancer'].get('loadbalancer_id')
    pools = {}
    for pool in (loadbalancer.pools or []):
        pools[pool.pool_id] = _pool_dict(pool)
    for listener in (loadbalancer.listeners or []):
        entry = _listener_dict(listener)
        entry.setdefault('loadbalancer_id', lb_id)
        tree['listeners'].append(entry)
        default = getattr(listener, 'default_pool', None)
        if default and not isinstance(default, data_models.UnsetType):
            pools.setdefault(default.pool_id, _pool_dict(default))
    for pool in pools.values():
        pool.setdefault('loadbalancer_id', lb_id)
        tree['pools'].append(pool)
    return tree


def _index(items, key, obj_id):
    for i, item in enumerate(items):
        if item.get(key) == obj_id:
            return i
    return None


def find_pool(tree, pool_id):
    i = _index(tree['pools'], 'pool_id', pool_id)
    return None if i is None else tree['pools'][i]


class NotInTree(KeyError):
    """The object the request names is not part of this load balancer."""


def _pool_or_raise(tree, pool_id):
    pool = find_pool(tree, pool_id)
    if pool is None:
        raise NotInTree('pool %s' % pool_id)
    return pool


# Each mutation takes a tree and returns a new one (the input is not changed).

def update_loadbalancer(tree, new_lb):
    tree = copy.deepcopy(tree)
    tree['loadbalancer'] = merge(tree['loadbalancer'], new_lb)
    return tree


def put_listener(tree, listener, update=False):
    tree = copy.deepcopy(tree)
    lid = listener.listener_id
    i = _index(tree['listeners'], 'listener_id', lid)
    if update:
        if i is None:
            raise NotInTree('listener %s' % lid)
        tree['listeners'][i] = merge(tree['listeners'][i], listener)
    else:
        entry = _listener_dict(listener)
        if i is None:
            tree['listeners'].append(entry)
        else:
            tree['listeners'][i] = entry
    return tree


def delete_listener(tree, listener_id):
    tree = copy.deepcopy(tree)
    tree['listeners'] = [li for li in tree['listeners']
                         if li.get('listener_id') != listener_id]
    return tree


def put_pool(tree, pool, update=False):
    tree = copy.deepcopy(tree)
    pid = pool.pool_id
    i = _index(tree['pools'], 'pool_id', pid)
    if update:
        if i is None:
            raise NotInTree('pool %s' % pid)
        old = tree['pools'][i]
        new = merge(old, pool)
        new['members'] = old.get('members', [])
        if 'healthmonitor' in old:
            new['healthmonitor'] = old['healthmonitor']
        tree['pools'][i] = new
    else:
        entry = _pool_dict(pool)
        if i is None:
            tree['pools'].append(entry)
        else:
            tree['pools'][i] = entry
        # A pool created with a listener_id becomes that listener's default.
        lid = entry.get('listener_id')
        if lid:
            li = _index(tree['listeners'], 'listener_id', lid)
            if li is not None and not tree['listeners'][li].get(
                    'default_pool_id'):
                tree['listeners'][li]['default_pool_id'] = pid
    return tree


def delete_pool(tree, pool_id):
    tree = copy.deepcopy(tree)
    tree['pools'] = [p for p in tree['pools'] if p.get('pool_id') != pool_id]
    for listener in tree['listeners']:
        if listener.get('default_pool_id') == pool_id:
            listener['default_pool_id'] = None
    return tree


def put_member(tree, member, update=False):
    tree = copy.deepcopy(tree)
    pool = _pool_or_raise(tree, member.pool_id if not isinstance(
        member.pool_id, data_models.UnsetType) else None)
    members = pool.setdefault('members', [])
    i = _index(members, 'member_id', member.member_id)
    if update:
        if i is None:
            raise NotInTree('member %s' % member.member_id)
        members[i] = merge(members[i], member)
    elif i is None:
        members.append(_member_dict(member))
    else:
        members[i] = _member_dict(member)
    return tree


def delete_member(tree, pool_id, member_id):
    tree = copy.deepcopy(tree)
    pool = _pool_or_raise(tree, pool_id)
    pool['members'] = [m for m in pool.get('members', [])
                       if m.get('member_id') != member_id]
    return tree


def replace_members(tree, pool_id, members):
    """member_batch_update: `members` is the whole new member set."""
    tree = copy.deepcopy(tree)
    pool = _pool_or_raise(tree, pool_id)
    old = {m.get('member_id'): m for m in pool.get('members', [])}
    new = []
    for member in members:
        entry = to_dict(member)
        entry.setdefault('pool_id', pool_id)
        base = old.get(entry.get('member_id'), {})
        new.append(merge(base, entry))
    pool['members'] = new
    return tree


def put_healthmonitor(tree, hm, update=False, pool_id=None):
    tree = copy.deepcopy(tree)
    pool = _pool_or_raise(tree, pool_id or hm.pool_id)
    if update:
        if 'healthmonitor' not in pool:
            raise NotInTree('health monitor %s' % hm.healthmonitor_id)
        pool['healthmonitor'] = merge(pool['healthmonitor'], hm)
    else:
        pool['healthmonitor'] = to_dict(hm)
    return tree


def delete_healthmonitor(tree, pool_id):
    tree = copy.deepcopy(tree)
    pool = _pool_or_raise(tree, pool_id)
    pool.pop('healthmonitor', None)
    return tree


def object_ids(tree):
    """{kind: set(ids)} of every object in the tree (for status and diffs)."""
    out = {k: set() for k in KINDS}
    lb_id = (tree.get('loadbalancer') or {}).get('loadbalancer_id')
    if lb_id:
        out['loadbalancer'].add(lb_id)
    for listener in tree.get('listeners', []):
        out['listener'].add(listener.get('listener_id'))
    for pool in tree.get('pools', []):
        out['pool'].add(pool.get('pool_id'))
        for member in pool.get('members', []):
            out['member'].add(member.get('member_id'))
        hm = pool.get('healthmonitor')
        if hm:
            out['healthmonitor'].add(hm.get('healthmonitor_id'))
    for kind in out:
        out[kind].discard(None)
    return out


def pool_of(tree, kind, obj_id):
    """Pool id holding a member/health monitor id, or None."""
    for pool in tree.get('pools', []):
        if kind == 'member' and any(m.get('member_id') == obj_id
                                    for m in pool.get('members', [])):
            return pool.get('pool_id')
        if kind == 'healthmonitor' and (pool.get('healthmonitor') or {}).get(
                'healthmonitor_id') == obj_id:
            return pool.get('pool_id')
    return None


def engine_tree(tree, amphora_id, version, workers=None):
    """The tree as the compiler takes it for one amphora and version."""
    out = {k: v for k, v in tree.items() if not k.startswith('_')}
    out['version'] = version
    out['amphora_id'] = amphora_id
    if workers:
        out['workers'] = workers
    return out
