#!/usr/bin/env bash
# tests/merge.sh CASE - scripts/merge, the exact merge of several client hosts'
# JSON lines (scripts/c1m/merge.py behind it). The client lines are
# made by tests/py/merge_tool.py from random latencies, bucketed as
# common/hist.c does, shaped as a client prints them; tests/py/merge_tool.py
# check holds scripts/merge's line against the rules worked out apart from
# merge.py (exact integers), with hist.py's quantile (held against hist.c
# itself by tests/py/test_hist.py).
# Cases (tests/merge.cases):
#
#   exact    3 hosts (fast, a 2% tail of stalls, slow; 100,000 + 50,000 +
#            15,000 round trips): every key against the independent merge,
#            the percentiles also within 1% of the raw samples' exact
#            quantiles, on inputs where averaging p50 or p99 is >5% off; the
#            common window and skew against numbers worked by hand; one
#            per_host entry per input, in order; the same merge in another
#            input order; two lines 05's client printed (tests/fixtures/merge)
#   histc    the raw samples of 3 hosts through common/hist.c itself
#            (hist_record, hist_merge, hist_quantile, built here with cc):
#            the same count, sum, min, max and p50/p90/p99/p999
#   edge     2 hand-made histograms whose running sum ends exactly at the
#            ranks of p50/p90/p99/p999 (an off-by-one rank reads the next
#            bucket) and whose min lies above p50's bucket middle (clamped),
#            and 2 whose q * count falls just past a bucket's end (a floor
#            instead of the ceiling reads the bucket before): the
#            percentiles worked out by hand
#   empty    a host whose window saw no reply (count 0, min 0): the merge
#            takes min/max from the other; all empty: zeros, buckets []
#   big      ~1e10 round trips, bucket counts ~2e9, sum_ns near 2^64: exact
#            integers, no exponent; a sum past 2^64 - 1 saturates there
#   window   windows that do not overlap: duration_s 0, one warning, exit 0
#   bad      no files, a missing file, a directory, an unreadable file, an
#            empty file, no JSON line, no "hist", a json overflow line,
#            different sub_bits, count != sum of buckets, malformed, unsorted
#            or out-of-range buckets, a line that is not JSON, an unknown
#            option, a merged line as input: each exit 2, one line on
#            stderr, nothing on stdout;
#            -h prints the usage
#   mutants quantile|keys
#            broken copies of scripts/c1m/{merge,hist}.py, each must make
#            its case fail. quantile: p50 or p99 averaged over the hosts,
#            the rank one too high, a floor for the ceiling, a bucket's
#            upper or lower edge for its middle, no clamp to min. keys:
#            sum_ns added as a double, counts written as floats, the
#            earliest start as the window's, an empty host's min 0, no count
#            check, only the first per_host, a skew from the starts alone
#
# MERGE=PATH runs the cases against another merge (the mutants case uses it).
set -u
cd "$(dirname "$0")/.." || exit 1
MERGE=${MERGE:-scripts/merge}
TMP=$(mktemp -d /tmp/c1m-merge-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
CHECK="python3 tests/py/merge_tool.py"
# The mutants case makes the random client lines once, for all its runs.
GEN_CACHE=${GEN_CACHE:-}

# gen FILE ARGS...: tests/py/merge_tool.py gen FILE ARGS (FILE.samples beside it).
gen() {
	local f=$1 c
	c=${GEN_CACHE:+$GEN_CACHE/$(basename "$f")-$(echo "${*:2}" | md5sum | cut -c1-8)}
	if [[ -n "$c" && -f "$c" ]]; then
		cp "$c" "$f" && cp "$c.samples" "$f.samples"
		return
	fi
	$CHECK gen "$@" || fail "merge_tool.py gen $*"
	[[ -z "$c" ]] || { cp "$f" "$c" && cp "$f.samples" "$c.samples"; }
}

fail() {
	echo "FAIL: $*"
	exit 1
}

# merge OUT FILE...: scripts/merge FILE... > $TMP/OUT; wants exit 0, a quiet stderr.
merge() {
	local out=$1 rc
	shift
	"$MERGE" "$@" >"$TMP/$out" 2>"$TMP/$out.err"
	rc=$?
	[[ $rc -eq 0 ]] || { cat "$TMP/$out.err"; fail "scripts/merge $* exited $rc"; }
	[[ ! -s "$TMP/$out.err" ]] || fail "scripts/merge $*: stderr: $(cat "$TMP/$out.err")"
}

# key OUT EXPR: a Python expression over the merged line m, e.g. m["hosts"].
key() {
	python3 -c 'import json, sys; m = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$TMP/$1" "$2"
}
# want OUT EXPR VALUE [EXPR VALUE ...]: each EXPR over m prints as VALUE.
want() {
	python3 - "$TMP/$1" "${@:2}" <<-'EOF' || fail "the merged line (above)"
	import json, sys
	m = json.load(open(sys.argv[1]))
	bad = 0
	for e, v in zip(sys.argv[2::2], sys.argv[3::2]):
	    got = str(eval(e))
	    print("%-4s %s = %s" % ("ok" if got == v else "FAIL", e, got) + ("" if got == v else ", want " + v))
	    bad += got != v
	sys.exit(1 if bad else 0)
	EOF
}

case_exact() {
	local t0=1765000000000000
	gen "$TMP/h1.json" --host c1 --seed 11 --n 100000 --dist fast --start $t0
	gen "$TMP/h2.json" --host c2 --seed 12 --n 50000 --dist tail --start $((t0 + 12345)) \
		--end $((t0 + 10012345)) --late-keys
	gen "$TMP/h3.json" --host c3 --seed 13 --n 15000 --dist slow --start $((t0 + 3000)) \
		--end $((t0 + 10020000)) --first-round null
	merge m.json "$TMP"/h[123].json
	head -c 1200 "$TMP/m.json"; echo ...
	$CHECK check "$TMP/m.json" "$TMP"/h[123].json --samples --discriminating || fail "the merge differs (above)"
	# The window by hand: starts t0, +12.345 ms, +3 ms; ends +10 s, +10.012345 s,
	# +10.02 s: common [t0 + 12,345 us, t0 + 10 s], skew max(12.345, 20) ms.
	want m.json \
		'm["window_start_us"]' $((t0 + 12345)) \
		'm["window_end_us"]' $((t0 + 10000000)) \
		'm["duration_s"]' 9.987655 \
		'm["window_skew_ms"]' 20 \
		'm["round_trips"]' 165000 \
		'm["hist"]["count"]' 165000 \
		'm["hosts"]' 3 \
		'[p["host"] for p in m["per_host"]]' "['c1', 'c2', 'c3']" \
		'm["first_round_s"]' None
	# Adding is commutative: another order, the same histogram and figures.
	merge m2.json "$TMP/h3.json" "$TMP/h1.json" "$TMP/h2.json"
	want m2.json '(m["hist"], m["lat_us"], m["round_trips"], m["rps"])' "$(key m.json '(m["hist"], m["lat_us"], m["round_trips"], m["rps"])')"
	# Two hosts of the three, and one alone (hosts 1: its own histogram).
	merge m12.json "$TMP/h1.json" "$TMP/h2.json"
	$CHECK check "$TMP/m12.json" "$TMP/h1.json" "$TMP/h2.json" --samples || fail "2 hosts"
	merge m1.json "$TMP/h1.json"
	$CHECK check "$TMP/m1.json" "$TMP/h1.json" --samples || fail "1 host"
	want m1.json 'm["lat_us"] == json.loads([l for l in open(sys.argv[1].replace("m1.json", "h1.json")) if l[0] == "{"][-1])["lat_us"]' True
	# Two lines 05's client really printed (300 and 200 connections to 06
	# on loopback, -d 1.5, at once): its own key order and number formats.
	merge real.json tests/fixtures/merge/real-1.json tests/fixtures/merge/real-2.json
	$CHECK check "$TMP/real.json" tests/fixtures/merge/real-1.json tests/fixtures/merge/real-2.json ||
		fail "the merge of real client lines differs (above)"
	echo pass
}

# The same samples through common/hist.c itself: hist_record per host,
# hist_merge, hist_quantile; scripts/merge's line must say the same.
case_histc() {
	local t0=1765000000000000 c q
	command -v cc >/dev/null || { echo "no C compiler"; exit 77; }
	cat >"$TMP/hq.c" <<-'EOF'
	#include <stdio.h>
	#include "c1m.h"
	/* hq FILE.samples...: each file into its own histogram, all merged. */
	int main(int argc, char **argv)
	{
		static struct hist all, one;
		unsigned long long v;

		hist_init(&all);
		for (int i = 1; i < argc; i++) {
			FILE *f = fopen(argv[i], "r");

			if (!f)
				return 1;
			hist_init(&one);
			while (fscanf(f, "%llu", &v) == 1)
				hist_record(&one, v);
			fclose(f);
			hist_merge(&all, &one);
		}
		printf("%llu %llu %llu %llu %llu %llu %llu %llu\n", (unsigned long long)all.count,
		       (unsigned long long)all.sum, (unsigned long long)(all.count ? all.min : 0),
		       (unsigned long long)all.max, (unsigned long long)hist_quantile(&all, 0.5),
		       (unsigned long long)hist_quantile(&all, 0.9), (unsigned long long)hist_quantile(&all, 0.99),
		       (unsigned long long)hist_quantile(&all, 0.999));
		return 0;
	}
	EOF
	cc -std=gnu11 -O2 -Wall -Wextra -Werror -Icommon -o "$TMP/hq" "$TMP/hq.c" common/hist.c || fail "building hq"
	gen "$TMP/h1.json" --host c1 --seed 21 --n 60000 --dist fast --start $t0
	gen "$TMP/h2.json" --host c2 --seed 22 --n 30000 --dist tail --start $((t0 + 5000))
	gen "$TMP/h3.json" --host c3 --seed 23 --n 10000 --dist slow --start $((t0 + 9000))
	merge m.json "$TMP"/h[123].json
	c=$("$TMP/hq" "$TMP"/h[123].json.samples) || fail "hq"
	echo "hist.c: count sum min max p50 p90 p99 p999 (ns): $c"
	read -r -a q <<<"$c"
	want m.json \
		'm["hist"]["count"]' "${q[0]}" 'm["hist"]["sum_ns"]' "${q[1]}" \
		'm["hist"]["min_ns"]' "${q[2]}" 'm["hist"]["max_ns"]' "${q[3]}" \
		'm["lat_us"]["p50"]' "$(printf '%.10g' "${q[4]}e-3")" 'm["lat_us"]["p90"]' "$(printf '%.10g' "${q[5]}e-3")" \
		'm["lat_us"]["p99"]' "$(printf '%.10g' "${q[6]}e-3")" 'm["lat_us"]["p999"]' "$(printf '%.10g' "${q[7]}e-3")"
	echo pass
}

case_edge() {
	$CHECK gen-edge "$TMP" || fail gen-edge
	merge e.json "$TMP/edge1.json" "$TMP/edge2.json"
	cat "$TMP/e.json"
	$CHECK check "$TMP/e.json" "$TMP/edge1.json" "$TMP/edge2.json" || fail "the merge differs (above)"
	# By hand. Merged: 500 in the bucket of 5,000 ns (4,992..5,055), 400 in
	# 60,000's (59,904..60,415), 90 in 700,000's (696,320..704,511), 9 in
	# 8,000,000's (7,995,392..8,060,927), 1 in 90,000,000's; 1,000 in all.
	# p50: rank 500 ends the first bucket: its middle 5,023 is below min_ns
	# 5,026 (4,992 + 34), so 5,026. p90: rank 900, 60,159. p99: rank 990,
	# 700,415. p999: rank 999, 8,028,159. A rank one higher would read the next bucket.
	want e.json \
		'm["lat_us"]["p50"]' 5.026 \
		'm["lat_us"]["p90"]' 60.159 \
		'm["lat_us"]["p99"]' 700.415 \
		'm["lat_us"]["p999"]' 8028.159 \
		'm["hist"]["count"]' 1000
	# 500, 400, 90, 10, 1 in the same buckets, 1,001 in all: the ranks are
	# ceil(500.5) = 501, ceil(900.9) = 901, ceil(990.99) = 991 and 1,000, one
	# past the end of a bucket each (a floor would stay in it): p50 in
	# 60,000's bucket, p90 in 700,000's, p99 and p999 in 8,000,000's.
	merge f.json "$TMP/edge3.json" "$TMP/edge4.json"
	cat "$TMP/f.json"
	$CHECK check "$TMP/f.json" "$TMP/edge3.json" "$TMP/edge4.json" || fail "the merge differs (above)"
	want f.json \
		'm["lat_us"]["p50"]' 60.159 \
		'm["lat_us"]["p90"]' 700.415 \
		'm["lat_us"]["p99"]' 8028.159 \
		'm["lat_us"]["p999"]' 8028.159 \
		'm["hist"]["count"]' 1001
	echo pass
}

case_empty() {
	gen "$TMP/h1.json" --host full --seed 5 --n 20000 --dist slow
	gen "$TMP/h0.json" --host none --dist empty --first-round null
	merge m.json "$TMP/h0.json" "$TMP/h1.json"
	$CHECK check "$TMP/m.json" "$TMP/h0.json" "$TMP/h1.json" --samples || fail "the merge differs (above)"
	want m.json \
		'm["hist"]["min_ns"] == min(int(v) for v in open(sys.argv[1].replace("m.json", "h1.json.samples")).read().split())' True \
		'm["lat_us"]["p50"] > 1000' True
	merge z.json "$TMP/h0.json" "$TMP/h0.json"
	cat "$TMP/z.json"
	$CHECK check "$TMP/z.json" "$TMP/h0.json" "$TMP/h0.json" || fail "all empty"
	want z.json '(m["round_trips"], m["lat_us"], m["hist"]["buckets"], m["client_us_per_rt"])' \
		"(0, {'p50': 0, 'p90': 0, 'p99': 0, 'p999': 0, 'max': 0, 'mean': 0}, [], 0)"
	echo pass
}

case_big() {
	local s
	# 2 hosts, sum_ns 9,223,372,036,854,775,001 each: 18,446,744,073,709,550,002
	# in all, 1,613 below 2^64 - 1, and 2^11 away from any double near it.
	$CHECK gen-big "$TMP" 2 9223372036854775001 || fail gen-big
	merge b.json "$TMP/big0.json" "$TMP/big1.json"
	cat "$TMP/b.json"
	$CHECK check "$TMP/b.json" "$TMP/big0.json" "$TMP/big1.json" || fail "the merge differs (above)"
	grep -q '"sum_ns":18446744073709550002,' "$TMP/b.json" || fail "sum_ns is not exact"
	grep -q '"round_trips":10000000335,' "$TMP/b.json" || fail "round_trips not the integer 10000000335"
	grep -q '"buckets":\[\[1643,2000000015\],' "$TMP/b.json" || fail "a bucket count is not the integer 2000000015"
	! grep -q '[0-9][eE][-+]\?[0-9]' "$TMP/b.json" || fail "a number with an exponent"
	# 3 hosts of 9e18: past 2^64 - 1, saturated there, as hist_merge() does.
	$CHECK gen-big "$TMP" 3 9000000000000000001 || fail gen-big
	merge b3.json "$TMP"/big[012].json
	$CHECK check "$TMP/b3.json" "$TMP"/big[012].json || fail "the merge differs (above)"
	s=$(grep -o '"sum_ns":[0-9]*' "$TMP/b3.json")
	[[ $s == '"sum_ns":18446744073709551615' ]] || fail "want sum_ns saturated at 2^64 - 1: $s"
	echo pass
}

case_window() {
	local t0=1765000000000000
	gen "$TMP/a.json" --host a --seed 1 --n 1000 --start $t0 --end $((t0 + 10000000))
	gen "$TMP/b.json" --host b --seed 2 --n 1000 --start $((t0 + 20000000)) --end $((t0 + 30000000))
	local rc
	"$MERGE" "$TMP/a.json" "$TMP/b.json" >"$TMP/m.json" 2>"$TMP/err"
	rc=$?
	[[ $rc -eq 0 ]] || fail "disjoint windows: exit $rc, want 0 (run.sh judges the skew)"
	cat "$TMP/err"
	[[ $(wc -l <"$TMP/err") -eq 1 ]] && grep -q 'warning: the windows do not overlap' "$TMP/err" ||
		fail "want one warning line: $(cat "$TMP/err")"
	want m.json \
		'm["duration_s"]' 0 \
		'm["window_skew_ms"]' 20000 \
		'(m["window_start_us"], m["window_end_us"])' "($((t0 + 20000000)), $((t0 + 10000000)))"
	echo pass
}

# refused WHAT WORD ARGS...: exit 2, nothing on stdout, one line on stderr
# that names the program and holds WORD.
refused() {
	local what=$1 word=$2 rc
	shift 2
	"$MERGE" "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	echo "$what: exit $rc: $(cat "$TMP/err")"
	[[ $rc -eq 2 ]] || fail "$what: exit $rc, want 2"
	[[ ! -s "$TMP/out" ]] || fail "$what: something on stdout: $(head -c 200 "$TMP/out")"
	[[ $(wc -l <"$TMP/err") -eq 1 ]] || fail "$what: want one line on stderr, have $(wc -l <"$TMP/err")"
	grep -q "^scripts/merge: .*$word" "$TMP/err" || fail "$what: the line does not say '$word'"
}

case_bad() {
	local g="$TMP/good.json" x
	gen "$g" --host g --seed 3 --n 5000
	x=$(grep '^{' "$g")
	refused "no files" "no input files"
	refused "a missing file" "$TMP/nope.json: no such file" "$g" "$TMP/nope.json"
	refused "a directory" "not a regular file" "$g" "$TMP"
	if [[ $(id -u) -ne 0 ]]; then
		cp "$g" "$TMP/locked.json"; chmod 000 "$TMP/locked.json"
		refused "an unreadable file" "cannot read" "$g" "$TMP/locked.json"
	else
		echo "an unreadable file: not tried (root reads a mode-000 file)"
	fi
	: >"$TMP/empty.json"
	refused "an empty file" "empty.json: no JSON line" "$g" "$TMP/empty.json"
	printf 'client: connect 127.0.0.1:1: refused\n' >"$TMP/text.json"
	refused "no JSON line" "text.json: no JSON line" "$TMP/text.json" "$g"
	sed -n 's/^  "client": \(.*\),$/\1/p' tests/fixtures/results/06-20261126-180000.json >"$TMP/old.json"
	grep -q '^{"design"' "$TMP/old.json" || fail "no client line in the old fixture"
	refused "a client too old (no hist)" 'old.json: its JSON line has no "hist"' "$g" "$TMP/old.json"
	echo '{"error":"json overflow"}' >"$TMP/ovf.json"
	refused "json overflow" 'no "hist"' "$g" "$TMP/ovf.json"
	sed 's/"sub_bits":6/"sub_bits":7/' "$g" >"$TMP/sb7.json"
	refused "different sub_bits" "sub_bits 7, but .* has 6" "$g" "$TMP/sb7.json"
	# count != the sum of the buckets: one bucket count raised by one.
	python3 -c 'import re, sys; print(re.sub(r"\[(\d+),(\d+)\]\]\}\}$", lambda m: "[%s,%d]]}}" % (m.group(1), int(m.group(2)) + 1), sys.argv[1]))' "$x" >"$TMP/cnt.json"
	refused "count != sum of buckets" "count 5000 is not the sum of its buckets (5001)" "$g" "$TMP/cnt.json"
	sed 's/"buckets":\[\[/"buckets":[[7],[/' "$g" >"$TMP/mal.json"
	refused "malformed buckets" "buckets are not \[\[index, count\]" "$g" "$TMP/mal.json"
	sed 's/"buckets":\[\[/"buckets":[[999,1],[/; s/"count":5000/"count":5001/' "$g" >"$TMP/uns.json"
	refused "unsorted buckets" "not ascending" "$g" "$TMP/uns.json"
	sed 's/\]\]}}$/],[3776,1]]}}/; s/"count":5000/"count":5001/' "$g" >"$TMP/oor.json"
	refused "a bucket out of range" "bucket index 3776 out of range" "$g" "$TMP/oor.json"
	sed 's/"count":5000/"count":"5000"/' "$g" >"$TMP/nocount.json"
	refused "a non-integer count" "no integer count" "$g" "$TMP/nocount.json"
	sed 's/"count":5000/"count":x/' "$g" >"$TMP/notjson.json"
	refused "a line that is not JSON" "notjson.json: its JSON line is not JSON" "$g" "$TMP/notjson.json"
	refused "an unknown option" "unknown option '-x'" -x "$g"
	"$MERGE" "$g" "$g" >"$TMP/merged.json" || fail "merging a file with itself"
	refused "a merged line" "already a merge of 2 hosts" "$g" "$TMP/merged.json"
	"$MERGE" -h >"$TMP/help" 2>&1 || fail "-h: exit $?"
	grep -q '^usage: scripts/merge CLIENT_JSON_FILE' "$TMP/help" || fail "-h: no usage: $(head -n 3 "$TMP/help")"
	echo pass
}

# mutants GROUP: the mutants of GROUP (quantile, keys). A mutant: its group,
# its name, the case that must catch it, the file (c1m/merge.py or
# c1m/hist.py, copied with scripts/merge), then pairs of its text and the
# broken replacement (\t, \n: a tab, a newline).
case_mutants() {
	local failed=0 n=0 line group name cs file m rc
	export GEN_CACHE=$TMP/gen
	mkdir -p "$GEN_CACHE"
	while IFS= read -r line; do
		[[ -z "$line" ]] && continue
		IFS='|' read -r group name cs file _ <<<"$line"
		[[ $group == "$1" ]] || continue
		n=$((n + 1))
		m=$TMP/mut-$name
		mkdir -p "$m"
		cp scripts/merge "$m/" && cp -r scripts/c1m "$m/" && rm -rf "$m/c1m/__pycache__"
		python3 - "$m/$file" "$line" <<-'EOF' || { echo "mutant $name: its text is no longer in $file: update it"; failed=1; continue; }
		import sys
		p, line = sys.argv[1:]
		f = [x.replace("\\t", "\t").replace("\\n", "\n") for x in line.split("|")[4:]]
		s = open(p).read()
		for a, b in zip(f[0::2], f[1::2]):
		    if s.count(a) != 1:
		        sys.exit(1)
		    s = s.replace(a, b)
		open(p, "w").write(s)
		EOF
		MERGE=$m/merge timeout 60 tests/merge.sh "$cs" </dev/null >"$m/log" 2>&1
		rc=$?
		if [[ $rc -ne 0 ]]; then
			echo "caught     $name by '$cs': $(grep -m 1 -e MISMATCH -e '^FAIL' "$m/log")"
		else
			echo "NOT CAUGHT $name (case $cs passed)"
			failed=1
		fi
	done <<'EOF'
quantile|average-p99|exact|c1m/merge.py|    lat["max"] = |    lat["p99"] = sum(c["lat_us"]["p99"] for c in cs) / len(cs)\n    lat["max"] = 
quantile|average-p50|exact|c1m/merge.py|    lat["max"] = |    lat["p50"] = sum(c["lat_us"]["p50"] for c in cs) / len(cs)\n    lat["max"] = 
quantile|rank-plus-one|edge|c1m/hist.py|    if rank < x:\n|    if True:\n
quantile|rank-floor|edge|c1m/hist.py|    if rank < x:\n|    if False:\n
quantile|upper-edge|exact|c1m/hist.py|    return lo + (hi - lo) // 2|    return hi
quantile|lower-edge|exact|c1m/hist.py|    return lo + (hi - lo) // 2|    return lo
quantile|no-clamp|edge|c1m/hist.py|            if v < hist["min_ns"]:\n                v = hist["min_ns"]\n|
keys|sum-as-double|big|c1m/hist.py|        total += h["sum_ns"]|        total = int(float(total) + h["sum_ns"])
keys|counts-as-float|big|c1m/merge.py|        return sum(xs)|        return float(sum(xs))
keys|earliest-start|exact|c1m/merge.py|    return max(s), min(e), |    return min(s), min(e), 
keys|empty-min|empty|c1m/hist.py|        if h["count"]:\n            lo = |        if True:\n            lo = 
keys|no-count-check|bad|c1m/merge.py|    if tot != h["count"]:|    if False:
keys|one-per-host|exact|c1m/merge.py|zip(cs, cw)]|zip(cs, cw)][:1]
keys|skew-starts-only|exact|c1m/merge.py|    skew = max(max(s) - min(s), max(e) - min(e)) / 1000|    skew = (max(s) - min(s)) / 1000
EOF
	((n > 0)) || fail "no mutant in group '$1'"
	((failed == 0)) || fail "a broken merge passed its case (above)"
	echo pass
}

# scripts/merge is Python (histc builds its own hist.c): a sanitizer
# suite would run the same shell again, so these skip there.
if [[ -n "${SAN:-}" ]]; then
	echo "script-only case: plain make test runs it, a sanitizer build adds nothing"
	exit 77
fi
case ${1:-} in
exact | histc | edge | empty | big | window | bad) "case_$1" ;;
mutants) "case_$1" "${2:-}" ;;
*) echo "usage: tests/merge.sh exact|histc|edge|empty|big|window|bad|mutants quantile|keys"; exit 2 ;;
esac
