#!/usr/bin/env bash
# tests/workloads.sh CASE [ARG] - the client's traffic shapes:
# pipelining (-q), message sizes (-l), and the engine's one interface.
#
#   pipeline      -q 4 against known_server's fixed delay D: rps = N x 4 / D
#                 within 2%, p50 within 1% of D, Little's law with N x 4
#   default       no -q/-l: depth 1, 8-byte messages, one server frame per
#                 request and 8 bytes each way per round trip (the
#                 ping-pong of before, on the wire)
#   flip          known_server -X flips one bit in every 64 KB echoed: the
#                 client counts mismatches and exits 1; the same run with a
#                 faithful echo exits 0 with none
#   churn         -x 1 and -x 20 against 06: the server accepted exactly the
#                 connects the client timed (connect_lat_us.count = conns +
#                 reconnects), every request answered; at -x 1 one close per
#                 reply and as many connections opened a second as replies
#   heartbeat     -H 0.5 on 100 connections against known_server's D: the
#                 request rate is N / SEC within 1%, p50 within 1% of D, no
#                 heartbeat dropped, the lateness of each one measured
#   churn-cut     under -x 5, a peer that closes every 7th connection after
#                 20 bytes of a 64-byte request: each costs that connection
#                 only (lost, its one request unanswered, a replacement
#                 opened); no mismatch, the others keep churning
#   heartbeat-rate  -H 0.5 plus -r 300 on 100 connections: 500 requests a
#                 second within 1%, p50 within 1% of D, none dropped
#   churn-rate    -r 2000 -x 5 and a 20% storm against 06: every close
#                 replaced, the accepts equal the connects at both ends
#   storm         --storm 10@1 on 200 connections against 06: 20 dropped with
#                 an RST (the server counts 20 resets), all 20 back and
#                 answered, the server accepted 220, nothing unanswered
#   refused       a port nobody listens on: 10 refused connects counted as
#                 connect errors, none as a connection or a connect time
#   storm-heartbeat  the storm under -H 30 on 200 connections: each
#                 reconnect says hello at once, so all 20 are back and
#                 answered within the 3 s window, none dropped
#   sizes NN      NN's server echoes 64 KB and 1 MiB messages through the
#                 client (short writes and all), every byte checked
#                 (SERVER_ARGS passes on to the server, as in tests/pair.sh)
#   badargs       -q 0, -l 7, -l 2G, -x -1, -H 0, --storm 150@2,
#                 a storm outside the window: one line on stderr, nothing on stdout,
#                 exit 2, for every client (but 04's, which has neither)
#   interface     every client's -L "design" is its directory; every
#                 client's -h synopsis lists the same options, -q and -l
#                 among them
#   buildlines    every client.c's " * build: " line, run from the top as
#                 written (into a temporary binary), builds a client whose
#                 -L names its directory
#   consts        04_epoll_client/client.c's copies of the constants in
#                 05_multi_epoll_client/engine.h are equal to them
#
# Env: WORKLOADS_CLIENT, a client binary to use instead of
# 05_multi_epoll_client/client (e.g. a broken build, to see a test fail);
# KNOWN_SERVER, a known_server instead of $UNIT_DIR/known_server.
# Timing cases (pipeline) skip (77) under a sanitizer build.
#
# sample output (tests/workloads.sh pipeline):
#   ok   rps within 2% of N*Q/D: 4012.9 vs 4015.42 (-0.06%)
#   ok   p50 within 1% of D: 50069.5 vs 49808 (+0.53%)
#   ...
#   pass
source "$(dirname "$0")/lib.sh"

usage() {
	echo "usage: tests/workloads.sh pipeline|default|flip|churn|churn-cut|churn-rate|heartbeat|heartbeat-rate|storm|storm-heartbeat|refused|sizes NN|badargs|interface|buildlines|consts" >&2
	exit 2
}
[[ $# -ge 1 ]] || usage
mode=$1
client=${WORKLOADS_CLIENT:-05_multi_epoll_client/client}
server=${KNOWN_SERVER:-${UNIT_DIR:-build/plain/tests}/known_server}
clients=$(ls -d [0-9][0-9]_*/client 2>/dev/null)
[[ -x "$client" ]] || fail "no client at $client (make -s)"

# Both ends SCHED_FIFO where allowed, as tests/known.sh does (its comment
# has the figures): timing to 1% on a shared 2-core box needs it.
rt=()
chrt -f 1 true 2>/dev/null && rt=(chrt -f 1)

run_client() { # ARGS...: $TMP/client.json, CRC
	echo "--- $client -p PORT $*"
	"${rt[@]}" "$client" -p "$SERVER_PORT" -i 1 "$@" >"$TMP/client.json" 2>"$TMP/client.err"
	CRC=$?
	cat "$TMP/client.err"
	echo "--- client json (exit $CRC)"; cut -c1-600 "$TMP/client.json"
}


case "$mode" in
pipeline)
	[[ -z "${SAN:-}" ]] || { echo "skip: a sanitizer build is too slow for timing to 2%"; exit 77; }
	# tests/known.sh delay's setup (D just above a histogram bucket's low
	# edge, -S spreading the 50 connections over D; see there) with 4
	# requests in flight on each: known_server answers each frame D after
	# it came, in order, so 200 are in flight all the time and
	# rps = 50 x 4 / D. A client that sent the next only after the last
	# reply of a connection, or kept one in flight, shows N/D; one that
	# timed a request from its connection's first send shows p50 > D.
	d_us=49808 n=50 q=4
	known_start -D "$d_us" -S "$n"
	run_client -n "$n" -q "$q" -d 3
	server_stop
	[[ $CRC -eq 0 ]] || fail "client exited $CRC"
	checks \
		'rps within 2% of N*Q/D' 'rps' "$n * $q / ($d_us / 1e6)" 'abs(f / b - 1) <= 0.02' \
		'p50 within 1% of D' 'lat_us["p50"]' "$d_us" 'abs(f / b - 1) <= 0.01' \
		"Little's law: N*Q/rps (us) within 2% of the mean" "$n * $q / rps * 1e6" 'lat_us["mean"]' \
		'abs(f / b - 1) <= 0.02' \
		'depth reported' 'depth' "$q" 'f == b' \
		'every request answered' 'round_trips' '1' 'f > 0 and errors == 0 and mismatches == 0'
	;;
default)
	# The defaults are the Go protocol: every request one 8-byte frame (the
	# server counts frames), 8 bytes back per round trip.
	known_start -D 1000
	run_client -n 20 -d 1
	server_stop
	[[ $CRC -eq 0 ]] || fail "client exited $CRC"
	checks \
		'depth 1, 8-byte messages' 'depth * 100 + msg_bytes' '108' 'f == b' \
		'one server frame per request' 'srv["requests"]' 'requests_sent' 'f == b' \
		'8 bytes back per round trip in the window (give or take one in flight)' \
		'bytes_received' '8 * round_trips' 'abs(f - b) <= 8 * conns and f > 0' \
		'as many bytes out as in' 'tx_bytes_per_s' 'rx_bytes_per_s' 'abs(f - b) <= 8 * conns / duration_s' \
		'every connect timed, none churned' 'connect_lat_us["count"]' 'conns' 'f == b and churned == 0'
	;;
flip)
	# One bit in every 64 KB of each connection's stream: the last byte of
	# every 64 KB reply, far past the timestamp. The faithful run first, so
	# the client is shown to pass where the echo is right.
	known_start -D 0
	run_client -n 4 -l 64K -d 1
	server_stop
	[[ $CRC -eq 0 ]] || fail "faithful echo: client exited $CRC"
	checks 'faithful echo: no mismatch' 'mismatches' '0' 'f == 0 and round_trips > 0'
	known_start -D 0 -X 65536
	run_client -n 4 -l 64K -d 1
	server_stop
	[[ $CRC -eq 1 ]] || fail "one flipped bit in 64 KB: client exited $CRC, want 1"
	checks 'one flipped bit in 64 KB: every reply a mismatch' 'mismatches' 'replies' \
		'f == b and f > 0'
	;;
churn)
	# A connection a request (neper's tcp_crr), then 20 requests each. The
	# client waits for the connects in flight at the end, so the server's
	# accepts are exactly the connects the client completed and timed.
	for x in 1 20; do
		server_start 06_multi_epoll_server
		run_client -n 50 -x "$x" -d 2
		server_stop
		[[ $CRC -eq 0 ]] || fail "-x $x: client exited $CRC"
		checks \
			"-x $x: every connect timed" 'connect_lat_us["count"]' 'conns + reconnects' 'f == b' \
			"-x $x: the server accepted exactly those" 'srv["accepted"]' 'connect_lat_us["count"]' 'f == b' \
			"-x $x: one server frame per request, every one answered" 'srv["requests"]' 'requests_sent' \
			'f == b and replies == requests_sent and errors == 0 and mismatches == 0' \
			"-x $x: a close per $x replies (but for the last ones, answered as it stopped)" 'churned * '"$x" 'replies' \
			"b - 50 * $x <= f <= b" \
			"-x $x: connections opened a second = rps / $x within 5%" 'conns_opened_per_s' "rps / $x" \
			'abs(f / b - 1) <= 0.05' \
			"-x $x: each close replaced, -n open at the end" 'reconnects' 'churned' \
			'f == b and conns_open_at_end == conns_target'
	done
	;;
churn-cut)
	# An echo server (Python, threads) that cuts every 7th connection it
	# accepts after 20 bytes, mid-request, and at SIGTERM writes how many
	# it cut, as JSON, like the c1m servers.
	python3 -c '
import json, signal, socket, sys, threading
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0)); ls.listen(1024)
print("cutter: listening on 127.0.0.1:%d" % ls.getsockname()[1], file=sys.stderr, flush=True)
st = {"accepted": 0, "cut": 0}; mu = threading.Lock()
def serve(c, cut):
    got = 0
    try:
        while True:
            b = c.recv(20 - got if cut else 65536)
            if not b: break
            got += len(b)
            if cut and got >= 20:
                with mu: st["cut"] += 1
                break
            c.sendall(b)
    except OSError: pass
    c.close()
def stop(*_):
    print(json.dumps(st), flush=True); sys.exit(0)
signal.signal(signal.SIGTERM, stop)
while True:
    c, _ = ls.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with mu: st["accepted"] += 1; k = st["accepted"]
    threading.Thread(target=serve, args=(c, k % 7 == 0), daemon=True).start()
' >"$TMP/server.out" 2>"$TMP/server.err" &
	SERVER_PID=$! SERVER_OUT=$TMP/server.out
	for _ in $(seq 1 100); do
		SERVER_PORT=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$TMP/server.err")
		[[ -n "$SERVER_PORT" ]] && break
		sleep 0.05
	done
	[[ -n "$SERVER_PORT" ]] || fail "the cutting server did not start"
	run_client -n 20 -x 5 -l 64 -d 1
	server_stop
	[[ $CRC -eq 1 ]] || fail "client exited $CRC, want 1 (connections were lost)"
	checks \
		'every cut seen as one lost connection' 'lost' 'srv["cut"]' 'f == b and f > 0' \
		'each lost one cost only its request in flight' 'unanswered' 'lost' \
		'f == b and errors == lost + unanswered and connect_errors == 0 and mismatches == 0' \
		'every connect counted at both ends' 'conns + reconnects' 'srv["accepted"]' 'f == b' \
		'each close (churned or lost) replaced' 'reconnects' 'churned + lost' \
		'f == b and churned > lost and conns_open_at_end == conns_target'
	;;
heartbeat)
	[[ -z "${SAN:-}" ]] || { echo "skip: a sanitizer build is too slow for timing to 1%"; exit 77; }
	# 100 connections, one request each every 0.5 s, their phases 5 ms
	# apart: 200 requests a second, each answered D after it was due (D as
	# in tests/known.sh delay, just above a histogram bucket's low edge).
	# A 3 s window holds 600 due times exactly, whatever its phase. A
	# client that bunched the phases would still send 200/s but wait for
	# its replies in bursts; one that skipped a round sends 100/s.
	d_us=49808 n=100 sec=0.5
	known_start -D "$d_us"
	run_client -n "$n" -H "$sec" -d 3
	server_stop
	[[ $CRC -eq 0 ]] || fail "client exited $CRC"
	checks \
		'rate within 1% of N/SEC' 'rate_achieved' "$n / $sec" 'abs(f / b - 1) <= 0.01' \
		'p50 within 1% of D' 'lat_us["p50"]' "$d_us" 'abs(f / b - 1) <= 0.01' \
		'no heartbeat dropped, every one answered' 'dropped' '0' \
		'f == 0 and errors == 0 and mismatches == 0 and round_trips > 0' \
		'each one'"'"'s lateness measured' 'send_lag_us["count"]' 'rate_achieved * duration_s' \
		'abs(f / b - 1) <= 0.01 and send_lag_us["p99"] <= send_lag_us["max"]' \
		'heartbeat_s reported' 'heartbeat_s' "$sec" 'f == b'
	;;
heartbeat-rate)
	[[ -z "${SAN:-}" ]] || { echo "skip: a sanitizer build is too slow for timing to 1%"; exit 77; }
	# The heartbeats' 200/s, and -r's 300/s on top through the FIFO of free
	# slots: a heartbeat's reply must not free a FIFO slot (else the FIFO
	# fills with duplicates), nor may a heartbeat in flight lose one.
	d_us=49808 n=100 sec=0.5 rate=300
	known_start -D "$d_us"
	run_client -n "$n" -H "$sec" -r "$rate" -d 3
	server_stop
	[[ $CRC -eq 0 ]] || fail "client exited $CRC"
	checks \
		'rate within 1% of N/SEC + RATE' 'rate_achieved' "$n / $sec + $rate" 'abs(f / b - 1) <= 0.01' \
		'p50 within 1% of D' 'lat_us["p50"]' "$d_us" 'abs(f / b - 1) <= 0.01' \
		'nothing dropped, every request answered' 'dropped' '0' \
		'f == 0 and errors == 0 and mismatches == 0 and round_trips > 0'
	;;
churn-rate)
	server_start 06_multi_epoll_server
	run_client -n 100 -r 2000 -x 5 --storm 20@1 -d 2
	server_stop
	[[ $CRC -eq 0 ]] || fail "client exited $CRC"
	checks \
		'the rate held' 'rate_achieved' '2000' 'abs(f / b - 1) <= 0.02 and dropped == 0' \
		'every connect counted at both ends' 'conns + reconnects' 'srv["accepted"]' \
		'f == b and connect_lat_us["count"] == b' \
		'each close (churned, lost or stormed) replaced' 'reconnects' 'churned + lost + storm_back' \
		'f == b and storm_back == storm_dropped == 20 and conns_open_at_end == conns_target' \
		'every request answered' 'replies + abandoned' 'requests_sent' \
		'f == b and errors == 0 and mismatches == 0'
	;;
storm)
	server_start 06_multi_epoll_server
	run_client -n 200 --storm 10@1 -d 2
	server_stop
	[[ $CRC -eq 0 ]] || fail "client exited $CRC"
	checks \
		'10% dropped' 'storm_dropped' '20' 'f == b' \
		'every dropped one back and answered' 'storm_back' 'storm_dropped' \
		'f == b and storm_recovery_s is not None and 0 < storm_recovery_s < 2' \
		'the server saw an RST for each' 'srv["resets"]' 'storm_dropped' 'f == b' \
		'the server accepted the ramp and the reconnects' 'srv["accepted"]' 'conns + storm_back' 'f == b' \
		'every connect timed' 'connect_lat_us["count"]' 'conns + storm_back' 'f == b' \
		'nothing unanswered but what the storm cut off' 'requests_sent' 'replies + abandoned' \
		'f == b and unanswered == 0 and errors == 0 and mismatches == 0'
	;;
refused)
	# A port nobody listens on (known_server's, once it has stopped):
	# every connect is refused, and counted as such, not as a connection.
	known_start
	server_stop
	run_client -n 10 -d 1
	[[ $CRC -eq 1 ]] || fail "client exited $CRC, want 1"
	checks \
		'every connect refused and counted' 'connect_errors' '10' 'f == b' \
		'none counted connected or timed' 'conns + connect_lat_us["count"] + lost' '0' 'f == b'
	;;
storm-heartbeat)
	# Heartbeats every 30 s: without the hello a reconnect would wait up
	# to 30 s for its phase, past the 3 s window, and not be answered.
	server_start 06_multi_epoll_server
	run_client -n 200 -H 30 --storm 10@1 -d 3
	server_stop
	[[ $CRC -eq 0 ]] || fail "client exited $CRC"
	checks \
		'every dropped one back and answered (its hello)' 'storm_back' 'storm_dropped' \
		'f == b == 20 and storm_recovery_s is not None and 0 < storm_recovery_s < 2' \
		'the server accepted the ramp and the reconnects' 'srv["accepted"]' 'conns + storm_back' 'f == b' \
		'no heartbeat dropped, nothing unanswered' 'requests_sent' 'replies + abandoned' \
		'f == b and dropped == 0 and unanswered == 0 and errors == 0 and mismatches == 0'
	;;
sizes)
	[[ $# -eq 2 ]] || usage
	sdir=$(ls -d "$2"_* 2>/dev/null | head -n 1)
	[[ -n "$sdir" && -x "$sdir/server" ]] || fail "no server for '$2'"
	# tests/pair.sh asserts the rest (every reply checked, the server
	# served every request); here that the sizes are what was asked and
	# the bytes moved both ways. SIZES (default "64K 1M") and SIZES_CONNS
	# (default 8 at 64K, 2 at 1M) narrow it for the servers that read one
	# 8-byte frame a recv() (10-13): 131,072 of them a MiB.
	for size in ${SIZES:-64K 1M}; do
		case $size in 64K) bytes=65536 n=8 d=1 ;; 1M) bytes=1048576 n=2 d=3 ;; *) usage ;; esac
		n=${SIZES_CONNS:-$n} d=${SIZES_SECONDS:-$d}
		echo "=== -l $size"
		CLIENT_CHECK="msg_bytes == $bytes and bytes_received >= $bytes and bytes_sent >= $bytes" \
			tests/pair.sh "$sdir" "$(dirname "$client")" -n "$n" -d "$d" -l "$size" ||
			fail "-l $size through $sdir"
	done
	;;
badargs)
	bad=0
	for p in $clients; do
		[[ "$p" == 04_* ]] && continue	# no -q or -l: its own lesson
		for a in "-q 0" "-l 7" "-l 2G" "-x -1" "-H 0" "--storm 150@2" "--storm 10@5 -d 3"; do
			# -p 1: a build that took the value connects to nothing
			# shellcheck disable=SC2086
			out=$(timeout 5 "$p" -p 1 -n 1 $a 2>"$TMP/err" </dev/null)
			rc=$?
			lines=$(wc -l <"$TMP/err")
			flag=${a%% *}
			if [[ $rc -ne 2 || -n "$out" || $lines -ne 1 ]] || ! grep -q -- ": $flag" "$TMP/err"; then
				echo "FAIL $p $a: exit $rc (want 2), $lines stderr lines (want 1 naming $flag), stdout '$out'"
				cat "$TMP/err"
				bad=$((bad + 1))
			else
				echo "ok   $p $a: $(cat "$TMP/err")"
			fi
		done
	done
	[[ $bad -eq 0 ]] || fail "$bad bad-input checks failed"
	;;
interface)
	bad=0
	want=$(05_multi_epoll_client/client -h | grep -m1 '^usage:' | grep -o '\[-[A-Za-z][] ]' | cut -c2-3 | sort | tr -d '\n')
	[[ "$want" == *-l* && "$want" == *-q* ]] || { echo "FAIL 05's synopsis lacks -q or -l: $want"; bad=$((bad + 1)); }
	for p in $clients; do
		d=$(dirname "$p")
		[[ "$d" == 04_* ]] && continue	# its own lesson, its own options
		got=$("$p" -L | python3 -c 'import json,sys; print(json.load(sys.stdin)["design"])')
		flags=$("$p" -h | grep -m1 '^usage:' | grep -o '\[-[A-Za-z][] ]' | cut -c2-3 | sort | tr -d '\n')
		helped=$("$p" -h | grep -Eo '^  -[A-Za-z]' | sort | tr -d '\n ')
		if [[ "$got" != "$d" ]]; then
			echo "FAIL $p: -L design '$got', want its directory '$d'"; bad=$((bad + 1))
		elif [[ "$flags" != "$want" || "$helped" != "$want" ]]; then
			echo "FAIL $p: synopsis '$flags', help '$helped'; want '$want'"; bad=$((bad + 1))
		else
			echo "ok   $p: design $got, options $flags"
		fi
	done
	[[ $bad -eq 0 ]] || fail "$bad clients differ"
	;;
buildlines)
	bad=0
	for f in [0-9][0-9]_*/client.c; do
		d=$(dirname "$f")
		cmd=$(sed -n 's/^ \* build: //p' "$f" | head -n 1)
		if [[ "$cmd" != "cc "*" -o $d/client "* ]]; then
			echo "FAIL $f: no ' * build: cc ... -o $d/client ...' line"; bad=$((bad + 1)); continue
		fi
		# the same command, its output moved to $TMP
		if ! bash -c "${cmd/ -o $d\/client / -o $TMP/client }" >"$TMP/build.log" 2>&1; then
			echo "FAIL $f: $cmd"; sed 's/^/  | /' "$TMP/build.log" | tail -n 5; bad=$((bad + 1)); continue
		fi
		got=$("$TMP/client" -L | python3 -c 'import json,sys; print(json.load(sys.stdin)["design"])')
		[[ "$got" == "$d" ]] || { echo "FAIL $f: built a client of '$got'"; bad=$((bad + 1)); continue; }
		echo "ok   $f: $cmd"
	done
	[[ $bad -eq 0 ]] || fail "$bad build lines failed"
	;;
consts)
	# Each #define of engine.h's shared block, and its value in 04.
	python3 - <<-'EOF' || fail "04_epoll_client/client.c drifted from engine.h"
	import re, sys
	def defs(path):
	    return {m.group(1): m.group(2).split("/*")[0].strip()
	            for m in re.finditer(r"^#define\s+(\w+)\s+(.+)$", open(path).read(), re.M)}
	eng, c04 = defs("05_multi_epoll_client/engine.h"), defs("04_epoll_client/client.c")
	shared = [k for k in eng if k not in ("C1M_ENGINE_H",)]
	bad = [k for k in shared if c04.get(k) != eng[k]]
	for k in shared:
	    print(("FAIL " if k in bad else "ok   ") + f"{k}: engine.h {eng[k]}, 04 {c04.get(k)}")
	sys.exit(1 if bad or not shared else 0)
	EOF
	;;
*) usage ;;
esac
echo "pass"
