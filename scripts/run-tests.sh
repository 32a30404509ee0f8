#!/usr/bin/env bash
# run-tests.sh LIMIT [swift test arguments] - runs the built tests with a time limit in seconds.
# A test that hangs would otherwise use up the CI budget silently: past the limit the run is
# stopped and the tests that started but never finished are named.
set -uo pipefail
limit=${1:?limit}
shift
log=$(mktemp /tmp/swift-test-XXXXXX.log)
timeout -k 30 "$limit" "${SWIFT:-swift}" test --skip-build "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
if [ "$status" = 124 ] || [ "$status" = 137 ]; then
  echo "tests stopped after ${limit}s; started but not finished:" >&2
  python3 - "$log" >&2 <<'PY'
import re, sys
started, ended = set(), set()
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r"Test (\w+)\(.*?\) (started|passed|failed|recorded|skipped)", line)
    if m:
        (started if m.group(2) == "started" else ended).add(m.group(1))
for name in sorted(started - ended):
    print("  " + name)
PY
fi
rm -f "$log"
exit "$status"
