#!/usr/bin/env bash
# bench.sh OURS_ETCD REFERENCE_ETCD - the same workloads against the reference etcd and ours,
# one server at a time on this machine, in one run; prints each figure and ours/reference.
#
# Workloads (the Go client, as etcd's benchmark tool and the Kubernetes apiserver use it):
#   put-1       one client, one connection, sequential puts (latency bound)
#   put-100     100 clients over 10 connections (throughput bound)
#   watch-100   100 watchers on one key, 2000 puts: event delivery latency (put start to arrival)
#   keepalive   100 leases renewed as fast as possible over 10 connections
#   shared-50mb one connection: small gets while a 50 MiB range streams beside them (their latency)
#   expiry      100 leases of the minimum TTL expire beside 20 busy writers: how late each key's
#               DELETE reaches a watcher after its lease's expiry
#   defrag      200 MiB of history compacted away, then 10 writers put while a defragmentation
#               runs: the p99 latency of the puts that overlapped it (figure: 1000/p99)
#   tls-put-1, tls-put-100, tls-get
#               put-1, put-100 and 100 clients' linearizable gets over client mTLS (cfssl
#               certificates, as Tests/IntegrationTests/Scripts/make_pki.sh makes them)
# and on a 3-member cluster of each (clients on the leader unless said):
#   c3-put-1    one client, sequential puts
#   c3-put-100  100 clients over 10 connections
#   c3-txn      100 clients, a put under a compare in each txn
#   c3-get-l    100 clients, linearizable gets spread over the three members
#   c3-get-s    100 clients, serializable gets spread over the three members
#   c3-watch    100 watchers on a follower, 2000 puts to the leader: put start to event arrival
# Each workload runs ROUNDS times per server, alternating servers; the median is reported.
# WORKLOADS picks a subset (default: all of the above); GO_TOOLS names a directory of already
# built Go tools (scripts/build-go-tools.sh).
set -euo pipefail
ours=${1:?ours}; reference=${2:?reference}
ROUNDS=${ROUNDS:-3}
PUT1_TOTAL=${PUT1_TOTAL:-10000}
PUT100_TOTAL=${PUT100_TOTAL:-100000}
C3_PUT1_TOTAL=${C3_PUT1_TOTAL:-3000}
C3_TOTAL=${C3_TOTAL:-30000}
here=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_DIR:-$here/bench-results}
mkdir -p "$work"
# The Go tools: from GO_TOOLS when make built them already, else built here.
tools=${GO_TOOLS:-$("$here/scripts/build-go-tools.sh" "$work")}
tool=$tools/putload
watchtool=$tools/watchload

# Below the kernel's ephemeral ports, so no client socket takes a server's port.
port=$(( 20000 + RANDOM % 10000 ))
start_server() { # binary dir
  rm -rf "$2"; mkdir -p "$2"
  "$1" --data-dir "$2/data" --listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
    --listen-peer-urls "http://127.0.0.1:$((port+1))" --initial-advertise-peer-urls "http://127.0.0.1:$((port+1))" \
    --initial-cluster "default=http://127.0.0.1:$((port+1))" >"$2/log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    curl -s "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "server $1 did not start" >&2; cat "$2/log" >&2; exit 1
}
# TLS workloads: cfssl certificates for 127.0.0.1, client certificates required.
pki=$work/pki
tls_flags() { echo "--cert-file $pki/member.pem --key-file $pki/member-key.pem --trusted-ca-file $pki/ca.pem --client-cert-auth"; }
start_tls_server() { # binary dir
  [ -f "$pki/client.pem" ] || "$here/Tests/IntegrationTests/Scripts/make_pki.sh" "$pki" >/dev/null
  rm -rf "$2"; mkdir -p "$2"
  # shellcheck disable=SC2046
  "$1" --data-dir "$2/data" --listen-client-urls "https://127.0.0.1:$port" --advertise-client-urls "https://127.0.0.1:$port" \
    --listen-peer-urls "http://127.0.0.1:$((port+1))" --initial-advertise-peer-urls "http://127.0.0.1:$((port+1))" \
    --initial-cluster "default=http://127.0.0.1:$((port+1))" $(tls_flags) >"$2/log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    curl -s --cacert "$pki/ca.pem" --cert "$pki/client.pem" --key "$pki/client-key.pem" \
      "https://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "server $1 did not start" >&2; cat "$2/log" >&2; exit 1
}
tls_client() { echo "-cacert $pki/ca.pem -cert $pki/client.pem -key $pki/client-key.pem"; }
server_pid=""
stop_server() { [ -n "$server_pid" ] || return 0; kill $server_pid 2>/dev/null || true; wait $server_pid 2>/dev/null || true; server_pid=""; }
trap stop_server EXIT

# A 3-member cluster on port, port+2, port+4 (peers one above each); sets server_pid (all three)
# and leader (the leader's client endpoint) and followers.
start_cluster() { # binary dir
  rm -rf "$2"; mkdir -p "$2"
  local cluster="" i
  for i in 0 1 2; do cluster="$cluster${cluster:+,}m$i=http://127.0.0.1:$((port + 2*i + 1))"; done
  server_pid=""
  for i in 0 1 2; do
    "$1" --name m$i --data-dir "$2/m$i" --initial-cluster "$cluster" --initial-cluster-token bench \
      --listen-client-urls "http://127.0.0.1:$((port + 2*i))" --advertise-client-urls "http://127.0.0.1:$((port + 2*i))" \
      --listen-peer-urls "http://127.0.0.1:$((port + 2*i + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((port + 2*i + 1))" \
      >"$2/log$i" 2>&1 &
    server_pid="$server_pid $!"
  done
  local endpoints="127.0.0.1:$port,127.0.0.1:$((port+2)),127.0.0.1:$((port+4))"
  for _ in $(seq 150); do
    leader=$(ETCDCTL_API=3 etcdctl --endpoints="$endpoints" endpoint status -w json 2>/dev/null | python3 -c '
import json, sys
try:
    rows = json.load(sys.stdin)
except Exception:
    sys.exit(1)
leaders = [r["Endpoint"] for r in rows if r["Status"].get("leader") == r["Status"]["header"]["member_id"]]
if len(rows) == 3 and len(leaders) == 1:
    print(leaders[0])
else:
    sys.exit(1)') && break
    sleep 0.2
  done
  [ -n "$leader" ] || { echo "cluster of $1 did not elect a leader" >&2; cat "$2"/log* >&2; exit 1; }
  followers=$(echo "$endpoints" | tr , '\n' | grep -v "^$leader\$" | paste -sd,)
  everyone=$endpoints
}

# Auth on: root, and a user "bench" whose role may read and write every key (so every request
# is checked against a permission, as for a tenant of a shared cluster).
enable_auth() {
  ctl() { ETCDCTL_API=3 etcdctl --endpoints="127.0.0.1:$port" "$@" >/dev/null 2>&1 || { echo "auth set-up failed: $*" >&2; exit 1; }; }
  ctl user add root:rootpw; ctl user grant-role root root; ctl user add bench:benchpw; ctl role add bench
  # An empty key with --from-key: every key.
  ctl role grant-permission bench readwrite "" --from-key; ctl user grant-role bench bench; ctl auth enable
}

measure() { # binary workload -> requests per second (and latency JSON in $work)
  local binary=$1 workload=$2 out leader="" followers="" everyone=""
  case $workload in
    c3-*) start_cluster "$binary" "$work/cluster" ;;
    tls-*) start_tls_server "$binary" "$work/server" ;;
    auth-*) start_server "$binary" "$work/server"; enable_auth ;;
    *)    start_server "$binary" "$work/server" ;;
  esac
  case $workload in
    c3-put-1)   out=$("$tool" -endpoint "$leader" -clients 1 -conns 1 -total "$C3_PUT1_TOTAL") ;;
    c3-put-100) out=$("$tool" -endpoint "$leader" -clients 100 -conns 10 -total "$C3_TOTAL" -key-space-size 100000) ;;
    c3-txn)     out=$("$tool" -op txn -endpoint "$leader" -clients 100 -conns 10 -total "$C3_TOTAL" -key-space-size 100000) ;;
    c3-get-l)   out=$("$tool" -op get -endpoint "$everyone" -clients 100 -conns 12 -total "$C3_TOTAL" -key-space-size 1000) ;;
    c3-get-s)   out=$("$tool" -op get-serializable -endpoint "$everyone" -clients 100 -conns 12 -total "$C3_TOTAL" -key-space-size 1000) ;;
    c3-watch)   out=$("$watchtool" -endpoint "${followers%%,*}" -writer-endpoint "$leader" -mode fanout -watchers 100 -streams 1 -puts 2000) ;;
    put-1)     out=$("$tool" -endpoint "127.0.0.1:$port" -clients 1 -conns 1 -total "$PUT1_TOTAL") ;;
    # shellcheck disable=SC2046
    tls-put-1)   out=$("$tool" $(tls_client) -endpoint "127.0.0.1:$port" -clients 1 -conns 1 -total "$PUT1_TOTAL") ;;
    # shellcheck disable=SC2046
    tls-put-100) out=$("$tool" $(tls_client) -endpoint "127.0.0.1:$port" -clients 100 -conns 10 -total "$PUT100_TOTAL" -key-space-size 100000) ;;
    # shellcheck disable=SC2046
    tls-get)     out=$("$tool" $(tls_client) -op get -endpoint "127.0.0.1:$port" -clients 100 -conns 10 -total "$PUT100_TOTAL" -key-space-size 1000) ;;
    put-100)   out=$("$tool" -endpoint "127.0.0.1:$port" -clients 100 -conns 10 -total "$PUT100_TOTAL" -key-space-size 100000) ;;
    auth-put-100) out=$("$tool" -user bench:benchpw -endpoint "127.0.0.1:$port" -clients 100 -conns 10 -total "$PUT100_TOTAL" -key-space-size 100000) ;;
    auth-get)  out=$("$tool" -user bench:benchpw -op get -endpoint "127.0.0.1:$port" -clients 100 -conns 10 -total "$PUT100_TOTAL" -key-space-size 1000) ;;
    watch-100) out=$("$watchtool" -endpoint "127.0.0.1:$port" -mode fanout -watchers 100 -streams 1 -puts 2000) ;;
    keepalive) out=$("$watchtool" -endpoint "127.0.0.1:$port" -mode keepalive -leases 100 -clients 10 -duration 5s) ;;
    shared-50mb) out=$("$watchtool" -endpoint "127.0.0.1:$port" -mode shared -big-mb 50) ;;
    expiry)    out=$("$watchtool" -endpoint "127.0.0.1:$port" -mode expiry -leases 100 -clients 20) ;;
    defrag)    out=$("$watchtool" -endpoint "127.0.0.1:$port" -mode defrag -big-mb "${DEFRAG_MB:-200}" -clients 10) ;;
    *)         stop_server; echo "unknown workload $workload" >&2; exit 1 ;;
  esac
  stop_server
  echo "$out" >>"$work/raw.jsonl"
  # The figure compared: throughput where it is one, otherwise the inverse of p99 latency.
  python3 -c '
import json, sys
d = json.loads(sys.argv[1])
if "requests_per_second" in d: main = d["requests_per_second"]
elif "per_second" in d: main = d["per_second"]
else: main = 1000.0 / max(d["p99_ms"], 0.001)
print("%.1f %.3f %.3f" % (main, d["p50_ms"], d["p99_ms"]))' "$out"
}

median() { sort -n | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'; }

: >"$work/raw.jsonl"
printf '%-12s %12s %12s %8s   %s\n' workload reference ours ratio "p50/p99 ms (reference | ours)"
for workload in ${WORKLOADS:-put-1 put-100 watch-100 keepalive shared-50mb expiry defrag tls-put-1 tls-put-100 tls-get auth-put-100 auth-get c3-put-1 c3-put-100 c3-txn c3-get-l c3-get-s c3-watch}; do
  ref_runs=(); our_runs=(); ref_lat=""; our_lat=""
  for _ in $(seq "$ROUNDS"); do
    r=$(measure "$reference" $workload); ref_runs+=("${r%% *}"); ref_lat="${r#* }"
    o=$(measure "$ours" $workload); our_runs+=("${o%% *}"); our_lat="${o#* }"
  done
  ref=$(printf '%s\n' "${ref_runs[@]}" | median)
  our=$(printf '%s\n' "${our_runs[@]}" | median)
  ratio=$(python3 -c "print('%.2f' % ($our / $ref))")
  # Latency workloads report 1000/p99 (higher is better).
  unit=/s; case $workload in watch-100|shared-50mb|expiry|c3-watch) unit="  " ;; esac
  printf '%-12s %10s%s %10s%s %7sx   %s | %s\n' $workload "$ref" "$unit" "$our" "$unit" "$ratio" "$ref_lat" "$our_lat"
done
