#!/usr/bin/env bash
# Load harness: pharos-engine against HAProxy 2.6 with the same two members, alternating runs.
#
#   benchmarks/load/run.sh [--build DIR] [--duration S] [--connections N] [--rounds R]
#                          [--idle-connections N] [--no-tcp] [--profile] [--nice N]
#   benchmarks/load/run.sh --tls [--build DIR] [--duration S] [--rounds R] [--h2 4x10,16x100]
#                          [--hs-clients K] [--hs-connections N] [--cases KEY,...] [--nice N]
#
# Defaults: --build <repo>/build-bench, 10 s per run, 64 wrk connections, 3 rounds,
# 5000 idle connections. Prints the table and writes it to benchmarks/load/results/latest.txt
# (--tls: the TLS and HTTP/2 suite, results/latest-tls.txt and .json).
# Exits non-zero if any run saw socket errors or non-2xx responses. See README.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
build="$repo/build-bench"
args=()
suite=bench.py
tools=(wrk haproxy taskset /usr/bin/python3)
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$(cd "$2" && pwd)"; shift 2 ;;
    --tls) suite=tls_bench.py; tools+=(h2load openssl cc); shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) args+=("$1"); shift ;;
  esac
done

for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is not installed" >&2; exit 1; }
done
for binary in pharos-engine pharos-demo-backend; do
  [[ -x "$build/bin/$binary" ]] || {
    echo "run.sh: $build/bin/$binary missing; build it with:" >&2
    echo "  cmake -S $repo -B $build -DCMAKE_BUILD_TYPE=Release -DPHAROS_AGENT=OFF -DPHAROS_PYTHON=OFF -DPHAROS_TESTS=OFF -DPHAROS_BENCHMARKS=OFF" >&2
    echo "  cmake --build $build -j2 --target pharos-engine pharos-demo-backend" >&2
    exit 1
  }
done
if [[ "$(nproc)" -lt 2 ]]; then
  echo "run.sh: needs 2 CPUs (one for the proxy under test, one for the load)" >&2
  exit 1
fi

# Idle-connection test: thousands of client sockets plus the proxies' own.
ulimit -n "$(ulimit -Hn)"

# bench.py (tls_bench.py) kills every process it started (by PID) on exit and on SIGTERM/SIGINT/SIGHUP;
# this trap forwards those signals to it, by its PID.
/usr/bin/python3 "$here/$suite" --build "$build" "${args[@]}" &
bench_pid=$!
trap 'kill -TERM "$bench_pid" 2>/dev/null || true' TERM INT HUP
status=0
wait "$bench_pid" || status=$?
# A trapped signal interrupts wait; wait again for the cleanup to finish.
while kill -0 "$bench_pid" 2>/dev/null; do wait "$bench_pid" || status=$?; done
exit "$status"
