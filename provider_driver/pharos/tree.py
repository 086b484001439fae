"""The load balancer tree: one load balancer and its children as plain dicts.

Format (what `pharos._core.compile_loadbalancer` takes, see
engine/octavia/octavia_compiler.cc): ``{"version", "loadbalancer": {...},
"listeners": [Listener dicts with "l7policies", each with "rules"], "pools":
[Pool dicts with "members" and "healthmonitor"]}``, all with octavia-lib
provider names. A listener's l7policies are kept in Octavia's order and
numbered 1..n as Octavia numbers them. Functions here never touch the store
or the network; they return new trees.
"""
import copy

from octavia_lib.api.drivers import data_models

KINDS = ('loadbalancer', 'listener', 'pool', 'member', 'healthmonitor',
         'l7policy', 'l7rule')

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


def _set_items(obj, name):
    """A list field of an octavia-lib object or of a dict (Unset and None:
    empty)."""
    values = obj.get(name) if isinstance(obj, dict) else getattr(obj, name,
                                                                 None)
    if not values or isinstance(values, data_models.UnsetType):
        return []
    return [v for v in values if not isinstance(v, data_models.UnsetType)]


def _l7policy_dict(policy):
    out = to_dict(policy)
    out['rules'] = [to_dict(r) for r in _set_items(policy, 'rules')]
    return out


def _listener_dict(listener):
    out = to_dict(listener)
    policies = [_l7policy_dict(p) for p in _set_items(listener, 'l7policies')]
    policies.sort(key=_position)
    out['l7policies'] = _numbered(policies)
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


def _put_child(items, key, obj, what, update):
    """In the list `items` (changed in place): `obj` added, or replacing the
    item of its id; with `update`, merged into that item, which must exist."""
    obj_id = getattr(obj, key)
    i = _index(items, key, obj_id)
    if update:
        if i is None:
            raise NotInTree('%s %s' % (what, obj_id))
        items[i] = merge(items[i], obj)
    elif i is None:
        items.append(to_dict(obj))
    else:
        items[i] = to_dict(obj)


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


def _position(policy):
    position = policy.get('position')
    return position if isinstance(position, int) else float('inf')


def _numbered(policies):
    """Octavia's ordering_list: positions 1..n in list order."""
    for i, policy in enumerate(policies):
        policy['position'] = i + 1
    return policies


def _placed(policies, policy, position):
    """`policies` with `policy` where Octavia puts it: at `position` (1-based)
    when that is inside the list, else last."""
    policies = [p for p in policies
                if p.get('l7policy_id') != policy.get('l7policy_id')]
    if isinstance(position, int) and 1 <= position <= len(policies):
        policies.insert(position - 1, policy)
    else:
        policies.append(policy)
    return _numbered(policies)


def _listener_of_policy(tree, l7policy_id):
    for listener in tree['listeners']:
        for policy in listener.get('l7policies', []):
            if policy.get('l7policy_id') == l7policy_id:
                return listener, policy
    raise NotInTree('l7policy %s' % l7policy_id)


# What Octavia's database clears when an update sets the action (the
# provider is handed only the fields the request set).
_CLEARED_BY_ACTION = {
    'REJECT': ('redirect_url', 'redirect_pool_id', 'redirect_prefix',
               'redirect_http_code'),
    'REDIRECT_TO_URL': ('redirect_pool_id', 'redirect_prefix'),
    'REDIRECT_TO_POOL': ('redirect_url', 'redirect_prefix',
                         'redirect_http_code'),
    'REDIRECT_PREFIX': ('redirect_url', 'redirect_pool_id'),
}


def put_l7policy(tree, policy, update=False):
    """Create (at its position, or last) or update an L7 policy; its rules
    stay on update. A new policy comes with its listener_id."""
    tree = copy.deepcopy(tree)
    pid = policy.l7policy_id
    if update:
        listener, old = _listener_of_policy(tree, pid)
        changes = to_dict(policy)
        new = merge(old, policy)
        new['rules'] = old.get('rules', [])
        for key in _CLEARED_BY_ACTION.get(changes.get('action'), ()):
            if key not in changes:
                new[key] = None
        position = changes.get('position', old.get('position'))
    else:
        lid = policy.listener_id
        li = _index(tree['listeners'], 'listener_id', lid)
        if li is None:
            raise NotInTree('listener %s' % lid)
        listener = tree['listeners'][li]
        new = _l7policy_dict(policy)
        position = new.get('position')
    listener['l7policies'] = _placed(listener.get('l7policies', []), new,
                                     position)
    return tree


def delete_l7policy(tree, l7policy_id):
    tree = copy.deepcopy(tree)
    listener, _ = _listener_of_policy(tree, l7policy_id)
    listener['l7policies'] = _numbered([
        p for p in listener['l7policies']
        if p.get('l7policy_id') != l7policy_id])
    return tree


def put_l7rule(tree, rule, update=False, l7policy_id=None):
    """Create or update an L7 rule of policy `l7policy_id` (default: the
    rule's own l7policy_id; Octavia leaves it out of an update)."""
    tree = copy.deepcopy(tree)
    _, policy = _listener_of_policy(tree, l7policy_id or rule.l7policy_id)
    _put_child(policy.setdefault('rules', []), 'l7rule_id', rule, 'l7rule',
               update)
    return tree


def delete_l7rule(tree, l7policy_id, l7rule_id):
    tree = copy.deepcopy(tree)
    _, policy = _listener_of_policy(tree, l7policy_id)
    policy['rules'] = [r for r in policy.get('rules', [])
                       if r.get('l7rule_id') != l7rule_id]
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
    _put_child(pool.setdefault('members', []), 'member_id', member, 'member',
               update)
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
        for policy in listener.get('l7policies') or []:
            out['l7policy'].add(policy.get('l7policy_id'))
            for rule in policy.get('rules') or []:
                out['l7rule'].add(rule.get('l7rule_id'))
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
