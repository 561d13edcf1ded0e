#!/usr/bin/env bash
# tests/runsh-workload.sh CASE - ./run.sh --workload as a user meets it:
#
#   run SHAPE     ./run.sh 06 --quick --workload SHAPE (pipeline:4, size:4096,
#                 churn:1): the run passes; the client was given the shape's
#                 flags; the result validates and names the workload and its
#                 parameters; the client's figures for that shape are in it
#                 (depth 4 / 4096-byte messages and bytes/s both ways /
#                 connections opened a second and connect p99); the table has a
#                 workload column naming it; nothing is left behind
#   compare-plan  ./run.sh compare --workload 'pingpong;pipeline:4' --dry-run:
#                 the plan names both; each runs the whole plan; every
#                 pipeline:4 client gets -q 4 and no pingpong one does; the bare
#                 pair (which only ping-pongs) is measured only for pingpong, 06
#                 is pipeline:4's reference; 04 (its client has no -q) is left
#                 out of pipeline:4 and the plan says so; nothing written
#   compare-churn ./run.sh compare --designs 02,06 --max-conns 200 -d 1
#                 --workload churn:1, for real: only 02 and 06 run, both driven
#                 by 05's client with -x 1; the reference is scripts/baseline_pair's
#                 accept/echo/close loop (lifetime 1), measured in the round;
#                 each design's ratio is its connections opened/s over the
#                 loop's; each result's server_us_per_conn is the server's
#                 window CPU over the connections opened in the window
#   accepts DIR   DIR's server (06, 07, 14) with -c 3 under churn (-x 5): its
#                 JSON's accepts_per_loop has one count per loop (or child),
#                 adding up to its accepted and to the client's connects
#
# Results go to a temporary RESULTS_DIR, the tuning state to a temporary
# C1M_TUNE_STATE (as tests/runsh.sh does).
source "$(dirname "$0")/lib.sh"
export RESULTS_DIR=$TMP/results C1M_TUNE_STATE=/tmp/c1m-tune-wl-test.$$
wl_cleanup() {
	if [[ -s "$C1M_TUNE_STATE" ]]; then
		echo "restoring settings a run left changed:"
		scripts/tune.sh --undo
	fi
	rm -f "$C1M_TUNE_STATE"
	cleanup
}
trap wl_cleanup EXIT

case_run() {
	local shape=$1 rc files file
	./run.sh 06 --quick -p 0 --workload "$shape" >"$TMP/out" 2>&1
	rc=$?
	cat "$TMP/out"
	[[ $rc -eq 0 ]] || fail "./run.sh 06 --quick --workload $shape exited $rc"
	files=("$RESULTS_DIR"/06-*.json)
	[[ ${#files[@]} -eq 1 && -f "${files[0]}" ]] || fail "want one $RESULTS_DIR/06-*.json, have: ${files[*]}"
	file=${files[0]}
	python3 - "$file" "$shape" <<-'EOF' || fail "result file $file"
	import json, sys
	sys.path.insert(0, "scripts")
	from c1m import schema
	r = json.load(open(sys.argv[1]))
	shape = sys.argv[2]
	schema.validate(r)
	s, c = r["summary"], r["client"]
	assert s["status"] == "ok" and c["errors"] == 0 and c["mismatches"] == 0, s
	assert s["workload"] == shape, s["workload"]
	args = r["argv"]["clients"][0]
	if shape == "pipeline:4":
	    assert s["workload_params"] == {"depth": 4}, s["workload_params"]
	    assert args[-2:] == ["-q", "4"], args
	    assert c["depth"] == 4 and s["depth"] == 4, (c["depth"], s["depth"])
	    # 4 in flight on each connection: more requests answered than round
	    # trips could be with one (a closed loop sends each after a reply).
	    assert c["requests_sent"] >= 4 * c["conns"], c
	elif shape == "size:4096":
	    assert s["workload_params"] == {"bytes": 4096}, s["workload_params"]
	    assert args[-2:] == ["-l", "4096"], args
	    assert c["msg_bytes"] == 4096 and s["msg_bytes"] == 4096, c["msg_bytes"]
	    assert s["tx_bytes_per_s"] == c["tx_bytes_per_s"] > 4096 * s["rps"] * 0.9, s
	    assert s["rx_bytes_per_s"] == c["rx_bytes_per_s"] > 0, s
	elif shape == "churn:1":
	    assert s["workload_params"] == {"lifetime": 1, "close": "fin"}, s["workload_params"]
	    assert args[-2:] == ["-x", "1"], args
	    assert c["lifetime"] == 1 and c["churned"] > 0, c
	    assert s["conns_opened_per_s"] == c["conns_opened_per_s"] > 0, s
	    assert s["connect_p99_us"] == c["connect_lat_us"]["p99"] > 0, s
	    # A connection a request: about as many opened a second as round trips.
	    assert 0.8 < s["conns_opened_per_s"] / s["rps"] < 1.25, (s["conns_opened_per_s"], s["rps"])
	    # 06's accepts per loop, and their spread in the summary.
	    a = r["server"]["accepts_per_loop"]
	    assert sum(a) == r["server"]["accepted"], a
	    assert (s["accepts_per_loop_min"], s["accepts_per_loop_max"]) == (min(a), max(a)), s
	    assert s["accept_spread"] == (max(a) / min(a) if min(a) else None), s
	else:
	    raise SystemExit("no assertions for " + shape)
	print("result file ok:", s["workload"], s["workload_params"])
	EOF
	grep -Eq "^06_multi_epoll_server +${shape//./\\.} +200 " "$TMP/out" ||
		fail "no table row naming the workload $shape"
	grep -q "^$shape: " "$TMP/out" || fail "no line of the workload's figures"
	[[ ! -e "$C1M_TUNE_STATE" ]] || fail "tune state left behind"
	for key in server_pid client_pid; do
		pid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run"][sys.argv[2]])' "$file" "$key")
		! kill -0 "$pid" 2>/dev/null || fail "$key $pid still running after run.sh"
	done
	echo pass
}

case_compare_plan() {
	local rc
	./run.sh compare --workload 'pingpong;pipeline:4' --dry-run --no-build -p 0 >"$TMP/out" 2>&1
	rc=$?
	sed -n '1,/^compare: 1\//p' "$TMP/out"
	[[ $rc -eq 0 ]] || { tail -n 5 "$TMP/out"; fail "compare --workload 'pingpong;pipeline:4' --dry-run exited $rc"; }
	grep -q '^  workloads: pingpong, pipeline:4: each runs this plan, one table each (client pingpong: as it is; pipeline:4: -q 4)' "$TMP/out" ||
		fail "the plan does not name the workloads"
	grep -q 'reference at .*06_multi_epoll_server (baseline_pair only ping-pongs or churns)' "$TMP/out" ||
		fail "06 is not pipeline:4's reference, or the plan does not say why"
	# Each planned run's client: -q 4 exactly for pipeline:4's; the bare
	# pair measured only before ping-pong runs.
	python3 - "$TMP/out" <<-'EOF' || fail "the planned runs"
	import re, sys
	runs, wl, base = {"pingpong": 0, "pipeline:4": 0}, None, False
	for line in open(sys.argv[1]):
	    m = re.match(r"compare: \d+/\d+ \S+ (pingpong|pipeline:4) at ", line)
	    if m:
	        wl = m.group(1)
	        assert not (base and wl != "pingpong"), "the bare pair measured before a " + wl + " run"
	        base = False
	    elif line.startswith("compare: reference baseline_pair"):
	        base = True
	    elif line.startswith("client: "):
	        assert wl, "a client line before any run: " + line
	        q4 = line.rstrip().endswith(" -q 4")
	        assert q4 == (wl == "pipeline:4"), wl + ": " + line
	        runs[wl] += 1
	        wl = None
	# 04's client has no -q: left out of pipeline:4's runs, and the plan says so.
	text = open(sys.argv[1]).read()
	skipped = len(re.findall(r"^  not run for pipeline:4: 04_epoll_client \(.*does not take -q 4\)$", text, re.M))
	assert skipped == 1, "the plan does not leave 04 out of pipeline:4"
	assert runs["pingpong"] == runs["pipeline:4"] + skipped > skipped, runs
	print("planned client runs:", runs)
	EOF
	[[ ! -d "$RESULTS_DIR" ]] || [[ -z "$(ls -A "$RESULTS_DIR")" ]] || fail "a dry run wrote $(ls "$RESULTS_DIR")"
	echo pass
}

case_compare_churn() {
	local rc
	./run.sh compare --designs 02,06 --max-conns 200 -d 1 -i 1 -p 0 --no-build --workload churn:1 \
		>"$TMP/out" 2>&1
	rc=$?
	grep -v '^  \(server\|client\)|' "$TMP/out" | tail -n 30
	[[ $rc -eq 0 ]] || fail "compare --designs 02,06 --workload churn:1 exited $rc"
	grep -q '^  only the designs asked (--designs 02,06)$' "$TMP/out" || fail "the plan does not say --designs"
	python3 - "$RESULTS_DIR" <<-'EOF' || fail "the set's figures"
	import glob, json, os, sys
	d = sys.argv[1]
	runs = sorted(os.path.basename(p)[:2] for p in glob.glob(d + "/[0-9][0-9]-*.json"))
	assert runs == ["02", "06"], runs
	for p in glob.glob(d + "/[0-9][0-9]-*.json"):
	    r = json.load(open(p))
	    s = r["summary"]
	    assert s["client"] == "05_multi_epoll_client", (p, s["client"])
	    assert r["argv"]["clients"][0][-2:] == ["-x", "1"], r["argv"]["clients"][0]
	    cw = r["server"]["cpu_window"]
	    want = (cw["user_s"] + cw["sys_s"]) * 1e6 / (s["conns_opened_per_s"] * s["duration_s"])
	    assert abs(s["server_us_per_conn"] / want - 1) < 1e-9, (s["server_us_per_conn"], want)
	(doc,) = [json.load(open(p)) for p in glob.glob(d + "/compare-*.json")]
	(cnt,) = doc["counts"]
	assert (cnt["workload"], cnt["conns"], cnt["reference"]) == ("churn:1", 200, "baseline"), cnt
	assert cnt["reference_why"] == "the bare accept/echo/close loop", cnt["reference_why"]
	rows = {r["name"]: r for r in cnt["rows"]}
	assert set(rows) == {"baseline", "02", "06"}, set(rows)
	base = rows["baseline"]["rounds"][0]["conns_opened_per_s"]
	assert base > 100, base
	for nn in ("02", "06"):
	    r = rows[nn]["rounds"][0]
	    assert r["rc"] == 0 and r["conns_opened_per_s"] > 100, r
	    assert r["ratio"] == r["conns_opened_per_s"] / base, (r["ratio"], r["conns_opened_per_s"], base)
	print("bare loop", base, "opened/s; ratios",
	      {nn: round(rows[nn]["rounds"][0]["ratio"], 3) for nn in ("02", "06")})
	EOF
	grep -q '^churn:1 at 200 connections, 1 round; reference baseline_pair (the bare accept/echo/close loop)$' \
		"$TMP/out" || fail "no churn table against the bare loop"
	echo pass
}

case_accepts() {
	local dir=$1 loops=3
	server_start "$dir" -c $loops
	05_multi_epoll_client/client -p "$SERVER_PORT" -n 300 -d 1 -x 5 -i 100 >"$TMP/client.json" 2>"$TMP/client.err" ||
		fail "client: $(tail -n 3 "$TMP/client.err")"
	server_stop
	python3 - "$SERVER_JSON" "$TMP/client.json" $loops <<-'EOF' || fail "accepts_per_loop of $dir"
	import json, sys
	s, c, loops = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), int(sys.argv[3])
	a = s["accepts_per_loop"]
	assert isinstance(a, list) and len(a) == loops and all(isinstance(x, int) for x in a), a
	# Every accept counted once, in one loop: they add up to the server's
	# total and to the client's connects (the ramp and every churned one).
	assert sum(a) == s["accepted"] == c["connect_lat_us"]["count"], (a, s["accepted"], c["connect_lat_us"])
	print("accepts_per_loop", a, "accepted", s["accepted"])
	EOF
	echo pass
}

case "${1:-}" in
accepts) case_accepts "${2:?server dir}" ;;
run) case_run "${2:?shape}" ;;
compare-plan) case_compare_plan ;;
compare-churn) case_compare_churn ;;
*) echo "usage: tests/runsh-workload.sh run SHAPE|compare-plan|compare-churn|accepts DIR" >&2; exit 2 ;;
esac
