"""scripts/perf-top [-n TOP] DIR [DIR2] - where the CPU went, per round trip
(or per connection, for a ramp).

DIR is what run.sh --perf left: RUN/window (the measuring window's inside)
or RUN/ramp (the connects), each with perf.data (perf record -a -g),
stat.txt (perf stat -a) and "window": the unit, and either the rate
(round trips/s, by the server's count over the window when it gave one) or,
for a ramp, the count (the connections made while it was recorded). Every
sample is CPU time (cpu-clock), so a function's samples over the units done
in the samples' span (perf's first to last sample) are its microseconds
per unit:

  us per unit = sum of its sample periods (ns) / 1000 / (rate * span, or count)

One DIR: each process's total, then the TOP (default 25) functions, with
the process that ran them (softirq work shows under the process it
interrupted, or ksoftirqd). Beside the samples, the kernel's own count of
each busy process's CPU over the same seconds (DIR/cpu0 and cpu1, every
thread's ticks as perf-window.sh found them as the recording began and
ended), and the share of it the samples hold: near 100% when the samples
can be trusted. Two: both columns and the difference, sorted by
what grew most from DIR to DIR2 - e.g. 1K then 1M. Then each DIR's perf
stat counts per unit.

Bad arguments: one line on stderr, exit 2; no perf, or no samples: exit 1.
"""
import os
import re
import subprocess
import sys

PROG = "scripts/perf-top"
USAGE = "usage: %s [-n TOP] DIR [DIR2]" % PROG


class PerfError(Exception):
    """One line for the user (without the program's name) and the exit code."""

    def __init__(self, msg, code=2):
        super().__init__(msg)
        self.code = code


# ---- reading what run.sh --perf left ----

def read_window(d):
    """DIR/window as {"unit": str, "rate": str or "", "count": str or ""}
    (the last line of each key; numbers kept as written)."""
    w = {"unit": "", "rate": "", "count": ""}
    with open(os.path.join(d, "window")) as f:
        for line in f:
            parts = line.split(None, 1)
            if parts and parts[0] in w:
                w[parts[0]] = parts[1].strip() if len(parts) > 1 else ""
    return w


def process_name(comm):
    """A thread's comm as its process: threads of one process and per-CPU
    kernel threads count as one; swapper is "idle"."""
    comm = re.sub(r"/[0-9A-Za-z]+(:[0-9A-Za-z]+)?(-.*)?$", "", comm, count=1)
    comm = re.sub(r"-[0-9]+$", "", comm, count=1)
    return "idle" if comm == "swapper" else comm


def parse_report_line(line):
    """One line of `perf report -F period,comm,dso,sym -t '|'` as (process,
    sym, period_ns), or None."""
    f = line.rstrip("\n").split("|")
    if len(f) < 4:
        return None
    comm = process_name(f[1].rstrip(" "))
    sym = re.sub(r"^\[[k.]\] ", "", f[3], count=1).rstrip(" ")
    m = re.match(r"\s*[-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?", f[0])
    return comm, sym, float(m.group(0)) if m else 0.0


def read_cpu(d, hz=None):
    """DIR/cpu0 and cpu1 (perf-window.sh's cpu_snap) as {"s": the seconds
    between them, "cpu": {process: CPU seconds}}, or None without them.
    A thread in only one of them (started or ended between) is left out."""
    snaps = []
    for n in ("cpu0", "cpu1"):
        t, ticks = None, {}
        try:
            with open(os.path.join(d, n), errors="replace") as f:
                for line in f:
                    w = line.rstrip("\n").split(" ", 2)
                    if w[0] == "t" and len(w) == 2:
                        t = _num(w[1])
                    elif len(w) == 3 and w[0].isdigit() and w[1].isdigit():
                        ticks[w[0]] = (int(w[1]), process_name(w[2]))
        except OSError:
            return None
        if t is None:
            return None
        snaps.append((t, ticks))
    (t0, a), (t1, b) = snaps
    hz = hz or os.sysconf("SC_CLK_TCK")
    cpu = {}
    for tid, (n1, comm) in b.items():
        if tid in a and a[tid][1] == comm:
            cpu[comm] = cpu.get(comm, 0.0) + (n1 - a[tid][0]) / hz
    return {"s": t1 - t0, "cpu": cpu} if t1 > t0 else None


def parse_header(text):
    """(span_s or None, online CPUs) from `perf report --header-only`."""
    span, ncpu = None, 0
    for line in text.splitlines():
        w = line.split()
        if "sample duration" in line and len(w) >= 2:
            try:
                s = float(w[-2]) / 1000
            except ValueError:
                continue
            span = s if s > 0 else None
        elif "nrcpus online" in line and w:
            try:
                ncpu = int(w[-1])
            except ValueError:
                pass
    return span, ncpu


def _perf(args):
    return subprocess.run(["perf"] + args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          universal_newlines=True, errors="replace").stdout


def load(d):
    """One DIR for report(): its window, span, CPUs and samples (runs perf)."""
    w = read_window(d)
    span, ncpu = parse_header(_perf(["report", "-i", os.path.join(d, "perf.data"), "--header-only"]))
    if span is None:
        raise PerfError("%s/perf.data has no samples" % d, 1)
    text = _perf(["report", "-i", os.path.join(d, "perf.data"), "--stdio", "--no-children",
                  "--sort", "comm,dso,sym", "-g", "none", "-F", "period,comm,dso,sym", "-q",
                  "-t", "|"])
    samples = [s for s in map(parse_report_line, text.splitlines()) if s]
    return {"dir": d, "span": span, "ncpu": ncpu, "rate": w["rate"], "count": w["count"],
            "samples": samples, "cpu": read_cpu(d)}


# ---- the arithmetic (pure) ----

def _num(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return 0.0


def units_done(run):
    """Units done in the samples' span: the count, else rate * span."""
    return _num(run["count"]) if run["count"] != "" else run["span"] * _num(run["rate"])


def kernel_count(r, p, k):
    """The line that sets the kernel's count of the busiest processes (up to
    4, each over 5% of the busy CPU) beside their samples (p: process ->
    samples' us per unit, column k), or "" without the count."""
    c = r.get("cpu")
    if not c:
        return ""
    units = _num(r["count"]) if r["count"] != "" else c["s"] * _num(r["rate"])
    busy = sum(c["cpu"].values())
    if units <= 0 or busy <= 0:
        return ""
    big = sorted((q for q in c["cpu"] if c["cpu"][q] > 0.05 * busy), key=lambda q: (-c["cpu"][q], q))
    us = lambda q: c["cpu"][q] * 1e6 / units
    each = ", ".join("%s %.2f (samples %.0f%%)" % (q, us(q), 100 * p.get(q, [0.0, 0.0])[k] / us(q))
                     for q in big[:4])
    return "  kernel's count over the same %.2f s, us/%s: %s" % (
        c["s"], "conn" if r["count"] != "" else "rt", each)


def report(runs, unit, top=25):
    """The text of perf-top over runs (load()'s dicts, one or two)."""
    u = "us/conn" if unit == "connection" else "us/rt"
    unit = "connection" if unit == "connection" else "round trip"
    two = len(runs) == 2
    out = []
    f, p = {}, {}           # (comm, sym) / comm -> [us in run 1, us in run 2]
    for k, r in enumerate(runs):
        rts = units_done(r)
        rps = rts / r["span"]
        ns = sum(s[2] for s in r["samples"])
        total = 0.0
        for comm, sym, period in r["samples"]:
            us = period / 1000 / rts
            f.setdefault((comm, sym), [0.0, 0.0])[k] += us
            p.setdefault(comm, [0.0, 0.0])[k] += us
            total += us
        out.append("%s %s: %.1f s at %.0f %ss/s = %.0f %ss; %.2f us of CPU each"
                   % ("AB"[k], r["dir"], r["span"], rps, unit, rts, unit, total))
        # Samples are CPU time: all of it, idle included, should add up to
        # the CPUs times the span. On a VM, timer samples can go missing in
        # stretches: say how many did.
        cov = ns / 1e9 / (r["ncpu"] * r["span"]) if r["ncpu"] > 0 else 0
        out.append("  coverage %.1f%% (the samples hold %.2f of %d CPUs x %.2f s)"
                   % (100 * cov, ns / 1e9, r["ncpu"], r["span"]))
        if cov < 0.95:
            out.append("  warning: perf missed %.0f%% of the CPU time; the us figures are low by up to that"
                       % (100 * (1 - cov)))
        kc = kernel_count(r, p, k)
        if kc:
            out.append(kc)
    out.append("")
    hdr = "%10s %10s %10s" % ("A " + u, "B " + u, "B - A") if two else "%10s" % u
    out.append("%-14s %-40s %s" % ("process", "total", hdr))

    def row(name, what, v):
        if two:
            return "%-14s %-40s %10.3f %10.3f %+10.3f" % (name, what, v[0], v[1], v[1] - v[0])
        return "%-14s %-40s %10.3f" % (name, what, v[0])

    for q in sorted(p, key=lambda q: (-(p[q][1] if two else p[q][0]), q)):
        out.append(row(q, "", p[q]))
    out.append("")
    out.append("%-14s %-40s %s" % ("process", "function", hdr))
    keys = [q for q in f if q[0] != "idle"]
    keys.sort(key=lambda q: (-(f[q][1] - f[q][0] if two else f[q][0]), q))
    for q in keys[:top]:
        out.append(row(q[0], q[1][:40], f[q]))
    return "\n".join(out) + "\n"


def stat_report(d, text, unit, rate, count, ncpu):
    """perf stat's counts per unit over the time perf stat itself counted,
    which its task-clock says (CPU time of all CPUs, so / CPUs: its events
    may have been off part of its life); "<not supported>": no such counter."""
    out = ["", "perf stat, %s (per %s):" % (d, unit)]
    el, vals, nots = 0.0, [], []
    for line in text.splitlines():
        w = line.split()
        if len(w) >= 3 and w[1] == "msec" and w[2] == "task-clock":
            el = _num(w[0].replace(",", "")) / 1000 / ncpu if ncpu else 0.0
        if "not supported" in line and len(w) >= 3:
            nots.append(w[2])
        if len(w) >= 2 and re.match(r"^[0-9.,]+$", w[0]) and w[1] != "seconds":
            v = _num(w[0].replace(",", ""))
            vals.append((w[2] + " (us)", v * 1000) if w[1] == "msec" and len(w) >= 3 else (w[1], v))
    units = _num(count) if count != "" else _num(rate) * el   # a ramp: stat counted it all
    for name, v in vals:
        out.append("  %-24s %12.4f" % (name, v / units) if units else "  %-24s %12s" % (name, "-"))
    for name in nots:
        out.append("  %-24s not supported on this machine" % name)
    return "\n".join(out) + "\n"


# ---- perf-top and run.sh --perf ----

def check_dirs(dirs):
    """The DIRs' windows, or PerfError as perf-top refuses them."""
    if not 1 <= len(dirs) <= 2:
        raise PerfError(USAGE)
    ws = []
    for d in dirs:
        ok = all(os.path.isfile(os.path.join(d, n)) and os.path.getsize(os.path.join(d, n)) > 0
                 for n in ("perf.data", "window"))
        if not ok:
            raise PerfError("%s has no perf.data and window (made by ./run.sh ... --perf RUN: "
                            "RUN/window, RUN/ramp)" % d)
        w = read_window(d)
        with open(os.path.join(d, "window")) as f:
            if not re.search(r"^(rate|count) [0-9.]*[1-9]", f.read(), re.M):
                raise PerfError("%s/window has no rate or count: the run did not finish" % d)
        ws.append(w)
    if len(ws) == 2 and ws[0]["unit"] != ws[1]["unit"]:
        raise PerfError("%s and %s count different units: compare a window with a window"
                        % (dirs[0], dirs[1]))
    return ws


def top(dirs, top=25):
    """scripts/perf-top's text for DIR [DIR2]; PerfError if it refuses."""
    if not 1 <= len(dirs) <= 2:
        raise PerfError(USAGE)
    if not _have_perf():
        raise PerfError("perf is not installed", 1)
    ws = check_dirs(dirs)
    runs = [load(d) for d in dirs]
    unit = ws[0]["unit"]
    text = report(runs, unit, top)
    uname = "connection" if unit == "connection" else "round trip"
    for d, r in zip(dirs, runs):
        try:
            with open(os.path.join(d, "stat.txt"), errors="replace") as f:
                st = f.read()
        except OSError:
            st = ""
        text += stat_report(d, st, uname, r["rate"], r["count"], r["ncpu"])
    return text


def _have_perf():
    return any(os.access(os.path.join(p, "perf"), os.X_OK)
               for p in os.environ.get("PATH", "").split(os.pathsep) if p)


def after_run(perf_dir, rps):
    """run.sh --perf after the table: the window's rate (rps: the server's
    window round trips/s when it gave one, else the client's) into
    DIR/window/window, DIR/window/top.txt and DIR/ramp/top.txt; returns the
    text to print (the header and the first 12 functions of the window)."""
    win = os.path.join(perf_dir, "window")
    with open(os.path.join(win, "window"), "a") as f:
        f.write("rate %s\n" % rps)
    try:
        text = top([win])
    except PerfError as e:
        return "run.sh: no profile of the window: scripts/perf-top: %s\n" % e
    with open(os.path.join(win, "top.txt"), "w") as f:
        f.write(text)
    ramp = os.path.join(perf_dir, "ramp")
    rw = os.path.join(ramp, "window")
    if os.path.isfile(rw) and os.path.getsize(rw) > 0:
        try:
            with open(os.path.join(ramp, "top.txt"), "w") as f:
                f.write(top([ramp]))
        except PerfError as e:
            text += "run.sh: no profile of the ramp: scripts/perf-top: %s\n" % e
    out = ["", "profile of the window (%s/top.txt, and of the ramp in %s/top.txt):" % (win, ramp)]
    lines = text.splitlines()
    at = next((i for i, l in enumerate(lines) if re.match(r"^process *function", l)), len(lines))
    out += lines[:at + 1] + lines[at + 1:at + 13]
    return "\n".join(out) + "\n"


def main(argv):
    n = 25
    if argv[:1] == ["-n"]:
        if len(argv) < 2 or not re.match(r"^[1-9][0-9]*$", argv[1]):
            print("%s: -n wants a count, e.g. -n 30" % PROG, file=sys.stderr)
            return 2
        n, argv = int(argv[1]), argv[2:]
    if not 1 <= len(argv) <= 2:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        sys.stdout.write(top(argv, n))
    except PerfError as e:
        print("%s: %s" % (PROG, e) if e.code != 2 or str(e) != USAGE else USAGE, file=sys.stderr)
        return e.code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
