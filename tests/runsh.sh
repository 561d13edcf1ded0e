#!/usr/bin/env bash
# tests/runsh.sh CASE - run.sh, scripts/tune.sh and scripts/report as a user
# meets them. Cases (tests/runsh.cases lists them):
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
#   tune-fake    tune.sh apply / --undo / check over a fake /proc/sys tree, as
#                root and as a user
#   tune-ns      tune.sh apply and --undo for real, inside a throwaway namespace
#   report       scripts/report regenerates the table and the chart from
#                tests/fixtures/results, touching nothing outside the markers
#   report-errors  missing markers, missing results, no results, bad flags
#   limits       run.sh sizes from the programs' -L line, not their -h text
#                (fake programs whose -h says otherwise); a program whose -L
#                fails or lacks a key is a one-line error, exit 1
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
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["summary"]["netns"] == 1 and r["run"]["netns"].startswith("c1m-run-")' \
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
		'client: ip netns exec c1m-run-[0-9]+ ./05_multi_epoll_client/client -p 8972 -n 1000000 .*-W 20'; do
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

case_report() {
	local fx=tests/fixtures/results readme=$TMP/README.md
	cp README.md "$readme"
	scripts/report --results "$fx" --readme "$readme" --svg "$TMP/chart.svg" || fail "report exited $?"
	sed -n '/results:begin/,/results:end/p' "$readme"
	# Outside the markers: untouched.
	diff <(sed '/results:begin/,/results:end/d' README.md) <(sed '/results:begin/,/results:end/d' "$readme") ||
		fail "text outside the markers changed"
	local table
	table=$(sed -n '/results:begin/,/results:end/p' "$readme")
	[[ $(grep -c '^| [0-9][0-9]_' <<<"$table") -eq 8 ]] || fail "want 8 rows"
	for want in '| 06_multi_epoll_server [netns] | 1,000,000 | 24.1 s | 81,234 | 9.83 s | 14.42 s | 15.99 s | 62 B | 8.3 KB | 95% / 101% | server (cores shared) | 197,814 / 0.9 s |' \
		'| 07_prefork [netns] | 1,000,000 | 26.5 s | 123,456 |' '| 444,415 / 1.5 s |' \
		'| 10_io_bound_epoll -m timer | 1,000 | 0.3 s | 99,012 |' \
		'| 09_few_clients | 5,000 |' '| 09_few_clients | 1,000 |' \
		'Measured on 2 vCPU' '![round trips per second and memory per connection, per design](chart.svg)'; do
		grep -qF -- "$want" <<<"$table" || fail "the table lacks: $want"
	done
	for not in 55,555 44,444 77,777; do	# older, --quick and failed runs
		! grep -q "$not" <<<"$table" || fail "the table shows $not (an older, quick or failed run)"
	done
	python3 - "$TMP/chart.svg" <<-'EOF' || fail "the chart"
	import sys, xml.etree.ElementTree as ET
	root = ET.parse(sys.argv[1]).getroot()
	assert root.tag.endswith("svg"), root.tag
	text = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
	for want in ("81,234", "123,456", "99,012", "8.3 KB + 62 B", "06_multi_epoll_server [netns] (1M)",
	             "09_few_clients (5,000)", "Round trips per second", "Memory per connection"):
	    assert want in text, want
	assert "55,555" not in text and "09_few_clients (1,000)" not in text
	bars = [r for r in root.iter() if r.tag.endswith("rect") and r.get("height") == "18"]
	assert len(bars) == 7 + 14, len(bars)   # 7 designs: one rps bar, two memory bars each
	print("chart ok:", len(bars), "bars")
	EOF
	# Again: the same README, byte for byte.
	cp "$readme" "$TMP/first"
	scripts/report --results "$fx" --readme "$readme" --svg "$TMP/chart.svg" >/dev/null || fail "second run"
	cmp "$TMP/first" "$readme" || fail "a second report changed the README"
	echo pass
}

case_report_errors() {
	printf '# no markers here\n' >"$TMP/plain.md"
	cp "$TMP/plain.md" "$TMP/plain.orig"
	scripts/report --results tests/fixtures/results --readme "$TMP/plain.md" --svg "$TMP/x.svg" 2>"$TMP/e"
	[[ $? -eq 1 ]] || fail "README without markers: want exit 1"
	grep -q 'results:begin' "$TMP/e" || fail "no word about the markers: $(cat "$TMP/e")"
	cmp "$TMP/plain.md" "$TMP/plain.orig" || fail "a README without markers was changed"
	scripts/report --results "$TMP/none" --readme "$TMP/plain.md" 2>/dev/null
	[[ $? -eq 1 ]] || fail "missing results dir: want exit 1"
	scripts/report --bogus 2>/dev/null
	[[ $? -eq 2 ]] || fail "bad flag: want exit 2"
	mkdir "$TMP/empty"
	printf 'a\n<!-- results:begin -->\nold\n<!-- results:end -->\nb\n' >"$TMP/m.md"
	scripts/report --results "$TMP/empty" --readme "$TMP/m.md" --svg "$TMP/e.svg" || fail "no results: exit $?"
	grep -q 'No results yet' "$TMP/m.md" && ! grep -q '^old$' "$TMP/m.md" || fail "no-results table: $(cat "$TMP/m.md")"
	[[ "$(head -n 1 "$TMP/m.md")" == a && "$(tail -n 1 "$TMP/m.md")" == b ]] || fail "lines around the markers"
	python3 -c 'import sys, xml.etree.ElementTree as ET; ET.parse(sys.argv[1])' "$TMP/e.svg" || fail "empty chart is not XML"
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
	fake_programs "$t" "${srv/\"target\":5000/}" "$cli" 1
	"$t/run.sh" 03 --dry-run --no-build >/dev/null 2>"$TMP/e"
	[[ $? -eq 1 ]] && [[ $(wc -l <"$TMP/e") -eq 1 ]] && grep -q '"target" is' "$TMP/e" ||
		fail "-L without target: $(cat "$TMP/e")"
	echo pass
}

case ${1:-} in
interrupt) case_interrupt ;;
limits) case_limits ;;
quick) case_quick ;;
netns) case_netns ;;
badargs) case_badargs ;;
plan) case_plan ;;
tune-fake) case_tune_fake ;;
tune-ns) case_tune_ns ;;
report) case_report ;;
report-errors) case_report_errors ;;
*) echo "usage: tests/runsh.sh quick|netns|badargs|plan|interrupt|limits|tune-fake|tune-ns|report|report-errors"; exit 2 ;;
esac
