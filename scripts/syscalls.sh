#!/usr/bin/env bash
# scripts/syscalls.sh - system calls per request of a server: perf counts
# raw_syscalls:sys_enter over the server's whole life while the 05 client
# (one loop) drives it, and the count is divided by the requests in the
# server's JSON. Start-up and shutdown calls are included (a few hundred
# against ~10^5 requests).
#
# usage: scripts/syscalls.sh [-n CONNS] [-d SEC] NN[:'SERVER ARGS']...   (needs perf)
# e.g.   scripts/syscalls.sh -n 1000 -d 6 06 14 '14:-F none' '14:-F none,batch'
# (the server arguments as scripts/bench-side.sh takes them; the label of
# each line is the whole NN:ARGS)
set -euo pipefail
cd "$(dirname "$0")/.."
conns=1000 secs=6
die2() { echo "syscalls.sh: $*" >&2; echo "usage: scripts/syscalls.sh [-n CONNS] [-d SEC] NN[:'SERVER ARGS']..." >&2; exit 2; }
while [[ $# -gt 0 && $1 == -* ]]; do
	case $1 in
	-n) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die2 "-n: '${2:-}' is not a positive number"; conns=$2; shift 2 ;;
	-d) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die2 "-d: '${2:-}' is not whole seconds"; secs=$2; shift 2 ;;
	*) die2 "unknown option $1" ;;
	esac
done
[[ $# -gt 0 ]] || die2 "name at least one design"
command -v perf >/dev/null || { echo "syscalls.sh: needs perf (linux-perf)" >&2; exit 1; }
servers=()
for d in "$@"; do
	nn=${d%%:*}
	[[ $nn =~ ^[0-9][0-9]$ ]] || die2 "'$d': want NN or NN:'SERVER ARGS'"
	server=$(ls -d ${nn}_*/server.c 2>/dev/null | head -n 1) || true
	[[ -n "$server" ]] || die2 "no server NN '$nn'"
	servers+=("${server%.c}")
done
make -s "${servers[@]}" 05_multi_epoll_client/client
tmp=$(mktemp -d /tmp/c1m-sys.XXXXXX) ppid=
cleanup() { [[ -n "$ppid" ]] && pkill -KILL -P "$ppid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
for i in "${!servers[@]}"; do
	d=${@:i+1:1} server=${servers[i]} sargs=()
	[[ $d == *:* ]] && read -r -a sargs <<<"${d#*:}"
	: >"$tmp/err"
	perf stat -x, -e raw_syscalls:sys_enter -o "$tmp/perf" "$server" -p 0 -i 1000 "${sargs[@]}" \
		>"$tmp/json" 2>"$tmp/err" & ppid=$!
	for _ in $(seq 100); do grep -q 'listening on' "$tmp/err" && break; sleep 0.05; done
	port=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$tmp/err" | head -n 1)
	[[ -n "$port" ]] || { echo "syscalls.sh: $d: the server did not start:" >&2; cat "$tmp/err" >&2; exit 1; }
	./05_multi_epoll_client/client -p "$port" -n "$conns" -c 1 -d "$secs" -i 1000 >/dev/null 2>&1
	pkill -TERM -P "$ppid"; wait "$ppid"; ppid=
	calls=$(awk -F, '/raw_syscalls/{print $1}' "$tmp/perf")
	req=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])["requests"])' "$tmp/json")
	awk -v nn="$d" -v c="$calls" -v r="$req" \
		'BEGIN { printf "%s: %d system calls, %d requests, %.3f per request\n", nn, c, r, c / r }'
done
