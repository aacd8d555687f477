#!/usr/bin/env bash
# Makes the certificates the TLS tests use, in DIR (default: a new temporary directory, printed):
#
#   ca.pem                 the test CA (key ca.key)
#   server.pem server.key  signed by it, for localhost, 127.0.0.1 and ::1
#   client.pem client.key  signed by it, subject CN=client-1,O=Example
#   expired.pem expired.key  signed by it, expired yesterday
#   other-ca.pem           another CA; other.pem other.key: a client certificate it signed
#
# EC P-256 keys (fast to make), with the openssl command line. docs/tls.md has the same recipe.
# CA_NAME (default "Test CA") names the CA: two runs with different names make two CAs a
# client can tell apart (tls_reload_e2e_test rotates from one to the other).
set -euo pipefail
dir=${1:-$(mktemp -d)}
mkdir -p "$dir"
cd "$dir"
quiet() { "$@" >/dev/null 2>&1 || { echo "make_certs.sh: failed: $*" >&2; "$@"; exit 1; }; }

new_ca() {  # name subject
  quiet openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$1.key" -out "$1.pem" -subj "$2" -days 30
}
new_cert() {  # name subject ca days [extensions]
  quiet openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$1.key" -out "$1.csr" -subj "$2"
  printf '%s\n' "${5:-basicConstraints=CA:FALSE}" > "$1.ext"
  quiet openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial \
    -days "$4" -extfile "$1.ext" -out "$1.pem"
  rm -f "$1.csr" "$1.ext"
}

new_ca ca "/CN=${CA_NAME:-Test CA}/O=Example"
new_cert server "/CN=localhost/O=Example" ca 30 \
  "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"
new_cert client "/CN=client-1/O=Example" ca 30
new_cert expired "/CN=expired/O=Example" ca -1
new_ca other-ca "/CN=Other CA/O=Elsewhere"
new_cert other "/CN=intruder/O=Elsewhere" other-ca 30
echo "$dir"
