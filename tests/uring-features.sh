#!/usr/bin/env bash
# tests/uring-features.sh CHECK - 14_io_uring's -F features, one check:
#   deny        C1M_URING_DENY refuses every feature but batch: the server
#               says each one once (two loops), runs without them, serves,
#               and its JSON "features" is what was left
#   direct-fds  with direct descriptors the server holds N connections with
#               a handful of fds in its loop's table (none per connection);
#               with -F none, one per connection (the control: the count is
#               really measured)
#   nodelay     with direct (no fd to set TCP_NODELAY on), a client that
#               writes 1 byte, then 1 more at once (its own TCP_NODELAY), gets
#               both back promptly: no 40 ms
#               Nagle + delayed-ACK stall (the socket inherits the listener's)
source "$(dirname "$0")/lib.sh"
[[ $# -eq 1 ]] || { echo "usage: tests/uring-features.sh deny|direct-fds|nodelay"; exit 2; }

# Hold N connections open, echo once on each, report, wait for stdin EOF.
hold() {
	python3 -c '
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
socks = []
for _ in range(n):
	s = socket.create_connection(("127.0.0.1", port)); s.sendall(b"12345678"); socks.append(s)
for s in socks:
	got = b""
	while len(got) < 8:
		c = s.recv(8 - len(got))
		if not c: sys.exit("closed early")
		got += c
print("held", n, flush=True)
sys.stdin.read()' "$@"
}

case $1 in
deny)
	C1M_URING_DENY=defer,coop,regring,direct,bundle server_start 14_io_uring -c 2 -F all
	14_io_uring/client -p "$SERVER_PORT" -n 200 -d 1 -i 1 >"$TMP/client.json" 2>/dev/null ||
		fail "client exited $?"
	json_check "$TMP/client.json" 'round_trips > 0' 'errors == 0' 'mismatches == 0'
	server_stop
	json_check "$SERVER_JSON" 'features == "batch"' 'errors == 0'
	for f in defer coop regring direct bundle; do
		n=$(grep -c "^14_io_uring/server: $f refused, running without it: " "$TMP/server.err")
		[[ $n -eq 1 ]] || fail "'$f refused' said $n times on stderr, want once"
	done
	n=$(grep -c refused "$TMP/server.err")
	[[ $n -eq 5 ]] || fail "$n 'refused' lines on stderr, want 5"
	;;
direct-fds)
	n=500
	for f in direct none; do
		server_start 14_io_uring -c 1 -F "$f"
		coproc HOLD { hold "$SERVER_PORT" "$n"; }
		read -r -t $((20 * STRETCH)) line <&"${HOLD[0]}" || fail "-F $f: could not hold $n connections"
		# Each loop has a private fd table: count the largest (a thread's).
		fds=$(for t in /proc/"$SERVER_PID"/task/*; do ls "$t/fd" | wc -l; done | sort -n | tail -n 1)
		echo "-F $f: $fds fds in the largest fd table while holding $n connections"
		exec {HOLD[1]}>&-
		wait "$HOLD_PID"
		server_stop
		json_check "$SERVER_JSON" "accepted == $n" 'errors == 0'
		if [[ $f == direct ]]; then
			json_check "$SERVER_JSON" 'features == "direct"'
			[[ $fds -lt 32 ]] || fail "direct: $fds fds for $n connections: not direct"
		else
			[[ $fds -ge $n ]] || fail "none: $fds fds for $n connections: the count measures nothing"
		fi
	done
	;;
nodelay)
	server_start 14_io_uring -c 1 -F direct
	python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
worst = 0
for i in range(40):
	t = time.monotonic()
	s.sendall(b"a"); s.sendall(b"b")
	got = b""
	while len(got) < 2:
		got += s.recv(2 - len(got))
	assert got == b"ab", got
	worst = max(worst, time.monotonic() - t)
print(f"worst of 40 two-byte rounds: {worst * 1e3:.1f} ms")
sys.exit(0 if worst < 0.030 else 1)' "$SERVER_PORT" || fail "replies stalled: Nagle is on (no TCP_NODELAY)"
	server_stop
	json_check "$SERVER_JSON" 'features == "direct"'
	;;
*) echo "usage: tests/uring-features.sh deny|direct-fds|nodelay"; exit 2 ;;
esac
echo pass
