#!/usr/bin/env bash
# tests/restart.sh CASE - a server restart, and the client's -X that rides
# it out, against known_server -K AT_MS:DOWN_MS (a restart with a known
# answer: AT_MS after its first accept it closes every connection and its
# listener, refuses connects for DOWN_MS, then listens again).
#
#   back      -X on 200 connections, the server down 500 ms: every
#             connection dropped (restart_dropped == the server's
#             restart_closed == 200) came back and was answered
#             (restart_back), the server accepted exactly the client's
#             connects (conns + reconnects), each refused connect was
#             retried (restart_retries > 0), recovery took at least the
#             time the server was down, nothing unanswered but what the
#             restart cut off; exit 0
#   down      the same against a server that stays down past the run: the
#             client says so (restart_back 0, no recovery time) and exits 1
#   nox       without -X the client is as before: every connection the
#             server closed is lost (lost == 200, restart_* 0), exit 1
#   badargs   known_server -K malformed, and -X with -x or --storm, for
#             every client but 04's: one line on stderr, exit 2
#   runsh     ./run.sh 06 -n 200 -d 3 --restart-at 1: the run passes, the
#             client had -X and no -P, a second server (another PID, the
#             same port) was started, the result validates and keeps the
#             first server's JSON; all 200 connections dropped and back,
#             the first server accepted the ramp (and perhaps early
#             reconnects) and the second one each connection again;
#             the printed line says so; nothing left running
#
# Env: RESTART_CLIENT, a client binary to use instead of
# 05_multi_epoll_client/client (a broken build, to see a case fail);
# KNOWN_SERVER, a known_server instead of $UNIT_DIR/known_server.
#
# sample output (tests/restart.sh back):
#   ok   every connection dropped: 200 vs 200 (+0.00%)
#   ok   every dropped one back and answered: 200 vs 200 (+0.00%)
#   ...
#   pass
source "$(dirname "$0")/lib.sh"

usage() {
	echo "usage: tests/restart.sh back|down|nox|badargs|runsh" >&2
	exit 2
}
[[ $# -eq 1 ]] || usage
mode=$1
client=${RESTART_CLIENT:-05_multi_epoll_client/client}
server=${KNOWN_SERVER:-${UNIT_DIR:-build/plain/tests}/known_server}
[[ -x "$client" ]] || fail "no client at $client (make -s)"
rt=()
n=200 at_ms=800 down_ms=500

run_client() { # ARGS...: $TMP/client.json, CRC
	echo "--- $client -p PORT $*"
	"$client" -p "$SERVER_PORT" -i 1 "$@" >"$TMP/client.json" 2>"$TMP/client.err"
	CRC=$?
	cat "$TMP/client.err"
	echo "--- client json (exit $CRC)"; cut -c1-600 "$TMP/client.json"
}


# one_line_exit2 PROGRAM ARGS...: one line on stderr, nothing on stdout, exit 2
one_line_exit2() {
	local out rc lines
	out=$(timeout 5 "$@" 2>"$TMP/err" </dev/null)
	rc=$?
	lines=$(wc -l <"$TMP/err")
	if [[ $rc -ne 2 || -n "$out" || $lines -ne 1 ]]; then
		echo "FAIL $*: exit $rc (want 2), $lines stderr lines (want 1), stdout '$out'"
		cat "$TMP/err"
		return 1
	fi
	echo "ok   $*: $(cat "$TMP/err")"
}

case "$mode" in
back)
	known_start -K "$at_ms:$down_ms"
	run_client -n "$n" -d 3 -X
	server_stop
	[[ $CRC -eq 0 ]] || fail "client exited $CRC, want 0"
	checks \
		'the server restarted once, down DOWN_MS' 'srv["down_ms"]' "$down_ms" \
		'srv["restarted"] == 1 and f >= b' \
		'every connection dropped' 'restart_dropped' "$n" \
		"f == b == conns == srv['restart_closed']" \
		'every dropped one back and answered' 'restart_back' 'restart_dropped' 'f == b' \
		'the server accepted every connect of the client' 'srv["accepted"]' 'conns + reconnects' \
		'f == b and connect_lat_us["count"] == b and reconnects == restart_back' \
		'refused connects retried' 'restart_retries' '0' 'f > b' \
		'recovery at least the time down' 'restart_recovery_s' "$down_ms / 1000" 'f >= b' \
		'nothing unanswered but what the restart cut off' 'requests_sent' 'replies + abandoned' \
		'f == b and unanswered == 0 and errors == 0 and lost == 0 and mismatches == 0' \
		'every connection open at the end' 'conns_open_at_end' "$n" 'f == b'
	;;
down)
	# Down for a minute: the run (3 s) ends with the server still down.
	known_start -K "$at_ms:60000"
	run_client -n "$n" -d 3 -X
	server_stop
	[[ $CRC -eq 1 ]] || fail "client exited $CRC with its connections still down, want 1"
	checks \
		'every connection dropped' 'restart_dropped' "$n" "f == b == srv['restart_closed']" \
		'none back' 'restart_back' '0' 'f == b and restart_recovery_s is None' \
		'retried all along' 'restart_retries' "$n" 'f > b' \
		'the server accepted only the ramp' 'srv["accepted"]' 'conns' 'f == b and reconnects == 0'
	;;
nox)
	known_start -K "$at_ms:$down_ms"
	run_client -n "$n" -d 3
	server_stop
	[[ $CRC -eq 1 ]] || fail "client without -X exited $CRC after losing its connections, want 1"
	checks \
		'every connection lost' 'lost' "$n" 'f == b and reconnect == 0' \
		'no -X figures' 'restart_dropped + restart_back + restart_retries' '0' \
		'f == b and restart_recovery_s is None and reconnects == 0' \
		'the server accepted only the ramp' 'srv["accepted"]' 'conns' 'f == b'
	;;
badargs)
	[[ -x "$server" ]] || fail "no known_server at $server (make -s)"
	bad=0
	for k in 1000 a:5 5:b -1:5 5:0 5:-1 1:2:3 ""; do
		one_line_exit2 "$server" -p 0 -K "$k" || bad=$((bad + 1))
	done
	for p in $(ls -d [0-9][0-9]_*/client 2>/dev/null) "$client"; do
		[[ "$p" == 04_* ]] && continue	# its own lesson: no -X
		# -p 1: a build that took the flags connects to nothing
		for a in "-X -x 5" "-X --storm 10@1"; do
			# shellcheck disable=SC2086
			one_line_exit2 "$p" -p 1 -n 1 $a || bad=$((bad + 1))
			grep -q -- ': -X' "$TMP/err" || { echo "FAIL $p $a: the line names no -X"; bad=$((bad + 1)); }
		done
	done
	"$client" -h | grep -q -- '^  -X' || { echo "FAIL $client -h: no -X"; bad=$((bad + 1)); }
	[[ $bad -eq 0 ]] || fail "$bad bad-input checks failed"
	;;
runsh)
	# As tests/runsh-workload.sh: results and the tuning state somewhere temporary.
	export RESULTS_DIR=$TMP/results C1M_TUNE_STATE=/tmp/c1m-tune-restart-test.$$
	./run.sh 06 -n "$n" -d 3 -p 0 --restart-at 1 --no-build >"$TMP/out" 2>&1
	rc=$?
	[[ -s "$C1M_TUNE_STATE" ]] && scripts/tune.sh --undo
	rm -f "$C1M_TUNE_STATE"
	cat "$TMP/out"
	[[ $rc -eq 0 ]] || fail "./run.sh 06 --restart-at 1 exited $rc"
	files=("$RESULTS_DIR"/06-*.json)
	[[ ${#files[@]} -eq 1 && -f "${files[0]}" ]] || fail "want one $RESULTS_DIR/06-*.json, have: ${files[*]}"
	python3 - "${files[0]}" "$n" <<-'EOF' || fail "result file ${files[0]}"
	import json, sys
	sys.path.insert(0, "scripts")
	from c1m import schema
	r = json.load(open(sys.argv[1]))
	n = int(sys.argv[2])
	schema.validate(r)
	s, c, rs = r["summary"], r["client"], r["restart"]
	b, a = r["server_before_restart"], r["server"]
	args = r["argv"]["clients"][0]
	assert s["status"] == "ok" and c["errors"] == 0 and c["mismatches"] == 0, s
	assert "-X" in args and "-P" not in args, args
	assert rs["done"] and rs["server_pid"] != rs["server_pid_before"], rs
	port = args[args.index("-p") + 1]
	assert rs["argv"][rs["argv"].index("-p") + 1] == port != "0", (rs["argv"], port)
	assert s["restart_at_s"] == 1 and 0 < s["restart_down_s"] == rs["down_s"], s
	assert s["restart_dropped"] == s["restart_back"] == c["conns"] == n, s
	assert s["restart_recovery_s"] is not None and s["restart_recovery_s"] > 0, s
	# A reconnect may reach the stopping server before it closes its
	# listeners: accepted there and dropped again (b > n), or reset in its
	# backlog (counted by the client, never accepted). So the first server
	# accepted the ramp and maybe more, the second each connection once,
	# and no server accepted a connect the client did not make.
	assert b["accepted"] >= n and a["accepted"] == n <= c["reconnects"], (
	    b["accepted"], a["accepted"], c["reconnects"])
	assert b["accepted"] + a["accepted"] <= n + c["reconnects"], (
	    b["accepted"], a["accepted"], c["reconnects"])
	assert c["requests_sent"] == c["replies"] + c["abandoned"], c
	print("ok   result: %d dropped, %d back, %d retries, recovered in %.3f s, down %.3f s" % (
	    s["restart_dropped"], s["restart_back"], s["restart_retries"], s["restart_recovery_s"],
	    s["restart_down_s"]))
	EOF
	grep -q "^restart at 1 s: server down .*; $n dropped, $n back, .* retries, recovered in " "$TMP/out" ||
		fail "no summary line for the restart"
	grep -q "^restart: the server is back (pid " "$TMP/out" || fail "no restart said"
	for pid in $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["restart"]["server_pid_before"], r["restart"]["server_pid"], r["run"]["client_pid"])' "${files[0]}"); do
		! kill -0 "$pid" 2>/dev/null || fail "process $pid still running after run.sh"
	done
	;;
*) usage ;;
esac
echo pass
