#!/usr/bin/env bash
# scripts/soak.sh - hold N connections with ping-pong for SEC seconds and
# account for every request: 05 client -> 06 server (or -s NN) in a fresh
# network namespace. Passes only if, at the end:
#   every request sent got its reply (unanswered 0, mismatches 0, errors 0),
#   the server's requests equal the client's replies,
#   the server's open fds (every loop's table) are back to their baseline
#   once the client has gone, and kernel Slab is back within 64 MB of its
#   baseline. Kernel settings are put back on exit (scripts/tune.sh --undo).
#
# usage: scripts/soak.sh [-n CONNS] [-d SEC] [-s NN]     (root)
#   defaults: -n 1000000 -d 60 -s 06
set -euo pipefail
cd "$(dirname "$0")/.."
conns=1000000 secs=60 nn=06
die2() { echo "soak.sh: $*" >&2; echo "usage: scripts/soak.sh [-n CONNS] [-d SEC] [-s NN]" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
	case $1 in
	-n) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die2 "-n: '${2:-}' is not a positive number"; conns=$2; shift 2 ;;
	-d) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die2 "-d: '${2:-}' is not whole seconds"; secs=$2; shift 2 ;;
	-s) [[ ${2:-} =~ ^[0-9][0-9]$ ]] && ls -d ${2}_*/server >/dev/null 2>&1 || die2 "-s: no server NN '${2:-}'"; nn=$2; shift 2 ;;
	-h) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die2 "unknown argument $1" ;;
	esac
done
((EUID == 0)) || { echo "soak.sh: needs root (network namespace, kernel settings)" >&2; exit 1; }
server=$(ls -d ${nn}_*/server)
make -s
ns=c1m-soak-$$ tmp=$(mktemp -d /tmp/c1m-soak.XXXXXX) spid=
cleanup() {
	[[ -n "$spid" ]] && kill -KILL "$spid" 2>/dev/null
	scripts/tune.sh --undo >/dev/null || echo "soak.sh: scripts/tune.sh --undo failed" >&2
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
scripts/tune.sh apply -n "$conns" -p 8972 --netns | grep -v '^  ok ' || true
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" scripts/tune.sh apply --scope ns --no-save -n "$conns" -p 8972 --netns >/dev/null
fds() { local n=0; for t in /proc/"$spid"/task/*/fd; do n=$((n + $(ls "$t" | wc -l))); done; echo $n; }
slab() { awk '/^Slab:/{print $2}' /proc/meminfo; }

slab0=$(slab)
ip netns exec "$ns" "$server" -n "$conns" -i 10 >"$tmp/s.json" 2>"$tmp/s.err" & spid=$!
for _ in $(seq 200); do grep -q 'listening on' "$tmp/s.err" && break; sleep 0.05; done
grep -q 'listening on' "$tmp/s.err" || { cat "$tmp/s.err"; exit 1; }
fd0=$(fds)
echo "soak: $conns connections, $secs s, $server; server fds at rest $fd0, Slab $((slab0 / 1024)) MB"
ip netns exec "$ns" ./05_multi_epoll_client/client -n "$conns" -d "$secs" -i 10 >"$tmp/c.json" 2>"$tmp/c.err" || true
grep -v '^ramp' "$tmp/c.err" | tail -n 4
# The client has closed everything: wait for the server to see it.
for _ in $(seq 120); do [[ $(fds) -le $fd0 ]] && break; sleep 1; done
fd1=$(fds)
kill -TERM "$spid"; wait "$spid"; spid=
sleep 2
slab1=$(slab)
python3 - "$tmp/c.json" "$tmp/s.json" "$fd0" "$fd1" "$slab0" "$slab1" <<'PY'
import json, sys
c = json.loads(open(sys.argv[1]).read().splitlines()[-1])
s = json.loads(open(sys.argv[2]).read().splitlines()[-1])
fd0, fd1, slab0, slab1 = map(int, sys.argv[3:7])
checks = [
    ("every connection up", c["conns"] == c["conns_target"]),
    ("no errors", c["errors"] == 0),
    ("no mismatches", c["mismatches"] == 0),
    ("every request answered", c["unanswered"] == 0 and c["requests_sent"] == c["replies"]),
    ("server served exactly the client's replies", s["requests"] == c["replies"]),
    ("server fds back to baseline", fd1 <= fd0),
    ("kernel Slab back within 64 MB", slab1 - slab0 < 65536),
]
print(f'soak: sent {c["requests_sent"]}, replies {c["replies"]}, server requests {s["requests"]}, '
      f'rps {c["rps"]:.0f}, p99 {c["lat_us"]["p99"]/1e6:.2f} s, connect {c["connect_s"]:.1f} s')
print(f'soak: server fds {fd0} -> {fd1}, Slab {slab0//1024} -> {slab1//1024} MB, '
      f'server RSS peak {s["rss_kb_peak"]//1024} MB')
bad = [n for n, ok in checks if not ok]
for n, ok in checks:
    print(f'soak: {"ok  " if ok else "FAIL"} {n}')
sys.exit(1 if bad else 0)
PY
