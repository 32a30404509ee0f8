#!/usr/bin/env bash
# make_pki.sh DIR - the certificates an operator makes with cfssl for a TLS cluster, as the etcd
# docs describe: a CA; a member certificate for 127.0.0.1 and localhost used on the client and
# the peer port (server and client auth); a second member certificate with another CN; client
# certificates (one to be revoked) and a CRL revoking it; a second CA with a client of its own.
set -euo pipefail
dir=${1:?dir}
mkdir -p "$dir" && cd "$dir"
cat > config.json <<'JSON'
{"signing": {"default": {"expiry": "8760h"},
  "profiles": {
    "member": {"expiry": "8760h", "usages": ["signing", "key encipherment", "server auth", "client auth"]},
    "client": {"expiry": "8760h", "usages": ["signing", "key encipherment", "client auth"]}}}}
JSON
csr() {  # csr CN ALGO SIZE [HOSTS-JSON]
  printf '{"CN": "%s", "hosts": %s, "key": {"algo": "%s", "size": %s}, "names": [{"O": "etcd-tests"}]}' \
    "$1" "${4:-[]}" "$2" "$3"
}
csr test-ca rsa 2048 | cfssl gencert -initca - 2>/dev/null | cfssljson -bare ca
csr other-ca ecdsa 256 | cfssl gencert -initca - 2>/dev/null | cfssljson -bare other-ca
sign() {  # sign NAME CA PROFILE CN ALGO SIZE [HOSTS-JSON]
  csr "$4" "$5" "$6" "${7:-[]}" | cfssl gencert -ca "$2.pem" -ca-key "$2-key.pem" -config config.json \
    -profile "$3" - 2>/dev/null | cfssljson -bare "$1"
}
sign member ca member etcd-member rsa 2048 '["127.0.0.1", "localhost"]'
sign member2 ca member other-member ecdsa 256 '["127.0.0.1", "localhost"]'
sign client ca client client1 ecdsa 256
sign revoked ca client revoked-client ecdsa 256
sign stranger other-ca client stranger ecdsa 256
# cfssl's CRL takes decimal serials, one per line.
serial=$(openssl x509 -in revoked.pem -noout -serial | cut -d= -f2)
python3 -c "print(int('$serial', 16))" > revoked-serials.txt
cfssl gencrl revoked-serials.txt ca.pem ca-key.pem 2>/dev/null | base64 -d > revoked.crl
: > none.txt
cfssl gencrl none.txt ca.pem ca-key.pem 2>/dev/null | base64 -d > empty.crl
ls "$dir"/*.pem >/dev/null
