#!/usr/bin/env bash
# run.sh - run one c1m design (its server and its client) at this machine's
# size, and record what it cost.
#
# usage: ./run.sh NN|all [options]
#        ./run.sh compare [-d SEC] [-p PORT] [-i SEC] [--pin[ S:C]] [--netns] [--no-tune]
#                         [--dry-run] [--no-build]
#
#   NN            a design directory's number (06 = 06_multi_epoll_server); all = every one
#   compare       like for like: every design at one connection count they can
#                 all hold (10,000, or less when sizing says so for one of them),
#                 then 03, 06, 07, 08 and 14 at 1,000, 100,000 and 1,000,000, each
#                 only up to its cap. Every run gets the same "set" in its JSON
#                 (compare-<UTC time>). Prints the plan and its time first.
#   -n N[,N...]   connections (default: chosen from the design and this machine, and
#                 the reason printed); a list runs once per count, e.g. the blog's sweep
#                 -n 5000,2000,1000,500,200,100. Refused, with the reason, if it cannot fit.
#   -d SEC        measuring time once every connection is up (default 10)
#   -c N          server loops/workers/processes (default: the server's own choice)
#   -p PORT       server port (default 8972; 0 = any free one)
#   -i SEC        progress interval of both programs (default 5)
#   -S 'ARGS'     extra server arguments, e.g. -S '-m timer' for 10
#   -C 'ARGS'     extra client arguments
#   --client NN   drive the server with NN's client instead
#   --quick       a small smoke run: 200 connections (or fewer), 2 s
#   --pin[ S:C]   run the server on CPUs S and the client on CPUs C (taskset -c;
#                 e.g. --pin 0:1, --pin 0-3:4-7; disjoint, online). Without S:C:
#                 the first half of the usable CPUs for the server, the rest for
#                 the client. The sets are recorded in the JSON.
#   --netns       run both ends in a fresh network namespace (root), made after
#                 raising net.ipv4.tcp_child_ehash_entries, so that it has a TCP
#                 hash table of its own (1.13-1.27x the round trips/s at 1M here).
#                 As root, a run with more sockets than this namespace's table
#                 has buckets gets one by default, and says so
#   --no-netns    run in this namespace even then
#   -a ADDR       the server's address: it listens there and the clients connect
#                 to it (default 127.0.0.1)
#   --hosts H1[=SRC],H2[=SRC],...
#                 run the client on several hosts, one each, sharing -n equally,
#                 the server here on -a (required: an address the hosts reach).
#                 SRC (FIRST[-LAST]) is that host's source addresses (client -s);
#                 without it the host uses one, which holds ~28K connections.
#                 Every client waits at a start barrier (client -B) until all
#                 have had their first round; then run.sh says "go" to all at
#                 once, and scripts/merge adds their histograms bucket by bucket.
#   --via 'PREFIX' how to run a command on a host: PREFIX HOST COMMAND (default
#                 'ssh -o BatchMode=yes'). A prefix whose first word is ssh gets
#                 the command as one string for the remote shell; any other
#                 (e.g. 'ip netns exec') gets it as words: sh -c 'COMMAND'
#   --remote-dir DIR  where this repository is built on the hosts (default: this
#                 directory's path); checked on every host before the run
#   --perf DIR    profile the run: perf record -a -g and perf stat over the ramp
#                 (DIR/ramp) and the measuring window's inside (DIR/window), by
#                 scripts/perf-window.sh; then each process's and function's CPU
#                 us per connection or round trip in DIR/*/top.txt (scripts/perf-top;
#                 give it two DIRs to compare, e.g. 1K's and 1M's window)
#   --no-tune     change no kernel setting; run at the size the machine allows as it is
#   --dry-run     print the sizing, the kernel settings and the commands; run nothing
#   --no-build    do not run make first
#   -h            this help
#
# What a run does: builds (make), sizes the run, checks the kernel settings
# through scripts/tune.sh (as root it changes what is short, printing
# "current -> needed", and puts every value back when the run ends, also on
# Ctrl-C or failure), starts the server and waits until it listens, runs the
# client, stops the server with SIGTERM and collects both JSON lines plus the
# kernel memory (/proc/meminfo Slab) and TCP memory (/proc/net/sockstat).
#
# Which programs: NN's own server; for 01-05 NN's own client, for 06 and up
# 05_multi_epoll_client (it drives 06-14). A directory without a server uses
# the nearest lower-numbered server.
#
# Sizing reads what each program prints with -L (one JSON line: its fd
# tables, the fds it keeps spare per table, its most loops, thread per
# connection or not, its target; a client's connections per source address
# and default rate), never its -h text. A program without -L is an error.
#
# Defaults by design (the target and rate their -L print): 09-13 run 1,000
# connections (the middle of the blog's 5000..100 sweep); the others aim at
# 1,000,000 and take what the machine allows. The clients' own defaults set
# the load (01 and 02: a low round-robin rate; the rest: closed-loop
# ping-pong).
#
# The window: the client (given -P SERVER_PID when it takes it) marks the
# start and the end of its measuring window on the server (SIGUSR1), so both
# report their CPU over the same window; the summary's CPU per cent, us per
# round trip and bottleneck come from those window figures only (the
# whole-run CPU is kept as *_cpu_run_*).
#
# Results: $RESULTS_DIR (default results/) gets NN-<timestamp>.json (both
# programs' JSON lines, the machine, the kernel settings, the memory deltas),
# a row in results.csv, and the programs' logs in logs/. scripts/report turns
# them into the README table and results/summary.svg.
#
# More than one host (--hosts): each host's client gets its share of -n and
# -B; run.sh waits until every one prints "barrier: ready" (connected and
# answered once), then writes "go" to all their stdins at once (over ssh:
# the same channel), and marks the server's window itself (SIGUSR1) -W
# seconds later and again -d seconds after that. Each client's JSON records
# its window's wall-clock start and end and its raw histogram; the result's
# "client" is scripts/merge's line over all of them and "clients" holds each.
#
# Exit: 0 when every run passed (the client checked every reply), 1 when a
# run failed, 2 on bad usage or a size that cannot fit.
set -u
set -o pipefail
cd "$(dirname "$0")" || exit 1
PROG=run.sh
RESULTS_DIR=${RESULTS_DIR:-results}
AWK_LIB=$(cat scripts/lib.awk)
SYNOPSIS="usage: ./run.sh NN|all [-n N[,N...]] [-d SEC] [-c N] [-p PORT] [-i SEC] [-S ARGS] [-C ARGS]
                [--client NN] [--quick] [--pin[ S:C]] [--[no-]netns] [-a ADDR] [--hosts H1,H2,...]
                [--via PREFIX] [--remote-dir DIR] [--perf DIR] [--no-tune] [--dry-run] [--no-build] [-h]
       ./run.sh compare [-d SEC] [-p PORT] [-i SEC] [--pin[ S:C]] [--netns] [--no-tune] [--dry-run] [--no-build]"

KERNEL_PER_CONN=8300	# bytes of kernel memory per connection, both ends (SPEC: 8,255)
USER_PER_CONN=200	# bytes of user memory per connection, both ends (epoll designs)
THREAD_PER_CONN=31744	# a 16 KiB-stack thread with its kernel stack (SPEC: ~31 KB)
MEM_SHARE=60		# per cent of MemAvailable a run may take

usage() { sed -n '2,/^set -u/p' "$0" | sed -e '/^set -u/d' -e 's/^# \{0,1\}//'; }
bad() {
	echo "$PROG: $*" >&2
	echo "$SYNOPSIS" >&2
	exit 2
}
say() { echo "$PROG: $*"; }
# 1234567 -> 1,234,567 (lib.awk's fmt_int, without an awk per number).
num() {
	local n=$1 out='' sign=''
	[[ $n =~ ^-?[0-9]+$ ]] || { awk "$AWK_LIB"' BEGIN { print fmt_int(ARGV[1]); exit }' "$1"; return; }
	[[ $n == -* ]] && sign=- n=${n#-}
	while ((${#n} > 3)); do
		out=",${n: -3}$out" n=${n:0:${#n}-3}
	done
	echo "$sign$n$out"
}

# ---- the designs ----

# The NN_* directory of number $1, or nothing.
dir_of() {
	local d
	for d in "$1"_*/; do
		[[ -d "$d" ]] && { echo "${d%/}"; return; }
	done
}

# The directory whose server design NN runs: its own, or the nearest
# lower-numbered one.
server_dir() {
	local n=$((10#$1)) d
	for ((; n >= 1; n--)); do
		d=$(dir_of "$(printf %02d "$n")")
		[[ -n "$d" && -f "$d/server.c" ]] && { echo "$d"; return; }
	done
}
# The directory whose client drives design NN: its own for 01-05, and
# 05_multi_epoll_client for 06 and up (their client.c files only set 05's
# defaults); without one, the nearest lower-numbered client.
client_dir() {
	local n d
	((10#$1 > 5)) && set -- 05
	for ((n = 10#$1; n >= 1; n--)); do
		d=$(dir_of "$(printf %02d "$n")")
		[[ -n "$d" && -f "$d/client.c" ]] && { echo "$d"; return; }
	done
}

# Every number with a directory, a server and a client to run.
valid_designs() {
	local d nn out=()
	for d in [0-9][0-9]_*/; do
		[[ -d "$d" ]] || continue
		nn=${d%%_*}
		[[ -n "$(server_dir "$nn")" && -n "$(client_dir "$nn")" ]] && out+=("$nn")
	done
	echo "${out[*]}"
}

# What sizing needs to know of a program, it prints with -L: one JSON line
# (common/c1m.h, struct limits), whatever its -h text says. Prints the
# line, or one line on stderr and returns 1 when the program cannot say.
limits_of() { # PROGRAM
	local out rc first
	out=$(timeout 5 "./$1" -L 2>/dev/null </dev/null)
	rc=$?
	if ((rc == 0)) && [[ "$out" == \{*\} && "$out" != *$'\n'* ]]; then
		echo "$out"
		return 0
	fi
	first=${out%%$'\n'*}
	echo "$PROG: ./$1 -L failed (exit $rc${first:+, printed \"$first\"}): it must print its limits as one JSON line; rebuild it (make $1)" >&2
	return 1
}

# Set each VAR to KEY's value in PROGRAM's -L line JSON, checked against
# the extended regex WANT; a missing or odd value is a one-line error.
limit() { # PROGRAM JSON [VAR KEY WANT]...
	local prog=$1 json=$2 v
	shift 2
	while (($# >= 3)); do
		v=$(awk "$AWK_LIB"' BEGIN { print jget(ARGV[1], ARGV[2]); exit }' "$json" "$2")
		if ! [[ "$v" =~ ^($3)$ ]]; then
			echo "$PROG: ./$prog -L: \"$2\" is '$v', want $3, in: $json" >&2
			return 1
		fi
		printf -v "$1" '%s' "$v"
		shift 3
	done
}

# Read both programs' limits (nothing here depends on a -h text):
#   KIND      threads (the server runs a thread per connection: ~31 KB
#             each) or events
#   TABLES    many (the server spreads its fds over private tables or child
#             processes, so RLIMIT_NOFILE caps a table, not the run) or one
#   TARGET    the connections the server aims at
#   SRV_RESERVE, SRV_LOOPS  fds the server keeps spare per table; most -c
#   CLI_TABLES, CLI_RESERVE, CLI_LOOPS  the same of the client ("one": all
#             its connections share one table)
#   PER_SRC   client connections per source address (127.0.0.1, .2, ...)
#   RATE_DEFAULT  the client's default -r (0 = closed-loop ping-pong)
#   SERVER_N  1 if the server takes -n CONNS (it accepts "-n 1 -L")
#   CLIENT_P  1 if the client takes -P SERVER_PID (it accepts "-P 1 -L")
KIND='' TABLES='' TARGET=0 SRV_RESERVE=0 SRV_LOOPS=1 CLI_TABLES='' CLI_RESERVE=0 CLI_LOOPS=1
PER_SRC=0 RATE_DEFAULT=0 SERVER_N=0 CLIENT_P=0
read_limits() {
	local s c kind sfd scap cfd ccap int='[1-9][0-9]*'
	s=$(limits_of "$SDIR/server") && c=$(limits_of "$CDIR/client") || return 1
	limit "$SDIR/server" "$s" kind thread_per_conn '0|1' TABLES fd_tables 'one|many' \
		TARGET target "$int" sfd fd_limit "$int" scap table_cap "$int" \
		SRV_LOOPS max_loops "$int" || return 1
	limit "$CDIR/client" "$c" CLI_TABLES fd_tables 'one|many' cfd fd_limit "$int" \
		ccap table_cap "$int" CLI_LOOPS max_loops "$int" PER_SRC per_src "$int" \
		RATE_DEFAULT rate '[0-9]+(\.[0-9]+)?(e[-+][0-9]+)?' || return 1
	((kind)) && KIND=threads || KIND=events
	SRV_RESERVE=$((sfd - scap)) CLI_RESERVE=$((cfd - ccap))
	SERVER_N=0
	"./$SDIR/server" -n 1 -L >/dev/null 2>&1 </dev/null && SERVER_N=1
	CLIENT_P=0
	"./$CDIR/client" -P 1 -L >/dev/null 2>&1 </dev/null && CLIENT_P=1
	if ((${#HOSTS[@]})) && ! "./$CDIR/client" -B -L >/dev/null 2>&1 </dev/null; then
		echo "$PROG: --hosts: $CDIR/client has no start barrier (-B); the clients that include 05's have it (every design but 04)" >&2
		return 1
	fi
	return 0
}

# ---- sizing ----

# Sets CONNS (or refuses) and prints why. $1 = the -n asked for, or "".
size_run() {
	local asked=$1 mem_kb per budget mem_cap cap why
	local hard table srv_cap=0 cli_cap=0 files_cap thr_cap=0 used loops

	mem_kb=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
	per=$((KERNEL_PER_CONN + USER_PER_CONN))
	[[ $KIND == threads ]] && per=$((per + THREAD_PER_CONN))
	budget=$((mem_kb * 1024 * MEM_SHARE / 100))
	mem_cap=$((budget / per))
	echo "sizing: server $SDIR, client $CDIR"
	printf '  %-8s %s connections (%s)\n' design "$(num "$TARGET")" \
		"$( ((TARGET >= 1000000)) && echo "the c1m target" || echo "the middle of the blog's 5000..100 sweep")"
	printf '  %-8s %s MiB available; %s%% of it at %s B per connection (%s kernel, both ends%s) -> %s\n' \
		memory $((mem_kb / 1024)) $MEM_SHARE "$(num $per)" "$(num $KERNEL_PER_CONN)" \
		"$([[ $KIND == threads ]] && echo ", + a thread")" "$(num $mem_cap)"
	cap=$mem_cap why=memory

	# fds: a table holds the hard RLIMIT_NOFILE (raised here if root may).
	hard=$(ulimit -Hn)
	[[ $hard == unlimited ]] && hard=1048576
	table=$hard
	if ((CAN_TUNE)) && (ulimit -Hn "$(cat /proc/sys/fs/nr_open)") 2>/dev/null; then
		table=$(cat /proc/sys/fs/nr_open)
		RAISE_NOFILE=$table
	fi
	if [[ $TABLES == one ]]; then
		srv_cap=$((table - SRV_RESERVE))
		printf '  %-8s server: one fd table of %s (RLIMIT_NOFILE), %s kept spare -> %s\n' fds \
			"$(num "$table")" "$SRV_RESERVE" "$(num $srv_cap)"
		((srv_cap < cap)) && cap=$srv_cap why="the server's one fd table"
	else
		loops=${LOOPS:-$SRV_LOOPS}
		srv_cap=$(((table - SRV_RESERVE) * loops))
		printf '  %-8s server: a private fd table of %s connections per loop, up to %s loops (%s) -> %s\n' \
			fds "$(num $((table - SRV_RESERVE)))" "$(num "$loops")" \
			"$([[ -n $LOOPS ]] && echo "-c" || echo "its most")" "$(num $srv_cap)"
		((srv_cap < cap)) && cap=$srv_cap why="the server's $(num "$loops") fd tables"
	fi
	if [[ $CLI_TABLES == one ]]; then
		cli_cap=$((table - CLI_RESERVE))
		printf '  %-8s client: one loop, one fd table -> %s\n' "" "$(num $cli_cap)"
		((cli_cap < cap)) && cap=$cli_cap why="the client's one fd table"
	else
		cli_cap=$(((table - CLI_RESERVE) * CLI_LOOPS))
		printf '  %-8s client: a private fd table of %s connections per loop, up to %s loops -> %s\n' "" \
			"$(num $((table - CLI_RESERVE)))" "$(num "$CLI_LOOPS")" "$(num $cli_cap)"
		((cli_cap < cap)) && cap=$cli_cap why="the client's $(num "$CLI_LOOPS") fd tables"
	fi
	if ((!CAN_TUNE)); then
		used=$(awk '{ print $1 }' /proc/sys/fs/file-nr)
		files_cap=$((($(cat /proc/sys/fs/file-max) - used - 65536) / 2))
		printf '  %-8s fs.file-max allows %s more connections (2 files each)\n' files "$(num $files_cap)"
		((files_cap < cap)) && cap=$files_cap why="fs.file-max"
		if [[ $KIND == threads ]]; then
			local pmax tmax nthr
			pmax=$(cat /proc/sys/kernel/pid_max)
			tmax=$(cat /proc/sys/kernel/threads-max)
			nthr=$(awk '{ split($4, a, "/"); print a[2] }' /proc/loadavg)
			thr_cap=$(((pmax < tmax ? pmax : tmax) - nthr - 1024))
			printf '  %-8s pid_max %s, threads-max %s, %s threads running -> %s\n' threads \
				"$(num "$pmax")" "$(num "$tmax")" "$(num "$nthr")" "$(num $thr_cap)"
			((thr_cap < cap)) && cap=$thr_cap why="kernel.pid_max/threads-max"
		fi
	fi
	if ((${#HOSTS[@]})); then
		printf '  %-8s %s hosts, each its share of the connections, from its own source addresses (H=FIRST-LAST)\n' \
			ports "${#HOSTS[@]}"
	else
		printf '  %-8s the client binds 127.0.0.1, .2, ...: %s connections per source address\n' \
			ports "$(num "$PER_SRC")"
	fi
	((cap < 1)) && cap=1

	if [[ -n "$asked" ]]; then
		if ((asked > cap)); then
			echo "$PROG: -n $(num "$asked") cannot fit: at most $(num $cap) here, limited by $why" >&2
			((CAN_TUNE)) || [[ $why == memory || $why == *"fd table"* ]] ||
				echo "$PROG: as root (without --no-tune) the kernel limits would be raised" >&2
			return 2
		fi
		CONNS=$asked
		echo "  => $(num "$CONNS") connections (-n; fits: at most $(num $cap), limited by $why)"
	elif ((QUICK)); then
		CONNS=$((cap < 200 ? cap : 200))
		echo "  => $(num "$CONNS") connections (--quick)"
	elif ((TARGET <= cap)); then
		CONNS=$TARGET
		echo "  => $(num "$CONNS") connections (the design's target; this machine fits $(num $cap))"
	else
		CONNS=$cap
		echo "  => $(num "$CONNS") connections (short of the design's target, limited by $why)"
	fi
	SIZE_WHY=$why SIZE_CAP=$cap
	return 0
}

# ---- CPU sets (--pin) ----

# "0-2,5" -> "0 1 2 5"; returns 1 on anything but a CPU list (or past CPU 65535).
expand_cpus() {
	local part out=() i
	[[ "$1" =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] || return 1
	for part in ${1//,/ }; do
		if [[ $part == *-* ]]; then
			((10#${part%-*} <= 10#${part#*-} && 10#${part#*-} < 65536)) || return 1
			for ((i = 10#${part%-*}; i <= 10#${part#*-}; i++)); do out+=("$i"); done
		else
			out+=("$((10#$part))")
		fi
	done
	printf '%s\n' "${out[@]}" | sort -nu | tr '\n' ' '
}

# "0 1 2 5" -> "0-2,5"
compact_cpus() {
	tr ' ' '\n' <<<"$1" | awk 'NF {
		if (n && $1 == last + 1) { last = $1; next }
		if (n) out = out (out == "" ? "" : ",") (first == last ? first : first "-" last)
		first = last = $1; n = 1 }
		END { if (n) out = out (out == "" ? "" : ",") (first == last ? first : first "-" last); print out }'
}

# How many CPUs a list holds; 0 for "" (not pinned).
cpu_count() { [[ -n "$1" ]] && expand_cpus "$1" | wc -w || echo 0; }

# The CPUs a run may use: online, and in run.sh's own affinity (a cpuset or
# an outer taskset), as "0 1 2 ...".
usable_cpus() {
	local online allowed
	online=$(expand_cpus "$(cat /sys/devices/system/cpu/online)") || online=$(seq 0 $(($(nproc --all) - 1)))
	allowed=$(expand_cpus "$(awk '/^Cpus_allowed_list:/ { print $2 }' /proc/self/status)") || allowed=$online
	comm -12 <(tr ' ' '\n' <<<"$online" | sort) <(tr ' ' '\n' <<<"$allowed" | sort) | sort -n | tr '\n' ' '
}

# Sets PIN_SERVER and PIN_CLIENT from --pin's value: "auto" (the first half
# of the usable CPUs for the server, the rest for the client) or S:C.
# Exits 2 when the sets are not valid, usable and disjoint.
set_pins() {
	local usable n srv cli c
	read -ra usable <<<"$(usable_cpus)"
	n=${#usable[@]}
	command -v taskset >/dev/null || bad "--pin needs the taskset command (util-linux)"
	if [[ $1 == auto ]]; then
		if ((n < 2)); then
			echo "$PROG: --pin: this run may use only CPU ${usable[*]}: the server and the client need one each" >&2
			exit 2
		fi
		srv="${usable[*]:0:n/2}" cli="${usable[*]:n/2}"
	else
		[[ $1 == *:* ]] || bad "--pin: want SERVER_CPUS:CLIENT_CPUS, e.g. 0:1 or 0-3:4-7, not '$1'"
		srv=$(expand_cpus "${1%%:*}") || bad "--pin: '${1%%:*}' is not a CPU list like 0-3,6"
		cli=$(expand_cpus "${1#*:}") || bad "--pin: '${1#*:}' is not a CPU list like 0-3,6"
		for c in $srv $cli; do
			[[ " ${usable[*]} " == *" $c "* ]] ||
				bad "--pin: CPU $c is not online or not ours (usable: $(compact_cpus "${usable[*]}"))"
		done
		for c in $srv; do
			[[ " $cli " == *" $c "* ]] && bad "--pin: CPU $c is in both sets: the server's and the client's must be disjoint"
		done
	fi
	PIN_SERVER=$(compact_cpus "$srv") PIN_CLIENT=$(compact_cpus "$cli")
}

# ---- more than one host (--hosts) ----

# HOSTS[i], HOST_SRC[i] from "H1[=SRC],H2,...", and VIA_WORDS from --via.
# Exits 2 on anything else, and on options that cannot go with it.
HOSTS=() HOST_SRC=() VIA_WORDS=() VIA_SSH=0
parse_hosts() {
	local h name src
	for h in ${1//,/ }; do
		name=${h%%=*} src=''
		[[ $h == *=* ]] && src=${h#*=}
		[[ "$name" =~ ^[A-Za-z0-9_.@:-]+$ ]] || bad "--hosts: '$name' is not a host name"
		[[ -z "$src" || "$src" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}(-[0-9]{1,3}(\.[0-9]{1,3}){3})?$ ]] ||
			bad "--hosts: $name=$src: want source addresses FIRST[-LAST], e.g. $name=198.18.1.1-198.18.1.50"
		HOSTS+=("$name") HOST_SRC+=("$src")
	done
	((${#HOSTS[@]})) || bad "--hosts: want at least one host"
	[[ -n "$ADDR" ]] || bad "--hosts needs -a ADDR: the server's address, as the hosts reach it"
	((NETNS)) && bad "--hosts runs the clients on other hosts; --netns puts both ends in one namespace here: pick one"
	[[ -n "$PIN_ARG" ]] && bad "--pin places both ends on this machine's CPUs; with --hosts the clients are elsewhere"
	[[ ${TARGETS[0]} == compare ]] && bad "--hosts is for one design (or all), not compare"
	read -ra VIA_WORDS <<<"$VIA"
	((${#VIA_WORDS[@]})) || bad "--via: want a command prefix, e.g. 'ip netns exec'"
	command -v "${VIA_WORDS[0]}" >/dev/null || bad "--via: no command '${VIA_WORDS[0]}' here"
	[[ ${VIA_WORDS[0]##*/} == ssh ]] && VIA_SSH=1
}

# A word as a POSIX shell on the host reads it: as is when plain, else 'quoted'.
shq() {
	if [[ "$1" =~ ^[A-Za-z0-9_./:=,@+-]+$ ]]; then printf '%s' "$1"; else printf "'%s'" "${1//\'/\'\\\'\'}"; fi
}

# Sets HCMD to run the shell command $2 on host $1: an ssh-like prefix gets
# it as one string (the remote shell parses it), any other as sh -c words.
host_cmd() {
	if ((VIA_SSH)); then
		HCMD=("${VIA_WORDS[@]}" "$1" "$2")
	else
		HCMD=("${VIA_WORDS[@]}" "$1" sh -c "$2")
	fi
}

# Before anything starts: every host answers, has the client built under
# --remote-dir, and that client knows -B. Prints what is missing; 1 if any.
check_hosts() {
	local i out rc bad_n=0 d
	d=$(shq "$REMOTE_DIR")
	for i in "${!HOSTS[@]}"; do
		host_cmd "${HOSTS[i]}" "cd $d 2>/dev/null || { echo 'no directory $REMOTE_DIR'; exit 3; }
			[ -x ./$CDIR/client ] || { echo 'no $REMOTE_DIR/$CDIR/client: build it there (make $CDIR/client)'; exit 3; }
			./$CDIR/client -B -L >/dev/null 2>&1 || { echo '$REMOTE_DIR/$CDIR/client has no -B (built before the start barrier): rebuild it there'; exit 3; }
			echo ok"
		out=$(timeout 30 "${HCMD[@]}" </dev/null 2>&1)
		rc=$?
		if [[ $rc != 0 || ${out##*$'\n'} != ok ]]; then
			((rc == 124)) && out="no answer in 30 s"
			echo "$PROG: host ${HOSTS[i]}: ${out//$'\n'/; } (via: ${HCMD[*]:0:${#VIA_WORDS[@]}})" >&2
			bad_n=$((bad_n + 1))
		fi
	done
	((bad_n == 0))
}

HOST_PIDS=() GO_FDS=() HOST_CMDS=() CLIENT_LINES=()

# The clients on every host, through one start barrier; sets CLIENT_RC,
# CLIENT_WALL and $LOG/client.json (scripts/merge's line over all hosts).
run_hosts() {
	local i n=${#HOSTS[@]} share first tmo ready go_us fd f rc args inner a
	window_for "$CONNS"
	((WARMUP)) &&
		echo "measuring $DURATION s after a $WARMUP s warm-up: at $(num "$CONNS") connections one round trip on each takes seconds"
	CLIENT_LINES=()
	for i in "${!HOSTS[@]}"; do
		share=$((CONNS * (i + 1) / n - CONNS * i / n))
		args=("./$CDIR/client" -a "$ADDR" -p "${PORT_USED:-$PORT}" -n "$share" -d "$DURATION"
			-i "$INTERVAL" -B)
		((WARMUP)) && args+=(-W "$WARMUP")
		[[ -n "${HOST_SRC[i]}" ]] && args+=(-s "${HOST_SRC[i]}")
		# shellcheck disable=SC2206
		args+=($EXTRA_C)
		inner="cd $(shq "$REMOTE_DIR") && exec"
		for a in "${args[@]}"; do inner+=" $(shq "$a")"; done
		host_cmd "${HOSTS[i]}" "$inner"
		HOST_CMDS[i]=$(printf '%q ' "${HCMD[@]}")
		CLIENT_LINES+=("${VIA} ${HOSTS[i]} $( ((VIA_SSH)) && shq "$inner" || echo "sh -c $(shq "$inner")")")
		echo "client on ${HOSTS[i]}: ${CLIENT_LINES[i]}"
		((share > 28000)) && [[ -z "${HOST_SRC[i]}" ]] &&
			echo "  note: $(num "$share") connections from one source address need more ports than a default range (28,232) holds: give ${HOSTS[i]}=FIRST-LAST"
	done
	CLIENT_LINE=$(printf '%s ; ' "${CLIENT_LINES[@]}")
	CLIENT_LINE=${CLIENT_LINE% ; }
	((DRY_RUN)) && return 0
	first=$((CONNS / 200))
	((first > 600)) && first=600
	tmo=$((CONNS / 5000 + first + ${DURATION%.*} + WARMUP + 60))
	CLIENT_T0=$(date +%s%N)
	STAT0=$(head -n 1 /proc/stat)
	for i in "${!HOSTS[@]}"; do
		# The barrier: the client's stdin is a FIFO run.sh holds open.
		mkfifo "$LOG/go.$i"
		exec {fd}<>"$LOG/go.$i"
		GO_FDS+=("$fd")
		eval "HCMD=(${HOST_CMDS[i]})"
		# The subshell drops every other host's FIFO first (and its own
		# read-write one), so that closing them gives each client its EOF;
		# then it execs: $! is the client's timeout.
		(
			for f in "${GO_FDS[@]}"; do exec {f}>&-; done
			exec timeout -k 10 "$tmo" "${HCMD[@]}" <"$LOG/go.$i" >"$LOG/client.$i.json" \
				2> >(tee "$LOG/client.$i.log" | sed -u "s/^/  ${HOSTS[i]}| /" >&2)
		) &
		HOST_PIDS+=($!)
	done
	RUN_PIDS="$RUN_PIDS, \"client_pids\": [$(IFS=,; echo "${HOST_PIDS[*]}")]"
	echo "  (client pids ${HOST_PIDS[*]}; waiting until every host is connected and answered once)"
	CLIENT_RC=0
	while :; do
		ready=0
		for i in "${!HOSTS[@]}"; do
			if grep -q '^barrier: ready' "$LOG/client.$i.log" 2>/dev/null; then
				ready=$((ready + 1))
			elif ! kill -0 "${HOST_PIDS[i]}" 2>/dev/null; then
				echo "$PROG: the client on ${HOSTS[i]} ended before the start barrier: $(tail -n 1 "$LOG/client.$i.log" 2>/dev/null)" >&2
				CLIENT_RC=1
			fi
		done
		((ready == n || CLIENT_RC)) && break
		if (($(date +%s%N) - CLIENT_T0 > tmo * 1000000000)); then
			echo "$PROG: $ready of $n hosts were ready after ${tmo}s; giving up" >&2
			CLIENT_RC=124
			break
		fi
		sleep 0.05
	done
	if ((CLIENT_RC == 0)); then
		for fd in "${GO_FDS[@]}"; do echo go >&"$fd"; done
		go_us=${EPOCHREALTIME/./}
		echo "run.sh: all $n hosts ready; go"
	fi
	# Wait for every client. On the way, mark the server's window as the
	# clients' -P would (SIGUSR1 at go + W and at go + W + d). A client that
	# fails stops the others: their stdin's EOF ends their run.
	local marks=0 at=() left=$n now wait_us done_=()
	at=("$(awk -v g="${go_us:-0}" -v w="$WARMUP" 'BEGIN { printf "%.0f", g + w * 1e6 }')"
		"$(awk -v g="${go_us:-0}" -v w="$WARMUP" -v d="$DURATION" 'BEGIN { printf "%.0f", g + (w + d) * 1e6 }')")
	((CLIENT_RC)) && { for fd in "${GO_FDS[@]}"; do exec {fd}>&-; done; GO_FDS=(); marks=2; }
	while ((left)); do
		now=${EPOCHREALTIME/./}
		if ((marks < 2 && now >= at[marks])); then
			kill -USR1 "$SERVER_PID" 2>/dev/null
			marks=$((marks + 1))
		fi
		for i in "${!HOSTS[@]}"; do
			[[ -n "${done_[i]:-}" ]] && continue
			kill -0 "${HOST_PIDS[i]}" 2>/dev/null && continue
			wait "${HOST_PIDS[i]}"
			rc=$?
			done_[i]=1 left=$((left - 1))
			((rc == 0)) && continue
			echo "$PROG: the client on ${HOSTS[i]} exited $rc$( ((${#GO_FDS[@]} && left)) && echo "; stopping the others")" >&2
			((CLIENT_RC)) || CLIENT_RC=$rc
			for fd in "${GO_FDS[@]}"; do exec {fd}>&-; done
			GO_FDS=() marks=2
		done
		# Sleep 50 ms (20 forks a second), or to the next mark exactly.
		wait_us=50000
		((marks < 2 && at[marks] - now < wait_us)) && wait_us=$((at[marks] - now))
		((left && wait_us > 0)) && sleep "$((wait_us / 1000000)).$(printf %06d $((wait_us % 1000000)))"
	done
	for fd in "${GO_FDS[@]}"; do exec {fd}>&-; done
	GO_FDS=()
	HOST_PIDS=()
	STAT1=$(head -n 1 /proc/stat)
	CLIENT_WALL=$(awk -v a="$CLIENT_T0" -v b="$(date +%s%N)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
	cat "$LOG"/client.[0-9]*.log >"$LOG/client.log"
	if ! scripts/merge "$LOG"/client.[0-9]*.json >"$LOG/client.json" 2>"$LOG/merge.err"; then
		echo "$PROG: scripts/merge: $(cat "$LOG/merge.err")" >&2
		: >"$LOG/client.json"
		((CLIENT_RC)) || CLIENT_RC=1
	fi
}

# ---- cleanup: runs on exit, Ctrl-C and failure ----

SERVER_PID='' CLIENT_PID='' SAMPLER_PID='' PERF_PID='' NS='' TUNED=0
TUNE_STATE=${C1M_TUNE_STATE:-/var/tmp/c1m-tune.saved}

stop_pid() { # PID SIGNAL GRACE_S
	local pid=$1 i
	[[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
	kill -"$2" "$pid" 2>/dev/null
	for ((i = 0; i < $3 * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# Stop what the run started, put the kernel settings back, remove the
# namespace. The settings go back before the long waits, so a hard deadline
# (a second Ctrl-C, timeout -k) still finds them restored. $1 = grace in s.
# shellcheck disable=SC2120
cleanup_run() {
	local grace=${1:-30} p fd
	# A host's client stops on EOF at its stdin too (-B): over ssh, that is
	# what reaches it when the local ssh is gone.
	for fd in "${GO_FDS[@]}"; do exec {fd}>&-; done
	GO_FDS=()
	for p in "$CLIENT_PID" "${HOST_PIDS[@]}" "$SERVER_PID"; do
		[[ -n "$p" ]] && kill -TERM "$p" 2>/dev/null
	done
	if ((TUNED)) && [[ -s "$TUNE_STATE" ]]; then
		echo "restoring kernel settings:"
		scripts/tune.sh --undo | grep -v '^  ok '
	fi
	TUNED=0
	stop_pid "$CLIENT_PID" TERM "$grace"
	for p in "${HOST_PIDS[@]}"; do stop_pid "$p" TERM "$grace"; done
	HOST_PIDS=()
	stop_pid "$SERVER_PID" TERM "$grace"
	stop_pid "$SAMPLER_PID" TERM 2
	stop_pid "$PERF_PID" TERM 5
	CLIENT_PID='' SERVER_PID='' SAMPLER_PID='' PERF_PID=''
	if [[ -n "$NS" ]]; then
		ip netns del "$NS" 2>/dev/null || echo "$PROG: could not remove namespace $NS" >&2
		NS='' NSX=()
	fi
}
trap 'cleanup_run' EXIT
trap 'echo; say "interrupted; cleaning up"; cleanup_run 5; rm -rf "${LOG:-}"; exit 130' INT
trap 'cleanup_run 5; rm -rf "${LOG:-}"; exit 143' TERM

# ---- one run ----

# "ip netns exec NAME " when the run has a namespace (or will: --dry-run).
ns_prefix() {
	if [[ -n "$NS" ]]; then
		echo "ip netns exec $NS "
	elif ((NETNS)); then
		echo "ip netns exec c1m-run-$$ "
	fi
}

# Run a command in the namespace, if there is one. Background jobs use
# "${NSX[@]}" cmd instead, so that $! is the program's own PID (ip netns exec
# execs it), not a subshell's.
in_ns() { "${NSX[@]}" "$@"; }
NSX=()

tune_args() {
	TUNE_ARGS=(-n "$CONNS" -p "$PORT_RESERVE")
	[[ $KIND == threads ]] && TUNE_ARGS+=(--threads)
	((RAISE_NOFILE > 0)) && TUNE_ARGS+=(--fds "$RAISE_NOFILE")
	((NETNS)) && TUNE_ARGS+=(--netns)
}

# Apply (or check) the settings; make the namespace. 0 = go on.
prepare_kernel() {
	tune_args
	if ((DRY_RUN)); then
		scripts/tune.sh check "${TUNE_ARGS[@]}"
		((NETNS)) && { echo "  then, inside the fresh namespace:"; \
			scripts/tune.sh check --scope ns "${TUNE_ARGS[@]}" | sed -e 1d -e '/RLIMIT/d'; }
		return 0
	fi
	if ((CAN_TUNE)); then
		TUNED=1
		scripts/tune.sh apply "${TUNE_ARGS[@]}" || {
			echo "$PROG: could not apply every kernel setting (above); going on" >&2; }
	else
		scripts/tune.sh check "${TUNE_ARGS[@]}" ||
			echo "  (--no-tune or not root: nothing changed; the run may be slower than it could be)"
	fi
	if ((NETNS)); then
		NS=c1m-run-$$
		ip netns add "$NS" || { NS=''; echo "$PROG: ip netns add failed" >&2; return 1; }
		NSX=(ip netns exec "$NS")
		NS_NAME=$NS
		ip netns exec "$NS" ip link set lo up || return 1
		echo "namespace $NS:"
		ip netns exec "$NS" scripts/tune.sh apply --scope ns --no-save "${TUNE_ARGS[@]}" | sed 1d
		local eh
		eh=$(ip netns exec "$NS" cat /proc/sys/net/ipv4/tcp_ehash_entries)
		if ((eh < 0)); then
			echo "  shares this machine's TCP hash table (${eh#-} buckets)"
		else
			echo "  has a TCP hash table of its own: $eh buckets"
		fi
	fi
	return 0
}

# Start the server, wait until it listens; sets SERVER_PID and PORT_USED.
# Pinned, it runs under taskset, which execs it: $! is still the server.
start_server() {
	local i
	SERVER_CMD=()
	[[ -n "$PIN_SERVER" ]] && SERVER_CMD=(taskset -c "$PIN_SERVER")
	# shellcheck disable=SC2206
	SERVER_CMD+=("./$SDIR/server" -p "$PORT" -i "$INTERVAL" $EXTRA_S)
	[[ -n "$ADDR" ]] && SERVER_CMD+=(-a "$ADDR")
	((SERVER_N)) && SERVER_CMD+=(-n "$CONNS")
	[[ -n "$LOOPS" ]] && SERVER_CMD+=(-c "$LOOPS")
	SERVER_LINE="$(ns_prefix)${SERVER_CMD[*]}"
	echo "server: $SERVER_LINE"
	((DRY_RUN)) && return 0
	"${NSX[@]}" "${SERVER_CMD[@]}" >"$LOG/server.json" 2> >(tee "$LOG/server.log" | sed -u 's/^/  server| /' >&2) &
	SERVER_PID=$!
	RUN_PIDS="\"server_pid\": $SERVER_PID"
	echo "  (server pid $SERVER_PID)"
	for ((i = 0; i < 300; i++)); do
		PORT_USED=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$LOG/server.log" 2>/dev/null | head -n 1)
		[[ -n "$PORT_USED" ]] && return 0
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	sleep 0.2
	echo "$PROG: the server did not start listening: $(tail -n 1 "$LOG/server.log")" >&2
	return 1
}

# The measuring window at $1 connections: sets DURATION and WARMUP.
# Past 100K connections one round over all of them takes seconds (SPEC:
# mean latency ~ N / throughput, ~10 s at 1M): measure 30 s, not 10.
# The client waits for the first round (every connection answered once,
# 80-90 s at 1M here); the load still settles after it, so it also warms
# up uncounted (-W).
window_for() {
	DURATION=${DURATION_ASKED:-10} WARMUP=0
	# After the first round, 06 at 1M still drifted: with 20 s of warm-up
	# the client's and the server's window rps were 3.9% apart, with 60 s
	# 1.4% (2026-12-01). So: one second per 16,000 connections, from 50,000.
	(($1 >= 50000)) && WARMUP=$(($1 / 16000))
	(($1 > 100000)) && [[ -z "$DURATION_ASKED" ]] && DURATION=30
}

# Run the client to its end; sets CLIENT_RC and CLIENT_WALL. Pinned, the
# client runs under taskset (under timeout, so CLIENT_PID is timeout's).
run_client() {
	local tmo
	window_for "$CONNS"
	((WARMUP)) &&
		echo "measuring $DURATION s after a $WARMUP s warm-up: at $(num "$CONNS") connections one round trip on each takes seconds"
	CLIENT_CMD=()
	[[ -n "$PIN_CLIENT" ]] && CLIENT_CMD=(taskset -c "$PIN_CLIENT")
	CLIENT_CMD+=("./$CDIR/client" -p "${PORT_USED:-$PORT}" -n "$CONNS" -d "$DURATION" -i "$INTERVAL")
	[[ -n "$ADDR" ]] && CLIENT_CMD+=(-a "$ADDR")
	# The server's PID: the client marks its window on it (SIGUSR1).
	((CLIENT_P)) && CLIENT_CMD+=(-P "${SERVER_PID:-SERVER_PID}")
	((WARMUP)) && CLIENT_CMD+=(-W "$WARMUP")
	# shellcheck disable=SC2206
	CLIENT_CMD+=($EXTRA_C)
	CLIENT_LINE="$(ns_prefix)${CLIENT_CMD[*]}"
	echo "client: $CLIENT_LINE"
	((DRY_RUN)) && return 0
	# Bound the whole run: a slow ramp of 5K conn/s; the first round (every
	# connection answered once) at 200 round trips/s, as slow as 10's
	# blocking mode, up to 10 minutes; the measuring time; the drain.
	local first=$((CONNS / 200))
	((first > 600)) && first=600
	tmo=$((CONNS / 5000 + first + ${DURATION%.*} + WARMUP + 60))
	# --perf: its ramp recording is on before the client starts (perf takes
	# seconds to start; a 1K ramp is over in 0.1 s), or there is none.
	if [[ -n "$PERF_DIR" ]]; then
		scripts/perf-window.sh "$LOG/client.log" "$LOG/client.pid" "$WARMUP" "$DURATION" "$PERF_DIR" &
		PERF_PID=$!
		until [[ -e $PERF_DIR/ramp/ready ]] || ! kill -0 "$PERF_PID" 2>/dev/null; do sleep 0.1; done
	fi
	CLIENT_T0=$(date +%s%N)
	STAT0=$(head -n 1 /proc/stat)
	timeout -k 10 "$tmo" "${NSX[@]}" "${CLIENT_CMD[@]}" >"$LOG/client.json" \
		2> >(tee "$LOG/client.log" | sed -u 's/^/  client| /' >&2) &
	CLIENT_PID=$!
	echo "$CLIENT_PID" >"$LOG/client.pid"
	RUN_PIDS="$RUN_PIDS, \"client_pid\": $CLIENT_PID"
	echo "  (client pid $CLIENT_PID)"
	wait "$CLIENT_PID"
	CLIENT_RC=$?
	CLIENT_PID=''
	if [[ -n "$PERF_PID" ]]; then
		wait "$PERF_PID" || echo "$PROG: no profile: perf-window.sh failed (above)" >&2
		PERF_PID=''
	fi
	STAT1=$(head -n 1 /proc/stat)
	CLIENT_WALL=$(awk -v a="$CLIENT_T0" -v b="$(date +%s%N)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
	((CLIENT_RC == 124)) && echo "$PROG: the client ran past ${tmo}s and was stopped" >&2
}

# --perf: the window's round trips/s (the server's count when it gave one,
# else the client's) go into DIR/window/window, and scripts/perf-top makes
# DIR/window/top.txt and DIR/ramp/top.txt.
perf_top() {
	local rps
	rps=$(awk "$AWK_LIB"' { s = jget($0, "server_window_rps"); c = jget($0, "rps")
		print (s != "" && s != "null" && s + 0 > 0) ? s : c }' <<<"${SUMMARIES[-1]}")
	echo "rate $rps" >>"$PERF_DIR/window/window"
	scripts/perf-top "$PERF_DIR/window" >"$PERF_DIR/window/top.txt"
	[[ -s $PERF_DIR/ramp/window ]] && scripts/perf-top "$PERF_DIR/ramp" >"$PERF_DIR/ramp/top.txt"
	echo
	echo "profile of the window ($PERF_DIR/window/top.txt, and of the ramp in $PERF_DIR/ramp/top.txt):"
	sed -n '1,/^process *function/p' "$PERF_DIR/window/top.txt"
	awk '/^process *function/ { on = 1; next } on && n++ < 12' "$PERF_DIR/window/top.txt"
}

stop_server() {
	local i
	SERVER_RC=1
	[[ -n "$SERVER_PID" ]] || return
	kill -TERM "$SERVER_PID" 2>/dev/null
	for ((i = 0; i < 600; i++)); do
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$SERVER_PID" 2>/dev/null; then
		echo "$PROG: the server ignored SIGTERM for 60 s; killing it" >&2
		kill -KILL "$SERVER_PID"
	fi
	wait "$SERVER_PID"
	SERVER_RC=$?
	SERVER_PID=''
}

sysctl_json() { # KEY... -> "key": "value", ...
	local k first=1
	for k in "$@"; do
		((first)) || printf ', '
		first=0
		printf '"%s": "%s"' "$k" "$(in_ns cat "/proc/sys/${k//.//}" 2>/dev/null | tr -s '\t ' ' ')"
	done
}

# TIME_WAIT sockets in the run's namespace.
time_wait() {
	in_ns awk '/^TCP:/ { for (i = 2; i < NF; i += 2) if ($i == "tw") print $(i + 1) + 0 }' \
		/proc/net/sockstat 2>/dev/null || echo 0
}

# TCP counters of the run's namespace that say why a run was slow:
# accept queues overflowing, SYN cookies, memory pressure.
TCP_EXT="ListenOverflows ListenDrops SyncookiesSent TCPMemoryPressures TCPAbortOnMemory TCPTimeouts"
tcp_ext() {
	in_ns awk -v want="$TCP_EXT" '
		/^TcpExt:/ && !h { for (i = 2; i <= NF; i++) name[i] = $i; h = 1; next }
		/^TcpExt:/ { for (i = 2; i <= NF; i++) v[name[i]] = $i }
		END { n = split(want, w, " "); for (i = 1; i <= n; i++) printf "%d ", v[w[i]] }' \
		/proc/net/netstat 2>/dev/null
}

# The last line of a file if it is a JSON object, else null.
json_or_null() {
	local l
	l=$(tail -n 1 "$1" 2>/dev/null)
	if [[ "$l" == \{*\} ]]; then echo "$l"; else echo null; fi
}

# Write NN-<timestamp>.json and the CSV row; print the summary.
record() {
	local ts file base cj sj summary slab0=$1 status
	ts=$(date -u +%Y%m%d-%H%M%S)
	base="$NN-$ts"
	[[ -e "$RESULTS_DIR/$base.json" ]] && base="$base-$CONNS"
	file="$RESULTS_DIR/$base.json"
	mkdir -p "$RESULTS_DIR/logs"
	cp "$LOG/server.log" "$RESULTS_DIR/logs/$base-server.log"
	cp "$LOG/client.log" "$RESULTS_DIR/logs/$base-client.log"
	local i clients='' remote=0 hneck=''
	for i in "${!HOSTS[@]}"; do
		cp "$LOG/client.$i.log" "$RESULTS_DIR/logs/$base-client-${HOSTS[i]}.log" 2>/dev/null
		clients+="${clients:+, }$(json_or_null "$LOG/client.$i.json")"
	done
	# Clients on other machines: the bottleneck is the server, or a host
	# whose client loops were all busy (its CPU against its loops and cores).
	if ((${#HOSTS[@]})); then
		hneck=$(for i in "${!HOSTS[@]}"; do json_or_null "$LOG/client.$i.json"; done |
			awk -v me="$(hostname)" -v names="${HOSTS[*]}" "$AWK_LIB"'
			{ split(names, h, " "); pct = cpu_pct(jobj($0, "cpu_window"), jnum($0, "duration_s"))
			  l = jget($0, "loops") + 0; c = jget($0, "cpus") + 0; if (c > 0 && l > c) l = c
			  if (jget($0, "host") != me) remote = 1
			  if (pct != "null" && l > 0 && pct >= 85 * l) busy = busy (busy ? ", " : "") h[NR] }
			END { print remote + 0, (busy ? "client (" busy ")" : "") }')
		remote=${hneck%% *} hneck=${hneck#* }
	fi
	cj=$(json_or_null "$LOG/client.json")
	sj=$(json_or_null "$LOG/server.json")
	status=ok
	((CLIENT_RC == 0 && SERVER_RC == 0)) && [[ $cj != null && $sj != null ]] || status=failed

	# Peaks over the run from the sampler: slab, tcp inuse, tw, mem pages, rss.
	local peaks
	peaks=$(awk -v s0="$slab0" '
		{ if ($1 > slab) slab = $1; if ($2 > inuse) inuse = $2; tw = $3
		  if ($4 > mem) mem = $4; if ($5 > rss) rss = $5 }
		END { printf "%d %d %d %d %d", (slab ? slab : s0), inuse, tw, mem, rss }' "$LOG/samples")
	summary=$(awk -v nn="$NN" -v sdir="$SDIR" -v cdir="$CDIR" -v status="$status" \
		-v quick="$QUICK" -v netns="$NETNS" -v started="$STARTED" -v target="$CONNS" \
		-v slab0="$slab0" -v wall="${CLIENT_WALL:-0}" -v ncpu="$(nproc)" \
		-v stat0="${STAT0:-}" -v stat1="${STAT1:-}" -v rate="${RATE:-0}" -v variant="$(echo $EXTRA_S $EXTRA_C | tr -d '"\\')" \
		-v pin_s="$PIN_SERVER" -v pin_c="$PIN_CLIENT" -v pin_ns="$(cpu_count "$PIN_SERVER")" \
		-v pin_nc="$(cpu_count "$PIN_CLIENT")" -v set="$SET_ID" \
		-v hosts="${#HOSTS[@]}" -v host_list="$(IFS=,; echo "${HOSTS[*]}")" -v remote="$remote" -v hneck="$hneck" \
		"$AWK_LIB"'
	BEGIN {
		c = ARGV[1]; s = ARGV[2]; split(ARGV[3], p, " "); ARGV[1] = ARGV[2] = ARGV[3] = ""
		conns = jget(c, "conns") + 0
		rss = jget(s, "rss_kb_total"); if (rss == "") rss = jget(s, "rss_kb_peak")
		if (rss == "" || rss + 0 < p[5]) rss = p[5]
		slab_d = p[1] - slab0; if (slab_d < 0) slab_d = 0
		# The whole run (ramp, warm-up, window, close) over the client wall time.
		ccpu = jget(c, "cpu_user_s") + jget(c, "cpu_sys_s")
		scpu = jget(s, "cpu_user_s") + jget(s, "cpu_sys_s")
		cpct = wall > 0 ? 100 * ccpu / wall : 0
		spct = wall > 0 ? 100 * scpu / wall : 0
		# The measuring window only; "null" from a program that has no window.
		cwin = cpu_pct(jobj(c, "cpu_window"), jnum(c, "duration_s"))
		swin = cpu_pct(jobj(s, "cpu_window"), jnum(s, "window_s"))
		rps = jget(c, "rps")
		srps = jnum(s, "window_rps")
		agree = srps != "null" && srps + 0 > 0 ? rps / srps : "null"
		mpct = machine_busy(stat0, stat1, ncpu)
		other = mpct - cpct - spct; if (other < 0) other = 0
		sl = jget(s, "loops"); if (sl == "") sl = jget(s, "procs"); if (sl == "") sl = jget(s, "workers")
		if (cwin == "null" || swin == "null")
			neck = "unknown (no window CPU)"
		else if (remote)
			neck = swin >= 85 * (sl + 0 >= 1 && sl + 0 < ncpu ? sl : ncpu) ? "server" : \
				(hneck != "" ? hneck : "neither (waiting)")
		else
			neck = bottleneck(cwin, swin, jget(c, "loops"), sl, ncpu, rps, pin_nc, pin_ns)
		if (jnum(c, "rate_target") != "null") rate = jget(c, "rate_target")
		if (rate + 0 > 0 && rps + 0 >= 0.9 * rate)
			neck = "client rate (-r " rate ")"
		# Cores busy with other work than this run: say so, it is the limit.
		if (neck ~ /^neither/ && mpct >= 75 * ncpu && other >= 25 * ncpu)
			neck = "other processes (machine busy)"
		printf "{\"nn\": \"%s\", \"design\": \"%s\", \"server\": \"%s\", \"client\": \"%s\"", nn, sdir, sdir, cdir
		printf ", \"variant\": \"%s\", \"set\": \"%s\"", variant, set
		printf ", \"hosts\": %d, \"host_list\": \"%s\", \"window_skew_ms\": %s", \
			(hosts > 0 ? hosts : 1), host_list, jnum(c, "window_skew_ms")
		printf ", \"status\": \"%s\", \"quick\": %d, \"netns\": %d, \"started\": \"%s\"", status, quick, netns, started
		printf ", \"pin_server\": \"%s\", \"pin_client\": \"%s\"", pin_s, pin_c
		printf ", \"conns_target\": %d, \"conns\": %d, \"connect_s\": %s", target, conns, jget(c, "connect_s") + 0
		printf ", \"first_round_s\": %s", jnum(c, "first_round_s")
		printf ", \"duration_s\": %s, \"rps\": %.0f", jget(c, "duration_s") + 0, rps
		printf ", \"server_window_rps\": %s, \"rps_agreement\": %s", \
			fmt_or_null("%.0f", srps), fmt_or_null("%.4f", agree)
		printf ", \"rate_target\": %s, \"rate_achieved\": %s, \"late_sends\": %s, \"dropped\": %s", \
			jnum(c, "rate_target"), jnum(c, "rate_achieved"), jnum(c, "late_sends"), jnum(c, "dropped")
		printf ", \"p50_us\": %s, \"p99_us\": %s, \"max_us\": %s, \"mean_us\": %s", \
			jget(c, "p50") + 0, jget(c, "p99") + 0, jget(c, "max") + 0, jget(c, "mean") + 0
		printf ", \"errors\": %d, \"mismatches\": %d", jget(c, "errors"), jget(c, "mismatches")
		printf ", \"server_rss_kb\": %d, \"server_rss_b_per_conn\": %.0f", rss, conns ? rss * 1024 / conns : 0
		printf ", \"slab_delta_kb\": %d, \"kernel_b_per_conn\": %.0f", slab_d, conns ? slab_d * 1024 / conns : 0
		printf ", \"tcp_mem_b_per_conn\": %.0f", conns ? p[4] * 4096 / conns : 0
		printf ", \"server_us_per_rt\": %s, \"client_us_per_rt\": %s", \
			fmt_or_null("%.2f", jnum(s, "server_us_per_rt")), fmt_or_null("%.2f", jnum(c, "client_us_per_rt"))
		printf ", \"client_cpu_window_pct\": %s, \"server_cpu_window_pct\": %s", \
			fmt_or_null("%.0f", cwin), fmt_or_null("%.0f", swin)
		printf ", \"client_cpu_run_s\": %.2f, \"server_cpu_run_s\": %.2f", ccpu, scpu
		printf ", \"client_cpu_run_pct\": %.0f, \"server_cpu_run_pct\": %.0f", cpct, spct
		printf ", \"client_rate\": %s", rate + 0
		printf ", \"machine_cpu_pct\": %.0f, \"other_cpu_pct\": %.0f", mpct, other
		printf ", \"bottleneck\": \"%s\"}", neck
	}' "$cj" "$sj" "$peaks")
	{
		echo "{"
		echo "  \"summary\": $summary,"
		echo "  \"command\": \"$(json_str "$COMMAND")\","
		echo "  \"server_cmd\": \"$(json_str "$SERVER_LINE")\","
		echo "  \"client_cmd\": \"$(json_str "$CLIENT_LINE")\","
		echo "  \"exit\": {\"client\": $CLIENT_RC, \"server\": $SERVER_RC},"
		echo "  \"run\": {$RUN_PIDS, \"netns\": \"$NS_NAME\", \"tune_state\": \"$TUNE_STATE\"},"
		echo "  \"machine\": {\"kernel\": \"$(uname -r)\", \"cores\": $(nproc)," \
			"\"cpu\": \"$(json_str "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)")\"," \
			"\"mem_total_kb\": $(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)," \
			"\"mem_available_kb\": $MEM_AVAIL0, \"rlimit_nofile\": \"$(ulimit -Sn)/$(ulimit -Hn)\"},"
		echo "  \"sizing\": {\"conns\": $CONNS, \"asked\": ${ASKED:-null}, \"cap\": $SIZE_CAP," \
			"\"limited_by\": \"$SIZE_WHY\"},"
		echo "  \"sysctls\": {$SYSCTLS},"
		echo "  \"tcp_ext\": {$(awk -v names="$TCP_EXT" -v a="${EXT0:-}" -v b="${EXT1:-}" 'BEGIN {
			n = split(names, k, " "); split(a, x, " "); split(b, y, " ")
			for (i = 1; i <= n; i++) printf "%s\"%s\": %d", (i > 1 ? ", " : ""), k[i], y[i] - x[i] }')},"
		echo "  \"kernel\": {\"slab_kb_before\": $slab0, \"peaks\": \"$peaks\"," \
			"\"peaks_are\": \"slab_kb tcp_inuse tcp_tw_at_end tcp_mem_pages server_rss_kb\"},"
		echo "  \"client\": $cj,"
		((${#HOSTS[@]})) && echo "  \"clients\": [$clients],"
		echo "  \"server\": $sj"
		echo "}"
	} >"$file"
	csv_row "$summary" "$base.json"
	RESULT_FILE=$file
	SUMMARIES+=("$summary")
	[[ $status == ok ]]
}

json_str() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '%s' "$s"; }

CSV_COLS="started,nn,design,client,status,quick,netns,set,hosts,window_skew_ms,pin_server,pin_client,conns_target,conns,connect_s,first_round_s,duration_s,rps,server_window_rps,rps_agreement,rate_target,rate_achieved,late_sends,dropped,p50_us,p99_us,max_us,errors,mismatches,server_rss_b_per_conn,kernel_b_per_conn,server_us_per_rt,client_us_per_rt,client_cpu_window_pct,server_cpu_window_pct,client_cpu_run_pct,server_cpu_run_pct,bottleneck"
# Append the run's row to results.csv; a file with other columns (an older
# run.sh) is kept aside as results-until-<now>.csv and a new one begun.
csv_row() {
	local csv="$RESULTS_DIR/results.csv" old
	if [[ -s "$csv" && "$(head -n 1 "$csv")" != "$CSV_COLS,file" ]]; then
		old="$RESULTS_DIR/results-until-$(date -u +%Y%m%d-%H%M%S).csv"
		mv "$csv" "$old" && say "results.csv had other columns; kept as $old"
	fi
	[[ -s "$csv" ]] || echo "$CSV_COLS,file" >"$csv"
	awk -v cols="$CSV_COLS" "$AWK_LIB"'
	BEGIN {
		n = split(cols, k, ",")
		for (i = 1; i <= n; i++) {
			v = jget(ARGV[1], k[i])
			if (v == "null") v = ""
			if (v ~ /[,"]/) { gsub(/"/, "\"\"", v); v = "\"" v "\"" }
			printf "%s,", v
		}
		print ARGV[2]
	}' "$1" "$2" >>"$csv"
}

# The summary table, one row per run. CPU is over the measuring window.
print_table() {
	printf '%s\n' "$@" | awk "$AWK_LIB"'
	function dash(v) { return v == "" || v == "null" ? "-" : v }
	BEGIN {
		fmt = "%-30s %9s %8s %9s %8s %8s %8s %9s %9s %9s %9s  %s\n"
		printf fmt, "design", "conns", "connect", "rps", "p50", "p99", "max", "srv us/rt", "srv RSS", \
			"kernel", "CPU c/s", "bottleneck"
		printf fmt, "", "", "", "", "", "", "", "(window)", "per conn", "per conn", "(window)", ""
	}
	{
		d = jget($0, "design"); if (jget($0, "client") !~ /^05_/ && jget($0, "client") != d) d = d "+" substr(jget($0, "client"), 1, 2)
		if (jget($0, "hosts") + 0 > 1) d = d ", " jget($0, "hosts") " hosts"
		us = jget($0, "server_us_per_rt")
		us = us == "" || us == "null" ? "-" : sprintf(us + 0 < 100 ? "%.1f" : "%.0f", us)
		printf fmt, d, fmt_int(jget($0, "conns")), sprintf("%.1f s", jget($0, "connect_s")), \
			fmt_int(jget($0, "rps")), fmt_lat(jget($0, "p50_us")), fmt_lat(jget($0, "p99_us")), \
			fmt_lat(jget($0, "max_us")), us, fmt_bytes(jget($0, "server_rss_b_per_conn")), \
			fmt_bytes(jget($0, "kernel_b_per_conn")), \
			dash(jget($0, "client_cpu_window_pct")) "/" dash(jget($0, "server_cpu_window_pct")), \
			jget($0, "bottleneck") (jget($0, "status") == "ok" ? "" : "  FAILED")
	}'
}

# Each host's share of a --hosts run, and its window against the common one.
print_hosts() {
	local i
	for i in "${!HOSTS[@]}"; do json_or_null "$LOG/client.$i.json"; done |
		awk -v names="${HOSTS[*]}" -v merged="$(json_or_null "$LOG/client.json")" "$AWK_LIB"'
		BEGIN { split(names, h, " "); s0 = jget(merged, "window_start_us") }
		$0 == "null" { printf "  host %s: no result\n", h[NR]; next }
		{ pct = cpu_pct(jobj($0, "cpu_window"), jnum($0, "duration_s"))
		  printf "  host %-16s %9s conns %9s rps  p99 %-8s CPU %s%% (%s loops, %s cpus)  window opened %+.1f ms\n", \
			h[NR], fmt_int(jget($0, "conns")), fmt_int(jget($0, "rps")), fmt_lat(jget(jobj($0, "lat_us"), "p99")), \
			pct == "null" ? "-" : sprintf("%.0f", pct), jget($0, "loops"), jget($0, "cpus"), \
			s0 != "" ? (jget($0, "window_start_us") - s0) / 1000 : 0 }
		END { if (merged != "null") printf "  merged: window %.2f s in common, skew %s ms\n", \
			jget(merged, "duration_s"), jget(merged, "window_skew_ms") }'
}

# Every TCP packet looks its socket up in the namespace's established hash
# table, and this one's size was fixed at boot. With more sockets than
# buckets, the chains walked per packet grow: at 1M connections (2M sockets
# in 262,144 buckets) __inet_lookup_established took 6.66 us per round trip
# against 0.63 at 1K, and a fresh namespace with a table of its own ran
# 1.13-1.27x the round trips/s (2026-12-01, README "What a million
# connections cost").
# So as root, unless told --no-netns (or given --netns, or --hosts), a run
# whose sockets outnumber the buckets gets a namespace of its own.
auto_netns() {
	local buckets
	NETNS=$NETNS_ASKED
	[[ $NETNS_ASKED == auto ]] || return 0
	NETNS=0
	((CAN_TUNE && ${#HOSTS[@]} == 0)) && [[ $ADDR == "" || $ADDR == 127.* ]] || return 0
	command -v ip >/dev/null || return 0
	buckets=$(sysctl -n net.ipv4.tcp_ehash_entries 2>/dev/null) || return 0
	buckets=${buckets#-}
	((2 * CONNS > buckets)) || return 0
	NETNS=1
	echo "netns: $(num $((2 * CONNS))) sockets would share this namespace's $(num "$buckets") TCP hash buckets;"
	echo "  the run gets a network namespace with a table of its own (--no-netns: run here)"
}

# One design at one size. Returns 0 (passed), 1 (failed) or 2 (cannot fit).
run_one() {
	local slab0 rc=0
	NN=$1
	SDIR=$(server_dir "$NN") CDIR=$(client_dir "$NN")
	[[ -n "$CLIENT_NN" ]] && CDIR=$(dir_of "$CLIENT_NN")
	# Build just this pair: another design's broken build does not stop it.
	if ((BUILD && !DRY_RUN)); then
		make -s ${SAN:+SAN=$SAN} "$SDIR/server" "$CDIR/client" ||
			{ echo "$PROG: make $SDIR/server $CDIR/client failed" >&2; return 1; }
	fi
	for b in "$SDIR/server" "$CDIR/client"; do
		[[ -x "$b" ]] || { echo "$PROG: $b is not built (run make)" >&2; return 1; }
	done
	read_limits || return 1
	if [[ -n "$LOOPS" ]] && ((LOOPS > SRV_LOOPS)); then
		echo "$PROG: -c $LOOPS: $SDIR/server runs at most $SRV_LOOPS (its -L max_loops)" >&2
		return 2
	fi
	# The client's request rate: -r in -C, else its default (0 = ping-pong).
	RATE=$(sed -n 's/.*-r[ ]*\([0-9.][0-9.]*\).*/\1/p' <<<"$EXTRA_C")
	[[ -n "$RATE" ]] || RATE=$RATE_DEFAULT
	RAISE_NOFILE=0 NS_NAME=''
	echo
	size_run "$ASKED" || return 2
	if ((${#HOSTS[@]})) && ((!DRY_RUN)); then
		echo "hosts: checking ${HOSTS[*]} for $REMOTE_DIR/$CDIR/client"
		check_hosts || return 1
	fi
	PORT_RESERVE=$PORT
	((PORT_RESERVE == 0)) && PORT_RESERVE=$C1M_PORT
	auto_netns
	prepare_kernel || { cleanup_run; return 1; }
	LOG=$(mktemp -d /tmp/c1m-run.XXXXXX)
	((RAISE_NOFILE > 0)) && ulimit -Hn "$RAISE_NOFILE" && ulimit -Sn "$RAISE_NOFILE"
	STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	MEM_AVAIL0=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
	slab0=$(awk '/^Slab:/ { print $2 }' /proc/meminfo)
	tw0=$(time_wait)
	EXT0=$(tcp_ext)
	SYSCTLS=$(sysctl_json fs.file-max net.ipv4.tcp_mem net.ipv4.tcp_child_ehash_entries \
		net.ipv4.tcp_ehash_entries net.ipv4.ip_local_port_range net.ipv4.ip_local_reserved_ports \
		net.core.somaxconn net.ipv4.tcp_max_syn_backlog kernel.pid_max kernel.threads-max vm.max_map_count)
	CLIENT_RC=1 SERVER_RC=1 CLIENT_WALL=0 RUN_PIDS='"server_pid": 0' SERVER_LINE='' CLIENT_LINE=''
	if start_server; then
		if ((!DRY_RUN)); then
			"${NSX[@]}" scripts/sample.sh "$SERVER_PID" 0.5 >"$LOG/samples" &
			SAMPLER_PID=$!
		fi
		if ((${#HOSTS[@]})); then run_hosts; else run_client; fi
		((DRY_RUN)) || stop_server
	else
		stop_server
	fi
	if ((DRY_RUN)); then
		cleanup_run
		rm -rf "$LOG"
		return 0
	fi
	stop_pid "$SAMPLER_PID" TERM 2
	SAMPLER_PID=''
	touch "$LOG/samples" "$LOG/client.log" "$LOG/server.log"
	tw_left=$(($(time_wait) - tw0))
	EXT1=$(tcp_ext)
	cleanup_run
	record "$slab0" || rc=1
	echo
	print_table "${SUMMARIES[-1]}"
	[[ -n "$PERF_DIR" && -s "$PERF_DIR/window/window" ]] && perf_top
	((${#HOSTS[@]})) && print_hosts
	echo "result: $RESULT_FILE"
	local ext
	ext=$(awk -v names="$TCP_EXT" -v a="${EXT0:-}" -v b="${EXT1:-}" 'BEGIN {
		n = split(names, k, " "); split(a, x, " "); split(b, y, " ")
		for (i = 1; i <= n; i++) if (y[i] - x[i] > 0) printf " %s %d", k[i], y[i] - x[i] }')
	[[ -n "$ext" ]] && echo "note: TCP counters during the run:$ext"
	((tw_left > 1000)) && echo "note: this run left $(num "$tw_left") more TIME_WAIT sockets (they expire in 60 s)"
	if ((rc)); then
		echo "$PROG: $NN FAILED: client exit $CLIENT_RC, server exit $SERVER_RC; logs in $RESULTS_DIR/logs/" >&2
		tail -n 3 "$LOG/client.log" "$LOG/server.log" >&2
	fi
	rm -rf "$LOG"
	return $rc
}

# ---- compare: every design like for like ----

COMMON_CONNS=10000		# the count every design runs at, unless one holds less
SCALE_DESIGNS="03 06 07 08 14"	# the designs the scaling chart follows (issue 10)
SCALE_CONNS="1000 100000 1000000"	# their counts, each only up to the design's cap

# Design $1's cap, as sizing finds it (quietly): sets CAP and CAP_WHY.
cap_of() {
	local b
	NN=$1
	SDIR=$(server_dir "$NN") CDIR=$(client_dir "$NN")
	for b in "$SDIR/server" "$CDIR/client"; do
		[[ -x "$b" ]] || { echo "$PROG: $b is not built (run make)" >&2; return 1; }
	done
	read_limits && size_run '' >/dev/null || return 1
	CAP=$SIZE_CAP CAP_WHY=$SIZE_WHY
}

# "1000 100000" -> "1,000, 100,000"
num_list() {
	local n list=''
	for n in "$@"; do list+="${list:+, }$(num "$n")"; done
	echo "$list"
}

# Seconds a run at $1 connections takes, roughly: start and stop, a ramp
# and a close at ~40K connections/s each, a first round at ~50K round
# trips/s (the slow designs take longer), the warm-up and the window.
run_estimate() {
	window_for "$1"
	echo $((5 + 2 * $1 / 40000 + $1 / 50000 + WARMUP + ${DURATION%.*}))
}

# ./run.sh compare: plan (every design at one count, then the designs that
# scale at theirs), print the plan, run it, print the table. Every run
# records the same SET_ID. Returns 1 when a run failed or was refused.
compare_main() {
	local nn d c n total=0 i=0 common=$COMMON_CONNS why designs=() ok=() runs=() bad_runs=()
	local -A cap capwhy counts
	SET_ID="compare-$(date -u +%Y%m%dT%H%M%SZ)"
	read -ra designs <<<"$(valid_designs)"
	((${#designs[@]})) || { say "no design has both a server and a client yet"; return 1; }
	for nn in "${designs[@]}"; do
		if ((BUILD && !DRY_RUN)); then
			make -s ${SAN:+SAN=$SAN} "$(server_dir "$nn")/server" "$(client_dir "$nn")/client" ||
				{ bad_runs+=("$nn: make failed"); continue; }
		fi
		cap_of "$nn" || { bad_runs+=("$nn: cannot size it"); continue; }
		cap[$nn]=$CAP capwhy[$nn]=$CAP_WHY
		ok+=("$nn")
		if ((CAP < common)); then
			common=$CAP why="$(dir_of "$nn") holds at most $(num "$CAP") here, limited by $CAP_WHY"
		fi
	done
	BUILD=0	# built above
	for nn in "${ok[@]}"; do
		runs+=("$nn:$common") counts[$nn]=" $common "
	done
	for nn in $SCALE_DESIGNS; do
		[[ -n "${cap[$nn]:-}" ]] || continue
		for n in $SCALE_CONNS; do
			c=$((n < cap[$nn] ? n : cap[$nn]))
			[[ ${counts[$nn]} == *" $c "* ]] && continue
			runs+=("$nn:$c") counts[$nn]+="$c "
		done
	done
	for d in "${runs[@]}"; do total=$((total + $(run_estimate "${d#*:}"))); done

	echo "compare $SET_ID: ${#runs[@]} runs, about $(((total + 59) / 60)) min"
	if ((common < COMMON_CONNS)); then
		echo "  every design at $(num "$common") connections, not $(num $COMMON_CONNS): $why"
	else
		echo "  every design at $(num "$common") connections (all of them hold that here)"
	fi
	# shellcheck disable=SC2086
	echo "  then ${SCALE_DESIGNS// /, } at $(num_list $SCALE_CONNS), each only up to its cap:"
	for nn in "${ok[@]}"; do
		# shellcheck disable=SC2046
		printf '  %-24s %-36s (cap %s: %s)\n' "$(dir_of "$nn")" \
			"$(num_list $(tr ' ' '\n' <<<"${counts[$nn]}" | sort -n))" "$(num "${cap[$nn]}")" "${capwhy[$nn]}"
	done
	for d in "${bad_runs[@]}"; do echo "  not run: $d"; done

	for d in "${runs[@]}"; do
		i=$((i + 1)) nn=${d%%:*} ASKED=${d#*:}
		echo
		echo "compare: $i/${#runs[@]} $(dir_of "$nn") at $(num "$ASKED") connections (set $SET_ID)"
		run_one "$nn"
		case $? in
		0) ;;
		2) bad_runs+=("$nn at $(num "$ASKED"): refused") ;;
		*) bad_runs+=("$nn at $(num "$ASKED"): failed") ;;
		esac
	done
	if ((${#SUMMARIES[@]})); then
		echo
		echo "compare $SET_ID:"
		print_table "${SUMMARIES[@]}"
		echo "scripts/report regenerates the README table and $RESULTS_DIR/summary.svg"
	fi
	((${#bad_runs[@]} == 0)) && return 0
	echo "$PROG: compare: ${#bad_runs[@]} of ${#runs[@]} runs did not pass:" >&2
	printf '  %s\n' "${bad_runs[@]}" >&2
	return 1
}

# ---- arguments ----

C1M_PORT=8972
TARGETS=() ASKED_LIST='' DURATION='' LOOPS='' PORT=$C1M_PORT INTERVAL='' EXTRA_S='' EXTRA_C=''
CLIENT_NN='' PERF_DIR='' QUICK=0 NETNS=0 NETNS_ASKED=auto NO_TUNE=0 DRY_RUN=0 BUILD=1 PIN_ARG='' PIN_SERVER='' PIN_CLIENT='' SET_ID=''
ADDR='' HOSTS_ARG='' VIA='ssh -o BatchMode=yes' REMOTE_DIR=$PWD
PER_DESIGN=''	# the options compare refuses: it runs each design as it comes
COMMAND=./run.sh
for a in "$@"; do COMMAND+=" $(shq "$a")"; done	# as typed, quotes and all
want() { [[ $# -ge 2 && -n "$2" ]] || bad "$1 needs a value"; }
while (($#)); do
	case $1 in -n | -c | -S | -C | --client | --quick | --hosts) PER_DESIGN+=" $1" ;; esac
	case $1 in
	-h | --help) usage; exit 0 ;;
	-n) want "$@"; [[ "$2" =~ ^[0-9]+(,[0-9]+)*$ ]] || bad "-n: want a count or a list like 5000,1000, not '$2'"
		ASKED_LIST=$2; shift ;;
	-d) want "$@"; [[ "$2" =~ ^[0-9]+(\.[0-9]+)?$ && "$2" != 0 ]] || bad "-d: want seconds > 0, not '$2'"
		DURATION=$2; shift ;;
	-c) want "$@"; [[ "$2" =~ ^[1-9][0-9]*$ ]] || bad "-c: want a number >= 1, not '$2'"
		LOOPS=$2; shift ;;
	-p) want "$@"; [[ "$2" =~ ^[0-9]+$ ]] && (($2 <= 65535)) || bad "-p: want a port in 0..65535, not '$2'"
		PORT=$2; shift ;;
	-i) want "$@"; [[ "$2" =~ ^[0-9]+(\.[0-9]+)?$ ]] || bad "-i: want seconds, not '$2'"
		INTERVAL=$2; shift ;;
	-S) want "$@"; EXTRA_S=$2; shift ;;
	-C) want "$@"; EXTRA_C=$2; shift ;;
	--client) want "$@"; [[ "$2" =~ ^[0-9]{1,2}$ ]] || bad "--client: want a design number, not '$2'"
		CLIENT_NN=$(printf %02d $((10#$2))); shift ;;
	--quick) QUICK=1 ;;
	# --pin takes a value only when the next word is a CPU list, not a design.
	--pin) PIN_ARG=auto
		[[ $# -ge 2 && ("$2" == *:* || ("$2" =~ ^[0-9,-]+$ && "$2" =~ [,-])) ]] && { PIN_ARG=$2; shift; } ;;
	--pin=*) PIN_ARG=${1#--pin=} ;;
	compare) TARGETS+=(compare) ;;
	--netns) NETNS=1 NETNS_ASKED=1 ;;
	--no-netns) NETNS=0 NETNS_ASKED=0 ;;
	-a) want "$@"; [[ "$2" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || bad "-a: want an IPv4 address, not '$2'"
		ADDR=$2; shift ;;
	--hosts) want "$@"; HOSTS_ARG=$2; shift ;;
	--via) want "$@"; VIA=$2; shift ;;
	--remote-dir) want "$@"; [[ "$2" == /* ]] || bad "--remote-dir: want an absolute path, not '$2'"
		REMOTE_DIR=$2; shift ;;
	--perf) want "$@"; PERF_DIR=$2; shift ;;
	--no-tune) NO_TUNE=1 ;;
	--dry-run) DRY_RUN=1 ;;
	--no-build) BUILD=0 ;;
	all) TARGETS+=(all) ;;
	[0-9] | [0-9][0-9]) TARGETS+=("$(printf %02d $((10#$1)))") ;;
	-*) bad "unknown option $1" ;;
	*) bad "'$1' is not a design number (or all)" ;;
	esac
	shift
done
((${#TARGETS[@]} == 1)) || bad "say which design: one number, or all"
[[ ${TARGETS[0]} == compare && -n "$PER_DESIGN" ]] &&
	bad "compare runs every design as it comes, at the counts it plans:$PER_DESIGN is not for compare"
for n in ${ASKED_LIST//,/ }; do
	((n >= 1 && n <= 100000000)) || bad "-n: $n is not in 1..100000000"
done
((QUICK)) && { DURATION=${DURATION:-2}; INTERVAL=${INTERVAL:-1}; }
DURATION_ASKED=$DURATION INTERVAL=${INTERVAL:-5}

[[ -n "$PIN_ARG" ]] && set_pins "$PIN_ARG"
[[ -n "$HOSTS_ARG" ]] && parse_hosts "$HOSTS_ARG"
if [[ -n "$PERF_DIR" ]]; then
	[[ ${TARGETS[0]} == compare || ${TARGETS[0]} == all || $ASKED_LIST == *,* || -n "$HOSTS_ARG" ]] &&
		bad "--perf profiles one run here: not with compare, all, an -n list or --hosts"
	command -v perf >/dev/null || bad "--perf needs perf (Debian: apt-get install linux-perf)"
fi

valid=$(valid_designs)
if [[ ${TARGETS[0]} == compare ]]; then
	DESIGNS=()
elif [[ ${TARGETS[0]} == all ]]; then
	read -ra DESIGNS <<<"$valid"
	((${#DESIGNS[@]})) || { say "no design has both a server and a client yet"; exit 1; }
else
	DESIGNS=("${TARGETS[0]}")
	[[ " $valid " == *" ${TARGETS[0]} "* ]] ||
		bad "no design ${TARGETS[0]} here; valid: ${valid:-none yet}"
fi
if [[ -n "$CLIENT_NN" ]]; then
	d=$(dir_of "$CLIENT_NN")
	[[ -n "$d" && -f "$d/client.c" ]] || bad "--client $CLIENT_NN: no client there"
fi
CAN_TUNE=0
((EUID == 0 && !NO_TUNE)) && CAN_TUNE=1
if ((NETNS)); then
	((EUID == 0)) || bad "--netns needs root (ip netns add)"
	command -v ip >/dev/null || bad "--netns needs the ip command (iproute2)"
	((NO_TUNE)) && say "--netns with --no-tune: the namespace shares this one's TCP hash table"
fi

((DRY_RUN)) || mkdir -p "$RESULTS_DIR" || exit 1
if [[ -s "$TUNE_STATE" ]] && ((CAN_TUNE && !DRY_RUN)); then
	say "an earlier run left kernel settings changed; they are put back when this one ends:"
	sed 's/^/  was /' "$TUNE_STATE"
	TUNED=1
fi

SUMMARIES=()
[[ ${TARGETS[0]} == compare ]] && { compare_main; exit $?; }
failed=0 refused=0
for NN in "${DESIGNS[@]}"; do
	for ASKED in ${ASKED_LIST//,/ } ''; do
		[[ -z "$ASKED" && -n "$ASKED_LIST" ]] && break
		run_one "$NN"
		case $? in
		0) ;;
		2) refused=$((refused + 1)) ;;
		*) failed=$((failed + 1)) ;;
		esac
		[[ -z "$ASKED_LIST" ]] && break
	done
done
if ((${#SUMMARIES[@]} > 1)); then
	echo
	echo "all runs:"
	print_table "${SUMMARIES[@]}"
fi
((refused)) && exit 2
((DRY_RUN)) && { ((failed)) && exit 1; exit 0; }
((${#SUMMARIES[@]})) && echo "scripts/report regenerates the README table and $RESULTS_DIR/summary.svg"
((failed)) && exit 1
exit 0
