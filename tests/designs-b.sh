#!/usr/bin/env bash
# tests/designs-b.sh CASE - designs 10-13 (requests that wait or prove work) as
# a pair at 50 connections for 2 s (tests/pair.sh), then checks on the two
# JSON lines it printed: the wait or the work really happened, and 10 in
# block mode really stalls (rps at its cap) while timer mode does not.
#
#   10-block   10 -c 1 -w 5000 -m block: p50 >= 100 ms (50 connections
#              queue behind one sleeping loop), rps within 5% of cap_rps
#   10-timer   10 -w 5000 -m timer: 5 ms <= p50 < 50 ms, rps > 1000
#   11         11 -w 5000: the same bounds, a thread per connection
#   12         12 -b 8: one proof is 256 hashes on average (180..340 seen)
#   13         13 -b 8: the same, and a thread per connection
# Every case also asserts work == requests (or hashes_per_request): no
# request skipped its wait or its work.
source "$(dirname "$0")/lib.sh"
usage="usage: tests/designs-b.sh 10-block|10-timer|11|12|13"
[[ $# -eq 1 ]] || { echo "$usage" >&2; exit 2; }

# pair DIR SERVER_ARGS: the pair, its output in $TMP/pair.out, the client's
# JSON line in $TMP/client.json, the server's in $TMP/server.json.
pair() {
	local rc
	SERVER_ARGS=$2 tests/pair.sh "$1" "$1" -n 50 -d 2 >"$TMP/pair.out" 2>&1
	rc=$?
	cat "$TMP/pair.out"
	[[ $rc -eq 0 ]] || fail "tests/pair.sh $1 exited $rc"
	sed -n '/^--- client json/{n;p;}' "$TMP/pair.out" >"$TMP/client.json"
	sed -n '/^--- server json/{n;p;}' "$TMP/pair.out" >"$TMP/server.json"
}

# The server's start line for -b 8 states the work it will do.
proof_line() {
	grep -q "one proof of 8 bits = 256 hashes" "$TMP/pair.out" ||
		fail "no 'one proof of 8 bits = 256 hashes' line"
}

case $1 in
10-block)
	pair 10_io_bound_epoll "-c 1 -w 5000"
	json_check "$TMP/client.json" 'lat_us["p50"] >= 100000'
	json_check "$TMP/server.json" 'mode == "block"' 'rps <= cap_rps * 1.05' 'work == requests'
	;;
10-timer)
	pair 10_io_bound_epoll "-w 5000 -m timer"
	json_check "$TMP/client.json" 'lat_us["p50"] >= 5000' 'lat_us["p50"] < 50000'
	json_check "$TMP/server.json" 'mode == "timer"' 'rps > 1000' 'work == requests'
	;;
11)
	pair 11_io_bound_threads "-w 5000"
	json_check "$TMP/client.json" 'lat_us["p50"] >= 5000' 'lat_us["p50"] < 50000'
	json_check "$TMP/server.json" 'rps > 1000' 'threads_peak >= 50' 'work == requests'
	;;
12)
	pair 12_cpu_bound_epoll "-b 8"
	proof_line
	json_check "$TMP/server.json" 'bits == 8' 'requests >= 200' '180 < hashes_per_request < 340'
	;;
13)
	pair 13_cpu_bound_threads "-b 8"
	proof_line
	json_check "$TMP/server.json" 'bits == 8' 'requests >= 200' '180 < hashes_per_request < 340' \
		'threads_peak >= 50'
	;;
*) echo "$usage" >&2; exit 2 ;;
esac
echo pass
