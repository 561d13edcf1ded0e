#!/usr/bin/env bash
# tests/badargs.sh - every program in every NN_* directory, given bad input:
#   bad flag / bad value / stray argument -> exit 2, error on one line
#     naming the problem, plus the one-line synopsis; nothing on stdout
#   -h -> exit 0 and a usage text on stdout
#   a server on a port already in use -> exit 1 with one line on stderr
# Each program's checks run beside the others' (one job a CPU): a failed
# check prints one line, and the lines are counted at the end.
source "$(dirname "$0")/lib.sh"
bad=0
expect() { # want_rc prog args...
	local want=$1 out err rc ef="$TMP/err.$BASHPID"
	shift
	out=$(timeout 5 "$@" 2>"$ef" </dev/null)
	rc=$?
	err=$(cat "$ef")
	if [[ $rc -ne $want ]]; then
		echo "$* -> exit $rc, want $want; stderr: ${err//$'\n'/ }"
	elif [[ $want -ne 0 && -n "$out" ]]; then
		echo "$* -> printed on stdout: ${out//$'\n'/ }"
	elif [[ $want -ne 0 && ( -z "$err" || $(wc -l <<<"$err") -gt 2 ) ]]; then
		echo "$* -> stderr is not a one-line error (+ synopsis): ${err//$'\n'/ }"
	fi
}
progs=$(ls -d [0-9][0-9]_*/server [0-9][0-9]_*/client 2>/dev/null)
[[ -n "$progs" ]] || fail "no programs built"
check_prog() { # PROG: every bad-input check of one program
	local p=$1 syn f
	expect 2 "$p" -Z
	expect 2 "$p" -p
	expect 2 "$p" -p abc
	expect 2 "$p" -p 70000
	expect 2 "$p" -p -1
	expect 2 "$p" -a not.an.address
	expect 2 "$p" -i 0
	expect 2 "$p" -i x
	expect 2 "$p" stray
	expect 0 "$p" -h
	[[ "$(timeout 5 "$p" -h 2>/dev/null)" == *usage* ]] || echo "$p -h: no usage"
	# Every flag its own synopsis lists that takes a value, given junk, and
	# -c/-n given 0: so design flags (-w, -m, -b, -B, ...) are covered as
	# they are added.
	syn=$(timeout 5 "$p" -h 2>/dev/null | grep -m1 '^usage:')
	for f in $(grep -o '\[-[A-Za-z] [A-Z]' <<<"$syn" | cut -c3); do
		expect 2 "$p" "-$f" 'x!y'
	done
	for f in c n; do
		grep -q "\[-$f " <<<"$syn" && expect 2 "$p" "-$f" 0
	done
	if [[ $p == */client ]]; then
		expect 2 "$p" -n 0
		expect 2 "$p" -n 12x
		expect 2 "$p" -d -3
		expect 2 "$p" -c 0
		expect 2 "$p" -s 127.0.0.9-127.0.0.2
		# push modes: --push sends nothing, --push-echo keeps 8-byte frames
		expect 2 "$p" --push -q 2
		expect 2 "$p" --push -l 16
		expect 2 "$p" --push -r 10
		expect 2 "$p" --push-echo -l 16
		expect 2 "$p" --push --push-echo
		expect 2 "$p" --push=1
	fi
}
jobs=$(nproc 2>/dev/null || echo 2)
i=0
for p in $progs; do
	check_prog "$p" >"$TMP/bad.$i" &
	i=$((i + 1))
	while [[ $(jobs -rp | wc -l) -ge $jobs ]]; do wait -n; done
done
wait
cat "$TMP"/bad.*
bad=$(cat "$TMP"/bad.* | wc -l)
# A busy port: a plain listener holds a port it chose itself (no race with
# other tests for a picked number), then each server is started on it.
python3 -c 'import socket,sys,time
s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen()
print(s.getsockname()[1], flush=True); time.sleep(3600)' >"$TMP/port" &
holder=$!
trap 'kill "$holder" 2>/dev/null; cleanup' EXIT
for _ in $(seq 1 100); do [[ -s "$TMP/port" ]] && break; sleep 0.05; done
port=$(cat "$TMP/port")
[[ -n "$port" ]] || fail "port holder did not start"
for p in $(ls -d [0-9][0-9]_*/server); do
	expect 1 "$p" -p "$port"
done >"$TMP/busy"
kill "$holder"
cat "$TMP/busy"
bad=$((bad + $(wc -l <"$TMP/busy")))
[[ $bad -eq 0 ]] || fail "$bad bad-input checks failed"
echo pass
