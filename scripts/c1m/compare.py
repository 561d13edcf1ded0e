"""./run.sh compare: every design like for like, in rounds, against a reference.

The plan: every design at one count they can all hold (10,000, or the
least cap), then 03 06 07 08 14 at 1,000 / 100,000 / 1,000,000, each up
to its cap. With -r ROUNDS the rounds are interleaved: round 1 runs every
(design, count) once, then round 2, ..., so the machine's drift falls on
all of them alike. The reference (--ref: "baseline", scripts/baseline_pair,
the bare epoll pair, or a design NN) runs in every round at every count
it can hold; each design's figure is divided by the reference's figure
of the SAME round (stats.ratios). Where the bare pair cannot hold a count
(one process, one fd table each side), the reference there is 06 if the
plan runs it at that count, else there is none; the plan says which.
--designs LIST keeps only those designs in the plan. Under --workload each
workload runs the plan and gets its own tables (SHAPE_TABLES: the figure
the ratio is of, and the columns); churn's reference is the bare pair's
accept/echo/close loop (run_baseline_churn), push's 06 where it pushes.

main(opts, env) is what run.py calls (docs: /work/prompts/interfaces.md);
plan(), references(), figures() and tables() are pure.
"""
import datetime
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

from . import stats, workload as workloads
from .fmt import fmt_int, fmt_lat, fmt_list

PROG = "run.sh"
COMMON_CONNS = 10000                    # the count every design runs at
SCALE_DESIGNS = ("03", "06", "07", "08", "14")  # the scaling chart's
SCALE_CONNS = (1000, 100000, 1000000)   # their counts, each up to its cap
BASELINE = "baseline"                   # --ref's default: scripts/baseline_pair
BASELINE_NAME = "baseline_pair"
FALLBACK = "06"                         # the reference where the bare pair cannot go
FIGURES = ("rps", "p99_us", "server_us_per_rt")
SCHEMA_VERSION = 1
# Each workload shape's table (pure data; report.py draws the README's from
# it too): "key", the figure the ratio to the reference is of, its heading,
# and the columns after the ratio, (summary key, heading, format). A shape
# not here is drawn as ping-pong. Push: the ratio is of the server's CPU
# per push (lower is better), delivery latency is push_lat_us, not lat_us.
SHAPE_TABLES = {
    "pingpong": {"key": "rps", "head": "rps", "cols": [
        ("p99_us", "p99", "lat"), ("server_us_per_rt", "srv us/rt", "us")]},
    "pipeline": {"key": "rps", "head": "rps", "cols": [
        ("p99_us", "p99", "lat"), ("server_us_per_rt", "srv us/rt", "us")]},
    "size": {"key": "rps", "head": "rps", "cols": [
        ("rx_bytes_per_s", "MB/s in", "mb"), ("p99_us", "p99", "lat"),
        ("server_us_per_kb", "srv us/KB", "us")]},
    "churn": {"key": "conns_opened_per_s", "head": "conns opened/s", "cols": [
        ("connect_p99_us", "connect p99", "lat"), ("server_us_per_conn", "srv us/conn", "us"),
        ("connect_errors", "conn errors", "int")]},
    "heartbeat": {"key": "rps", "head": "rps", "cols": [
        ("p50_us", "p50", "lat"), ("p99_us", "p99", "lat"),
        ("heartbeat_late_p99_us", "late p99", "lat"),
        ("client_cpu_per_1k_conns", "cli CPU/1K", "num")]},
    "storm": {"key": "rps", "head": "rps", "cols": [
        ("storm_recovery_s", "recovery", "sec"), ("storm_retries", "retries", "int"),
        ("accept_spread", "accepts max/min", "num"), ("listen_overflows", "overflows", "int")]},
    "push": {"key": "server_us_per_push", "head": "srv us/push", "cols": [
        ("push_p50_us", "deliv p50", "lat"), ("push_p99_us", "deliv p99", "lat"),
        ("push_max_us", "deliv max", "lat"), ("fanout_p50_s", "fan-out p50", "sec"),
        ("fanout_max_s", "fan-out max", "sec"), ("pushes_missing", "missing", "int"),
        ("slow_dropped", "slow dropped", "int")]},
}
# Every figure a compare entry keeps of a run's summary.
ENTRY_KEYS = tuple(dict.fromkeys(list(FIGURES) + [k for t in SHAPE_TABLES.values()
                                                  for k in [t["key"]] + [c[0] for c in t["cols"]]]))


def shape_table(shape):
    """SHAPE_TABLES' entry for a workload's shape ("churn:1" works too)."""
    return SHAPE_TABLES.get((shape or "pingpong").split(":")[0], SHAPE_TABLES["pingpong"])


# ---- the plan (pure) ----

def plan(caps):
    """caps: {nn: cap} of every design that was built and sized, in order.

    Returns (common, limiter, runs): the count all run at, the nn that
    lowered it (or None), and the runs as [(nn, count)] in the order a
    round runs them: every design at common, then each scaling design at
    its counts (capped; a count it already has is not run twice).
    """
    common, limiter = COMMON_CONNS, None
    for nn, cap in caps.items():
        if cap < common:
            common, limiter = cap, nn
    runs = [(nn, common) for nn in caps]
    for nn in SCALE_DESIGNS:
        if nn not in caps:
            continue
        have = {common}
        for n in SCALE_CONNS:
            c = min(n, caps[nn])
            if c not in have:
                runs.append((nn, c))
                have.add(c)
    return common, limiter, runs


BASELINE_SHAPES = ("pingpong", "churn")  # what the bare pair can do


def references(runs, ref, caps, baseline_cap, shape="pingpong"):
    """The reference at each count the plan runs, and the runs it adds.

    ref: BASELINE or a design nn. Returns (refs, extra): refs {count:
    (name, why)} with name BASELINE, an nn or None; extra: [(nn, count)]
    runs of a design reference that the plan did not have. A design
    reference runs at every count up to its cap; beyond it, or for the
    bare pair beyond baseline_cap, the fallback is the other kind where
    it can be had (the bare pair; or 06 where the plan runs it). SHAPE:
    the workload's; the bare pair ping-pongs, or churns (its LIFETIME
    mode, a bare accept/echo/close loop), so for any other shape it is no
    reference (06 is, where the plan runs it).
    """
    cannot = f"{BASELINE_NAME} cannot hold it here"
    if shape not in BASELINE_SHAPES:
        baseline_cap, cannot = 0, f"{BASELINE_NAME} only ping-pongs or churns"
    counts = sorted({c for _, c in runs})
    planned = set(runs)
    refs, extra = {}, []
    for c in counts:
        if ref != BASELINE and ref in caps and c <= caps[ref]:
            refs[c] = (ref, "asked with --ref")
            if (ref, c) not in planned:
                extra.append((ref, c))
        elif ref == BASELINE and c <= baseline_cap:
            refs[c] = (BASELINE, "the bare accept/echo/close loop" if shape == "churn"
                       else "the bare epoll pair")
        elif ref != BASELINE and c <= baseline_cap:
            refs[c] = (BASELINE, f"{ref} cannot run it here; the bare epoll pair can")
        elif (FALLBACK, c) in planned:
            refs[c] = (FALLBACK, cannot if ref == BASELINE else f"{ref} cannot run it here")
        else:
            refs[c] = (None, f"{cannot} and the plan runs no "
                       f"{FALLBACK} there" if ref == BASELINE else
                       f"neither {ref} nor {BASELINE_NAME} can run it here")
    return refs, extra


# ---- the figures and the tables (pure) ----

def _figure(entry, key):
    """A round's figure, or None when the round did not pass."""
    if not entry or entry.get("rc") != 0:
        return None
    v = entry.get(key)
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def figures(set_id, rounds, rows_by_count, refs, names, shape="pingpong"):
    """The set's figures and statistics, as compare-<set>.json holds them.

    rows_by_count: {count: {name: [entry or None per round]}}, an entry
    {"rc", "rps", "p99_us", "server_us_per_rt", "result"} and, for SHAPE's
    table (SHAPE_TABLES), its figures; refs: {count: (name, why)}; names:
    {name: what the tables call it}. The ratio is of SHAPE's key figure
    (rps; connections opened/s for churn; server us per push for push).
    """
    t = shape_table(shape)
    key = t["key"]
    keys = list(dict.fromkeys(list(FIGURES) + [key] + [c[0] for c in t["cols"]]))
    out = {"kind": "c1m-compare", "schema_version": SCHEMA_VERSION,
           "set": set_id, "rounds": rounds, "counts": []}
    for c in sorted(rows_by_count):
        ref, why = refs.get(c, (None, ""))
        by_name = rows_by_count[c]
        ref_fig = [_figure(e, key) for e in by_name.get(ref, [])] if ref else []
        rows = []
        for name, entries in by_name.items():
            entries = list(entries) + [None] * (rounds - len(entries))
            fig = [_figure(e, key) for e in entries]
            ratio = stats.ratios(fig, ref_fig) if ref_fig else [None] * rounds
            row = {"name": name, "design": names.get(name, name), "reference": name == ref,
                   "key": key, "rounds": []}
            for i, e in enumerate(entries):
                r = {"round": i + 1, "rc": e.get("rc") if e else None}
                for k in keys:
                    r[k] = e.get(k) if e else None
                r["ratio"] = ratio[i]
                r["result"] = e.get("result") if e else None
                row["rounds"].append(r)
            for k in keys:
                row[k] = stats.summary([_figure(e, k) for e in entries])
            row["ratio"] = stats.summary(ratio)
            row["_rps"], row["_ratio"] = fig, ratio
            rows.append(row)
        # Within noise: by the ratios where both have them, else by rps.
        for a in rows:
            a["within_noise_of"] = []
            for b in rows:
                if a is b:
                    continue
                by = "ratio" if a["ratio"]["n"] and b["ratio"]["n"] else "rps"
                if stats.within_noise(a["_" + by], b["_" + by]):
                    a["within_noise_of"].append(b["name"])
        for a in rows:
            del a["_rps"], a["_ratio"]
        out["counts"].append({"conns": c, "reference": ref, "reference_why": why,
                              "rows": rows})
    return out


def figures_by_workload(set_id, rounds, rows_by_workload, refs_by_workload, names):
    """figures() for each workload (in the order given), one document: every
    counts[] entry tagged with its "workload", so one set file holds them
    apart; "workloads" lists them."""
    out = None
    for wl, rows in rows_by_workload.items():
        d = figures(set_id, rounds, rows, refs_by_workload.get(wl, {}), names, wl)
        for c in d["counts"]:
            c["workload"] = wl
        if out is None:
            out = dict(d, counts=[])
        out["counts"] += d["counts"]
    if out is None:
        out = figures(set_id, rounds, {}, {}, names)
    out["workloads"] = list(rows_by_workload)
    return out


def _num(v, digits=None):
    if v is None:
        return "-"
    return f"{v:.{digits}f}" if digits is not None else fmt_int(v)


def _range(s, digits=None):
    """'median [min-max]' of a stats.summary; the median alone when the
    rounds agree or there is one."""
    if s["median"] is None:
        return "-"
    m = _num(s["median"], digits)
    lo, hi = _num(s["min"], digits), _num(s["max"], digits)
    return m if lo == hi else f"{m} [{lo}-{hi}]"


def _us(v):
    if v is None:
        return "-"
    return f"{v:.1f}" if v < 100 else f"{v:.0f}"


TABLE_FMT = "{:<28} {:>27} {:>17} {:>8} {:>9}  {}"
LEGEND = """\
rps: round trips/s over the client's window, the median of the rounds [their min-max].
x ref: each round's rps over the reference's rps in the SAME round; the median [min-max]
  of those ratios. The x ref columns are what a reader on another machine can compare:
  raw rps moves with the machine (2.5x between days here), the ratio to a reference
  measured in the same rounds much less.
p99, srv us/rt: the medians of the rounds (the client's p99; the server's CPU per round
  trip over the window). A run that failed is left out of every figure; "(2 of 3)"
  after a design: only that many of its rounds passed.
~ within noise of: those rows' rounds overlap (their x ref ranges intersect; their rps
  ranges where there is no ratio), so this run does not tell them apart."""


def fmt_cell(v, kind):
    """One figure as the tables print it: lat (us -> 850 us, 1.2 ms), us
    (CPU us), mb (bytes/s -> MB/s), sec, int, num."""
    if v is None:
        return "-"
    if kind == "lat":
        return fmt_lat(v)
    if kind == "us":
        return _us(v)
    if kind == "mb":
        return f"{v / 1e6:.1f}"
    if kind == "sec":
        return f"{v * 1000:.1f} ms" if v < 1 else f"{v:.2f} s"
    if kind == "int":
        return fmt_int(v)
    return f"{v:.3g}" if v < 1000 else fmt_int(v)


def _heading(cnt, rounds, named):
    ref = cnt["reference"]
    refname = next((r["design"] for r in cnt["rows"] if r["name"] == ref), ref)
    head = (cnt.get("workload", "pingpong") + " " if named else "") + \
        f"at {fmt_int(cnt['conns'])} connections, {rounds} round{'s' if rounds != 1 else ''}; "
    return head + (f"reference {refname} ({cnt['reference_why']})" if ref else
                   f"no reference: {cnt['reference_why']}; no ratios")


def _name(r, rounds, key="rps"):
    name = r["design"] + ("  (reference)" if r["reference"] else "")
    if r[key]["n"] < rounds:      # rounds that failed: say how many are left
        name += f"  ({r[key]['n']} of {rounds})"
    return name


def tables(doc):
    """The per-count tables and their legend, from figures()' document:
    ping-pong's columns as always; another shape's (SHAPE_TABLES) for a
    workload's counts."""
    lines = []
    rounds = doc["rounds"]
    # Name the workload in each heading unless the set is plain ping-pong.
    named = doc.get("workloads") not in (None, [], ["pingpong"])
    shapes = set()
    for cnt in doc["counts"]:
        wl = cnt.get("workload", "pingpong")
        t = shape_table(wl)
        shapes.add(wl.split(":")[0])
        lines += ["", _heading(cnt, rounds, named)]
        if t is SHAPE_TABLES["pingpong"] or t is SHAPE_TABLES["pipeline"]:
            lines.append(TABLE_FMT.format("design", "rps median [min-max]", "x ref [min-max]",
                                          "p99", "srv us/rt", "~ within noise of"))
            for r in cnt["rows"]:
                ratio = "1.00" if r["reference"] and r["ratio"]["n"] else _range(r["ratio"], 2)
                lines.append(TABLE_FMT.format(
                    _name(r, rounds), _range(r["rps"]), ratio, fmt_lat(r["p99_us"]["median"]),
                    _us(r["server_us_per_rt"]["median"]), ", ".join(r["within_noise_of"])).rstrip())
            continue
        key = t["key"]
        fmt = "{:<28} {:>27} {:>17}" + " {:>15}" * len(t["cols"]) + "  {}"
        lines.append(fmt.format("design", t["head"] + " median [min-max]", "x ref [min-max]",
                                *[c[1] for c in t["cols"]], "~ within noise of"))
        for r in cnt["rows"]:
            ratio = "1.00" if r["reference"] and r["ratio"]["n"] else _range(r["ratio"], 2)
            key_digits = 1 if key == "server_us_per_push" else None
            cells = [fmt_cell((r.get(k) or {}).get("median"), kind) for k, _, kind in t["cols"]]
            lines.append(fmt.format(_name(r, rounds, key), _range(r[key], key_digits), ratio, *cells,
                                    ", ".join(r["within_noise_of"])).rstrip())
    lines += [""] + LEGEND.splitlines()
    if shapes - {"pingpong", "pipeline"}:
        lines += SHAPE_LEGEND.splitlines()
    if rounds < 2:
        lines.append("  One round shows no noise, so nothing is marked: run -r 3 or more.")
    return "\n".join(lines)


SHAPE_LEGEND = """\
Other workloads: the first figure is the one the ratio is of: connections opened/s for
  churn (the reference: scripts/baseline_pair's bare accept/echo/close loop), the server's
  CPU us per push for push (lower is better; delivery p50/p99/max from the client's
  push_lat_us, fan-out: from a broadcast's scheduled time until the last connection had
  it), rps for the rest; the other columns are the medians of the rounds."""


# ---- the bare pair ----

def baseline_cap():
    """(connections scripts/baseline_pair holds here, why): each side is
    one process with one fd table, its client one source address."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        with open("/proc/sys/fs/nr_open") as f:
            hard = int(f.read())
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
        ports = hi - lo + 1
    except (OSError, ValueError):
        ports = 28232
    by_fds, by_ports = hard - 16, ports - 1000
    if by_fds <= by_ports:
        return by_fds, f"one fd table each side, RLIMIT_NOFILE {fmt_int(hard)}"
    return by_ports, f"one source address, {fmt_int(ports)} ephemeral ports"


def _pins(pin):
    """--pin's value -> (server CPUs, client CPUs) for taskset, or (None,
    None): S:C as given; auto as run.sh splits them (the first half of
    the CPUs this process may use for the server, the rest the client)."""
    if not pin:
        return None, None
    if pin != "auto":
        s, c = pin.split(":", 1)
        return s, c
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    half = len(cpus) // 2
    return ",".join(map(str, cpus[:half])), ",".join(map(str, cpus[half:]))


def _raise_nofile():
    """In the child before exec: the soft fd limit up to the hard one."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _free_port():
    """A port nobody listens on now, on 127.0.0.1 (bind port 0, close)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(p):
    """TERM, a moment, then KILL; reaped either way."""
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _listens(pid, port):
    """Whether process pid holds a socket listening on TCP port (its fds'
    socket inodes against /proc/net/tcp's LISTEN rows), so another
    process on that port is never taken for it."""
    want = set()
    try:
        with open(f"/proc/{pid}/net/tcp") as f:
            for line in f.readlines()[1:]:
                w = line.split()
                if w[1].endswith(f":{port:04X}") and w[3] == "0A":
                    want.add(f"socket:[{w[9]}]")
        for fd in os.listdir(f"/proc/{pid}/fd"):
            if os.readlink(f"/proc/{pid}/fd/{fd}") in want:
                return True
    except OSError:
        pass
    return False


def _listening(p, port, wait_s=5.0):
    """True once the server p listens on port; False if it exited (its
    bind failed: another process has the port) or never listened."""
    end = time.monotonic() + wait_s
    while time.monotonic() < end:
        if p.poll() is not None:
            return False
        if _listens(p.pid, port):
            return True
        time.sleep(0.02)
    return False


def run_baseline(binary, conns, secs, pin=None, tries=5):
    """One run of the bare pair: its server on a free 127.0.0.1 port, its
    client CONNS connections for SECS seconds. Returns (rc, rps or None,
    message): rc 0 with the client's rps, else 1 and why."""
    rc, figs, why = _baseline(binary, conns, secs, [], pin, tries)
    return rc, (figs or {}).get("rps"), why


def run_baseline_churn(binary, conns, secs, lifetime, rst=False, pin=None, tries=5):
    """The bare pair as a bare accept/echo/close loop (the client's -x
    LIFETIME [-R]): (rc, {"rps", "conns_opened_per_s", "connect_errors"}
    or None, message)."""
    return _baseline(binary, conns, secs, [str(lifetime)] + (["rst"] if rst else []), pin, tries)


def _baseline(binary, conns, secs, extra, pin, tries):
    """run_baseline's run with EXTRA client words: (rc, {word: number} of
    what the client printed ("rps N ..."), or None, message)."""
    spin, cpin = _pins(pin)
    pre_s = ["taskset", "-c", spin] if spin else []
    pre_c = ["taskset", "-c", cpin] if cpin else []
    why = "no free port"
    for _ in range(tries):
        port = _free_port()
        srv = subprocess.Popen(pre_s + [binary, "server", str(port)], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               preexec_fn=_raise_nofile)
        try:
            if not _listening(srv, port):
                _stop(srv)
                why = f"server did not listen on 127.0.0.1:{port}: " + \
                    srv.stderr.read().decode(errors="replace").strip()
                continue
            try:
                cli = subprocess.run(pre_c + [binary, "client", str(port), str(conns), f"{secs:g}"] + extra,
                                     stdin=subprocess.DEVNULL, capture_output=True,
                                     timeout=secs + conns / 1000 + 60, preexec_fn=_raise_nofile)
            except subprocess.TimeoutExpired:
                return 1, None, f"client timed out at {fmt_int(conns)} connections"
            out = cli.stdout.decode(errors="replace").split()
            if cli.returncode != 0 or len(out) < 2 or len(out) % 2 or out[0] != "rps":
                err = cli.stderr.decode(errors="replace").strip().splitlines()
                return 1, None, f"client exit {cli.returncode}: " + (err[-1] if err else " ".join(out))
            try:
                return 0, {k: float(v) for k, v in zip(out[::2], out[1::2])}, ""
            except ValueError:
                return 1, None, f"client printed {' '.join(out)!r}"
        finally:
            _stop(srv)
            srv.stderr.close()
    return 1, None, why


# ---- main ----

def _say_err(msg):
    print(f"{PROG}: {msg}", flush=True, file=sys.stderr)


def _utc(fmt="%Y%m%dT%H%M%SZ"):
    return datetime.datetime.now(datetime.timezone.utc).strftime(fmt)


def _from_record(repo_dir):
    """(record.provenance(), record.machine()) when the record module is
    here; (None, None) before it lands."""
    try:
        from . import record
        return record.provenance(repo_dir), record.machine()
    except (ImportError, AttributeError):
        return None, None


@dataclass
class CompareSet:
    """One ./run.sh compare set, passed through its stages: sized, planned,
    printed, run round by round, then its figures written."""
    set_id: str
    started: str                    # UTC, 2026-12-06T03:23:05Z
    rounds: int
    ref_asked: str                  # BASELINE or a design nn
    secs: float                     # each run's measuring time
    binary: str                     # scripts/baseline_pair
    caps: dict = field(default_factory=dict)      # nn -> cap, the designs that run
    capwhy: dict = field(default_factory=dict)    # nn -> what limits the cap
    names: dict = field(default_factory=dict)     # nn or BASELINE -> its directory
    bad: list = field(default_factory=list)       # designs not run, and why
    bcap: int = 0                   # the most connections the bare pair holds
    bwhy: str = ""
    common: int = 0                 # the count every design runs at
    limiter: str = ""               # the design that lowered it
    runs: list = field(default_factory=list)      # [(nn, count)], one round's order
    workloads: list = field(default_factory=list)  # [workload.Workload], each runs the plan
    refs: dict = field(default_factory=dict)      # workload name -> count -> (reference, why)
    rows: dict = field(default_factory=dict)      # workload name -> count -> name -> [entry per round]
    skip: dict = field(default_factory=dict)      # workload name -> {nn: why}: its client cannot
    done: int = 0                   # runs started so far (the i of "i/N")
    summaries: list = field(default_factory=list)
    failed: list = field(default_factory=list)    # design runs that did not pass
    ref_failed: list = field(default_factory=list)  # bare-pair runs that did not

    @property
    def n_runs(self):
        return self.rounds * sum(len(self.wl_runs(w)) for w in self.workloads)

    def wl_runs(self, w):
        """The plan's runs for workload w: those whose client can run it."""
        skip = self.skip.get(w.name, {})
        return [(nn, c) for nn, c in self.runs if nn not in skip]


def main(opts, env):
    """./run.sh compare. 0 when every run passed; 1 when one failed or was
    refused, a design could not be built or sized, or the reference failed."""
    now = datetime.datetime.now(datetime.timezone.utc)
    cs = CompareSet(set_id="compare-" + now.strftime("%Y%m%dT%H%M%SZ"),
                    started=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    rounds=max(1, opts.rounds or 1), ref_asked=opts.reference or BASELINE,
                    secs=float(opts.duration) if opts.duration else 10.0,
                    binary=os.path.join(env.repo_dir, "scripts", BASELINE_NAME))
    designs = env.valid_designs()
    if not designs:
        _say_err("no design has both a server and a client yet")
        return 1
    if opts.designs:
        # --designs: those alone (and an asked --ref design), in number order.
        want = set(opts.designs) | ({cs.ref_asked} if cs.ref_asked != BASELINE else set())
        designs = [nn for nn in designs if nn in want]
    if not _size(cs, designs, opts, env):
        _say_err("compare: no design could be built and sized: " + "; ".join(cs.bad))
        return 1
    cs.common, limiter, cs.runs = plan(cs.caps)
    cs.limiter = limiter or ""
    cs.workloads = list(opts.workloads) or [workloads.PINGPONG]
    takes = getattr(env, "takes", None)
    for w in cs.workloads:
        if w.args and takes:
            cs.skip[w.name] = {nn: why for nn in cs.caps for why in [takes(nn, w)] if why}
    # Each workload's reference among the runs it has: a design left out of
    # it (its client lacks the flag, its server does not push) is none.
    extra = []
    for w in cs.workloads:
        cs.refs[w.name], more = references(cs.wl_runs(w), cs.ref_asked, cs.caps, cs.bcap, w.shape)
        extra += [r for r in more if r not in extra and r[0] not in cs.skip.get(w.name, {})]
    cs.runs += extra
    for w in cs.workloads:
        rows = cs.rows[w.name] = {}
        for c, (name, _) in cs.refs[w.name].items():
            rows.setdefault(c, {})
            if name:
                rows[c][name] = [None] * cs.rounds
        for nn, c in cs.wl_runs(w):
            rows.setdefault(c, {}).setdefault(nn, [None] * cs.rounds)
    _print_plan(cs, opts, env)
    try:
        for rnd in range(1, cs.rounds + 1):
            _round(cs, rnd, opts, env)
    except KeyboardInterrupt:
        # Ctrl-C (or run.py's TERM): keep what the rounds so far measured.
        if not env.dry_run:
            doc = _document(cs, opts, env)
            doc["interrupted"] = True
            print(f"\n{PROG}: compare stopped; the rounds so far: {write(doc, env.results_dir)}",
                  file=sys.stderr)
        raise
    if not env.dry_run:
        if cs.summaries:
            print(f"\ncompare {cs.set_id}:")
            print(env.table(cs.summaries))
        doc = _document(cs, opts, env)
        print(tables(doc))
        print(f"\nfigures: {write(doc, env.results_dir)}")
        if cs.summaries:
            print(f"scripts/report regenerates the README table and {env.results_dir}/summary.svg")
    if cs.failed:
        _say_err(f"compare: {len(cs.failed)} of {cs.n_runs} runs did not pass:")
        print("".join(f"  {f}\n" for f in cs.failed), end="", file=sys.stderr)
    if cs.ref_failed:
        _say_err(f"compare: the reference did not pass {len(cs.ref_failed)} time(s):")
        print("".join(f"  {f}\n" for f in cs.ref_failed), end="", file=sys.stderr)
    return 1 if cs.failed or cs.ref_failed or cs.bad else 0


def _size(cs, designs, opts, env):
    """Build and size every design, and the bare pair; False if no design
    is left to run."""
    for nn in designs:
        if not env.build(nn):
            cs.bad.append(f"{nn}: make failed")
            continue
        cap = env.cap(nn)
        if cap is None:
            cs.bad.append(f"{nn}: cannot size it")
            continue
        cs.caps[nn], cs.capwhy[nn] = cap
        if opts.max_conns and opts.max_conns < cs.caps[nn]:
            cs.caps[nn], cs.capwhy[nn] = opts.max_conns, "--max-conns"
        cs.names[nn] = env.dir_of(nn)
    cs.names[BASELINE] = BASELINE_NAME
    if opts.build and not env.dry_run:
        subprocess.run(["make", "-s", "-C", env.repo_dir, "scripts/" + BASELINE_NAME],
                       stdin=subprocess.DEVNULL, check=False)
    cs.bcap, cs.bwhy = baseline_cap()
    if not os.access(cs.binary, os.X_OK):
        cs.bcap, cs.bwhy = 0, f"scripts/{BASELINE_NAME} is not built (make scripts/{BASELINE_NAME})"
    if cs.ref_asked != BASELINE and cs.ref_asked not in cs.caps:
        cs.bad.append(f"--ref {cs.ref_asked}: not built or not sized; the reference falls back")
    return bool(cs.caps)


def _print_plan(cs, opts, env):
    """The plan and its time (every round's runs and the bare pair's), first."""
    base_counts = [c for refs in cs.refs.values() for c, (name, _) in refs.items() if name == BASELINE]
    total = cs.rounds * (sum(env.estimate(c) for w in cs.workloads for _, c in cs.wl_runs(w)) +
                         sum(env.estimate(c) for c in base_counts))
    print(f"compare {cs.set_id}: {cs.n_runs} runs, about {(total + 59) // 60} min")
    if cs.limiter:
        nn = cs.limiter
        print(f"  every design at {fmt_int(cs.common)} connections, not {fmt_int(COMMON_CONNS)}: "
              f"{cs.names[nn]} holds at most {fmt_int(cs.caps[nn])} here, limited by {cs.capwhy[nn]}")
    else:
        print(f"  every design at {fmt_int(cs.common)} connections (all of them hold that here)")
    scale = [nn for nn in SCALE_DESIGNS if nn in cs.caps]
    if opts.designs:
        print(f"  only the designs asked (--designs {','.join(opts.designs)})")
    if scale:
        print(f"  then {', '.join(scale)} at {fmt_list(SCALE_CONNS)}, each only up to its cap:")
    counts = {}
    for nn, c in cs.runs:
        counts.setdefault(nn, set()).add(c)
    for nn in cs.caps:
        print(f"  {cs.names[nn]:<24} {fmt_list(sorted(counts[nn])):<36} "
              f"(cap {fmt_int(cs.caps[nn])}: {cs.capwhy[nn]})")
    for d in cs.bad:
        print(f"  not run: {d}")
    if cs.workloads != [workloads.PINGPONG]:
        print(f"  workloads: {', '.join(w.name for w in cs.workloads)}: each runs this plan, "
              "one table each (client " + "; ".join(
                  f"{w.name}: {' '.join(w.args) or 'as it is'}" for w in cs.workloads) + ")")
        for w in cs.workloads:
            for nn, why in cs.skip.get(w.name, {}).items():
                print(f"  not run for {w.name}: {cs.names[nn]} ({why})")
    _print_references(cs, opts)
    if cs.rounds > 1:
        print(f"  {cs.rounds} rounds of {cs.n_runs // cs.rounds} runs, interleaved: round 1 runs every "
              f"design at every count once, then round 2, ...")


def _round(cs, rnd, opts, env):
    """Round rnd: every (design, count) once, in the plan's order, the bare
    pair before the first run at each count it is the reference of."""
    if cs.rounds > 1:
        print(f"\ncompare: round {rnd}/{cs.rounds} of set {cs.set_id}", flush=True)
    in_round = f", round {rnd}" if cs.rounds > 1 else ""
    plain = cs.workloads == [workloads.PINGPONG]
    for w in cs.workloads:
        refs, rows = cs.refs[w.name], cs.rows[w.name]
        what = "" if plain else f" {w.name}"
        base_done = set()
        for nn, c in cs.wl_runs(w):
            ref = refs[c][0]
            if ref == BASELINE and c not in base_done:
                base_done.add(c)
                e = _run_reference(cs, c, rnd, opts, env, w)
                rows[c][BASELINE][rnd - 1] = e
                if e and e["rc"] != 0:
                    cs.ref_failed.append(f"{BASELINE_NAME} at {fmt_int(c)}{in_round}: {e['why']}")
            cs.done += 1
            print(f"\ncompare: {cs.done}/{cs.n_runs} {cs.names[nn]}{what} at {fmt_int(c)} connections "
                  f"(set {cs.set_id})", flush=True)
            tags = {"set_id": cs.set_id, "round": rnd, "rounds": cs.rounds, "reference": ref or "",
                    "workload": w}
            rc, summ, path = env.run_one(nn, c, tags)
            if summ is not None:
                cs.summaries.append(summ)
            if rc == 2:
                cs.failed.append(f"{nn}{what} at {fmt_int(c)}{in_round}: refused")
            elif rc != 0:
                cs.failed.append(f"{nn}{what} at {fmt_int(c)}{in_round}: failed")
            if not env.dry_run:
                e = {"rc": rc, "result": path}
                for k in ENTRY_KEYS:
                    e[k] = (summ or {}).get(k)
                rows[c][nn][rnd - 1] = e


def _document(cs, opts, env):
    """figures() and the set's own facts: compare-<set>.json's content."""
    doc = figures_by_workload(cs.set_id, cs.rounds, cs.rows, cs.refs, cs.names)
    doc.update({"started": cs.started, "finished": _utc("%Y-%m-%dT%H:%M:%SZ"),
                "reference_asked": cs.ref_asked, "duration_s": cs.secs,
                "command": list(opts.argv), "common_conns": cs.common,
                "baseline_cap": {"conns": cs.bcap, "why": cs.bwhy}, "not_run": cs.bad})
    doc["provenance"], doc["machine"] = _from_record(env.repo_dir)
    return doc


def _print_references(cs, opts):
    """The plan's lines on the reference: which one at which counts, and why."""
    by = {}
    for refs in cs.refs.values():
        for c in sorted(refs):
            if c not in by.setdefault(refs[c], []):
                by[refs[c]].append(c)
    for (name, why), counts in by.items():
        where = fmt_list(counts)
        if name == BASELINE:
            print(f"  reference at {where}: scripts/{BASELINE_NAME} ({why}; it holds at most "
                  f"{fmt_int(cs.bcap)} here: {cs.bwhy}), in every round")
        elif name:
            print(f"  reference at {where}: {cs.names[name]} ({why}), in every round")
        else:
            print(f"  no reference at {where}: {why}; no ratios there")
    if any(n == BASELINE for refs in cs.refs.values() for n, _ in refs.values()):
        notes = []
        if opts.netns == "1":
            notes.append("in this namespace, not the runs' own")
        spin, cpin = _pins(opts.pin)
        if spin:
            notes.append(f"pinned as the runs are: server on CPUs {spin}, client on {cpin}")
        if notes:
            print(f"  ({BASELINE_NAME} runs " + ", ".join(notes) + ")")


def _run_reference(cs, conns, rnd, opts, env, w=None):
    """The bare pair at conns in round rnd (for workload w: churn runs its
    accept/echo/close loop with w's lifetime and close): printed, run
    unless dry."""
    churn = w is not None and w.shape == "churn"
    words = [str(w.params["lifetime"])] + (["rst"] if w.params.get("close") == "rst" else []) \
        if churn else []
    print(f"\ncompare: reference {BASELINE_NAME}{' ' + w.name if churn else ''} at "
          f"{fmt_int(conns)} connections, round {rnd} of {cs.rounds}", flush=True)
    print(f"  scripts/{BASELINE_NAME} server PORT; "
          f"scripts/{BASELINE_NAME} client PORT {conns} {cs.secs:g}" + "".join(" " + x for x in words))
    if env.dry_run:
        return None
    if churn:
        rc, figs, why = run_baseline_churn(cs.binary, conns, cs.secs, w.params["lifetime"],
                                           w.params.get("close") == "rst", opts.pin)
        figs = figs or {}
        print(f"  {BASELINE_NAME}: " + (
            f"{fmt_int(figs['conns_opened_per_s'])} connections opened/s, {fmt_int(figs['rps'])} "
            f"round trips/s" if rc == 0 else f"FAILED: {why}"), flush=True)
        return {"rc": rc, "rps": figs.get("rps"), "conns_opened_per_s": figs.get("conns_opened_per_s"),
                "connect_errors": figs.get("connect_errors"), "p99_us": None,
                "server_us_per_rt": None, "result": None, "why": why}
    rc, rps, why = run_baseline(cs.binary, conns, cs.secs, opts.pin)
    print(f"  {BASELINE_NAME}: " + (f"{fmt_int(rps)} round trips/s" if rc == 0 else f"FAILED: {why}"),
          flush=True)
    return {"rc": rc, "rps": rps, "p99_us": None, "server_us_per_rt": None, "result": None,
            "why": why}


def write(doc, results_dir):
    """compare-<set>.json in results_dir, numbers at full precision."""
    os.makedirs(results_dir, exist_ok=True)
    path = os.path.join(results_dir, doc["set"] + ".json")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)
    return path
