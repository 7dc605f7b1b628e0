#!/bin/bash
# Issue 16: several scsipubd nodes sharing a Ceph cluster.  A one-host
# cluster from Debian's packages (tests/ceph/ceph-up: one monitor, one
# manager, one OSD on memstore), started once for the whole script, and
# four nodes on 127.0.0.2 to .5: A and B serve every login themselves,
# C redirects to the node that serves a target, E also by load.
#   - discovery on any node names every node's portal;
#   - written through A, read through B (patterns, sub-block, the base
#     around them), UNMAP through B reads zeros through A;
#   - a reservation taken through A fences an initiator on B, B's
#     preemption reaches A (isctest pr-fence, A and B on two nodes);
#   - an API session created on A is listed by B, used on B, read on A,
#     deleted through B: gone on A, its clone removed;
#   - a public target reads its RBD image whole, writes a private overlay;
#   - a 1 MiB quota holds across nodes;
#   - a login to C for a target A serves is redirected to A; a login to
#     E, which redirects by load, goes to a lighter node once E is busy;
#   - COMPARE AND WRITE through A and B at once loses no swap;
#   - kill -9 of node A (every process) while qemu-img bench and qemu-io
#     write through it: the initiator on B reads back every acknowledged
#     write, and finds the reservation;
#   - a node that loses its coordinator stops serving shared LUs;
#   - SIGHUP moves a node's connection live; a node's coordinator killed
#     with -9 comes back with the reservation.
# If Ceph cannot start, the test fails and says why.
. "$(dirname "$0")/lib.sh"

CEPH_UP=$top_srcdir/tests/ceph/ceph-up
CEPH_DOWN=$top_srcdir/tests/ceph/ceph-down
CEPHDIR=$WORK/ceph
CTL=$top_builddir/scsipubctl
GOLD=gold-token-0123456789
TINY=tiny-token-0123456789
NODE_PIDS=
# The monitor's port (and the 100 above it for the OSD and the manager),
# below lib.sh's range and the kernel's ephemeral ports.
CEPH_PORT=$((EPHEMERAL_LOW - 13000 + ($$ % 8) * 120))

cluster_cleanup() {
	for p in $NODE_PIDS; do
		kill -KILL $(ps -o pid= --ppid "$p") "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	[ -d "$CEPHDIR/run" ] && "$CEPH_DOWN" "$CEPHDIR" >/dev/null 2>&1
	for f in "$WORK"/node-*.log; do
		[ -f "$f" ] && cat "$f" >> "$LOG"
	done
	cleanup
}
trap cluster_cleanup EXIT

grep -q "^#define HAVE_CEPH\|-DHAVE_CEPH=1" "$top_builddir/Makefile" ||
	fail "scsipubd was built without Ceph: configure found no librados-dev, librbd-dev (see deps)"
out=$(CEPH_POOL=scsipub "$CEPH_UP" "$CEPHDIR" "$CEPH_PORT" 2>&1) ||
	fail "Ceph did not start: $(echo "$out" | tail -n 25)"
ok "Ceph: $(echo "$out" | tail -n 1)"
export CEPH_CONF=$CEPHDIR/ceph.conf

# base IMAGE MIB SOURCE: an RBD image of the pool with its protected
# snapshot "scsipub", from a file.
base() {
	rbd import --image-feature layering "$3" "scsipub/$1" >/dev/null 2>&1 &&
	rbd snap create "scsipub/$1@scsipub" >/dev/null 2>&1 &&
	rbd snap protect "scsipub/$1@scsipub" || fail "rbd: cannot make base image $1"
}
make_image disk 32
head -c $((64 * 1024 * 1024)) /dev/zero > "$WORK/images/blank.img"
base disk 32 "$WORK/images/disk.img"
base blank 64 "$WORK/images/blank.img"
mkdir -p "$WORK/empty"

# node NAME IP REDIRECT: a scsipubd of the cluster on IP (iSCSI on $PORT,
# the API on $API_PORT), its own state, log and pid.
node() {
	mkdir -p "$WORK/$1/state"
	cat > "$WORK/$1/conf" <<EOF
listen $2:$PORT
api-listen $2:$API_PORT
image-dir $WORK/empty
state-dir $WORK/$1/state
iqn-prefix $IQN_PREFIX
workers 2
target shared disk
target prt blank
target spare blank
tier gold quota 64M ttl 1h persistent yes pr yes luns 4
tier tiny quota 1M ttl 1h persistent yes pr no luns 1
api-token $GOLD tier gold
api-token $TINY tier tiny
cluster ceph-conf $CEPH_CONF
cluster pool scsipub
cluster node $1
cluster address $2:$PORT
cluster redirect $3
cluster-balance 2
EOF
	"$SCSIPUBD" -d -v -f "$WORK/$1/conf" >> "$WORK/node-$1.log" 2>&1 &
	eval "PID_$1=$!"
	NODE_PIDS="$NODE_PIDS $!"
}

# up NAME IP: until the node listens and its coordinator joined.
up() {
	for _ in $(seq 1 200); do
		grep -q "coord_cluster_init: node $1 " "$WORK/node-$1.log" &&
		    (exec 3<>"/dev/tcp/$2/$PORT") 2>/dev/null && return 0
		sleep 0.05
	done
	tail -n 20 "$WORK/node-$1.log"
	fail "node $1 did not join the cluster"
}

# alive SEEN BY...: until each node of BY has seen SEEN's heartbeat move.
alive() {
	_seen=$1; shift
	for _by in "$@"; do
		for _ in $(seq 1 200); do
			grep -q "node $_seen ([0-9.:]*): alive" \
			    "$WORK/node-$_by.log" && break
			sleep 0.05
		done
		grep -q "node $_seen ([0-9.:]*): alive" "$WORK/node-$_by.log" ||
			fail "node $_by does not see node $_seen"
	done
}

A=127.0.0.2; B=127.0.0.3; C=127.0.0.4; E=127.0.0.5
node a $A off; node b $B off; node c $C session; node e $E load
up a $A; up b $B; up c $C; up e $E
alive a b c e; alive b a c e; alive c a b e; alive e a b c
S=$IQN_PREFIX:shared
P=$IQN_PREFIX:prt

# Discovery on any node: every node's portal.
out=$(iscsi-ls -s "iscsi://$B:$PORT" 2>&1) || fail "iscsi-ls: $out"
for ip in $A $B $C $E; do
	echo "$out" | grep -q "Target:$S Portal:$ip:$PORT,1" ||
		fail "discovery on B does not name $ip: $out"
done
ok "discovery on B names the portals of A, B, C and E"

# Written through A, read through B.
out=$(qemu-io -f raw -c 'write -P 0xa1 0 1M' -c 'write -P 0xb2 1049088 512' \
    -c 'write -P 0xc3 3M 12k' "iscsi://$A:$PORT/$S/0" 2>&1) || fail "write on A: $out"
out=$(qemu-io -f raw -c 'read -P 0xa1 0 1M' -c 'read -P 0xb2 1049088 512' \
    -c 'read -P 0xc3 3M 12k' "iscsi://$B:$PORT/$S/0" 2>&1) || fail "read on B: $out"
echo "$out" | grep -q "Pattern verification failed" && fail "B does not read A's writes: $out"
qemu-img convert -f raw -O raw "iscsi://$B:$PORT/$S/0" "$WORK/now.img" || fail "convert"
cmp -s <(dd if="$WORK/now.img" bs=512 skip=2048 count=1 status=none) \
    <(dd if="$WORK/images/disk.img" bs=512 skip=2048 count=1 status=none) ||
	fail "the base around a sub-block write is not the image's"
cmp -s <(dd if="$WORK/now.img" bs=1M skip=4 status=none) \
    <(dd if="$WORK/images/disk.img" bs=1M skip=4 status=none) ||
	fail "unwritten blocks on B are not the base image's"
rbd info scsipub/scsipub.t.shared.0 | grep -q "parent: scsipub/disk@scsipub" ||
	fail "the LU is not an RBD clone of disk@scsipub"
out=$(qemu-io -f raw -c 'discard 3M 12k' "iscsi://$B:$PORT/$S/0" 2>&1) || fail "discard on B: $out"
out=$(qemu-io -f raw -c 'read -P 0 3M 12k' "iscsi://$A:$PORT/$S/0" 2>&1) || fail "read on A: $out"
echo "$out" | grep -q "Pattern verification failed" && fail "UNMAP through B does not read zeros on A: $out"
ok "written through A, read through B (1 MiB, 512 bytes, the base around them);" \
    "UNMAP through B reads zeros on A; the LU is a clone of disk@scsipub"

# A public target: the base read through librbd, writes into an
# overlay of the node's own.
D=$IQN_PREFIX:disk
qemu-img convert -f raw -O raw "iscsi://$B:$PORT/$D/0" "$WORK/pub.img" || fail "convert public"
cmp -s "$WORK/pub.img" "$WORK/images/disk.img" || fail "the public target is not the base image"
out=$(qemu-io -f raw -c 'write -P 0x6b 4k 8k' -c 'read -P 0x6b 4k 8k' \
    "iscsi://$B:$PORT/$D/0" 2>&1) || fail "public write: $out"
echo "$out" | grep -q "Pattern verification failed" && fail "public overlay: $out"
rbd ls scsipub | grep -q "scsipub.t.disk\|scsipub.s." && fail "a public target made a clone"
ok "a public target reads the RBD image whole through librbd; its writes go to a private overlay"

# A reservation taken through A fences the initiator on B.
out=$("$ISCTEST" -p "$A:$PORT" -P "$B:$PORT" -t "$P" -i iqn.2025-01.test:alpha \
    -I iqn.2025-01.test:bravo pr-fence 2>&1) || fail "pr-fence across nodes: $out"
grep -q "session start: target $P initiator iqn.2025-01.test:alpha " "$WORK/node-a.log" &&
grep -q "session start: target $P initiator iqn.2025-01.test:bravo " "$WORK/node-b.log" ||
	fail "pr-fence's initiators were not on A and B"
ok "A's WRITE EXCLUSIVE fences B's writes (not its reads); B's PREEMPT reaches A (2Ah/05h, then the conflict)"

# The API on any node: a session made on A, used on B, deleted through B.
api() {
	_ip=$1; _m=$2; _p=$3; shift 3
	curl -s -o "$WORK/body" -w '%{http_code}' -X "$_m" "$@" \
	    "http://$_ip:$API_PORT$_p"
}
jget() {
	sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" "$WORK/body" | head -1
}
code=$(api $A POST /api/sessions -H "Authorization: Bearer $GOLD" \
    -d '{"images":["disk","blank"]}')
[ "$code" = 201 ] || fail "POST on A: $code $(cat "$WORK/body")"
ID=$(jget id); PI=$(jget iqn); PU=$(jget user); PS=$(jget secret)
grep -q "\"$B:$PORT\"" "$WORK/body" && grep -q "\"$A:$PORT\"" "$WORK/body" ||
	fail "the session's portals are not every node's: $(cat "$WORK/body")"
code=$(api $B GET "/api/sessions/$ID" -H "Authorization: Bearer $GOLD")
[ "$code" = 200 ] || fail "B does not know A's session: $code $(cat "$WORK/body")"
PURL="iscsi://$PU%$PS@$B:$PORT/$PI"
out=$(qemu-io -f raw -c 'write -P 0x5e 8M 64k' "$PURL/1" 2>&1) || fail "session write on B: $out"
out=$(qemu-io -f raw -c 'read -P 0x5e 8M 64k' "iscsi://$PU%$PS@$A:$PORT/$PI/1" 2>&1) ||
	fail "session read on A: $out"
echo "$out" | grep -q "Pattern verification failed" && fail "A does not read B's write: $out"
rbd ls scsipub | grep -q "^scsipub.s.$ID.1$" || fail "no clone for the session's LUN 1"
code=$(api $B DELETE "/api/sessions/$ID" -H "Authorization: Bearer $GOLD")
[ "$code" = 204 ] || [ "$code" = 200 ] || fail "DELETE on B: $code $(cat "$WORK/body")"
code=$(api $A GET "/api/sessions/$ID" -H "Authorization: Bearer $GOLD")
[ "$code" = 404 ] || fail "A still has the session B deleted: $code"
for _ in $(seq 1 50); do
	rbd ls scsipub | grep -q "^scsipub.s.$ID" || break
	sleep 0.2
done
rbd ls scsipub | grep -q "^scsipub.s.$ID" && fail "the session's clones were not removed"
ok "an API session created on A: listed by B, written on B, read on A; deleted through B: gone on A, clones removed"

# A quota across nodes: what a session wrote through A counts on B.
code=$(api $A POST /api/sessions -H "Authorization: Bearer $TINY" \
    -d '{"images":["blank"]}')
[ "$code" = 201 ] || fail "POST tiny on A: $code $(cat "$WORK/body")"
QID=$(jget id); QI=$(jget iqn); QU=$(jget user); QS=$(jget secret)
out=$(qemu-io -f raw -c 'write -P 0x3c 0 768k' "iscsi://$QU%$QS@$A:$PORT/$QI/0" 2>&1) ||
	fail "768 KiB of 1 MiB through A: $out"
for _ in $(seq 1 60); do	# A's coordinator counts it in RADOS
	v=$(rados -p scsipub -N scsipub getomapval quota "psess-$QID" /dev/stdout 2>/dev/null)
	[ -n "$v" ] && [ $((16#$v)) -ge $((768 * 1024)) ] && break
	sleep 0.1
done
[ $((16#${v:-0})) -ge $((768 * 1024)) ] || fail "RADOS does not count A's writes: '$v'"
# B reads the others' count when one of its workers first opens the LU
# (a login), one RADOS round trip later, and again every heartbeat (a
# second here): a write in the same instant as that first login may pass
# before it (README: within what the nodes write in one heartbeat).
out=$(qemu-io -f raw -c 'read 0 4k' "iscsi://$QU%$QS@$B:$PORT/$QI/0" 2>&1) ||
	fail "a read on B of the session's LU: $out"
sleep 1.5
out=$(qemu-io -f raw -c 'write -P 0x3d 1M 512k' "iscsi://$QU%$QS@$B:$PORT/$QI/0" 2>&1)
echo "$out" | grep -q "write failed" || fail "B let the session past its quota: $out"
out=$(qemu-io -f raw -c 'write -P 0x3d 1M 128k' -c 'read -P 0x3c 0 768k' \
    "iscsi://$QU%$QS@$B:$PORT/$QI/0" 2>&1) || fail "within the quota on B: $out"
echo "$out" | grep -q "Pattern verification failed\|write failed" &&
	fail "B refused a write within the quota or lost A's: $out"
ok "a 1 MiB quota across nodes: 768 KiB through A, then 512 KiB more through B refused, 128 KiB accepted"

# A login to C for a target A serves goes to A.
"$ISCTEST" -p "$A:$PORT" -t "$S" -i iqn.2025-01.test:holder -w 8 hold \
    > "$WORK/hold.out" 2>&1 & hp=$!
EXTRA_PIDS="${EXTRA_PIDS:-} $hp"
for _ in $(seq 1 100); do	# C learns at its next heartbeat
	grep -q "session start: target $S initiator iqn.2025-01.test:holder" \
	    "$WORK/node-a.log" && break
	sleep 0.05
done
sleep 2.5
out=$(iscsi-inq "iscsi://$C:$PORT/$S/0" 2>&1) || fail "iscsi-inq through C: $out"
grep -q "to $S: redirected to node a ($A:$PORT)" "$WORK/node-c.log" ||
	fail "C did not redirect the login to A"
grep -q "session start: target $S initiator iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-inq" \
    "$WORK/node-a.log" || fail "the redirected login did not reach A"
grep -q "session start: target $S initiator iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-inq" \
    "$WORK/node-c.log" && fail "C served the login it redirected"
wait $hp || fail "hold: $(cat "$WORK/hold.out")"
ok "a login to C for $S, served by A, is redirected to A (Target moved temporarily) and libiscsi follows"

# E (redirect load, cluster-balance 2) serving 3 sessions sends a login
# to a target served nowhere to a node with fewer; with 1 it serves it.
SP=$IQN_PREFIX:spare
out=$(iscsi-inq "iscsi://$E:$PORT/$SP/0" 2>&1) || fail "iscsi-inq through E: $out"
grep -q "to $SP: redirected" "$WORK/node-e.log" && fail "E redirected while it served nothing"
busy=
for i in 1 2 3; do
	"$ISCTEST" -p "$E:$PORT" -t "$D" -i "iqn.2025-01.test:busy$i" -w 6 hold \
	    > "$WORK/busy$i.out" 2>&1 &
	busy="$busy $!"
done
EXTRA_PIDS="${EXTRA_PIDS:-} $busy"
sleep 2.5	# E's heartbeat tells the others, and its page, 3 sessions
out=$(iscsi-inq "iscsi://$E:$PORT/$SP/0" 2>&1) || fail "iscsi-inq through E, busy: $out"
grep -q "to $SP: redirected to node [abc] " "$WORK/node-e.log" ||
	fail "E, serving 3 sessions, did not send a login to a lighter node"
for p in $busy; do wait "$p" || fail "hold on E: $(cat "$WORK"/busy*.out)"; done
ok "E (redirect load) serves a login while idle, and redirects one to a lighter node while it serves 3 sessions"

# COMPARE AND WRITE as a lock word, through A and B at once: no swap is
# lost between one node's compare and the other's write.
# 1000 swaps each, two nodes contending, every swap a commit to RADOS:
# seconds under AddressSanitizer, past isctest's default 10 s.
caw() {
	"$ISCTEST" -p "$1:$PORT" -t "$S" -i "$2" -T 120 "$3"
}
qemu-io -f raw -c "write -P 0 0 512" "iscsi://$A:$PORT/$S/0" > /dev/null || fail "zero LBA 0"
caw $A iqn.2025-01.test:caw0 caw-count > "$WORK/cawa.out" 2>&1 & pa=$!
caw $B iqn.2025-01.test:caw1 caw-count > "$WORK/cawb.out" 2>&1 & pb=$!
wait $pa || fail "caw-count on A: $(tail -3 "$WORK/cawa.out")"
wait $pb || fail "caw-count on B: $(tail -3 "$WORK/cawb.out")"
c1=$(caw $B iqn.2025-01.test:caw0 caw-value | sed -n 's/.*counter \([0-9]*\)$/\1/p')
[ "$c1" = 2000 ] || fail "counter $c1 after 2 x 1000 swaps through A and B: COMPARE AND WRITE not atomic across nodes"
ok "COMPARE AND WRITE through A and B at once: 0 -> $c1," \
    "$(grep -ho '[0-9]* miscompares' "$WORK/cawa.out" "$WORK/cawb.out" | paste -sd+)"

# kill -9 of node A while qemu-img bench and qemu-io write through it.
qemu-img bench -f raw -w -d 16 -s 4096 -S 4096 -o 16M -c 200000 --pattern=0x77 \
    "iscsi://$A:$PORT/$S/0" > "$WORK/bench.out" 2>&1 & bp=$!
EXTRA_PIDS="${EXTRA_PIDS:-} $bp"
cmds=()
for i in $(seq 0 399); do
	cmds+=(-c "write -P $(( (i % 250) + 1 )) $(( 4 * 1048576 + i * 16384 )) 16384")
done
stdbuf -oL qemu-io -f raw "${cmds[@]}" "iscsi://$A:$PORT/$S/0" > "$WORK/crash.out" 2>&1 & pw=$!
EXTRA_PIDS="${EXTRA_PIDS:-} $pw"
for _ in $(seq 1 400); do
	[ "$(grep -c '^wrote' "$WORK/crash.out")" -ge 60 ] && break
	sleep 0.01
done
kill -0 $bp 2>/dev/null || fail "qemu-img bench was not writing when A died: $(cat "$WORK/bench.out")"
kill -9 $(ps -o pid= --ppid "$PID_a") "$PID_a"
wait "$PID_a" 2>/dev/null
acked=$(grep -c '^wrote' "$WORK/crash.out")
[ "$acked" -ge 60 ] || fail "too few writes before the kill ($acked)"
kill -9 $pw $bp 2>/dev/null	# they would reconnect to A for ever
wait $pw $bp 2>/dev/null
# (the last line may be cut short by the kill: an offset that is not one
# of the writer's is not an acknowledgement)
verify=()
for off in $(awk '/^wrote 16384\/16384 bytes at offset / { print $6 }' "$WORK/crash.out"); do
	i=$(( (off - 4 * 1048576) / 16384 ))
	[ "$i" -ge 0 ] && [ "$i" -lt 400 ] &&
	    [ $(( 4 * 1048576 + i * 16384 )) = "$off" ] || continue
	verify+=(-c "read -P $(( (i % 250) + 1 )) $off 16384")
done
[ ${#verify[@]} -ge 100 ] || fail "too few acknowledged writes to check"
acked=$(( ${#verify[@]} / 2 ))
out=$(qemu-io -f raw "${verify[@]}" "iscsi://$B:$PORT/$S/0" 2>&1) || fail "read back on B: $(echo "$out" | grep -v "^read\|^16 KiB" | head -20)"
echo "$out" | grep -q "Pattern verification failed" &&
	fail "an acknowledged write through A is not on B after A died"
# bench's 4 KiB writes of 0x77 from 16 MiB on: each block is all 0x77 or
# untouched base data, never anything else
qemu-img convert -f raw -O raw "iscsi://$B:$PORT/$S/0" "$WORK/after.img" || fail "convert on B"
python3 - "$WORK/after.img" "$WORK/images/disk.img" <<'PY' || fail "a block bench wrote is torn"
import sys
a = open(sys.argv[1], "rb").read(); b = open(sys.argv[2], "rb").read()
n = 0
for o in range(16 << 20, 32 << 20, 4096):
	blk = a[o:o + 4096]
	if blk == b"\x77" * 4096:
		n += 1
	elif blk != b[o:o + 4096]:
		sys.exit("block at %d is neither bench's nor the base's" % o)
if n == 0:
	sys.exit("bench wrote nothing")
print("bench blocks on B:", n)
PY
out=$("$ISCTEST" -p "$B:$PORT" -t "$P" -i iqn.2025-01.test:alpha \
    -I iqn.2025-01.test:bravo pr-check 2>&1) || fail "reservation after A died: $out"
ok "kill -9 of node A under qemu-img bench: all $acked acknowledged qemu-io writes read back on B," \
    "bench's blocks whole, B still holds its reservation"

# A node whose coordinator is gone stops serving shared LUs (its lease).
cpid=$(ps -o pid=,args= --ppid "$PID_b" | awk '/coordinator/ { print $1 }')
kill -STOP "$cpid"
sleep 6
out=$(timeout 4 qemu-io -f raw -c 'read 0 4k' "iscsi://$B:$PORT/$S/0" 2>&1)
kill -CONT "$cpid"
echo "$out" | grep -q "^read 4096" && fail "B served a shared LU without its coordinator: $out"
grep -q "lost the cluster: commands on shared LUs fail" "$WORK/node-b.log" ||
	fail "B's workers did not say they stopped: $out"
for _ in $(seq 1 100); do
	out=$(timeout 10 qemu-io -f raw -c 'read 0 4k' "iscsi://$B:$PORT/$S/0" 2>&1) &&
	    echo "$out" | grep -q "^read 4096" && break
	sleep 0.1
done
echo "$out" | grep -q "^read 4096" || fail "B did not serve again: $out"
ok "a node whose coordinator stopped for 6 s failed its shared LUs' commands, and served again after"

# SIGHUP on a node: its connections move to the new workers live, and
# carry on reading and writing their clone.
"$ISCTEST" -p "$B:$PORT" -t "$S" -i iqn.2025-01.test:live -w 4 live \
    > "$WORK/live.out" 2>&1 & lp=$!
EXTRA_PIDS="${EXTRA_PIDS:-} $lp"
sleep 1.5
kill -HUP "$PID_b"
wait $lp || fail "isctest live across SIGHUP on B: $(tail -5 "$WORK/live.out")"
grep -q "taken over from pid" "$WORK/node-b.log" || fail "no connection moved on B's SIGHUP"
ok "SIGHUP on node B: its connection moved live to a new worker, every byte read back"

# kill -9 of a node's coordinator: restarted, it reloads the cluster's
# state (the reservation) before its node serves again.
cpid=$(ps -o pid=,args= --ppid "$PID_b" | awk '/coordinator/ { print $1 }')
n0=$(grep -c "coord_cluster_init: node b " "$WORK/node-b.log")
kill -9 "$cpid"
for _ in $(seq 1 200); do
	[ "$(grep -c "coord_cluster_init: node b " "$WORK/node-b.log")" -gt "$n0" ] && break
	sleep 0.05
done
[ "$(grep -c "coord_cluster_init: node b " "$WORK/node-b.log")" -gt "$n0" ] ||
	fail "B's coordinator did not come back"
out=$("$ISCTEST" -p "$B:$PORT" -t "$P" -i iqn.2025-01.test:alpha \
    -I iqn.2025-01.test:bravo pr-check 2>&1) || fail "reservation after B's coordinator died: $out"
ok "kill -9 of B's coordinator: back in the cluster, B enforces the reservation"
