#!/bin/bash
# Issue 4: a static target's LUN is one SharedLU: concurrent sub-block
# writes from two connections on two workers both survive; UNMAP gives the
# space back and reads zeros; kill -9 of a worker or of the coordinator
# mid-run loses no acknowledged write; COMPARE AND WRITE is atomic across
# workers.
. "$(dirname "$0")/lib.sh"

make_image disk 32
write_config "target shared disk"
start_daemon
S=$URL/$IQN_PREFIX:shared/0
OVL=$WORK/state/overlays/static-shared-0.ovl

# Two connections, each writing its own 512-byte sector of the same 4 KiB
# blocks at the same time.
cmds_a=(); cmds_b=()
for i in $(seq 0 63); do
	cmds_a+=(-c "write -P 0xa1 $((i * 4096)) 512")
	cmds_b+=(-c "write -P 0xb2 $((i * 4096 + 1024)) 512")
done
qemu-io -f raw "${cmds_a[@]}" "$S" > "$WORK/a.out" 2>&1 & pa=$!
qemu-io -f raw "${cmds_b[@]}" "$S" > "$WORK/b.out" 2>&1 & pb=$!
wait $pa || fail "writer A: $(tail -3 "$WORK/a.out")"
wait $pb || fail "writer B: $(tail -3 "$WORK/b.out")"
[ "$(grep -c "connection [0-9]* from" "$LOG")" -ge 2 ] || fail "two connections"
workers=$(grep "session start: target $IQN_PREFIX:shared" "$LOG" |
    awk -F'[][]' '{ print $2 }' | sort -u | wc -l)
checks=()
for i in $(seq 0 63); do
	checks+=(-c "read -P 0xa1 $((i * 4096)) 512")
	checks+=(-c "read -P 0xb2 $((i * 4096 + 1024)) 512")
done
out=$(qemu-io -f raw "${checks[@]}" "$S" 2>&1) || fail "read back: $out"
echo "$out" | grep -q "Pattern verification failed" && fail "a concurrent sub-block write was lost"
# the untouched sectors still hold the base image
qemu-img convert -f raw -O raw "$S" "$WORK/now.img" || fail "convert"
cmp -s <(dd if="$WORK/now.img" bs=512 skip=1 count=1 status=none) \
    <(dd if="$WORK/images/disk.img" bs=512 skip=1 count=1 status=none) ||
	fail "base data around the writes lost"
ok "concurrent 512-byte writes into one block on $workers worker(s) both survive"

# COMPARE AND WRITE used as a lock word by two initiators at once, on two
# workers: every swap counts, none is lost to a race between the compare
# of one and the write of the other.
caw() {
	"$ISCTEST" -p "127.0.0.1:$PORT" -t "$IQN_PREFIX:shared" -i "$1" "$2"
}
qemu-io -f raw -c "write -P 0 0 512" "$S" > /dev/null || fail "zero LBA 0"
c0=$(caw iqn.2025-01.test:caw0 caw-value | sed -n 's/.*counter \([0-9]*\)$/\1/p')
[ "$c0" = 0 ] || fail "caw-value: counter '$c0', expected 0"
caw iqn.2025-01.test:cawa caw-count > "$WORK/cawa.out" 2>&1 & pa=$!
caw iqn.2025-01.test:cawb caw-count > "$WORK/cawb.out" 2>&1 & pb=$!
wait $pa || fail "caw-count A: $(tail -3 "$WORK/cawa.out")"
wait $pb || fail "caw-count B: $(tail -3 "$WORK/cawb.out")"
wa=$(grep "session start: .* initiator iqn.2025-01.test:cawa " "$LOG" |
    awk -F'[][]' '{ print $2 }')
wb=$(grep "session start: .* initiator iqn.2025-01.test:cawb " "$LOG" |
    awk -F'[][]' '{ print $2 }')
[ -n "$wa" ] && [ "$wa" != "$wb" ] || fail "CAW clients not on two workers ($wa, $wb)"
c1=$(caw iqn.2025-01.test:caw0 caw-value | sed -n 's/.*counter \([0-9]*\)$/\1/p')
[ "$c1" = $((c0 + 2000)) ] ||
	fail "counter $c0 -> $c1 after 2 x 1000 swaps: COMPARE AND WRITE not atomic"
ok "COMPARE AND WRITE from two workers at once: $c0 -> $c1," \
    "$(grep -ho '[0-9]* miscompares' "$WORK/cawa.out" "$WORK/cawb.out" | paste -sd+) "

# UNMAP: the overlay gives its blocks back and the LBAs read zeros.
qemu-io -f raw -c 'write -P 0x5c 4M 8M' "$S" >/dev/null || fail "fill"
before=$(du -k "$OVL" | cut -f1)
out=$(qemu-io -f raw -c 'discard 4M 8M' -c 'read -P 0 4M 8M' "$S" 2>&1) ||
	fail "discard: $out"
echo "$out" | grep -q "Pattern verification failed" && fail "unmapped blocks not zero: $out"
after=$(du -k "$OVL" | cut -f1)
[ "$after" -lt $((before - 7000)) ] || fail "overlay did not shrink: $before KiB -> $after KiB"
ok "UNMAP: $before KiB -> $after KiB, reads zeros"

# Crash test: a writer streams unique patterns; a worker and then the
# coordinator are killed with -9 mid-run; every acknowledged write must
# read back.
crash_run() {
	victim_kind=$1; base=$2
	cmds=()
	for i in $(seq 0 399); do
		cmds+=(-c "write -P $(( (i % 250) + 1 )) $(( base + i * 16384 )) 16384")
	done
	qemu-io -f raw "${cmds[@]}" "$S" > "$WORK/crash.out" 2>&1 & pw=$!
	for _ in $(seq 1 200); do
		[ "$(grep -c '^wrote' "$WORK/crash.out")" -ge 50 ] && break
		sleep 0.01
	done
	kill -9 $(child_pids "$victim_kind") 2>/dev/null
	wait $pw
	acked=$(grep -c '^wrote' "$WORK/crash.out")
	[ "$acked" -ge 50 ] || fail "too few writes before the crash ($acked)"
	verify=()
	for off in $(awk '/^wrote/ { print $6 }' "$WORK/crash.out"); do
		i=$(( (off - base) / 16384 ))
		verify+=(-c "read -P $(( (i % 250) + 1 )) $off 16384")
	done
	sleep 0.5
	out=$(qemu-io -f raw "${verify[@]}" "$S" 2>&1) || fail "verify after $victim_kind kill: $out"
	echo "$out" | grep -q "Pattern verification failed" &&
		fail "an acknowledged write was lost after killing the $victim_kind"
	ok "kill -9 $victim_kind: all $acked acknowledged writes intact"
}
crash_run worker $((16 * 1024 * 1024))
crash_run coordinator $((24 * 1024 * 1024))

# The coordinator keeps every shared map in LMDB and rebuilds a lost map
# file from it: write, stop, delete the map file, start, read back.
qemu-io -f raw -c 'write -P 0x6d 20M 1M' -c 'write -P 0x6e 21M 512' "$S" >/dev/null ||
	fail "write before the map loss"
stop_daemon
mdb_dump -s map "$WORK/state" > "$WORK/map.dump" 2>&1 || fail "mdb_dump: $(cat "$WORK/map.dump")"
[ "$(grep -c '^ ' "$WORK/map.dump")" -ge 2 ] || fail "no map runs in LMDB"
rm -f "$WORK/state/overlays/static-shared-0.map"
start_daemon
wait_log "shared maps rebuilt from LMDB" || fail "no rebuild logged"
out=$(qemu-io -f raw -c 'read -P 0x6d 20M 1M' -c 'read -P 0x6e 21M 512' \
    -c 'read -P 0 4M 8M' "$S" 2>&1) || fail "read after rebuild: $out"
echo "$out" | grep -q "Pattern verification failed" && fail "map not rebuilt from LMDB: $out"
ok "a lost map file is rebuilt from LMDB: writes and deallocations intact"

# A full LMDB map: a write that cannot be recorded fails with DATA
# PROTECT / SPACE ALLOCATION FAILED; no process dies; earlier data stays.
stop_daemon
rm -rf "$WORK/state" "$CONF"
truncate -s 300M "$WORK/images/big.img"
write_config "target bigt big" "map-size 1M"
mark=$(wc -l < "$LOG")
start_daemon
B=$URL/$IQN_PREFIX:bigt/0
qemu-io -f raw -c 'write -P 0x71 0 4k' "$B" >/dev/null || fail "first write"
out=$(qemu-img bench -f raw -w -d 4 -s 4096 -S 8192 -o 8192 -c 30000 "$B" 2>&1) &&
	fail "30000 scattered writes fit a 1 MiB LMDB map"
echo "$out" | grep -q "DATA PROTECTION.*0x2707" || fail "not SPACE ALLOCATION FAILED: $out"
out=$(qemu-io -f raw -c 'read -P 0x71 0 4k' "$B" 2>&1)
echo "$out" | grep -q "Pattern verification failed" && fail "earlier data lost: $out"
tail -n +"$mark" "$LOG" | grep -q "killed by signal\|exited with status [1-9]" &&
	fail "a process died"
ok "LMDB map full: SPACE ALLOCATION FAILED, nothing crashed, nothing lost"
