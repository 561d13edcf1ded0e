#!/usr/bin/env bash
# run.sh NN - for now: run the 06 pair at a size this machine allows.
set -euo pipefail
cd "$(dirname "$0")"
[[ "${1:-06}" == 06 ]] || { echo "run.sh: only 06 so far" >&2; exit 2; }
make -s
./06_multi_epoll_server/server -p 8972 -i 2 & pid=$!
trap 'kill $pid 2>/dev/null' EXIT
sleep 0.5
./05_multi_epoll_client/client -p 8972 -n 10000 -d 10 -i 2
kill -TERM $pid; wait $pid
trap - EXIT
