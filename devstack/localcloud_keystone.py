#!/usr/bin/python3
"""Create the service project, users, roles, services and endpoints that the
localcloud needs in Keystone.  Idempotent (find-or-create).  Called by
devstack/localcloud.sh after `keystone-manage bootstrap`; reads everything
from the environment (LC_* variables set by localcloud.sh).
"""
import os
import sys
import time

from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from keystoneclient.v3 import client as ks_client


def env(name):
    value = os.environ.get(name)
    if not value:
        sys.exit('localcloud_keystone.py: %s is not set' % name)
    return value


def find(manager, name, **kw):
    for item in manager.list(name=name, **kw):
        if item.name == name:
            return item
    return None


def main():
    auth_url = env('LC_KEYSTONE_URL') + '/v3'
    region = env('LC_REGION')
    auth = v3.Password(auth_url=auth_url, username='admin',
                       password=env('LC_ADMIN_PASSWORD'),
                       project_name='admin', user_domain_id='default',
                       project_domain_id='default')
    sess = ks_session.Session(auth=auth, timeout=30)
    ks = ks_client.Client(session=sess, interface='public',
                          region_name=region)

    domain = ks.domains.get('default')
    service_project = (find(ks.projects, 'service', domain=domain) or
                       ks.projects.create('service', domain,
                                          description='Service project'))
    roles = {}
    for rname in ('admin', 'member', 'reader', 'service',
                  'load-balancer_member', 'load-balancer_admin',
                  'load-balancer_observer', 'load-balancer_global_observer'):
        roles[rname] = find(ks.roles, rname) or ks.roles.create(rname)

    admin_project = find(ks.projects, 'admin', domain=domain)
    admin_user = find(ks.users, 'admin', domain=domain)
    for rname in ('member', 'load-balancer_admin'):
        ks.roles.grant(roles[rname], user=admin_user, project=admin_project)

    services = [
        # user       password env var          service type     name       url
        ('neutron', 'LC_NEUTRON_PASSWORD', 'network', 'neutron',
         env('LC_NEUTRON_URL')),
        ('octavia', 'LC_OCTAVIA_PASSWORD', 'load-balancer', 'octavia',
         env('LC_OCTAVIA_URL')),
    ]
    for uname, pw_var, stype, sname, url in services:
        password = env(pw_var)
        user = find(ks.users, uname, domain=domain)
        if user is None:
            user = ks.users.create(uname, domain=domain, password=password,
                                   default_project=service_project)
        else:
            ks.users.update(user, password=password)
        for rname in ('admin', 'service'):
            ks.roles.grant(roles[rname], user=user, project=service_project)

        svc = None
        for s in ks.services.list(type=stype):
            if s.name == sname:
                svc = s
        if svc is None:
            svc = ks.services.create(sname, type=stype)
        existing = {e.interface: e for e in
                    ks.endpoints.list(service=svc, region=region)}
        for iface in ('public', 'internal', 'admin'):
            ep = existing.get(iface)
            if ep is None:
                ks.endpoints.create(svc, url, interface=iface, region=region)
            elif ep.url != url:
                ks.endpoints.update(ep, url=url)
    print('localcloud_keystone.py: service users and endpoints ready')


if __name__ == '__main__':
    t0 = time.monotonic()
    main()
    print('localcloud_keystone.py: %.1fs' % (time.monotonic() - t0))
