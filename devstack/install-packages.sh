#!/bin/bash
# Install the Debian 12 packages needed by devstack/localcloud.sh and
# devstack/lbnet.sh.  Idempotent; only Debian packages are fetched.
#
# Only the *library* packages of the OpenStack services are installed
# (python3-keystone, python3-neutron, python3-octavia): they carry the
# command line tools (keystone-manage, keystone-wsgi-public, octavia-api,
# octavia-db-manage, octavia-driver-agent) and the neutron python package,
# but no init scripts, no dbconfig-common databases and no Apache/uwsgi.
# MariaDB's server package is installed for mariadb-install-db/mariadbd only;
# its system service is kept from starting (policy-rc.d) and stopped if some
# earlier install left it running.
#
# Usage: devstack/install-packages.sh           (as root)
#        PHAROS_APT_UPDATE=0 devstack/install-packages.sh   skip apt-get update
set -euo pipefail

PACKAGES=(
    mariadb-server            # mariadb-install-db + mariadbd (own datadir)
    python3-pymysql           # SQLAlchemy mysql+pymysql driver
    python3-keystone          # keystone-manage, keystone-wsgi-public
    python3-neutron           # neutron server (ml2 plugin, API only)
    python3-octavia           # octavia-api, octavia-db-manage, octavia-driver-agent
    python3-octavia-lib       # provider driver library (pulled anyway; explicit)
    python3-openstackclient   # `openstack` CLI
    python3-octaviaclient     # `openstack loadbalancer ...`
    iproute2                  # ip netns (lbnet.sh)
    curl                      # lbnet.sh self-check
    python3-pytest            # tests/localcloud
)

if [ "$(id -u)" != 0 ]; then
    echo "install-packages.sh: must run as root" >&2
    exit 1
fi

APT=(apt-get -o DPkg::Lock::Timeout=900 -y -q)
export DEBIAN_FRONTEND=noninteractive

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-packages.sh: all ${#PACKAGES[@]} packages already installed"
    exit 0
fi
echo "install-packages.sh: installing: ${missing[*]}"

# Keep maintainer scripts from starting services: a temporary policy-rc.d
# that answers 101 ("action forbidden").  A pre-existing one is moved aside
# and put back afterwards, also on failure.
POLICY=/usr/sbin/policy-rc.d
POLICY_SAVED=/usr/sbin/policy-rc.d.pharos-saved
cleanup() {
    rm -f "$POLICY"
    if [ -e "$POLICY_SAVED" ]; then mv -f "$POLICY_SAVED" "$POLICY"; fi
}
if [ -e "$POLICY" ] && [ ! -e "$POLICY_SAVED" ]; then
    mv "$POLICY" "$POLICY_SAVED"
fi
trap cleanup EXIT
printf '#!/bin/sh\n# temporary, from pharos devstack/install-packages.sh\nexit 101\n' > "$POLICY"
chmod 755 "$POLICY"

# Keep dbconfig-common from configuring databases, should any package that
# uses it be pulled in (the server packages keystone, neutron-common,
# octavia-common do; the python3-* ones do not).
if command -v debconf-set-selections >/dev/null; then
    for p in keystone neutron-common octavia-common; do
        printf '%s %s/dbconfig-install boolean false\n%s %s/dbconfig-upgrade boolean false\n%s %s/dbconfig-remove boolean false\n' \
            "$p" "$p" "$p" "$p" "$p" "$p"
    done | debconf-set-selections
fi

if [ "${PHAROS_APT_UPDATE:-1}" = 1 ]; then
    "${APT[@]}" update
fi
"${APT[@]}" install --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}"

# Should the system MariaDB (or an Apache pulled in by someone) be running
# anyway, stop it: localcloud.sh runs its own mariadbd.
for svc in mariadb apache2; do
    if [ -x /etc/init.d/$svc ] && /etc/init.d/$svc status >/dev/null 2>&1; then
        echo "install-packages.sh: stopping system $svc"
        /etc/init.d/$svc stop || true
    fi
done
echo "install-packages.sh: done"
