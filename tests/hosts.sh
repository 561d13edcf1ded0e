#!/usr/bin/env bash
# tests/hosts.sh CASE - run.sh --hosts over "hosts" that are network
# namespaces of this machine (scripts/netns-lab.sh: a server namespace and
# two client namespaces on a bridge, 198.18.0.0/15 only, no route out).
# Root and ip netns, else skipped. Cases (tests/hosts.cases lists them):
#
#   netns    ./run.sh 06 at 2 x 2,000 connections with --via 'ip netns exec':
#            the run passes; the merged round trips are the sum of the two
#            clients'; every merged key (p50 ... p99.9 among them) equals that
#            of the two clients' buckets merged apart (tests/py/merge_tool.py);
#            every client's window opens and closes within 50 ms of the
#            other's; the server's window rps
#            agrees with the merged one; each histogram holds the window's
#            round trips, no more, no fewer; nothing is left behind (no process in
#            the namespaces, the namespaces gone, no kernel setting changed)
#   fail     a host that does not exist: a one-line error naming it, exit 1,
#            before any server starts; a client killed in the middle of a run:
#            run.sh fails the run, stops the rest, and leaves nothing behind
#   ssh      the netns case over real ssh: an sshd in each client namespace on
#            a port of the test's own, with a key made for the test. Skipped
#            with the reason when sshd (Debian's openssh-server) is not here.
#   badargs  --hosts without -a, with --netns or --pin, a bad source range, a
#            --via command that does not exist: one line each, exit 2
source "$(dirname "$0")/lib.sh"
LAB=c1m-t$$
export RESULTS_DIR=$TMP/results C1M_TUNE_STATE=/tmp/c1m-tune-hosts.$$
RUN_PID='' SSHD_PIDS=() MADE_RUN_SSHD=0
hosts_cleanup() {
	[[ -n "$RUN_PID" ]] && kill -TERM "$RUN_PID" 2>/dev/null && wait "$RUN_PID" 2>/dev/null
	for p in "${SSHD_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	((MADE_RUN_SSHD)) && rmdir /run/sshd 2>/dev/null
	[[ -s "$C1M_TUNE_STATE" ]] && scripts/tune.sh --undo
	rm -f "$C1M_TUNE_STATE"
	scripts/netns-lab.sh down --name "$LAB" >/dev/null 2>&1
	cleanup
}
trap hosts_cleanup EXIT

need_netns() {
	[[ $EUID -eq 0 ]] && command -v ip >/dev/null && ip netns list >/dev/null 2>&1 ||
		{ echo "needs root and ip netns"; exit 77; }
}

# Nothing of the run is left: no process in the lab's namespaces.
assert_no_pids() {
	local ns left
	for ns in "$LAB-srv" "$LAB-1" "$LAB-2"; do
		left=$(ip netns pids "$ns" 2>/dev/null | paste -sd, -)
		[[ -z "$left" ]] || { ps -o pid,ppid,args -p "$left"; fail "processes left in $ns: $left"; }
	done
}

# run.sh inside the server namespace, the clients in the two others.
# $1 = the via prefix, $2 = host 1, $3 = host 2; the rest goes to run.sh.
run_lab() {
	local via=$1 h1=$2 h2=$3
	shift 3
	ip netns exec "$LAB-srv" ./run.sh 06 -n 4000 -d 3 -i 1 -a 198.18.0.1 --no-build \
		--via "$via" --hosts "$h1=198.18.1.1,$h2=198.18.2.1" "$@"
}

# The assertions on a --hosts result file $1.
check_result() {
	python3 - "$1" <<'EOF' || fail "the merged result is wrong (above)"
import json, os, sys
r = json.load(open(sys.argv[1]))
s, m, cs = r["summary"], r["client"], r["clients"]
ok = True
def check(cond, what):
    global ok
    print(("ok   " if cond else "FAIL ") + what)
    ok = ok and cond
check(s["status"] == "ok" and s["hosts"] == 2, "status ok, 2 hosts: %s, %s" % (s["status"], s["hosts"]))
if os.path.exists("scripts/c1m/run.py"):   # the Python layer's result (bash wrote version 1)
    sys.path.insert(0, "scripts")
    from c1m import schema
    check(not schema.problems(r), "the result validates (docs/results-schema.md): %s" % schema.problems(r))
check(len(cs) == 2 and all(c["conns"] == 2000 and c["errors"] == 0 and c["mismatches"] == 0 for c in cs),
      "each client: 2,000 connections, no errors, no mismatches")
check(m["round_trips"] == sum(c["round_trips"] for c in cs) > 0,
      "merged round trips %d = %s" % (m["round_trips"], " + ".join(str(c["round_trips"]) for c in cs)))
# The histogram holds the window's replies, no more (none drained after it)
# and no fewer: the edges race by a few replies at most.
for c in cs:
    rt = c["round_trips"] - c["mismatches"]
    check(abs(c["hist"]["count"] - rt) <= max(20, 0.002 * rt),
          "%s: histogram count %d = the window's round trips %d" % (c["host"], c["hist"]["count"], rt))
check(m["hist"]["count"] == sum(c["hist"]["count"] for c in cs), "merged histogram count %d" % m["hist"]["count"])
starts = [c["window_start_us"] for c in cs]
ends = [c["window_end_us"] for c in cs]
check(max(starts) - min(starts) <= 50000, "windows open %.1f ms apart (<= 50)" % ((max(starts) - min(starts)) / 1e3))
check(max(ends) - min(ends) <= 50000, "windows close %.1f ms apart (<= 50)" % ((max(ends) - min(ends)) / 1e3))
check(abs(m["rps"] - sum(c["rps"] for c in cs)) <= 1, "merged rps %.0f = the sum of the hosts'" % m["rps"])
a = s["rps_agreement"]
check(a is not None and 0.85 <= a <= 1.15, "client / server window rps = %s (0.85..1.15): run.sh marked the server's window" % a)
sys.exit(0 if ok else 1)
EOF
	# Every merged key, the percentiles among them, against a merge of the
	# two clients' buckets written apart from scripts/merge (exact integers;
	# the lines re-written compact, as the programs print them).
	python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
json.dump(r["client"], open(sys.argv[2] + "/merged.json", "w"), separators=(",", ":"))
for i, c in enumerate(r["clients"]):
    json.dump(c, open("%s/host.%d.json" % (sys.argv[2], i), "w"), separators=(",", ":"))' "$1" "$TMP" &&
		python3 tests/py/merge_tool.py check "$TMP/merged.json" "$TMP"/host.[0-9].json ||
		fail "the merged line differs from an independent merge (above)"
}

case_netns() {
	local before after file
	need_netns
	before=$(scripts/tune.sh show)
	scripts/netns-lab.sh up 2 --name "$LAB" || fail "netns-lab.sh up"
	run_lab 'ip netns exec' "$LAB-1" "$LAB-2" >"$TMP/run.out" 2>&1
	local rc=$?
	cat "$TMP/run.out"
	[[ $rc -eq 0 ]] || fail "run.sh --hosts exited $rc"
	grep -q 'all 2 hosts ready; go' "$TMP/run.out" || fail "no start barrier in the output"
	file=$(ls "$RESULTS_DIR"/06-*.json 2>/dev/null | head -n 1)
	[[ -n "$file" ]] || fail "no result file"
	check_result "$file"
	assert_no_pids
	scripts/netns-lab.sh down --name "$LAB" || fail "netns-lab.sh down"
	[[ -z "$(ip netns list | grep "^$LAB-")" ]] || fail "namespaces left: $(ip netns list | grep "^$LAB-")"
	after=$(scripts/tune.sh show)
	[[ "$before" == "$after" ]] || { diff <(echo "$before") <(echo "$after"); fail "kernel settings changed"; }
	echo pass
}

case_fail() {
	local rc n file
	need_netns
	scripts/netns-lab.sh up 2 --name "$LAB" >/dev/null || fail "netns-lab.sh up"
	# A host that is not there: named, before anything runs.
	run_lab 'ip netns exec' "$LAB-1" "$LAB-9" >"$TMP/run.out" 2>&1
	rc=$?
	cat "$TMP/run.out"
	[[ $rc -eq 1 ]] || fail "a missing host: exit $rc, want 1"
	n=$(grep -c "^run.sh: host $LAB-9: " "$TMP/run.out")
	[[ $n -eq 1 ]] || fail "want one line naming host $LAB-9, got $n"
	grep -q '^server:' "$TMP/run.out" && fail "a server was started although a host was missing"
	assert_no_pids

	# A client killed in the middle of its window.
	run_lab 'ip netns exec' "$LAB-1" "$LAB-2" -d 20 >"$TMP/run2.out" 2>&1 &
	RUN_PID=$!
	for _ in $(seq 1 $((200 * STRETCH))); do
		grep -q 'hosts ready; go' "$TMP/run2.out" && break
		sleep 0.1
	done
	grep -q 'hosts ready; go' "$TMP/run2.out" || { cat "$TMP/run2.out"; fail "the run never reached go"; }
	sleep 1
	local victim
	victim=$(ip netns pids "$LAB-2" | head -n 1)
	[[ -n "$victim" ]] || fail "no client running in $LAB-2"
	kill -KILL "$victim"
	local t0=$SECONDS
	wait "$RUN_PID"
	rc=$?
	RUN_PID=''
	cat "$TMP/run2.out"
	[[ $rc -eq 1 ]] || fail "a client killed mid-run: run.sh exit $rc, want 1"
	((SECONDS - t0 < 30)) || fail "run.sh took $((SECONDS - t0)) s to end after a client died"
	file=$(ls "$RESULTS_DIR"/06-*.json 2>/dev/null | head -n 1)
	[[ -n "$file" ]] && python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; assert s["status"] == "failed", s["status"]' "$file" ||
		fail "the run was not recorded as failed"
	assert_no_pids
	echo pass
}

case_ssh() {
	local sshd key port=$((20000 + $$ % 20000)) i
	need_netns
	sshd=$(command -v sshd || ls /usr/sbin/sshd 2>/dev/null)
	[[ -n "$sshd" ]] || { echo "sshd is not installed (Debian's openssh-server); the netns case covers the rest"; exit 77; }
	command -v ssh-keygen >/dev/null || { echo "no ssh-keygen"; exit 77; }
	scripts/netns-lab.sh up 2 --name "$LAB" >/dev/null || fail "netns-lab.sh up"
	key=$TMP/id_ed25519
	ssh-keygen -q -t ed25519 -N '' -f "$key" || fail "ssh-keygen"
	ssh-keygen -q -t ed25519 -N '' -f "$TMP/host_key" || fail "ssh-keygen (host key)"
	mkdir -p "$TMP/ssh" && cp "$key.pub" "$TMP/ssh/authorized_keys" && chmod 700 "$TMP" "$TMP/ssh"
	# sshd wants its privilege separation directory; made here, removed after.
	[[ -d /run/sshd ]] || { mkdir -m 755 /run/sshd && MADE_RUN_SSHD=1; }
	for i in 1 2; do
		printf '%s\n' "Port $port" "ListenAddress 198.18.$i.1" "HostKey $TMP/host_key" \
			"AuthorizedKeysFile $TMP/ssh/authorized_keys" "StrictModes no" "PasswordAuthentication no" \
			"KbdInteractiveAuthentication no" "UsePAM no" "PermitRootLogin prohibit-password" \
			"PidFile none" >"$TMP/sshd.$i.conf"
		ip netns exec "$LAB-$i" "$sshd" -D -e -f "$TMP/sshd.$i.conf" 2>"$TMP/sshd.$i.log" &
		SSHD_PIDS+=($!)
	done
	for i in 1 2; do
		for _ in $(seq 1 50); do
			grep -q 'Server listening' "$TMP/sshd.$i.log" && break
			sleep 0.1
		done
		grep -q 'Server listening' "$TMP/sshd.$i.log" || { cat "$TMP/sshd.$i.log"; fail "sshd in $LAB-$i did not start"; }
	done
	local via="ssh -o BatchMode=yes -p $port -i $key -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
	ip netns exec "$LAB-srv" ./run.sh 06 -n 4000 -d 3 -i 1 -a 198.18.0.1 --no-build \
		--via "$via" --hosts "198.18.1.1=198.18.1.1,198.18.2.1=198.18.2.1" >"$TMP/run.out" 2>&1
	local rc=$?
	cat "$TMP/run.out"
	[[ $rc -eq 0 ]] || fail "run.sh --hosts over ssh exited $rc"
	check_result "$(ls "$RESULTS_DIR"/06-*.json | head -n 1)"
	for p in "${SSHD_PIDS[@]}"; do kill -TERM "$p"; wait "$p" 2>/dev/null; done
	SSHD_PIDS=()
	assert_no_pids
	echo pass
}

case_badargs() {
	local out rc
	try() { # WANT_TEXT ARGS...
		local want=$1
		shift
		out=$(./run.sh --no-build --dry-run "$@" 2>&1)
		rc=$?
		[[ $rc -eq 2 ]] || fail "run.sh $*: exit $rc, want 2: $out"
		[[ $(head -n 1 <<<"$out") == *"$want"* ]] || fail "run.sh $*: first line '$(head -n 1 <<<"$out")', want '$want'"
		echo "ok: run.sh $* -> $(head -n 1 <<<"$out")"
	}
	try "needs -a ADDR" 06 --hosts a,b
	try "pick one" 06 --hosts a,b -a 198.18.0.1 --netns
	try "with --hosts the clients are elsewhere" 06 --hosts a,b -a 198.18.0.1 --pin 0:1
	try "want source addresses" 06 --hosts a=1.2.3,b -a 198.18.0.1
	try "no command 'no-such-cmd'" 06 --hosts a,b -a 198.18.0.1 --via 'no-such-cmd x'
	try "want an absolute path" 06 --hosts a,b -a 198.18.0.1 --remote-dir rel/dir
	try "not for compare" compare --hosts a -a 198.18.0.1
	try "no design 99" 99 --hosts a -a 198.18.0.1
	echo pass
}

case ${1:-} in
netns | fail | ssh | badargs)
	if [[ -n "${SAN:-}" ]]; then
		echo "run.sh's own case: plain make test runs it (tests/barrier.sh covers the client's -B under sanitizers)"
		exit 77
	fi ;;
esac
case ${1:-} in
netns) case_netns ;;
fail) case_fail ;;
ssh) case_ssh ;;
badargs) case_badargs ;;
*) echo "usage: tests/hosts.sh netns|fail|ssh|badargs" >&2; exit 2 ;;
esac
