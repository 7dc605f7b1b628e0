#!/bin/bash
# Issue 4: a static target's LUN is one SharedLU: concurrent sub-block
# writes from two connections on two workers both survive; UNMAP gives the
# space back and reads zeros; kill -9 of a worker or of the coordinator
# mid-run loses no acknowledged write; COMPARE AND WRITE is atomic across
# workers; WRITE ATOMIC(16) is all or nothing for readers on other workers
# and across a kill -9 of the writer's worker or of the coordinator.
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

# WRITE ATOMIC(16) (tests/integration/atomic.py), past the blocks the
# crash runs wrote: the n-th write fills 256 KiB with byte n.  Read back,
# a range must hold one value (all old or all new), never two.
ATOMIC="python3 $top_srcdir/tests/integration/atomic.py"
atomic() {
	$ATOMIC "$1" 127.0.0.1 "$PORT" "$IQN_PREFIX:shared" "$2" 512 \
	    ${3:-} ${4:-}
}
# atomic_check LBA: the value read (retried while workers respawn).
atomic_check() {
	for _ in $(seq 1 100); do
		_out=$(atomic check "$1")
		case $_out in
		uniform*) echo "${_out#uniform }"; return 0 ;;
		torn*) fail "atomic write torn at LBA $1: $_out" ;;
		esac
		sleep 0.2
	done
	fail "atomic check at LBA $1: $_out"
}
for lba in 62464 62976 63488; do
	atomic write $lba 1 > /dev/null || fail "atomic write at $lba"
done
# Readers on other connections (other workers) while one writes: never
# a mix.
atomic write 62464 239 2 > "$WORK/atomic.out" 2>&1 & pw=$!
for r in 1 2; do
	atomic check 62464 300 > "$WORK/reader$r.out" 2>&1 & eval pr$r=\$!
done
wait $pw || fail "atomic writer: $(tail -3 "$WORK/atomic.out")"
wait $pr1 && wait $pr2 ||
	fail "a read during atomic writes: $(cat "$WORK"/reader?.out)"
[ "$(atomic_check 62464)" = 240 ] ||
	fail "the last atomic write is not what reads back"
ok "WRITE ATOMIC: 2 x 300 reads during 240 atomic writes, none mixed"
# kill -9 VICTIM mid-stream, over blocks the overlay holds: what reads
# back is the last acknowledged write or the one after.
atomic_crash() {
	victim=$1; lba=$2
	ready=$(grep -c " ready (slot" "$LOG")
	atomic write "$lba" 238 2 > "$WORK/atomic.out" 2>&1 & pw=$!
	for _ in $(seq 1 500); do
		[ "$(grep -c '^acked' "$WORK/atomic.out")" -ge 30 ] && break
		sleep 0.01
	done
	kill -9 $(child_pids "$victim") 2>/dev/null
	wait $pw
	acked=$(awk '/^acked/ { n = $2 } END { print n + 0 }' "$WORK/atomic.out")
	[ "$acked" -ge 30 ] || fail "atomic writer: $acked acknowledged"
	[ "$victim" = worker ] && for _ in $(seq 1 150); do
		[ "$(grep -c " ready (slot" "$LOG")" -ge $((ready + 2)) ] && break
		sleep 0.2
	done
	v=$(atomic_check "$lba")
	[ "$v" = "$acked" ] || [ "$v" = $((acked + 1)) ] ||
		fail "kill -9 $victim: reads $v, $acked were acknowledged"
	ok "kill -9 $victim amid atomic writes at LBA $lba: all of write $v"
}
atomic_crash worker 62976
atomic_crash worker 63488
atomic_crash coordinator 62976
atomic_crash worker 62464
# the next write over a slot a killed writer left open finishes it first
atomic write 63488 1 > /dev/null || fail "atomic write after the kills"
[ "$(atomic_check 63488)" = 1 ] || fail "atomic write after the kills"
n=$(grep -c 'finishing an atomic write' "$LOG")
ok "atomic writes after the kills ($n slot(s) a killed writer left open finished)"

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

# Issue 21: UNMAP of every other block is free of quota and made an LMDB
# record per block until MDB_MAP_FULL failed every tenant's writes; one
# session's records now stop at max-map-extents (its UNMAPs past it get
# SPACE ALLOCATION FAILED) and another target's writes still go.
stop_daemon
rm -rf "$WORK/state" "$CONF"
truncate -s 512M "$WORK/images/big.img"
make_image small 8
write_config "target att big" "target victim small" "map-size 2M"
start_daemon
out=$("$ISCTEST" -p "127.0.0.1:$PORT" -t "$IQN_PREFIX:att" -T 300 -N 40 \
    unmap-stripes 2>&1) || fail "unmap-stripes: $(echo "$out" | tail -3)"
echo "$out" | grep -q "^unmap-stripes: good [0-9]* full [1-9]" ||
	fail "no UNMAP refused past max-map-extents: $(echo "$out" | tail -2)"
V=$URL/$IQN_PREFIX:victim/0
cmds=()
for i in $(seq 0 199); do
	cmds+=(-c "write -P 0x5a $((i * 8192)) 4096")
done
out=$(qemu-io -f raw "${cmds[@]}" "$V" 2>&1) || fail "victim's writes: $(echo "$out" | tail -3)"
echo "$out" | grep -qi "error\|failed" && fail "victim's writes: $(echo "$out" | grep -i "error\|failed" | head -3)"
out=$(qemu-io -f raw -c 'read -P 0x5a 0 4k' -c 'read -P 0x5a 1630208 4k' "$V" 2>&1)
echo "$out" | grep -q "Pattern verification failed" && fail "victim's data: $out"
ok "one session's alternate-block UNMAPs stop at max-map-extents; another target's writes go"
