#!/bin/bash
# Issue 4: base images never change, private overlays per anonymous
# connection, :multi, the anonymous quota, shared static targets kept
# across restarts, a static target's tier quota.
. "$(dirname "$0")/lib.sh"

make_image disk 96
make_image small 4
write_config "target shared small" "tier tiny quota 1M ttl 1h persistent no pr no luns 4" \
    "target capped small tier tiny"
sum=$(md5sum < "$WORK/images/disk.img")
start_daemon
T=$URL/$IQN_PREFIX:disk/0

# Two anonymous connections: each its own writes, the pristine image.
qemu-io -f raw -c 'write -P 0x11 0 64k' -c 'read -P 0x11 0 64k' "$T" >/dev/null ||
	fail "write 1"
qemu-img convert -f raw -O raw "$T" "$WORK/after.img" || fail "read back"
cmp "$WORK/after.img" "$WORK/images/disk.img" || fail "second connection saw the first one's writes"
ok "anonymous overlays are private and vanish with the connection"

# Issue 22: an LU's identity follows its data.  Two initiators' sessions
# to a public target are two overlays: two unit serial numbers, two T10
# designators (the NAA in hex); a static target's LU is one disk: one.
ident() {	# URL INITIATOR: "T10 designator / serial"
	local d s
	d=$(iscsi-inq -e 1 -c 131 -i "$2" "$1" 2>&1 | grep -a -A1 "T10_VENDOR" |
	    sed -n 's/^Designator:\[\(.*\)\]$/\1/p') || return 1
	s=$(iscsi-inq -e 1 -c 128 -i "$2" "$1" 2>&1 |
	    sed -n 's/^Unit Serial Number:\[\(.*\)\]$/\1/p') || return 1
	[ -n "$d" ] && [ -n "$s" ] || return 1
	echo "$d / $s"
}
a=$(ident "$T" iqn.2025-01.test:one) || fail "identity of one's disk"
b=$(ident "$T" iqn.2025-01.test:two) || fail "identity of two's disk"
[ "$a" != "$b" ] || fail "two overlays, one identity: $a"
[ "${a##* / }" != "${b##* / }" ] || fail "two overlays, one serial: $a"
a=$(ident "$URL/$IQN_PREFIX:shared/0" iqn.2025-01.test:one) || fail "shared 1"
b=$(ident "$URL/$IQN_PREFIX:shared/0" iqn.2025-01.test:two) || fail "shared 2"
[ "$a" = "$b" ] || fail "a static target's LU, two identities: $a, $b"
ok "each overlay its identity (VPD 0x80, 0x83), a shared LU one"

# :multi: every image a LUN, in name order, isolated.
M=$URL/$IQN_PREFIX:multi
out=$(iscsi-readcapacity16 "$M/1" 2>&1) || fail "multi LUN 1: $out"
echo "$out" | grep -q "$((4 * 1024 * 1024))" || fail "multi LUN 1 is small: $out"
qemu-img convert -f raw -O raw "$M/0" "$WORK/m0.img" || fail "multi LUN 0"
cmp "$WORK/m0.img" "$WORK/images/disk.img" || fail "multi LUN 0 differs"
ok ":multi serves every image"

# Quota: 64 MiB of writes pass, the 65th MiB fails with a sense code.
out=$(qemu-io -f raw -c 'write -P 0x22 0 64M' -c 'write -P 0x33 64M 1M' \
    -c 'read -P 0x22 0 64M' "$T" 2>&1)
echo "$out" | grep -q "write failed" || fail "65th MiB accepted: $out"
echo "$out" | grep -q "Pattern verification failed" && fail "quota lost data: $out"
ok "anonymous quota"
grep -q "SPACE ALLOCATION\|space allocation\|27h/07h" "$LOG" ||
	echo "note: quota sense not logged (not required)"

# Static target: shared by connections, kept across a restart.
S=$URL/$IQN_PREFIX:shared/0
qemu-io -f raw -c 'write -P 0x5a 8192 4096' "$S" >/dev/null || fail "shared write"
out=$(qemu-io -f raw -c 'read -P 0x5a 8192 4096' "$S" 2>&1)
echo "$out" | grep -q "Pattern verification failed" && fail "shared write not seen: $out"
stop_daemon
start_daemon
out=$(qemu-io -f raw -c 'read -P 0x5a 8192 4096' "$S" 2>&1)
echo "$out" | grep -q "Pattern verification failed" && fail "shared write lost over restart"
ok "static target shared and persistent"

# A static target with a tier has its quota, one account on every worker,
# kept across restarts, recounted from the maps when its file is lost,
# credited by UNMAP.
C=$URL/$IQN_PREFIX:capped/0
qemu-io -f raw -c 'write -P 0x44 0 1M' "$C" > /dev/null || fail "capped: first 1M"
over() {
	out=$(qemu-io -f raw -c 'write -P 0x45 2M 64k' "$C" 2>&1)
	echo "$out" | grep -q "write failed" || fail "capped: over quota accepted ($1): $out"
}
over "after 1M"
qemu-io -f raw -c 'write -P 0x46 0 1M' "$C" > /dev/null || fail "capped: rewrite refused"
# Two connections at once, on two workers: each maps the counter, and
# neither may keep its file locked (the second worker would hang).
qemu-io -f raw -c 'sleep 2000' -c 'read -P 0x46 0 4k' "$C" > "$WORK/ca.out" 2>&1 &
pa=$!
sleep 0.5
timeout 10 qemu-io -f raw -c 'read -P 0x46 4k 4k' "$C" > "$WORK/cb.out" 2>&1 ||
	fail "capped: a second connection got nowhere: $(cat "$WORK/cb.out")"
wait $pa || fail "capped: first connection: $(cat "$WORK/ca.out")"
n=$(grep "session start: target $IQN_PREFIX:capped " "$LOG" |
    awk -F'[][]' '{ print $2 }' | sort -u | wc -l)
[ "$n" -ge 2 ] || fail "capped: connections on $n worker(s), not 2"
stop_daemon
start_daemon
over "after a restart"
stop_daemon
rm -f "$WORK/state/overlays/static-capped.quota"
start_daemon
over "after the counter file was lost"
grep -q "target capped: quota 1048576 of 1048576 bytes used" "$LOG" ||
	fail "capped: counter not rebuilt from the maps"
out=$(qemu-io -f raw -c 'read -P 0x46 0 1M' "$C" 2>&1)
echo "$out" | grep -q "Pattern verification failed" && fail "capped: data lost: $out"
qemu-io -f raw -c 'discard 0 512k' "$C" > /dev/null || fail "capped: discard"
qemu-io -f raw -c 'write -P 0x47 2M 512k' "$C" > /dev/null ||
	fail "capped: UNMAP gave nothing back"
ok "static target quota: shared, persistent, recounted, credited by UNMAP"

# The catalog follows image-dir on HUP.
make_image later 2
rm "$WORK/images/small.img"
sed -i '/^target \(shared\|capped\)/d' "$CONF"
kill -HUP "$DAEMON_PID"
wait_log "configuration reloaded" || fail "reload"
for _ in $(seq 1 40); do
	out=$(iscsi-ls -s "$URL" 2>&1)
	echo "$out" | grep -q "$IQN_PREFIX:later" && break
	sleep 0.1
done
echo "$out" | grep -q "$IQN_PREFIX:later" || fail "new image not served after HUP: $out"
echo "$out" | grep -q "$IQN_PREFIX:small\>" && fail "removed image still served after HUP"
ok "images added and removed in image-dir follow HUP"

[ "$(md5sum < "$WORK/images/disk.img")" = "$sum" ] || fail "base image changed"
ok "base image checksum unchanged"
