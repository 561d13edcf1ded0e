#!/usr/bin/env bash
# tests/push.sh CASE - the client's push modes (--push, --push-echo)
# against tests/tools/known_server's push schedule, whose answers are known:
# push k is scheduled at start + k STEP and sent exactly D later.
#
#   broadcast  -b: delivery p50 within 1% of D, fan-out p50 too, the
#              count of pushes and broadcasts what the schedule gives,
#              nothing missing or mismatched, exit 0
#   rate       -R: the same for pushes to one connection in turn
#   echo       --push-echo: round trips and pushes on the same
#              connections, every byte checked, exit 0
#   skip       server mutant: one push never sent -> pushes_missing >= 1, exit 1
#   corrupt    server mutant: one body byte flipped -> push_mismatches >= 1, exit 1
#   split      server mutant: a push inside an echoed frame -> mismatches, exit 1
#   close      the server closes one connection halfway through a push:
#              lost == 1, the others get every push whole, the run ends on time
#   silent     server mutant: one connection never gets a push -> push_silent
#              == 1 (it has no gap to count), exit 1
#   sparse     -R 5 over 20 connections for 1 s: fewer pushes than
#              connections, so the silent ones are counted but no error
#
# Env: PUSH_CLIENT, a client binary instead of 05_multi_epoll_client/client
# (an older or mutated build, to see a case fail); KNOWN_SERVER, a
# known_server binary instead of $UNIT_DIR/known_server. Under a sanitizer
# build the timing cases (broadcast, rate) skip (exit 77).
#
# sample output (the tail of build/test-logs/push-broadcast.log):
#   ok   delivery p50 within 1% of D: 50069.5 vs 49808 (+0.53%)
#   ok   fan-out p50 within 1% of D: 50069.5 vs 49808 (+0.53%)
#   ...
#   pass
source "$(dirname "$0")/lib.sh"

mode=${1:-}
case "$mode" in
broadcast | rate | echo | skip | corrupt | split | close | silent | sparse) ;;
*) echo "usage: tests/push.sh broadcast|rate|echo|skip|corrupt|split|close|silent|sparse" >&2; exit 2 ;;
esac
client=${PUSH_CLIENT:-05_multi_epoll_client/client}
server=${KNOWN_SERVER:-${UNIT_DIR:-build/plain/tests}/known_server}
[[ -x "$client" ]] || fail "no client at $client (make -s)"
rt=()
if [[ $mode == broadcast || $mode == rate ]]; then
	if [[ -n "${SAN:-}" ]]; then
		echo "skip: a sanitizer build (SAN=$SAN) is too slow for timing to within 1%"
		exit 77
	fi
	# As tests/known.sh: SCHED_FIFO where allowed, so the wake-ups are the
	# machine's, not the other tests' (both sleep almost all the time).
	chrt -f 1 true 2>/dev/null && rt=(chrt -f 1)
fi

# run_client WANT_RC ARGS...: the client against the server; its JSON in
# $TMP/client.json; fails unless it exits WANT_RC ("nonzero": not 0).
run_client() {
	local want=$1
	shift
	echo "--- $client -p PORT $*"
	"${rt[@]}" "$client" -p "$SERVER_PORT" -i 1 "$@" >"$TMP/client.json" 2>"$TMP/client.err"
	crc=$?
	cat "$TMP/client.err"
	echo "--- client json"; cat "$TMP/client.json"
	server_stop
	if [[ $want == nonzero ]]; then
		[[ $crc -ne 0 ]] || fail "client exited 0; a broken server must make it exit non-zero"
	else
		[[ $crc -eq $want ]] || fail "client exited $crc, want $want"
	fi
	[[ -s "$TMP/client.json" ]] || fail "client printed no JSON"
}


# D as tests/known.sh's delay case: just above a histogram bucket's low
# edge, so the machine's few hundred us of overhead stay in that bucket,
# whose middle reads D + 0.53%.
d_us=49808
case "$mode" in
broadcast)
	# 20 connections, a broadcast every 0.1 s, a 2 s window: 20 (+-1)
	# broadcasts whose scheduled times fall in it, each to all 20.
	n=20
	known_start -D "$d_us" -b 0.1
	run_client 0 -n "$n" -d 2 --push
	checks \
		'delivery p50 within 1% of D' 'push_lat_us["p50"]' "$d_us" 'abs(f / b - 1) <= 0.01' \
		'fan-out p50 within 1% of D' 'fanout_s["p50"] * 1e6' "$d_us" 'abs(f / b - 1) <= 0.01' \
		'broadcasts in the window: 2 s / 0.1 s' 'fanout_s["broadcasts"]' '20' 'abs(f - b) <= 1' \
		'incomplete: at most the one at the close' 'fanout_s["incomplete"]' '1' 'f <= b' \
		'pushes: N a broadcast' 'pushes_received' "$n * 20" "abs(f - b) <= $n" \
		'push bytes: 32 a push' 'push_bytes_received' '32 * pushes_received' 'f == b' \
		'nothing missing' 'pushes_missing' '0' 'f == 0' \
		'no mismatch' 'push_mismatches + mismatches' '0' 'f == 0' \
		'none silent' 'push_silent' '0' 'f == 0' \
		'sent nothing' 'requests_sent' '0' 'f == 0' \
		'the clock state' 'len(clock)' '4' 'f == b and isinstance(clock["synced"], bool)'
	;;
rate)
	# 400 pushes/s over 20 connections, each in turn, for a 2 s window.
	n=20 r=400
	known_start -D "$d_us" -R "$r" -l 100
	run_client 0 -n "$n" -d 2 --push
	checks \
		'delivery p50 within 1% of D' 'push_lat_us["p50"]' "$d_us" 'abs(f / b - 1) <= 0.01' \
		'pushes within 2% of RATE x window' 'pushes_received' "$r * duration_s" \
		'abs(f / b - 1) <= 0.02' \
		'push bytes: 124 a push' 'push_bytes_received' '124 * pushes_received' 'f == b' \
		'nothing missing' 'pushes_missing' '0' 'f == 0' \
		'no mismatch' 'push_mismatches + mismatches' '0' 'f == 0'
	;;
echo)
	known_start -D 1000 -b 0.05 -l 40
	run_client 0 -n 20 -d 2 --push-echo
	checks \
		'round trips' 'round_trips' '0' 'f > b' \
		'pushes between them' 'pushes_received' '20 * 30' 'f >= b' \
		'every reply answered' 'unanswered + errors' '0' 'f == 0' \
		'nothing missing' 'pushes_missing' '0' 'f == 0' \
		'no mismatch' 'push_mismatches + mismatches' '0' 'f == 0'
	;;
skip)
	known_start -D 1000 -b 0.05 -M skip
	run_client nonzero -n 10 -d 1 --push
	checks \
		'the skipped push is missing' 'pushes_missing' '1' 'f >= b' \
		'the server skipped it' 'srv["pushes"]' '0' 'f > b'
	;;
corrupt)
	known_start -D 1000 -b 0.05 -M corrupt
	run_client nonzero -n 10 -d 1 --push
	checks 'the flipped byte is a mismatch' 'push_mismatches' '1' 'f >= b' \
		'nothing else wrong' 'pushes_missing + mismatches' '0' 'f == 0'
	;;
split)
	known_start -D 1000 -b 0.05 -M split
	run_client nonzero -n 10 -d 1 --push-echo
	checks 'the cut frame is a mismatch' 'mismatches + push_mismatches' '1' 'f >= b'
	;;
close)
	# The first connection is closed halfway through its push 2; the
	# other 9 keep getting every push, and the run ends on time.
	n=10
	known_start -D 1000 -b 0.05 -M close
	run_client nonzero -n "$n" -d 2 --push
	checks \
		'one connection lost' 'lost' '1' 'f == b' \
		'the others stay' 'conns_open_at_end' "$n - 1" 'f == b' \
		'the run went on' 'duration_s' '2' 'f >= 0.99 * b' \
		'the others got their pushes' 'pushes_received' "($n - 1) * 30" 'f >= b' \
		'the half push is neither missing nor a mismatch' \
		'pushes_missing + push_mismatches + mismatches' '0' 'f == 0' \
		'broadcasts after it complete' 'fanout_s["broadcasts"]' '30' 'f >= b'
	;;
silent)
	# Its sequence never starts, so it has no gap: only the count of
	# connections without a push shows it.
	n=10
	known_start -D 1000 -b 0.05 -M silent
	run_client nonzero -n "$n" -d 1 --push
	checks \
		'the silent one counted' 'push_silent' '1' 'f == b' \
		'nothing else wrong' 'pushes_missing + push_mismatches + mismatches + lost' '0' 'f == 0' \
		'the others got theirs' 'pushes_received' "($n - 1) * 19" 'f >= b'
	;;
sparse)
	# 5 pushes a second over 20 connections in turn: a 1 s window holds
	# about 5, so most connections have had none yet, and that is no error.
	known_start -D 1000 -R 5
	run_client 0 -n 20 -d 1 --push
	checks \
		'fewer pushes than connections' 'pushes_received' '20' 'f < b' \
		'the ones without a push counted' 'push_silent' '20 - pushes_received' '0 < f <= b'
	;;
esac
