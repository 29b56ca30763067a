#!/usr/bin/env bash
# Makes a private certificate authority for one Flotilla deployment and a certificate per
# node, for mutual TLS between nodes (`flotilla node --tls-*`, `runtime.tls.*`).
#   scripts/make-certs.sh DIR NAME [NAME ...]
# writes DIR/ca.pem, DIR/ca.key and, per NAME, DIR/NAME.pem and DIR/NAME.key. CAF checks the
# peer's certificate against the CA but not its host name: keep one CA per deployment and
# ca.key off the nodes.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 DIR NAME [NAME ...]   (e.g. $0 certs coordinator nodeA nodeB)" >&2; exit 2; }
command -v openssl >/dev/null || { echo "make-certs: openssl not found (apt-get install openssl)" >&2; exit 1; }
dir=$1; shift
mkdir -p "$dir"
umask 077
if [ ! -f "$dir/ca.pem" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=flotilla-ca" \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
  echo "make-certs: new CA $dir/ca.pem"
fi
for name in "$@"; do
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$name" -keyout "$dir/$name.key" -out "$dir/$name.csr" 2>/dev/null
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 825 -out "$dir/$name.pem" 2>/dev/null
  rm -f "$dir/$name.csr"
  echo "make-certs: $dir/$name.pem, $dir/$name.key"
done
chmod 644 "$dir"/*.pem
