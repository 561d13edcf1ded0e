#!/usr/bin/env bash
# tests/uring-features.sh CHECK - 14_io_uring's -F features, one check:
#   each        every feature alone, none and all (-F none|defer|coop|batch|
#               all): the pair runs clean, replies equal requests, and the
#               JSON's "features" says what was in effect (coop is moot
#               once defer took, so all is defer,batch)
#   badarg      -F bogus, -F defer,,nope and a bare -F: exit 2 with a first
#               line naming -F; a bad C1M_URING_DENY: exit 2
#   deny        C1M_URING_DENY refuses defer and coop: the server says each
#               once (two loops), runs without them, serves, and its JSON
#               "features" is what was left
#   nodelay     the server's accepted socket has TCP_NODELAY (it is set on
#               the listener only, and inherited); read from the socket
#               itself (pidfd_getfd). A server without it fails this.
source "$(dirname "$0")/lib.sh"
[[ $# -eq 1 ]] || { echo "usage: tests/uring-features.sh each|badarg|deny|nodelay"; exit 2; }

case $1 in
each)
	for f in none defer coop batch all; do
		case $f in all) want=defer,batch ;; *) want=$f ;; esac
		SERVER_ARGS="-F $f" SERVER_CHECK="features == '$want'" \
			tests/pair.sh 14_io_uring 05_multi_epoll_client -n 200 -d 1 >"$TMP/feat.log" 2>&1 ||
			{ cat "$TMP/feat.log"; fail "-F $f"; }
		echo "ok -F $f"
	done
	;;
badarg)
	for a in "-F bogus" "-F defer,,nope" "-F"; do
		# shellcheck disable=SC2086
		14_io_uring/server -p 0 $a >/dev/null 2>"$TMP/fb.err"
		rc=$?
		[[ $rc -eq 2 && $(head -n 1 "$TMP/fb.err") == *-F* ]] ||
			{ cat "$TMP/fb.err"; fail "'$a' exit $rc, want 2 and a first line naming -F"; }
	done
	C1M_URING_DENY=nope 14_io_uring/server -p 0 2>/dev/null
	[[ $? -eq 2 ]] || fail "bad C1M_URING_DENY"
	;;
deny)
	C1M_URING_DENY=defer,coop server_start 14_io_uring -c 2 -F all
	14_io_uring/client -p "$SERVER_PORT" -n 200 -d 1 -i 1 >"$TMP/client.json" 2>/dev/null ||
		fail "client exited $?"
	json_check "$TMP/client.json" 'round_trips > 0' 'errors == 0' 'mismatches == 0'
	server_stop
	json_check "$SERVER_JSON" 'features == "batch"' 'errors == 0'
	for f in defer coop; do
		n=$(grep -c "^14_io_uring/server: $f refused, running without it: " "$TMP/server.err")
		[[ $n -eq 1 ]] || fail "'$f refused' said $n times on stderr, want once"
	done
	n=$(grep -c refused "$TMP/server.err")
	[[ $n -eq 2 ]] || fail "$n 'refused' lines on stderr, want 2"
	;;
nodelay)
	server_start 14_io_uring -c 1
	# The accepted socket itself, taken from the loop thread's fd table
	# with pidfd_getfd (root, Linux 5.6; a thread's pidfd: 6.9).
	python3 - "$SERVER_PID" "$SERVER_PORT" <<'EOF' || fail "an accepted socket without TCP_NODELAY (or none found)"
import ctypes, os, socket, sys, time
libc = ctypes.CDLL(None, use_errno=True)
pid, port = int(sys.argv[1]), int(sys.argv[2])
c = socket.create_connection(("127.0.0.1", port)); c.sendall(b"12345678"); c.recv(8)
checked = 0
for tid in os.listdir(f"/proc/{pid}/task"):
    pfd = libc.syscall(434, int(tid), os.O_EXCL if int(tid) != pid else 0)  # pidfd_open, PIDFD_THREAD
    if pfd < 0: continue
    for fd in os.listdir(f"/proc/{pid}/task/{tid}/fd"):
        if not os.readlink(f"/proc/{pid}/task/{tid}/fd/{fd}").startswith("socket:"): continue
        g = libc.syscall(438, pfd, int(fd), 0)  # pidfd_getfd
        if g < 0: continue
        s = socket.socket(fileno=g)
        try:
            s.getpeername()
        except OSError:
            s.close(); continue   # the listener
        nd = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        print(f"thread {tid} fd {fd}: accepted, TCP_NODELAY={nd}")
        checked += 1
        s.close()
        if not nd: sys.exit(1)
    os.close(pfd)
sys.exit(0 if checked else 2)
EOF
	server_stop
	;;
*) echo "usage: tests/uring-features.sh each|badarg|deny|nodelay"; exit 2 ;;
esac
echo pass
