#!/bin/bash
# Issue 14: started as root with "user nobody", the coordinator and every
# worker run as nobody with its groups and no capability; the master stays
# root, reads the TLS key (root's alone) and hands state-dir over; I/O,
# TLS and a HUP reload of the certificate still work.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
U=nobody
uid=$(id -u $U) gid=$(id -g $U)
groups=$(id -G $U | tr " " "\n" | sort -n | xargs)
chmod 755 "$WORK"	# mktemp's 0700 would keep the user out

make_image disk 8
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=first.example \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null || fail "openssl req"
chmod 600 "$WORK/key.pem"
write_config "user $U" "tls-listen 127.0.0.1:$TLS_PORT" \
    "tls-cert $WORK/cert.pem" "tls-key $WORK/key.pem" "target shared disk"
# What an earlier run as root left: handed over; a link: left alone.
mkdir -p "$WORK/state/overlays"
touch "$WORK/state/overlays/old.ovl" "$WORK/state/data.mdb"
ln -s /etc/shadow "$WORK/state/overlays/link.ovl"
start_daemon
wait_port "$TLS_PORT" || fail "no TLS listener"

# field PID NAME: one line of /proc/PID/status, tabs as spaces.
field() {
	awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' \
	    "/proc/$1/status"
}

# check_child PID: runs as the user, for good, with nothing left.
check_child() {
	[ "$(field "$1" Uid)" = "$uid $uid $uid $uid" ] ||
		fail "pid $1: Uid $(field "$1" Uid)"
	[ "$(field "$1" Gid)" = "$gid $gid $gid $gid" ] ||
		fail "pid $1: Gid $(field "$1" Gid)"
	g=$(field "$1" Groups | tr " " "\n" | grep . | sort -n | xargs)
	[ "$g" = "$groups" ] || fail "pid $1: Groups '$g', want '$groups'"
	for c in CapInh CapPrm CapEff CapAmb CapBnd; do
		[ "$(field "$1" $c)" = 0000000000000000 ] ||
			fail "pid $1: $c $(field "$1" $c)"
	done
	[ "$(field "$1" NoNewPrivs)" = 1 ] || fail "pid $1: NoNewPrivs"
	! ls -l "/proc/$1/fd" 2>/dev/null | grep -q "key.pem" ||
		fail "pid $1 has the key file open"
}

check_children() {
	coord=$(child_pids coordinator)
	set -- $(child_pids worker)
	[ -n "$coord" ] && [ $# -eq 2 ] || fail "want a coordinator and 2 workers"
	for p in $coord "$@"; do check_child "$p"; done
}

[ "$(field "$DAEMON_PID" Uid)" = "0 0 0 0" ] || fail "master is not root"
check_children
ok "coordinator and workers run as $U (groups $groups), no capabilities, no new privileges"

L=iscsi://127.0.0.1:$PORT/$IQN_PREFIX
out=$(qemu-io -f raw -c 'write -P 0xa5 0 1M' -c 'read -P 0xa5 0 1M' \
    "$L:disk/0" 2>&1) || fail "qemu-io: $out"
echo "$out" | grep -q "Pattern verification failed" && fail "data: $out"
out=$(qemu-io -f raw -c 'write -P 0x3c 4k 64k' -c 'read -P 0x3c 4k 64k' \
    "$L:shared/0" 2>&1) || fail "qemu-io on the static target: $out"
echo "$out" | grep -q "Pattern verification failed" && fail "shared data: $out"
ok "iSCSI write and read, private and shared overlays"

owner() { stat -c %U "$1"; }
for f in state/data.mdb state/lock.mdb state/sessions.mirror \
    state/overlays state/overlays/static-shared-0.ovl \
    state/overlays/static-shared-0.map state/overlays/old.ovl; do
	[ "$(owner "$WORK/$f")" = $U ] || fail "$f is $(owner "$WORK/$f")'s"
done
[ "$(owner "$WORK/state/scsipubd.pid")" = root ] || fail "pidfile not root's"
sd=$(stat -c %U:%G "$WORK/state") mode=0$(stat -c %a "$WORK/state")
[ "$sd" = "root:$(id -gn $U)" ] && [ $((mode & 01770)) -eq $((01770)) ] ||
	fail "state-dir is $sd, mode $mode"
[ -L "$WORK/state/overlays/link.ovl" ] &&
	[ "$(stat -c %U /etc/shadow)" = root ] || fail "a link was followed"
as_user() { setpriv --reuid=$U --regid="$gid" --init-groups "$@"; }
as_user cat "$WORK/key.pem" >/dev/null 2>&1 && fail "the user can read the key"
set -- $(child_pids worker)
as_user ls "/proc/$1/fd" >/dev/null 2>&1 &&
	fail "the user can list a worker's descriptors"
ok "state-dir files are $U's, the pidfile and state-dir root's; the key and workers' descriptors out of the user's reach"

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
T=iscsi://127.0.0.1:$EXTRA_PORT/$IQN_PREFIX
out=$(iscsi-inq "$T:disk/0" 2>&1) || fail "inquiry over TLS: $out"
out=$(qemu-io -f raw -c 'write -P 0x77 2M 256k' -c 'read -P 0x77 2M 256k' \
    "$T:disk/0" 2>&1) || fail "qemu-io over TLS: $out"
echo "$out" | grep -q "Pattern verification failed" && fail "TLS data: $out"
ok "TLS with the key the master read"

# HUP: the master reads the renewed key; new workers serve it, as $U.
old=$(child_pids worker)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=renewed.example \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null || fail "openssl req"
chmod 600 "$WORK/key.pem"
kill -HUP "$DAEMON_PID"
wait_log "configuration reloaded" || fail "reload"
for _ in $(seq 1 40); do
	echo | openssl s_client -connect 127.0.0.1:$TLS_PORT 2>/dev/null |
	    grep -q "renewed.example" && break
	sleep 0.1
done
echo | openssl s_client -connect 127.0.0.1:$TLS_PORT 2>/dev/null |
    grep -q "renewed.example" || fail "new certificate not served after HUP"
for _ in $(seq 1 100); do
	new=$(child_pids worker)
	[ "$new" != "$old" ] && [ $(echo $new | wc -w) -eq 2 ] && break
	sleep 0.05
done
for p in $(child_pids coordinator) $new; do
	echo " $old " | grep -q " $p " || check_child "$p"
done
out=$(iscsi-inq "$T:disk/0" 2>&1) || fail "inquiry over TLS after HUP: $out"
ok "HUP reloads the certificate; the new workers run as $U"

sed -i "s/^user .*/user daemon/" "$CONF"
kill -HUP "$DAEMON_PID"
wait_log "user cannot change without a restart" ||
	fail "a changed user was not refused"
ok "user does not change on HUP"

grep -q "exited with status 78" "$LOG" && fail "a child could not drop root"
stop_daemon
