#!/usr/bin/env bash
# scripts/bench-side.sh - several servers driven by the same client, side by
# side in one run, interleaved round by round so the machine's noise falls on
# all of them alike. Prints medians and the ratio to the first design.
#
# usage: scripts/bench-side.sh [-n CONNS] [-r ROUNDS] [-d SEC] [-C 'CLIENT ARGS'] DESIGN...
#   DESIGN   NN (that directory's server), NN:'server args' (e.g. 10:'-m timer'),
#            NN@TREE (the server built in another checkout, e.g. a worktree of
#            the previous commit: before and after in one interleaved run),
#            or baseline (scripts/baseline_pair.c: a bare epoll echo pair)
#   -n       connections (default 1000)
#   -r       rounds (default 3); every design runs once per round
#   -d       measuring seconds per run (default 8)
#   -C       extra client arguments (default: -c 1, one client loop)
#   --client NN   the client to use (default 05)
#
# Example (the README's 1,000-connection table):
#   scripts/bench-side.sh -n 1000 -r 5 baseline 03 04 06 14
set -euo pipefail
cd "$(dirname "$0")/.."
conns=1000 rounds=3 secs=8 cargs="-c 1" cdir=05
usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }
die2() { echo "bench-side.sh: $*" >&2; echo "usage: scripts/bench-side.sh [-n CONNS] [-r ROUNDS] [-d SEC] [-C 'ARGS'] DESIGN..." >&2; exit 2; }
designs=()
while [[ $# -gt 0 ]]; do
	case $1 in
	-n) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die2 "-n: '${2:-}' is not a positive number"; conns=$2; shift 2 ;;
	-r) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die2 "-r: '${2:-}' is not a positive number"; rounds=$2; shift 2 ;;
	-d) [[ ${2:-} =~ ^[0-9]+(\.[0-9]+)?$ ]] || die2 "-d: '${2:-}' is not a number of seconds"; secs=$2; shift 2 ;;
	-C) [[ $# -ge 2 ]] || die2 "-C needs a value"; cargs=$2; shift 2 ;;
	--client) [[ ${2:-} =~ ^[0-9][0-9]$ ]] || die2 "--client: '${2:-}' is not NN"; cdir=$2; shift 2 ;;
	-h) usage; exit 0 ;;
	-*) die2 "unknown option $1" ;;
	*) designs+=("$1"); shift ;;
	esac
done
[[ ${#designs[@]} -gt 0 ]] || die2 "name at least one design"
client=$(ls -d ${cdir}_*/client 2>/dev/null | head -n 1)
[[ -n "$client" ]] || die2 "no client in ${cdir}_*"
# NN[@TREE][:ARGS] -> the server binary
server_of() {
	local nn=${1%%:*} tree=.
	[[ $nn == *@* ]] && tree=${nn#*@} nn=${nn%%@*}
	ls -d "$tree/${nn}"_*/server 2>/dev/null | head -n 1
}
for d in "${designs[@]}"; do
	[[ ${d%%:*} == baseline || -n "$(server_of "$d")" ]] || die2 "unknown design '${d%%:*}' (no server built)"
done

make -s	# the designs and scripts/baseline_pair
tmp=$(mktemp -d /tmp/c1m-bench.XXXXXX)
spid=
cleanup() { [[ -n "$spid" ]] && kill -KILL "$spid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run_one() { # design -> "rps p99_ms server_cpu_us_per_req"
	local d=$1 nn=${1%%:*} sargs="" port out srv mark
	[[ $d == *:* ]] && sargs=${d#*:}
	if [[ $nn == baseline ]]; then
		port=$(free_port)
		scripts/baseline_pair server "$port" & spid=$!
		sleep 0.3
		out=$(scripts/baseline_pair client "$port" "$conns" "$secs")
		kill "$spid"; wait "$spid" 2>/dev/null || true; spid=
		echo "${out#rps } - -"
		return
	fi
	: >"$tmp/s.err"
	# shellcheck disable=SC2086
	srv=$(server_of "$d")
	# A server that sizes its loops from -n (06, 14, ...) gets it, or it
	# would hold only its default loops' tables (2 x 19,968 here).
	local sized=()
	"$srv" -n 1 -L >/dev/null 2>&1 </dev/null && sized=(-n "$conns")
	"$srv" -p 0 -i 1000 "${sized[@]}" $sargs >"$tmp/s.json" 2>"$tmp/s.err" & spid=$!
	for _ in $(seq 100); do grep -q 'listening on' "$tmp/s.err" && break; sleep 0.05; done
	port=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$tmp/s.err" | head -n 1)
	[[ -n "$port" ]] || { cat "$tmp/s.err" >&2; echo "bench-side.sh: $d did not start" >&2; exit 1; }
	# shellcheck disable=SC2086
	# -P: the server marks the client's window (SIGUSR1). A server built
	# before the marks existed would die of that signal: leave it out.
	mark=(-P "$spid")
	grep -q "window mark" "$srv" || mark=()
	# Bounded: a server that cannot take them all would have the client
	# give up stalled connects 512 at a time for minutes.
	timeout -k 5 $((conns / 2000 + ${secs%.*} + 120)) \
		"$client" -p "$port" -n "$conns" -d "$secs" -i 1000 "${mark[@]}" $cargs >"$tmp/c.json" 2>"$tmp/c.err" ||
		{ cat "$tmp/c.err" >&2; echo "bench-side.sh: client failed against $d" >&2; exit 1; }
	kill -TERM "$spid"; wait "$spid"; spid=
	python3 - "$tmp/c.json" "$tmp/s.json" <<'PY'
import json, sys
c = json.loads(open(sys.argv[1]).read().splitlines()[-1])
s = json.loads(open(sys.argv[2]).read().splitlines()[-1])
# Server CPU over the client's window (its SIGUSR1 marks, -P); a server
# built before the marks existed gives its whole run instead.
cpu = s.get("server_us_per_rt")
if cpu is None:
    cpu = (s["cpu_user_s"] + s["cpu_sys_s"]) / max(s["requests"], 1) * 1e6
print(f'{c["rps"]:.0f} {c["lat_us"]["p99"]/1e3:.1f} {cpu:.2f}')
PY
}

echo "# $(date -u +%F) $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $conns connections, $rounds rounds x ${secs}s, client ${client} ${cargs}"
for r in $(seq "$rounds"); do
	for d in "${designs[@]}"; do
		res=$(run_one "$d")
		echo "$d $res" >>"$tmp/all"
		echo "round $r  $d  rps/p99_ms/server_us_per_req: $res" >&2
	done
done
python3 - "$tmp/all" "${designs[@]}" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
designs = sys.argv[2:]
def med(d, i):
    v = [float(r[-3 + i]) for r in rows if " ".join(r[:-3]) == d and r[-3 + i] != "-"]
    return statistics.median(v) if v else None
base = med(designs[0], 0)
print(f'| design | rps (median) | x {designs[0]} | p99 ms | server CPU us/rt (window) |')
print('|---|---|---|---|---|')
for d in designs:
    rps, p99, cpu = med(d, 0), med(d, 1), med(d, 2)
    f = lambda v, fmt: fmt.format(v) if v is not None else "-"
    print(f'| {d} | {rps:.0f} | {rps/base:.2f} | {f(p99, "{:.1f}")} | {f(cpu, "{:.2f}")} |')
PY
