#!/usr/bin/env bash
# scripts/tune.sh - check, apply and undo the kernel settings a c1m run needs.
#
#   scripts/tune.sh check [OPTIONS]   print each setting: current -> needed (exit 1 if short)
#   scripts/tune.sh apply [OPTIONS]   as root: save the old value, then set it; exit 1 if
#                                     something short could not be set (not root)
#   scripts/tune.sh --undo            put back every saved value, then forget them
#   scripts/tune.sh show              every setting this script knows, as key=value
#
# OPTIONS
#   -n CONNS      connections the run holds (both ends on this machine)
#   -p PORT       the server port to reserve when the ephemeral range is widened
#   --threads     a thread-per-connection design: pid_max, threads-max, max_map_count
#   --netns       the run goes into a fresh network namespace: raise
#                 tcp_child_ehash_entries so the namespace gets its own big TCP hash
#                 table, and leave the per-namespace settings to `--scope ns` inside it
#   --scope S     host (settings of this namespace and the machine), ns (only the
#                 per-namespace net.* ones), or all (default; host with --netns)
#   --no-save     do not record old values (inside a namespace that is thrown away)
#
# Nothing is changed silently: every change is printed as "set key: old -> new".
# Old values go to $C1M_TUNE_STATE (default /var/tmp/c1m-tune.saved) the first
# time a key is changed, so --undo restores what the machine had before any
# c1m run, even after several applies. C1M_SYSCTL_ROOT (default /proc/sys)
# and C1M_TUNE_NOROOT=1 exist for the tests.
set -u
ROOT=${C1M_SYSCTL_ROOT:-/proc/sys}
STATE=${C1M_TUNE_STATE:-/var/tmp/c1m-tune.saved}
PROG=scripts/tune.sh

# The settings, in the order they are applied (--undo goes backwards): the
# server port is reserved before the ephemeral range grows over it.
HOST_KEYS="fs.file-max fs.nr_open kernel.pid_max kernel.threads-max vm.max_map_count
net.ipv4.tcp_mem net.ipv4.tcp_child_ehash_entries"
NS_KEYS="net.ipv4.ip_local_reserved_ports net.ipv4.ip_local_port_range
net.core.somaxconn net.ipv4.tcp_max_syn_backlog"

usage() {
	sed -n '2,/^set -u/p' "$0" | sed -e '/^set -u/d' -e 's/^# \{0,1\}//'
}
die2() {
	echo "$PROG: $*" >&2
	echo "usage: $PROG check|apply|show [-n CONNS] [-p PORT] [--threads] [--netns]" \
		"[--scope host|ns|all] [--no-save] | --undo" >&2
	exit 2
}

path_of() { echo "$ROOT/${1//.//}"; }
# The current value with whitespace squeezed ("32768 60999"); empty if absent.
get() {
	local p
	p=$(path_of "$1")
	[[ -r "$p" ]] || return 1
	tr -s '\t ' '  ' <"$p" | sed -e 's/^ //' -e 's/ $//'
}
is_root() { [[ "${C1M_TUNE_NOROOT:-0}" != 1 && $EUID -eq 0 ]]; }
put() {
	local p
	p=$(path_of "$1")
	printf '%s\n' "$2" 2>/dev/null >"$p"
}

# ---- what a run of CONNS connections needs ----

pow2_at_least() {
	local v=128
	while ((v < $1)); do v=$((v * 2)); done
	echo $v
}

# need KEY: sets NEED to the value the run wants (empty: no requirement)
# and WHY to one line saying why.
need() {
	local n=$CONNS
	NEED='' WHY=''
	case $1 in
	fs.file-max)
		WHY="open files machine-wide: 2 per connection (both ends) + 65536 spare"
		NEED=$((2 * n + 65536)) ;;
	fs.nr_open)
		# Only a raisable hard RLIMIT_NOFILE is bounded by nr_open; where the
		# hard limit is fixed (containers) the programs use private fd tables.
		((FDS_PER_TABLE > 0)) || return 0
		WHY="largest RLIMIT_NOFILE one fd table may be given"
		NEED=$FDS_PER_TABLE ;;
	kernel.pid_max | kernel.threads-max)
		((THREADS)) || return 0
		WHY="one thread per connection, + 4096 for everything else"
		NEED=$((n + 4096))
		((NEED > 4194304)) && NEED=4194304 ;;
	vm.max_map_count)
		((THREADS)) || return 0
		WHY="each thread stack is 2 mappings (stack + guard page)"
		NEED=$((2 * n + 4096)) ;;
	net.ipv4.tcp_mem)
		# Pages. 1M connections ran without memory pressure at 4M/6M/8M
		# pages (~8.3-9.5 KB of kernel memory per connection, both ends:
		# docs/ten-million.md).
		((n > 10000)) || return 0
		WHY="pages of TCP memory before pressure (costs ~12%): 4/6/8 per connection"
		NEED="$(((n * 4194304 + 999999) / 1000000)) $(((n * 6291456 + 999999) / 1000000))"
		NEED="$NEED $(((n * 8388608 + 999999) / 1000000))" ;;
	net.ipv4.tcp_child_ehash_entries)
		((NETNS)) || return 0
		local host
		host=$(get net.ipv4.tcp_ehash_entries 2>/dev/null || echo 0)
		host=${host#-}
		# 0 = a new namespace shares this one's table: fine if that is big enough.
		if [[ "$(get "$1" 2>/dev/null)" == 0 ]] && ((host >= 2 * n)); then
			return 0
		fi
		WHY="TCP hash buckets of namespaces made from now on, one per socket (1.13-1.27x the round trips/s at 1M here)"
		NEED=$(pow2_at_least $((2 * n))) ;;
	net.ipv4.ip_local_reserved_ports)
		((n > 20000 && PORT > 0)) || return 0
		WHY="keeps client sockets off the server port inside the widened range"
		NEED=$PORT ;;
	net.ipv4.ip_local_port_range)
		((n > 20000)) || return 0
		WHY="ephemeral ports per source address: a wide range keeps connect() fast at scale"
		NEED="1024 65535" ;;
	net.core.somaxconn | net.ipv4.tcp_max_syn_backlog)
		NEED=$n
		((NEED > 65535)) && NEED=65535
		WHY="accept and SYN queues for a fast ramp" ;;
	esac
	return 0
}

# ok KEY CUR NEED -> 0 if CUR already satisfies NEED.
ok() {
	local key=$1 cur=$2 want=$3 c w
	read -ra c <<<"$cur"
	read -ra w <<<"$want"
	case $key in
	net.ipv4.tcp_mem)
		((c[0] >= w[0] && c[1] >= w[1] && c[2] >= w[2])) ;;
	net.ipv4.ip_local_port_range)
		((c[0] <= w[0] && c[1] >= w[1])) ;;
	net.ipv4.ip_local_reserved_ports)
		port_in_list "$want" "$cur" ;;
	*)
		((cur >= want)) ;;
	esac
}

port_in_list() { # PORT "a,b-c,..."
	local p=$1 item
	local IFS=,
	for item in $2; do
		item=${item// /}
		[[ -z "$item" ]] && continue
		if [[ "$item" == *-* ]]; then
			((p >= ${item%-*} && p <= ${item#*-})) && return 0
		else
			((p == item)) && return 0
		fi
	done
	return 1
}

# The value to write: never lower anything, only add to it.
target() {
	local key=$1 cur=$2 want=$3 c w
	case $key in
	net.ipv4.tcp_mem)
		read -ra c <<<"$cur"
		read -ra w <<<"$want"
		echo "$((c[0] > w[0] ? c[0] : w[0])) $((c[1] > w[1] ? c[1] : w[1]))" \
			"$((c[2] > w[2] ? c[2] : w[2]))" ;;
	net.ipv4.ip_local_reserved_ports)
		if [[ -z "$cur" ]]; then echo "$want"; else echo "$cur,$want"; fi ;;
	*)
		echo "$want" ;;
	esac
}

saved() { [[ -f "$STATE" ]] && grep -q "^$1	" "$STATE"; }

keys_in_scope() {
	case $SCOPE in
	host) echo "$HOST_KEYS" ;;
	ns) echo "$NS_KEYS" ;;
	all) echo "$HOST_KEYS $NS_KEYS" ;;
	esac
}

# ---- the commands ----

# check / apply: one line per setting with a requirement.
run() {
	local apply=$1 key cur want new short=0 failed=0 label
	label=$(printf '%s connections' "$CONNS")
	((THREADS)) && label="$label, one thread each"
	((NETNS)) && [[ $SCOPE != ns ]] && label="$label, in a fresh network namespace"
	[[ $SCOPE == ns ]] && label="$label (this namespace's own settings)"
	echo "kernel settings for $label:"
	for key in $(keys_in_scope); do
		need "$key"
		want=$NEED why=$WHY
		[[ -n "$want" ]] || continue
		if ! cur=$(get "$key"); then
			printf '  %-34s (not on this kernel or in this namespace: skipped)\n' "$key"
			continue
		fi
		if ok "$key" "$cur" "$want"; then
			printf '  ok   %-34s %s\n' "$key" "${cur:-\"\"}"
			continue
		fi
		new=$(target "$key" "$cur" "$want")
		short=1
		if ((!apply)); then
			printf '  need %-34s %s -> %s  (%s)\n' "$key" "${cur:-\"\"}" "$new" "$why"
		elif ! is_root; then
			printf '  need %-34s %s -> %s  (%s; needs root)\n' "$key" "${cur:-\"\"}" "$new" "$why"
			failed=1
		else
			if ((SAVE)) && ! saved "$key"; then
				printf '%s\t%s\n' "$key" "$cur" >>"$STATE" ||
					{ echo "$PROG: cannot record $key in $STATE; not changing it" >&2; failed=1; continue; }
			fi
			if put "$key" "$new" && ok "$key" "$(get "$key")" "$want"; then
				printf '  set  %-34s %s -> %s  (%s)\n' "$key" "${cur:-\"\"}" "$new" "$why"
			else
				printf '  FAIL %-34s %s -> %s: the kernel refused it\n' "$key" "${cur:-\"\"}" "$new"
				failed=1
			fi
		fi
	done
	rlimit_line
	if ((apply && failed)); then
		is_root || echo "  (not root: nothing was changed; the run is sized to what this machine allows now)"
		return 1
	fi
	((apply)) || ((!short))
}

# RLIMIT_NOFILE is per process tree, not a sysctl: report it, run.sh raises it.
rlimit_line() {
	[[ $SCOPE == ns ]] && return 0
	local soft hard
	soft=$(ulimit -Sn)
	hard=$(ulimit -Hn)
	if ((FDS_PER_TABLE > 0)) && [[ $hard != unlimited ]] && ((FDS_PER_TABLE > hard)); then
		if (ulimit -Hn "$FDS_PER_TABLE") 2>/dev/null; then
			printf '  note %-34s soft %s hard %s -> %s for this run (run.sh raises it)\n' \
				RLIMIT_NOFILE "$soft" "$hard" "$FDS_PER_TABLE"
		else
			printf '  note %-34s soft %s hard %s: cannot be raised here; programs with\n' \
				RLIMIT_NOFILE "$soft" "$hard"
			printf '       %-34s private fd tables hold %s each, one-table designs stop there\n' "" "$hard"
		fi
	else
		printf '  ok   %-34s soft %s hard %s\n' RLIMIT_NOFILE "$soft" "$hard"
	fi
}

undo() {
	local lines key val cur i
	if [[ ! -s "$STATE" ]]; then
		echo "$PROG: nothing to undo (no saved settings in $STATE)"
		rm -f "$STATE"
		return 0
	fi
	is_root || { echo "$PROG: --undo needs root (settings saved in $STATE)" >&2; return 1; }
	mapfile -t lines <"$STATE"
	local failed=0
	for ((i = ${#lines[@]} - 1; i >= 0; i--)); do
		key=${lines[i]%%	*}
		val=${lines[i]#*	}
		cur=$(get "$key") || cur=
		if [[ "$cur" == "$val" ]]; then
			printf '  ok   %-34s %s\n' "$key" "${val:-\"\"}"
		elif put "$key" "$val" && [[ "$(get "$key")" == "$val" ]]; then
			printf '  undo %-34s %s -> %s\n' "$key" "${cur:-\"\"}" "${val:-\"\"}"
		else
			printf '  FAIL %-34s could not restore %s (now %s)\n' "$key" "${val:-\"\"}" "$cur"
			failed=1
		fi
	done
	if ((failed)); then
		echo "$PROG: some settings were not restored; $STATE kept" >&2
		return 1
	fi
	rm -f "$STATE"
}

show() {
	local key v
	for key in $(keys_in_scope); do
		v=$(get "$key") || v="(absent)"
		echo "$key=$v"
	done
}

# ---- arguments ----

CMD='' CONNS=0 PORT=8972 THREADS=0 NETNS=0 SCOPE='' SAVE=1 FDS_PER_TABLE=0
while (($#)); do
	case $1 in
	check | apply | show) [[ -z "$CMD" ]] || die2 "one command only"; CMD=$1 ;;
	--undo | undo) CMD=undo ;;
	-n)
		[[ "${2:-}" =~ ^[0-9]+$ && $2 -ge 1 && $2 -le 100000000 ]] ||
			die2 "-n: want a number of connections in 1..100000000, not '${2:-}'"
		CONNS=$2; shift ;;
	-p)
		[[ "${2:-}" =~ ^[0-9]+$ && $2 -le 65535 ]] || die2 "-p: want a port in 0..65535, not '${2:-}'"
		PORT=$2; shift ;;
	--fds)
		[[ "${2:-}" =~ ^[0-9]+$ ]] || die2 "--fds: want a number, not '${2:-}'"
		FDS_PER_TABLE=$2; shift ;;
	--threads) THREADS=1 ;;
	--netns) NETNS=1 ;;
	--no-save) SAVE=0 ;;
	--scope)
		[[ "${2:-}" =~ ^(host|ns|all)$ ]] || die2 "--scope: want host, ns or all, not '${2:-}'"
		SCOPE=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	*) die2 "unknown argument '$1'" ;;
	esac
	shift
done
[[ -n "$CMD" ]] || die2 "say check, apply, show or --undo"
[[ -d "$ROOT" ]] || { echo "$PROG: $ROOT: no such directory" >&2; exit 1; }
if [[ -z "$SCOPE" ]]; then
	if ((NETNS)); then SCOPE=host; else SCOPE=all; fi
fi
# With --netns the host keeps its own net.* settings; only the namespace
# gets them (run.sh calls `--scope ns` inside it).
((NETNS)) && [[ $SCOPE == all ]] && SCOPE=host

case $CMD in
check) run 0 ;;
apply) run 1 ;;
undo) undo ;;
show) show ;;
esac
