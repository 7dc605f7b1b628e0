#!/bin/bash
# Issue 1: the three processes, supervision, signals, config checking.
. "$(dirname "$0")/lib.sh"

make_image disk 4
WORKERS=3 write_config
"$SCSIPUBD" -n -f "$CONF" | grep -qx "configuration OK" ||
	fail "-n on a good file"

# -n on a bad file: every error as file:line, exit 1.
bad=$WORK/bad.conf
printf 'image-dir %s\nworkers many\nfrobnicate yes\n' "$WORK/images" > "$bad"
out=$("$SCSIPUBD" -n -f "$bad" 2>&1) && fail "-n accepted a bad file"
echo "$out" | grep -q "^$bad:2: workers" || fail "no file:line for line 2: $out"
echo "$out" | grep -q "^$bad:3: unknown keyword" || fail "no file:line for line 3"
ok "scsipubd -n"

# Bad setups: one clear line, exit 1.
printf 'image-dir %s/none\n' "$WORK" > "$bad"
out=$("$SCSIPUBD" -d -f "$bad" 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "image-dir" || fail "missing image-dir: rc $rc: $out"
touch "$WORK/plainfile"
printf 'image-dir %s\nstate-dir %s/plainfile/state\nlisten 127.0.0.1:%d\n' \
    "$WORK/images" "$WORK" "$EXTRA_PORT" > "$bad"
out=$("$SCSIPUBD" -d -f "$bad" 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "state-dir" || fail "bad state-dir: rc $rc: $out"
ok "missing image-dir and unwritable state-dir refused"

start_daemon
out=$("$SCSIPUBD" -d -f "$CONF" 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "cannot listen on 127.0.0.1:$PORT" ||
	fail "port in use: rc $rc: $out"
ok "port in use refused"

# ps: master, coordinator, three workers, each named.
ps -o args= -p "$DAEMON_PID" | grep -q "scsipubd: master" || fail "master title"
[ -n "$(child_pids coordinator)" ] || fail "no coordinator"
set -- $(child_pids worker)
[ $# -eq 3 ] || fail "want 3 workers, have $#"
[ -f "$WORK/state/scsipubd.pid" ] || fail "no pidfile"
[ "$(cat "$WORK/state/scsipubd.pid")" = "$DAEMON_PID" ] || fail "pidfile content"
ok "ps shows master, coordinator and 3 workers"

# An accepted TCP connection reaches a worker.
(exec 3<>/dev/tcp/127.0.0.1/$PORT; sleep 0.2) 2>/dev/null
wait_log "connection [0-9]* from 127.0.0.1" || fail "connection not seen by a worker"
ok "accepted connection reaches a worker"

# kill -9 of a worker: replaced within a second.
victim=$1
kill -9 "$victim"
for _ in $(seq 1 20); do
	set -- $(child_pids worker)
	[ $# -eq 3 ] && ! echo " $* " | grep -q " $victim " && break
	sleep 0.05
done
[ $# -eq 3 ] && ! echo " $* " | grep -q " $victim " || fail "worker not replaced"
wait_log "killed by signal 9" || fail "death not logged"
wait_port "$PORT" || fail "master stopped accepting"
ok "killed worker replaced"

coord=$(child_pids coordinator)
kill -9 $coord
for _ in $(seq 1 20); do
	new=$(child_pids coordinator)
	[ -n "$new" ] && [ "$new" != "$coord" ] && break
	sleep 0.05
done
[ -n "$new" ] && [ "$new" != "$coord" ] || fail "coordinator not replaced"
ok "killed coordinator replaced"

# USR2: every worker pid replaced while the daemon keeps accepting.
old=$(child_pids worker)
kill -USR2 "$DAEMON_PID"
for _ in $(seq 1 40); do
	now=$(child_pids worker)
	overlap=$(comm -12 <(tr ' ' '\n' <<<"$old" | sort) <(tr ' ' '\n' <<<"$now" | sort) | grep -c .)
	[ "$overlap" -eq 0 ] && [ "$(wc -w <<<"$now")" -eq 3 ] && break
	sleep 0.05
done
[ "$overlap" -eq 0 ] || fail "USR2 left old workers: $old / $now"
wait_port "$PORT" || fail "not accepting after USR2"
ok "USR2 replaced every worker"

# USR2 under load: the old worker hands its connection to a new one
# live; the initiator sees nothing (tests/integration/restart.sh checks
# the data and the logins).
qemu-img bench -f raw -w -d 8 -s 4096 -c 200000 "$URL/$IQN_PREFIX:disk/0" \
    > "$WORK/bench.out" 2>&1 & bp=$!
for _ in $(seq 1 100); do
	grep -q "session start" "$LOG" && break
	sleep 0.05
done
sleep 0.3
kill -USR2 "$DAEMON_PID"
wait $bp || fail "I/O failed across USR2: $(tail -3 "$WORK/bench.out")"
grep -q "taken over from pid" "$LOG" || fail "no worker took a connection over"
ok "USR2 under load: the connection moved to a new worker without an error"

# Every worker slot has had several owners by now (a worker killed, two
# rolling restarts): session reinstatement must still close the old
# connection, so the coordinator's kicks carry the slot's generation.
out=$("$ISCTEST" -p "127.0.0.1:$PORT" -t "$IQN_PREFIX:disk" reinstate 2>&1) ||
	fail "reinstatement after worker restarts: $out"
ok "reinstatement closes the old connection on workers of a later generation"

# HUP with a broken config: the old one keeps running, the log says why.
cp "$CONF" "$WORK/good.conf"
echo "workers lots" >> "$CONF"
before=$(child_pids worker)
kill -HUP "$DAEMON_PID"
wait_log "reload failed" || fail "broken reload not reported"
grep -q "$CONF:.*workers" "$LOG" || fail "reload error lacks file:line"
[ "$(child_pids worker)" = "$before" ] || fail "workers changed on a failed reload"
wait_port "$PORT" || fail "not accepting after a failed reload"
ok "HUP with a broken config keeps the old one"

# HUP with a good config: reloaded.
cp "$WORK/good.conf" "$CONF"
kill -HUP "$DAEMON_PID"
wait_log "configuration reloaded" || fail "good reload not logged"
ok "HUP reloads"

# QUIT: graceful stop, pidfile removed.
kill -QUIT "$DAEMON_PID"
for _ in $(seq 1 100); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.05; done
kill -0 "$DAEMON_PID" 2>/dev/null && fail "QUIT did not stop the daemon"
[ -f "$WORK/state/scsipubd.pid" ] && fail "pidfile left behind"
DAEMON_PID=
ok "QUIT stops gracefully"

# A child that exits 78 (fatal setup error) is not respawned: the daemon
# stops with 78.  Here the coordinator is restarted without its state-dir.
start_daemon
coord=$(child_pids coordinator)
rm -rf "$WORK/state"
kill -9 $coord
for _ in $(seq 1 100); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.05; done
kill -0 "$DAEMON_PID" 2>/dev/null && fail "daemon still running after a fatal child error"
wait "$DAEMON_PID"; rc=$?
DAEMON_PID=
[ $rc -eq 78 ] || fail "exit status $rc, want 78"
grep -q "fatal setup error in a child" "$LOG" || fail "not logged"
ok "exit 78 from a child stops the daemon with 78"
