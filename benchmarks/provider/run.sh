#!/bin/bash
# Pharos provider latency benchmark through the real local cloud (see
# README.md next to this file). Run as root:
#
#   sudo benchmarks/provider/run.sh
#
# Starts what is not running (the local cloud with the pharos provider,
# devstack/lbnet.sh namespaces) and stops only what it started, also on
# failure. The measurements are done by bench.py (openstacksdk session, raw
# Octavia v2 REST, one keystone token); the table goes to stdout and to
# benchmarks/provider/results/latest.txt (raw numbers: latest.json).
#
# Environment: BENCH_RUNS (3) BENCH_MEMBERS (10) BENCH_BATCH (1000)
#              BENCH_POLL (0.05 s) BENCH_WARMUP (1) BENCH_BUDGET (900 s: no
#              new run starts after it)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$HERE/../.." && pwd)
DEVSTACK=$REPO_ROOT/devstack
STATE_ROOT=${PHAROS_STATE_DIR:-$REPO_ROOT/.state}
LC=${PHAROS_LOCALCLOUD_DIR:-$STATE_ROOT/localcloud}
RESULTS=$HERE/results
RUNS=${BENCH_RUNS:-3} MEMBERS=${BENCH_MEMBERS:-10} BATCH=${BENCH_BATCH:-1000}
POLL=${BENCH_POLL:-0.05} WARMUP=${BENCH_WARMUP:-1} BUDGET=${BENCH_BUDGET:-900}
STARTED_CLOUD=0 RESTORE_CLOUD=0 STARTED_LBNET=0

say() { echo "== $*" >&2; }

cleanup() {
    set +e
    [ $STARTED_LBNET = 1 ] && { say "lbnet down"; "$DEVSTACK/lbnet.sh" down >/dev/null; }
    if [ $STARTED_CLOUD = 1 ]; then
        say "stopping the local cloud (this script started it)"
        "$DEVSTACK/localcloud.sh" stop >/dev/null
    fi
    if [ $RESTORE_CLOUD = 1 ]; then
        say "restarting the local cloud without pharos, as it was"
        "$DEVSTACK/localcloud.sh" stop >/dev/null
        env $(env | grep -o '^PHAROS_LC_[A-Z_]*' | sed 's/^/-u /') "$DEVSTACK/localcloud.sh" start >/dev/null
    fi
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "run as root (namespaces, local cloud)" >&2; exit 1; }
mkdir -p "$RESULTS"

say "local cloud with the pharos provider"
if ! "$DEVSTACK/localcloud.sh" status >/dev/null 2>&1; then
    STARTED_CLOUD=1
elif ! grep -q '^enabled_provider_agents = pharos$' "$LC/etc/octavia/octavia.conf"; then
    RESTORE_CLOUD=1
fi
T=$(date +%s.%N)
"$DEVSTACK/pharos-provider.sh" start >&2
CLOUD_START=$(awk -v a="$T" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')

say "namespaces (devstack/lbnet.sh)"
if ! ip netns list | awk '{print $1}' | grep -qx pharos-net; then STARTED_LBNET=1; fi
"$DEVSTACK/lbnet.sh" up >&2

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
CMD=(/usr/bin/python3 "$HERE/bench.py" --cloud pharos-local --runs "$RUNS"
     --members "$MEMBERS" --batch "$BATCH" --poll "$POLL" --warmup "$WARMUP"
     --budget "$BUDGET" --log "$LC/log/octavia-app.log" --json "$RESULTS/latest.json")
say "${CMD[*]}"
set +e
OS_CLIENT_CONFIG_FILE=$LC/clouds.yaml PYTHONWARNINGS=ignore "${CMD[@]}" 2>&1 |
    grep --line-buffered -v -e 'Warning' -e 'warnings.warn' >&2
RC=${PIPESTATUS[0]}
set -e
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

{
    echo "Pharos provider benchmark, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) cores, $(uname -r)"
    [ -f "$RESULTS/latest.json" ] && /usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print("client: " + r["client"])
print("runs: %d measured (+ warm-up not counted); figures are medians in seconds, [min-max] over runs" % r["summary"]["n"])
for e in r["errors"]:
    print("ERROR: " + e)
' "$RESULTS/latest.json"
    echo "load average (1/5/15 min): before $LOAD_BEFORE, after $LOAD_AFTER"
    [ $STARTED_CLOUD = 1 ] && echo "cloud started by this run in ${CLOUD_START}s (not included)"
    echo
    if [ -f "$RESULTS/latest.json" ]; then
        /usr/bin/python3 "$HERE/bench.py" --table "$RESULTS/latest.json"
    else
        echo "no results (bench.py exit $RC)"
    fi
    cat <<'EOT'

API call       = the Octavia REST call itself (Octavia API + provider driver + Neutron for VIP/subnet checks)
call -> ACTIVE = from the call returning to the first poll seeing the LB ACTIVE again (poll period included)
total          = call + call -> ACTIVE
controller     = from the call returning to the pharos controller's log line "load balancer X at version N"
                 (written after it reported ACTIVE through the driver agent), from octavia-app.log
goals: <= 1 s (1.), <= 2 s (2.), once the cloud is up; 3. has no stated goal, (<= 2 s) shown for reference
EOT
    echo
    echo "commands:"
    echo "  sudo benchmarks/provider/run.sh   (BENCH_RUNS=$RUNS BENCH_MEMBERS=$MEMBERS BENCH_BATCH=$BATCH BENCH_POLL=$POLL BENCH_WARMUP=$WARMUP)"
    echo "  ${CMD[*]}"
} | tee "$RESULTS/latest.txt"
exit "$RC"
