#!/usr/bin/env bash
# tests/install-deps.sh - install, from Debian's packages, what an optional
# test case needs and this machine lacks (.ci/run runs it first):
#
#   openssh-server   tests/hosts.sh ssh: an sshd in each client namespace
#
# The package's own service is not started: a policy-rc.d that says no is
# in place while apt-get runs (and removed after, unless one was there).
# Without root or apt-get, or when the mirror cannot be reached, it says so
# and exits 0: the case that needs the package then skips with its reason.
set -u
PROG=tests/install-deps.sh
command -v sshd >/dev/null || [[ -x /usr/sbin/sshd ]] && { echo "$PROG: sshd is here"; exit 0; }
if [[ $EUID -ne 0 ]] || ! command -v apt-get >/dev/null; then
	echo "$PROG: not root or no apt-get: openssh-server not installed (tests/hosts.sh ssh will skip)"
	exit 0
fi
policy=/usr/sbin/policy-rc.d ours=0
if [[ ! -e $policy ]]; then
	printf '#!/bin/sh\n# tests/install-deps.sh: start no service while it installs\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	ours=1
fi
trap '((ours)) && rm -f "$policy"' EXIT
echo "$PROG: installing openssh-server (its service is not started)"
if ! DEBIAN_FRONTEND=noninteractive timeout 120 apt-get install -y -q --no-install-recommends openssh-server >/tmp/c1m-install-deps.log 2>&1; then
	# The package lists may be stale on a fresh machine: refresh once.
	DEBIAN_FRONTEND=noninteractive timeout 120 apt-get update -q >>/tmp/c1m-install-deps.log 2>&1
	DEBIAN_FRONTEND=noninteractive timeout 120 apt-get install -y -q --no-install-recommends openssh-server >>/tmp/c1m-install-deps.log 2>&1 ||
		{ echo "$PROG: apt-get could not install openssh-server (tests/hosts.sh ssh will skip):"; tail -n 3 /tmp/c1m-install-deps.log; exit 0; }
fi
echo "$PROG: installed $(dpkg-query -W -f '${Package} ${Version}' openssh-server)"
