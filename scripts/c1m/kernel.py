"""Kernel settings and readings: scripts/tune.sh apply/check/undo (the bash
tool stays), the run's network namespace, auto-netns, and what /proc says
(sysctls, TcpExt counters, TIME_WAIT, slab, MemAvailable).

Every change is registered on the run's Cleanup stack. Readings of the
run's namespace go through `ip netns exec NS cat FILE` (a process reads
/proc/sys and /proc/net of its own namespace).
"""
import os
import resource
import shutil
import subprocess
import sys

from .fmt import fmt_int as num

TUNE = "scripts/tune.sh"
TCP_EXT = ("ListenOverflows", "ListenDrops", "SyncookiesSent", "TCPMemoryPressures",
           "TCPAbortOnMemory", "TCPTimeouts")
SYSCTLS = ("fs.file-max", "net.ipv4.tcp_mem", "net.ipv4.tcp_child_ehash_entries",
           "net.ipv4.tcp_ehash_entries", "net.ipv4.ip_local_port_range",
           "net.ipv4.ip_local_reserved_ports", "net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog",
           "kernel.pid_max", "kernel.threads-max", "vm.max_map_count")


def _out(*lines):
    for line in lines:
        print(line, flush=True)


def _run(argv, drop_first=False, drop=None):
    """Run argv with its output printed (optionally filtered); its exit code."""
    sys.stdout.flush()
    r = subprocess.run(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    lines = r.stdout.splitlines()
    if drop_first:
        lines = lines[1:]
    for line in lines:
        if drop is None or not drop(line):
            print(line)
    sys.stdout.flush()
    return r.returncode


def read(path, ns=""):
    """A file's text, from inside namespace ns when given; "" if unreadable."""
    try:
        if ns:
            return subprocess.run(["ip", "netns", "exec", ns, "cat", path], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True).stdout
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def meminfo(key):
    """A /proc/meminfo figure in kB (MemAvailable, Slab, MemTotal); 0 if absent."""
    for line in read("/proc/meminfo").splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _int(path, default=0):
    try:
        return int(read(path).split()[0])
    except (IndexError, ValueError):
        return default


def can_raise_nofile(nr_open):
    """Root may raise the hard RLIMIT_NOFILE to nr_open (tried in a child)."""
    pid = os.fork()
    if pid == 0:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[0],
                                                        nr_open))
            os._exit(0)
        except (ValueError, OSError):
            os._exit(1)
    return os.waitpid(pid, 0)[1] == 0


def hard_nofile():
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return 1048576 if hard == resource.RLIM_INFINITY else hard


def raise_nofile(n):
    """ulimit -Hn N; ulimit -Sn N (for this process and what it starts)."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))


def machine_figures(can_tune, threads):
    """The figures plan.size() reads (plan.Machine's fields)."""
    nr_open = _int("/proc/sys/fs/nr_open", 1048576)
    f = {"mem_available_kb": meminfo("MemAvailable"), "hard_nofile": hard_nofile(),
         "nr_open": nr_open, "can_raise_nofile": bool(can_tune) and can_raise_nofile(nr_open)}
    if not can_tune:
        f["file_max"] = _int("/proc/sys/fs/file-max")
        f["files_used"] = _int("/proc/sys/fs/file-nr")
        if threads:
            f["pid_max"] = _int("/proc/sys/kernel/pid_max")
            f["threads_max"] = _int("/proc/sys/kernel/threads-max")
            try:
                f["threads_running"] = int(read("/proc/loadavg").split()[3].split("/")[1])
            except (IndexError, ValueError):
                f["threads_running"] = 0
    return f


def tune_args(conns, port_reserve, threads, raise_to, netns):
    a = ["-n", str(conns), "-p", str(port_reserve)]
    if threads:
        a.append("--threads")
    if raise_to > 0:
        a += ["--fds", str(raise_to)]
    if netns:
        a.append("--netns")
    return a


def check(args, netns):
    """--dry-run (and not root): what would change; nothing changes."""
    rc = _run([TUNE, "check"] + args)
    if netns:
        _out("  then, inside the fresh namespace:")
        _run([TUNE, "check", "--scope", "ns"] + args, drop_first=True, drop=lambda l: "RLIMIT" in l)
    return rc


def undo(state):
    """Put back every saved value (when there are any), quietly for the
    unchanged ones."""
    if os.path.isfile(state) and os.path.getsize(state) > 0:
        _out("restoring kernel settings:")
        _run([TUNE, "--undo"], drop=lambda l: l.startswith("  ok "))


def apply(args, session, cleanup):
    """As root: apply the settings; the undo goes on the cleanup stack."""
    session.tuned = True
    cleanup.defer(session.undo_tuning)
    if _run([TUNE, "apply"] + args) != 0:
        print("run.sh: could not apply every kernel setting (above); going on", file=sys.stderr, flush=True)


def make_netns(name, args, cleanup):
    """A fresh namespace with lo up and the per-namespace settings tuned;
    its removal on the stack. Returns False (having said why) on failure."""
    if subprocess.run(["ip", "netns", "add", name]).returncode != 0:
        print("run.sh: ip netns add failed", file=sys.stderr, flush=True)
        return False
    cleanup.defer(del_netns, name)
    if subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"]).returncode != 0:
        return False
    _out(f"namespace {name}:")
    _run(["ip", "netns", "exec", name, TUNE, "apply", "--scope", "ns", "--no-save"] + args,
         drop_first=True)
    try:
        eh = int(read("/proc/sys/net/ipv4/tcp_ehash_entries", name).split()[0])
    except (IndexError, ValueError):
        eh = 0
    if eh < 0:
        _out(f"  shares this machine's TCP hash table ({-eh} buckets)")
    else:
        _out(f"  has a TCP hash table of its own: {eh} buckets")
    return True


def del_netns(name):
    if subprocess.run(["ip", "netns", "del", name], stderr=subprocess.DEVNULL).returncode != 0:
        print(f"run.sh: could not remove namespace {name}", file=sys.stderr, flush=True)


def auto_netns(asked, conns, can_tune, hosts, addr):
    """--netns (asked "1"), --no-netns ("0") or, as root, a namespace of
    its own when the run's sockets outnumber this namespace's TCP hash
    buckets ("auto"). Returns (netns, lines to print).

    Every TCP packet looks its socket up in the namespace's established hash
    table, fixed at boot. At 1M connections (2M sockets in 262,144 buckets)
    __inet_lookup_established took 6.66 us per round trip against 0.63 at
    1K, and a namespace with a table of its own ran 1.13-1.27x the round
    trips/s (2026-12-01, README "What a million connections cost")."""
    if asked != "auto":
        return asked == "1", []
    if not can_tune or hosts or not (addr == "" or addr.startswith("127.")):
        return False, []
    if shutil.which("ip") is None:
        return False, []
    try:
        buckets = abs(int(read("/proc/sys/net/ipv4/tcp_ehash_entries").split()[0]))
    except (IndexError, ValueError):
        return False, []
    if 2 * conns <= buckets:
        return False, []
    return True, [f"netns: {num(2 * conns)} sockets would share this namespace's {num(buckets)} TCP hash buckets;",
                  "  the run gets a network namespace with a table of its own (--no-netns: run here)"]


def sysctls(ns=""):
    """The settings the result records, as key -> value (white space squeezed)."""
    out = {}
    for k in SYSCTLS:
        out[k] = " ".join(read("/proc/sys/" + k.replace(".", "/"), ns).split())
    return out


def tcp_ext(ns=""):
    """The TcpExt counters that say why a run was slow: accept queues
    overflowing, SYN cookies, memory pressure."""
    names, vals = None, {}
    for line in read("/proc/net/netstat", ns).splitlines():
        if not line.startswith("TcpExt:"):
            continue
        if names is None:
            names = line.split()[1:]
        else:
            vals = dict(zip(names, line.split()[1:]))
    return {k: int(vals.get(k, 0) or 0) for k in TCP_EXT}


def sockstat_tcp(text):
    """/proc/net/sockstat's TCP line -> {"inuse": N, "tw": N, "mem": N, ...}."""
    for line in text.splitlines():
        if line.startswith("TCP:"):
            w = line.split()[1:]
            return {w[i]: int(w[i + 1]) for i in range(0, len(w) - 1, 2)}
    return {}


def time_wait(ns=""):
    """TIME_WAIT sockets in the run's namespace."""
    return sockstat_tcp(read("/proc/net/sockstat", ns)).get("tw", 0)
