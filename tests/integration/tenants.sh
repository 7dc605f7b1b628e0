#!/bin/bash
# Multi-tenant hardening: what a stranger who logs in anonymously must
# not be able to do to someone else's session (issue 11).  Each part
# below failed against the daemon before the fix it tests.
. "$(dirname "$0")/lib.sh"

make_image disk 8
make_image disk2 8
WORKERS=1 write_config "target pair disk,disk2"
start_daemon
[ -x "$ISCTEST" ] || fail "$ISCTEST is not built"
DISK=$IQN_PREFIX:disk
PAIR=$IQN_PREFIX:pair

isc() {
	out=$("$ISCTEST" -p "127.0.0.1:$PORT" -w 4 -T 20 "$@" 2>&1)
	rc=$?
	echo "$out" | sed 's/^/    /'
	[ $rc -eq 0 ] || fail "isctest $*"
	ok "isctest $*"
}

# 1. Data-Out: every byte once, at the offset its sequence expects; the
# victim's bytes in a reused pool buffer never reach the attacker's disk.
for s in dataout-overlap dataout-overlap-r2t dataout-bad-ttt unsol-short; do
	isc -t "$DISK" "$s"
done

# 3. A stranger's login with the names (InitiatorName, ISID) of a live
# session on a public target, from another address, never ends it;
# from the same address it still reinstates (the usual reconnect).
isc -t "$DISK" -b 127.0.0.2 stranger-reinstate
isc -t "$DISK" reinstate

# 2. EXTENDED COPY is checked on every LU it reads or writes, as a READ
# or WRITE from the same nexus would be; 4. a parameter list longer than
# its descriptors can need is refused before anything is buffered.
isc -t "$PAIR" xcopy-pr
isc -t "$DISK" xcopy-huge

# 4. Write data buffered for unfinished commands is bounded per
# connection and per worker: past the budget, R2Ts wait for room.
stop_daemon
WORKERS=1 write_config "max-pending-data 1088K" \
	"max-pending-data-worker 1536K"
start_daemon
isc -t "$DISK" pending-wait
