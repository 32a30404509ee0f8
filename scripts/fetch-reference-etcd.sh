#!/usr/bin/env bash
# fetch-reference-etcd.sh DIR - unpack Debian's etcd-server (the reference etcd 3.4.23) into DIR
# without installing it (installing starts a daemon on 2379). Prints the binary's path.
set -euo pipefail
dir=${1:-.build/reference}
bin="$dir/usr/bin/etcd"
if [ ! -x "$bin" ]; then
  mkdir -p "$dir"
  ( cd "$dir" && rm -f etcd-server_*.deb && apt-get download etcd-server >/dev/null 2>&1 || { apt-get update -qq && apt-get download etcd-server >/dev/null; } )
  dpkg -x "$dir"/etcd-server_*.deb "$dir"
fi
echo "$bin"
