#!/usr/bin/env bash
# scripts/perf-window.sh CLIENT_LOG CLIENT_PID WARMUP_S WINDOW_S DIR [HZ]
#
# run.sh --perf DIR starts this beside the client. It records the whole
# machine twice, with perf record -a -g -F HZ (default 499) and perf stat -a:
#
#   DIR/ramp/     from the client's start until its "connected in" line:
#                 what connect() and accept() cost, per connection
#   DIR/window/   the measuring window's inside, 0.5 s in from each edge
#                 (found from the "warming up" line, or with no warm-up the
#                 "answered once" line, plus WARMUP_S): per round trip
#
# Each holds perf.data (where the CPU went), stat.txt (task-clock, context
# switches, migrations, page faults, and cache and TLB misses where the
# machine has the counters: a VM often has none, "<not supported>") and
# "window": the seconds recorded, the unit and, for the ramp, its rate
# (run.sh adds the window's round trips/s once the run is over).
# scripts/perf-top DIR/window (or DIR/ramp) turns them into microseconds per
# unit. Exits 1, saying why, if the client ends too early or perf fails;
# stopped with TERM, it stops its perf runs first.
set -u
usage() { echo "usage: scripts/perf-window.sh CLIENT_LOG CLIENT_PID WARMUP_S WINDOW_S DIR [HZ]" >&2; exit 2; }
(($# == 5 || $# == 6)) || usage
log=$1 cpid=$2 warm=$3 win=$4 dir=$5 hz=${6:-499}
me="scripts/perf-window.sh"
[[ $warm =~ ^[0-9]+(\.[0-9]+)?$ && $win =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage
[[ $hz =~ ^[1-9][0-9]*$ ]] || usage
command -v perf >/dev/null || { echo "$me: perf is not installed" >&2; exit 1; }
mkdir -p "$dir/ramp" "$dir/window" || exit 1
EVENTS=task-clock,context-switches,cpu-migrations,page-faults,cache-misses,dTLB-load-misses

pids=()
stop_perf() { for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null; done; }
trap 'stop_perf; wait; exit 143' TERM INT

# Start both perfs on $1 for $2 seconds, or with 0 until stop_perf (with no
# command to run, perf counts until SIGINT; with one, it waits for it).
start_perf() {
	local cmd=()
	[[ $2 == 0 ]] || cmd=(-- sleep "$2")
	perf stat -a -e "$EVENTS" -o "$1/stat.txt" "${cmd[@]}" &
	pids+=($!)
	perf record -q -a -g -F "$hz" -o "$1/perf.data" "${cmd[@]}" 2>"$1/record.log" &
	pids+=($!)
}
end_perf() { # DIR: wait for both; write the seconds perf stat counted
	local p rc=0
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	pids=()
	# perf exits 130 after SIGINT, yet wrote its files: judge by them.
	[[ -s $1/perf.data && -s $1/stat.txt ]] || { echo "$me: perf failed; see $1/record.log" >&2; exit 1; }
	awk '/seconds time elapsed/ { print "seconds", $1 }' "$1/stat.txt" >"$1/window"
	return $rc
}
# Wait for a line with $1 in the client's log; fail if the client ends first.
await() {
	until grep -q "$1" "$log" 2>/dev/null; do
		kill -0 "$cpid" 2>/dev/null || { stop_perf; echo "$me: the client ended before $2" >&2; exit 1; }
		sleep 0.1
	done
}

# The ramp: its start to "connected in".
start_perf "$dir/ramp" 0
await 'connected in' "its connections were up"
stop_perf
end_perf "$dir/ramp"
awk '/connected in/ { r = $0; sub(/.*\(/, "", r); sub(/ conn\/s.*/, "", r); print "rate", r }' "$log" >>"$dir/ramp/window"
echo "unit connection" >>"$dir/ramp/window"

# The window: the line just before the warm-up (or, without one, the window).
if awk -v w="$warm" 'BEGIN { exit !(w > 0) }'; then
	await 'warming up for' "its warm-up"
else
	await 'answered once' "its first round was over"
fi
rec=$(awk -v w="$win" 'BEGIN { r = w - 1; if (r < 0.5) r = w / 2; print r }')
sleep "$(awk -v w="$warm" 'BEGIN { print w + 0.5 }')"
echo "$me: recording $rec s of the window (perf record -a -g -F $hz)" >&2
start_perf "$dir/window" "$rec"
end_perf "$dir/window" || { echo "$me: perf failed; see $dir/window/record.log" >&2; exit 1; }
echo "unit round trip" >>"$dir/window/window"
