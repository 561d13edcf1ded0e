#!/usr/bin/env bash
# tests/epoll-line.sh CHECK DIR - the checks of the epoll line that a pair
# run cannot make, against DIR/server.
#
#   bulk DIR   tests/bulk_echo.py: bulk echo through short writes, parked
#              output, a ping-pong peer answered meanwhile, 100 peers that
#              half-close right after a request; then no fd leaked and
#              every byte counted as requests, no errors.
#   cap DIR    at the fd cap (hard RLIMIT_NOFILE 200 for the server only):
#              the start line names the ceiling (about 168 connections);
#              300 connections fail visibly (the client exits non-zero with
#              the ~100 the server never took counted unanswered, and the
#              server warns that accept paused); once they are gone, a
#              smaller run passes. The client runs closed-loop so every
#              connection carries a request: at a paced rate a starved
#              client may never reach the connections past the cap and
#              pass. For 03 also: the server is one thread.
usage="usage: tests/epoll-line.sh bulk|cap DIR"
[[ $# -eq 2 && -d "$2" ]] || { echo "$usage" >&2; exit 2; }
check=$1 dir=$2
# shellcheck disable=SC2034 # server_start (tests/lib.sh) reads it
[[ $check == cap ]] && SERVER_NOFILE=200
source "$(dirname "$0")/lib.sh"

# The number of fds the server holds now.
server_fds() {
	ls "/proc/$SERVER_PID/fd" | wc -l
}

case $check in
bulk)
	server_start "$dir"
	fds=$(server_fds)
	python3 tests/bulk_echo.py "$SERVER_PORT" || fail "bulk echo"
	sleep 0.3
	[[ $(server_fds) -eq $fds ]] || fail "fds leaked: $(server_fds), want $fds"
	server_stop
	json_check "$SERVER_JSON" 'errors == 0' 'requests >= 4 * (4 << 20) / 8'
	;;
cap)
	server_start "$dir"
	if [[ $dir == 03_* && "${SAN:-}" != thread ]]; then
		grep -q "^Threads:.1$" "/proc/$SERVER_PID/status" || fail "03 runs more than one thread"
	fi
	grep -q "one fd table holds every connection: about 168 " "$TMP/server.err" ||
		fail "no ceiling line"
	05_multi_epoll_client/client -p "$SERVER_PORT" -n 300 -c 2 -d 1 >"$TMP/c1" 2>"$TMP/c1.err" &&
		fail "300 conns past the cap passed"
	json_check "$TMP/c1" 'conns == 300' 'unanswered >= 300 - 200'
	grep -q "accept at .* conns: paus" "$TMP/server.err" || fail "no EMFILE warning"
	sleep 0.5
	05_multi_epoll_client/client -p "$SERVER_PORT" -n 100 -d 1 -r 200 ||
		fail "no recovery after the cap"
	server_stop
	json_check "$SERVER_JSON" 'conns_peak >= 168' 'accepted >= 300'
	;;
*) echo "$usage" >&2; exit 2 ;;
esac
echo pass
