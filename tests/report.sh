#!/usr/bin/env bash
# tests/report.sh CASE - scripts/report as a user meets it. Cases (tests/runsh.cases):
#
#   fixture  from tests/fixtures/compare (a complete `./run.sh compare` set at
#            1K/10K/100K/1M, an older set, a later --quick set, a later single
#            run, a failed run in the set) the report uses the newest complete
#            set only: rows grouped by connection count, each count's chart
#            holds only its own designs, the scaling chart has one line per
#            scaling design with one point per count it ran at (on a log
#            axis), 01 and 02 are shown by memory and CPU, not rps bars, the
#            command and the machine stand under the tables, --set picks
#            another set, and a second run changes no byte. From
#            tests/fixtures/results (old runs, none of the new keys): the
#            newest-run-per-design table, with "-" where a key is missing.
#   errors   missing markers, missing results, an unknown --set, no results,
#            bad flags: each with its exit code, nothing half-written
#   multihost tests/fixtures/multihost (runs of ./run.sh 06 --hosts: the
#            newest and an older 2-host run, a failed one, a 3-host run, and
#            a 1-host run with "hosts": 1, all at 200,000) beside the compare
#            set and beside old results: a multi-host run is ONE row,
#            "06_multi_epoll_server, 2 hosts", with the merged figures and
#            each host's client CPU, never a row per host; the newest per
#            host count; next to a compare set (not in it) it is shown and
#            said to be beside it, --set leaves it out; a 1-host run stays
#            a row of its own without a host count; no multi-host line in
#            the scaling chart (tests/merge.cases runs this case). Their
#            "client" lines are scripts/merge's over lines made by
#            tests/merge_check.py's client_line().
#
# Only copies of README.md are touched; everything goes to a temporary dir.
set -u
cd "$(dirname "$0")/.." || exit 1
TMP=$(mktemp -d /tmp/c1m-report-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

fail() {
	echo "FAIL: $*"
	exit 1
}

# report FIXTURE_DIR OUT_NAME [ARGS...]: the report over a copy of README.md;
# the block between the markers lands in $TMP/OUT_NAME.table.
report() {
	local fx=$1 out=$2 rc
	shift 2
	cp README.md "$TMP/$out.md"
	scripts/report --results "$fx" --readme "$TMP/$out.md" --svg-dir "$TMP/$out" "$@" >"$TMP/$out.log" 2>&1
	rc=$?
	[[ $rc -eq 0 ]] || { cat "$TMP/$out.log"; fail "scripts/report --results $fx $* exited $rc"; }
	diff <(sed '/results:begin/,/results:end/d' README.md) <(sed '/results:begin/,/results:end/d' "$TMP/$out.md") ||
		fail "text outside the markers changed"
	sed -n '/results:begin/,/results:end/p' "$TMP/$out.md" >"$TMP/$out.table"
}

has() { grep -qF -- "$2" "$TMP/$1.table" || fail "the $1 table lacks: $2"; }
hasnt() { ! grep -qF -- "$2" "$TMP/$1.table" || fail "the $1 table shows $2 ($3)"; }

# groups NAME 'COUNT:NN,NN,..;COUNT:...': the table's headings, in this order,
# each with exactly these designs' rows under it.
groups() {
	python3 - "$TMP/$1.table" "$2" <<-'EOF' || fail "the $1 table's grouping by connection count"
	import re, sys
	got, cur = [], None
	for line in open(sys.argv[1]):
	    m = re.match(r"#### ([0-9,]+) connections$", line)
	    if m:
	        cur = (m.group(1), [])
	        got.append(cur)
	    elif re.match(r"\| [0-9][0-9]_", line):
	        assert cur, "a row before any heading: " + line
	        cur[1].append(line.split(" | ")[0][2:4] + ":" + line.split(" | ")[1])
	want = [(g.split(":")[0], g.split(":")[1].split(",")) for g in sys.argv[2].split(";")]
	print("groups:", got)
	assert [g for g, _ in got] == [g for g, _ in want], ([g for g, _ in got], [g for g, _ in want])
	for (g, rows), (_, nns) in zip(got, want):
	    assert [r.split(":")[0] for r in rows] == nns, (g, rows, nns)
	EOF
}

case_fixture() {
	local fx=tests/fixtures/compare t
	report "$fx" cmp
	cat "$TMP/cmp.table"
	has cmp 'From one `./run.sh compare` (set `compare-20261202-090000`, 27 runs)'
	hasnt cmp 'incomplete' "the set is complete"
	groups cmp '1,000:03,06,07,08,14;10,000:01,02,03,04,05,06,07,08,09,10,11,12,14;19,968:03,08;100,000:06,07,14;1,000,000:06,07,14'
	# The right run in each group, every column.
	has cmp '| 06_multi_epoll_server | 61,603 | 162 ms | 243 ms | 3.20 | 3.80 | 8.3 KB | 78 B | 8.3 KB | 96% / 88% | 0.30 s | client (cores shared) |'
	has cmp '| 06_multi_epoll_server | 60,601 | 16.5 ms |'
	has cmp '| 06_multi_epoll_server | 58,605 | 1.71 s |'
	has cmp '| 06_multi_epoll_server [netns] | 50,606 | 19.76 s | 29.64 s | 4.00 | 4.80 | 8.3 KB | 78 B | 8.3 KB | 96% / 88% | 33.3 s | client (cores shared) | 197,814 / 0.9 s |'
	[[ $(grep -c '^| design | .* | bottleneck | Go (1M, 40 threads) |$' "$TMP/cmp.table") -eq 1 ]] ||
		fail "want the Go column in the 1M table only"
	has cmp '| 01_thread_per_conn | 200/s, rate-limited | 95 us | 310 us | 45.5 | 60.2 | 22.3 KB | 8.6 KB | 13.7 KB | 3% / 2% |'
	has cmp '| 02_epoll_server | 200/s, rate-limited |'
	# null (a figure a program did not report): "-", not 0.
	has cmp '| 12_cpu_bound_epoll | 1,213 | 8.24 s | 12.37 s | - | 198 | 8.4 KB | 96 B | 8.3 KB | 96% / - | - | client (cores shared) |'
	has cmp 'Did not pass in this set: 13_cpu_bound_threads at 10,000 connections (13-20261202-091300.json).'
	for t in '55,555 an older set' '55,556 an older set' '44,444 a later --quick set' \
		'66,666 a later run outside the set' '33,333 a later, incomplete set' '77,777 a failed run'; do
		hasnt cmp "${t%% *}" "${t#* }"
	done
	# Under the tables: the machine and the command.
	sed -n '/^#### 1,000,000/,$p' "$TMP/cmp.table" | grep -qx 'Machine: 2 vCPU (AMD EPYC 7B13 (R&D <shared>)), 24 GiB, Linux 6.18.44-fc-v782, 2026-12-02; server pinned to CPUs 0, client to 1.' ||
		fail "no machine line under the tables"
	sed -n '/^Machine: /,$p' "$TMP/cmp.table" | grep -qx 'Command: `./run.sh compare`.' || fail "no command line under the tables"
	for t in summary scaling fixed-rate; do
		grep -q "^!\[[^]]*\](cmp/$t.svg)\$" "$TMP/cmp.table" || fail "no image link to cmp/$t.svg"
	done
	python3 - "$TMP/cmp" <<-'EOF' || fail "the charts"
	import math, sys, xml.etree.ElementTree as ET
	d = sys.argv[1]
	def load(name):
	    return ET.parse(f"{d}/{name}.svg").getroot()   # valid XML or it raises
	def tag(e): return e.tag.split("}")[-1]
	def rects(node, cls): return [r for r in node.iter() if tag(r) == "rect" and r.get("class") == cls]

	# summary.svg: one group per count; a count's rps bars are its closed-loop designs only.
	root = load("summary")
	want = {"1000": "03 06 07 08 14", "10000": "03 04 05 06 07 08 09 10 11 12 14",
	        "19968": "03 08", "100000": "06 07 14", "1000000": "06 07 14"}
	got = {g.get("data-conns"): " ".join(r.get("data-design") for r in rects(g, "rps"))
	       for g in root.iter() if tag(g) == "g" and g.get("class") == "count"}
	assert got == want, got
	bars = rects(root, "rps")
	assert len(bars) == sum(len(v.split()) for v in want.values()), len(bars)
	assert not [b for b in bars if b.get("data-design") in ("01", "02")], "01/02 drawn as rps bars"
	for g in root.iter():
	    if tag(g) == "g" and g.get("data-conns") == "100000":
	        text = " ".join(t.text or "" for t in g.iter() if tag(t) == "text")
	        assert "58,605" in text and "61,603" not in text and "50,606" not in text, text
	text = " ".join(t.text or "" for t in root.iter() if tag(t) == "text")
	assert "AMD EPYC 7B13 (R&D <shared>)" in text, "the machine, unescaped, in: " + text
	print("summary.svg ok:", got)

	# scaling.svg: per panel one polyline per design, a point per count, log x.
	root = load("scaling")
	panels = [g for g in root.iter() if tag(g) == "g" and g.get("class") == "panel"]
	assert [p.get("data-metric") for p in panels] == ["rps", "server_us_per_rt", "mem"], panels
	npts = {"03": 3, "06": 4, "07": 4, "08": 3, "14": 4}
	for p in panels:
	    lines = [l for l in p.iter() if tag(l) in ("polyline", "path")]
	    by = {l.get("data-design"): [tuple(map(float, xy.split(","))) for xy in l.get("points").split()]
	          for l in lines}
	    assert len(lines) == 5 and sorted(by) == sorted(npts), (p.get("data-metric"), list(by))
	    for nn, pts in by.items():
	        assert len(pts) == npts[nn], (p.get("data-metric"), nn, pts)
	        xs = [x for x, _ in pts]
	        assert xs == sorted(xs) and len(set(xs)) == len(xs), (nn, xs)
	    x1k, x10k, x100k, x1m = [x for x, _ in by["06"]]
	    assert abs((x10k - x1k) - (x100k - x10k)) < 0.5 and abs((x1m - x100k) - (x10k - x1k)) < 0.5, "x not log"
	    x19968 = by["03"][2][0]
	    assert abs((x19968 - x10k) / (x100k - x10k) - math.log10(1.9968)) < 0.01, "19,968 misplaced"
	    assert by["03"][0][0] == x1k and by["08"][1][0] == x10k, "one count, two x positions"
	# rps panel: a higher rps is drawn higher (smaller y).
	rps = {l.get("data-design"): l.get("points").split() for l in panels[0].iter() if tag(l) == "polyline"}
	assert float(rps["07"][3].split(",")[1]) < float(rps["06"][3].split(",")[1]), "07 (60,706) not above 06 (50,606) at 1M"
	print("scaling.svg ok")

	# fixed-rate.svg: 01 and 02 by memory and CPU, no rps bars.
	root = load("fixed-rate")
	assert not rects(root, "rps"), "rps bars in the fixed-rate chart"
	for cls in ("mem-kernel", "mem-rss", "cpu"):
	    assert sorted(r.get("data-design") for r in rects(root, cls)) == ["01", "02"], cls
	text = " ".join(t.text or "" for t in root.iter() if tag(t) == "text")
	assert "13.7 KB + 8.6 KB" in text and "45.5 µs" in text and "10K, 200/s" in text, text
	print("fixed-rate.svg ok")
	EOF

	# Again: the same README and charts, byte for byte.
	cp -r "$TMP/cmp" "$TMP/cmp.first"
	cp "$TMP/cmp.md" "$TMP/cmp.first.md"
	scripts/report --results "$fx" --readme "$TMP/cmp.md" --svg-dir "$TMP/cmp" >/dev/null || fail "second run"
	cmp "$TMP/cmp.first.md" "$TMP/cmp.md" || fail "a second report changed the README"
	for t in summary scaling fixed-rate; do
		cmp "$TMP/cmp.first/$t.svg" "$TMP/cmp/$t.svg" || fail "a second report changed $t.svg"
	done

	# --set: the older set alone, and it says it is incomplete.
	report "$fx" old-set --set compare-20261130-080000
	has old-set 'set `compare-20261130-080000`, 2 runs'
	has old-set 'This set is incomplete: no run of 01 02 03 04 05 08 09 10 11 12 13 14'
	groups old-set '10,000:06,07'
	has old-set '| 06_multi_epoll_server | 55,555 |'
	hasnt old-set 61,603 "a run of another set"

	# Old results (no new keys): the newest-run table, "-" where a key is missing.
	report tests/fixtures/results legacy
	cat "$TMP/legacy.table"
	has legacy 'No `./run.sh compare` results here: each row is the newest passing run'
	groups legacy '1,000:09,10,10;5,000:09;19,936:01;1,000,000:06,07,14'
	has legacy '| 06_multi_epoll_server [netns] | 81,234 | 9.83 s | 14.42 s | - | - | 8.3 KB | 62 B | 8.3 KB | - | - | server (cores shared) | 197,814 / 0.9 s |'
	has legacy '| 10_io_bound_epoll -m timer | 99,012 |'
	has legacy '| 01_thread_per_conn | 200/s, rate-limited |'
	has legacy 'Commands: `./run.sh 09`, `./run.sh 10`, `./run.sh 01`, `./run.sh 06 --netns`, `./run.sh 07 --netns`, `./run.sh 14 --netns`.'
	for t in '55,555 an older run' '44,444 a --quick run' '77,777 a failed run'; do
		hasnt legacy "${t%% *}" "${t#* }"
	done
	python3 - "$TMP/legacy" <<-'EOF' || fail "the charts from old results"
	import sys, xml.etree.ElementTree as ET
	for name in ("summary", "scaling", "fixed-rate"):
	    root = ET.parse(f"{sys.argv[1]}/{name}.svg").getroot()
	    designs = [r.get("data-design") for r in root.iter() if r.get("class") == "rps"]
	    assert "01" not in designs, (name, designs)
	print("old-format charts ok")
	EOF
	echo pass
}

case_errors() {
	local rc
	printf '# no markers here\n' >"$TMP/plain.md"
	cp "$TMP/plain.md" "$TMP/plain.orig"
	scripts/report --results tests/fixtures/compare --readme "$TMP/plain.md" --svg-dir "$TMP/x" 2>"$TMP/e"
	[[ $? -eq 1 ]] || fail "README without markers: want exit 1"
	grep -q 'results:begin' "$TMP/e" || fail "no word about the markers: $(cat "$TMP/e")"
	cmp "$TMP/plain.md" "$TMP/plain.orig" || fail "a README without markers was changed"
	[[ ! -e "$TMP/x" ]] || fail "charts written for a README without markers"
	scripts/report --results "$TMP/none" --readme "$TMP/plain.md" 2>"$TMP/e"
	[[ $? -eq 1 ]] || fail "missing results dir: want exit 1"
	grep -q 'no results directory' "$TMP/e" || fail "missing results dir: $(cat "$TMP/e")"
	printf 'a\n<!-- results:begin -->\nold\n<!-- results:end -->\nb\n' >"$TMP/m.md"
	cp "$TMP/m.md" "$TMP/m.orig"
	scripts/report --results tests/fixtures/compare --readme "$TMP/m.md" --svg-dir "$TMP/y" --set compare-nope 2>"$TMP/e"
	rc=$?
	[[ $rc -eq 1 ]] || fail "unknown --set: exit $rc, want 1"
	[[ $(wc -l <"$TMP/e") -eq 1 ]] && grep -q -- '--set compare-nope: no run has that set (sets here: .*compare-20261202-090000' "$TMP/e" ||
		fail "unknown --set: want one line naming the sets, have: $(cat "$TMP/e")"
	cmp "$TMP/m.md" "$TMP/m.orig" && [[ ! -e "$TMP/y" ]] || fail "an unknown --set wrote something"
	for args in "--bogus" "--set" "--svg-dir" "--svg $TMP/a.svg --svg-dir $TMP/b"; do
		# shellcheck disable=SC2086
		scripts/report $args >/dev/null 2>"$TMP/e"
		rc=$?
		[[ $rc -eq 2 ]] || fail "scripts/report $args: exit $rc, want 2"
		grep -q '^usage: scripts/report' "$TMP/e" || fail "scripts/report $args: no synopsis: $(cat "$TMP/e")"
	done
	mkdir "$TMP/empty"
	scripts/report --results "$TMP/empty" --readme "$TMP/m.md" --svg-dir "$TMP/esvg" || fail "no results: exit $?"
	grep -q 'No results yet' "$TMP/m.md" && ! grep -q '^old$' "$TMP/m.md" || fail "no-results table: $(cat "$TMP/m.md")"
	[[ "$(head -n 1 "$TMP/m.md")" == a && "$(tail -n 1 "$TMP/m.md")" == b ]] || fail "lines around the markers"
	for t in summary scaling fixed-rate; do
		python3 -c 'import sys, xml.etree.ElementTree as ET; ET.parse(sys.argv[1])' "$TMP/esvg/$t.svg" ||
			fail "the empty $t.svg is not XML"
	done
	# --svg FILE: the first chart there, the others beside it.
	scripts/report --results tests/fixtures/compare --no-readme --svg "$TMP/f/first.svg" >/dev/null || fail "--svg FILE"
	[[ -s "$TMP/f/first.svg" && -s "$TMP/f/scaling.svg" && -s "$TMP/f/fixed-rate.svg" ]] || fail "--svg FILE: $(ls "$TMP/f")"
	echo pass
}

case_multihost() {
	local fx=tests/fixtures/multihost
	mkdir -p "$TMP/withset" "$TMP/noset"
	cp tests/fixtures/compare/*.json "$fx"/*.json "$TMP/withset/"
	cp tests/fixtures/results/*.json "$fx"/*.json "$TMP/noset/"

	report "$TMP/withset" mh
	cat "$TMP/mh.table"
	has mh 'From one `./run.sh compare` (set `compare-20261202-090000`, 27 runs)'
	groups mh '1,000:03,06,07,08,14;10,000:01,02,03,04,05,06,07,08,09,10,11,12,14;19,968:03,08;100,000:06,07,14;200,000:06,06;1,000,000:06,07,14'
	# One row per run, the merged figures (the merged line's rps and
	# percentiles, the summary run.sh wrote from it), each host's CPU.
	has mh '| 06_multi_epoll_server, 2 hosts | 130,000 | 121 us | 281 us | 7.10 | 14.8 | 8.4 KB | 80 B | 8.3 KB | 97% + 95% / 88% | 0.42 s | neither (waiting) |'
	has mh '| 06_multi_epoll_server, 3 hosts | 210,000 | 155 us | 387 us | 7.10 | 13.5 | 8.4 KB | 80 B | 8.3 KB | 97% + 95% + 92% / 88% |'
	[[ $(grep -c '^| 06_multi_epoll_server, 2 hosts |' "$TMP/mh.table") -eq 1 ]] || fail "want one 2-host row"
	# No row per host: the hosts' own rps (60,000, 70,000, 80,000) and names.
	for t in 60,000 70,000 80,000 '| 06_multi_epoll_server | 130,000'; do
		hasnt mh "$t" "a row of one host"
	done
	! grep '^| ' "$TMP/mh.table" | grep -q c1m-lab || fail "a row names a host: $(grep '^| .*c1m-lab' "$TMP/mh.table")"
	for t in '22,222 an older 2-host run' '77,777 a failed 2-host run' '11,111 a 1-host run outside the set'; do
		hasnt mh "${t%% *}" "${t#* }"
	done
	has mh '"N hosts": one run whose clients ran on N machines at once'
	has mh 'shown beside the set, not part of it.'
	hasnt mh '06_multi_epoll_server, 2 hosts at' "a multi-host run in the set's failures"
	grep -qF -- '`./run.sh 06 -n 200000 -a 198.18.0.1 --via '"'"'ip netns exec'"'"' --hosts c1m-lab-1,c1m-lab-2`' "$TMP/mh.table" ||
		fail "the 2-host run's command is not under the tables"
	python3 - "$TMP/mh" <<-'EOF' || fail "the charts with multi-host runs"
	import sys, xml.etree.ElementTree as ET
	def tag(e): return e.tag.split("}")[-1]
	root = ET.parse(sys.argv[1] + "/summary.svg").getroot()
	g = [g for g in root.iter() if tag(g) == "g" and g.get("data-conns") == "200000"]
	assert len(g) == 1, "no 200,000 group in summary.svg"
	bars = [r for r in g[0].iter() if r.get("class") == "rps"]
	titles = sorted(r.find("{http://www.w3.org/2000/svg}title").text for r in bars)
	assert titles == ["06_multi_epoll_server, 2 hosts", "06_multi_epoll_server, 3 hosts"], titles
	root = ET.parse(sys.argv[1] + "/scaling.svg").getroot()
	for p in (p for p in root.iter() if tag(p) == "g" and p.get("class") == "panel"):
	    lines = [l.get("data-design") for l in p.iter() if tag(l) == "polyline"]
	    assert sorted(lines) == ["03", "06", "07", "08", "14"], lines
	    assert "hosts" not in " ".join(t.text or "" for t in p.iter() if tag(t) == "text"), "a multi-host line"
	print("charts ok")
	EOF

	# --set: that set alone, no multi-host rows.
	report "$TMP/withset" mh-set --set compare-20261202-090000
	hasnt mh-set 'hosts' "--set shows the set alone"
	groups mh-set '1,000:03,06,07,08,14;10,000:01,02,03,04,05,06,07,08,09,10,11,12,14;19,968:03,08;100,000:06,07,14;1,000,000:06,07,14'

	# No compare set: the newest run of each kind, the 1-host run its own row.
	report "$TMP/noset" mh-noset
	cat "$TMP/mh-noset.table"
	groups mh-noset '1,000:09,10,10;5,000:09;19,936:01;200,000:06,06,06;1,000,000:06,07,14'
	has mh-noset '| 06_multi_epoll_server | 11,111 |'
	has mh-noset '| 06_multi_epoll_server, 2 hosts | 130,000 |'
	has mh-noset '| 06_multi_epoll_server, 3 hosts | 210,000 |'
	hasnt mh-noset 'beside the set' "there is no set"
	echo pass
}

# scripts/report is Python over fixture files: a sanitizer suite
# (SAN set) would run the same script again, so these cases skip there.
if [[ -n "${SAN:-}" ]]; then
	echo "script-only case: plain make test runs it, a sanitizer build adds nothing"
	exit 77
fi
case ${1:-} in
fixture) case_fixture ;;
errors) case_errors ;;
multihost) case_multihost ;;
*) echo "usage: tests/report.sh fixture|errors|multihost"; exit 2 ;;
esac
