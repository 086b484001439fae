#!/bin/bash
# Namespaces in which Pharos load-balancer traffic lives (see README.md).
#
#   devstack/lbnet.sh up      create them (idempotent)
#   devstack/lbnet.sh down    remove exactly what `up` created
#   devstack/lbnet.sh status  list them
#   devstack/lbnet.sh check   up + serve HTTP in pharos-member-1, curl it
#                             from pharos-client, stop the server
#
# Layout (defaults, overridable by env):
#   pharos-net          bridge br-pharos (10.250.0.1/24) carrying the subnet
#   pharos-client       veth -> bridge, 10.250.0.10/24
#   pharos-member-N     veth -> bridge, 10.250.0.(20+N)/24, N = 1..MEMBERS
# These addresses exist only inside the namespaces; the host's own network
# is not touched (no veth end stays in the root namespace).
set -euo pipefail

PREFIX=${PHAROS_LBNET_PREFIX:-10.250.0}
MEMBERS=${PHAROS_LBNET_MEMBERS:-2}
NET_NS=pharos-net
CLIENT_NS=pharos-client
BRIDGE=br-pharos
STATE=${PHAROS_STATE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.state}/lbnet
CREATED=$STATE/created   # one namespace name per line, in creation order

say() { echo "lbnet: $*"; }

ns_exists() { ip netns list | awk '{print $1}' | grep -qx "$1"; }

add_ns() {
    if ns_exists "$1"; then
        grep -qx "$1" "$CREATED" 2>/dev/null || say "$1 exists already (not ours; left alone on down)"
        return 0
    fi
    ip netns add "$1"
    echo "$1" >> "$CREATED"
    ip -n "$1" link set lo up
}

# attach NS with address ADDR; the bridge-side end lives in pharos-net
attach() {  # ns short-name addr
    local ns=$1 tag=$2 addr=$3
    local inside=eth0 outside=v-$tag
    if ip -n "$NET_NS" link show "$outside" >/dev/null 2>&1; then return 0; fi
    # create the pair directly inside the namespaces: nothing in the root ns
    ip -n "$NET_NS" link add "$outside" type veth peer name "$inside" netns "$ns"
    ip -n "$NET_NS" link set "$outside" master "$BRIDGE" up
    ip -n "$ns" addr add "$addr/24" dev "$inside"
    ip -n "$ns" link set "$inside" up
}

up() {
    mkdir -p "$STATE"
    add_ns "$NET_NS"
    if ! ip -n "$NET_NS" link show "$BRIDGE" >/dev/null 2>&1; then
        ip -n "$NET_NS" link add "$BRIDGE" type bridge
        ip -n "$NET_NS" addr add "$PREFIX.1/24" dev "$BRIDGE"
        ip -n "$NET_NS" link set "$BRIDGE" up
    fi
    add_ns "$CLIENT_NS"
    attach "$CLIENT_NS" client "$PREFIX.10"
    local n
    for n in $(seq 1 "$MEMBERS"); do
        add_ns "pharos-member-$n"
        attach "pharos-member-$n" "m$n" "$PREFIX.$((20 + n))"
    done
    say "up: $NET_NS($BRIDGE $PREFIX.1) $CLIENT_NS($PREFIX.10) members 1..$MEMBERS ($PREFIX.21..)"
}

down() {
    [ -f "$CREATED" ] || { say "nothing recorded"; return 0; }
    local ns
    # members/client first, the bridge namespace last (veth pairs go with them)
    for ns in $(tac "$CREATED"); do
        if ns_exists "$ns"; then
            ip netns pids "$ns" 2>/dev/null | grep -q . && \
                say "warning: processes still in $ns: $(ip netns pids "$ns" | tr '\n' ' ')"
            ip netns del "$ns"
            say "removed $ns"
        fi
    done
    rm -f "$CREATED"
}

status() {
    ip netns list | awk '{print $1}' | grep -E '^pharos-' || say "no pharos namespaces"
}

check() {
    up
    local port=8080 dir pid ok=0
    dir=$(mktemp -d)
    echo "hello from pharos-member-1" > "$dir/index.html"
    ip netns exec pharos-member-1 /usr/bin/python3 -m http.server "$port" \
        --bind "$PREFIX.21" --directory "$dir" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 1 50); do
        if ip netns exec "$CLIENT_NS" curl -sf -m 2 "http://$PREFIX.21:$port/" ; then ok=1; break; fi
        sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -rf "$dir"
    if [ $ok = 1 ]; then say "check ok: $CLIENT_NS -> $PREFIX.21:$port"; else say "check FAILED"; return 1; fi
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    check) check ;;
    *) echo "usage: $0 up|down|status|check" >&2; exit 2 ;;
esac
