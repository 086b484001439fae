#!/usr/bin/env bash
# The main job on the embedded default: the engine on schema/examples/http-two-members.json in
# front of two demo members, requests flowing and balanced, then the engine's own statistics.
# Everything it starts it stops again, by PID.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-$ROOT/build}"
RUN="$(mktemp -d /tmp/pharos-demo.XXXXXX)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$RUN"
}
trap cleanup EXIT

wait_port() {  # wait_port PORT: until something accepts on 127.0.0.1:PORT (10 s at most)
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on 127.0.0.1:$1" >&2
  return 1
}

control() { printf '%s\n' "$1" | socat -t 5 - "UNIX-CONNECT:$RUN/engine.sock"; }

for port in 18480 18481 18482; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port 127.0.0.1:$port is already in use; stop what holds it (ss -ltnp | grep $port)" >&2
    exit 1
  fi
done

echo "Starting two demo members on 127.0.0.1:18481 and :18482"
"$BUILD/bin/pharos-demo-backend" --port 18481 --name member-1 2>"$RUN/m1.log" & PIDS+=($!)
"$BUILD/bin/pharos-demo-backend" --port 18482 --name member-2 2>"$RUN/m2.log" & PIDS+=($!)
wait_port 18481; wait_port 18482

echo "Starting pharos-engine on schema/examples/http-two-members.json (HTTP listener 127.0.0.1:18480)"
"$BUILD/bin/pharos-engine" --config "$ROOT/schema/examples/http-two-members.json" \
  --control-socket "$RUN/engine.sock" 2>"$RUN/engine.log" & PIDS+=($!)
wait_port 18480

echo
echo "Ten requests to the listener, round robin over the members:"
for i in $(seq 10); do
  printf '  request %2d -> %s' "$i" "$(curl -fsS http://127.0.0.1:18480/)"
  echo
done
echo
echo "What a member sees (X-Forwarded-For inserted by the listener):"
curl -fsS http://127.0.0.1:18480/echo | grep -iE '^(host|x-forwarded-for):' | sed 's/^/  /'
echo
echo "Member 1 set DOWN through the control socket; all traffic goes to member 2:"
member1=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pools"][0]["members"][0]["id"])' \
  "$ROOT/schema/examples/http-two-members.json")
control "{\"command\":\"set_member_status\",\"member_id\":\"$member1\",\"status\":\"DOWN\"}" >/dev/null
for i in $(seq 4); do printf '  %s\n' "$(curl -fsS http://127.0.0.1:18480/)"; done
control "{\"command\":\"set_member_status\",\"member_id\":\"$member1\",\"status\":\"UP\"}" >/dev/null
echo
echo "Engine statistics (get_stats on the control socket):"
control '{"command":"get_stats"}' | /usr/bin/python3 -m json.tool | sed 's/^/  /'
echo
echo "Demo done; stopping the engine (SIGTERM drains it) and the members."
