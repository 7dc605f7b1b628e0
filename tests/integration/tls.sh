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
