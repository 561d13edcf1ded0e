#!/usr/bin/env bash
# tests/runsh.sh CASE - run.sh and scripts/tune.sh as a user meets them
# (scripts/report: tests/report.sh). Cases (tests/runsh.cases lists them):
#
#   quick        ./run.sh 06 --quick: a result JSON and a CSV row are written, the
#                client checked every reply, and nothing is left behind: no server
#                or client process, no namespace, no changed kernel setting
#   netns        the same with --netns (root; skipped without ip netns)
#   badargs      bad arguments exit 2 with the reason and the synopsis; an unknown
#                design lists the valid ones; a size that cannot fit is refused
#   plan         ./run.sh 06 -n 1000000 --netns --dry-run says what the 1M run
#                will change, and changes nothing
#   interrupt    Ctrl-C in the middle of a run (over a fake /proc/sys that the run
#                tunes): exit 130, settings put back, no process left
#   autonetns    as root, ./run.sh 06 -n 1000000 --dry-run takes a namespace of its
#                own when 2M sockets outnumber this one's TCP hash buckets, and
#                says so; --no-netns and -n 1000 do not
#   perf         --perf DIR: ramp and window profiles; perf's server us per round
#                trip at most 1.25x the server's own, and less only by what the
#                samples missed (their coverage); no perf left, also when
#                perf-window.sh is stopped in its wait; perf-top and
#                perf-window.sh refuse bad arguments
#   tune-fake    tune.sh apply / --undo / check over a fake /proc/sys tree, as
#                root and as a user
#   tune-ns      tune.sh apply and --undo for real, inside a throwaway namespace
#   limits       run.sh sizes from the programs' -L line, not their -h text
#                (fake programs whose -h says otherwise); a program whose -L
#                fails or lacks a key is a one-line error, exit 1
#   pin-args     --pin: S:C lists parsed and shown as taskset in the commands; the
#                default split; overlapping, offline and malformed sets exit 2
#                with the reason; on one CPU a one-line refusal, exit 2
#   pin-run      ./run.sh 06 --quick --pin 0:1: the server and the client really
#                run on those CPUs (their /proc/PID/status, sampled during the
#                run; the server's PID is the server's own), the JSON records them,
#                and the client is given -P SERVER_PID when it takes it
#   compare-plan ./run.sh compare --dry-run: every design at 10,000 (or the least
#                cap), then 03 06 07 08 14 at 1,000/100,000/1,000,000 up to their
#                caps (read from sizing); one set id on every run; nothing written
#   window       fake programs: the summary's CPU, us per round trip and the
#                bottleneck come from the window figures only (client 190% /
#                server 40% in the window is "client" although the whole run says
#                server); an old pair without them gives nulls and "unknown (no
#                window CPU)"; -P only to a client that takes it
#
# Results go to a temporary RESULTS_DIR and the tuning state to a temporary
# C1M_TUNE_STATE, so a test leaves results/ and /var/tmp alone.
source "$(dirname "$0")/lib.sh"
# The tuning state lives outside $TMP: if a case is killed, its run.sh may
# still need it to put settings back; the EXIT trap undoes what is left.
export RESULTS_DIR=$TMP/results C1M_TUNE_STATE=/tmp/c1m-tune-test.$$
NS_TEST=''
runsh_cleanup() {
	if [[ -s "$C1M_TUNE_STATE" && -z "${C1M_SYSCTL_ROOT:-}" ]]; then
		echo "restoring settings a run left changed:"
		scripts/tune.sh --undo
	fi
	rm -f "$C1M_TUNE_STATE"
	[[ -n "$NS_TEST" ]] && ip netns del "$NS_TEST" 2>/dev/null
	# A run.sh a case started in the background: its TERM trap stops its programs.
	[[ -n "${RUN_PID:-}" ]] && kill -TERM "$RUN_PID" 2>/dev/null && wait "$RUN_PID" 2>/dev/null
	cleanup
}
trap runsh_cleanup EXIT

# Every kernel setting tune.sh knows, and the namespaces.
snapshot() {
	scripts/tune.sh show
	ip netns list 2>/dev/null | grep -c '^c1m-run-' | sed 's/^/c1m namespaces: /'
}

# Assert the run recorded in $1 left nothing behind.
assert_clean() {
	local file=$1 pid ns
	for key in server_pid client_pid; do
		pid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run"].get(sys.argv[2], 0))' "$file" "$key")
		[[ "$pid" -gt 0 ]] || fail "no $key recorded in $file"
		! kill -0 "$pid" 2>/dev/null || fail "$key $pid still running after run.sh"
	done
	ns=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run"]["netns"])' "$file")
	if [[ -n "$ns" ]]; then
		! ip netns list | grep -qw "$ns" || fail "namespace $ns left behind"
	fi
	[[ ! -e "$C1M_TUNE_STATE" ]] || fail "tune state $C1M_TUNE_STATE left behind: $(cat "$C1M_TUNE_STATE")"
	snapshot >"$TMP/after"
	diff "$TMP/before" "$TMP/after" || fail "kernel settings or namespaces differ after the run"
}

quick_run() { # extra run.sh args...
	snapshot >"$TMP/before"
	./run.sh 06 --quick -p 0 "$@" >"$TMP/out" 2>&1
	rc=$?
	cat "$TMP/out"
	[[ $rc -eq 0 ]] || fail "./run.sh 06 --quick $* exited $rc"
	local files=("$RESULTS_DIR"/06-*.json)
	[[ ${#files[@]} -eq 1 && -f "${files[0]}" ]] || fail "want one $RESULTS_DIR/06-*.json, have: ${files[*]}"
	file=${files[0]}
	python3 - "$file" <<-'EOF' || fail "result file $file"
	import json, sys
	r = json.load(open(sys.argv[1]))
	s, c, srv = r["summary"], r["client"], r["server"]
	assert s["status"] == "ok" and s["quick"] == 1, s
	assert s["conns"] == 200 and c["conns"] == 200, (s, c)
	assert c["round_trips"] > 0 and c["errors"] == 0 and c["mismatches"] == 0, c
	assert srv["design"] == "06_multi_epoll_server" and srv["requests"] >= c["round_trips"], srv
	assert s["rps"] > 0 and s["p50_us"] <= s["p99_us"] <= s["max_us"], s
	assert s["server_rss_kb"] > 0 and s["bottleneck"], s
	assert r["exit"] == {"client": 0, "server": 0}, r["exit"]
	for k in ("kernel", "cores", "mem_total_kb"):
	    assert k in r["machine"], k
	assert "net.ipv4.tcp_mem" in r["sysctls"], r["sysctls"]
	# docs/results-schema.md: a result of the Python layer (scripts/c1m/
	# run.py; the bash run.sh wrote version 1) validates and names its commit.
	import os
	if os.path.exists("scripts/c1m/run.py"):
	    sys.path.insert(0, "scripts")
	    from c1m import schema
	    schema.validate(r)
	    assert r["schema_version"] == schema.SCHEMA_VERSION and len(r["commit"]) == 40, r["commit"]
	print("result file ok:", s)
	EOF
	csv="$RESULTS_DIR/results.csv"
	[[ -f "$csv" ]] || fail "no $csv"
	head -n 1 "$csv" | grep -q '^started,nn,design,' || fail "CSV header: $(head -n 1 "$csv")"
	[[ $(wc -l <"$csv") -eq 2 ]] || fail "want header + 1 row in $csv: $(cat "$csv")"
	grep -q "^[^,]*,06,06_multi_epoll_server,05_multi_epoll_client,ok,1,.*,$(basename "$file")\$" "$csv" ||
		fail "no ok row for 06 in $csv: $(cat "$csv")"
	grep -q '^06_multi_epoll_server  *200 ' "$TMP/out" || fail "no summary table row in the output"
	assert_clean "$file"
}

case_quick() {
	quick_run
	echo pass
}

case_netns() {
	[[ $EUID -eq 0 ]] || { echo "skip: --netns needs root"; exit 77; }
	ip netns add "c1m-probe-$$" 2>/dev/null || { echo "skip: ip netns add does not work here"; exit 77; }
	ip netns del "c1m-probe-$$"
	quick_run --netns
	grep -q 'ip netns exec c1m-run-' "$TMP/out" || fail "the programs did not run in the namespace"
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["summary"]["netns"] == 1 and r["run"]["netns"].startswith("c1m-run-") and r["server_cmd"].startswith("ip netns exec " + r["run"]["netns"] + " ")' \
		"$file" || fail "the result does not say it ran in a namespace"
	echo pass
}

# want_rc RC PATTERN ./run.sh ARGS...: exit RC, stderr matching PATTERN, nothing on stdout.
bad=0
want() {
	local rc=$1 pat=$2 got
	shift 2
	"$@" >"$TMP/o" 2>"$TMP/e"
	got=$?
	if [[ $got -ne $rc ]]; then
		echo "$* -> exit $got, want $rc; stderr: $(cat "$TMP/e")"; bad=$((bad + 1))
	elif ! grep -Eq -- "$pat" "$TMP/e"; then
		echo "$* -> stderr does not say /$pat/: $(cat "$TMP/e")"; bad=$((bad + 1))
	elif [[ $rc -eq 2 ]] && ! grep -q '^usage: ./run.sh NN|all' "$TMP/e" && [[ "$pat" != *"fit"* ]]; then
		echo "$* -> no synopsis on stderr: $(cat "$TMP/e")"; bad=$((bad + 1))
	fi
}

case_badargs() {
	local valid
	want 2 'say which design' ./run.sh
	want 2 'no design 99 here; valid: .*06' ./run.sh 99
	want 2 'unknown option -x' ./run.sh 06 -x
	want 2 "-n: want a count" ./run.sh 06 -n abc
	want 2 "-n: 0 is not in" ./run.sh 06 -n 0
	want 2 "-n needs a value" ./run.sh 06 -n
	want 2 "-d: want seconds" ./run.sh 06 -d 0
	want 2 "-p: want a port" ./run.sh 06 -p 70000
	want 2 "-c: want a number" ./run.sh 06 -c 0
	want 2 "not a design number" ./run.sh abc
	want 2 "one number, or all" ./run.sh 06 06
	want 2 "--client 99: no client" ./run.sh 06 --client 99 --dry-run --no-build
	want 2 "--perf profiles one run" ./run.sh all --perf "$TMP/p" --dry-run --no-build
	want 2 "--perf profiles one run" ./run.sh 06 -n 1000,2000 --perf "$TMP/p" --dry-run --no-build
	want 2 "--perf needs a value" ./run.sh 06 --perf
	# Sizes that cannot fit: refused with the reason, nothing run.
	want 2 "-n 100,000,000 cannot fit: at most [0-9,]+ here, limited by memory" \
		./run.sh 06 -n 100000000 --dry-run --no-build
	valid=$(./run.sh 99 2>&1 | sed -n 's/.*valid: //p')
	if [[ " $valid " == *" 02 "* ]]; then
		want 2 "-n 50,000 cannot fit: .*limited by the (server|client)'s one fd table" \
			./run.sh 02 -n 50000 --dry-run --no-build
	fi
	[[ $bad -eq 0 ]] || fail "$bad bad-argument checks failed"
	./run.sh -h | grep -q -- '--netns' || fail "-h does not explain --netns"
	[[ ! -e "$RESULTS_DIR" ]] || fail "bad arguments created $RESULTS_DIR"
	echo pass
}

case_plan() {
	[[ $EUID -eq 0 ]] || { echo "skip: the 1M plan is for root"; exit 77; }
	snapshot >"$TMP/before"
	./run.sh 06 -n 1000000 --netns --dry-run --no-build >"$TMP/out" 2>&1 || { cat "$TMP/out"; fail "dry run exited $?"; }
	cat "$TMP/out"
	for want in '=> 1,000,000 connections' \
		'net.ipv4.tcp_child_ehash_entries +([0-9]+ -> )?2097152' \
		'net.ipv4.tcp_mem +([0-9 ]+ -> )?4194304 6291456 8388608' \
		'net.ipv4.ip_local_port_range +([0-9 ]+ -> )?1024 65535' \
		'net.ipv4.ip_local_reserved_ports +.*8972' \
		'net.core.somaxconn +([0-9]+ -> )?65535' \
		'server: ip netns exec c1m-run-[0-9]+ ./06_multi_epoll_server/server -p 8972 .*-n 1000000' \
		'client: ip netns exec c1m-run-[0-9]+ ./05_multi_epoll_client/client -p 8972 -n 1000000 .*-W 62'; do
		grep -Eq -- "$want" "$TMP/out" || fail "the plan does not say: $want"
	done
	snapshot >"$TMP/after"
	diff "$TMP/before" "$TMP/after" || fail "--dry-run changed something"
	[[ ! -e "$RESULTS_DIR" && ! -e "$C1M_TUNE_STATE" ]] || fail "--dry-run wrote results or tune state"
	echo pass
}

# A fake /proc/sys with this machine's defaults.
fake_tree() {
	local root=$1
	mkdir -p "$root"/{fs,kernel,vm,net/ipv4,net/core}
	echo 100000 >"$root/fs/file-max"
	echo 1048576 >"$root/fs/nr_open"
	echo 32768 >"$root/kernel/pid_max"
	echo 192729 >"$root/kernel/threads-max"
	echo 65530 >"$root/vm/max_map_count"
	printf '287898\t383866\t575796\n' >"$root/net/ipv4/tcp_mem"
	echo 0 >"$root/net/ipv4/tcp_child_ehash_entries"
	echo 262144 >"$root/net/ipv4/tcp_ehash_entries"
	echo >"$root/net/ipv4/ip_local_reserved_ports"
	printf '32768\t60999\n' >"$root/net/ipv4/ip_local_port_range"
	echo 4096 >"$root/net/core/somaxconn"
	echo 2048 >"$root/net/ipv4/tcp_max_syn_backlog"
}

case_tune_fake() {
	export C1M_SYSCTL_ROOT=$TMP/sys
	fake_tree "$C1M_SYSCTL_ROOT"
	scripts/tune.sh show >"$TMP/orig"
	grep -qx 'net.ipv4.tcp_mem=287898 383866 575796' "$TMP/orig" || fail "show: $(cat "$TMP/orig")"

	# A user: says what it needs, changes nothing, exits 1.
	C1M_TUNE_NOROOT=1 scripts/tune.sh apply -n 1000000 --threads >"$TMP/out" 2>&1 && fail "apply as a user exited 0"
	cat "$TMP/out"
	grep -q 'need kernel.pid_max  *32768 -> 1004096 .*needs root' "$TMP/out" || fail "no 'needs root' line"
	grep -q 'nothing was changed' "$TMP/out" || fail "a user is not told nothing changed"
	scripts/tune.sh show | diff "$TMP/orig" - || fail "apply as a user changed something"
	[[ ! -e "$C1M_TUNE_STATE" ]] || fail "apply as a user saved state"

	# check: exit 1 when short, 0 when not.
	scripts/tune.sh check -n 1000000 >/dev/null && fail "check -n 1000000 exited 0 with tcp_mem short"
	scripts/tune.sh check -n 100 >"$TMP/out" || { cat "$TMP/out"; fail "check -n 100 exited non-zero"; }

	# As root: applies, saves the first values only, undoes all of them.
	scripts/tune.sh apply -n 1000000 -p 8972 --threads >"$TMP/out" 2>&1 || { cat "$TMP/out"; fail "apply exited $?"; }
	cat "$TMP/out"
	scripts/tune.sh show >"$TMP/applied"
	for want in 'fs.file-max=2065536' 'kernel.pid_max=1004096' 'kernel.threads-max=1004096' \
		'vm.max_map_count=2004096' 'net.ipv4.tcp_mem=4194304 6291456 8388608' \
		'net.ipv4.ip_local_reserved_ports=8972' 'net.ipv4.ip_local_port_range=1024 65535' \
		'net.core.somaxconn=65535' 'net.ipv4.tcp_max_syn_backlog=65535' \
		'net.ipv4.tcp_child_ehash_entries=0'; do
		grep -qx "$want" "$TMP/applied" || fail "after apply, want $want in: $(cat "$TMP/applied")"
	done
	grep -q '^  set  net.ipv4.tcp_mem  *287898 383866 575796 -> 4194304 6291456 8388608' "$TMP/out" ||
		fail "apply does not print current -> new"
	[[ $(wc -l <"$C1M_TUNE_STATE") -eq 9 ]] || fail "want 9 saved values: $(cat "$C1M_TUNE_STATE")"
	# A second, bigger apply keeps the first originals; --netns raises the ehash.
	scripts/tune.sh apply -n 2000000 -p 9000 --netns >/dev/null || fail "second apply"
	grep -qx 'net.ipv4.tcp_child_ehash_entries=4194304' <(scripts/tune.sh show) || fail "--netns: no ehash"
	grep -qx 'net.ipv4.ip_local_reserved_ports=8972' <(scripts/tune.sh show) ||
		fail "--netns touched a per-namespace setting on the host"
	grep -q "^net.ipv4.tcp_mem	287898 383866 575796\$" "$C1M_TUNE_STATE" || fail "first tcp_mem not kept"
	[[ $(grep -c '^net.ipv4.tcp_mem' "$C1M_TUNE_STATE") -eq 1 ]] || fail "tcp_mem saved twice"
	# Never lowers: a small run changes nothing now.
	scripts/tune.sh apply -n 100 >"$TMP/out" || fail "apply -n 100"
	! grep -q '^  set ' "$TMP/out" || fail "a smaller run changed something: $(cat "$TMP/out")"
	scripts/tune.sh --undo >"$TMP/out" || { cat "$TMP/out"; fail "--undo exited $?"; }
	cat "$TMP/out"
	scripts/tune.sh show | diff "$TMP/orig" - || fail "--undo did not restore everything"
	[[ ! -e "$C1M_TUNE_STATE" ]] || fail "--undo left $C1M_TUNE_STATE"
	scripts/tune.sh --undo | grep -q 'nothing to undo' || fail "a second --undo is not a no-op"

	for args in "" "check -n x" "apply -p 99999" "check --scope moon" "frob"; do
		# shellcheck disable=SC2086
		scripts/tune.sh $args >/dev/null 2>&1
		[[ $? -eq 2 ]] || fail "tune.sh $args: want exit 2"
	done
	echo pass
}

case_tune_ns() {
	[[ $EUID -eq 0 ]] || { echo "skip: needs root"; exit 77; }
	local ns=c1m-tune-test-$$ before after
	ip netns add "$ns" 2>/dev/null || { echo "skip: ip netns add does not work here"; exit 77; }
	NS_TEST=$ns
	before=$(ip netns exec "$ns" scripts/tune.sh show --scope ns)
	ip netns exec "$ns" scripts/tune.sh apply --scope ns -n 30000 -p 8972 || fail "apply in $ns"
	grep -q '^net.core.somaxconn	' "$C1M_TUNE_STATE" || fail "apply in $ns saved nothing"
	after=$(ip netns exec "$ns" scripts/tune.sh show --scope ns)
	echo "$after"
	grep -qx 'net.ipv4.ip_local_port_range=1024 65535' <<<"$after" || fail "range not widened"
	grep -qx 'net.ipv4.ip_local_reserved_ports=8972' <<<"$after" || fail "port not reserved"
	grep -qx 'net.core.somaxconn=30000' <<<"$after" || fail "somaxconn not raised"
	ip netns exec "$ns" scripts/tune.sh --undo || fail "--undo in $ns"
	[[ "$(ip netns exec "$ns" scripts/tune.sh show --scope ns)" == "$before" ]] || fail "--undo did not restore $ns"
	ip netns del "$ns"
	NS_TEST=''
	ip netns list | grep -qw "$ns" && fail "namespace $ns left"
	echo pass
}

case_interrupt() {
	export C1M_SYSCTL_ROOT=$TMP/sys
	fake_tree "$C1M_SYSCTL_ROOT"
	echo 128 >"$C1M_SYSCTL_ROOT/net/core/somaxconn"	# short for 200 connections
	scripts/tune.sh show >"$TMP/orig"
	# As a terminal would: SIGINT to the whole process group, which a
	# background job of a script could not receive (it starts ignored).
	python3 - "$TMP/out" <<-'EOF' || fail "the interrupted run"
	import os, signal, subprocess, sys, time
	out = open(sys.argv[1], "w")
	p = subprocess.Popen(["./run.sh", "06", "--quick", "-d", "30", "-p", "0", "--no-build"],
	                     stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
	                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
	for _ in range(200):
	    time.sleep(0.1)
	    if "rps" in open(sys.argv[1]).read():   # measuring
	        break
	os.killpg(p.pid, signal.SIGINT)
	rc = p.wait(timeout=20)
	print("run.sh exited", rc)
	sys.exit(0 if rc == 130 else 1)
	EOF
	cat "$TMP/out"
	grep -q 'set  net.core.somaxconn  *128 -> 200' "$TMP/out" || fail "the run did not tune the fake tree"
	grep -q 'interrupted; cleaning up' "$TMP/out" || fail "no word about the interrupt"
	scripts/tune.sh show | diff "$TMP/orig" - || fail "settings not put back after Ctrl-C"
	[[ ! -e "$C1M_TUNE_STATE" ]] || fail "tune state left after Ctrl-C"
	for pid in $(sed -n 's/.*(\(server\|client\) pid \([0-9]*\)).*/\2/p' "$TMP/out"); do
		! kill -0 "$pid" 2>/dev/null || fail "pid $pid still running after Ctrl-C"
	done
	[[ $(grep -c '(server pid\|(client pid' "$TMP/out") -eq 2 ]] || fail "pids not printed"
	! ls "$RESULTS_DIR"/06-*.json 2>/dev/null || fail "an interrupted run was recorded"
	echo pass
}

# A tree of run.sh and scripts/ with fake programs in 03_fake/: their -h
# says one thing, their -L another; only -L may count.
fake_programs() { # DIR SERVER_LIMITS CLIENT_LIMITS SERVER_TAKES_N
	local t=$1
	mkdir -p "$t/03_fake"
	cp run.sh "$t/"
	cp -r scripts "$t/"
	touch "$t/03_fake/server.c" "$t/03_fake/client.c"
	cat >"$t/03_fake/server" <<-EOF
	#!/bin/sh
	# -h: every phrase the old run.sh scraped, none of it true.
	case "\$*" in
	-h) echo "usage: server [-n CONNS] this design has one"; exit 0 ;;
	"-n 1 -L") [ "$4" = 1 ] && { echo '$2'; exit 0; }; echo "unknown option -n" >&2; exit 2 ;;
	-L) echo '$2'; exit 0 ;;
	esac
	exit 2
	EOF
	cat >"$t/03_fake/client" <<-EOF
	#!/bin/sh
	case "\$*" in
	-h) printf '%s\n' "usage: client [-r RATE] this design has one" \
		"  -r RATE   requests/s (default 777)" "one 127.0.0.x per 7 connections"; exit 0 ;;
	-L) echo '$3'; exit 0 ;;
	esac
	exit 2
	EOF
	chmod +x "$t/03_fake/server" "$t/03_fake/client"
}

case_limits() {
	local t=$TMP/tree out rc
	local srv='{"design":"03_fake","fd_tables":"many","fd_limit":1000,"table_cap":900,"max_loops":3,"thread_per_conn":1,"target":5000}'
	local cli='{"design":"03_fake","fd_tables":"one","fd_limit":1000,"table_cap":990,"max_loops":1,"thread_per_conn":0,"target":100,"per_src":123,"rate":0}'
	fake_programs "$t" "$srv" "$cli" 1
	# --no-tune: a table is the hard RLIMIT_NOFILE as it is.
	out=$("$t/run.sh" 03 --dry-run --no-build --no-tune 2>&1)
	rc=$?
	[[ $rc -eq 0 ]] || { echo "$out"; fail "dry run over fake programs exited $rc"; }
	echo "$out"
	local table
	table=$(ulimit -Hn)
	[[ $table == unlimited ]] && table=1048576
	commas() { sed ':a;s/\B[0-9]\{3\}\>/,&/;ta' <<<"$1"; }
	for want in 'design +5,000 connections' '\+ a thread' \
		"server: a private fd table of $(commas $((table - 100))) connections per loop, up to 3 loops" \
		"client: one loop, one fd table -> $(commas $((table - 10)))" \
		'123 connections per source address' 'server: ./03_fake/server -p 8972 -i 5 -n [0-9]+$' \
		'client: ./03_fake/client -p 8972 -n [0-9]+ -d 10 -i 5$'; do
		grep -Eq -- "$want" <<<"$out" || fail "the plan does not say: $want"
	done
	! grep -q '777\| 7 connections' <<<"$out" || fail "the plan used the -h text"
	# A server that does not take -n gets none.
	fake_programs "$t" "$srv" "$cli" 0
	"$t/run.sh" 03 --dry-run --no-build 2>&1 | grep -Eq 'server: ./03_fake/server -p 8972 -i 5$' ||
		fail "-n passed to a server that refuses '-n 1 -L'"
	# -c beyond max_loops is refused.
	"$t/run.sh" 03 -c 4 --dry-run --no-build >/dev/null 2>"$TMP/e"
	[[ $? -eq 2 ]] && grep -q -- '-c 4: 03_fake/server runs at most 3' "$TMP/e" || fail "-c 4: $(cat "$TMP/e")"
	# No -L (an old binary): one line, exit 1.
	printf '#!/bin/sh\necho "usage: server [-h]" >&2\nexit 2\n' >"$t/03_fake/server"
	"$t/run.sh" 03 --dry-run --no-build >/dev/null 2>"$TMP/e"
	[[ $? -eq 1 ]] || fail "a server without -L: want exit 1"
	cat "$TMP/e"
	[[ $(wc -l <"$TMP/e") -eq 1 ]] && grep -q '^run.sh: ./03_fake/server -L failed (exit 2): .*rebuild it' "$TMP/e" ||
		fail "a server without -L: want one clear line, have: $(cat "$TMP/e")"
	# A -L line without a key the sizing needs: one line naming it.
	fake_programs "$t" "${srv/,\"target\":5000/}" "$cli" 1
	"$t/run.sh" 03 --dry-run --no-build >/dev/null 2>"$TMP/e"
	[[ $? -eq 1 ]] && [[ $(wc -l <"$TMP/e") -eq 1 ]] && grep -q '"target" is' "$TMP/e" ||
		fail "-L without target: $(cat "$TMP/e")"
	echo pass
}

# Exit 2 and stderr matching PATTERN, from ./run.sh ARGS... (no synopsis check).
want2() {
	local pat=$1 got
	shift
	"$@" >"$TMP/o" 2>"$TMP/e"
	got=$?
	if [[ $got -ne 2 ]]; then
		echo "$* -> exit $got, want 2; stderr: $(cat "$TMP/e")"; bad=$((bad + 1))
	elif ! grep -Eq -- "$pat" "$TMP/e"; then
		echo "$* -> stderr does not say /$pat/: $(cat "$TMP/e")"; bad=$((bad + 1))
	fi
}

# CPUs 0 and 1 are ours (online, in our affinity), or the case skips.
need_cpus_01() {
	taskset -c 0,1 true 2>/dev/null || { echo "skip: CPUs 0 and 1 are not both usable here"; exit 77; }
}

case_pin_args() {
	need_cpus_01
	local out
	# (As root, a 1M dry run says it runs in a namespace of its own.)
	# Explicit sets: taskset -c on each side's command.
	out=$(./run.sh 06 --pin 0:1 --dry-run --no-build 2>&1) || { echo "$out"; fail "--pin 0:1 dry run failed"; }
	grep -Eq '^server: (ip netns exec c1m-run-[0-9]+ )?taskset -c 0 ./06_multi_epoll_server/server ' <<<"$out" || fail "--pin 0:1: no taskset -c 0 server: $out"
	grep -Eq '^client: (ip netns exec c1m-run-[0-9]+ )?taskset -c 1 ./05_multi_epoll_client/client ' <<<"$out" || fail "--pin 0:1: no taskset -c 1 client"
	out=$(./run.sh 06 --pin=1:0 --dry-run --no-build 2>&1) || fail "--pin=1:0 exited $?"
	grep -Eq '^server: (ip netns exec c1m-run-[0-9]+ )?taskset -c 1 ' <<<"$out" && grep -Eq '^client: (ip netns exec c1m-run-[0-9]+ )?taskset -c 0 ' <<<"$out" || fail "--pin=1:0: $out"
	# The default: the first half of the usable CPUs for the server.
	out=$(taskset -c 0,1 ./run.sh 06 --pin --dry-run --no-build 2>&1) || fail "--pin (default) exited $?"
	grep -Eq '^server: (ip netns exec c1m-run-[0-9]+ )?taskset -c 0 ' <<<"$out" && grep -Eq '^client: (ip netns exec c1m-run-[0-9]+ )?taskset -c 1 ' <<<"$out" ||
		fail "--pin on CPUs 0,1: want server 0, client 1: $(grep -E '^(server|client):' <<<"$out")"
	# --pin before the design number: the number is still the design.
	out=$(./run.sh --pin 06 --dry-run --no-build 2>&1) || fail "./run.sh --pin 06 exited $?"
	grep -Eq '^server: (ip netns exec c1m-run-[0-9]+ )?taskset -c ' <<<"$out" || fail "--pin 06: no taskset"
	# Not pinned: no taskset.
	! ./run.sh 06 --dry-run --no-build 2>&1 | grep -q taskset || fail "taskset without --pin"

	want2 'CPU 0 is in both sets' ./run.sh 06 --pin 0:0-1 --dry-run --no-build
	want2 'CPU 1 is in both sets' ./run.sh 06 --pin 1:1 --dry-run --no-build
	want2 'CPU 9999 is not online' ./run.sh 06 --pin 0:9999 --dry-run --no-build
	want2 'CPU 1 is not online or not ours' taskset -c 0 ./run.sh 06 --pin 0:1 --dry-run --no-build
	want2 "'2-1' is not a CPU list" ./run.sh 06 --pin 2-1:0 --dry-run --no-build
	want2 "'x' is not a CPU list" ./run.sh 06 --pin x:1 --dry-run --no-build
	want2 "'' is not a CPU list" ./run.sh 06 --pin 0: --dry-run --no-build
	want2 "want SERVER_CPUS:CLIENT_CPUS" ./run.sh 06 --pin 0-1 --dry-run --no-build
	# One CPU: one line, exit 2, nothing else.
	want2 '^run.sh: --pin: this run may use only CPU 0: ' taskset -c 0 ./run.sh 06 --pin --dry-run --no-build
	[[ $(wc -l <"$TMP/e") -eq 1 && ! -s "$TMP/o" ]] || fail "1 CPU: want one line, have: $(cat "$TMP/o" "$TMP/e")"
	want2 '-n is not for compare' ./run.sh compare -n 1000 --dry-run --no-build
	want2 '--quick is not for compare' ./run.sh compare --quick --dry-run --no-build
	[[ $bad -eq 0 ]] || fail "$bad --pin checks failed"
	[[ ! -e "$RESULTS_DIR" ]] || fail "bad --pin arguments created $RESULTS_DIR"
	echo pass
}

case_pin_run() {
	need_cpus_01
	local spid='' cpid='' child='' s_cpus='' c_cpus='' s_comm='' c_comm='' i rc
	snapshot >"$TMP/before"
	./run.sh 06 --quick -p 0 --pin 0:1 >"$TMP/out" 2>&1 &
	RUN_PID=$!
	# Sample the programs' affinity while they run.
	for ((i = 0; i < 300; i++)); do
		[[ -n "$s_cpus" && -n "$c_cpus" ]] && break
		kill -0 "$RUN_PID" 2>/dev/null || break
		[[ -n "$spid" ]] || spid=$(sed -n 's/.*(server pid \([0-9]*\)).*/\1/p' "$TMP/out")
		[[ -n "$cpid" ]] || cpid=$(sed -n 's/.*(client pid \([0-9]*\)).*/\1/p' "$TMP/out")
		# $! is the server once bash's child has exec'd taskset and it the server.
		if [[ -n "$spid" && -z "$s_cpus" ]]; then
			s_comm=$(cat "/proc/$spid/comm" 2>/dev/null)
			[[ $s_comm == server ]] &&
				s_cpus=$(awk '/^Cpus_allowed_list:/ { print $2 }' "/proc/$spid/status" 2>/dev/null)
		fi
		if [[ -n "$cpid" && -z "$c_cpus" ]]; then
			# CLIENT_PID is timeout's; the client is its child (once exec'd).
			child=$(pgrep -P "$cpid" -x client | head -n 1)
			if [[ -n "$child" ]]; then
				c_comm=$(cat "/proc/$child/comm" 2>/dev/null)
				c_cpus=$(awk '/^Cpus_allowed_list:/ { print $2 }' "/proc/$child/status" 2>/dev/null)
			fi
		fi
		sleep 0.05
	done
	wait "$RUN_PID"
	rc=$?
	RUN_PID=''
	cat "$TMP/out"
	[[ $rc -eq 0 ]] || fail "./run.sh 06 --quick --pin 0:1 exited $rc"
	echo "sampled: server pid $spid ($s_comm) on CPUs $s_cpus; client pid $child ($c_comm) on CPUs $c_cpus"
	[[ $s_comm == server && $s_cpus == 0 ]] || fail "the server (pid $spid, '$s_comm') ran on CPUs '$s_cpus', want server on 0"
	[[ $c_comm == client && $c_cpus == 1 ]] || fail "the client (pid $child, '$c_comm') ran on CPUs '$c_cpus', want client on 1"
	local files=("$RESULTS_DIR"/06-*.json) takes_p=0
	[[ -f "${files[0]}" ]] || fail "no result file"
	./05_multi_epoll_client/client -P 1 -L >/dev/null 2>&1 && takes_p=1
	python3 - "${files[0]}" "$spid" "$takes_p" <<-'EOF' || fail "result file ${files[0]}"
	import json, sys
	r = json.load(open(sys.argv[1])); spid = int(sys.argv[2]); takes_p = sys.argv[3] == "1"
	s = r["summary"]
	assert s["status"] == "ok", s
	assert (s["pin_server"], s["pin_client"]) == ("0", "1"), s
	assert r["server_cmd"].startswith("taskset -c 0 ./06_multi_epoll_server/server "), r["server_cmd"]
	assert r["client_cmd"].startswith("taskset -c 1 ./05_multi_epoll_client/client "), r["client_cmd"]
	assert r["run"]["server_pid"] == spid, (r["run"], spid)
	if takes_p:
	    # -P is the server's own PID, and the server got both window marks.
	    assert " -P %d" % spid in r["client_cmd"], r["client_cmd"]
	    assert r["server"]["window_s"] > 0 and s["server_cpu_window_pct"] is not None, r["server"]
	    assert s["server_us_per_rt"] > 0 and s["rps_agreement"] > 0, s
	else:
	    assert " -P " not in r["client_cmd"], r["client_cmd"]
	print("pinned run ok:", s["pin_server"], s["pin_client"], r["client_cmd"])
	EOF
	assert_clean "${files[0]}"
	echo pass
}

case_compare_plan() {
	local out rc valid nn n cap common=10000 expect got set_ids
	local -A caps
	snapshot >"$TMP/before"
	./run.sh compare --dry-run --no-build -p 0 >"$TMP/out" 2>&1
	rc=$?
	sed -n '1,/^compare: 1\//p' "$TMP/out"
	[[ $rc -eq 0 ]] || { grep '^run.sh: ' "$TMP/out"; tail -n 5 "$TMP/out"; fail "compare --dry-run exited $rc"; }
	valid=$(./run.sh 99 2>&1 | sed -n 's/.*valid: //p')
	# Each design's cap, as the plan prints it; the count all hold is the least.
	for nn in $valid; do
		cap=$(sed -n "s/^  ${nn}_[a-z_]* .*(cap \([0-9,]*\): .*/\1/p" "$TMP/out" | tr -d ,)
		[[ -n "$cap" ]] || fail "the plan has no line with the cap of $nn"
		caps[$nn]=$cap
		((cap < common)) && common=$cap
	done
	# The scaling designs' caps are their own sizing's (a plain dry run;
	# within 10%: a cap set by memory moves with MemAvailable).
	for nn in 03 06 07 08 14; do
		[[ " $valid " == *" $nn "* ]] || continue
		out=$(./run.sh "$nn" --dry-run --no-build 2>&1)
		cap=$(sed -n -e 's/^  => \([0-9,]*\) connections (short of.*/\1/p' \
			-e 's/^  => .*this machine fits \([0-9,]*\)).*/\1/p' <<<"$out" | tr -d ,)
		[[ -n "$cap" ]] || fail "no cap in ./run.sh $nn --dry-run: $out"
		((cap * 10 >= caps[$nn] * 9 && cap * 9 <= caps[$nn] * 10)) ||
			fail "the plan's cap of $nn is ${caps[$nn]}; its sizing says $cap"
	done
	for nn in $valid; do
		if [[ " 03 06 07 08 14 " == *" $nn "* ]]; then
			expect=$(for n in 1000 100000 1000000 $common; do
				echo $((n < caps[$nn] ? n : caps[$nn])); done | sort -nu | tr '\n' ' ')
		else
			expect="$common "
		fi
		# The plan's line for the design...
		got=$(grep -E "^  ${nn}_[a-z_]+ +[0-9]" "$TMP/out" | sed 's/(cap.*//; s/^  [^ ]* *//; s/,//g' |
			tr ' ' '\n' | grep . | sort -n | tr '\n' ' ')
		[[ "$got" == "$expect" ]] || fail "the plan runs $nn at '$got', want '$expect' (cap ${caps[$nn]})"
		# ... and the runs made.
		got=$(grep -E "^compare: [0-9]+/[0-9]+ ${nn}_" "$TMP/out" |
			sed 's/.* at \([0-9,]*\) connections.*/\1/; s/,//g' | sort -n | tr '\n' ' ')
		[[ "$got" == "$expect" ]] || fail "$nn ran at '$got', want '$expect'"
	done
	n=$(sed -n '1s/^compare compare-[0-9T]*Z: \([0-9]*\) runs, about [0-9]* min$/\1/p' "$TMP/out")
	[[ -n "$n" ]] || fail "no 'compare SET: N runs, about M min' head line: $(head -n 1 "$TMP/out")"
	[[ $(grep -c "^compare: [0-9]*/$n " "$TMP/out") -eq $n ]] || fail "want $n progress lines 'compare: i/$n'"
	[[ $(grep -c '^client: ' "$TMP/out") -eq $n ]] || fail "want $n client commands"
	# Each run sized at its planned count.
	awk '/^compare: [0-9]+\// { want = $(NF - 3); next }
	     /^  => / && want != "" { if ($2 != want) { print "planned " want ", sized " $2; bad = 1 }; want = "" }
	     END { exit bad }' "$TMP/out" || fail "a run was not sized at its planned count"
	# One set id, on the head line and on every run.
	set_ids=$(grep -oE '(^compare |\(set )compare-[0-9]{8}T[0-9]{6}Z' "$TMP/out" | sed 's/.*compare-/compare-/' | sort | uniq -c)
	[[ $(wc -l <<<"$set_ids") -eq 1 && $(awk '{ print $1 }' <<<"$set_ids") -eq $((n + 1)) ]] ||
		fail "want one set id on the head line and all $n runs: $set_ids"
	# A design that holds less than 10,000 here (a fake whose client has one
	# fd table, under a hard RLIMIT_NOFILE of 5,000): all run at its cap,
	# and the plan says why; 03 then runs at 1,000 and at that cap.
	local srv='{"design":"03_fake","fd_tables":"many","fd_limit":1000,"table_cap":900,"max_loops":3,"thread_per_conn":0,"target":5000}'
	local cli='{"design":"03_fake","fd_tables":"one","fd_limit":1000,"table_cap":990,"max_loops":1,"thread_per_conn":0,"target":100,"per_src":123,"rate":0}'
	fake_programs "$TMP/tree" "$srv" "$cli" 1
	out=$(prlimit --nofile=5000:5000 "$TMP/tree/run.sh" compare --dry-run --no-build --no-tune 2>&1)
	rc=$?
	[[ $rc -eq 0 ]] || { echo "$out"; fail "compare --dry-run over a fake design exited $rc"; }
	for want in "every design at 4,990 connections, not 10,000: 03_fake holds at most 4,990 here, limited by the client's one fd table" \
		'^compare compare-[0-9T]+Z: 2 runs' '^compare: 1/2 03_fake at 4,990 connections' '^compare: 2/2 03_fake at 1,000 connections'; do
		grep -Eq -- "$want" <<<"$out" || { echo "$out"; fail "the plan over a fake design does not say: $want"; }
	done
	snapshot >"$TMP/after"
	diff "$TMP/before" "$TMP/after" || fail "compare --dry-run changed something"
	[[ ! -e "$RESULTS_DIR" ]] || fail "compare --dry-run wrote $RESULTS_DIR"

	# For real, over a fake pair that runs: both runs record one set id.
	fake_pair "$TMP/tree" "$(sed 's/"target":5000}/"target":5000,"requests":1,"rps":1,"cpu_user_s":0,"cpu_sys_s":0}/' <<<"$srv")" \
		'{"design":"03_fake","conns":10,"rps":100,"errors":0,"mismatches":0,"cpu_user_s":0,"cpu_sys_s":0}' 0
	RESULTS_DIR=$TMP/tree/results prlimit --nofile=5000:5000 "$TMP/tree/run.sh" compare -d 1 -p 0 --no-build --no-tune \
		>"$TMP/out" 2>&1 || { cat "$TMP/out"; fail "compare over a fake pair exited $?"; }
	python3 - "$TMP/tree/results" <<-'EOF' || { cat "$TMP/out"; fail "compare's results"; }
	import glob, json, re, sys
	runs = [json.load(open(f))["summary"] for f in sorted(glob.glob(sys.argv[1] + "/03-*.json"))]
	assert sorted(r["conns_target"] for r in runs) == [1000, 4990], runs
	sets = {r["set"] for r in runs}
	assert len(sets) == 1 and re.fullmatch(r"compare-\d{8}T\d{6}Z", sets.pop()), runs
	print("compare runs ok:", [(r["conns_target"], r["set"]) for r in runs])
	EOF
	grep -q '^compare compare-[0-9T]*Z:$' "$TMP/out" || fail "no table at the end of the compare"
	# A failing run: reported, the others still run, exit 1.
	echo 1 >"$TMP/tree/03_fake/client.rc"
	RESULTS_DIR=$TMP/tree/results2 prlimit --nofile=5000:5000 "$TMP/tree/run.sh" compare -d 1 -p 0 --no-build --no-tune \
		>"$TMP/out" 2>&1
	rc=$?
	[[ $rc -eq 1 ]] || { cat "$TMP/out"; fail "compare with failing runs: exit $rc, want 1"; }
	grep -q '^compare: 2/2 ' "$TMP/out" && grep -q 'compare: 2 of 2 runs did not pass' "$TMP/out" ||
		{ cat "$TMP/out"; fail "compare did not go on after a failed run, or did not say so"; }
	echo pass
}

# A tree of run.sh and scripts/ with a fake pair in 03_fake/ that runs: the
# server says it listens and, on SIGTERM, prints SERVER_JSON; the client
# prints CLIENT_JSON, saves its arguments in 03_fake/client.args and exits
# with the number in 03_fake/client.rc (0 without). The client takes -P when
# TAKES_P is 1.
fake_pair() { # DIR SERVER_JSON CLIENT_JSON TAKES_P
	local t=$1
	rm -rf "$t"
	mkdir -p "$t/03_fake"
	cp run.sh "$t/"
	cp -r scripts "$t/"
	touch "$t/03_fake/server.c" "$t/03_fake/client.c"
	printf '%s\n' "$2" >"$t/03_fake/server.out"
	printf '%s\n' "$3" >"$t/03_fake/client.out"
	cat >"$t/03_fake/server" <<-'EOF'
	#!/bin/sh
	d=$(dirname "$0")
	case "$*" in
	*-L*) echo '{"design":"03_fake","fd_tables":"many","fd_limit":1000,"table_cap":900,"max_loops":3,"thread_per_conn":0,"target":5000}'; exit 0 ;;
	esac
	trap 'cat "$d/server.out"; exit 0' TERM
	trap ':' USR1
	echo "03_fake/server: listening on 127.0.0.1:8972" >&2
	while :; do sleep 0.05; done
	EOF
	cat >"$t/03_fake/client" <<-EOF
	#!/bin/sh
	d=\$(dirname "\$0")
	case "\$*" in
	"-P 1 -L") [ "$4" = 1 ] && exit 0; echo "unknown option -P" >&2; exit 2 ;;
	*-L*) echo '{"design":"03_fake","fd_tables":"one","fd_limit":1000,"table_cap":990,"max_loops":1,"thread_per_conn":0,"target":100,"per_src":100,"rate":0}'; exit 0 ;;
	esac
	echo "\$*" >"\$d/client.args"
	cat "\$d/client.out"
	exit \$(cat "\$d/client.rc" 2>/dev/null || echo 0)
	EOF
	chmod +x "$t/03_fake/server" "$t/03_fake/client"
}

# Run the fake pair in $1 at 10 connections; prints the result file.
fake_run() {
	RESULTS_DIR=$1/results "$1/run.sh" 03 -n 10 -d 1 -p 0 --no-build --no-tune >"$TMP/out" 2>&1 ||
		{ cat "$TMP/out" >&2; fail "run.sh over the fake pair exited $?"; }
	ls "$1"/results/03-*.json
}

case_window() {
	local t=$TMP/fake file old_srv old_cli
	# The whole run says the server (60 s of CPU in ~1 s); the window says
	# the client: 19 s of CPU over its 10 s window is 190%, the server's 4 s
	# over 10 s is 40%.
	local srv='{"design":"03_fake","conns_peak":10,"requests":500000,"rps":49000,"rss_kb_peak":1000,"cpu_user_s":40,"cpu_sys_s":20,"window_s":10,"window_requests":490000,"window_rps":49000,"server_us_per_rt":8.16,"cpu_window":{"user_s":3,"sys_s":1},"loops":2}'
	local cli='{"design":"03_fake","conns_target":10,"conns":10,"loops":2,"connect_s":0.1,"first_round_s":0.05,"duration_s":10,"round_trips":500000,"rps":50000,"rate_target":0,"rate_achieved":50000,"late_sends":0,"dropped":0,"client_us_per_rt":38,"errors":0,"mismatches":0,"cpu_user_s":0.5,"cpu_sys_s":0.5,"rss_kb":100,"cpu_window":{"user_s":15,"sys_s":4},"lat_us":{"p50":100,"p90":150,"p99":200,"p999":300,"max":400,"mean":110}}'
	fake_pair "$t" "$srv" "$cli" 1
	file=$(fake_run "$t") || exit 1
	cat "$TMP/out"
	python3 - "$file" "$(cat "$t/03_fake/client.args")" <<-'EOF' || fail "window figures: $file"
	import json, sys
	r = json.load(open(sys.argv[1])); args = sys.argv[2].split()
	s = r["summary"]
	assert s["status"] == "ok", s
	want = {"client_cpu_window_pct": 190, "server_cpu_window_pct": 40, "bottleneck": "client",
	        "server_us_per_rt": 8.16, "client_us_per_rt": 38, "server_window_rps": 49000,
	        "first_round_s": 0.05, "rate_target": 0, "rate_achieved": 50000,
	        "late_sends": 0, "dropped": 0, "client_cpu_run_s": 1.0, "server_cpu_run_s": 60.0,
	        "pin_server": "", "pin_client": "", "set": ""}
	for k, v in want.items():
	    assert s.get(k) == v, (k, s.get(k), v)
	# Full precision from the Python record (scripts/c1m/run.py); the bash
	# record printed it with %.4f.
	import os
	want_agree = 50000 / 49000 if os.path.exists("scripts/c1m/run.py") else 1.0204
	assert s["rps_agreement"] == want_agree, (s["rps_agreement"], want_agree)
	for k in ("client_cpu_s", "server_cpu_s", "client_cpu_pct", "server_cpu_pct"):
	    assert k not in s, k
	assert s["server_cpu_run_pct"] > 1000, s   # the whole run: the server looks busy
	# -P: the server's own PID.
	assert args[args.index("-P") + 1] == str(r["run"]["server_pid"]), (args, r["run"])
	print("window summary ok")
	EOF
	grep -Eq '^03_fake +10 .* 8\.2 .* 190/40 +client$' "$TMP/out" || fail "the table does not show us/rt 8.2 and CPU 190/40"
	python3 - "$t/results/results.csv" <<-'EOF' || fail "the CSV row"
	import csv, sys
	rows = list(csv.DictReader(open(sys.argv[1])))
	assert len(rows) == 1, rows
	r = rows[0]
	assert r["server_us_per_rt"] == "8.16" and r["client_cpu_window_pct"] == "190" and r["bottleneck"] == "client", r
	EOF

	# An old pair: no window keys, no -P. Nulls, and no verdict from the whole run.
	old_srv=$(sed -E 's/,"window_s".*"cpu_window":\{[^}]*\}//' <<<"$srv")
	old_cli=$(sed -E 's/,"first_round_s":[^,]*//; s/,"rate_target".*"client_us_per_rt":[^,]*//; s/,"cpu_window":\{[^}]*\}//' <<<"$cli")
	fake_pair "$t" "$old_srv" "$old_cli" 0
	file=$(fake_run "$t") || exit 1
	python3 - "$file" "$(cat "$t/03_fake/client.args")" <<-'EOF' || fail "an old pair: $file"
	import json, sys
	r = json.load(open(sys.argv[1])); args = sys.argv[2].split()
	s = r["summary"]
	assert "window_s" not in r["server"] and "cpu_window" not in r["client"], r
	assert s["status"] == "ok" and s["bottleneck"] == "unknown (no window CPU)", s
	for k in ("client_cpu_window_pct", "server_cpu_window_pct", "server_us_per_rt", "client_us_per_rt",
	          "server_window_rps", "rps_agreement", "first_round_s", "rate_target", "late_sends", "dropped"):
	    assert s[k] is None, (k, s[k])
	assert s["client_cpu_run_s"] == 1.0 and s["server_cpu_run_s"] == 60.0, s
	assert "-P" not in args, args
	print("old pair ok")
	EOF
	grep -Eq '^03_fake +10 .* - .* -/- +unknown \(no window CPU\)$' "$TMP/out" || fail "the table for an old pair"

	# A new client against a server without marks: still unknown.
	fake_pair "$t" "$old_srv" "$cli" 1
	file=$(fake_run "$t") || exit 1
	python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; assert s["bottleneck"] == "unknown (no window CPU)" and s["client_cpu_window_pct"] == 190, s' \
		"$file" || fail "a server without window marks"
	echo pass
}

# These cases run only run.sh, tune.sh and fake programs: under a
# sanitizer suite (SAN set) they would run the same shell again, so they
# skip there; plain `make test` runs them.
case ${1:-} in
limits | badargs | plan | tune-fake | tune-ns | pin-args | compare-plan | window)
	if [[ -n "${SAN:-}" ]]; then
		echo "script-only case: plain make test runs it, a sanitizer build adds nothing"
		exit 77
	fi ;;
esac
# As root, a run whose sockets outnumber this namespace's TCP hash buckets
# gets a namespace of its own, and says why; --no-netns and small runs stay.
case_autonetns() {
	local buckets
	[[ $EUID -eq 0 ]] || { echo "skip: the namespace is for root"; exit 77; }
	buckets=$(sysctl -n net.ipv4.tcp_ehash_entries)
	buckets=${buckets#-}
	./run.sh 06 -n 1000000 --dry-run --no-build >"$TMP/big" 2>&1 || { cat "$TMP/big"; fail "1M dry run exited $?"; }
	./run.sh 06 -n 1000000 --no-netns --dry-run --no-build >"$TMP/no" 2>&1 || fail "--no-netns dry run exited $?"
	./run.sh 06 -n 1000 --dry-run --no-build >"$TMP/small" 2>&1 || fail "1K dry run exited $?"
	cat "$TMP/big"
	if ((buckets < 2000000)); then
		grep -q "^netns: 2,000,000 sockets would share this namespace's $(python3 -c "print(f'{$buckets:,}')") TCP hash buckets" "$TMP/big" ||
			fail "1M: no line saying why it takes a namespace"
		grep -q '^server: ip netns exec c1m-run-' "$TMP/big" || fail "1M: the server does not run in a namespace"
	else
		! grep -q '^netns:' "$TMP/big" || fail "1M: a namespace although $buckets buckets are enough"
	fi
	! grep -q 'netns' "$TMP/no" || fail "--no-netns: still a namespace: $(grep netns "$TMP/no")"
	! grep -q 'netns' "$TMP/small" || fail "1,000 connections: a namespace: $(grep netns "$TMP/small")"
	echo pass
}

# --perf DIR: a profile of the ramp and of the window, inside the window:
# the server's CPU per round trip by perf's samples and by the kernel's
# count over the recorded seconds both agree with the server's own count
# (getrusage over the window): three instruments, one answer. Nothing of
# perf is left running.
case_perf() {
	[[ $EUID -eq 0 ]] || { echo "skip: perf record -a needs root here"; exit 77; }
	command -v perf >/dev/null || { echo "skip: no perf"; exit 77; }
	[[ -z "${SAN:-}" ]] || { echo "skip: a sanitized build's CPU is not the design's"; exit 77; }
	local d=$TMP/prof
	./run.sh 06 -n 1000 -d 4 -p 0 --no-netns --perf "$d" >"$TMP/out" 2>&1
	rc=$?
	cat "$TMP/out"
	[[ $rc -eq 0 ]] || fail "./run.sh 06 --perf exited $rc"
	for f in window/perf.data window/stat.txt window/top.txt ramp/perf.data ramp/top.txt; do
		[[ -s $d/$f ]] || fail "--perf left no $f"
	done
	grep -q '^unit round trip$' "$d/window/window" && grep -q '^unit connection$' "$d/ramp/window" ||
		fail "the units: $(cat "$d"/*/window)"
	grep -q 'us/conn' "$d/ramp/top.txt" || fail "the ramp is not per connection: $(head -5 "$d/ramp/top.txt")"
	python3 - "$RESULTS_DIR"/06-*.json "$d/window/top.txt" <<-'EOF' || fail "perf and the server disagree"
	import json, re, sys
	s = json.load(open(sys.argv[1]))["summary"]
	top = open(sys.argv[2]).read()
	m = re.search(r"^server +([0-9.]+)$", top, re.M)
	assert m, "no server total in top.txt"
	k = re.search(r"^  kernel's count over the same ([0-9.]+) s, us/rt: .*\bserver ([0-9.]+) \(samples ([0-9]+)%\)", top, re.M)
	assert k, "top.txt does not set the kernel's count of the server beside the samples"
	span, kern, share = float(k.group(1)), float(k.group(2)), int(k.group(3))
	cov = re.search(r"^  coverage ([0-9.]+)%", top, re.M)
	assert cov, "top.txt does not say how much CPU time the samples hold"
	perf, own, cov = float(m.group(1)), s["server_us_per_rt"], float(cov.group(1)) / 100
	print("server us per round trip: the kernel's count over perf's %.2f s %.2f, the server's own %.2f;"
	      " perf's samples %.2f (%d%%)" % (span, kern, own, perf, share))
	assert 2.5 <= span <= 3.5, span                     # the 3 s recorded
	assert 0.8 * own <= kern <= 1.25 * own, (kern, own)
	# Never more than it used; less only by the samples perf says it missed.
	assert 0.8 * cov * own <= perf <= 1.25 * own, (perf, own, cov)
	assert abs(share - 100 * perf / kern) <= 1, (share, perf, kern)
	EOF
	! pgrep -f "perf (record|stat) .*$d" >/dev/null || fail "perf left running"
	# Stopped with TERM in its wait for the window (run.sh's cleanup gives
	# it 5 s), it stops at once and takes its perf runs with it.
	sleep 60 &
	local fake=$! pw t0
	printf 'x: 5/5 connected in 1.0 s (5 conn/s), 0 failed\nx: warming up for 30 s\n' >"$TMP/fake.log"
	echo "$fake" >"$TMP/fake.pid"
	scripts/perf-window.sh "$TMP/fake.log" "$TMP/fake.pid" 30 10 "$TMP/pw" 2>"$TMP/pw.err" &
	pw=$!
	sleep 3
	t0=$(date +%s%N)
	kill -TERM "$pw"
	wait "$pw"
	kill "$fake"
	(($(date +%s%N) - t0 < 2000000000)) || fail "perf-window.sh took over 2 s to stop on TERM"
	! pgrep -f "perf (record|stat) .*$TMP/pw" >/dev/null || fail "perf-window.sh left perf running: $(pgrep -af "perf .*$TMP/pw")"
	# Bad arguments: exit 2 and one line saying what is wrong.
	for args in "perf-top $TMP/nothing|has no perf.data" "perf-top|usage: scripts/perf-top" \
		"perf-top -n x $d/window|-n wants a count" "perf-top $d/window $d/ramp|different units" \
		"perf-window.sh a b|usage: scripts/perf-window.sh"; do
		# shellcheck disable=SC2086
		scripts/${args%%|*} >"$TMP/o" 2>"$TMP/e"
		rc=$?
		[[ $rc -eq 2 && $(wc -l <"$TMP/e") -eq 1 && ! -s $TMP/o ]] && grep -q -- "${args#*|}" "$TMP/e" ||
			fail "scripts/${args%%|*}: exit $rc, want 2 and one line /${args#*|}/: $(cat "$TMP/e")"
	done
	echo pass
}

case ${1:-} in
autonetns) case_autonetns ;;
perf) case_perf ;;
interrupt) case_interrupt ;;
limits) case_limits ;;
quick) case_quick ;;
netns) case_netns ;;
badargs) case_badargs ;;
plan) case_plan ;;
tune-fake) case_tune_fake ;;
tune-ns) case_tune_ns ;;
pin-args) case_pin_args ;;
pin-run) case_pin_run ;;
compare-plan) case_compare_plan ;;
window) case_window ;;
*) echo "usage: tests/runsh.sh quick|netns|autonetns|perf|badargs|plan|interrupt|limits|pin-args|pin-run|compare-plan|window|tune-fake|tune-ns"; exit 2 ;;
esac
