"""Flavor and availability zone metadata the pharos provider understands."""
from octavia_lib.api.drivers import exceptions as lib_exc

FLAVOR_METADATA = {
    'engine_workers': 'Number of engine worker threads (integer, 1-64).',
    'topology': 'Amphora topology; only SINGLE is supported.',
    'analytics_level': 'Transaction analytics kept by the agent: none, '
                       'basic (aggregates) or full (aggregates and records).',
}

# key -> (check, description of what is allowed)
FLAVOR_SCHEMA = {
    'engine_workers': (lambda v: isinstance(v, int) and
                       not isinstance(v, bool) and 1 <= v <= 64,
                       'an integer from 1 to 64'),
    'topology': (lambda v: v == 'SINGLE', 'SINGLE'),
    'analytics_level': (lambda v: v in ('none', 'basic', 'full'),
                        'one of none, basic, full'),
}

AZ_METADATA = {
    'compute_driver': 'Where the amphorae of this zone run: local or nova.',
    'compute_zone': 'Nova availability zone of the amphorae.',
    'management_network': 'Nova management network id of the amphorae.',
}

AZ_SCHEMA = {
    'compute_driver': (lambda v: v in ('local', 'nova'), 'local or nova'),
    'compute_zone': (lambda v: isinstance(v, str) and v != '', 'a name'),
    'management_network': (lambda v: isinstance(v, str) and v != '',
                           'a network id'),
}


def validate(schema, metadata, what):
    if not isinstance(metadata, dict):
        message = '%s metadata must be a JSON object' % what
        raise lib_exc.UnsupportedOptionError(user_fault_string=message,
                                             operator_fault_string=message)
    problems = []
    for key, value in metadata.items():
        if key not in schema:
            problems.append('%s: not a pharos %s option (supported: %s)' % (
                key, what, ', '.join(sorted(schema))))
            continue
        check, allowed = schema[key]
        if not check(value):
            problems.append('%s: %r is not valid, must be %s' % (
                key, value, allowed))
    if problems:
        message = '; '.join(problems)
        raise lib_exc.UnsupportedOptionError(user_fault_string=message,
                                             operator_fault_string=message)
