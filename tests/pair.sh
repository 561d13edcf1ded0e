#!/usr/bin/env bash
# tests/pair.sh SERVER_DIR CLIENT_DIR [CLIENT_ARGS...]
#
# Start SERVER_DIR/server on a free loopback port, run CLIENT_DIR/client
# against it (default: -n 300 -d 2), stop the server with SIGTERM, and
# assert what a user cares about:
#   the client exits 0 with round_trips > 0, errors == 0, mismatches == 0,
#   every connection up, p50 <= p99 <= max;
#   the server exits 0 on SIGTERM, prints its JSON line, served at least
#   every round trip the client counted, and saw every connection.
# SERVER_ARGS (env) are passed to the server; SERVER_CHECK and CLIENT_CHECK
# (env), one more json_check expression over the server's or the client's
# JSON (e.g. 'overlaps == 0').
source "$(dirname "$0")/lib.sh"
[[ $# -ge 2 ]] || { echo "usage: tests/pair.sh SERVER_DIR CLIENT_DIR [CLIENT_ARGS...]"; exit 2; }
sdir=$1 cdir=$2
shift 2
args=("$@")
[[ ${#args[@]} -gt 0 ]] || args=(-n 300 -d 2)

# shellcheck disable=SC2086
server_start "$sdir" ${SERVER_ARGS:-}
"$cdir/client" -p "$SERVER_PORT" -i 1 "${args[@]}" >"$TMP/client.json" 2>"$TMP/client.err"
crc=$?
echo "--- client stderr"; cat "$TMP/client.err"
echo "--- client json"; cat "$TMP/client.json"
[[ $crc -eq 0 ]] || fail "client exited $crc"
json_check "$TMP/client.json" 'round_trips > 0' 'errors == 0' 'mismatches == 0' \
	'conns == conns_target' 'lat_us["p50"] <= lat_us["p99"] <= lat_us["max"]' \
	${CLIENT_CHECK:+"$CLIENT_CHECK"}
rt=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["round_trips"])' "$TMP/client.json")
conns=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["conns"])' "$TMP/client.json")
server_stop
json_check "$SERVER_JSON" "requests >= $rt" "accepted >= $conns" "conns_peak >= 1" 'errors == 0' \
	${SERVER_CHECK:+"$SERVER_CHECK"}
echo "pass"
