#!/usr/bin/env bash
# tests/pairs.sh CASE - the checks of 06 that need more than tests/pair.sh's
# defaults.
#
#   headroom   room to spare for SO_REUSEPORT's uneven spread: with tables
#              of 2,000 fds (1,968 connections each, ~27 fds of slack),
#              15,744 connections fit in 8 tables only when spread evenly.
#              The kernel's hash is not even, so the server must size more
#              loops than that (1/8 to spare); every connection is held.
#              Skipped under the sanitizers: the same sizing code (and
#              TSan's build shares one fd table).
usage="usage: tests/pairs.sh headroom"
[[ $# -eq 1 ]] || { echo "$usage" >&2; exit 2; }

case $1 in
headroom)
	if [[ -n "${SAN:-}" ]]; then
		echo "skip: sizing, the same in a sanitized build (and TSan's shares one fd table)"
		exit 77
	fi
	ulimit -n 2000 || { echo "FAIL: ulimit -n 2000"; exit 1; }
	SERVER_ARGS="-n 15744" SERVER_CHECK='conns_peak == 15744' \
		exec "$(dirname "$0")/pair.sh" 06_multi_epoll_server 05_multi_epoll_client -n 15744 -d 2
	;;
*) echo "$usage" >&2; exit 2 ;;
esac
