#!/usr/bin/env bash
# tests/run.sh [PATTERN] - run every test case listed in tests/*.cases.
#
# A .cases file has one case a line:   name | timeout_s | command
# The command runs from the repository root under `timeout`. Exit 0 is a
# pass, 77 a skip, anything else a failure. Each case's output goes to
# build/test-logs/NAME.log; a failure prints its tail.
#
# Prints "ok N name" / "not ok N name" per case, then "N passed, N failed".
# PATTERN (an extended regex) runs only the cases whose name matches;
# SKIP (an extended regex, from the environment) leaves out those matching it.
# A case whose command ends in "# quiet" asserts timing (to 1-2%) and needs
# the machine to itself: QUIET=only runs just those, QUIET=skip all others
# (.ci/run runs the quiet ones first, the rest beside the sanitizer suites).
# SAN (1 or thread) stretches the timeouts: sanitized binaries are slower.
#
# Every case runs the python3 this PATH names, but called directly: a
# version manager's shim (pyenv's is ~0.5 s a start) would be paid on each
# of the suite's many small Python starts.
set -u
cd "$(dirname "$0")/.."
pattern=${1:-.}
skip_re=${SKIP:-}
logs=build/test-logs
mkdir -p "$logs"
py=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
if [[ -n "$py" && "$py" != "$(command -v python3)" ]]; then
	mkdir -p build/pybin
	ln -sfn "$py" build/pybin/python3
	export PATH="$PWD/build/pybin:$PATH"
fi
case "${SAN:-}" in
	1) stretch=3 ;;
	thread) stretch=4 ;;
	*) stretch=1 ;;
esac
export C1M_TEST_STRETCH=$stretch
# make test sets UNIT_DIR; run by hand, find the variant's unit binaries.
case "${SAN:-}" in
	1) variant=asan ;;
	thread) variant=tsan ;;
	*) variant=plain ;;
esac
export UNIT_DIR=${UNIT_DIR:-build/$variant/tests}

pass=0 fail=0 skip=0 n=0
while IFS='|' read -r name tmo cmd; do
	name=${name//[[:space:]]/}
	[[ -z "$name" || "$name" == \#* ]] && continue
	[[ "$name" =~ $pattern ]] || continue
	[[ -n "$skip_re" && "$name" =~ $skip_re ]] && continue
	quiet=0
	[[ "$cmd" =~ \#[[:space:]]*quiet[[:space:]]*$ ]] && quiet=1
	[[ "${QUIET:-}" == only && $quiet -eq 0 ]] && continue
	[[ "${QUIET:-}" == skip && $quiet -eq 1 ]] && continue
	tmo=${tmo//[[:space:]]/}
	[[ "$tmo" =~ ^[0-9]+$ ]] || { echo "run.sh: case $name: bad timeout '$tmo'" >&2; exit 2; }
	tmo=$(( tmo * stretch ))
	n=$((n + 1))
	log="$logs/$name.log"
	start=$(date +%s%N)
	timeout -k 5 "$tmo" bash -c "$cmd" </dev/null >"$log" 2>&1
	rc=$?
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	secs="$((ms / 1000)).$(( (ms % 1000) / 100 ))"
	if [[ $rc -eq 0 ]]; then
		pass=$((pass + 1))
		echo "ok $n $name (${secs}s)"
	elif [[ $rc -eq 77 ]]; then
		skip=$((skip + 1))
		echo "ok $n $name # skip: $(tail -n 1 "$log")"
	else
		fail=$((fail + 1))
		[[ $rc -eq 124 || $rc -eq 137 ]] && why="timed out after ${tmo}s" || why="exit $rc"
		echo "not ok $n $name ($why)"
		tail -n 25 "$log" | sed 's/^/#   /'
	fi
done < <(cat tests/*.cases)

if [[ $n -eq 0 ]]; then
	echo "no test matched '$pattern'" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
if [[ $skip -gt 0 ]]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[[ $fail -eq 0 ]]
