#!/bin/sh
# The Debian package, end to end: build it from the tracked files with
# dpkg-buildpackage, check it with lintian (no error or warning), install it
# with dpkg -i, serve an image from the installed files through the init
# script, stop it, purge it, and check that nothing is left running and
# no user or state is left behind.  .ci/run calls it after the test suite;
# run it by hand as root on Debian 12 once the deps file's packages are
# installed, with scsipubd not installed.
#
# The installed /etc/scsipubd.conf serves /var/lib/scsipub/images, which
# the package creates empty: this script puts a small hello.img there.
# The postinst does not start the daemon here (a policy-rc.d that denies
# it is put in place for the run if there is none, as in Docker), so
# the init script starts it, as an administrator would.  If 127.0.0.1:3260
# is taken, the installed config is changed to a free port first.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/scsipub-package.XXXXXX)
pid= policy= installed=

fail() {
	echo "FAIL: package: $*" >&2
	exit 1
}

step() {
	echo "== package: $*"
}

cleanup() {
	if [ -n "$installed" ] && [ -z "$pid" ]; then
		pid=$(cat /var/lib/scsipub/scsipubd.pid 2>/dev/null || true)
	fi
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid"
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
	fi
	[ -z "$installed" ] || dpkg --purge scsipubd >/dev/null 2>&1 || true
	[ -z "$policy" ] || rm -f /usr/sbin/policy-rc.d
	rm -rf "$work"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || fail "run me as root"
if dpkg-query -W -f='${Status}' scsipubd 2>/dev/null | grep -q "ok installed"; then
	fail "scsipubd is installed already: dpkg --purge scsipubd first"
fi

step "dpkg-buildpackage -us -uc -b"
src=$work/scsipub
mkdir "$src"
git -C "$top" ls-files -z | tar -C "$top" --null -T - -cf - | tar -xf - -C "$src"
(cd "$src" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1 || {
	tail -n 60 "$work/build.log"
	fail "dpkg-buildpackage"
}
grep -E "^# (TOTAL|PASS|FAIL):" "$work/build.log" | tr '\n' ' '
echo
deb=$(echo "$work"/scsipubd_*.deb)
changes=$(echo "$work"/scsipub_*.changes)
[ -f "$deb" ] && [ -f "$changes" ] || fail "no .deb or .changes"

step "lintian"
lintian --fail-on error,warning --display-info "$changes" >"$work/lintian.log" 2>&1 || {
	cat "$work/lintian.log"
	fail "lintian reports errors or warnings"
}
cat "$work/lintian.log"
echo "lintian: $(grep -c '^E:' "$work/lintian.log") errors," \
    "$(grep -c '^W:' "$work/lintian.log") warnings," \
    "$(grep -c '^I:' "$work/lintian.log") notes (debian/README.Debian)"

step "contents"
dpkg-deb -c "$deb" | awk '{ print $6 }' >"$work/contents"
for f in ./usr/sbin/scsipubd ./usr/bin/scsipubctl ./etc/scsipubd.conf \
    ./etc/init.d/scsipubd ./lib/systemd/system/scsipubd.service \
    ./usr/share/man/man8/scsipubd.8.gz ./usr/share/man/man8/scsipubctl.8.gz \
    ./usr/share/man/man5/scsipubd.conf.5.gz ./var/lib/scsipub/images/; do
	grep -qx "$f" "$work/contents" || fail "$f is not in the package"
done
dpkg-deb --info "$deb" conffiles | grep -qx /etc/scsipubd.conf ||
	fail "/etc/scsipubd.conf is not a conffile"

step "dpkg -i"
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	policy=1
fi
installed=1
dpkg -i "$deb" || fail "dpkg -i"
uid=$(id -u scsipub) || fail "no user scsipub"
[ "$(stat -c %U:%G:%a /var/lib/scsipub)" = root:scsipub:1770 ] ||
	fail "/var/lib/scsipub is $(stat -c %U:%G:%a /var/lib/scsipub)"
port=3260
if ss -Hltn "sport = :$port" | grep -q .; then
	port=$(($(cut -f1 /proc/sys/net/ipv4/ip_local_port_range) - 1 -
	    ($$ * 7) % 10000))
	sed -i "s/^listen .*/listen          127.0.0.1:$port/" /etc/scsipubd.conf
	echo "127.0.0.1:3260 is taken: serving on $port"
fi
img=/var/lib/scsipub/images/hello.img
head -c $((4 * 1024 * 1024)) /dev/zero >"$img"
printf 'Hello from the package\n' | dd of="$img" conv=notrunc status=none

step "/etc/init.d/scsipubd start"
/etc/init.d/scsipubd start || fail "init script start"
pid=$(cat /var/lib/scsipub/scsipubd.pid)
/etc/init.d/scsipubd status || fail "init script status"
url=iscsi://127.0.0.1:$port/iqn.2025-01.pub.scsipub:hello/0
out=$(iscsi-inq "$url" 2>&1) || fail "iscsi-inq: $out"
echo "$out" | grep -q "^Product:hello" || fail "iscsi-inq printed: $out"
out=$(qemu-io -f raw -c 'read -v 0 32' "$url" 2>&1) || fail "qemu-io: $out"
echo "$out" | grep -q "Hello.from.the.p" || fail "qemu-io printed: $out"
[ "$(ps -o user= -p "$pid" | tr -d ' ')" = root ] || fail "the master is not root"
users=$(ps -o user= --ppid "$pid" | sort -u | tr -d ' ')
[ "$users" = scsipub ] || fail "children run as '$users'"
echo "iscsi-inq and qemu-io read hello.img; master root, children scsipub"
/etc/init.d/scsipubd reload || fail "init script reload"
out=$(iscsi-inq "$url" 2>&1) || fail "iscsi-inq after reload: $out"

step "dpkg -i over the running daemon, then the init script's upgrade"
qemu-io -f raw -c 'write -P 0x6b 0 64k' -c 'sleep 4000' \
    -c 'read -P 0x6b 0 64k' "$url" >"$work/qio.out" 2>&1 & qp=$!
sleep 1
coord=$(ps -o pid=,args= --ppid "$pid" | awk '/coordinator/ { print $1 }')
dpkg -i "$deb" >/dev/null || fail "dpkg -i over the running daemon"
kill -0 "$pid" 2>/dev/null || fail "the package upgrade stopped the daemon"
/etc/init.d/scsipubd upgrade || fail "init script upgrade"
wait $qp || fail "qemu-io across the upgrade: $(cat "$work/qio.out")"
grep -q "Pattern verification failed" "$work/qio.out" &&
	fail "the upgrade lost a write: $(cat "$work/qio.out")"
[ "$(cat /var/lib/scsipub/scsipubd.pid)" = "$pid" ] ||
	fail "the master's pid changed"
now=$(ps -o pid=,args= --ppid "$pid" | awk '/coordinator/ { print $1 }')
[ -n "$now" ] && [ "$now" != "$coord" ] || fail "the coordinator was not replaced"
echo "the new binary took over in place (master $pid); qemu-io's session lived through it"

step "/etc/init.d/scsipubd stop"
/etc/init.d/scsipubd stop || fail "init script stop"
kill -0 "$pid" 2>/dev/null && fail "the master (pid $pid) is still running"
ps -e -o uid= | grep -qx " *$uid" && fail "processes of scsipub still run"
pid=

step "dpkg --purge"
dpkg --purge scsipubd || fail "dpkg --purge"
installed=
getent passwd scsipub >/dev/null && fail "user scsipub left behind"
getent group scsipub >/dev/null && fail "group scsipub left behind"
for f in /var/lib/scsipub /etc/scsipubd.conf /etc/init.d/scsipubd \
    /usr/sbin/scsipubd /lib/systemd/system/scsipubd.service \
    /etc/systemd/system/multi-user.target.wants/scsipubd.service; do
	[ ! -e "$f" ] || fail "$f left behind"
done
ls /etc/rc?.d/*scsipubd >/dev/null 2>&1 && fail "rc.d links left behind"
ps -e -o uid= | grep -qx " *$uid" && fail "processes of uid $uid still run"
echo "== package: built, lintian-clean, installed, served, purged"
