#!/bin/bash
# iSCSI over TLS: stunnel in client mode in front of tls-listen.
. "$(dirname "$0")/lib.sh"

make_image disk 4
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null || fail "openssl req"
write_config "tls-listen 127.0.0.1:$TLS_PORT" "tls-cert $WORK/cert.pem" \
    "tls-key $WORK/key.pem"
start_daemon
wait_port "$TLS_PORT" || fail "no TLS listener"

cat > "$WORK/stunnel.conf" <<CONF
foreground = yes
pid =
[iscsi]
client = yes
accept = 127.0.0.1:$EXTRA_PORT
connect = 127.0.0.1:$TLS_PORT
sslVersionMin = TLSv1.2
CONF
stunnel "$WORK/stunnel.conf" >"$WORK/stunnel.log" 2>&1 &
EXTRA_PIDS=$!
wait_port "$EXTRA_PORT" || fail "stunnel did not start"

out=$(iscsi-inq "iscsi://127.0.0.1:$EXTRA_PORT/$IQN_PREFIX:disk/0" 2>&1) ||
	fail "inquiry over TLS: $out"
qemu-img convert -f raw -O raw "iscsi://127.0.0.1:$EXTRA_PORT/$IQN_PREFIX:disk/0" \
    "$WORK/copy.img" || fail "read over TLS"
cmp "$WORK/copy.img" "$WORK/images/disk.img" || fail "TLS copy differs"
L=iscsi://127.0.0.1:$EXTRA_PORT
out=$(iscsi-ls -s "$L" 2>&1) || fail "discovery over TLS: $out"
echo "$out" | grep -q "$IQN_PREFIX:disk" || fail "discovery over TLS: $out"
out=$(iscsi-readcapacity16 "$L/$IQN_PREFIX:disk/0" 2>&1) || fail "capacity over TLS: $out"
out=$(qemu-io -f raw -c 'write -P 0x42 0 1M' -c 'read -P 0x42 0 1M' \
    "$L/$IQN_PREFIX:disk/0" 2>&1) || fail "qemu-io over TLS: $out"
echo "$out" | grep -q "Pattern verification failed" && fail "TLS data: $out"
grep -q "(iscsi-tls)" "$LOG" || fail "connections not tagged iscsi-tls"
ok "iSCSI over TLS: iscsi-ls, iscsi-inq, iscsi-readcapacity16, qemu-img, qemu-io"

echo | openssl s_client -connect 127.0.0.1:$TLS_PORT -tls1_1 >/dev/null 2>&1 &&
	fail "TLS 1.1 accepted"
echo | openssl s_client -connect 127.0.0.1:$TLS_PORT -tls1_3 2>/dev/null |
	grep -q "TLSv1.3" || fail "TLS 1.3 refused"
ok "TLS 1.2+ only"

# HUP reloads the certificate.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=renewed.example \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null || fail "openssl req"
kill -HUP "$DAEMON_PID"
wait_log "configuration reloaded" || fail "reload"
for _ in $(seq 1 40); do
	echo | openssl s_client -connect 127.0.0.1:$TLS_PORT 2>/dev/null |
	    grep -q "renewed.example" && break
	sleep 0.1
done
echo | openssl s_client -connect 127.0.0.1:$TLS_PORT 2>/dev/null |
    grep -q "renewed.example" || fail "new certificate not served after HUP"
ok "HUP reloads the TLS certificate"

# ---- TLS sessions held across more reloads than there are ring slots ----
# One worker: 1 x (draining-generations 2 + 2) = 4 slots.  Before each
# HUP a new TLS session is held on the running worker, so each reload
# leaves one more old worker serving TLS.  Past draining-generations the
# oldest is asked to log its sessions out; a plain login always works.
stop_daemon
WORKERS=1 write_config "tls-listen 127.0.0.1:$TLS_PORT" \
    "tls-cert $WORK/cert.pem" "tls-key $WORK/key.pem"
: > "$LOG"
start_daemon
wait_port "$TLS_PORT" || fail "no TLS listener"
for i in 1 2 3 4 5 6; do
	hold "t$i" "$L/$IQN_PREFIX:disk/0"
	say "t$i" "read 0 4096"
	await "t$i" 1 "read 4096" || fail "TLS session $i: $(cat "$WORK/t$i.out")"
	r0=$(grep -c "worker 0 (pid [0-9]*) ready" "$LOG")
	kill -HUP "$DAEMON_PID"
	for _ in $(seq 1 100); do
		[ "$(grep -c "worker 0 (pid [0-9]*) ready" "$LOG")" -gt "$r0" ] &&
		    break
		sleep 0.05
	done
	out=$(iscsi-inq "$URL/$IQN_PREFIX:disk/0" 2>&1) ||
		fail "a plain login after reload $i with $i TLS sessions held: $out"
done
grep -q "no free slot" "$LOG" && fail "$(grep "no free slot" "$LOG" | head -1)"
grep -q "asked to log them out (draining-generations 2)" "$LOG" ||
	fail "no old worker was asked to end its TLS sessions"
for i in 1 2 3 4 5 6; do release "t$i"; done
ok "6 reloads with a TLS session held before each (4 ring slots): every plain login works, the oldest TLS sessions asked to log out"
