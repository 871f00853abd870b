#!/bin/bash
# gen-certs.sh DIR — a throw-away test CA and a server certificate for
# 127.0.0.1 / localhost signed by it, for TLS tests against a loopback
# registry. Writes DIR/ca.pem, DIR/ca.key, DIR/server.pem, DIR/server.key.
# Never use these anywhere else: the keys sit unencrypted in DIR.
set -euo pipefail
dir=${1:?usage: gen-certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=kukeon test CA" \
    -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout server.key -out server.csr 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile server.ext -out server.pem 2>/dev/null
rm -f server.csr server.ext ca.srl
