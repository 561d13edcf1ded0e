# tests/lib.sh - helpers for integration tests; source it from a test script.
#
#   server_start DIR [ARGS...]   start DIR/server on a free port (-p 0);
#                                sets SERVER_PID, SERVER_PORT, SERVER_OUT;
#                                a server that exits 77 at start skips the test;
#                                SERVER_NOFILE=N gives the server alone a hard
#                                RLIMIT_NOFILE of N (the clients keep theirs)
#   server_stop                  SIGTERM; asserts exit 0 within a bound and
#                                one JSON line on stdout (in SERVER_JSON)
#   json_check FILE EXPR...      python expressions over the JSON's keys,
#                                e.g. 'round_trips > 0' 'errors == 0'
#   fail MSG                     print and exit 1
#   known_start ARGS...          start tests/tools/known_server ($server, under
#                                "${rt[@]}", e.g. chrt) on a free port: sets
#                                SERVER_PID, SERVER_PORT, SERVER_OUT
#
# A trap kills the server (by PID) if the test exits early.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.."
STRETCH=${C1M_TEST_STRETCH:-1}
TMP=$(mktemp -d /tmp/c1m-test.XXXXXX)
SERVER_PID=

cleanup() {
	if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -KILL "$SERVER_PID" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	exit 1
}

server_start() {
	local dir=$1
	shift
	SERVER_OUT=$TMP/server.out
	# prlimit sets the limit and execs the server: SERVER_PID is the server.
	${SERVER_NOFILE:+prlimit --nofile=$SERVER_NOFILE:$SERVER_NOFILE} \
		"$dir/server" -p 0 -i 1 "$@" >"$SERVER_OUT" 2>"$TMP/server.err" &
	SERVER_PID=$!
	for _ in $(seq 1 $((100 * STRETCH))); do
		SERVER_PORT=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$TMP/server.err" | head -n 1)
		[[ -n "$SERVER_PORT" ]] && return 0
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			cat "$TMP/server.err"
			wait "$SERVER_PID"
			# 77: the design cannot run here (e.g. no io_uring); skip.
			[[ $? -eq 77 ]] && { SERVER_PID=; exit 77; }
			fail "$dir/server exited at start"
		fi
		sleep 0.05
	done
	cat "$TMP/server.err"
	fail "$dir/server did not say 'listening on ADDR:PORT' within $((5 * STRETCH)) s"
}

server_stop() {
	local rc
	kill -TERM "$SERVER_PID"
	for _ in $(seq 1 $((60 * STRETCH))); do
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$SERVER_PID" 2>/dev/null; then
		fail "server still running $((3 * STRETCH)) s after SIGTERM"
	fi
	wait "$SERVER_PID"
	rc=$?
	SERVER_PID=
	echo "--- server stderr"; cat "$TMP/server.err"
	[[ $rc -eq 0 ]] || fail "server exited $rc after SIGTERM, want 0"
	SERVER_JSON=$TMP/server.json
	tail -n 1 "$SERVER_OUT" >"$SERVER_JSON"
	echo "--- server json"; cat "$SERVER_JSON"
}

json_check() {
	python3 tests/json_check.py "$@" || fail "JSON check failed: $1"
}

known_start() {
	[[ -x "$server" ]] || fail "no known_server at $server (make -s)"
	SERVER_OUT=$TMP/server.out
	"${rt[@]}" "$server" -p 0 "$@" >"$SERVER_OUT" 2>"$TMP/server.err" &
	SERVER_PID=$!
	for _ in $(seq 1 100); do
		SERVER_PORT=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$TMP/server.err")
		[[ -n "$SERVER_PORT" ]] && return 0
		kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/server.err"; fail "known_server exited at start"; }
		sleep 0.05
	done
	fail "known_server did not say 'listening on' within 5 s"
}

# checks 'name' 'figure' 'bound' 'holds'...: python expressions over the
# client's JSON keys (and srv, the server's JSON, {} when there is none;
# get(KEY, DEFAULT) reads a key an older client may lack); prints every
# check with its figures, then fails if any did not hold. Uses
# $TMP/client.json, $SERVER_JSON and $mode.
checks() {
	python3 - "$TMP/client.json" "${SERVER_JSON:-}" "$@" <<-'EOF'
	import json, sys
	def last(path):
	    try:
	        return json.loads([l for l in open(path) if l.strip()][-1])
	    except (OSError, IndexError, ValueError):
	        return {}
	j, srv = last(sys.argv[1]), last(sys.argv[2])
	args, bad = sys.argv[3:], 0
	for i in range(0, len(args), 4):
	    name, fig, bound, holds = args[i:i + 4]
	    try:
	        env = dict(j, srv=srv, abs=abs, get=j.get)
	        f, b = eval(fig, {}, env), eval(bound, {}, env)
	        ok = eval(holds, {}, dict(env, f=f, b=b))
	        num = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (f, b))
	        line = (f"{name}: {f:.6g} vs {b:.6g}" + (f" ({(f / b - 1) * 100:+.2f}%)" if b else "")
	                if num else f"{name}: {f} vs {b}")
	    except Exception as e:
	        ok, line = False, f"{name}: {type(e).__name__}: {e}"
	    print(("ok   " if ok else "FAIL ") + line)
	    bad += not ok
	sys.exit(1 if bad else 0)
	EOF
	[[ $? -eq 0 ]] || fail "$mode: a known answer was not reported (above)"
}
