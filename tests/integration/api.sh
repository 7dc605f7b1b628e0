#!/bin/bash
# Issue 7: the HTTP API.  Provisioned sessions with curl and libiscsi
# (CHAP identity on every LUN, writes shared between connections on two
# workers, lifetimes by tier, DELETE ending connections and overlays),
# every bad request answered with its status and a JSON error, scsipubctl,
# /status and /metrics.
. "$(dirname "$0")/lib.sh"

CTL=$top_builddir/scsipubctl
API=http://127.0.0.1:$API_PORT
GOLD=gold-token-0123456789
SILVER=silver-token-0123456789
OVL=$WORK/state/overlays

make_image disk 16
make_image small 4
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null || fail "openssl req"
write_config "api-listen 127.0.0.1:$API_PORT" \
    "tls-listen 127.0.0.1:$TLS_PORT" "tls-cert $WORK/cert.pem" \
    "tls-key $WORK/key.pem" \
    "tier gold quota 64M ttl 1h persistent yes pr yes luns 4 sessions 3" \
    "tier silver quota 16M ttl 10m persistent no luns 2" \
    "api-token $GOLD tier gold" \
    "api-token $SILVER tier silver" \
    "api-rate 3"
start_daemon
wait_port "$API_PORT" || fail "the API does not listen"

# jget KEY FILE: a string field of a compact JSON object.
jget() {
	sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" "$2" | head -1
}

# http METHOD PATH [curl args...]: the status; the body in $WORK/body.
http() {
	_m=$1; _p=$2; shift 2
	curl -s -o "$WORK/body" -w '%{http_code}' -X "$_m" "$@" "$API$_p"
}

session_conns() {
	"$CTL" -u "$API" -t "$1" --json show "$2" | grep -c '"initiator"'
}

# ---- A persistent session, created with a token ----
code=$(http POST /api/sessions -H "Authorization: Bearer $GOLD" \
    -d '{"images": ["disk", "small"], "tier": "gold"}')
[ "$code" = 201 ] || fail "create: HTTP $code $(cat "$WORK/body")"
cp "$WORK/body" "$WORK/gold.json"
ID=$(jget id "$WORK/gold.json")
IQN=$(jget iqn "$WORK/gold.json")
USER=$(jget user "$WORK/gold.json")
SECRET=$(jget secret "$WORK/gold.json")
[ ${#SECRET} -ge 16 ] || fail "CHAP secret too short: $SECRET"
case $IQN in "$IQN_PREFIX":*) ;; *) fail "IQN $IQN";; esac
grep -q '"portals":\["127.0.0.1:'"$PORT"'"\]' "$WORK/gold.json" ||
	fail "portals: $(cat "$WORK/gold.json")"
grep -q '"luns":\[{"lun":0,"image":"disk","size":16777216},{"lun":1,"image":"small","size":4194304}\]' \
    "$WORK/gold.json" || fail "luns: $(cat "$WORK/gold.json")"
grep -q '"expires_at":"20' "$WORK/gold.json" || fail "no expiry"
ok "POST /api/sessions: 201, $IQN, user $USER"

# A second session never shares the identity.
code=$(http POST /api/sessions -H "Authorization: Bearer $GOLD" \
    -d '{"images": ["disk"]}')
[ "$code" = 201 ] || fail "second create: HTTP $code"
ID2=$(jget id "$WORK/body")
[ "$(jget iqn "$WORK/body")" != "$IQN" ] &&
    [ "$(jget user "$WORK/body")" != "$USER" ] &&
    [ "$(jget secret "$WORK/body")" != "$SECRET" ] ||
	fail "identities repeat"
code=$(http GET "/api/sessions/$ID" -H "Authorization: Bearer $GOLD")
[ "$code" = 200 ] && grep -q '"state":"waiting"' "$WORK/body" ||
	fail "GET before login: $code $(cat "$WORK/body")"
ok "fresh identities; state waiting before any login"

S=iscsi://$USER%$SECRET@127.0.0.1:$PORT/$IQN
for lun in 0 1; do
	iscsi-inq "$S/$lun" > /dev/null 2>&1 || fail "CHAP login to LUN $lun"
done
out=$(iscsi-inq "iscsi://$USER%wrong-secret-0123456@127.0.0.1:$PORT/$IQN/0" 2>&1) &&
	fail "a wrong secret was accepted"
echo "$out" | grep -qi "auth" || fail "wrong secret: $out"
iscsi-inq "$URL/$IQN/0" > /dev/null 2>&1 && fail "no CHAP accepted"
iscsi-inq "iscsi://$USER%$SECRET@127.0.0.1:$PORT/$IQN_PREFIX:p-0123456789abcdef01234567/0" \
    > /dev/null 2>&1 && fail "an unknown IQN was accepted"
ok "CHAP login to every LUN; wrong secret and no CHAP refused"

# The same identity on the TLS portal (stunnel as the TLS client).
grep -q '"tls_portals":\["127.0.0.1:'"$TLS_PORT"'"\]' "$WORK/gold.json" ||
	fail "tls_portals: $(cat "$WORK/gold.json")"
printf 'foreground = yes\npid =\n[iscsi]\nclient = yes\naccept = 127.0.0.1:%s\nconnect = 127.0.0.1:%s\n' \
    "$EXTRA_PORT" "$TLS_PORT" > "$WORK/stunnel.conf"
stunnel "$WORK/stunnel.conf" > "$WORK/stunnel.log" 2>&1 &
EXTRA_PIDS="${EXTRA_PIDS:-} $!"
wait_port "$EXTRA_PORT" || fail "stunnel did not start"
iscsi-inq "iscsi://$USER%$SECRET@127.0.0.1:$EXTRA_PORT/$IQN/1" > /dev/null 2>&1 ||
	fail "CHAP login over TLS"
iscsi-inq "iscsi://$USER%wrong-secret-0123456@127.0.0.1:$EXTRA_PORT/$IQN/1" \
    > /dev/null 2>&1 && fail "a wrong secret was accepted over TLS"
ok "the same CHAP identity over TLS"

# A write through one connection, read through a second one (the master
# gives it to the other worker), while the first is open and after.
hold qa "$S/1"
say qa "write -P 0x5a 8192 12288"
await qa 1 'wrote [0-9]' || fail "write through A: $(cat "$WORK/qa.out")"
hold qb "$S/1"
say qb "read -P 0x5a 8192 12288"
await qb 1 'read [0-9]' || fail "read through B: $(cat "$WORK/qb.out")"
grep -q "Pattern verification failed" "$WORK/qb.out" &&
	fail "B does not see A's write"
"$CTL" -u "$API" -t "$GOLD" --json show "$ID" > "$WORK/show.json"
grep -q '"state": "active"' "$WORK/show.json" || fail "state: $(cat "$WORK/show.json")"
slots=$(grep -o '"worker_slot": [0-9]*' "$WORK/show.json" | sort -u | wc -l)
[ "$slots" = 2 ] || fail "the two connections are not on two workers"
say qb "write -P 0x6b 65536 4096"
await qb 1 'wrote [0-9]' || fail "write through B"
say qa "read -P 0x6b 65536 4096"
await qa 1 'read [0-9]' || fail "read through A"
release qa
grep -q "Pattern verification failed" "$WORK/qa.out" && fail "A misses B's write"
say qb "read -P 0x5a 8192 12288"
await qb 2 'read [0-9]' || fail "read through B after A closed"
release qb
grep -q "Pattern verification failed" "$WORK/qb.out" &&
	fail "B lost A's write after A closed"
out=$(qemu-io -f raw -c 'read -P 0x5a 8192 12288' -c 'read -P 0x6b 65536 4096' \
    "$S/1" 2>&1) || fail "third connection: $out"
echo "$out" | grep -q "Pattern verification failed" && fail "lost after both closed"
ok "writes shared by connections on $slots workers, open and after close"

# Persistent: suspended after its last connection, kept across restarts.
"$CTL" -u "$API" -t "$GOLD" show "$ID" > "$WORK/show.txt"
grep -q "^state: *suspended" "$WORK/show.txt" || fail "not suspended: $(cat "$WORK/show.txt")"
grep -q "^written: *16.0 KiB" "$WORK/show.txt" || fail "bytes written: $(cat "$WORK/show.txt")"
stop_daemon
start_daemon
for _ in $(seq 1 100); do
	[ "$(http GET "/api/sessions/$ID" -H "Authorization: Bearer $GOLD")" = 200 ] &&
		break
	sleep 0.05
done
grep -q '"state":"suspended"' "$WORK/body" ||
	fail "after a restart: $(cat "$WORK/body")"
out=$(qemu-io -f raw -c 'read -P 0x5a 8192 12288' "$S/1" 2>&1) ||
	fail "after restart: $out"
echo "$out" | grep -q "Pattern verification failed" && fail "lost across a restart"
ok "persistent session suspended, and kept across a daemon restart"

# ---- A non-persistent session ends with its last connection ----
out=$("$CTL" -u "$API" -t "$SILVER" create small) || fail "silver create: $out"
SID=$(echo "$out" | awk '/^id:/ { print $2 }')
SIQN=$(echo "$out" | awk '/^iqn:/ { print $2 }')
SUSER=$(echo "$out" | awk '/^chap user:/ { print $3 }')
SSECRET=$(echo "$out" | awk '/^chap secret:/ { print $3 }')
SS=iscsi://$SUSER%$SSECRET@127.0.0.1:$PORT/$SIQN/0
hold sa "$SS"
say sa "write -P 0x11 0 4096"
await sa 1 'wrote [0-9]' || fail "silver write"
hold sb "$SS"
say sb "read -P 0x11 0 4096"
await sb 1 'read [0-9]' || fail "silver read"
release sa
"$CTL" -u "$API" -t "$SILVER" show "$SID" > /dev/null ||
	fail "silver session gone while a connection remains"
ls "$OVL" | grep -q "psess-$SID" || fail "silver overlay missing"
release sb
for _ in $(seq 1 40); do
	[ "$(http GET "/api/sessions/$SID" -H "Authorization: Bearer $SILVER")" = 404 ] &&
		break
	sleep 0.05
done
[ "$(http GET "/api/sessions/$SID" -H "Authorization: Bearer $SILVER")" = 404 ] ||
	fail "silver session outlived its last connection"
ls "$OVL" | grep -q "psess-$SID" && fail "silver overlays left: $(ls "$OVL")"
iscsi-inq "$SS" > /dev/null 2>&1 && fail "login to an ended session"
ok "non-persistent session gone with its last connection, overlays too"

# ---- DELETE ends both connections and removes the overlays ----
hold da "$S/0"
say da "write -P 0x22 0 4096"
await da 1 'wrote [0-9]' || fail "write before DELETE"
hold db "$S/0"
say db "read -P 0x22 0 4096"
await db 1 'read [0-9]' || fail "read before DELETE"
[ "$(session_conns "$GOLD" "$ID")" = 2 ] || fail "two connections before DELETE"
ls "$OVL" | grep -q "psess-$ID-0" || fail "no overlay before DELETE"
peers=$(grep "session start: target $IQN " "$LOG" | tail -2 |
    sed 's/.* from \([^ ]*\) tier.*/\1/')
code=$(http DELETE "/api/sessions/$ID" -H "Authorization: Bearer $GOLD")
[ "$code" = 200 ] || fail "DELETE: HTTP $code $(cat "$WORK/body")"
ls "$OVL" | grep -q "psess-$ID" && fail "overlays left after DELETE: $(ls "$OVL")"
wait_log "session $ID ended: asking" 5 || fail "no logout request"
for peer in $peers; do
	wait_log "from $peer .*\(closed\|logged out\)" 10 ||
		fail "connection from $peer not ended by DELETE"
done
[ "$(http GET "/api/sessions/$ID" -H "Authorization: Bearer $GOLD")" = 404 ] ||
	fail "deleted session still answers"
iscsi-inq "$S/0" > /dev/null 2>&1 && fail "login to a deleted session"
eval "exec {da_fd}>&- {db_fd}>&-"
kill "$da_pid" "$db_pid" 2>/dev/null
wait "$da_pid" "$db_pid" 2>/dev/null
ok "DELETE: both connections asked to log out and ended, overlays gone"

# Its maps and reservations left LMDB too: a restarted coordinator, which
# rebuilds every registered map file, does not make its files again.
served=$(grep -c "coordinator_main: serving" "$LOG")
coord=$(child_pids coordinator)
kill -9 $coord
for _ in $(seq 1 100); do
	[ "$(grep -c "coordinator_main: serving" "$LOG")" -gt "$served" ] &&
		break
	sleep 0.05
done
[ "$(grep -c "coordinator_main: serving" "$LOG")" -gt "$served" ] ||
	fail "coordinator not back after kill -9"
ls "$OVL" | grep -q "psess-$ID" &&
	fail "deleted session's files back after a coordinator restart: $(ls "$OVL")"
ok "deleted session's maps and reservations gone from LMDB too"

# ---- Bad requests: status and a JSON error each ----
AUTH="Authorization: Bearer $GOLD"
head -c 70000 /dev/zero | tr '\0' ' ' > "$WORK/big.json"
printf '{"images": [' > "$WORK/many.json"
for i in $(seq 1 257); do printf '"disk",' >> "$WORK/many.json"; done
printf '"disk"]}' >> "$WORK/many.json"
while read -r want method path auth body; do
	args=()
	[ "$auth" = gold ] && args+=(-H "$AUTH")
	[ "$auth" = silver ] && args+=(-H "Authorization: Bearer $SILVER")
	[ "$auth" = bad ] && args+=(-H "Authorization: Bearer not-a-token-at-all")
	case $body in
	-) ;;
	@*) args+=(--data-binary "$body") ;;
	*) args+=(-d "$body") ;;
	esac
	code=$(http "$method" "$path" "${args[@]}")
	[ "$code" = "$want" ] ||
		fail "$method $path $body: HTTP $code, want $want: $(cat "$WORK/body")"
	grep -q '^{"error":"[^"]' "$WORK/body" ||
		fail "$method $path $body: no JSON error: $(cat "$WORK/body")"
done <<EOF
400 POST /api/sessions gold {"images":
400 POST /api/sessions gold ["disk"]
400 POST /api/sessions gold {"images":"disk"}
400 POST /api/sessions gold {"images":[1,2]}
400 POST /api/sessions gold {"images":["disk"],"tier":7}
400 POST /api/sessions gold {"images":[]}
400 POST /api/sessions gold {"images":["nosuchimage"]}
400 POST /api/sessions gold @$WORK/many.json
400 POST /api/sessions silver {"images":["disk","disk","disk"]}
403 POST /api/sessions gold {"images":["disk"],"tier":"platinum"}
403 POST /api/sessions gold {"images":["disk"],"tier":"silver"}
403 POST /api/sessions none {"images":["disk"],"tier":"gold"}
401 POST /api/sessions bad {"images":["disk"]}
413 POST /api/sessions gold @$WORK/big.json
404 GET /nowhere none -
404 GET /api/sessions/0123456789abcdef gold -
404 GET /api/sessions/not-an-id gold -
404 GET /api/sessions/$ID2 silver -
405 PUT /api/sessions gold -
405 DELETE /api/images none -
405 POST /status none -
405 POST /api/sessions/$ID2 gold -
EOF
# The token's quota of sessions: 3 in gold, one left after ID2 and this.
code=$(http POST /api/sessions -H "$AUTH" -d '{"images":["small"]}')
[ "$code" = 201 ] || fail "third gold session: $code"
code=$(http POST /api/sessions -H "$AUTH" -d '{"images":["small"]}')
[ "$code" = 201 ] || fail "fourth gold session (one was deleted): $code"
code=$(http POST /api/sessions -H "$AUTH" -d '{"images":["small"]}')
[ "$code" = 429 ] && grep -q '^{"error":' "$WORK/body" ||
	fail "over the token's sessions: HTTP $code $(cat "$WORK/body")"
# Anonymous: per-address creation rate (api-rate 3 per minute).
for i in 1 2 3; do
	code=$(http POST /api/sessions -d '{"images":["small"]}')
	[ "$code" = 201 ] || fail "anonymous create $i: HTTP $code $(cat "$WORK/body")"
done
code=$(http POST /api/sessions -d '{"images":["small"]}')
[ "$code" = 429 ] && grep -q '^{"error":' "$WORK/body" ||
	fail "anonymous rate: HTTP $code $(cat "$WORK/body")"
[ "$(http GET /api/sessions)" = 200 ] && [ "$(grep -o '"id"' "$WORK/body" | wc -l)" = 3 ] ||
	fail "anonymous list: $(cat "$WORK/body")"
ok "bad requests: 400, 401, 403, 404, 405, 413, 429, each with a JSON error"

# ---- scsipubctl, /status, /metrics ----
out=$("$CTL" -u "$API" status) || fail "scsipubctl status: $out"
echo "$out" | grep -q "^WORKER" || fail "status: no workers: $out"
[ "$(echo "$out" | grep -cE '^[0-9]+ +[0-9]+ +[0-9]+ ')" -ge 2 ] ||
	fail "status: two workers expected: $out"
echo "$out" | grep -q "^sessions: [0-9]" || fail "status: no sessions: $out"
echo "$out" | grep -q "^throughput: read" || fail "status: no throughput: $out"
"$CTL" -u "$API" images | grep -q "^disk .*$IQN_PREFIX:disk" || fail "scsipubctl images"
out=$("$CTL" -u "$API" -t "$GOLD" create disk 2>/dev/null) &&
	fail "over quota via scsipubctl"
echo "$out" | grep -q . && fail "scsipubctl printed a session on error"
"$CTL" -u "$API" -t "$GOLD" delete "$ID2" | grep -q "deleted" || fail "scsipubctl delete"
out=$("$CTL" -u "$API" -t "$GOLD" create disk small) || fail "scsipubctl create: $out"
CID=$(echo "$out" | awk '/^id:/ { print $2 }')
"$CTL" -u "$API" -t "$GOLD" show "$CID" | grep -q "^state: *waiting" || fail "scsipubctl show"
"$CTL" -u "$API" -t "$GOLD" sessions | grep -q "^$CID " || fail "scsipubctl sessions"
"$CTL" -u "$API" -t "$GOLD" --json sessions | grep -q "\"id\": \"$CID\"" || fail "--json"
"$CTL" -u "$API" -t "$GOLD" delete "$CID" > /dev/null || fail "scsipubctl delete $CID"
"$CTL" -u "$API" -t "$GOLD" show "$CID" 2>&1 | grep -q "HTTP 404" || fail "show deleted"
"$CTL" -f "$CONF" status > /dev/null || fail "scsipubctl -f: the URL from the config"
ok "scsipubctl status, images, sessions, create, show, delete"

curl -s -H 'Accept: text/html' "$API/status" | grep -q "<table>" || fail "HTML status"
curl -s -D "$WORK/hdr" -o "$WORK/metrics" "$API/metrics" || fail "GET /metrics"
grep -qi '^content-type: text/plain; version=0.0.4' "$WORK/hdr" || fail "metrics type"
n=0
while IFS= read -r line; do
	case $line in
	'# HELP '* | '# TYPE '*) continue ;;
	'#'* | '') fail "metrics: stray line \"$line\"" ;;
	esac
	[[ $line =~ ^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})?\ [0-9.eE+-]+$ ]] ||
		fail "metrics: not Prometheus text: \"$line\""
	n=$((n + 1))
done < "$WORK/metrics"
for m in scsipub_worker_connections scsipub_sessions scsipub_read_bytes_total \
    scsipub_commands_per_second scsipub_coordinator_queue_depth \
    scsipub_coordinator_commit_seconds_total; do
	grep -q "^$m" "$WORK/metrics" || fail "metrics: no $m"
done
grep -q '^scsipub_sessions{tier="anonymous",state="waiting"} 3$' "$WORK/metrics" ||
	fail "metrics: anonymous sessions: $(grep scsipub_sessions "$WORK/metrics")"
ok "/metrics: $n samples, all Prometheus text; /status as HTML"

# Issue 21: what one address can hold of the API.  Small limits: 8
# connections per worker, 3 per address and worker, 3 s for a request.
# (a) A burst of 20 connections from one address: at most its share is
# held, the rest are answered 503 with a JSON error; (b) 40 connections
# trickling a header byte a second do not keep another address's
# request (curl from 127.0.0.2) waiting; (c) a request trickled a byte
# each half second is answered 408 and closed at api-request-timeout.
stop_daemon
write_config "api-listen 127.0.0.1:$API_PORT" "api-max-connections 8" \
    "api-max-connections-per-address 3" "api-request-timeout 3s"
start_daemon
wait_port "$API_PORT" || fail "the API does not listen"
sleep 0.5
cat > "$WORK/slow.py" <<'PY'
import socket, subprocess, sys, time
port = int(sys.argv[2])

def conn(src):
    s = socket.socket()
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    return s

def got(s):
    try:
        return s.recv(4096)
    except BlockingIOError:
        return None
    except OSError:
        return b"(reset)"

def good():
    # Another address's request: its status and seconds.
    out = subprocess.run(["curl", "-s", "-m", "5", "-o", "/dev/null",
        "-w", "%{http_code} %{time_total}", "--interface", "127.0.0.2",
        "http://127.0.0.1:%d/status" % port], capture_output=True,
        text=True).stdout.split()
    return out[0], float(out[1])

def burst():
    socks = [conn("127.0.0.1") for _ in range(20)]
    time.sleep(1)
    held = refused = other = 0
    for s in socks:
        d = got(s)
        if d is None:
            held += 1
        elif d.startswith(b"HTTP/1.1 503") and b'{"error":' in d:
            refused += 1
        else:
            other += 1
    code, secs = good()
    print("held %d refused %d other %d; 127.0.0.2: %s in %.2fs" %
        (held, refused, other, code, secs))
    return held <= 6 and refused == 20 - held and code == "200" and secs < 2

def slowloris():
    hdr = b"GET /status HTTP/1.1\r\nX-Slow: " + b"a" * 64
    socks = [conn("127.0.0.1") for _ in range(40)]
    worst, codes = 0.0, []
    for t in range(6):
        for s in socks:
            try:
                s.send(hdr[t:t + 1])
            except OSError:
                pass
        if t in (1, 4):
            code, secs = good()
            codes.append(code)
            worst = max(worst, secs)
        time.sleep(1)
    print("127.0.0.2 beside 40 trickling: %s, worst %.2fs" % (codes, worst))
    return codes == ["200", "200"] and worst < 2

def trickle():
    s = conn("127.0.0.3")
    s.send(b"GET /status HTTP/1.1\r\nX-Slow: ")
    t0 = time.time()
    while time.time() - t0 < 8:
        time.sleep(0.5)
        try:
            s.send(b"a")
        except OSError:
            pass
        d = got(s)
        if d is not None:
            secs = time.time() - t0
            print("trickled request: %r after %.1fs" % (d[:12], secs))
            return d.startswith(b"HTTP/1.1 408") and 2 <= secs < 5
    print("trickled request: still open after 8s")
    return False

sys.exit(0 if globals()[sys.argv[1]]() else 1)
PY
for t in burst slowloris trickle; do
	out=$(python3 "$WORK/slow.py" $t "$API_PORT") || fail "$t: $out"
	echo "    $out"
done
ok "one address holds its share of the API (3 per worker), the others are served, a trickled request is cut at api-request-timeout"
