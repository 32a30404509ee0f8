#!/usr/bin/env bash
# conformance.sh - run etcd 3.4's own end-to-end suite (tests/e2e, v3 part)
# against an etcd-compatible server binary.
#
# Usage: scripts/conformance.sh [ETCD_BINARY] [OUTPUT_DIR]
#   ETCD_BINARY  server under test     (default: ./.build/release/etcd)
#   OUTPUT_DIR   where results go      (default: ./conformance-results)
#
# What it does
#   1. Installs golang-go, golang-etcd-server-dev (the etcd 3.4 source incl.
#      tests/e2e) and etcd-client (stock etcdctl) with apt-get if missing.
#   2. Builds the e2e test binary once into a cache dir (GOPATH mode,
#      GO111MODULE=off, GOPATH=/usr/share/gocode; nothing is written there).
#   3. Creates OUTPUT_DIR/bin with `etcd` -> ETCD_BINARY and
#      `etcdctl` -> /usr/bin/etcdctl (symlinks), which is what -bin-dir wants.
#   4. Runs every v3 test on its own process, sequentially, with a per-test
#      timeout, killing stray processes started from OUTPUT_DIR/bin after each.
#
# Test selection ("v3 tests"): every top-level test listed by
# `e2e.test -test.list .` EXCEPT
#   - names starting with TestCtlV2 (ctl_v2_test.go, etcdctl v2 API) or
#     TestV2 (v2_curl_test.go, v2 HTTP API), and
#   - TestCtlV3Migrate (writes its data with `ETCDCTL_API=2 etcdctl set`
#     and tests migrating the v2 store into v3, so it needs the v2 API).
# For etcd 3.4.23 that is 243 - 25 - 7 - 1 = 210 tests. The reference
# /usr/bin/etcd 3.4.23 gets 207/210: TestReleaseUpgrade and
# TestReleaseUpgradeWithRestart SKIP (no bin/etcd-last-release) and
# TestEtcdExampleConfig FAILS (../../etcd.conf.yml.sample is not shipped
# in golang-etcd-server-dev).
#
# Output (OUTPUT_DIR)
#   results.txt       one line per test: PASS|FAIL|SKIP <name> <seconds>
#   logs/<name>.log   full `go test -v` output of each failing test, with
#                     EXPECT_DEBUG=1 so every line the etcd/etcdctl
#                     processes printed is included (prefixed by binary-pid)
#   summary.txt       final summary line
#   retried.txt       tests re-run because only TestMain's goroutine-leak
#                     check failed (a harness race, see leak_only below);
#                     first attempt kept as logs/<name>.attempt1.log
#   bin/, .run/, tmp/ scratch (bin dir, working dir, TMPDIR for the tests)
# The last line printed is:  conformance: <passed>/<total> passed ...
#
# Tuning via environment variables
#   CONFORMANCE_CACHE_DIR   where e2e.test + Go build cache live
#                           (default ${XDG_CACHE_HOME:-$HOME/.cache}/etcd-conformance)
#   CONFORMANCE_TIMEOUT     per-test timeout in seconds (default 300)
#   CONFORMANCE_RUN         extended regex; only run selected v3 tests whose
#                           name matches it (e.g. 'Put|Get'); default: all
#   CONFORMANCE_ETCDCTL     etcdctl to use (default /usr/bin/etcdctl)
#   CONFORMANCE_REBUILD=1   force rebuilding e2e.test
#   CONFORMANCE_KEEP_LOGS=1 keep logs of passing/skipped tests as well
#   CONFORMANCE_EXAMPLE_CONFIG=<file>  provide etcd.conf.yml.sample for
#                           TestEtcdExampleConfig (not shipped by Debian)
#   CONFORMANCE_NETNS=auto|1|0  run each test in a private network
#                           namespace (default auto = if unshare works)
#
# Ports used by the suite: 2379, 2380, 10000-10001, 20000-20035, 23790.
# With the per-test network namespace (default when `unshare --net` works)
# they only need to be free inside it; without it they must be free on the
# host. Only one run at a time (a lock file enforces it).

set -uo pipefail

ETCD_ARG=${1:-./.build/release/etcd}
OUT_ARG=${2:-./conformance-results}

GOPATH_DIR=/usr/share/gocode
SRC_DIR=$GOPATH_DIR/src/go.etcd.io/etcd
CACHE_DIR=${CONFORMANCE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/etcd-conformance}
TIMEOUT_S=${CONFORMANCE_TIMEOUT:-300}
RUN_FILTER=${CONFORMANCE_RUN:-}
ETCDCTL_SRC=${CONFORMANCE_ETCDCTL:-/usr/bin/etcdctl}
EXPECTED_TOTAL=210

log() { printf '%s\n' "conformance.sh: $*" >&2; }
die() { log "error: $*"; exit 2; }

abspath() { # absolute path without resolving the last symlink
    local d b
    d=$(dirname -- "$1"); b=$(basename -- "$1")
    d=$(cd -- "$d" 2>/dev/null && pwd) || return 1
    printf '%s/%s\n' "$d" "$b"
}

# ---------------------------------------------------------------- inputs
[ -e "$ETCD_ARG" ] || die "etcd binary '$ETCD_ARG' not found (build it first or pass its path as \$1)"
[ -x "$ETCD_ARG" ] || die "etcd binary '$ETCD_ARG' is not executable"
ETCD_UNDER_TEST=$(abspath "$ETCD_ARG") || die "cannot resolve $ETCD_ARG"
mkdir -p -- "$OUT_ARG" || die "cannot create output dir $OUT_ARG"
OUT_DIR=$(cd -- "$OUT_ARG" && pwd)
[[ "$TIMEOUT_S" =~ ^[0-9]+$ ]] || die "CONFORMANCE_TIMEOUT must be whole seconds"

# ---------------------------------------------------------- dependencies
apt_install() {
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || die "need root or sudo to apt-get install $*"
        sudo=(sudo -n)
    fi
    log "installing with apt-get: $*"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq || die "apt-get update failed"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" \
        || die "apt-get install $* failed"
}

missing=()
command -v go >/dev/null 2>&1 || missing+=(golang-go)
[ -f "$SRC_DIR/tests/e2e/main_test.go" ] || missing+=(golang-etcd-server-dev)
if [ "$ETCDCTL_SRC" = /usr/bin/etcdctl ] && [ ! -x /usr/bin/etcdctl ]; then
    missing+=(etcd-client)
fi
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
command -v go >/dev/null 2>&1 || die "go still not found"
[ -x "$ETCDCTL_SRC" ] || die "etcdctl '$ETCDCTL_SRC' not found"
command -v timeout >/dev/null || die "coreutils 'timeout' is required"
command -v flock >/dev/null || die "util-linux 'flock' is required"

# ------------------------------------------------------------------ lock
# The suite uses fixed ports, so two runs (even from different checkouts)
# must never overlap.
exec 9>/tmp/etcd-e2e-conformance.lock || die "cannot open lock file"
flock -n 9 || die "another conformance run holds /tmp/etcd-e2e-conformance.lock"

# ----------------------------------------------------------------- build
mkdir -p -- "$CACHE_DIR" || die "cannot create cache dir $CACHE_DIR"
E2E_BIN=$CACHE_DIR/e2e.test
pkgver=$(dpkg-query -W -f='${Version}' golang-etcd-server-dev 2>/dev/null || echo unknown)
stamp="$(go version) etcd-src=$pkgver"
if [ "${CONFORMANCE_REBUILD:-0}" = 1 ] || [ ! -x "$E2E_BIN" ] || \
   [ "$(cat "$E2E_BIN.stamp" 2>/dev/null)" != "$stamp" ]; then
    log "building e2e.test into $CACHE_DIR (one-off, ~30s-2min)"
    rm -f -- "$E2E_BIN" "$E2E_BIN.stamp"
    ( cd "$SRC_DIR" && env GO111MODULE=off GOPATH="$GOPATH_DIR" GOFLAGS= \
          GOCACHE="$CACHE_DIR/gocache" \
          go test -c -o "$E2E_BIN.tmp" ./tests/e2e ) || die "building e2e.test failed"
    mv -f -- "$E2E_BIN.tmp" "$E2E_BIN" && printf '%s' "$stamp" > "$E2E_BIN.stamp"
fi

# ------------------------------------------------------------- workspace
BIN_DIR=$OUT_DIR/bin
RUN_DIR=$OUT_DIR/.run            # the suite's cwd is $RUN_DIR/tests/e2e
TEST_TMP=$OUT_DIR/tmp            # TMPDIR for data dirs, snapshots, ...
LOG_DIR=$OUT_DIR/logs
RESULTS=$OUT_DIR/results.txt
rm -rf -- "$BIN_DIR" "$RUN_DIR" "$TEST_TMP" "$LOG_DIR"
mkdir -p -- "$BIN_DIR" "$RUN_DIR/tests/e2e" "$TEST_TMP" "$LOG_DIR"
: > "$RESULTS"
# Symlinks (not copies) so a Swift binary still finds resources/libraries
# relative to its real location. The suite execs "$BIN_DIR/etcd", so
# argv[0] of every process it starts begins with $BIN_DIR/.
ln -s -- "$ETCD_UNDER_TEST" "$BIN_DIR/etcd"
ln -s -- "$ETCDCTL_SRC" "$BIN_DIR/etcdctl"
# configJWT uses ../../integration/fixtures relative to the cwd and
# TestEtcdExampleConfig reads ../../etcd.conf.yml.sample, so mirror the
# source layout instead of running inside the read-only source tree.
ln -s -- "$SRC_DIR/integration" "$RUN_DIR/integration"
if [ -n "${CONFORMANCE_EXAMPLE_CONFIG:-}" ]; then
    ln -s -- "$(abspath "$CONFORMANCE_EXAMPLE_CONFIG")" "$RUN_DIR/etcd.conf.yml.sample"
fi
CERT_DIR=$SRC_DIR/integration/fixtures

# --------------------------------------------------------- process reaper
# Kill only processes started from our bin dir: argv[0] under $BIN_DIR/
# (how the suite launches etcd, etcd gateway/grpc-proxy and etcdctl) or an
# executable that physically lives in $BIN_DIR. Other etcd instances on
# the machine (e.g. /usr/bin/etcd started by someone else) are untouched.
our_pids() {
    local p exe argv0
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [ "$p" = "$$" ] && continue
        argv0=
        { IFS= read -r -d '' argv0 < "/proc/$p/cmdline"; } 2>/dev/null
        case "$argv0" in "$BIN_DIR"/*) echo "$p"; continue ;; esac
        exe=$(readlink "/proc/$p/exe" 2>/dev/null) || exe=
        case "$exe" in "$BIN_DIR"/*) echo "$p" ;; esac
    done
}

kill_strays() {
    local pids i
    pids=$(our_pids)
    [ -z "$pids" ] && return 0
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null
    for i in $(seq 1 50); do
        pids=$(our_pids)
        [ -z "$pids" ] && return 0
        sleep 0.1
    done
    log "warning: could not kill: $pids"
}

CHILD=
on_signal() {
    trap - INT TERM
    log "interrupted; cleaning up"
    if [ -n "$CHILD" ]; then
        # $CHILD is timeout(1); it forwards TERM to e2e.test
        kill -TERM "$CHILD" 2>/dev/null
        sleep 1
        pkill -KILL -P "$CHILD" 2>/dev/null
        kill -KILL "$CHILD" 2>/dev/null
    fi
    kill_strays
    exit 130
}
trap on_signal INT TERM
trap 'kill_strays' EXIT

# ------------------------------------------------- network isolation
# The suite binds fixed ports (2379/2380, 10000-10001, 20000-20035, 23790).
# On a shared machine someone else's etcd on 2379 makes TestEtcdUnixPeers
# fail, so by default every test runs in its own private network namespace
# (unshare --net, loopback brought up) where all ports are free. Processes
# stay in the same PID namespace, so the reaper above still sees them.
#   CONFORMANCE_NETNS=auto (default) use it when possible, 1 require, 0 off
NETNS_MODE=${CONFORMANCE_NETNS:-auto}
NETNS_WRAP=()
if [ "$NETNS_MODE" != 0 ]; then
    IP_BIN=$(command -v ip 2>/dev/null || echo /usr/sbin/ip)
    uflags=(--net)
    [ "$(id -u)" -ne 0 ] && uflags=(--map-root-user --net)
    if command -v unshare >/dev/null && [ -x "$IP_BIN" ] &&
       unshare "${uflags[@]}" -- "$IP_BIN" link set lo up 2>/dev/null; then
        NETNS_WRAP=(unshare "${uflags[@]}" -- sh -c '"$0" link set lo up && exec "$@"' "$IP_BIN")
    elif [ "$NETNS_MODE" = 1 ]; then
        die "CONFORMANCE_NETNS=1 but 'unshare --net' + 'ip' do not work here"
    fi
fi

SUITE_PORTS='$1==2379||$1==2380||$1==10000||$1==10001||($1>=20000&&$1<=20035)||$1==23790'
busy_ports() { # suite ports with a listener in the host namespace
    command -v ss >/dev/null || return 0
    ss -Hltn 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -un | awk "$SUITE_PORTS" | tr '\n' ' '
}
if [ ${#NETNS_WRAP[@]} -eq 0 ]; then
    kill_strays
    busy=$(busy_ports)
    [ -n "$busy" ] && log "WARNING: ports used by the suite are busy: $busy- expect failures"
fi

# --------------------------------------------------------- test selection
# Clean environment: the suite and etcd read ETCD_* / ETCDCTL_* variables.
unset_args=()
while IFS= read -r v; do unset_args+=(-u "$v"); done < <(compgen -e | grep -E '^(ETCD|ETCDCTL)_' || true)

mapfile -t ALL_TESTS < <(cd "$RUN_DIR/tests/e2e" && env "${unset_args[@]}" "$E2E_BIN" -test.list '.*' | grep -E '^Test')
[ ${#ALL_TESTS[@]} -gt 0 ] || die "could not list tests from $E2E_BIN"
mapfile -t TESTS < <(printf '%s\n' "${ALL_TESTS[@]}" | grep -Ev '^Test(Ctl)?V2' | grep -Ev '^TestCtlV3Migrate$')
if [ -z "$RUN_FILTER" ] && [ ${#TESTS[@]} -ne $EXPECTED_TOTAL ]; then
    log "warning: selected ${#TESTS[@]} v3 tests, expected $EXPECTED_TOTAL (different etcd source version?)"
fi
if [ -n "$RUN_FILTER" ]; then
    mapfile -t TESTS < <(printf '%s\n' "${TESTS[@]}" | grep -E -- "$RUN_FILTER" || true)
    [ ${#TESTS[@]} -gt 0 ] || die "CONFORMANCE_RUN='$RUN_FILTER' selects no test"
fi

log "server under test: $ETCD_UNDER_TEST"
log "etcdctl:           $ETCDCTL_SRC"
log "network:           $([ ${#NETNS_WRAP[@]} -gt 0 ] && echo 'private netns per test' || echo 'host (ports must be free)')"
log "running ${#TESTS[@]} tests sequentially (timeout ${TIMEOUT_S}s each), results in $OUT_DIR"

# ------------------------------------------------------------------- run
# run_one NAME LOGFILE: runs one test, sets $rc, $verdict (go's own
# "--- PASS/FAIL/SKIP" line, or empty) and $busy.
run_one() {
    local name=$1 tlog=$2
    kill_strays
    rm -rf -- "${TEST_TMP:?}"/* "$RUN_DIR/tests/e2e"/* 2>/dev/null
    busy=
    [ ${#NETNS_WRAP[@]} -eq 0 ] && busy=$(busy_ports)
    # -test.timeout makes Go panic with goroutine dumps; timeout(1) is the
    # backstop if the binary itself wedges.
    ( cd "$RUN_DIR/tests/e2e" && exec env "${unset_args[@]}" TMPDIR="$TEST_TMP" EXPECT_DEBUG=1 \
        "${NETNS_WRAP[@]}" timeout -k 10 $((TIMEOUT_S + 60)) "$E2E_BIN" -test.v -test.count=1 \
            -test.run "^${name}\$" -test.timeout "${TIMEOUT_S}s" \
            -bin-dir "$BIN_DIR" -cert-dir "$CERT_DIR" ) > "$tlog" 2>&1 &
    CHILD=$!
    wait "$CHILD"; rc=$?
    CHILD=
    verdict=$(grep -aoE -- "--- (PASS|FAIL|SKIP): ${name} \\(" "$tlog" | head -n1 | sed -E 's/^--- ([A-Z]+):.*/\1/')
}

# The test binary's TestMain runs a goroutine-leak check after the test and
# exits 1 if expect-reader goroutines are still alive. Some tests never
# Close() their last etcdctl process (e.g. ctlV3User in TestCtlV3UserDelete),
# so this trips at random even with the reference etcd (seen 1 in 210).
# Such a run ("--- PASS" + exit 1 + leak report) is retried once; the retry
# decides. Retried tests are listed in retried.txt.
leak_only() {
    [ "$verdict" = PASS ] && [ "$rc" -eq 1 ] &&
        grep -aq 'Too many goroutines running after all test(s)' "$1"
}

n_pass=0; n_fail=0; n_skip=0; n_retry=0; i=0; total=${#TESTS[@]}
: > "$OUT_DIR/retried.txt"
t_start=$(date +%s.%N)
for name in "${TESTS[@]}"; do
    i=$((i + 1))
    tlog=$LOG_DIR/$name.log
    t0=$(date +%s.%N)
    run_one "$name" "$tlog"
    if leak_only "$tlog"; then
        n_retry=$((n_retry + 1))
        mv -f -- "$tlog" "$LOG_DIR/$name.attempt1.log"
        echo "$name" >> "$OUT_DIR/retried.txt"
        run_one "$name" "$tlog"
    fi
    t1=$(date +%s.%N)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')

    if [ "$verdict" = PASS ] && [ $rc -eq 0 ]; then status=PASS
    elif [ "$verdict" = SKIP ] && [ $rc -eq 0 ]; then status=SKIP
    else
        status=FAIL
        {
            echo
            echo "=== conformance.sh: exit code $rc, go verdict '${verdict:-none}'"
            [ $rc -eq 124 ] || [ $rc -eq 137 ] && echo "=== conformance.sh: killed by outer timeout"
            grep -aq 'panic: test timed out' "$tlog" && echo "=== conformance.sh: hit -test.timeout ${TIMEOUT_S}s"
            leak_only "$tlog" && echo "=== conformance.sh: test body passed but TestMain's goroutine-leak check failed (twice)"
            [ -n "$busy" ] && echo "=== conformance.sh: suite ports busy (not ours) before the test: $busy"
        } >> "$tlog"
    fi
    case $status in
        PASS) n_pass=$((n_pass + 1)) ;;
        FAIL) n_fail=$((n_fail + 1)) ;;
        SKIP) n_skip=$((n_skip + 1)) ;;
    esac
    printf '%s %s %s\n' "$status" "$name" "$secs" >> "$RESULTS"
    printf '[%d/%d] %s %s %ss\n' "$i" "$total" "$status" "$name" "$secs"
    if [ "$status" != FAIL ] && [ "${CONFORMANCE_KEEP_LOGS:-0}" != 1 ]; then
        rm -f -- "$tlog"
    fi
done
kill_strays
rm -rf -- "${TEST_TMP:?}"/* "$RUN_DIR/tests/e2e"/* 2>/dev/null
t_end=$(date +%s.%N)
elapsed=$(awk -v a="$t_start" -v b="$t_end" 'BEGIN{printf "%d", b-a}')

summary="conformance: $n_pass/$total passed ($n_fail failed, $n_skip skipped"
[ $n_retry -gt 0 ] && summary+=", $n_retry retried after leak check"
summary+=") in ${elapsed}s"
echo "$summary" > "$OUT_DIR/summary.txt"
if [ $n_fail -gt 0 ]; then
    echo "failed tests (logs in $LOG_DIR):"
    grep '^FAIL ' "$RESULTS" | awk '{print "  " $2}'
fi
echo "$summary"
[ $n_fail -eq 0 ]
