#!/bin/bash
# Issue 3: libiscsi's conformance suites (iscsi-test-cu) against a shared
# target, twice the same URL for the multipath and two-initiator tests,
# and the ReadOnly suite against a read-only LU.  Every suite must end
# with no failed test.
. "$(dirname "$0")/lib.sh"

# A blank disk: libiscsi 1.19's MultipathIO.CompareAndWrite compares LBA
# 256 with zeros but only initialises LBAs 0-255.
mkdir -p "$WORK/images"
head -c $((64 * 1024 * 1024)) /dev/zero > "$WORK/images/disk.img"
write_config "target shared disk" "target ro disk readonly"
start_daemon
S=$URL/$IQN_PREFIX:shared/0
R=$URL/$IQN_PREFIX:ro/0

# Everything but SANITIZE (erases the LU; not implemented, see README).
conformance '.' "$S" "$S" || fail "conformance against $S"
ok "every iscsi-test-cu suite: 0 failed"
# Reservations are implemented in full: nothing there may be skipped.
for f in "$WORK"/cu/Prin*.log "$WORK"/cu/Prout*.log "$WORK"/cu/Reserve6.log; do
	grep -q "SKIPPED" "$f" && fail "skipped in $(basename "$f" .log): $(grep SKIPPED "$f" | head -3)"
done
# Every skip is one the README lists.
skips=$(cat "$WORK"/cu/*.log | grep -o "\[SKIPPED\].*" | sort -u |
    grep -v -e "allow-sanitize" -e "WRITEATOMIC16" -e "not removable" \
    -e "LBPPB < 2" -e "not write-protected" || true)
[ -z "$skips" ] || fail "unexpected skipped tests: $skips"
ok "no reservation test skipped; every other skip is listed in the README"
conformance '^ReadOnly$' "$R" "$R" || fail "ReadOnly suite against $R"
grep -q "SKIPPED" "$WORK/cu/ReadOnly.log" && fail "ReadOnly skipped on a read-only LU"
ok "ReadOnly suite against a read-only LU"
kill -0 "$DAEMON_PID" || fail "daemon died"
grep -q "killed by signal" "$LOG" && fail "a child crashed"
ok "no process crashed"
