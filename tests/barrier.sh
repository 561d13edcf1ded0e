#!/usr/bin/env bash
# tests/barrier.sh CASE - the client's start barrier (-B, what run.sh
# --hosts lines several hosts up with) and the JSON keys that let their
# results be lined up and merged, against a real 06 server on a free
# loopback port. The client's stdin is a FIFO this script holds open.
#
#   window  at the barrier: the ready line, then nothing (no progress
#           line, no window) for 1 s; on "go" it measures and exits 0;
#           window_start_us is after the go, before window_end_us, and
#           (end - start) / 1e6 is within 5% of duration_s
#   eof     stdin closed before "go" (the FIFO closed, /dev/null, or some
#           other line): exit 1, one line saying why, the process gone and
#           every connection closed at the server; -B -L exits 0
#   hist    the raw histogram (-c 2, -W 1, a wait at the barrier): the
#           buckets sum to hist.count; lat_us recomputed from the buckets
#           by common/hist.c's rule (rank ceil(q * count), the middle of
#           its bucket, clamped to [min, max]) equals the printed lat_us;
#           hist.count is the window's matched replies (see hist_check)
#   term    SIGTERM at the barrier: exit 0 within 3 s, with its JSON line
#   gone    stdin closed after "go": the window stops early, as on
#           SIGTERM, exit 0
#
# Env: BARRIER_CLIENT, a client binary instead of 05_multi_epoll_client/
# client; BARRIER_SERVER_DIR, a directory whose `server` to use instead of
# 06_multi_epoll_server (e.g. a broken build, to see a case fail).
#
# sample output (the tail of build/test-logs/barrier-window.log):
#   --- client json
#   {"design":"05_multi_epoll_client","host":"vm","cpus":2,...}
#   pass
source "$(dirname "$0")/lib.sh"

[[ $# -eq 1 ]] || { echo "usage: tests/barrier.sh window|eof|hist|term|gone" >&2; exit 2; }
mode=$1
case "$mode" in window | eof | hist | term | gone) ;; *)
	echo "tests/barrier.sh: unknown case '$mode'" >&2
	exit 2
	;;
esac
client=${BARRIER_CLIENT:-05_multi_epoll_client/client}
sdir=${BARRIER_SERVER_DIR:-06_multi_epoll_server}
[[ -x "$client" ]] || fail "no client at $client (make -s 05_multi_epoll_client/client)"
[[ -x "$sdir/server" ]] || fail "no server at $sdir/server (make -s $sdir/server)"
READY='barrier: ready 200/200 connections up; waiting for "go" on stdin'
CPID=

# lib.sh's trap kills the server; kill the client too (by PID).
trap '[[ -n "$CPID" ]] && kill -KILL "$CPID" 2>/dev/null; cleanup' EXIT

# Start the client with -B and ARGS, its stdin a FIFO that fd 3 of this
# script holds open: `echo go >&3` is the coordinator's go, `exec 3>&-`
# its end. The client must not inherit fd 3, or it would never see EOF.
client_start() {
	mkfifo "$TMP/stdin"
	exec 3<>"$TMP/stdin"
	"$client" -B -p "$SERVER_PORT" -i 0.5 "$@" <"$TMP/stdin" >"$TMP/client.json" \
		2>"$TMP/client.err" 3>&- &
	CPID=$!
}

# Wait for the ready line (10 s, stretched under a sanitizer).
wait_ready() {
	for _ in $(seq 1 $((200 * STRETCH))); do
		grep -q '^barrier: ready' "$TMP/client.err" && return 0
		kill -0 "$CPID" 2>/dev/null || { cat "$TMP/client.err"; fail "client exited before the ready line"; }
		sleep 0.05
	done
	cat "$TMP/client.err"
	fail "no 'barrier: ready' line within $((10 * STRETCH)) s"
}

# Wait up to $1 s (stretched) for the client to exit: CRC, its status.
client_wait() {
	for _ in $(seq 1 $((20 * $1 * STRETCH))); do
		kill -0 "$CPID" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$CPID" 2>/dev/null && { cat "$TMP/client.err"; fail "client still running after $(($1 * STRETCH)) s"; }
	wait "$CPID"
	CRC=$?
	CPID=
	echo "--- client stderr (exit $CRC)"; cat "$TMP/client.err"
	echo "--- client json"; cat "$TMP/client.json"
}

# What came on stderr after the ready line.
after_ready() {
	sed -n '/^barrier: ready/,$p' "$TMP/client.err" | tail -n +2
}

fds() {
	ls "/proc/$SERVER_PID/fd" | wc -l
}

# The histogram: its buckets against hist.count, and lat_us from them.
# hist.count and round_trips count different sets on purpose: round_trips
# every reply between the window's edges; the histogram the matched ones
# a loop handed on after the window opened (each loop's first hand-off,
# up to 100 ms, still holds older ones and is left out; replies drained
# after the close still count, so a stall at the end still shows). So,
# exactly: sum(buckets) == count <= replies - mismatches; and with -d 2,
# 0.8 * round_trips <= count <= 1.2 * round_trips + conns, which a
# histogram that took in the barrier and the warm-up (1.5 s more) fails.
hist_check() {
	python3 - "$TMP/client.json" <<'EOF' || fail "histogram check"
import json, math, sys
d = json.loads(open(sys.argv[1]).read().splitlines()[-1])
assert list(d)[-1] == "hist", "hist is not the last key"
h, lat = d["hist"], d["lat_us"]
b = h["buckets"]
SUB = 64
def low(i):
    return i if i < 2 * SUB else (SUB + i % SUB) << (i // SUB - 1)
def high(i):
    return low(i + 1) - 1
def quantile(q):
    rank = max(1, math.ceil(q * h["count"]))
    seen = 0
    for i, c in b:
        seen += c
        if seen >= rank:
            v = low(i) + (high(i) - low(i)) // 2
            return min(max(v, h["min_ns"]), h["max_ns"])
ok = True
def check(what, good):
    global ok
    print("ok  " if good else "FAIL", what)
    ok = ok and good
check("sub_bits 6", h["sub_bits"] == 6)
check("buckets ascending, each [i, c] with c > 0",
      all(len(x) == 2 and x[1] > 0 for x in b) and all(b[k][0] < b[k + 1][0] for k in range(len(b) - 1))
      and 0 <= b[0][0] and b[-1][0] < 58 * SUB + SUB)
check("sum of bucket counts %d == hist.count %d" % (sum(c for _, c in b), h["count"]),
      sum(c for _, c in b) == h["count"])
check("min_ns %d in the first bucket, max_ns %d in the last" % (h["min_ns"], h["max_ns"]),
      low(b[0][0]) <= h["min_ns"] <= high(b[0][0]) and low(b[-1][0]) <= h["max_ns"] <= high(b[-1][0]))
for key, q in (("p50", .5), ("p90", .9), ("p99", .99), ("p999", .999)):
    v = quantile(q)
    check("lat_us.%s %s == %d ns from the buckets" % (key, lat[key], v), round(lat[key] * 1e3) == v)
check("lat_us.max == max_ns", round(lat["max"] * 1e3) == h["max_ns"])
check("lat_us.mean == sum_ns / count", abs(lat["mean"] * 1e3 - h["sum_ns"] / h["count"]) < 1e-3)
check("count %d <= replies - mismatches %d" % (h["count"], d["replies"] - d["mismatches"]),
      h["count"] <= d["replies"] - d["mismatches"])
check("count %d within [0.8 * round_trips, 1.2 * round_trips + conns], round_trips %d"
      % (h["count"], d["round_trips"]),
      0.8 * d["round_trips"] <= h["count"] <= 1.2 * d["round_trips"] + d["conns"])
sys.exit(0 if ok else 1)
EOF
}

server_start "$sdir"
case "$mode" in
window)
	client_start -n 200 -d 2
	wait_ready
	grep -qxF "$READY" "$TMP/client.err" || fail "ready line is not '$READY'"
	sleep 1
	kill -0 "$CPID" 2>/dev/null || fail "client left the barrier without a go"
	[[ -z "$(after_ready)" ]] || fail "stderr after the ready line, before go: $(after_ready)"
	t_go=$(date +%s%6N)
	echo go >&3
	client_wait 10
	[[ $CRC -eq 0 ]] || fail "client exited $CRC after go, want 0"
	after_ready | grep -q '^conns 200  rps' || fail "no progress line after go"
	json_check "$TMP/client.json" 'round_trips > 0' 'errors == 0' 'duration_s >= 2' \
		"window_start_us >= $t_go" 'window_start_us < window_end_us' \
		'abs((window_end_us - window_start_us) / 1e6 - duration_s) <= 0.05 * duration_s' \
		'host != "" and cpus >= 1'
	;;
eof)
	base=$(fds)
	client_start -n 200 -d 2
	wait_ready
	exec 3>&-
	client_wait 5
	[[ $CRC -eq 1 ]] || fail "EOF before go: exit $CRC, want 1"
	[[ $(after_ready | grep -c 'barrier') -eq 1 ]] && after_ready | head -n 1 |
		grep -qF 'barrier: stdin closed before "go"; stopping' ||
		fail "EOF before go: want one line 'barrier: stdin closed before \"go\"; stopping'"
	json_check "$TMP/client.json" 'errors == 0' 'conns == 200'
	for _ in $(seq 1 $((60 * STRETCH))); do
		[[ $(fds) -eq $base ]] && break
		sleep 0.05
	done
	[[ $(fds) -eq $base ]] || fail "server holds $(fds) fds after the client left, want $base"
	"$client" -B -p "$SERVER_PORT" -n 50 -d 2 </dev/null >"$TMP/null.json" 2>"$TMP/null.err"
	rc=$?
	cat "$TMP/null.err"
	[[ $rc -eq 1 ]] || fail "stdin /dev/null: exit $rc, want 1"
	grep -qF 'barrier: stdin closed before "go"; stopping' "$TMP/null.err" || fail "stdin /dev/null: no line why"
	printf 'start\n' | "$client" -B -p "$SERVER_PORT" -n 50 -d 2 >"$TMP/line.json" 2>"$TMP/line.err"
	rc=$?
	cat "$TMP/line.err"
	[[ $rc -eq 1 ]] || fail "a line 'start': exit $rc, want 1"
	grep -qF 'barrier: "start" on stdin, not "go"; stopping' "$TMP/line.err" || fail "a line 'start': no line why"
	"$client" -B -L </dev/null >"$TMP/limits.json" || fail "-B -L: exit $?, want 0"
	json_check "$TMP/limits.json" 'table_cap > 0'
	;;
hist)
	client_start -n 200 -c 2 -W 1 -d 2
	wait_ready
	sleep 0.5
	echo go >&3
	client_wait 10
	[[ $CRC -eq 0 ]] || fail "client exited $CRC, want 0"
	hist_check
	;;
term)
	client_start -n 200 -d 2
	wait_ready
	kill -TERM "$CPID"
	client_wait 3
	[[ $CRC -eq 0 ]] || fail "SIGTERM at the barrier: exit $CRC, want 0"
	json_check "$TMP/client.json" 'errors == 0' 'conns == 200' 'duration_s < 0.5' \
		'hist["count"] == sum(c for i, c in hist["buckets"])'
	;;
gone)
	client_start -n 200 -d 30
	wait_ready
	echo go >&3
	sleep 1
	exec 3>&-
	client_wait 5
	[[ $CRC -eq 0 ]] || fail "stdin closed after go: exit $CRC, want 0"
	grep -qF 'barrier: stdin closed; stopping' "$TMP/client.err" || fail "no line saying why it stopped"
	json_check "$TMP/client.json" 'errors == 0' 'round_trips > 0' '0.5 < duration_s < 10'
	;;
esac
server_stop
echo pass
