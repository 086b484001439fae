#!/bin/bash
# The Pharos main demo through a real (local) OpenStack: the pharos Octavia
# provider, its controller and a namespace amphora running pharos-agent and
# pharos-engine, driven with the ordinary `openstack loadbalancer` CLI.
#
#   sudo devstack/pharos-demo.sh        (PHAROS_DEMO_KEEP=1 keeps the LB)
#
# It starts what is not running (the local cloud with the pharos provider,
# devstack/lbnet.sh namespaces, two demo members) and stops only what it
# started, in reverse order, also on failure.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
BUILD=${PHAROS_BUILD_DIR:-$REPO_ROOT/build}
LOCALCLOUD=$SCRIPT_DIR/localcloud.sh
NAME=pharos-demo-$$
SUBNET_ID= NET_ID= LB_ID=
STARTED_CLOUD=0 STARTED_LBNET=0 RESTORE_CLOUD=0
MEMBER_PIDS=()

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
osc() { echo "\$ openstack $*" >&2; "$LOCALCLOUD" openstack "$@"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

cleanup() {
    set +e
    if [ -n "$LB_ID" ] && [ "${PHAROS_DEMO_KEEP:-0}" != 1 ]; then
        say "cleaning up"
        osc loadbalancer delete --cascade --wait "$LB_ID"
    fi
    if [ "${PHAROS_DEMO_KEEP:-0}" != 1 ]; then
        [ -n "$SUBNET_ID" ] && osc subnet delete "$SUBNET_ID"
        [ -n "$NET_ID" ] && osc network delete "$NET_ID"
    fi
    for pid in "${MEMBER_PIDS[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
    if [ "${PHAROS_DEMO_KEEP:-0}" != 1 ]; then
        [ $STARTED_LBNET = 1 ] && "$SCRIPT_DIR/lbnet.sh" down
        [ $STARTED_CLOUD = 1 ] && "$LOCALCLOUD" stop
        if [ $RESTORE_CLOUD = 1 ]; then
            "$LOCALCLOUD" stop
            env $(env | grep -o '^PHAROS_LC_[A-Z_]*' | sed 's/^/-u /') "$LOCALCLOUD" start
        fi
    fi
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
if [ ! -x "$BUILD/bin/pharos-agent" ] || [ ! -x "$BUILD/bin/pharos-engine" ] ||
   [ ! -x "$BUILD/bin/pharos-demo-backend" ] || ! ls "$REPO_ROOT"/provider_driver/pharos/_core*.so >/dev/null 2>&1; then
    say "building pharos-engine pharos-agent pharos-demo-backend _core"
    cmake -S "$REPO_ROOT" -B "$BUILD" >/dev/null
    cmake --build "$BUILD" -j2 --target pharos-engine pharos-agent pharos-demo-backend _core
fi

say "local cloud with the pharos provider"
OCTAVIA_CONF=${PHAROS_STATE_DIR:-$REPO_ROOT/.state}/localcloud/etc/octavia/octavia.conf
if ! "$LOCALCLOUD" status >/dev/null 2>&1; then
    STARTED_CLOUD=1
elif ! grep -q "^enabled_provider_agents = pharos$" "$OCTAVIA_CONF"; then
    RESTORE_CLOUD=1   # running without pharos: restarted with it, put back after
fi
"$SCRIPT_DIR/pharos-provider.sh" start

say "namespaces and demo members"
if ! ip netns list | grep -qw pharos-net; then STARTED_LBNET=1; fi
"$SCRIPT_DIR/lbnet.sh" up
for n in 1 2; do
    ip netns exec "pharos-member-$n" "$BUILD/bin/pharos-demo-backend" --address "10.250.0.2$n" \
        --port 8080 --name "member-$n" 2>/dev/null &
    MEMBER_PIDS+=($!)
done
sleep 0.3

say "network and subnet"
NET_ID=$(osc network create "$NAME" -f value -c id)
SUBNET_ID=$(osc subnet create --network "$NET_ID" --subnet-range 10.250.0.0/24 \
    --allocation-pool start=10.250.0.100,end=10.250.0.200 --gateway none "$NAME" -f value -c id)

say "load balancer tree"
T0=$(now)
LB_ID=$(osc loadbalancer create --provider pharos --name "$NAME" --vip-subnet-id "$SUBNET_ID" --wait -f value -c id)
T_LB=$(since "$T0")
VIP=$(osc loadbalancer show "$LB_ID" -f value -c vip_address)
LISTENER_ID=$(osc loadbalancer listener create --name "$NAME" --protocol HTTP --protocol-port 80 --wait "$LB_ID" -f value -c id)
POOL_ID=$(osc loadbalancer pool create --name "$NAME" --listener "$LISTENER_ID" --protocol HTTP \
    --lb-algorithm ROUND_ROBIN --wait -f value -c id)
for n in 1 2; do
    osc loadbalancer member create --name "member-$n" --subnet-id "$SUBNET_ID" --address "10.250.0.2$n" \
        --protocol-port 8080 --wait "$POOL_ID" -f value -c id >/dev/null
done
osc loadbalancer healthmonitor create --name "$NAME" --type HTTP --delay 2 --timeout 1 --max-retries 1 \
    --max-retries-down 1 --url-path / --wait "$POOL_ID" -f value -c id >/dev/null
T_TREE=$(since "$T0")
echo "load balancer ACTIVE after ${T_LB}s, whole tree ACTIVE after ${T_TREE}s (CLI round trips included); VIP $VIP"

say "requests from pharos-client to http://$VIP/"
for i in $(seq 1 8); do
    printf '%s ' "$(ip netns exec pharos-client curl -s -m 3 "http://$VIP/")"
done
echo

say "an option the engine does not implement is refused at API time"
osc loadbalancer pool set --session-persistence type=SOURCE_IP "$POOL_ID" || true

sleep 3   # one or two heartbeats carry the statistics and member health
say "status"
osc loadbalancer status show "$LB_ID"
say "statistics"
osc loadbalancer stats show "$LB_ID"
