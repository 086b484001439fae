#!/usr/bin/env bash
# Test certificates for the TLS examples and tests, written to DIR (default: certs/ next to
# this script, which git ignores; no private key is ever committed).
#
#   make-test-certs.sh [DIR]
#
# Idempotent: does nothing while every file exists and the certificates stay valid for at least
# another day; otherwise writes a fresh set. What DIR then holds:
#   ca.pem, ca.key                  test root CA (signs the intermediate, client certs, the CRL)
#   intermediate.pem                intermediate CA that signs the server certificates
#   server-ecdsa.pem                ECDSA P-256 server bundle: certificate, intermediate, key
#   server-rsa.pem                  RSA 2048 server bundle: certificate, intermediate, key
#   server-*.crt, server-*.key, server-*.chain.pem   the same, one part per file
#   client.pem, client-revoked.pem  client bundles (certificate, key) signed by ca.pem
#   ca.crl.pem                      CRL from ca.pem revoking client-revoked.pem
# Server certificates are for localhost and 127.0.0.1 (and ::1).
set -euo pipefail

DIR=${1:-"$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/certs"}
DAYS=${PHAROS_TEST_CERT_DAYS:-825}
FILES=(ca.pem ca.key intermediate.pem server-ecdsa.pem server-rsa.pem client.pem
       client-revoked.pem ca.crl.pem)

fresh() {
  local f
  for f in "${FILES[@]}"; do [[ -s "$DIR/$f" ]] || return 1; done
  for f in ca.pem intermediate.pem server-ecdsa.pem server-rsa.pem client.pem; do
    openssl x509 -in "$DIR/$f" -noout -checkend 86400 >/dev/null 2>&1 || return 1
  done
  openssl crl -in "$DIR/ca.crl.pem" -noout >/dev/null 2>&1
}

if fresh; then
  echo "make-test-certs: $DIR is up to date"
  exit 0
fi

mkdir -p "$DIR"
umask 077
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cat > "$WORK/ext.cnf" <<'EOF'
[req]
distinguished_name = dn
[dn]

[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[intermediate]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF

# `openssl ca` only for the CRL: it needs a database of what it issued.
cat > "$WORK/ca.cnf" <<EOF
[ca]
default_ca = test_ca
[test_ca]
database = $WORK/index.txt
certificate = $WORK/ca.pem
private_key = $WORK/ca.key
default_md = sha256
default_crl_days = $DAYS
crlnumber = $WORK/crlnumber
EOF
: > "$WORK/index.txt"
echo 01 > "$WORK/crlnumber"

ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
rsa_key() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null; }

# sign NAME SUBJECT ISSUER EXTENSION: $WORK/NAME.key -> $WORK/NAME.pem signed by $WORK/ISSUER
sign() {
  openssl req -new -key "$WORK/$1.key" -subj "$2" -out "$WORK/$1.csr"
  openssl x509 -req -in "$WORK/$1.csr" -CA "$WORK/$3.pem" -CAkey "$WORK/$3.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days "$DAYS" -sha256 \
    -extfile "$WORK/ext.cnf" -extensions "$4" -out "$WORK/$1.pem" 2>/dev/null
}

ec_key "$WORK/ca.key"
openssl req -x509 -new -key "$WORK/ca.key" -subj "/O=Pharos test/CN=Pharos test root CA" \
  -days "$DAYS" -sha256 -config "$WORK/ext.cnf" -extensions ca -out "$WORK/ca.pem"

ec_key "$WORK/intermediate.key"
sign intermediate "/O=Pharos test/CN=Pharos test intermediate CA" ca intermediate

ec_key "$WORK/server-ecdsa.key"
sign server-ecdsa "/O=Pharos test/CN=localhost" intermediate server
rsa_key "$WORK/server-rsa.key"
sign server-rsa "/O=Pharos test/CN=localhost" intermediate server

ec_key "$WORK/client.key"
sign client "/O=Pharos test/CN=client" ca client
ec_key "$WORK/client-revoked.key"
sign client-revoked "/O=Pharos test/CN=client-revoked" ca client

openssl ca -config "$WORK/ca.cnf" -revoke "$WORK/client-revoked.pem" >/dev/null 2>&1
openssl ca -config "$WORK/ca.cnf" -gencrl -out "$WORK/ca.crl.pem" >/dev/null 2>&1

for kind in ecdsa rsa; do
  cat "$WORK/server-$kind.pem" "$WORK/intermediate.pem" "$WORK/server-$kind.key" \
    > "$WORK/server-$kind.bundle"
  cp "$WORK/server-$kind.pem" "$WORK/server-$kind.crt"
  cp "$WORK/intermediate.pem" "$WORK/server-$kind.chain.pem"
done
for name in client client-revoked; do
  cat "$WORK/$name.pem" "$WORK/$name.key" > "$WORK/$name.bundle"
done

# Publish: keys stay 0600, certificates and the CRL are readable.
install -m 0644 "$WORK/ca.pem" "$WORK/intermediate.pem" "$WORK/ca.crl.pem" "$DIR/"
install -m 0600 "$WORK/ca.key" "$DIR/ca.key"
for kind in ecdsa rsa; do
  install -m 0600 "$WORK/server-$kind.bundle" "$DIR/server-$kind.pem"
  install -m 0600 "$WORK/server-$kind.key" "$DIR/server-$kind.key"
  install -m 0644 "$WORK/server-$kind.crt" "$WORK/server-$kind.chain.pem" "$DIR/"
done
for name in client client-revoked; do
  install -m 0600 "$WORK/$name.bundle" "$DIR/$name.pem"
done
echo "make-test-certs: wrote $DIR"
