#!/bin/bash
# Issue 14: the README's demo as a new user meets it.  ./quickstart starts
# the demo (with this build, on free ports, in a temporary directory),
# then every command of the README's demo block runs as written, but for
# the ports, and what it prints is checked.  A command added to the block
# fails here until this script knows what it should print.
. "$(dirname "$0")/lib.sh"

readme=$top_srcdir/README.md
cmds=$(awk '/^<!-- demo:/ { on = 1; next } /^<!-- end demo/ { on = 0 }
    on && /^    / { sub(/^    /, ""); print }' "$readme")
[ "$(echo "$cmds" | grep -c .)" -ge 5 ] || fail "no demo block in $readme"

demo=$WORK/demo
QUICKSTART_DIR=$demo QUICKSTART_PORT=$PORT QUICKSTART_API_PORT=$API_PORT \
    QUICKSTART_BUILD=$top_builddir "$top_srcdir/quickstart" \
    >"$WORK/quickstart.out" 2>&1 || fail "quickstart: $(cat "$WORK/quickstart.out")"
DAEMON_PID=$(cat "$demo/state/scsipubd.pid")	# stopped by cleanup if left
grep -q "iscsi-ls -s iscsi://127.0.0.1:$PORT" "$WORK/quickstart.out" ||
	fail "quickstart's hints: $(cat "$WORK/quickstart.out")"
ok "quickstart started the demo (pid $DAEMON_PID)"

# expect CMD OUTPUT: what each kind of README command must print.
expect() {
	case $1 in
	iscsi-ls*)
		for t in hello blank multi; do
			echo "$2" | grep -q "Target:iqn.2025-01.pub.scsipub:$t " ||
				return 1
		done ;;
	iscsi-inq*)
		echo "$2" | grep -q "^Vendor:SCSIPUB" &&
		    echo "$2" | grep -q "^Product:hello" ;;
	"qemu-io -f raw -c 'read -v"*)
		echo "$2" | grep -q "Hello.from.scsip" ;;
	"qemu-io -f raw -c 'write"*)
		echo "$2" | grep -q "^read 1048576/1048576" &&
		    ! echo "$2" | grep -q "verification failed" ;;
	curl*/status)
		echo "$2" | grep -q '"workers"' ;;
	*scsipubctl\ images)
		echo "$2" | grep -q "hello" && echo "$2" | grep -q "blank" ;;
	kill*)
		for _ in $(seq 1 100); do
			kill -0 "$DAEMON_PID" 2>/dev/null || return 0
			sleep 0.05
		done
		return 1 ;;
	*)
		echo "readme.sh does not know what \"$1\" prints" >&2
		return 1 ;;
	esac
}

cd "$WORK" || fail "cd $WORK"
mkdir -p _build
ln -s "$top_builddir/scsipubctl" _build/scsipubctl
n=0
while IFS= read -r cmd; do
	run=$(printf '%s\n' "$cmd" |
	    sed -e "s|127\.0\.0\.1:3260|127.0.0.1:$PORT|g" \
	    -e "s|127\.0\.0\.1:8080|127.0.0.1:$API_PORT|g" \
	    -e "s|^_build/scsipubctl |_build/scsipubctl -u http://127.0.0.1:$API_PORT |")
	out=$(eval "$run" </dev/null 2>&1) || fail "$cmd: $out"
	expect "$cmd" "$out" || fail "$cmd printed: $out"
	n=$((n + 1))
done <<EOF
$cmds
EOF
DAEMON_PID=
ok "the README's $n demo commands"
