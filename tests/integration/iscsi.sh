#!/bin/bash
# Issue 2 and 3 with real initiators: discovery, login, INQUIRY, capacity,
# whole-disk reads, writes, digests, over IPv4 and IPv6.
. "$(dirname "$0")/lib.sh"

make_image disk 8
make_image other 4
write_config "listen [::1]:$PORT" "target locked disk chap alice s3cret-secret-1" \
    "target mutual other chap bob b0b-secret-4567 mutual tgt tgt-secret-8910"
start_daemon
T=$URL/$IQN_PREFIX:disk

# Discovery lists public targets and portals, not the CHAP-protected one.
out=$(iscsi-ls -s "$URL" 2>&1) || fail "iscsi-ls: $out"
echo "$out" | grep -q "$IQN_PREFIX:disk" || fail "disk not discovered: $out"
echo "$out" | grep -q "$IQN_PREFIX:other" || fail "other not discovered"
echo "$out" | grep -q "$IQN_PREFIX:multi" || fail "multi not discovered"
echo "$out" | grep -q "$IQN_PREFIX:locked" && fail "CHAP target listed"
ok "discovery"

out=$(iscsi-inq "$T/0" 2>&1) || fail "iscsi-inq: $out"
echo "$out" | grep -qi "scsipub" || fail "inquiry vendor: $out"
out=$(iscsi-inq -e 1 -c 0x83 "$T/0" 2>&1) || fail "VPD 0x83: $out"
out=$(iscsi-inq -e 1 -c 0xb0 "$T/0" 2>&1) || fail "VPD 0xb0: $out"
ok "INQUIRY and VPD"

out=$(iscsi-readcapacity16 "$T/0" 2>&1) || fail "readcapacity16: $out"
echo "$out" | grep -q "Total size:$((8 * 1024 * 1024))" ||
	echo "$out" | grep -q "$((8 * 1024 * 1024))" || fail "capacity: $out"
ok "READ CAPACITY(16)"

# Whole-disk copy equals the image.
qemu-img convert -f raw -O raw "$T/0" "$WORK/copy.img" || fail "qemu-img convert"
cmp "$WORK/copy.img" "$WORK/images/disk.img" || fail "copy differs from image"
ok "whole-disk read equals the image"

# Writes read back within the connection.
out=$(qemu-io -f raw -c 'write -P 0xab 4096 1M' -c 'read -P 0xab 4096 1M' \
    -c 'write -P 0xcd 1536 512' -c 'read -P 0xcd 1536 512' "$T/0" 2>&1) ||
	fail "qemu-io: $out"
echo "$out" | grep -q "Pattern verification failed" && fail "pattern: $out"
ok "write and read back"

# Header digests through libiscsi and qemu.
out=$(iscsi-inq "$T/0?header_digest=crc32c" 2>&1) || fail "digest inq: $out"
out=$(iscsi-ls -s "$URL/?header_digest=crc32c" 2>&1) || fail "digest ls: $out"
out=$(iscsi-readcapacity16 "$T/0?header_digest=crc32c" 2>&1) || fail "digest cap: $out"
out=$(qemu-io --image-opts "driver=iscsi,transport=tcp,portal=127.0.0.1:$PORT,target=$IQN_PREFIX:disk,lun=0,header-digest=crc32c" \
    -c 'write -P 0x3c 8k 256k' -c 'read -P 0x3c 8k 256k' 2>&1) || fail "digest qemu-io: $out"
echo "$out" | grep -q "Pattern verification failed" && fail "digest data: $out"
grep -q "digests crc32c/none" "$LOG" || fail "no session negotiated the header digest"
ok "header digest CRC32C with iscsi-inq, iscsi-ls, iscsi-readcapacity16, qemu-io"

# IPv6 portal.
out=$(iscsi-inq "iscsi://[::1]:$PORT/$IQN_PREFIX:disk/0" 2>&1) || fail "IPv6: $out"
ok "IPv6 portal"

# CHAP: right secret in, wrong secret and no secret out.
out=$(iscsi-inq "iscsi://alice%s3cret-secret-1@127.0.0.1:$PORT/$IQN_PREFIX:locked/0" 2>&1) ||
	fail "CHAP login: $out"
iscsi-inq "iscsi://alice%wrong-secret-99@127.0.0.1:$PORT/$IQN_PREFIX:locked/0" \
    >/dev/null 2>&1 && fail "wrong CHAP secret accepted"
iscsi-inq "$URL/$IQN_PREFIX:locked/0" >/dev/null 2>&1 && fail "no CHAP accepted"
grep -q "status 0x0201" "$LOG" || fail "wrong secret not answered with 0x0201"
ok "CHAP"

# Mutual CHAP: the target proves itself with its own secret.
M="iscsi://bob%b0b-secret-4567@127.0.0.1:$PORT/$IQN_PREFIX:mutual/0"
out=$(LIBISCSI_CHAP_TARGET_USERNAME=tgt LIBISCSI_CHAP_TARGET_PASSWORD=tgt-secret-8910 \
    iscsi-inq "$M" 2>&1) || fail "mutual CHAP: $out"
LIBISCSI_CHAP_TARGET_USERNAME=tgt LIBISCSI_CHAP_TARGET_PASSWORD=not-the-secret \
    iscsi-inq "$M" >/dev/null 2>&1 && fail "mutual CHAP accepted a wrong target secret"
out=$(LIBISCSI_CHAP_TARGET_USERNAME=tgt LIBISCSI_CHAP_TARGET_PASSWORD=tgt-secret-8910 \
    qemu-io -f raw -c 'write -P 0x77 0 64k' -c 'read -P 0x77 0 64k' "$M" 2>&1) ||
	fail "mutual CHAP I/O: $out"
echo "$out" | grep -q "Pattern verification failed" && fail "mutual CHAP data: $out"
ok "mutual CHAP"

# The iSCSI conformance suites of libiscsi.
conformance '^iSCSI' "$T/0" || fail "iSCSI conformance"
ok "libiscsi iSCSI suites: cmdsn, datasn, residuals, TMF"

# Unknown target and missing LUN.
iscsi-inq "$URL/$IQN_PREFIX:nosuch/0" >/dev/null 2>&1 && fail "unknown target"
iscsi-readcapacity16 "$T/7" >/dev/null 2>&1 && fail "LUN 7 answered"
ok "unknown target and LUN refused"

# Many small random I/Os in parallel.
out=$(qemu-img bench -f raw -w -d 16 -s 4096 -c 20000 "$T/0" 2>&1) ||
	fail "qemu-img bench: $out"
ok "qemu-img bench"

# The daemon and its workers survived it all.
kill -0 "$DAEMON_PID" || fail "daemon died"
grep -q "killed by signal" "$LOG" && fail "a child crashed"
ok "no process crashed"

# SendTargets for one name, through our own initiator's discovery.
out=$("$ISCTEST" -p 127.0.0.1:$PORT login 2>&1) || fail "isctest discovery+login: $out"
ok "SendTargets from our own initiator"

# Discovery CHAP: discovery needs it, and then lists the CHAP targets too.
stop_daemon
rm -f "$CONF"
write_config "target locked disk chap alice s3cret-secret-1" \
    "discovery-chap disco d1sc0-secret-77"
start_daemon
iscsi-ls "$URL" >/dev/null 2>&1 && fail "discovery without CHAP accepted"
out=$(iscsi-ls "iscsi://disco%d1sc0-secret-77@127.0.0.1:$PORT" 2>&1) ||
	fail "discovery with CHAP: $out"
echo "$out" | grep -q "$IQN_PREFIX:locked" || fail "CHAP target not listed with discovery CHAP: $out"
ok "discovery CHAP required, CHAP targets listed"

# A wildcard listen (issue 22): discovery names the address the
# connection came in on, never 0.0.0.0.  On a random port, for a moment.
stop_daemon
rm -f "$CONF"
write_config "listen 0.0.0.0:$EXTRA_PORT"
start_daemon
wait_port "$EXTRA_PORT" || fail "no wildcard listener"
out=$(iscsi-ls "iscsi://127.0.0.1:$EXTRA_PORT" 2>&1) || fail "iscsi-ls: $out"
stop_daemon
echo "$out" | grep -q "0\.0\.0\.0" && fail "a wildcard address discovered: $out"
echo "$out" | grep -q "127\.0\.0\.1:$EXTRA_PORT" ||
	fail "the wildcard's portal not named by the local address: $out"
ok "discovery on a wildcard listen names the local address"
