"""Sizing, the measuring window, a run's time and the CPU sets of --pin.

size() is pure: run.py gathers the machine's figures (MemAvailable, the hard
RLIMIT_NOFILE, fs.nr_open, file-max, pid_max ...) and the programs' -L
limits, and size() returns a Sizing: the connections, the cap and what
sets it, and the lines run.sh prints about it.
"""
import os
import re
from dataclasses import dataclass, field
from typing import List

from .fmt import fmt_int as num

KERNEL_PER_CONN = 8300   # bytes of kernel memory per connection, both ends (8,255 measured)
USER_PER_CONN = 200      # bytes of user memory per connection, both ends (epoll designs)
THREAD_PER_CONN = 31744  # a 16 KiB-stack thread with its kernel stack (~31 KB measured)
MEM_SHARE = 60           # per cent of MemAvailable a run may take
MEM_SHARE_WHOLE = 90     # --whole-machine: the share it may take when asked


@dataclass(frozen=True)
class Limits:
    """Both programs' -L lines, checked (designs.limits)."""
    kind: str            # "threads" (a thread per connection) or "events"
    tables: str          # the server's fd tables: "one" or "many"
    target: int          # the connections the server aims at
    srv_reserve: int     # fds the server keeps spare per table
    srv_loops: int       # the server's most -c
    cli_tables: str      # the client's fd tables
    cli_reserve: int
    cli_loops: int
    per_src: int         # client connections per source address
    rate_default: str    # the client's default -r (0: closed-loop)
    server_n: bool = False   # the server takes -n CONNS
    client_p: bool = False   # the client takes -P SERVER_PID
    push: bool = False       # the server has the push flags (its -L says push:1)


@dataclass(frozen=True)
class Machine:
    """The figures sizing reads from this machine (kernel.machine_figures)."""
    mem_available_kb: int
    hard_nofile: int          # the hard RLIMIT_NOFILE (unlimited: 1048576)
    nr_open: int
    can_raise_nofile: bool    # root may raise the hard limit to nr_open
    file_max: int = 0
    files_used: int = 0
    pid_max: int = 0
    threads_max: int = 0
    threads_running: int = 0


@dataclass
class Sizing:
    conns: int = 0
    cap: int = 0
    why: str = ""
    raise_nofile: int = 0     # raise RLIMIT_NOFILE to this before the run (0: no)
    lines: List[str] = field(default_factory=list)   # printed on stdout
    refused: List[str] = field(default_factory=list)  # printed on stderr; exit 2


def _tdiv(a, b):
    """Integer division toward zero, as bash's $((a / b))."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def size(lim, m, *, server_dir, client_dir, asked=None, quick=False, loops=None,
         can_tune=False, hosts=0, whole_machine=False):
    """The connections this run takes, the cap and why; pure. WHOLE_MACHINE
    (--whole-machine): memory may take MEM_SHARE_WHOLE per cent of
    MemAvailable, not MEM_SHARE, and without -n the run takes the cap, not
    the design's target (a heartbeat run aiming at 2M on a 24 GB box)."""
    s = Sizing()
    p = s.lines.append
    per = KERNEL_PER_CONN + USER_PER_CONN
    threads = lim.kind == "threads"
    if threads:
        per += THREAD_PER_CONN
    share = MEM_SHARE_WHOLE if whole_machine else MEM_SHARE
    budget = _tdiv(m.mem_available_kb * 1024 * share, 100)
    mem_cap = _tdiv(budget, per)
    p(f"sizing: server {server_dir}, client {client_dir}")
    p("  %-8s %s connections (%s)" % (
        "design", num(lim.target),
        "the c1m target" if lim.target >= 1000000 else "the middle of the blog's 5000..100 sweep"))
    p("  %-8s %s MiB available; %s%% of it%s at %s B per connection (%s kernel, both ends%s) -> %s" % (
        "memory", m.mem_available_kb // 1024, share, " (--whole-machine)" if whole_machine else "",
        num(per), num(KERNEL_PER_CONN), ", + a thread" if threads else "", num(mem_cap)))
    cap, why = mem_cap, "memory"

    # fds: a table holds the hard RLIMIT_NOFILE (raised here if root may).
    table = m.hard_nofile
    if can_tune and m.can_raise_nofile:
        table = m.nr_open
        s.raise_nofile = table
    if lim.tables == "one":
        srv_cap = table - lim.srv_reserve
        p("  %-8s server: one fd table of %s (RLIMIT_NOFILE), %s kept spare -> %s" % (
            "fds", num(table), lim.srv_reserve, num(srv_cap)))
        if srv_cap < cap:
            cap, why = srv_cap, "the server's one fd table"
    else:
        n = loops if loops else lim.srv_loops
        srv_cap = (table - lim.srv_reserve) * n
        p("  %-8s server: a private fd table of %s connections per loop, up to %s loops (%s) -> %s" % (
            "fds", num(table - lim.srv_reserve), num(n), "-c" if loops else "its most", num(srv_cap)))
        if srv_cap < cap:
            cap, why = srv_cap, f"the server's {num(n)} fd tables"
    if lim.cli_tables == "one":
        cli_cap = table - lim.cli_reserve
        p("  %-8s client: one loop, one fd table -> %s" % ("", num(cli_cap)))
        if cli_cap < cap:
            cap, why = cli_cap, "the client's one fd table"
    else:
        cli_cap = (table - lim.cli_reserve) * lim.cli_loops
        p("  %-8s client: a private fd table of %s connections per loop, up to %s loops -> %s" % (
            "", num(table - lim.cli_reserve), num(lim.cli_loops), num(cli_cap)))
        if cli_cap < cap:
            cap, why = cli_cap, f"the client's {num(lim.cli_loops)} fd tables"
    if not can_tune:
        files_cap = _tdiv(m.file_max - m.files_used - 65536, 2)
        p("  %-8s fs.file-max allows %s more connections (2 files each)" % ("files", num(files_cap)))
        if files_cap < cap:
            cap, why = files_cap, "fs.file-max"
        if threads:
            thr_cap = min(m.pid_max, m.threads_max) - m.threads_running - 1024
            p("  %-8s pid_max %s, threads-max %s, %s threads running -> %s" % (
                "threads", num(m.pid_max), num(m.threads_max), num(m.threads_running), num(thr_cap)))
            if thr_cap < cap:
                cap, why = thr_cap, "kernel.pid_max/threads-max"
    if hosts:
        p("  %-8s %s hosts, each its share of the connections, from its own source addresses"
          " (H=FIRST-LAST)" % ("ports", hosts))
    else:
        p("  %-8s the client binds 127.0.0.1, .2, ...: %s connections per source address" % (
            "ports", num(lim.per_src)))
    cap = max(cap, 1)
    s.cap, s.why = cap, why

    if asked is not None:
        if asked > cap:
            s.refused.append(f"run.sh: -n {num(asked)} cannot fit: at most {num(cap)} here, limited by {why}")
            if not (can_tune or why == "memory" or "fd table" in why):
                s.refused.append("run.sh: as root (without --no-tune) the kernel limits would be raised")
            return s
        s.conns = asked
        p(f"  => {num(asked)} connections (-n; fits: at most {num(cap)}, limited by {why})")
    elif quick:
        s.conns = min(cap, 200)
        p(f"  => {num(s.conns)} connections (--quick)")
    elif whole_machine:
        s.conns = cap
        p(f"  => {num(s.conns)} connections (--whole-machine: the most this machine holds, "
          f"limited by {why}; about {num(cap * per // (1 << 20))} MiB of "
          f"{num(m.mem_available_kb // 1024)} MiB available)")
    elif lim.target <= cap:
        s.conns = lim.target
        p(f"  => {num(s.conns)} connections (the design's target; this machine fits {num(cap)})")
    else:
        s.conns = cap
        p(f"  => {num(s.conns)} connections (short of the design's target, limited by {why})")
    return s


def window_for(conns, duration_asked=None):
    """(duration as typed, warm-up s) at conns connections.

    Past 100K connections one round over all of them takes seconds (Little's law:
    mean latency ~ N / throughput, ~10 s at 1M): measure 30 s, not 10. The
    client waits for the first round; the load still settles after it, so
    it also warms up uncounted (-W): one second per 16,000 connections from
    50,000 (06 at 1M: 20 s of warm-up left the two programs' window rps 3.9%
    apart, 60 s 1.4%; 2026-12-01)."""
    duration, warmup = duration_asked or "10", 0
    if conns >= 50000:
        warmup = conns // 16000
    if conns > 100000 and not duration_asked:
        duration = "30"
    return duration, warmup


def whole_s(duration):
    """"2.5" -> 2, as bash's ${DURATION%.*}."""
    return int(duration.split(".")[0] or 0)


def client_timeout(conns, duration, warmup):
    """The client's bound (timeout -k 10 TMO): a slow ramp of 5K conn/s; the
    first round at 200 round trips/s (10's blocking mode), up to 10 minutes;
    the measuring time; the drain."""
    first = min(conns // 200, 600)
    return conns // 5000 + first + whole_s(duration) + warmup + 60


def run_estimate(conns, duration_asked=None):
    """Seconds a run at conns takes, roughly: start and stop, a ramp and a
    close at ~40K connections/s each, a first round at ~50K round trips/s,
    the warm-up and the window."""
    duration, warmup = window_for(conns, duration_asked)
    return 5 + 2 * conns // 40000 + conns // 50000 + warmup + whole_s(duration)


# ---- CPU sets (--pin) ----

_CPU_LIST = re.compile(r"[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*")


def expand_cpus(text):
    """"0-2,5" -> [0, 1, 2, 5]; None for anything but a CPU list (or a
    range past CPU 65535)."""
    if not _CPU_LIST.fullmatch(text or ""):
        return None
    out = set()
    for part in text.split(","):
        if "-" in part:
            lo, hi = (int(x) for x in part.split("-"))
            if not (lo <= hi < 65536):
                return None
            out.update(range(lo, hi + 1))
        else:
            out.add(int(part))
    return sorted(out)


def compact_cpus(cpus):
    """[0, 1, 2, 5] -> "0-2,5"; [] -> ""."""
    runs = []
    for c in sorted(set(cpus)):
        if runs and c == runs[-1][1] + 1:
            runs[-1][1] = c
        else:
            runs.append([c, c])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def usable(online_text, allowed):
    """The CPUs a run may use: online (the text of
    /sys/devices/system/cpu/online) and in `allowed` (run.sh's affinity)."""
    online = expand_cpus((online_text or "").strip())
    if online is None:
        online = sorted(allowed)
    return sorted(set(online) & set(allowed))


def usable_cpus():
    """usable() on this machine."""
    try:
        with open("/sys/devices/system/cpu/online") as f:
            text = f.read()
    except OSError:
        text = ""
    return usable(text, os.sched_getaffinity(0))


class PinError(Exception):
    """--pin cannot be met; `usage` says whether the synopsis goes with it."""

    def __init__(self, msg, usage=True):
        super().__init__(msg)
        self.usage = usage


def pins(arg, cpus):
    """--pin's value ("auto" or "S:C") over the usable CPUs -> ("0", "1"),
    the server's and the client's sets compacted; raises PinError."""
    n = len(cpus)
    if arg == "auto":
        if n < 2:
            raise PinError("--pin: this run may use only CPU %s: the server and the client need one each"
                           % " ".join(map(str, cpus)), usage=False)
        srv, cli = cpus[:n // 2], cpus[n // 2:]
    else:
        if ":" not in arg:
            raise PinError(f"--pin: want SERVER_CPUS:CLIENT_CPUS, e.g. 0:1 or 0-3:4-7, not '{arg}'")
        s_text, c_text = arg.split(":", 1)
        srv = expand_cpus(s_text)
        if srv is None:
            raise PinError(f"--pin: '{s_text}' is not a CPU list like 0-3,6")
        cli = expand_cpus(c_text)
        if cli is None:
            raise PinError(f"--pin: '{c_text}' is not a CPU list like 0-3,6")
        for c in srv + cli:
            if c not in cpus:
                raise PinError(f"--pin: CPU {c} is not online or not ours (usable: {compact_cpus(cpus)})")
        for c in srv:
            if c in cli:
                raise PinError(f"--pin: CPU {c} is in both sets: the server's and the client's must be disjoint")
    return compact_cpus(srv), compact_cpus(cli)


def cpu_count(text):
    """How many CPUs a list holds; 0 for "" (not pinned)."""
    return len(expand_cpus(text) or []) if text else 0


def asked_rate(extra_c, default):
    """The client's request rate: the last -r in -C, else its -L default."""
    m = re.search(r".*-r *([0-9.]+)", " ".join(extra_c))
    return m.group(1) if m else default


