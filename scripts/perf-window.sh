#!/usr/bin/env bash
# scripts/perf-window.sh CLIENT_LOG CLIENT_PIDFILE WARMUP_S WINDOW_S DIR [HZ]
#
# run.sh --perf DIR starts this before the client, and starts the client once
# DIR/ramp/ready says the ramp's recording is on (perf takes seconds to
# start; a 1K ramp takes 0.1 s); the client's PID goes in CLIENT_PIDFILE.
# It records the whole machine twice, with perf record -a -g -F HZ (default
# 499) and perf stat -a:
#
#   DIR/ramp/     from before the client's start until its "connected in"
#                 line: what connect() and accept() cost, per connection
#   DIR/window/   the measuring window's inside, 0.5 s in from each edge
#                 (found from the "warming up" line, or with no warm-up the
#                 "answered once" line, plus WARMUP_S): per round trip
#
# perf takes seconds to start on a loaded machine (9-14 s at 1M here), so
# each phase's perf runs start with their events off and are switched on
# and off through control FIFOs (perf --control): the ramp's before the
# client starts, the window's as the ramp ends, switched at the window's
# edges, so that the samples hold the window, not the drain after it.
#
# Each holds perf.data (where the CPU went), stat.txt (task-clock, context
# switches, migrations, page faults, and cache and TLB misses where the
# machine has the counters: a VM often has none, "<not supported>") and
# "window": the unit and, for the ramp, its connections (run.sh adds the
# window's round trips/s once the run is over). scripts/perf-top DIR/window (or
# DIR/ramp) turns them into microseconds per unit. Exits 1, saying why, if
# the client ends too early or perf fails; stopped with TERM, it stops its
# perf runs first.
set -u
usage() { echo "usage: scripts/perf-window.sh CLIENT_LOG CLIENT_PIDFILE WARMUP_S WINDOW_S DIR [HZ]" >&2; exit 2; }
(($# == 5 || $# == 6)) || usage
log=$1 pidfile=$2 warm=$3 win=$4 dir=$5 hz=${6:-499}
me="scripts/perf-window.sh"
[[ $warm =~ ^[0-9]+(\.[0-9]+)?$ && $win =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage
[[ $hz =~ ^[1-9][0-9]*$ ]] || usage
command -v perf >/dev/null || { echo "$me: perf is not installed" >&2; exit 1; }
mkdir -p "$dir/ramp" "$dir/window" || exit 1
rm -f "$dir/ramp/ready"
EVENTS=task-clock,context-switches,cpu-migrations,page-faults,cache-misses,dTLB-load-misses

pids=() napping=''
stop_perf() { for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null; done; }
# Stopped (run.sh sends TERM), it stops its perf runs and its nap at once:
# bash runs a trap only once a foreground command is over, so the long
# sleeps run in the background and are waited for.
trap '[[ -n $napping ]] && kill "$napping" 2>/dev/null; stop_perf; wait; exit 143' TERM INT
nap() { sleep "$1" & napping=$!; wait "$napping"; napping=''; }

# Start both perfs on $1, counting until stop_perf, their events off until
# "enable" on $1/{record,stat}.ctl (switch).
start_perf() {
	rm -f "$1"/{record,stat}.{ctl,ack}
	mkfifo "$1"/{record,stat}.{ctl,ack} || exit 1
	perf stat -a -e "$EVENTS" -D -1 --control="fifo:$1/stat.ctl,$1/stat.ack" -o "$1/stat.txt" &
	pids+=($!)
	perf record -q -a -g -F "$hz" -D -1 --control="fifo:$1/record.ctl,$1/record.ack" \
		-o "$1/perf.data" 2>"$1/record.log" &
	pids+=($!)
	# Read-write opens: a FIFO opened so does not wait for perf.
	exec {rc}<>"$1/record.ctl" {sc}<>"$1/stat.ctl" {ra}<>"$1/record.ack" {sa}<>"$1/stat.ack"
}
# "enable" or "disable" both, each answered with "ack" once done.
switch() {
	local a b
	echo "$1" >&"$rc"
	echo "$1" >&"$sc"
	read -r -t 30 -u "$ra" a && read -r -t 30 -u "$sa" b && [[ $a == ack && $b == ack ]] ||
		{ stop_perf; echo "$me: perf did not $1 its events" >&2; exit 1; }
}
end_perf() { # DIR: stop both, wait; perf exits 130 after SIGINT, yet wrote its files
	local p
	stop_perf
	for p in "${pids[@]}"; do wait "$p"; done
	pids=()
	[[ -s $1/perf.data && -s $1/stat.txt ]] || { echo "$me: perf failed; see $1/record.log" >&2; exit 1; }
	exec {rc}>&- {sc}>&- {ra}<&- {sa}<&-
	rm -f "$1"/{record,stat}.{ctl,ack}
}
# Wait for a line with $1 in the client's log; fail if the client ends
# first (before its PID is written, it has not started: run.sh waits).
await() {
	local cpid
	until grep -q "$1" "$log" 2>/dev/null; do
		cpid=$(cat "$pidfile" 2>/dev/null)
		[[ -z $cpid ]] || kill -0 "$cpid" 2>/dev/null ||
			{ stop_perf; echo "$me: the client ended before $2" >&2; exit 1; }
		sleep 0.1
	done
}

# The ramp: recording before the client starts, to "connected in".
start_perf "$dir/ramp"
switch enable
touch "$dir/ramp/ready"
await 'connected in' "its connections were up"
end_perf "$dir/ramp"
# Per connection: the connections made ("N/N connected in").
awk '/connected in/ { c = $0; sub(/^.*: /, "", c); sub(/\/.*/, "", c); print "count", c }' "$log" >"$dir/ramp/window"
echo "unit connection" >>"$dir/ramp/window"

# The window: perf ready, events off, during the first round and warm-up.
start_perf "$dir/window"
if awk -v w="$warm" 'BEGIN { exit !(w > 0) }'; then
	await 'warming up for' "its warm-up"
else
	await 'answered once' "its first round was over"
fi
rec=$(awk -v w="$win" 'BEGIN { r = w - 1; if (r < 0.5) r = w / 2; print r }')
nap "$(awk -v w="$warm" 'BEGIN { print w + 0.5 }')"
echo "$me: recording $rec s of the window (perf record -a -g -F $hz)" >&2
switch enable
nap "$rec"
switch disable
end_perf "$dir/window"
echo "unit round trip" >"$dir/window/window"
