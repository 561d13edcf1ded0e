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
# The build line is a plain cc command: under a sanitizer suite (SAN set)
# this would only rebuild and rerun the plain case, so it is skipped there.
if [[ -n "${SAN:-}" ]]; then
	echo "skip: the copy-out build is the plain build line; the plain suite runs it"
	exit 77
fi
CLIENT05=05_multi_epoll_client/client

# The command of the " * build: " line in FILE's head comment (before its
# first "*/"), or nothing.
build_line() {
	awk 'NR == 1 && !/^\/\*/ { exit }
	     /^ \* build: / { sub(/^ \* build: /, ""); print; exit }
	     /\*\// { exit }' "$1"
}

# Build PROG (server or client) of DIR inside $TMP with its build line.
build() { # DIR PROG
	local dir=$1 prog=$2 cmd
	cmd=$(build_line "$dir/$prog.c")
	[[ -n "$cmd" ]] || fail "$dir/$prog.c has no ' * build: ' line in its head comment"
	[[ "$cmd" == "cc "* && " $cmd " == *" -o $dir/$prog "* ]] ||
		fail "$dir/$prog.c's build line is not 'cc ... -o $dir/$prog ...': $cmd"
	echo "build: $cmd"
	if ! (cd "$TMP" && bash -c "$cmd") >"$TMP/build-$prog.log" 2>&1; then
		sed 's/^/  | /' "$TMP/build-$prog.log" | tail -n 20
		fail "the build line of $dir/$prog.c failed in a copy of $dir/ and common/ alone"
	fi
	[[ -x "$TMP/$dir/$prog" ]] || fail "the build line made no $dir/$prog"
}

# Copy out, build and run one design. A subshell: tests/lib.sh's fail and
# server_start (77 for a server that cannot run here) end it, and its trap
# kills the server and removes the copy. 0 = pass, 77 = skip, 1 = fail.
one() ( # DIR
	dir=$1
	# shellcheck source=tests/lib.sh
	source tests/lib.sh
	cp -r "$dir" common "$TMP/" || fail "cp failed"
	# A reader copies the sources, not this checkout's built programs.
	rm -f "$TMP/$dir/server" "$TMP/$dir/client"
	build "$dir" server
	client=$CLIENT05
	if [[ -f "$dir/client.c" ]] && ! grep -q '^#include "\.\./' "$dir/client.c"; then
		build "$dir" client
		client=$TMP/$dir/client
	fi
	[[ -x "$client" ]] || fail "$client is not built (make $client)"
	args=()
	for flag in "-w 1000" "-b 8"; do
		# shellcheck disable=SC2086,SC2206
		"$TMP/$dir/server" $flag -L >/dev/null 2>&1 </dev/null && args+=($flag)
	done
	server_start "$TMP/$dir" "${args[@]}"
	echo "server: $dir/server -p 0 -i 1${args[*]:+ ${args[*]}} (copied out; port $SERVER_PORT)"
	echo "client: $client -p $SERVER_PORT -n 100 -d 2"
	timeout -k 5 $((30 * STRETCH)) "$client" -p "$SERVER_PORT" -n 100 -d 2 -i 1 \
		>"$TMP/client.out" 2>"$TMP/client.err" </dev/null
	rc=$?
	echo "--- client stderr"; cat "$TMP/client.err"
	echo "--- client json"; tail -n 1 "$TMP/client.out"
	((rc == 0)) || fail "the client exited $rc"
	json_check "$TMP/client.out" 'round_trips > 0' 'errors == 0' 'mismatches == 0'
	server_stop
)

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
	one "$dir"
	case $? in
	0) echo "ok   $dir: copied out, built alone, served 100 connections"; pass=$((pass + 1)) ;;
	77) echo "skip $dir: its server cannot run here (exit 77)"; skip=$((skip + 1)) ;;
	*) echo "FAIL $dir (the FAIL line above says why)"; fail=$((fail + 1)) ;;
	esac
done
echo "$pass passed, $fail failed, $skip skipped"
((fail)) && exit 1
((pass == 0 && skip > 0)) && { echo "skip: every design skipped"; exit 77; }
exit 0
