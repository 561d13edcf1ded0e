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
# perf takes seconds to start on a loaded machine (9-14 s at 1M here), and
# a second to write its file after a short ramp, so both phases' perf runs
# start before the client, with their events off, and are switched on and
# off through control FIFOs (perf --control). The window's edges are timed
# from when its line appeared, not from when perf was ready, so that the
# samples hold the window, not the drain after it: a recording that
# outlives the client is an error.
#
# Each holds perf.data (where the CPU went), stat.txt (task-clock, context
# switches, migrations, page faults, and cache and TLB misses where the
# machine has the counters: a VM often has none, "<not supported>") and
# "window": the unit and, for the ramp, its connections (run.sh adds the
# window's round trips/s once the run is over); cpu0 and cpu1 hold every
# thread's CPU time as the kernel counts it (/proc/*/task/*/stat) as the
# recording starts and ends. scripts/perf-top DIR/window (or DIR/ramp)
# turns them into microseconds per unit, the samples' and the kernel's.
# Exits 1, saying why, if the client ends too early or perf fails; stopped
# with TERM, it stops its perf runs first.
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

# Each phase's perf runs: their PIDs and control FIFOs' fds, by DIR.
declare -A pids rc sc ra sa
napping=''
stop_perf() { local d; for d in "${!pids[@]}"; do kill -INT ${pids[$d]} 2>/dev/null; done; }
# Stopped (run.sh sends TERM), it stops its perf runs and its nap at once:
# bash runs a trap only once a foreground command is over, so the long
# sleeps run in the background and are waited for.
trap '[[ -n $napping ]] && kill "$napping" 2>/dev/null; stop_perf; wait; exit 143' TERM INT
nap() { sleep "$1" & napping=$!; wait "$napping"; napping=''; }

# Start both perfs on DIR, counting until end_perf DIR, their events off
# until "enable" on DIR/{record,stat}.ctl (switch).
start_perf() {
	local d=$1 p1 p2 f
	rm -f "$d"/{record,stat}.{ctl,ack}
	mkfifo "$d"/{record,stat}.{ctl,ack} || exit 1
	perf stat -a -e "$EVENTS" -D -1 --control="fifo:$d/stat.ctl,$d/stat.ack" -o "$d/stat.txt" &
	p1=$!
	perf record -q -a -g -F "$hz" -D -1 --control="fifo:$d/record.ctl,$d/record.ack" \
		-o "$d/perf.data" 2>"$d/record.log" &
	p2=$!
	pids[$d]="$p1 $p2"
	# Read-write opens: a FIFO opened so does not wait for perf.
	exec {f}<>"$d/record.ctl"; rc[$d]=$f
	exec {f}<>"$d/stat.ctl"; sc[$d]=$f
	exec {f}<>"$d/record.ack"; ra[$d]=$f
	exec {f}<>"$d/stat.ack"; sa[$d]=$f
}
# switch DIR enable|disable: both, each answered with "ack" once done.
switch() {
	local a b
	echo "$2" >&"${rc[$1]}"
	echo "$2" >&"${sc[$1]}"
	read -r -t 30 -u "${ra[$1]}" a && read -r -t 30 -u "${sa[$1]}" b && [[ $a == ack && $b == ack ]] ||
		{ stop_perf; echo "$me: perf did not $2 its events" >&2; exit 1; }
}
halt_perf() { local p; for p in ${pids[$1]}; do kill -INT "$p" 2>/dev/null; done; }
end_perf() { # DIR: stop both, wait; perf exits 130 after SIGINT, yet wrote its files
	local d=$1 p f
	halt_perf "$d"
	for p in ${pids[$d]}; do wait "$p"; done
	unset "pids[$d]"
	[[ -s $d/perf.data && -s $d/stat.txt ]] || { stop_perf; echo "$me: perf failed; see $d/record.log" >&2; exit 1; }
	for f in "${rc[$d]}" "${sc[$d]}" "${ra[$d]}" "${sa[$d]}"; do exec {f}>&-; done
	rm -f "$d"/{record,stat}.{ctl,ack}
}
# Every thread's CPU time in clock ticks, as the kernel counts it, into $1:
# "t SECONDS" (the realtime clock), then "TID TICKS COMM". perf's samples
# say where the CPU went; this says how much each thread used, to check
# them against.
cpu_snap() {
	local f l c r
	{
		echo "t $EPOCHREALTIME"
		for f in /proc/[0-9]*/task/[0-9]*/stat; do
			read -r l <"$f" 2>/dev/null || continue
			c=${l#*\(} c=${c%\)*} r=${l##*\) }
			read -r -a r <<<"$r"
			echo "${l%% *} $((r[11] + r[12])) $c"
		done
	} >"$1"
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

# Both phases' perf runs start now, their events off: the window's are
# ready when the window opens, however long the ramp's take to write.
start_perf "$dir/ramp"
start_perf "$dir/window"
# The ramp: recording before the client starts, to "connected in".
switch "$dir/ramp" enable
cpu_snap "$dir/ramp/cpu0"
touch "$dir/ramp/ready"
await 'connected in' "its connections were up"
cpu_snap "$dir/ramp/cpu1"
halt_perf "$dir/ramp"

# The window: from its line (warm-up's, or the first round's end), the
# recording keeps EDGE s inside each end of the window, counted from when
# the line was written, however long the ramp's perf runs take to write
# their files and the window's to switch on.
if awk -v w="$warm" 'BEGIN { exit !(w > 0) }'; then
	await 'warming up for' "its warm-up"
else
	await 'answered once' "its first round was over"
fi
# When the line was written: the log's last change (nothing follows it
# before the window's end but "window open"), else now.
t0=$(stat -c %.9Y "$log" 2>/dev/null) || t0=$EPOCHREALTIME
end_perf "$dir/ramp"
# Per connection: the connections made ("N/N connected in").
awk '/connected in/ { c = $0; sub(/^.*: /, "", c); sub(/\/.*/, "", c); print "count", c }' "$log" >"$dir/ramp/window"
echo "unit connection" >>"$dir/ramp/window"
read -r from to < <(awk -v t0="$t0" -v warm="$warm" -v w="$win" 'BEGIN {
	edge = w >= 1.5 ? 0.5 : w / 4
	printf "%.6f %.6f\n", t0 + warm + edge, t0 + warm + w - edge }')
# left: the seconds until $1 (an absolute time), 0 if past.
left() { awk -v t="$1" -v now="$EPOCHREALTIME" 'BEGIN { d = t - now; printf "%.3f\n", (d > 0 ? d : 0) }'; }
nap "$(left "$from")"
echo "$me: recording the window's inside, to $(left "$to") s from now (perf record -a -g -F $hz)" >&2
switch "$dir/window" enable
cpu_snap "$dir/window/cpu0"
# Timed from the switch done, however long it took: the end stays inside.
rec=$(left "$to")
awk -v r="$rec" 'BEGIN { exit !(r >= 0.1) }' ||
	{ stop_perf; echo "$me: the window was over before perf could record it" >&2; exit 1; }
nap "$rec"
cpu_snap "$dir/window/cpu1"
# The client is still running (its window ends later), or the samples hold
# what came after the window.
kill -0 "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null ||
	{ stop_perf; echo "$me: the client ended before the recording did" >&2; exit 1; }
switch "$dir/window" disable
end_perf "$dir/window"
echo "unit round trip" >"$dir/window/window"
