#!/usr/bin/env bash
# make_certs.sh DIR
#
# Creates a throw-away test PKI in DIR for the ClauLock egress-proxy tests:
#   ca.pem / ca.key         self-signed test CA (EC P-256, CA:TRUE, keyCertSign)
#   server.pem / server.key leaf signed by that CA (EC P-256, CA:FALSE,
#                           serverAuth, SAN localhost, upstream.localhost,
#                           127.0.0.1)
# Both are valid for 2 days. The leaf satisfies rustls/webpki's strict checks
# (non-CA leaf, SAN present) as well as OpenSSL, curl, Node and Python.
# Quiet on success; exits non-zero (with openssl's message) on failure.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
dir=$1
mkdir -p "$dir"
cd "$dir"

# Temporary files (extension config, CSR, openssl's messages) live in a
# private dir removed on exit.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
log="$tmp/openssl.log"

# Run openssl quietly; on failure show what it said and stop.
ossl() {
    if ! openssl "$@" >"$log" 2>&1; then
        echo "make_certs.sh: openssl $1 failed:" >&2
        cat "$log" >&2
        exit 1
    fi
}

umask 077  # keys are only for us

# --- CA ----------------------------------------------------------------------
ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key
cat >"$tmp/ca.cnf" <<'CNF'
[req]
distinguished_name = dn
prompt             = no
x509_extensions    = v3_ca
[dn]
CN = ClauLock Test CA
O  = ClauLock tests
[v3_ca]
basicConstraints       = critical, CA:TRUE
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
CNF
ossl req -new -x509 -sha256 -days 2 -key ca.key -config "$tmp/ca.cnf" -out ca.pem

# --- server leaf ---------------------------------------------------------------
ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out server.key
cat >"$tmp/leaf.cnf" <<'CNF'
[req]
distinguished_name = dn
prompt             = no
[dn]
CN = localhost
O  = ClauLock tests
[v3_leaf]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth
subjectAltName         = DNS:localhost, DNS:upstream.localhost, IP:127.0.0.1
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
CNF
ossl req -new -sha256 -key server.key -config "$tmp/leaf.cnf" -out "$tmp/server.csr"
ossl x509 -req -sha256 -days 2 -in "$tmp/server.csr" \
    -CA ca.pem -CAkey ca.key -set_serial "0x$(openssl rand -hex 16)" \
    -extfile "$tmp/leaf.cnf" -extensions v3_leaf -out server.pem

# Certificates are public; make them world-readable for convenience.
chmod 644 ca.pem server.pem

# Sanity: the leaf must verify against the CA for the TLS server purpose.
ossl verify -CAfile ca.pem -purpose sslserver server.pem
