#!/usr/bin/env bash
# install-deps.sh SET... - install the Debian packages a make target needs, if missing.
# Sets: build (compile the server), test (unit, integration, differential and crash tests),
#       go (the Go-client benchmark tool and etcd's e2e suite).
set -euo pipefail
packages=()
for set in "$@"; do
  case "$set" in
    build) packages+=(pkg-config liblmdb-dev libnghttp2-dev libssl-dev libcrypt-dev) ;;
    test)  packages+=(pkg-config liblmdb-dev libnghttp2-dev libssl-dev libprotobuf-c-dev protobuf-c-compiler
                      etcd-client python3-etcd3 nghttp2-client curl golang-cfssl openssl) ;;
    go)    packages+=(golang-go golang-etcd-server-dev golang-github-coreos-bbolt-dev etcd-client) ;;
    *) echo "install-deps.sh: unknown set '$set'" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
