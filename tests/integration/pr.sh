#!/bin/bash
# Issue 6: SCSI-3 persistent reservations on a static target, shared by
# every worker.  Two initiators on two workers fence each other (A takes
# WRITE EXCLUSIVE, B's writes conflict and its reads do not, B preempts
# A, A gets the unit attention and then the conflict); the state
# survives a daemon restart and, separately, a kill -9 of the
# coordinator, and is enforced at once; the state is durable in LMDB
# (a deleted or torn mirror file is rebuilt from it); TARGET COLD RESET
# closes every session of the target, on every worker; libiscsi's PERSISTENT RESERVE
# and RESERVE(6) suites pass with their two connections on two workers.
. "$(dirname "$0")/lib.sh"

# A blank disk (see conformance.sh).
mkdir -p "$WORK/images"
head -c $((64 * 1024 * 1024)) /dev/zero > "$WORK/images/disk.img"
WORKERS=2 write_config "target shared disk"
start_daemon
T=$IQN_PREFIX:shared
S=$URL/$T/0
IA=iqn.2025-01.test:alpha
IB=iqn.2025-01.test:bravo

pr() {
	"$ISCTEST" -p "127.0.0.1:$PORT" -t "$T" -i "$IA" -I "$IB" "$@"
}

# worker pid of the last session of initiator $1
worker_of() {
	grep "session start: target $T initiator $1 " "$LOG" | tail -n 1 |
	    awk -F'[][]' '{ print $2 }'
}

out=$(pr pr-fence 2>&1) || fail "pr-fence: $out"
wa=$(worker_of "$IA")
wb=$(worker_of "$IB")
[ -n "$wa" ] && [ -n "$wb" ] && [ "$wa" != "$wb" ] ||
	fail "A and B not on two workers ($wa, $wb)"
echo "$out" | grep -q "A: UNIT ATTENTION, REGISTRATIONS PREEMPTED" ||
	fail "no unit attention for A: $out"
ok "A (worker $wa) WRITE EXCLUSIVE: B (worker $wb) writes conflict," \
    "reads pass; B preempts; A: 2Ah/05h, then the conflict"

# Each PERSISTENT RESERVE OUT was answered only once LMDB held it: every
# process killed at once right after pr-fence returned and the mirror
# file deleted, the restarted coordinator puts the state back from LMDB
# (pr-check below checks it is what pr-fence left).
MIRROR=$WORK/state/overlays/static-shared-0.pr
[ -s "$MIRROR" ] || fail "no mirror file $MIRROR"
kill -9 "$DAEMON_PID" $(ps -o pid= --ppid "$DAEMON_PID")
wait "$DAEMON_PID" 2>/dev/null
rm -f "$MIRROR"
: > "$LOG"
start_daemon
wait_log "static-shared-0: reservations restored from LMDB" 5 ||
	fail "mirror not rebuilt from LMDB"

# The keys and the reservation as READ KEYS and READ RESERVATION say;
# pr-check also proves they are enforced.
state() {
	local o
	o=$(pr pr-check 2>&1) || fail "pr-check $1: $o"
	echo "$o" | grep -E "READ (KEYS|RESERVATION):" | sed 's/^pr-check: //'
}

before=$(state "before the restart")
echo "$before"
[ -n "$before" ] || fail "pr-check printed nothing"

stop_daemon
start_daemon
after=$(state "after the restart")
[ "$after" = "$before" ] ||
	fail "after a restart: $after (before: $before)"
ok "daemon stopped and started: same keys, reservation, generation;" \
    "enforced at once"

# A torn mirror (both copies overwritten) is not trusted: LMDB's state
# comes back.
stop_daemon
dd if=/dev/urandom of="$MIRROR" bs=4096 seek=1 count=16 conv=notrunc \
    status=none
: > "$LOG"
start_daemon
wait_log "static-shared-0: reservations restored from LMDB" 5 ||
	fail "torn mirror not rebuilt from LMDB"
after=$(state "after the mirror was torn")
[ "$after" = "$before" ] ||
	fail "torn mirror: $after (before: $before)"
ok "mirror deleted after kill -9 of every process, or torn: LMDB's" \
    "state restored"

coord=$(child_pids coordinator)
[ -n "$coord" ] || fail "no coordinator"
kill -9 $coord
after=$(state "with the coordinator killed")
[ "$after" = "$before" ] ||
	fail "coordinator killed: $after (before: $before)"
for _ in $(seq 1 100); do
	new=$(child_pids coordinator)
	[ -n "$new" ] && [ "$new" != "$coord" ] && break
	sleep 0.05
done
[ -n "$new" ] && [ "$new" != "$coord" ] || fail "coordinator not respawned"
after=$(state "after the coordinator came back")
[ "$after" = "$before" ] ||
	fail "coordinator respawned: $after (before: $before)"
ok "coordinator kill -9: same state, enforced at once and after respawn"

out=$(pr pr-clear 2>&1) || fail "pr-clear: $out"
ok "CLEAR: no key, no reservation"

# A session that logged out is gone from the coordinator's registry: the
# cold reset below closes B's session alone.
"$ISCTEST" -p "127.0.0.1:$PORT" -t "$T" -i iqn.2025-01.test:charlie login \
    > /dev/null || fail "charlie: login and logout"
out=$(pr cold-reset 2>&1) || fail "cold-reset: $out"
grep -q "target cold reset: closing 1 other session(s)" "$LOG" ||
	fail "cold reset: not exactly B's session closed: $(grep "cold reset" "$LOG")"
wa=$(worker_of "$IA")
wb=$(worker_of "$IB")
[ -n "$wa" ] && [ -n "$wb" ] && [ "$wa" != "$wb" ] ||
	fail "cold reset: A and B not on two workers ($wa, $wb)"
grep -q "initiator $IB .*: target cold reset by another session" "$LOG" ||
	fail "B's connection not closed by the cold reset"
ok "TARGET COLD RESET from A (worker $wa): Function complete, A's and" \
    "B's (worker $wb) connections closed"

conformance 'Prin|Prout|Reserve6' "$S" "$S" ||
	fail "conformance Prin|Prout|Reserve6 against $S"
ok "libiscsi Prin*, Prout*, Reserve6: 0 failed"
kill -0 "$DAEMON_PID" || fail "daemon died"
# TERM stops the first daemon's children; the coordinator was our -9
grep "killed by signal" "$LOG" | grep -v -e "signal 15$" \
    -e "coordinator .* signal 9$" && fail "a process crashed"
ok "no process crashed"
