#!/bin/bash
# Multi-tenant hardening: what a stranger who logs in anonymously must
# not be able to do to someone else's session (issue 11).  Each part
# below failed against the daemon before the fix it tests.
. "$(dirname "$0")/lib.sh"

make_image disk 8
make_image disk2 8
WORKERS=1 write_config "target pair disk,disk2" \
    "target hidden disk chap alice s3cret-secret-1"
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

# Suspected: SendTargets=<iqn> from a discovery session listed a CHAP
# target that discovery hides.
isc -t "$IQN_PREFIX:hidden" sendtargets-hidden

# Suspected: MODE SELECT on a shared LU changed it for every connection
# on the worker.  Mode pages are each nexus's own.
isc -t "$PAIR" mode-isolation

# 4. Write data buffered for unfinished commands is bounded per
# connection and per worker: past the budget, R2Ts wait for room.
stop_daemon
WORKERS=1 write_config "max-pending-data 1088K" \
	"max-pending-data-worker 1536K"
start_daemon
isc -t "$DISK" pending-wait

# 7. Quota on a shared LU, exact under any interleaving: one worker
# rewrites blocks while another unmaps them; then the quota counter
# holds exactly the bytes the map says are written.
stop_daemon
WORKERS=2 write_config "tier small quota 1M ttl 1h persistent yes pr yes luns 4" \
    "target capped disk tier small"
start_daemon
isc -t "$IQN_PREFIX:capped" -w 3 quota-race
# written blocks in a map file: 2 bits each past a 4096-byte header, M alone
mapped=$(od -An -v -tu1 -j4096 "$WORK/state/overlays/static-capped-0.map" |
    awk '{ for (i = 1; i <= NF; i++) { b = $i
	for (k = 0; k < 4; k++) { if (b % 4 == 1) n++; b = int(b / 4) } } }
	END { print (n + 0) * 4096 }')
counted=$(od -An -tu8 -N8 "$WORK/state/overlays/static-capped.quota" | tr -d ' ')
echo "    quota counter $counted bytes, map $mapped bytes written"
[ "$counted" = "$mapped" ] ||
	fail "quota counts $counted bytes, the map holds $mapped"
ok "the quota counts exactly what the map holds after racing WRITE and UNMAP"

# hold N SECONDS [ISCTEST OPTIONS...]: N sessions held in the background.
hold() {
	_n=$1 _s=$2; shift 2
	for _ in $(seq 1 "$_n"); do
		"$ISCTEST" -p "127.0.0.1:$PORT" -w "$_s" -T 30 "$@" hold \
		    >/dev/null 2>&1 &
		HOLDERS="$HOLDERS $!"
	done
}

# sessions N: until the log shows N session starts in all.
sessions() {
	for _ in $(seq 1 100); do
		[ "$(grep -c 'session start' "$LOG")" -ge "$1" ] && return 0
		sleep 0.05
	done
	fail "only $(grep -c 'session start' "$LOG") sessions started, want $1"
}

# 5. Descriptors and connections.  An overlay is opened at its LU's
# first write: a session of :multi (every image a LUN) costs a socket,
# not a file per catalog image.  max-connections-per-address and
# max-connections refuse in the master, before a worker sees them.
stop_daemon
: > "$LOG"
for i in $(seq 1 30); do make_image "m$i" 1; done
WORKERS=1 write_config "max-connections-per-address 3" "max-connections 5"
start_daemon
MULTI=$IQN_PREFIX:multi
w=$(child_pids worker | tr -d ' ')
fds0=$(ls "/proc/$w/fd" | wc -l)
HOLDERS=
hold 3 6 -t "$MULTI"
sessions 3
fds1=$(ls "/proc/$w/fd" | wc -l)
echo "    worker descriptors: $fds0 idle, $fds1 with 3 sessions of :multi"
[ $((fds1 - fds0)) -le 6 ] ||
	fail "3 sessions of :multi (30 LUNs) took $((fds1 - fds0)) descriptors"
ok "3 sessions of :multi (30 LUNs each) hold $((fds1 - fds0)) descriptors"
"$ISCTEST" -p "127.0.0.1:$PORT" -T 5 -t "$MULTI" login >/dev/null 2>&1 &&
	fail "a 4th connection from 127.0.0.1 was served"
wait_log "connection refused (max-connections-per-address)" ||
	fail "no log of the refusal"
ok "a 4th connection from one address is refused (max-connections-per-address 3)"
hold 2 4 -B 127.0.0.2 -t "$MULTI"
sessions 5
"$ISCTEST" -p "127.0.0.1:$PORT" -B 127.0.0.3 -T 5 -t "$MULTI" login \
    >/dev/null 2>&1 && fail "a 6th connection was served"
wait_log "connection refused (max-connections)" ||
	fail "no log of the refusal"
ok "a 6th connection in all is refused (max-connections 5)"
for p in $HOLDERS; do wait "$p" || fail "a held session failed"; done
isc -t "$DISK" login
ok "connections are served again once the others have gone"

# 6. The API: an endless header line is cut off at api-max-header (the
# sender's writes fail); past api-max-connections a worker stops
# accepting until a connection ends.
stop_daemon
: > "$LOG"
WORKERS=1 write_config "api-listen 127.0.0.1:$API_PORT" \
    "api-max-connections 3" "api-max-header 4K"
start_daemon
wait_port "$API_PORT" || fail "no API"
w=$(child_pids worker | tr -d ' ')
rss0=$(awk '/VmRSS/ { print $2 }' "/proc/$w/status")
exec {fl}<>"/dev/tcp/127.0.0.1/$API_PORT"
if ( printf 'GET /status HTTP/1.1\r\nHost: x\r\nX-Long: '
    head -c 8000000 /dev/zero | tr '\0' a ) >&"$fl" 2>/dev/null; then
	fail "the API took 8 MB of one header line"
fi
exec {fl}>&-
rss1=$(awk '/VmRSS/ { print $2 }' "/proc/$w/status")
[ $((rss1 - rss0)) -lt 2048 ] ||
	fail "the worker grew by $((rss1 - rss0)) KiB on a long header"
ok "an endless header line is cut off (worker RSS +$((rss1 - rss0)) KiB)"
exec {a1}<>"/dev/tcp/127.0.0.1/$API_PORT"
exec {a2}<>"/dev/tcp/127.0.0.1/$API_PORT"
exec {a3}<>"/dev/tcp/127.0.0.1/$API_PORT"
sleep 0.3
curl -s -m 2 -o /dev/null "http://127.0.0.1:$API_PORT/status" &&
	fail "a 4th API connection was served"
exec {a1}>&-
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' \
    "http://127.0.0.1:$API_PORT/status")
[ "$code" = 200 ] || fail "/status after one closed: $code"
exec {a2}>&- {a3}>&-
ok "api-max-connections 3: a 4th waits until one closes"

# 5. Out of descriptors: workers and accept loops back off, say so once,
# and serve again when descriptors come back.
stop_daemon
: > "$LOG"
ulimit -n 64
WORKERS=1 write_config "api-listen 127.0.0.1:$API_PORT" \
    "max-connections-per-address 100" "api-max-connections 100"
start_daemon
HOLDERS=
hold 40 5 -t "$DISK"
sleep 2
curl -s -m 2 -o /dev/null "http://127.0.0.1:$API_PORT/status"
sleep 1
n=$(grep -c -i "accept\|descriptors" "$LOG")
echo "    $n log lines about accept or descriptors"
[ "$n" -le 10 ] || fail "$n log lines: accept errors are not backed off"
grep -q "out of descriptors" "$LOG" || fail "the worker never ran out: no test"
for p in $HOLDERS; do wait "$p"; done
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' \
    "http://127.0.0.1:$API_PORT/status")
[ "$code" = 200 ] || fail "/status once descriptors are back: $code"
isc -t "$DISK" login
ok "out of descriptors: said once, nothing spins, served again after"
