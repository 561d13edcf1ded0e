#!/usr/bin/env bash
# tests/uring.sh CASE - the checks of 14_io_uring that a pair run cannot make.
#
#   unavailable  io_uring_setup failing with EPERM or ENOSYS (injected with
#                strace): server and client each exit 77 with one line on
#                stderr saying "io_uring unavailable", nothing on stdout
#   slow-reader  a peer writes 8 MB through a 4 KB receive buffer and reads
#                slowly (tests/slow_reader.py): every byte comes back in
#                order, the server paused reading it, no errors
#   park         with 64 buffers, a peer writes 16 MB and reads nothing for
#                a while: another client's 20 echoes each come within 2 s,
#                the parked reader never held more than MAX_HELD (4) of the
#                ring (its flood was copied out, "spilled", instead of
#                holding the ring dry), then every byte comes back in order
source "$(dirname "$0")/lib.sh"
usage="usage: tests/uring.sh unavailable|slow-reader|park"
[[ $# -eq 1 ]] || { echo "$usage" >&2; exit 2; }

case $1 in
unavailable)
	command -v strace >/dev/null || { echo "no strace"; exit 77; }
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
	for p in server client; do
		for e in EPERM ENOSYS; do
			strace -f -qq -o /dev/null -e trace=io_uring_setup \
				-e inject=io_uring_setup:error=$e 14_io_uring/$p -p 1 \
				>"$TMP/$p.out" 2>"$TMP/$p.err"
			rc=$?
			cat "$TMP/$p.err"
			if ! [[ $rc -eq 77 && ! -s "$TMP/$p.out" && $(wc -l <"$TMP/$p.err") -eq 1 ]] ||
				! grep -q "io_uring unavailable" "$TMP/$p.err"; then
				fail "$p with io_uring_setup -> $e: exit $rc, want 77 and one line"
			fi
		done
	done
	;;
slow-reader)
	server_start 14_io_uring -c 1
	python3 tests/slow_reader.py "$SERVER_PORT" || fail "slow reader: echo differs"
	server_stop
	json_check "$SERVER_JSON" "paused > 0" "errors == 0" "requests == (8 << 20) // 8"
	;;
park)
	server_start 14_io_uring -c 1 -B 64
	python3 tests/slow_reader.py "$SERVER_PORT" --park || fail "a parked reader held up another client, or its echo differs"
	server_stop
	json_check "$SERVER_JSON" "paused > 0" "spilled > 0" "held_max <= 4" "errors == 0"
	;;
*) echo "$usage" >&2; exit 2 ;;
esac
echo pass
