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

    def entries(self, collection, obj_id):
        with self.lock:
            return [e for doc in self.statuses for e in doc.get(collection, [])
                    if e['id'] == obj_id]

    def last(self, collection, obj_id, field):
        for entry in reversed(self.entries(collection, obj_id)):
            if field in entry:
                return entry[field]
        return None
