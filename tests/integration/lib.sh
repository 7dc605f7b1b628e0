# Shared helpers for the integration tests: a temporary catalog and state
# directory, a config on free loopback ports, the real daemon started in
# the foreground and stopped by its pid when the test ends.
#
# Each test sources this file, calls start_daemon, and uses $URL, $PORT,
# $IQN_PREFIX, $WORK.  Failures call fail, which exits 1.

set -u
top_builddir=${top_builddir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_srcdir=${top_srcdir:-$top_builddir}
SCSIPUBD=${SCSIPUBD:-$top_builddir/scsipubd}
ISCTEST=${ISCTEST:-$top_builddir/tests/isctest/isctest}
WORK=$(mktemp -d /tmp/scsipub-test.XXXXXX)
IQN_PREFIX=iqn.2025-01.pub.scsipub.test
# Four ports from 12000 below the kernel's ephemeral range (which starts
# at 32768 by default): a client connection's TIME_WAIT on an ephemeral
# port keeps a listener off it even with SO_REUSEADDR, and the tests
# leave hundreds of those.
EPHEMERAL_LOW=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null ||
    echo 32768)
[ "$EPHEMERAL_LOW" -ge 16000 ] || EPHEMERAL_LOW=32768
BASE=$((EPHEMERAL_LOW - 12000 + ($$ * 7) % 11996))
for _ in $(seq 1 50); do	# past any port something listens on
	_busy=
	for _p in 0 1 2 3; do
		(exec 3<>"/dev/tcp/127.0.0.1/$((BASE + _p))") 2>/dev/null &&
		    _busy=1
	done
	[ -z "$_busy" ] && break
	BASE=$((BASE + 4))
done
PORT=$BASE
TLS_PORT=$((BASE + 1))
API_PORT=$((BASE + 2))
EXTRA_PORT=$((BASE + 3))
DAEMON_PID=
CONF=$WORK/scsipubd.conf
LOG=$WORK/scsipubd.log
URL=iscsi://127.0.0.1:$PORT

fail() {
	echo "FAIL: $*" >&2
	if [ -f "$LOG" ]; then
		echo "--- daemon log (last 40 lines) ---" >&2
		tail -n 40 "$LOG" >&2
	fi
	exit 1
}

ok() {
	echo "ok: $*"
}

cleanup() {
	if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -TERM "$DAEMON_PID" 2>/dev/null
		for _ in $(seq 1 100); do
			kill -0 "$DAEMON_PID" 2>/dev/null || break
			sleep 0.05
		done
		kill -KILL "$DAEMON_PID" 2>/dev/null
	fi
	for p in ${EXTRA_PIDS:-}; do kill "$p" 2>/dev/null; done
	# A sanitizer report from any daemon process fails the test.
	if grep -q "AddressSanitizer\|runtime error:\|LeakSanitizer" "$LOG" 2>/dev/null; then
		echo "FAIL: sanitizer report in the daemon log:" >&2
		grep -A 20 "AddressSanitizer\|runtime error:" "$LOG" | head -40 >&2
		rm -rf "$WORK"
		exit 1
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

# make_image NAME MIB: a catalog image of random data.
make_image() {
	mkdir -p "$WORK/images"
	head -c $(($2 * 1024 * 1024)) /dev/urandom > "$WORK/images/$1.img"
}

# write_config [EXTRA LINES...]
write_config() {
	mkdir -p "$WORK/state"
	{
		echo "listen 127.0.0.1:$PORT"
		echo "image-dir $WORK/images"
		echo "state-dir $WORK/state"
		echo "iqn-prefix $IQN_PREFIX"
		echo "workers ${WORKERS:-2}"
		for l in "$@"; do echo "$l"; done
	} > "$CONF"
}

# wait_port PORT: until something accepts there (5 s at most).
wait_port() {
	for _ in $(seq 1 100); do
		if (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# wait_log PATTERN [SECONDS]: until the daemon log shows PATTERN.
wait_log() {
	for _ in $(seq 1 $((${2:-5} * 20))); do
		grep -q -- "$1" "$LOG" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

start_daemon() {
	[ -f "$CONF" ] || write_config
	"$SCSIPUBD" -d -v -f "$CONF" >>"$LOG" 2>&1 &
	DAEMON_PID=$!
	wait_port "$PORT" || fail "daemon did not start listening on $PORT"
	wait_log "ready" || fail "no worker became ready"
	# every worker, so that the master hands connections to all of them
	# (a slow machine readies the second seconds after the first)
	_n=$(awk '$1 == "workers" { print $2 }' "$CONF")
	for _ in $(seq 1 600); do
		[ "$(grep -c "^master\[$DAEMON_PID\]: master_child_ready" \
		    "$LOG")" -ge "${_n:-1}" ] && return 0
		sleep 0.05
	done
	fail "not every worker (${_n:-1}) became ready"
}

stop_daemon() {
	kill -TERM "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
}

# A connection held open: qemu-io reading commands from a fifo.
# hold NAME URL; then say NAME COMMAND; release NAME.
hold() {
	mkfifo "$WORK/$1.fifo"
	qemu-io -f raw "$2" < "$WORK/$1.fifo" > "$WORK/$1.out" 2>&1 &
	eval "$1_pid=$!"
	EXTRA_PIDS="${EXTRA_PIDS:-} $!"
	eval "exec {$1_fd}>\"$WORK/$1.fifo\""
}
say() {
	eval "echo \"\$2\" >&\$$1_fd"
}
# until NAME's output has COUNT lines matching PATTERN (5 s at most)
await() {
	for _ in $(seq 1 100); do
		[ "$(grep -c -- "$3" "$WORK/$1.out")" -ge "$2" ] && return 0
		sleep 0.05
	done
	return 1
}
release() {
	say "$1" quit
	eval "exec {$1_fd}>&-"
	eval "wait \$$1_pid"
}

# child_pids KIND: pids whose title says "scsipubd: KIND".
child_pids() {
	ps -o pid=,args= --ppid "$DAEMON_PID" | awk -v k="$1" \
	    'index($0, "scsipubd: " k) { print $1 }' | sort -n | tr '\n' ' '
}

# conformance REGEX URL [URL2]: libiscsi's iscsi-test-cu, every suite whose
# name matches, each must end with no failed test.  A suite that fails is
# shown and run once more: some of libiscsi's tests assume wall-clock
# spans (Sanitize.Reset, that a SANITIZE still runs some 4 s after it
# began) that a loaded CI machine can stretch.  A second failure fails.
conformance() {
	_pat=$1; shift
	_suites=$(iscsi-test-cu -l 2>/dev/null |
	    awk -F. 'NF == 2 && $1 == "ALL" { print $2 }' | grep -E -- "$_pat")
	[ -n "$_suites" ] || { echo "no suite matches $_pat"; return 1; }
	for _s in $_suites; do
		for _try in 1 2; do
			mkdir -p "$WORK/cu/$_s"
			_t0=$SECONDS
			(cd "$WORK/cu/$_s" && timeout 300 iscsi-test-cu -d \
			    -t "ALL.$_s" "$@") > "$WORK/cu/$_s.log" 2>&1 && break
			echo "conformance suite $_s failed after $((SECONDS - _t0)) s:"
			grep -E "FAIL|Failed|failed" "$WORK/cu/$_s.log" | head -20
			echo "--- the end of $_s.log ---"
			tail -n 30 "$WORK/cu/$_s.log"
			[ "$_try" = 2 ] && return 1
			echo "conformance suite $_s: once more"
		done
		echo "conformance suite $_s: passed in $((SECONDS - _t0)) s"
	done
}
