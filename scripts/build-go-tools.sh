#!/usr/bin/env bash
# build-go-tools.sh DIR - build the Go-client tools (bench/putload, bench/watchload and the test
# tools Tests/IntegrationTests/Scripts/rawproto, .../h2stall and .../history) into DIR in GOPATH mode against
# Debian's etcd client sources; prints DIR. Rebuilds when a source changed.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mkdir -p "${1:?dir}" && cd "$1" && pwd)
mkdir -p "$dir/gopath/src"
for source in bench/putload bench/watchload Tests/IntegrationTests/Scripts/rawproto Tests/IntegrationTests/Scripts/h2stall \
    Tests/IntegrationTests/Scripts/boltcheck \
    Tests/IntegrationTests/Scripts/history; do
  tool=$(basename "$source")
  ln -sfn "$here/$source" "$dir/gopath/src/$tool"
  if [ ! -x "$dir/$tool" ] || [ -n "$(find "$here/$source" -name '*.go' -newer "$dir/$tool")" ]; then
    (cd "$dir/gopath/src/$tool" && GO111MODULE=off GOPATH="$dir/gopath:/usr/share/gocode" GOCACHE="$dir/gocache" \
       GOFLAGS= go build -o "$dir/$tool" .)
  fi
done
echo "$dir"
