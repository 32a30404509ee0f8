#!/usr/bin/env bash
# make-fixtures.sh - the certificates the TLS unit tests use, made with the openssl CLI and
# valid for 100 years. Run it in this directory to make them again.
set -euo pipefail
cd "$(dirname "$0")"
days=36500
ca() {  # ca NAME CN
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1-key.pem" -out "$1.pem" -days $days \
    -subj "/CN=$2" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
leaf() {  # leaf NAME CA CN EXTENDED-KEY-USAGE [SANS]
  local name=$1 issuer=$2 cn=$3 eku=$4 sans=${5:-}
  openssl req -newkey rsa:2048 -nodes -keyout "$name-key.pem" -out "$name.csr" -subj "/CN=$cn" 2>/dev/null
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    if [ -n "$sans" ]; then echo "subjectAltName=$sans"; fi
  } > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA "$issuer.pem" -CAkey "$issuer-key.pem" -CAcreateserial \
    -out "$name.pem" -days $days -extfile "$name.ext" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}
ca ca test-ca
ca other-ca other-ca
leaf server ca server serverAuth,clientAuth "DNS:localhost,IP:127.0.0.1"
leaf server2 ca other-peer serverAuth,clientAuth "DNS:localhost,IP:127.0.0.1"
leaf client ca client1 clientAuth
leaf revoked ca revoked-client clientAuth
leaf stranger other-ca stranger clientAuth
# A CRL from the test CA that revokes "revoked".
dir=$(mktemp -d)
touch "$dir/index.txt"
cat > "$dir/ca.cnf" <<CNF
[ca]
default_ca = test
[test]
database = $dir/index.txt
default_md = sha256
default_crl_days = $days
CNF
openssl ca -config "$dir/ca.cnf" -keyfile ca-key.pem -cert ca.pem -revoke revoked.pem 2>/dev/null
openssl ca -config "$dir/ca.cnf" -keyfile ca-key.pem -cert ca.pem -gencrl -out revoked.crl 2>/dev/null
rm -rf "$dir" ./*.srl
