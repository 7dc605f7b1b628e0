#!/bin/bash
# No restart loses a write.  Sessions live through SIGUSR2 (a new binary
# in place), SIGHUP (a reload) and a binary replaced on disk: the same
# connection goes on, one login, the pattern reads back.  TLS sessions
# stay on their old worker.  A worker killed with -9 gives its anonymous
# initiator its disk back with a reset's unit attention; once given up,
# the next login is told of a medium change.  A provisioned session of
# the API's default tier (not persistent) keeps its held connection, its
# data and its one connection through HUP and USR2.  Under qemu-img
# bench the data written through SIGUSR2 compares equal.
. "$(dirname "$0")/lib.sh"

# The daemon runs from a copy, so that the test can replace its binary.
mkdir -p "$WORK/bin"
cp "$SCSIPUBD" "$WORK/bin/scsipubd"
SCSIPUBD=$WORK/bin/scsipubd

make_image disk 16
make_image sdisk 128
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null || fail "openssl req"
write_config "target shared sdisk" "anonymous-retain 2s" \
    "api-listen 127.0.0.1:$API_PORT" "tls-listen 127.0.0.1:$TLS_PORT" "tls-cert $WORK/cert.pem" \
    "tls-key $WORK/key.pem"
start_daemon
T=$IQN_PREFIX:disk
QEMU_INI=iqn.2008-11.org.linux-kvm

logins() {	# logins of initiator $1 so far
	grep -c "session start: target .* initiator $1 " "$LOG"
}

# qemu-io writes a pattern, sleeps (the restart happens then), reads it
# back; isctest's "live" runs writes and reads on one session meanwhile.
# $1: a description; then the command that restarts.
across() {
	what=$1; shift
	pat=$(printf '0x%02x' $((RANDOM % 200 + 16)))
	q0=$(logins "$QEMU_INI")
	i0=$(logins "iqn.2025-01.pub.scsipub:isctest")
	h0=$(grep -c "taken over from pid" "$LOG")
	qemu-io -f raw -c "write -P $pat 0 1M" -c "sleep 2500" \
	    -c "read -P $pat 0 1M" "$URL/$T/0" > "$WORK/qio.out" 2>&1 & qp=$!
	"$ISCTEST" -p "127.0.0.1:$PORT" -t "$T" -w 4 live \
	    > "$WORK/live.out" 2>&1 & ip=$!
	for _ in $(seq 1 100); do
		[ "$(logins "$QEMU_INI")" -gt "$q0" ] &&
		    [ "$(logins "iqn.2025-01.pub.scsipub:isctest")" -gt "$i0" ] &&
		    break
		sleep 0.05
	done
	sleep 0.5
	"$@" > "$WORK/ctl.out" 2>&1 || fail "$what: $* failed: $(cat "$WORK/ctl.out")"
	wait $qp || fail "$what: qemu-io failed: $(cat "$WORK/qio.out")"
	grep -q "Pattern verification failed" "$WORK/qio.out" &&
	    fail "$what: the pattern did not read back: $(cat "$WORK/qio.out")"
	wait $ip || fail "$what: the session did not live through it: $(cat "$WORK/live.out")"
	[ $(($(logins "$QEMU_INI") - q0)) -eq 1 ] ||
	    fail "$what: qemu-io logged in $(($(logins "$QEMU_INI") - q0)) times"
	[ $(($(logins "iqn.2025-01.pub.scsipub:isctest") - i0)) -eq 1 ] ||
	    fail "$what: isctest logged in more than once"
	[ $(($(grep -c "taken over from pid" "$LOG") - h0)) -ge 2 ] ||
	    fail "$what: the connections were not handed over"
	grep "latency over" "$WORK/live.out" | sed "s/^live: /$what: /"
}

# ---- SIGUSR2: the binary (the same one) takes over in place ----
old_workers=$(child_pids worker)
old_coord=$(child_pids coordinator)
across "SIGUSR2" kill -USR2 "$DAEMON_PID"
wait_log "took over from the previous binary" || fail "no new master"
[ "$(child_pids coordinator)" != "$old_coord" ] || fail "coordinator not replaced"
for p in $old_workers; do
	kill -0 "$p" 2>/dev/null && fail "old worker $p still running"
done
ok "SIGUSR2: one login each, every byte back, master $DAEMON_PID kept, coordinator and workers replaced"

# ---- SIGHUP: a reload replaces the workers ----
across "SIGHUP" "$top_builddir/scsipubctl" -f "$CONF" reload
ok "SIGHUP (scsipubctl reload): one login each, every byte back"

# ---- A new binary on disk, then SIGUSR2 ----
cp "$top_builddir/scsipubd" "$WORK/bin/scsipubd.new"
mv "$WORK/bin/scsipubd.new" "$WORK/bin/scsipubd"
readlink "/proc/$DAEMON_PID/exe" | grep -q "(deleted)" ||
	fail "the running binary should show as replaced"
n0=$(grep -c "took over from the previous binary" "$LOG")
across "binary replaced" "$top_builddir/scsipubctl" -f "$CONF" upgrade
[ "$(grep -c "took over from the previous binary" "$LOG")" -gt "$n0" ] ||
	fail "the new binary did not take over"
readlink "/proc/$DAEMON_PID/exe" | grep -q "(deleted)" &&
	fail "the master still runs the old binary"
grep -q "now runs $WORK/bin/scsipubd" "$WORK/ctl.out" ||
	fail "scsipubctl upgrade: $(cat "$WORK/ctl.out")"
ok "binary replaced (scsipubctl upgrade): the master runs the new file, one login each, every byte back"

# ---- A binary that cannot take over: the running one stays ----
cp "$WORK/bin/scsipubd" "$WORK/bin/scsipubd.good"
printf '#!/bin/sh\necho "not this one" >&2\nexit 78\n' > "$WORK/bin/scsipubd.new"
chmod +x "$WORK/bin/scsipubd.new"
mv "$WORK/bin/scsipubd.new" "$WORK/bin/scsipubd"
across "refused binary" kill -USR2 "$DAEMON_PID"
out=$("$top_builddir/scsipubctl" -f "$CONF" upgrade 2>&1) &&
	fail "scsipubctl upgrade should fail when the binary refuses: $out"
echo "$out" | grep -q "kept its binary" || fail "scsipubctl upgrade: $out"
wait_log "workers replaced" || true
grep -q "cannot take over: keeping this binary" "$LOG" ||
	fail "a binary that refuses should be said so"
kill -0 "$DAEMON_PID" || fail "the master died"
mv "$WORK/bin/scsipubd.good" "$WORK/bin/scsipubd"
ok "a binary that cannot take over leaves the daemon as it was; workers still replaced live"

# ---- A provisioned session of a non-persistent tier (the API's default,
# anonymous): a hand-over is not its last connection closing ----
API=http://127.0.0.1:$API_PORT
wait_port "$API_PORT" || fail "the API does not listen"

# psess_across NAME WHAT COMMAND...: a session made without a token, one
# connection held (qemu-io on a fifo) that writes a mark; COMMAND; the
# same connection reads the mark back, the session still has exactly one
# connection, and a new login with its CHAP identity succeeds.
psess_across() {
	n=$1 what=$2; shift 2
	code=$(curl -s -o "$WORK/$n.json" -w '%{http_code}' -X POST \
	    -d '{"images":["disk"]}' "$API/api/sessions")
	[ "$code" = 201 ] || fail "$what: create: HTTP $code $(cat "$WORK/$n.json")"
	grep -q '"tier":"anonymous"' "$WORK/$n.json" &&
	    grep -q '"persistent":false' "$WORK/$n.json" ||
		fail "$what: not the non-persistent anonymous tier: $(cat "$WORK/$n.json")"
	id=$(sed -n 's/.*"id":"\([^"]*\)".*/\1/p' "$WORK/$n.json")
	iqn=$(sed -n 's/.*"iqn":"\([^"]*\)".*/\1/p' "$WORK/$n.json")
	u=$(sed -n 's/.*"user":"\([^"]*\)".*/\1/p' "$WORK/$n.json")
	sec=$(sed -n 's/.*"secret":"\([^"]*\)".*/\1/p' "$WORK/$n.json")
	S=iscsi://$u%$sec@127.0.0.1:$PORT/$iqn/0
	h0=$(grep -c "taken over from pid" "$LOG")
	e0=$(grep -c "ended: last connection closed" "$LOG")
	hold "$n" "$S"
	say "$n" "write -P 0x5c 4096 65536"
	await "$n" 1 "wrote 65536" || fail "$what: no write: $(cat "$WORK/$n.out")"
	"$@" > "$WORK/ctl.out" 2>&1 || fail "$what: $* failed: $(cat "$WORK/ctl.out")"
	for _ in $(seq 1 100); do
		[ "$(grep -c "taken over from pid" "$LOG")" -gt "$h0" ] && break
		sleep 0.05
	done
	[ "$(grep -c "taken over from pid" "$LOG")" -gt "$h0" ] ||
		fail "$what: the connection was not handed over: $(grep "handed over from another worker" "$LOG" | tail -1)"
	sleep 1		# what a lost session would have done by now
	say "$n" "read -P 0x5c 4096 65536"
	await "$n" 1 "read 65536" && ! grep -q "verification failed" "$WORK/$n.out" ||
		fail "$what: the held connection did not read its mark back: $(cat "$WORK/$n.out")"
	[ "$(grep -c "session start: target $iqn " "$LOG")" = 1 ] ||
		fail "$what: the held connection logged in again"
	[ "$(grep -c "ended: last connection closed" "$LOG")" = "$e0" ] ||
		fail "$what: $(grep "session .*ended" "$LOG" | tail -1)"
	[ "$(curl -s "$API/api/sessions/$id" | grep -o '"initiator"' | wc -l)" = 1 ] ||
		fail "$what: the session should list one connection: $(curl -s "$API/api/sessions/$id")"
	out=$(iscsi-inq "$S" 2>&1) || fail "$what: a new login: $out"
	release "$n"
}
psess_across psh "SIGHUP" kill -HUP "$DAEMON_PID"
ok "SIGHUP: a non-persistent provisioned session keeps its held connection, its data and one connection; a new login succeeds"
psess_across psu "SIGUSR2" kill -USR2 "$DAEMON_PID"
ok "SIGUSR2: a non-persistent provisioned session keeps its held connection, its data and one connection; a new login succeeds"

# ---- TLS: kept on the old worker until the session ends ----
cat > "$WORK/stunnel.conf" <<CONF
foreground = yes
pid =
[iscsi]
client = yes
accept = 127.0.0.1:$EXTRA_PORT
connect = 127.0.0.1:$TLS_PORT
CONF
stunnel "$WORK/stunnel.conf" >"$WORK/stunnel.log" 2>&1 &
EXTRA_PIDS=$!
wait_port "$EXTRA_PORT" || fail "stunnel did not start"
a0=$(grep -c "Async Message\|draining" "$LOG")
qemu-io -f raw -c "write -P 0x77 0 1M" -c "sleep 2500" -c "read -P 0x77 0 1M" \
    "iscsi://127.0.0.1:$EXTRA_PORT/$T/0" > "$WORK/tls.out" 2>&1 & qp=$!
wait_log "(iscsi-tls)" || fail "no TLS connection"
sleep 0.5
tls_worker=$(grep "(iscsi-tls)" "$LOG" | tail -1 | sed 's/^worker\[\([0-9]*\)\].*/\1/')
kill -USR2 "$DAEMON_PID"
wait_log "1 over TLS stay here" || fail "the TLS session was not kept"
sleep 1
kill -0 "$tls_worker" || fail "the TLS session's worker left before it ended"
wait $qp || fail "qemu-io over TLS: $(cat "$WORK/tls.out")"
grep -q "Pattern verification failed" "$WORK/tls.out" && fail "TLS data lost"
for _ in $(seq 1 100); do
	kill -0 "$tls_worker" 2>/dev/null || break
	sleep 0.05
done
kill -0 "$tls_worker" 2>/dev/null && fail "the old worker did not exit after its TLS session"
[ "$(grep -c "draining" "$LOG")" -eq "$a0" ] || fail "the TLS session was asked to log out"
ok "TLS: the session stays on its old worker, not asked to log out, which exits once it ends"

# ---- kill -9 of the serving worker ----
qemu-io -f raw -c "write -P 0x3c 0 1M" -c "sleep 2500" -c "read -P 0x3c 0 1M" \
    "$URL/$T/0" > "$WORK/qio.out" 2>&1 & qp=$!
sleep 1
kill -9 $(child_pids worker)
wait $qp || fail "qemu-io across kill -9: $(cat "$WORK/qio.out")"
grep -q "Pattern verification failed" "$WORK/qio.out" &&
	fail "kill -9 lost the data: $(cat "$WORK/qio.out")"
ok "kill -9: the pattern reads back after the reconnect"

out=$("$ISCTEST" -p "127.0.0.1:$PORT" -t "$T" drop-write 2>&1) || fail "drop-write: $out"
kill -9 $(child_pids worker)
wait_log "ready" || true
sleep 0.5
out=$("$ISCTEST" -p "127.0.0.1:$PORT" -t "$T" adopt-check 2>&1) ||
	fail "after kill -9: $out"
ok "kill -9: the same nexus gets its disk back, UNIT ATTENTION 29h/00h first"

out=$("$ISCTEST" -p "127.0.0.1:$PORT" -t "$T" drop-write 2>&1) || fail "drop-write: $out"
sleep 5		# anonymous-retain 2s, after the coordinator looked (its end, 1 s)
out=$("$ISCTEST" -p "127.0.0.1:$PORT" -t "$T" lost-check 2>&1) ||
	fail "after the grace: $out"
ok "an overlay given up: the next login is told MEDIUM MAY HAVE CHANGED (28h/00h), never served silently"

# ---- Under load: qemu-img bench writes through SIGUSR2 ----
S=$URL/$IQN_PREFIX:shared/0
N=24000
qemu-img bench -f raw -w -d 16 -s 4096 -c $N --pattern=165 "$S" \
    > "$WORK/bench.out" 2>&1 & bp=$!
"$ISCTEST" -p "127.0.0.1:$PORT" -t "$T" -w 4 live > "$WORK/live.out" 2>&1 & ip=$!
sleep 1
kill -USR2 "$DAEMON_PID"
wait $bp || fail "qemu-img bench across SIGUSR2: $(tail -3 "$WORK/bench.out")"
wait $ip || fail "the session under load: $(cat "$WORK/live.out")"
cp "$WORK/images/sdisk.img" "$WORK/expect.img"
head -c $((N * 4096)) /dev/zero | tr '\0' '\245' |
    dd of="$WORK/expect.img" conv=notrunc status=none
qemu-img compare -f raw -F raw "$WORK/expect.img" "$S" ||
	fail "what qemu-img bench wrote through SIGUSR2 does not compare equal"
grep "paused" "$LOG" | tail -2
grep "latency over" "$WORK/live.out" | sed "s/^live: /under load: /"
ok "qemu-img bench through SIGUSR2: qemu-img compare equal"

# ---- :multi: a reload that adds an image sorting before the others ----
"$ISCTEST" -p "127.0.0.1:$PORT" -t "$IQN_PREFIX:multi" -w 4 multi-reload \
    > "$WORK/multi.out" 2>&1 & ip=$!
for _ in $(seq 1 100); do
	grep -q "marked" "$WORK/multi.out" && break
	sleep 0.05
done
grep -q "marked" "$WORK/multi.out" ||
	fail ":multi: isctest marked no LUN: $(cat "$WORK/multi.out")"
make_image aaa 1
h0=$(grep -c "taken over from pid" "$LOG")
kill -HUP "$DAEMON_PID"
wait $ip || fail ":multi across a reload: $(cat "$WORK/multi.out")"
[ "$(grep -c "taken over from pid" "$LOG")" -gt "$h0" ] ||
	fail ":multi: the connection was not handed over"
ok ":multi across a reload that adds an image: each LUN keeps its image and its data, told UNIT ATTENTION 3Fh/0Eh; back with a new login, each image its data"
