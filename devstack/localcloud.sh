#!/bin/bash
# Pharos localcloud: a real, minimal OpenStack control plane on 127.0.0.1
# (MariaDB, Keystone, Neutron API, Octavia API + driver agent) with all its
# state under one directory.  See devstack/README.md.
#
#   devstack/localcloud.sh start     start what is not running (no-op if up)
#   devstack/localcloud.sh stop      stop what start started (recorded PIDs)
#   devstack/localcloud.sh status    up/down, PID and port of each service
#   devstack/localcloud.sh env       print `export ...` lines for the CLI
#   devstack/localcloud.sh openstack ARGS...   run the CLI against it
#   devstack/localcloud.sh wipe      stop, then delete the state directory
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
LC=${PHAROS_LOCALCLOUD_DIR:-${PHAROS_STATE_DIR:-$REPO_ROOT/.state}/localcloud}

# ---- ports (override with the environment) --------------------------------
# Above the kernel's ephemeral range (ip_local_port_range, 32768-60999 by default), so no
# outgoing connection or port-0 bind of another process can hold one when the cloud starts;
# and above the 20000-32767 range the C++ tests pick their ports from.
MARIADB_PORT=${PHAROS_LC_MARIADB_PORT:-61306}
KEYSTONE_PORT=${PHAROS_LC_KEYSTONE_PORT:-61357}
NEUTRON_PORT=${PHAROS_LC_NEUTRON_PORT:-61696}
OCTAVIA_PORT=${PHAROS_LC_OCTAVIA_PORT:-61876}
HOST=127.0.0.1
REGION=${PHAROS_LC_REGION:-RegionOne}

# ---- Octavia providers (override with the environment) ---------------------
# enabled_provider_drivers, "name:description,name:description".
OCTAVIA_PROVIDERS=${PHAROS_LC_OCTAVIA_PROVIDERS:-"localcloud_noop:Pharos localcloud no-op provider with a real VIP port,noop_driver:Octavia built-in no-op provider"}
# (descriptions must not contain commas)
OCTAVIA_DEFAULT_PROVIDER=${PHAROS_LC_OCTAVIA_DEFAULT_PROVIDER:-localcloud_noop}
# [driver_agent] enabled_provider_agents, comma separated entry point names.
OCTAVIA_PROVIDER_AGENTS=${PHAROS_LC_OCTAVIA_PROVIDER_AGENTS:-noop_agent}
# Extra directories put on the PYTHONPATH of octavia-api / driver agent
# (where a provider package and its *.dist-info with entry points live).
OCTAVIA_PYTHONPATH="$SCRIPT_DIR/localcloud_provider${PHAROS_LC_OCTAVIA_PYTHONPATH:+:$PHAROS_LC_OCTAVIA_PYTHONPATH}"

ETC=$LC/etc
RUN=$LC/run
LOG=$LC/log
BIN=$LC/bin
STAMP=$LC/stamps
MYCNF=$ETC/mariadb/my.cnf
MYSOCK=$RUN/mariadb.sock
SERVICES=(mariadb keystone neutron octavia-driver-agent octavia-api)   # stop: reverse
START_TIMEOUT=${PHAROS_LC_START_TIMEOUT:-120}

say() { echo "localcloud: $*"; }
die() { echo "localcloud: ERROR: $*" >&2; exit 1; }

port_of() {
    case $1 in
        mariadb) echo "$MARIADB_PORT" ;;
        keystone) echo "$KEYSTONE_PORT" ;;
        neutron) echo "$NEUTRON_PORT" ;;
        octavia-api) echo "$OCTAVIA_PORT" ;;
        octavia-driver-agent) echo "-" ;;
    esac
}

# A recorded PID counts only if that process still runs and is the one we
# started: the pid file holds "PID STARTTIME" (field 22 of /proc/PID/stat).
proc_start() { awk '{sub(/^.*\) /, ""); print $20}' "/proc/$1/stat" 2>/dev/null; }

pid_of() {
    local f=$RUN/$1.pid pid start
    [ -f "$f" ] || return 1
    read -r pid start < "$f" || true
    [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
    [ "$(proc_start "$pid")" = "$start" ] || return 1
    # a zombie is not up
    [ "$(awk '{sub(/^.*\) /, ""); print $1}' "/proc/$pid/stat" 2>/dev/null)" != Z ] || return 1
    echo "$pid"
}

is_up() { pid_of "$1" >/dev/null; }

tcp_open() {  # host port
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

wait_for() {  # name description command...
    local name=$1 what=$2; shift 2
    local t0=$SECONDS
    until "$@" >/dev/null 2>&1; do
        if ! is_up "$name"; then
            tail -n 30 "$LOG/$name.log" >&2 || true
            die "$name exited while waiting for $what (log: $LOG/$name.log)"
        fi
        if (( SECONDS - t0 > START_TIMEOUT )); then
            tail -n 30 "$LOG/$name.log" >&2 || true
            die "timeout waiting for $what (log: $LOG/$name.log)"
        fi
        sleep 0.2
    done
}

# Start a daemon in its own session (PID = process group id) and record it.
spawn() {  # name command...
    local name=$1; shift
    setsid "$@" >>"$LOG/$name.log" 2>&1 < /dev/null 9>&- &
    local pid=$!
    echo "$pid $(proc_start "$pid")" > "$RUN/$name.pid"
}

secrets() {
    local f=$LC/secrets.env
    if [ ! -f "$f" ]; then
        umask 077
        {
            for v in ADMIN DB NEUTRON OCTAVIA; do
                echo "LC_${v}_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
            done
        } > "$f"
        umask 022
    fi
    # shellcheck disable=SC1090
    . "$f"
    export LC_ADMIN_PASSWORD LC_DB_PASSWORD LC_NEUTRON_PASSWORD LC_OCTAVIA_PASSWORD
}

db_url() { echo "mysql+pymysql://pharos:${LC_DB_PASSWORD}@$HOST:$MARIADB_PORT/$1?charset=utf8"; }
KEYSTONE_URL=http://$HOST:$KEYSTONE_PORT
NEUTRON_URL=http://$HOST:$NEUTRON_PORT
OCTAVIA_URL=http://$HOST:$OCTAVIA_PORT

authtoken_section() {  # user password
    cat <<EOF
[keystone_authtoken]
www_authenticate_uri = $KEYSTONE_URL
auth_url = $KEYSTONE_URL
auth_type = password
username = $1
password = $2
project_name = service
user_domain_name = Default
project_domain_name = Default
region_name = $REGION
service_token_roles_required = true
EOF
}

write_configs() {
    mkdir -p "$ETC"/{mariadb,keystone,neutron,octavia/conf.d} "$RUN" "$LOG" "$BIN" "$STAMP" \
             "$LC/mariadb" "$LC/keystone"/{fernet-keys,credential-keys} \
             "$LC/neutron" "$LC/octavia" "$LC/lock" "$LC/certificates"
    chmod 700 "$LC/keystone"/{fernet-keys,credential-keys} "$LC/certificates"

    cat > "$MYCNF" <<EOF
[mysqld]
datadir = $LC/mariadb
socket = $MYSOCK
pid-file = $RUN/mariadbd.pidfile
port = $MARIADB_PORT
bind-address = $HOST
skip-name-resolve
log-error = $LOG/mariadb.log
max_connections = 400
innodb_buffer_pool_size = 128M
innodb_flush_log_at_trx_commit = 2
performance_schema = OFF
character-set-server = utf8mb4
[client]
socket = $MYSOCK
port = $MARIADB_PORT
EOF

    cat > "$ETC/keystone/keystone.conf" <<EOF
[DEFAULT]
log_file = $LOG/keystone-app.log
[database]
connection = $(db_url keystone)
[token]
provider = fernet
expiration = 14400
[fernet_tokens]
key_repository = $LC/keystone/fernet-keys
[credential]
key_repository = $LC/keystone/credential-keys
[cache]
enabled = false
[oslo_policy]
enforce_new_defaults = false
enforce_scope = false
EOF

    cat > "$ETC/neutron/neutron.conf" <<EOF
[DEFAULT]
bind_host = $HOST
bind_port = $NEUTRON_PORT
core_plugin = ml2
service_plugins =
auth_strategy = keystone
api_paste_config = $ETC/neutron/api-paste.ini
state_path = $LC/neutron
transport_url = fake://
rpc_workers = 0
rpc_state_report_workers = 0
api_workers = ${PHAROS_LC_NEUTRON_API_WORKERS:-0}
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
dhcp_agent_notification = false
allow_overlapping_ips = true
log_file = $LOG/neutron-app.log
[database]
connection = $(db_url neutron)
[oslo_concurrency]
lock_path = $LC/lock
[oslo_policy]
enforce_new_defaults = false
enforce_scope = false
[ml2]
type_drivers = vxlan,flat
tenant_network_types = vxlan
mechanism_drivers =
extension_drivers = port_security
[ml2_type_vxlan]
vni_ranges = 1:4000
[ml2_type_flat]
flat_networks = *
$(authtoken_section neutron "$LC_NEUTRON_PASSWORD")
EOF

    cat > "$ETC/neutron/api-paste.ini" <<'EOF'
# Minimal Neutron API pipeline for the Pharos localcloud.
[composite:neutron]
use = egg:Paste#urlmap
/: neutronversions
/v2.0: neutronapi_v2_0

[composite:neutronapi_v2_0]
use = call:neutron.auth:pipeline_factory
keystone = request_id catch_errors authtoken keystonecontext extensions neutronapiapp_v2_0

[filter:request_id]
paste.filter_factory = oslo_middleware:RequestId.factory

[filter:catch_errors]
paste.filter_factory = oslo_middleware:CatchErrors.factory

[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory

[filter:keystonecontext]
paste.filter_factory = neutron.auth:NeutronKeystoneContext.factory

[filter:extensions]
paste.filter_factory = neutron.api.extensions:plugin_aware_extension_middleware_factory

[app:neutronversions]
paste.app_factory = neutron.pecan_wsgi.app:versions_factory

[app:neutronapiapp_v2_0]
paste.app_factory = neutron.api.v2.router:APIRouter.factory
EOF

    local providers_dict
    providers_dict=$OCTAVIA_PROVIDERS
    cat > "$ETC/octavia/octavia.conf" <<EOF
[DEFAULT]
transport_url = fake://
log_file = $LOG/octavia-app.log
[api_settings]
bind_host = $HOST
bind_port = $OCTAVIA_PORT
auth_strategy = keystone
api_base_uri = $OCTAVIA_URL
enabled_provider_drivers = $providers_dict
default_provider_driver = $OCTAVIA_DEFAULT_PROVIDER
[database]
connection = $(db_url octavia)
[controller_worker]
network_driver = allowed_address_pairs_driver
compute_driver = compute_noop_driver
amphora_driver = amphora_noop_driver
loadbalancer_topology = SINGLE
[driver_agent]
status_socket_path = $RUN/octavia-status.sock
stats_socket_path = $RUN/octavia-stats.sock
get_socket_path = $RUN/octavia-get.sock
enabled_provider_agents = $OCTAVIA_PROVIDER_AGENTS
[certificates]
# No Barbican here: TLS container refs are names of files in storage_path
# (<ref>.crt, <ref>.key, optional <ref>.int and <ref>.pass; a CA bundle or a
# CRL used as a secret is <ref>.crt alone), what Octavia's local cert manager
# reads. Write them there, then pass <ref> as --default-tls-container-ref.
cert_manager = local_cert_manager
storage_path = $LC/certificates
[oslo_concurrency]
lock_path = $LC/lock
[oslo_policy]
enforce_new_defaults = false
enforce_scope = false
[neutron]
region_name = $REGION
endpoint_type = public
[service_auth]
auth_url = $KEYSTONE_URL
auth_type = password
username = octavia
password = $LC_OCTAVIA_PASSWORD
project_name = service
user_domain_name = Default
project_domain_name = Default
$(authtoken_section octavia "$LC_OCTAVIA_PASSWORD")
EOF
    # Extra snippets: $ETC/octavia/conf.d/*.conf are read after octavia.conf
    # (oslo.config --config-dir) and override it, e.g. to enable a provider:
    #   [api_settings]
    #   enabled_provider_drivers = pharos:Pharos,localcloud_noop:test
    # A copy of every file in $PHAROS_LC_OCTAVIA_CONF_DIR is put there.
    if [ -n "${PHAROS_LC_OCTAVIA_CONF_DIR:-}" ] && [ -d "$PHAROS_LC_OCTAVIA_CONF_DIR" ]; then
        cp -f "$PHAROS_LC_OCTAVIA_CONF_DIR"/*.conf "$ETC/octavia/conf.d/" 2>/dev/null || true
    fi

    # Launchers, so that processes carry readable names and the state dir.
    cat > "$BIN/neutron-server" <<'EOF'
#!/usr/bin/python3
import sys
from neutron.cmd.eventlet.server import main
sys.exit(main())
EOF
    cat > "$BIN/neutron-db-manage" <<'EOF'
#!/usr/bin/python3
import sys
from neutron.db.migration.cli import main
sys.exit(main())
EOF
    chmod 755 "$BIN"/*

    cat > "$LC/clouds.yaml" <<EOF
# Generated by devstack/localcloud.sh; use with
#   export OS_CLIENT_CONFIG_FILE=$LC/clouds.yaml
#   openstack --os-cloud pharos-local loadbalancer list
clouds:
  pharos-local:
    auth:
      auth_url: $KEYSTONE_URL/v3
      username: admin
      password: $LC_ADMIN_PASSWORD
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: $REGION
    interface: public
    identity_api_version: 3
EOF
    chmod 600 "$LC/clouds.yaml"
    cat > "$LC/openrc" <<EOF
# source me: . $LC/openrc
export OS_CLIENT_CONFIG_FILE=$LC/clouds.yaml
export OS_CLOUD=pharos-local
EOF
}

octavia_cfg_args() {
    echo --config-file "$ETC/octavia/octavia.conf" --config-dir "$ETC/octavia/conf.d"
}

mysql_root() { mariadb --defaults-file="$MYCNF" -uroot "$@"; }

start_mariadb() {
    is_up mariadb && return 0
    if [ ! -d "$LC/mariadb/mysql" ]; then
        say "initialising MariaDB data directory"
        mariadb-install-db --defaults-file="$MYCNF" --user=root \
            --skip-test-db --auth-root-authentication-method=socket \
            >>"$LOG/mariadb-install.log" 2>&1 || die "mariadb-install-db failed ($LOG/mariadb-install.log)"
    fi
    say "starting mariadbd on $HOST:$MARIADB_PORT"
    spawn mariadb mariadbd --defaults-file="$MYCNF" --user=root
    wait_for mariadb "MariaDB" mariadb-admin --defaults-file="$MYCNF" -uroot ping
    if [ ! -f "$STAMP/mariadb-dbs" ]; then
        mysql_root <<EOF
CREATE DATABASE IF NOT EXISTS keystone;
CREATE DATABASE IF NOT EXISTS neutron;
CREATE DATABASE IF NOT EXISTS octavia;
CREATE USER IF NOT EXISTS 'pharos'@'127.0.0.1' IDENTIFIED BY '$LC_DB_PASSWORD';
GRANT ALL PRIVILEGES ON keystone.* TO 'pharos'@'127.0.0.1';
GRANT ALL PRIVILEGES ON neutron.* TO 'pharos'@'127.0.0.1';
GRANT ALL PRIVILEGES ON octavia.* TO 'pharos'@'127.0.0.1';
FLUSH PRIVILEGES;
EOF
        touch "$STAMP/mariadb-dbs"
    fi
}

keystone_manage() { keystone-manage --config-file "$ETC/keystone/keystone.conf" "$@"; }

start_keystone() {
    # The stamps hold the URLs they were made for: new ports re-run bootstrap and the endpoint
    # setup (both update what exists), so the catalog never points at old ports.
    if [ "$(cat "$STAMP/keystone-db" 2>/dev/null)" != "$KEYSTONE_URL" ]; then
        say "keystone db_sync / fernet_setup / credential_setup / bootstrap"
        {
            keystone_manage db_sync
            [ -e "$LC/keystone/fernet-keys/0" ] || keystone_manage fernet_setup --keystone-user root --keystone-group root
            [ -e "$LC/keystone/credential-keys/0" ] || keystone_manage credential_setup --keystone-user root --keystone-group root
            keystone_manage bootstrap --bootstrap-password "$LC_ADMIN_PASSWORD" \
                --bootstrap-admin-url "$KEYSTONE_URL/v3/" \
                --bootstrap-internal-url "$KEYSTONE_URL/v3/" \
                --bootstrap-public-url "$KEYSTONE_URL/v3/" \
                --bootstrap-region-id "$REGION"
        } >>"$LOG/keystone-manage.log" 2>&1 || die "keystone-manage failed ($LOG/keystone-manage.log)"
        echo "$KEYSTONE_URL" >"$STAMP/keystone-db"
    fi
    if ! is_up keystone; then
        say "starting keystone on $HOST:$KEYSTONE_PORT"
        OS_KEYSTONE_CONFIG_DIR=$ETC/keystone spawn keystone \
            keystone-wsgi-public --host "$HOST" --port "$KEYSTONE_PORT"
        wait_for keystone "Keystone" curl -sf "$KEYSTONE_URL/v3"
    fi
    local services="$KEYSTONE_URL $NEUTRON_URL $OCTAVIA_URL $REGION"
    if [ "$(cat "$STAMP/keystone-services" 2>/dev/null)" != "$services" ]; then
        LC_KEYSTONE_URL=$KEYSTONE_URL LC_NEUTRON_URL=$NEUTRON_URL \
        LC_OCTAVIA_URL=$OCTAVIA_URL LC_REGION=$REGION \
            /usr/bin/python3 "$SCRIPT_DIR/localcloud_keystone.py" >>"$LOG/keystone-manage.log" 2>&1 \
            || die "service user/endpoint setup failed ($LOG/keystone-manage.log)"
        echo "$services" >"$STAMP/keystone-services"
    fi
}

start_neutron() {
    local cfg=(--config-file "$ETC/neutron/neutron.conf")
    if [ ! -f "$STAMP/neutron-db" ]; then
        say "neutron-db-manage upgrade heads"
        "$BIN/neutron-db-manage" "${cfg[@]}" upgrade heads >>"$LOG/neutron-db-manage.log" 2>&1 \
            || die "neutron-db-manage failed ($LOG/neutron-db-manage.log)"
        touch "$STAMP/neutron-db"
    fi
    is_up neutron && return 0
    say "starting neutron-server on $HOST:$NEUTRON_PORT"
    spawn neutron "$BIN/neutron-server" "${cfg[@]}"
    wait_for neutron "Neutron API" curl -sf "$NEUTRON_URL/"
}

start_octavia() {
    # shellcheck disable=SC2046
    if [ ! -f "$STAMP/octavia-db" ]; then
        say "octavia-db-manage upgrade head"
        octavia-db-manage $(octavia_cfg_args) upgrade head >>"$LOG/octavia-db-manage.log" 2>&1 \
            || die "octavia-db-manage failed ($LOG/octavia-db-manage.log)"
        touch "$STAMP/octavia-db"
    fi
    export PYTHONPATH="$OCTAVIA_PYTHONPATH${PYTHONPATH:+:$PYTHONPATH}"
    if ! is_up octavia-driver-agent; then
        say "starting octavia-driver-agent (agents: $OCTAVIA_PROVIDER_AGENTS)"
        rm -f "$RUN"/octavia-{status,stats,get}.sock
        # shellcheck disable=SC2046
        spawn octavia-driver-agent octavia-driver-agent $(octavia_cfg_args)
        wait_for octavia-driver-agent "driver agent sockets" \
            test -S "$RUN/octavia-status.sock" -a -S "$RUN/octavia-get.sock" -a -S "$RUN/octavia-stats.sock"
    fi
    if ! is_up octavia-api; then
        say "starting octavia-api on $HOST:$OCTAVIA_PORT"
        # shellcheck disable=SC2046
        spawn octavia-api octavia-api $(octavia_cfg_args)
        wait_for octavia-api "Octavia API" curl -sf "$OCTAVIA_URL/"
    fi
}

all_up() {
    local s
    for s in "${SERVICES[@]}"; do is_up "$s" || return 1; done
}

cmd_start() {
    [ "$(id -u)" = 0 ] || die "must run as root"
    for c in mariadbd mariadb-install-db keystone-manage keystone-wsgi-public octavia-api octavia-db-manage octavia-driver-agent openstack; do
        command -v "$c" >/dev/null || die "$c not found: run devstack/install-packages.sh"
    done
    mkdir -p "$LC"
    exec 9>"$LC/.lock"
    flock -w 120 9 || die "another localcloud.sh holds $LC/.lock"
    if all_up; then
        say "already up (state: $LC)"
        return 0
    fi
    local t0=$SECONDS
    secrets
    write_configs
    start_mariadb
    start_keystone
    start_neutron
    start_octavia
    say "up in $((SECONDS - t0))s; state: $LC"
    say "CLI: . $LC/openrc && openstack loadbalancer list"
}

stop_one() {
    local name=$1 pid i
    if ! pid=$(pid_of "$name"); then
        rm -f "$RUN/$name.pid"
        return 0
    fi
    say "stopping $name (pid $pid)"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    # octavia-driver-agent does not always act on SIGTERM: give it less time
    local tries=100
    [ "$name" = octavia-driver-agent ] && tries=30
    for i in $(seq 1 $tries); do
        [ -d "/proc/$pid" ] || break
        sleep 0.1
    done
    if [ -d "/proc/$pid" ]; then
        say "$name did not exit, sending KILL"
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    # children of the process group that outlived the leader
    if pgrep -g "$pid" >/dev/null 2>&1; then
        sleep 1
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$RUN/$name.pid"
}

cmd_stop() {
    [ -d "$LC" ] || { say "no state at $LC"; return 0; }
    exec 9>"$LC/.lock"
    flock -w 120 9 || die "another localcloud.sh holds $LC/.lock"
    local i
    for (( i=${#SERVICES[@]}-1; i>=0; i-- )); do
        stop_one "${SERVICES[$i]}"
    done
    rm -f "$RUN"/octavia-{status,stats,get}.sock
}

cmd_status() {
    local s pid rc=0
    printf '%-22s %-5s %-8s %s\n' SERVICE STATE PID PORT
    for s in "${SERVICES[@]}"; do
        if pid=$(pid_of "$s"); then
            printf '%-22s %-5s %-8s %s\n' "$s" up "$pid" "$(port_of "$s")"
        else
            printf '%-22s %-5s %-8s %s\n' "$s" down - "$(port_of "$s")"
            rc=3
        fi
    done
    echo "state: $LC"
    return $rc
}

cmd_env() {
    echo "export OS_CLIENT_CONFIG_FILE=$LC/clouds.yaml"
    echo "export OS_CLOUD=pharos-local"
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart) cmd_stop; cmd_start ;;
    status) cmd_status ;;
    env) cmd_env ;;
    openstack) shift; OS_CLIENT_CONFIG_FILE=$LC/clouds.yaml exec openstack --os-cloud pharos-local "$@" ;;
    wipe) cmd_stop; rm -rf "$LC"; say "removed $LC" ;;
    *) echo "usage: $0 start|stop|restart|status|env|openstack ARGS|wipe" >&2; exit 2 ;;
esac
