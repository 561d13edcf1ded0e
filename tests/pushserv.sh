#!/usr/bin/env bash
# tests/pushserv.sh NN [CHECK...] - the push mode (-b/-R, -l, -Q) of server NN, checked
# byte by byte by tests/pushread.py, each check on a server of its own:
#
#   bad flags   -b 0, -R -1, -l past 1 MiB, -Q below one push, -b with -R:
#               exit 2, one line naming the flag (+ the synopsis), no stdout
#   no push     without -b/-R: only echoes come back (no push), the JSON has
#               no push keys, and -L says push:1 (the design has the flags)
#   broadcast   -b 0.2, 200 connections read until the server stops (~2 s):
#               no push missing or bad, every connection got the same number
#               of broadcasts (+-1), at least 8 each, and the readers' pushes
#               equal the server's pushes_sent exactly (a push is counted
#               once its last byte is written)
#   rate        -R 2000 over 100 connections for 1.5 s: the pushes per
#               second of scheduled time within 3% of 2000, every
#               connection served, nothing missing
#   few         -R 400 over 3 connections with -c 4 (a loop or child has
#               none): still 400 pushes/s, a third each (+-2 pushes), as a
#               loop's share of the rate follows its share of the connections
#   echo        -b 0.05 while 50 connections ping-pong frames sent in two
#               writes 5 ms apart: every echo equals its frame and every
#               push is whole, so a push never lands inside a frame
#   large       -l 65536 -Q 1048576 -b 0.2: every 65,560-byte push intact
#
# CHECK (bad, nopush, broadcast, rate, few, echo, large) runs only those; the
# default is all. The servers with -c get -c 2, so two loops (or children)
# push. The list of pushing designs is tests/pushserv.cases (one line each);
# tests/push-mutants.py shows the checks fail on a server that skips a
# push, splits a frame, ignores its share of -R or garbles a body.
source "$(dirname "$0")/lib.sh"
usage="usage: tests/pushserv.sh NN [bad|nopush|broadcast|rate|few|echo|large ...]"
[[ $# -ge 1 && $1 =~ ^[0-9][0-9]$ ]] || { echo "$usage" >&2; exit 2; }
dir=$(ls -d "$1"_* 2>/dev/null | head -n 1)
shift
checks=("$@")
[[ ${#checks[@]} -gt 0 ]] || checks=(bad nopush broadcast rate few echo large)
[[ -n "$dir" && -x "$dir/server" ]] || fail "no $1_*/server built (make -s)"
extra=()
"$dir/server" -h | grep -q '^usage:.*\[-c N\]' && extra=(-c 2)

# reader ARGS...: tests/pushread.py on the server; its JSON in $TMP/read.json.
reader() {
	python3 tests/pushread.py -p "$SERVER_PORT" "$@" >"$TMP/read.json" 2>"$TMP/read.err"
	READ_RC=$?
	echo "--- pushread $*"; cat "$TMP/read.json"
}

check_bad() {
	# "the flags|the flag the error must name"
	for t in "-b 0|-b" "-R -1|-R" "-R x|-R" "-l 2000000|-l" "-l -1|-l" "-Q 10|-Q" \
		"-l 100 -Q 100|-Q" "-b 1 -R 5|-R"; do
		bad=${t%|*} flag=${t#*|}
		# shellcheck disable=SC2086 # the flags split on purpose
		out=$("$dir/server" -p 0 $bad 2>"$TMP/bad.err" </dev/null)
		rc=$?
		[[ $rc -eq 2 ]] || fail "$dir/server $bad: exit $rc, want 2"
		[[ -z "$out" ]] || fail "$dir/server $bad: printed on stdout: $out"
		[[ $(wc -l <"$TMP/bad.err") -le 2 ]] || fail "$dir/server $bad: more than one line: $(cat "$TMP/bad.err")"
		grep -q -- "$flag" <(head -n 1 "$TMP/bad.err") ||
			fail "$dir/server $bad: the error does not name $flag: $(head -n 1 "$TMP/bad.err")"
	done
}

check_nopush() {
	"$dir/server" -L | grep -q '"push":1' || fail "$dir/server -L does not say push:1"
	server_start "$dir" "${extra[@]}"
	reader -n 20 -d 0.5 --echo
	[[ $READ_RC -eq 0 ]] || fail "pushread failed without push flags"
	json_check "$TMP/read.json" 'pushes == 0' 'echoes > 20' 'bad == 0'
	server_stop
	grep -q '"pushes_sent"' "$SERVER_JSON" && fail "the JSON has push keys without -b/-R"
	json_check "$SERVER_JSON" 'errors == 0'
}

check_broadcast() {
	local sent reader_pid rc
	server_start "$dir" "${extra[@]}" -b 0.2
	python3 tests/pushread.py -p "$SERVER_PORT" -n 200 -d $((20 * STRETCH)) --eof -b 0.2 \
		>"$TMP/read.json" 2>"$TMP/read.err" &
	reader_pid=$!
	for _ in $(seq 1 $((100 * STRETCH))); do
		grep -q "connections up" "$TMP/read.err" && break
		sleep 0.05
	done
	grep -q "connections up" "$TMP/read.err" || { kill "$reader_pid"; fail "pushread did not connect"; }
	sleep 2.1
	server_stop
	wait "$reader_pid"
	rc=$?
	echo "--- pushread"; cat "$TMP/read.json"
	[[ $rc -eq 0 ]] || fail "pushread found pushes missing or bad, or connections left open (exit $rc)"
	sent=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pushes_sent"])' "$SERVER_JSON")
	json_check "$TMP/read.json" "pushes == $sent" 'missing == 0' 'bad == 0' 'eof == 200' \
		'min_per_conn >= 8' 'max_per_conn - min_per_conn <= 1' 'push_bytes == 32 * pushes'
	json_check "$SERVER_JSON" "push_bytes == 32 * pushes_sent" 'slow_dropped == 0' 'errors == 0'
}

check_rate() {
	local n=()
	# 01 (a thread per connection) spreads -R over -n CONNS threads.
	"$dir/server" -h | grep -q -- '-R.*needs -n' && n=(-n 100)
	server_start "$dir" "${extra[@]}" "${n[@]}" -R 2000
	reader -n 100 -d 1.5
	[[ $READ_RC -eq 0 ]] || fail "pushread found pushes missing or bad in rate mode"
	json_check "$TMP/read.json" 'abs(rate - 2000) <= 60' 'min_per_conn >= 1' 'missing == 0' \
		'pushes >= 1000'
	server_stop
	json_check "$SERVER_JSON" 'push_rate == 2000' 'errors == 0'
}

check_few() {
	local c=() n=()
	"$dir/server" -h | grep -q '^usage:.*\[-c N\]' && c=(-c 4)
	"$dir/server" -h | grep -q -- '-R.*needs -n' && n=(-n 3)
	server_start "$dir" "${c[@]}" "${n[@]}" -R 400
	reader -n 3 -d 1.5
	[[ $READ_RC -eq 0 ]] || fail "pushread found pushes missing or bad over 3 connections"
	json_check "$TMP/read.json" 'abs(rate - 400) <= 12' 'max_per_conn - min_per_conn <= 2' \
		'missing == 0'
	server_stop
	json_check "$SERVER_JSON" 'errors == 0'
}

check_echo() {
	server_start "$dir" "${extra[@]}" -b 0.05
	reader -n 50 -d 1.5 --split -b 0.05
	[[ $READ_RC -eq 0 ]] || fail "pushread found a push inside a frame, or a bad echo"
	json_check "$TMP/read.json" 'echoes >= 50' 'pushes >= 50 * 10' 'bad == 0' 'missing == 0'
	server_stop
	json_check "$SERVER_JSON" 'requests > 0' 'pushes_sent > 0' 'errors == 0'
}

check_large() {
	server_start "$dir" "${extra[@]}" -b 0.2 -l 65536 -Q 1048576
	reader -n 20 -d 1.2 -l 65536 -b 0.2
	[[ $READ_RC -eq 0 ]] || fail "pushread found a 64 KiB push missing or bad"
	json_check "$TMP/read.json" 'pushes >= 20 * 4' 'push_bytes == 65560 * pushes' 'bad == 0'
	server_stop
	json_check "$SERVER_JSON" 'push_body == 65536' 'slow_dropped == 0'
}

for c in "${checks[@]}"; do
	declare -F "check_$c" >/dev/null || { echo "$usage" >&2; exit 2; }
done
for c in "${checks[@]}"; do
	echo "== $c"
	"check_$c"
done
echo "push checks passed for $dir: ${checks[*]}"
