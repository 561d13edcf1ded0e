#!/usr/bin/env bash
# tests/copyout.sh DESIGN... - each design is a lesson that stands alone.
#
# For each DESIGN (a number, 06, or a directory, 06_multi_epoll_server):
#   - copy only NN_*/ and common/ into an empty temporary directory, as a
#     reader would (without the suite's built programs);
#   - build the server there with the one-line command of the line starting
#     " * build: " in NN_*/server.c's head comment, as written (cc is
#     whatever cc is). A client.c with its own code (it does not #include
#     another directory's, as 04's and 05's) is built the same way from its
#     own head comment;
#   - run the copied-out server (-p 0) against the copied-out client, or
#     else the suite's own 05_multi_epoll_client/client, at -n 100 -d 2;
#   - assert the client's JSON: round_trips > 0, errors == 0,
#     mismatches == 0; and that the server exits 0 on SIGTERM with its
#     JSON line.
# A design whose server exits 77 at start (14 without io_uring) is skipped.
# Servers that take -w (10, 11) or -b (12, 13) get -w 1000 / -b 8 so that
# 2 s are plenty; whether they take it is asked with "-w 1000 -L".
#
# Exit 0 when every design passed, 77 when every one was skipped, else 1;
# each failure prints one line naming the design and why.
set -u
cd "$(dirname "$0")/.." || exit 1
STRETCH=${C1M_TEST_STRETCH:-1}
CLIENT05=05_multi_epoll_client/client
WORK='' SERVER_PID=''

cleanup() {
	if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -KILL "$SERVER_PID" 2>/dev/null
		wait "$SERVER_PID" 2>/dev/null
	fi
	SERVER_PID=''
	[[ -n "$WORK" ]] && rm -rf "$WORK"
	WORK=''
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

# The command of the " * build: " line in FILE's head comment (before its
# first "*/"), or nothing.
build_line() {
	awk 'NR == 1 && !/^\/\*/ { exit }
	     /^ \* build: / { sub(/^ \* build: /, ""); print; exit }
	     /\*\// { exit }' "$1"
}

# Build PROG (server or client) of DIR inside $WORK with its build line.
build() { # DIR PROG
	local dir=$1 prog=$2 cmd
	cmd=$(build_line "$dir/$prog.c")
	if [[ -z "$cmd" ]]; then
		why="$dir/$prog.c has no ' * build: ' line in its head comment"
		return 1
	fi
	if [[ "$cmd" != "cc "* || " $cmd " != *" -o $dir/$prog "* ]]; then
		why="$dir/$prog.c's build line is not 'cc ... -o $dir/$prog ...': $cmd"
		return 1
	fi
	echo "build: $cmd"
	if ! (cd "$WORK" && bash -c "$cmd") >"$WORK/build-$prog.log" 2>&1; then
		sed 's/^/  | /' "$WORK/build-$prog.log" | tail -n 20
		why="the build line of $dir/$prog.c failed in a copy of $dir/ and common/ alone"
		return 1
	fi
	[[ -x "$WORK/$dir/$prog" ]] || { why="the build line made no $dir/$prog"; return 1; }
}

# Start $WORK/DIR/server on a free port; sets SERVER_PID and PORT.
start_server() { # DIR ARGS...
	local dir=$1 rc
	shift
	"$WORK/$dir/server" -p 0 -i 1 "$@" >"$WORK/server.out" 2>"$WORK/server.err" </dev/null &
	SERVER_PID=$!
	for _ in $(seq 1 $((100 * STRETCH))); do
		PORT=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$WORK/server.err" | head -n 1)
		[[ -n "$PORT" ]] && return 0
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			wait "$SERVER_PID"
			rc=$?
			SERVER_PID=''
			cat "$WORK/server.err"
			((rc == 77)) && return 77
			why="the copied-out server exited $rc at start: $(tail -n 1 "$WORK/server.err")"
			return 1
		fi
		sleep 0.05
	done
	cat "$WORK/server.err"
	why="the copied-out server did not say 'listening on ADDR:PORT' within $((5 * STRETCH)) s"
	return 1
}

stop_server() {
	local rc
	kill -TERM "$SERVER_PID"
	for _ in $(seq 1 $((60 * STRETCH))); do
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$SERVER_PID" 2>/dev/null; then
		why="the server still runs $((3 * STRETCH)) s after SIGTERM"
		return 1
	fi
	wait "$SERVER_PID"
	rc=$?
	SERVER_PID=''
	echo "--- server stderr"
	cat "$WORK/server.err"
	((rc == 0)) || { why="the server exited $rc after SIGTERM, want 0"; return 1; }
	echo "--- server json"
	tail -n 1 "$WORK/server.out"
	[[ "$(tail -n 1 "$WORK/server.out")" == \{*\} ]] ||
		{ why="the server printed no JSON line at SIGTERM"; return 1; }
}

# Copy out, build and run one design; 0 = pass, 77 = skip, 1 = fail ($why).
one() { # DIR
	local dir=$1 client rc args=() flag
	WORK=$(mktemp -d /tmp/c1m-copyout.XXXXXX)
	cp -r "$dir" common "$WORK/" || { why="cp failed"; return 1; }
	# A reader copies the sources, not this checkout's built programs.
	rm -f "$WORK/$dir/server" "$WORK/$dir/client"
	build "$dir" server || return 1
	client=$CLIENT05
	if [[ -f "$dir/client.c" ]] && ! grep -q '^#include "\.\./' "$dir/client.c"; then
		build "$dir" client || return 1
		client=$WORK/$dir/client
	fi
	[[ -x "$client" ]] || { why="$client is not built (make $client)"; return 1; }
	# shellcheck disable=SC2086,SC2206
	for flag in "-w 1000" "-b 8"; do
		"$WORK/$dir/server" $flag -L >/dev/null 2>&1 </dev/null && args+=($flag)
	done
	start_server "$dir" "${args[@]}"
	rc=$?
	((rc == 0)) || return $rc
	echo "server: $dir/server -p 0 -i 1${args[*]:+ ${args[*]}} (copied out; port $PORT)"
	echo "client: $client -p $PORT -n 100 -d 2"
	timeout -k 5 $((30 * STRETCH)) "$client" -p "$PORT" -n 100 -d 2 -i 1 \
		>"$WORK/client.out" 2>"$WORK/client.err" </dev/null
	rc=$?
	echo "--- client stderr"
	cat "$WORK/client.err"
	echo "--- client json"
	tail -n 1 "$WORK/client.out"
	if ((rc != 0)); then
		why="the client exited $rc"
		return 1
	fi
	python3 tests/json_check.py "$WORK/client.out" 'round_trips > 0' 'errors == 0' 'mismatches == 0' ||
		{ why="the client's JSON"; return 1; }
	stop_server || return 1
	return 0
}

(($#)) || { echo "usage: tests/copyout.sh DESIGN... (e.g. 06 or 06_multi_epoll_server)" >&2; exit 2; }
pass=0 fail=0 skip=0
for arg in "$@"; do
	dir=''
	for d in "${arg%/}" "${arg%/}"_*/; do
		[[ -d "$d" && "$(basename "$d")" == [0-9][0-9]_* ]] && { dir=$(basename "$d"); break; }
	done
	if [[ -z "$dir" || ! -f "$dir/server.c" ]]; then
		echo "FAIL $arg: no NN_*/ directory with a server.c"
		fail=$((fail + 1))
		continue
	fi
	echo "=== $dir"
	why=''
	one "$dir"
	rc=$?
	cleanup
	case $rc in
	0) echo "ok   $dir: copied out, built alone, served 100 connections"; pass=$((pass + 1)) ;;
	77) echo "skip $dir: its server cannot run here (exit 77)"; skip=$((skip + 1)) ;;
	*) echo "FAIL $dir: $why"; fail=$((fail + 1)) ;;
	esac
done
echo "$pass passed, $fail failed, $skip skipped"
((fail)) && exit 1
((pass == 0 && skip > 0)) && { echo "skip: every design skipped"; exit 77; }
exit 0
