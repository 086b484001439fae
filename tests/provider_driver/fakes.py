"""Test doubles at the octavia-driver-agent boundary."""
import threading


class FakeDriverLibrary:
    """Records status and statistics documents; get_loadbalancer answers from
    the store (what Octavia would have committed), unless told otherwise."""

    def __init__(self, store):
        self.store = store
        self.statuses = []
        self.stats = []
        self.hidden = set()
        self.lock = threading.Lock()

    def update_loadbalancer_status(self, status):
        with self.lock:
            self.statuses.append(status)

    def update_listener_statistics(self, statistics):
        with self.lock:
            self.stats.append(statistics)

    def get_loadbalancer(self, lb_id):
        if lb_id in self.hidden:
            return None
        record = self.store.get_loadbalancer(lb_id)
        if record is None:
            return None
        # like octavia-lib: a LoadBalancer object whose children are dicts
        from octavia_lib.api.drivers import data_models
        tree = record.tree
        return data_models.LoadBalancer.from_dict(
            {'loadbalancer_id': lb_id, 'listeners': tree['listeners'],
             'pools': tree['pools']})

    def _object(self, kind, obj_id):
        """An object of a committed tree, as the driver agent returns it
        (hidden when its load balancer or itself is)."""
        from octavia_lib.api.drivers import data_models
        lb_id = self.store.loadbalancer_of(obj_id)
        if lb_id is None or lb_id in self.hidden or obj_id in self.hidden:
            return None
        tree = self.store.get_loadbalancer(lb_id).tree
        for listener in tree['listeners']:
            if kind == 'listener' and listener.get('listener_id') == obj_id:
                return data_models.Listener.from_dict(
                    {k: v for k, v in listener.items() if k != 'l7policies'})
            for policy in listener.get('l7policies') or []:
                if kind == 'l7policy' and policy.get('l7policy_id') == obj_id:
                    return data_models.L7Policy.from_dict(dict(policy))
                for rule in policy.get('rules') or []:
                    if kind == 'l7rule' and rule.get('l7rule_id') == obj_id:
                        return data_models.L7Rule.from_dict(dict(rule))
        for pool in tree['pools']:
            if kind == 'pool' and pool.get('pool_id') == obj_id:
                return data_models.Pool.from_dict(
                    {k: v for k, v in pool.items()
                     if k not in ('members', 'healthmonitor')})
            hm = pool.get('healthmonitor') or {}
            if kind == 'healthmonitor' and hm.get('healthmonitor_id') == obj_id:
                return data_models.HealthMonitor.from_dict(dict(hm))
            for member in pool.get('members', []):
                if kind == 'member' and member.get('member_id') == obj_id:
                    return data_models.Member.from_dict(dict(member))
        return None

    def get_listener(self, listener_id):
        return self._object('listener', listener_id)

    def get_pool(self, pool_id):
        return self._object('pool', pool_id)

    def get_member(self, member_id):
        return self._object('member', member_id)

    def get_healthmonitor(self, healthmonitor_id):
        return self._object('healthmonitor', healthmonitor_id)

    def get_l7policy(self, l7policy_id):
        return self._object('l7policy', l7policy_id)

    def get_l7rule(self, l7rule_id):
        return self._object('l7rule', l7rule_id)

    def entries(self, collection, obj_id):
        with self.lock:
            return [e for doc in self.statuses for e in doc.get(collection, [])
                    if e['id'] == obj_id]

    def last(self, collection, obj_id, field):
        for entry in reversed(self.entries(collection, obj_id)):
            if field in entry:
                return entry[field]
        return None
