#!/usr/bin/env bash
# TLS scan of a TERMINATED_HTTPS listener with Debian's testssl.sh: the engine by default, or
# HAProxy 2.6 with the same certificate for comparison. Too slow for CI (about a minute per scan);
# run it by hand after TLS changes.
#
#   tests/tls/testssl.sh [--haproxy] [--build DIR] [--key-type ecdsa-p256|rsa2048] [--full] [--out DIR]
#
#   --haproxy    scan HAProxy (`ssl crt`, ssl-min-ver TLSv1.2, ALPN h2,http/1.1) instead of the engine
#   --build DIR  where bin/pharos-engine and bin/pharos-demo-backend are (default: <repo>/build)
#   --key-type   server key of the generated certificate (default ecdsa-p256)
#   --full       every testssl check (adds client simulation and more; several minutes)
#   --out DIR    keep testssl's text and JSON there (default: a new directory under /tmp)
#
# Starts one demo member and the proxy on free ports of 127.0.0.1, with a CA and a server
# certificate generated into a temp dir (1 year, CRL distribution point, SAN localhost and
# 127.0.0.1, so that the certificate itself raises no finding), runs
#   testssl --quiet --color 0 --nodns none --ip 127.0.0.1 --add-ca CA -p -s -f -S -P -h -U
# prints the protocols offered and every finding of severity MEDIUM and above, and
# exits 1 if any finding is HIGH or CRITICAL, 2 if the scan could not run (for the engine:
# a build without TERMINATED_HTTPS). Everything it starts is stopped by PID on exit.
# Needs: testssl.sh (Debian package `testssl.sh`), openssl, python3.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
build="$repo/build"
target=engine
key_type=ecdsa-p256
full=0
out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --haproxy) target=haproxy; shift ;;
    --build) build="$(cd "$2" && pwd)"; shift 2 ;;
    --key-type) key_type="$2"; shift 2 ;;
    --full) full=1; shift ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "testssl.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

testssl_bin="$(command -v testssl || command -v testssl.sh || true)"
[[ -n "$testssl_bin" ]] || {
  echo "testssl.sh: testssl is not installed (apt-get install testssl.sh)" >&2; exit 2; }
for tool in openssl python3; do
  command -v "$tool" >/dev/null || { echo "testssl.sh: $tool is not installed" >&2; exit 2; }
done
[[ "$target" == haproxy ]] && { command -v haproxy >/dev/null || { echo "testssl.sh: haproxy is not installed" >&2; exit 2; }; }
for binary in pharos-demo-backend $([[ "$target" == engine ]] && echo pharos-engine); do
  [[ -x "$build/bin/$binary" ]] || { echo "testssl.sh: $build/bin/$binary missing (build first, or --build DIR)" >&2; exit 2; }
done

work="$(mktemp -d /tmp/pharos-testssl.XXXXXX)"
[[ -n "$out" ]] || out="$(mktemp -d /tmp/pharos-testssl-results.XXXXXX)"
mkdir -p "$out"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_tls() {  # wait_tls PORT PID: until a TLS handshake succeeds, or the process is gone
  local port=$1 pid=$2
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || return 1
    if openssl s_client -connect "127.0.0.1:$port" -servername localhost </dev/null >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# ---- certificates: a CA and a server certificate it signs ----
genkey() {
  case "$key_type" in
    ecdsa-p256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null ;;
    rsa2048) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null ;;
    *) echo "testssl.sh: unknown key type $key_type" >&2; exit 2 ;;
  esac
}
cat > "$work/ext.cnf" <<'EOF'
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
crlDistributionPoints = URI:http://localhost/pharos-test-ca.crl
EOF
genkey "$work/ca.key"
openssl req -x509 -new -key "$work/ca.key" -subj "/O=Pharos test/CN=Pharos testssl CA" -days 730 -sha256 \
  -config "$work/ext.cnf" -extensions ca -out "$work/ca.pem" 2>/dev/null
genkey "$work/server.key"
openssl req -new -key "$work/server.key" -subj "/O=Pharos test/CN=localhost" -config "$work/ext.cnf" \
  -out "$work/server.csr" 2>/dev/null
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial -days 365 \
  -sha256 -extfile "$work/ext.cnf" -extensions server -out "$work/server.pem" 2>/dev/null
cat "$work/server.pem" "$work/server.key" > "$work/bundle.pem"

# ---- one member, then the proxy under test ----
member_port="$(free_port)"
"$build/bin/pharos-demo-backend" --port "$member_port" --name member-1 > "$work/member.log" 2>&1 &
pids+=($!)
port="$(free_port)"

if [[ "$target" == engine ]]; then
  python3 - "$work" "$port" "$member_port" > "$work/engine.json" <<'EOF'
import json, sys
work, port, member = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
print(json.dumps({
    "version": 1, "workers": 1,
    "listeners": [{
        "id": "testssl", "protocol": "TERMINATED_HTTPS", "bind_address": "127.0.0.1",
        "protocol_port": port, "default_pool_id": "testssl-pool",
        # The engine's own defaults for versions, ciphers and groups are what is scanned.
        "default_tls_container": {"certificate": open(f"{work}/server.pem").read(),
                                  "private_key": open(f"{work}/server.key").read()},
        "alpn_protocols": ["h2", "http/1.1"],
    }],
    "pools": [{"id": "testssl-pool", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
               "members": [{"id": "m1", "address": "127.0.0.1", "protocol_port": member}]}],
}, indent=2))
EOF
  if ! "$build/bin/pharos-engine" --check-config "$work/engine.json" > "$work/check.log" 2>&1; then
    echo "engine: TERMINATED_HTTPS not supported by this build ($build/bin/pharos-engine --check-config):"
    sed 's/^/  /' "$work/check.log"
    exit 2
  fi
  "$build/bin/pharos-engine" --config "$work/engine.json" --workers 1 --drain-timeout 1 > "$work/proxy.log" 2>&1 &
  pids+=($!)
else
  cat > "$work/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 1000
defaults
    mode http
    timeout connect 5s
    timeout client 50s
    timeout server 50s
frontend testssl
    bind 127.0.0.1:$port ssl crt $work/bundle.pem alpn h2,http/1.1 ssl-min-ver TLSv1.2
    default_backend testssl-pool
backend testssl-pool
    server member-1 127.0.0.1:$member_port
EOF
  haproxy -db -f "$work/haproxy.cfg" > "$work/proxy.log" 2>&1 &
  pids+=($!)
fi
proxy_pid="${pids[-1]}"
if ! wait_tls "$port" "$proxy_pid"; then
  if [[ "$target" == engine ]]; then
    echo "engine: TERMINATED_HTTPS not supported by this build (no TLS handshake on 127.0.0.1:$port); its log:"
  else
    echo "haproxy: no TLS handshake on 127.0.0.1:$port; its log:"
  fi
  sed 's/^/  /' "$work/proxy.log" | tail -20
  exit 2
fi

# ---- the scan ----
checks=(-p -s -f -S -P -h -U)   # protocols, cipher categories, forward secrecy, defaults, preferences,
                                # headers, vulnerabilities; no client simulation, no per-cipher listing
[[ "$full" == 1 ]] && checks=()
txt="$out/testssl-$target.txt"
json="$out/testssl-$target.json"
rm -f "$json"
echo "scanning $target on 127.0.0.1:$port with $("$testssl_bin" --version 2>/dev/null | grep -o 'testssl *[0-9.]*' | head -1 | tr -s ' ') ..."
status=0
"$testssl_bin" --quiet --color 0 --nodns none --ip 127.0.0.1 --add-ca "$work/ca.pem" --warnings off \
  --openssl-timeout 10 "${checks[@]}" --jsonfile "$json" "localhost:$port" > "$txt" 2>&1 || status=$?
if [[ ! -s "$json" ]]; then
  echo "testssl failed (exit $status) without a JSON report; its output:"
  tail -20 "$txt"
  exit 2
fi
kill -0 "$proxy_pid" 2>/dev/null || { echo "$target exited during the scan; its log:"; tail -20 "$work/proxy.log"; exit 1; }

result=0
python3 - "$json" "$target" <<'EOF' || result=$?
import collections, json, sys
path, target = sys.argv[1], sys.argv[2]
findings = json.load(open(path))
order = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "WARN", "INFO", "OK"]
counts = collections.Counter(f["severity"] for f in findings)
print(f"testssl findings for {target}: " + ", ".join(f"{s} {counts[s]}" for s in order if counts[s]))
protocols = {f["id"]: f["finding"] for f in findings
             if f["id"] in ("SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3", "ALPN_HTTP2")}
for key, value in protocols.items():
    print(f"  {key:10s} {value}")
for f in findings:
    if f["id"] in ("cipher_order", "FS_ECDHE_curves", "cert_keySize", "cert_chain_of_trust"):
        print(f"  {f['id']:10s} {f['finding']}")
notable = [f for f in findings if f["severity"] in ("CRITICAL", "HIGH", "MEDIUM", "WARN")]
if notable:
    print("findings MEDIUM and above (and scan warnings):")
    for f in sorted(notable, key=lambda f: order.index(f["severity"])):
        print(f"  {f['severity']:8s} {f['id']}: {f['finding']}")
bad = counts["CRITICAL"] + counts["HIGH"]
print(f"RESULT: {'FAIL' if bad else 'PASS'} ({bad} HIGH or CRITICAL findings)")
sys.exit(1 if bad else 0)
EOF
echo "full report: $txt and $json"
exit "$result"
