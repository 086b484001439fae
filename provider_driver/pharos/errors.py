"""Turning compiler errors (paths into the load balancer tree) into messages
that name the Octavia object and field the user can change."""
import re

_SEGMENT = re.compile(r'^/(listeners|pools)/(\d+)(?:/members/(\d+)|'
                      r'/(healthmonitor)|/l7policies/(\d+)(?:/rules/(\d+))?)?'
                      r'(?:/(.*))?$')


def describe(tree, path):
    """'/pools/0/session_persistence' -> ('pool <id>', 'session_persistence'),
    '/listeners/0/l7policies/1/rules/0/value' -> ('l7rule <id>', 'value')."""
    match = _SEGMENT.match(path or '')
    if not match:
        field = (path or '').strip('/').replace('/', '.')
        if field.startswith('loadbalancer.'):
            return 'load balancer', field[len('loadbalancer.'):]
        return 'load balancer', field
    collection, index, member_index, hm, policy_index, rule_index, rest = \
        match.groups()
    field = (rest or '').replace('/', '.')
    try:
        item = tree[collection][int(index)]
        if policy_index is not None:
            policy = item['l7policies'][int(policy_index)]
            if rule_index is not None:
                rule = policy['rules'][int(rule_index)]
                return 'l7rule %s' % rule.get('l7rule_id'), field
            return 'l7policy %s' % policy.get('l7policy_id'), field
        if collection == 'listeners':
            return 'listener %s' % item.get('listener_id'), field
        if member_index is not None:
            member = item['members'][int(member_index)]
            return 'member %s' % member.get('member_id'), field
        if hm:
            return ('health monitor %s' %
                    item['healthmonitor'].get('healthmonitor_id'), field)
        return 'pool %s' % item.get('pool_id'), field
    except (KeyError, IndexError, TypeError, ValueError):
        return path, field


def user_message(tree, errors):
    """One line per (path, message): 'field: message (object)'."""
    lines = []
    for path, message in errors:
        obj, field = describe(tree, path)
        if field:
            lines.append('%s: %s (%s)' % (field, message, obj))
        else:
            lines.append('%s (%s)' % (message, obj))
    return '; '.join(lines)
