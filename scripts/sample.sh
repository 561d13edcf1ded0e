#!/usr/bin/env bash
# scripts/sample.sh PID [SEC] - one line every SEC (default 0.5) seconds
# while PID lives, for run.sh to take peaks from:
#
#   slab_kb tcp_inuse tcp_tw tcp_mem_pages rss_kb
#
# slab_kb is /proc/meminfo Slab (machine-wide: kernel memory, where socket
# structs live); the tcp_* fields come from /proc/net/sockstat of the network
# namespace this runs in; rss_kb is PID's VmRSS.
set -u
pid=${1:?usage: scripts/sample.sh PID [SEC]}
sec=${2:-0.5}
# Stopped (run.sh sends TERM), it takes its sleep with it: nothing is left.
nap=''
trap '[[ -n "$nap" ]] && kill "$nap" 2>/dev/null; exit 0' TERM INT
while kill -0 "$pid" 2>/dev/null; do
	slab=$(awk '/^Slab:/ { print $2 }' /proc/meminfo)
	read -r inuse tw mem < <(awk '/^TCP:/ {
		for (i = 2; i < NF; i += 2) v[$i] = $(i + 1)
		print v["inuse"] + 0, v["tw"] + 0, v["mem"] + 0 }' /proc/net/sockstat)
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
	echo "$slab $inuse $tw $mem ${rss:-0}"
	sleep "$sec" &
	nap=$!
	wait "$nap"
	nap=''
done
