#!/usr/bin/env bash
# scripts/netns-lab.sh - several "hosts" on this machine, for run.sh --hosts:
# a server namespace and N client namespaces on one bridge, all addresses
# from 198.18.0.0/15 (RFC 2544's benchmarking range), with no route out.
#
#   scripts/netns-lab.sh up N [-a ADDRS] [--name NAME]   make them (root)
#   scripts/netns-lab.sh down [--name NAME]              remove them (and anything left in them)
#   scripts/netns-lab.sh show [--name NAME]              the namespaces and their addresses
#
#   N         client namespaces, 1..200
#   -a ADDRS  source addresses per client namespace (default 1; 1..250): a client
#             holds ~2,000 connections per address at full connect speed
#   --name    the namespaces' prefix (default c1m-lab): NAME-srv, NAME-1 ... NAME-N
#
# The layout: NAME-srv holds a bridge br0 with 198.18.0.1/15, the server's
# address. Client namespace i has eth0 with 198.18.i.1 ... 198.18.i.ADDRS
# (/15), its veth peer on br0. Nothing else: no default route, no link to
# this namespace, so no packet can leave them. `up` prints the run.sh
# command that uses them:
#
#   ip netns exec NAME-srv ./run.sh 06 -a 198.18.0.1 --via 'ip netns exec' \
#       --hosts NAME-1=198.18.1.1-198.18.1.ADDRS,NAME-2=...
#
# run.sh runs inside NAME-srv (the server, its sampler, its tune.sh), and
# reaches each client namespace with `ip netns exec`. `up` on a name in use
# fails; `down` removes what exists and says what it removed. Exit 2 on bad
# usage, 1 when a step fails (after removing what `up` made).
set -u
PROG=scripts/netns-lab.sh
NAME=c1m-lab ADDRS=1 N=''

usage() { sed -n '2,/^set -u/p' "$0" | sed -e '/^set -u/d' -e 's/^# \{0,1\}//'; }
bad() {
	echo "$PROG: $*" >&2
	echo "usage: $PROG up N [-a ADDRS] [--name NAME] | down [--name NAME] | show [--name NAME]" >&2
	exit 2
}

# The lab's namespaces that exist now.
lab_namespaces() {
	ip netns list 2>/dev/null | awk '{ print $1 }' | grep -E "^$NAME-(srv|[0-9]+)$" | sort -V
}

down() {
	local ns pid removed=()
	for ns in $(lab_namespaces); do
		# Whatever still runs in it (a run killed hard) goes with it.
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
		ip netns del "$ns" && removed+=("$ns")
	done
	((${#removed[@]})) && echo "removed: ${removed[*]}" || echo "no $NAME namespaces"
	[[ -z "$(lab_namespaces)" ]]
}

up() {
	local srv=$NAME-srv i a ns
	[[ -n "$(lab_namespaces)" ]] && { echo "$PROG: $NAME namespaces exist already ($(lab_namespaces | tr '\n' ' ')); $PROG down --name $NAME first" >&2; exit 1; }
	trap 'echo "$PROG: a step failed; removing what was made" >&2; down >/dev/null; exit 1' ERR
	set -E
	ip netns add "$srv"
	ip -n "$srv" link set lo up
	ip -n "$srv" link add br0 type bridge
	ip -n "$srv" addr add 198.18.0.1/15 dev br0
	ip -n "$srv" link set br0 up
	for ((i = 1; i <= N; i++)); do
		ns=$NAME-$i
		ip netns add "$ns"
		ip -n "$ns" link set lo up
		ip -n "$ns" link add eth0 type veth peer name "v$i" netns "$srv"
		ip -n "$srv" link set "v$i" master br0 up
		# Source addresses: the bridge keeps them on one segment, ARP does the rest.
		for ((a = 1; a <= ADDRS; a++)); do
			ip -n "$ns" addr add "198.18.$i.$a/15" dev eth0
		done
		ip -n "$ns" link set eth0 up
	done
	trap - ERR
	# (A bridge without STP, the default, forwards at once.)
	echo "made $srv (server 198.18.0.1) and $N client namespaces, $ADDRS source address(es) each"
	local hosts=''
	for ((i = 1; i <= N; i++)); do
		hosts+="${hosts:+,}$NAME-$i=198.18.$i.1$( ((ADDRS > 1)) && echo "-198.18.$i.$ADDRS")"
	done
	echo "run: ip netns exec $srv ./run.sh 06 -a 198.18.0.1 --via 'ip netns exec' --hosts $hosts"
	echo "then: $PROG down$([[ $NAME != c1m-lab ]] && echo " --name $NAME")"
}

show() {
	local ns
	for ns in $(lab_namespaces); do
		printf '%-16s %s\n' "$ns" "$(ip -n "$ns" -4 -o addr show | awk '$2 != "lo" { printf "%s ", $4 }')"
	done
}

(($#)) || bad "say up, down or show"
CMD=$1
shift
case $CMD in
up)
	(($#)) && [[ $1 =~ ^[0-9]+$ ]] || bad "up: say how many client namespaces, e.g. up 2"
	N=$((10#$1)); shift
	((N >= 1 && N <= 200)) || bad "up: $N client namespaces: want 1..200"
	;;
down | show) ;;
-h | --help) usage; exit 0 ;;
*) bad "unknown command '$CMD'" ;;
esac
while (($#)); do
	case $1 in
	-a) [[ $CMD == up && $# -ge 2 && $2 =~ ^[0-9]+$ ]] && (($2 >= 1 && $2 <= 250)) ||
		bad "-a: want 1..250 source addresses per namespace (with up)"
		ADDRS=$2; shift ;;
	--name) [[ $# -ge 2 && $2 =~ ^[a-z0-9][a-z0-9-]{0,19}$ ]] || bad "--name: want a short name of a-z, 0-9 and -"
		NAME=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	*) bad "unknown option $1" ;;
	esac
	shift
done
((EUID == 0)) || { [[ $CMD == show ]] || bad "$CMD needs root (ip netns)"; }
command -v ip >/dev/null || { echo "$PROG: needs the ip command (iproute2)" >&2; exit 1; }
$CMD
