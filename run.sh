#!/usr/bin/env bash
# run.sh - run one c1m design (its server and its client) at this machine's
# size, and record what it cost. ./run.sh -h says how.
#
# The work is done by the Python package in scripts/c1m/ (cli.py: the
# options and this usage text; run.py: the stages of a run).
cd "$(dirname "$0")" || exit 1
PYTHONPATH=scripts${PYTHONPATH:+:$PYTHONPATH} exec python3 -B -m c1m.run "$@"
