"""scripts/report - turn run.sh's results into the README's results tables and
three SVG charts.

usage: scripts/report [--results DIR] [--readme FILE] [--details FILE] [--svg-dir DIR]
                      [--set ID] [--no-readme] [--quick]

  --results DIR   where run.sh wrote NN-<timestamp>.json (default $RESULTS_DIR or results/)
  --readme FILE   the Markdown file whose tables to regenerate (default README.md): the
                  lines between <!-- results:begin --> and <!-- results:end --> are
                  replaced, nothing else is touched. When the set has its
                  compare-<set>.json (./run.sh compare wrote it), that is the
                  ratio table of its rounds: each design's rps median [min-max]
                  and its ratio to the reference measured in the same rounds
  --details FILE  also write the full per-run tables between the same markers
                  in FILE (e.g. docs/results.md); without it, and with a
                  compare-<set>.json, the README gets only the ratio table
  --svg-dir DIR   where the charts go (default: the results directory):
                    summary.svg     per connection count, round trips/s and memory per
                                    connection of the closed-loop designs at that count
                    scaling.svg     rps, server CPU per round trip and memory per
                                    connection against connections (log axis) for
                                    03, 06, 07, 08 and 14
                    fixed-rate.svg  the fixed-rate designs (01, 02): memory and CPU per
                                    connection, never rps
  --svg FILE      the same, with summary.svg named FILE (the other two beside it)
  --set ID        the runs of one `./run.sh compare` (their summary "set" is ID); with
                  its compare-ID.json in --results but none of its runs, the README
                  tables come from that file alone
  --no-readme     only write the charts
  --quick         include --quick smoke runs (left out by default)

Which runs: by default the newest complete `./run.sh compare` set (every
design directory here has a run in it; the newest set if none is
complete). Without any compare set, each row is the newest passing run of
its design, client, variant (-S/-C arguments), size and namespace choice,
as they come. The text above the tables says which of the two it used.
A run of clients on several hosts (`./run.sh NN --hosts`, its summary has
"hosts" >= 2) is one row, "<design>, N hosts", with the merged figures and
each host's client CPU; compare never makes one, so such runs (the newest
of each design, size and host count) stand beside the set's rows in their
connection count's table, said so above the tables; --set ID shows that
set alone. They are left out of the scaling chart (another client setup).
Rows are grouped by connection count; a design that runs at a fixed rate
(-r, 01 and 02) shows its rate, not a round-trip rate to compete on.
A set run with --workload (one or several) gets one table per workload
and count in the README, each with its shape's columns: connections
opened/s, connect p99 and server CPU per connection for churn; delivery
p50/p99/max, fan-out, server CPU per push, pushes missing and slow
consumers dropped for push; and so on (compare.SHAPE_TABLES).

Every file is read with schema.load(), old (version 1) and new alike.
"""
import glob
import json
import os
import re
import sys
import tempfile

from . import charts, schema
from .charts import fmt_us, fnum, hosts_of, label, machine_line, mem_total, rate_of, sval, val
from .fmt import fmt_bytes, fmt_int, fmt_lat

PROG = "scripts/report"
USAGE = ("usage: %s [--results DIR] [--readme FILE] [--details FILE] [--svg-dir DIR] [--set ID] "
         "[--no-readme] [--quick]" % PROG)
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
# The original Go suite, 1M connections on 2x E5-2630 v4 (40 threads):
# round trips/s and mean latency, as its README published them.
GO = {"01": "202,830 / 4.9 s", "03": "42,402 / 0.8 s", "04": "42,495 / 23 s",
      "06": "197,814 / 0.9 s", "07": "444,415 / 1.5 s", "08": "190,022 / 0.3 s"}


class Bad(Exception):
    """Bad arguments: one line, the synopsis, exit 2."""


class Fail(Exception):
    """A failure with a message: exit 1, nothing written."""


def parse(argv, env):
    o = {"dir": env.get("RESULTS_DIR") or "results", "readme": "README.md", "svgdir": "",
         "svg1": "", "write_readme": True, "quick": False, "set": "", "details": ""}
    i = 0
    while i < len(argv):
        a = argv[i]
        takes = {"--results": ("dir", "--results needs a directory"),
                 "--readme": ("readme", "--readme needs a file"),
                 "--details": ("details", "--details needs a file"),
                 "--svg-dir": ("svgdir", "--svg-dir needs a directory"),
                 "--svg": ("svg1", "--svg needs a file"),
                 "--set": ("set", "--set needs a set id (compare-...)")}
        if a in takes:
            key, msg = takes[a]
            if i + 1 >= len(argv) or (a == "--set" and argv[i + 1] == ""):
                raise Bad(msg)
            o[key] = argv[i + 1]
            i += 1
        elif a == "--no-readme":
            o["write_readme"] = False
        elif a == "--quick":
            o["quick"] = True
        elif a in ("-h", "--help"):
            o["help"] = True
        else:
            raise Bad("unknown argument '%s'" % a)
        i += 1
    if o["svgdir"] and o["svg1"]:
        raise Bad("--svg and --svg-dir: give one")
    return o


def load_runs(d, warn):
    """[(summary, machine, command, file name, per-host client CPU list)]
    of every NN-*.json in D that loads, in file-name order."""
    runs = []
    for path in sorted(glob.glob(os.path.join(glob.escape(d), "[0-9][0-9]-*.json"))):
        try:
            doc = schema.load(path)
        except (OSError, ValueError) as e:
            warn("%s: skipped: %s" % (PROG, e))
            continue
        c = doc.get("client") or {}
        hc = [h.get("cpu_window_pct") for h in c.get("per_host") or [] if isinstance(h, dict)] \
            if isinstance(c.get("per_host"), list) else []
        runs.append((doc["summary"], doc.get("machine") or {}, doc.get("command") or "",
                     os.path.basename(path), hc))
    return runs


def designs_here(root):
    return sorted(os.path.basename(p)[:2] for p in glob.glob(os.path.join(root, "[0-9][0-9]_*"))
                  if os.path.isfile(os.path.join(p, "server.c")))


def quick_of(s):
    return fnum(s, "quick") == 1


def pick_set(runs, want, quick, designs):
    """(the set to use or "", {set: runs}, {set: missing designs}); raises
    Fail for an unknown --set."""
    last, has, count = {}, {}, {}
    for s, *_ in runs:
        st = sval(s, "set")
        if st == "":
            continue
        if st != want and quick_of(s) and not quick:
            continue
        started = sval(s, "started")
        if st not in last or started > last[st]:
            last[st] = started
        has.setdefault(st, set()).add(sval(s, "nn"))
        count[st] = count.get(st, 0) + 1
    missing = {st: [d for d in designs if d not in has[st]] for st in last}
    if want:
        if want not in last:
            raise Fail("--set %s: no run has that set (sets here: %s)"
                       % (want, " ".join(last) if last else "none"))
        return want, count, missing
    best = bestc = ""
    for st in last:
        if not missing[st] and (bestc == "" or last[st] > last[bestc]):
            bestc = st
        if best == "" or last[st] > last[best]:
            best = st
    return (bestc or best), count, missing


class Picked:
    """The rows report shows and what the text above them says."""

    def __init__(self):
        self.rows = []          # (summary, machine, command, file, host cpus)
        self.failed = []
        self.multi = 0
        self.multi_beside = 0


def take_rows(runs, used, want, quick):
    """The newest passing run of each design, client, variant, size,
    namespace choice and host count, from the set when there is one;
    beside the set (no --set given), the newest multi-host runs. A set of
    several rounds has several runs of each: the row is the one whose rps
    is the median of them (the lower middle for an even count)."""
    p, row, keys, rounds = Picked(), {}, [], {}
    for r in runs:
        s = r[0]
        in_set = used != "" and sval(s, "set") == used
        if used != "" and not in_set and not (want == "" and hosts_of(s) > 1):
            continue
        if not in_set and quick_of(s) and not quick:
            continue
        if sval(s, "status") != "ok":
            if in_set:
                p.failed.append("%s at %s connections (%s)" % (label(s), fmt_int(fnum(s, "conns_target")), r[3]))
            continue
        key = (sval(s, "nn"), sval(s, "client"), sval(s, "variant"), sval(s, "conns_target"),
               sval(s, "netns"), hosts_of(s), sval(s, "workload") or "pingpong")
        if in_set:
            rounds.setdefault(key, []).append(r)
        if key in row and sval(row[key][0], "started") > sval(s, "started"):
            continue
        if key not in row:
            keys.append(key)
        row[key] = r
        if hosts_of(s) > 1:
            p.multi += 1
            if used != "" and not in_set:
                p.multi_beside += 1
    for k, rs in rounds.items():
        rs = sorted(rs, key=lambda r: fnum(r[0], "rps"))
        row[k] = rs[(len(rs) - 1) // 2]
    p.rows = sorted((row[k] for k in keys),
                    key=lambda r: (fnum(r[0], "conns"), sval(r[0], "nn"), label(r[0])))
    return p


# ---- the table ----

def rps_cell(s):
    r = rate_of(s)
    if not r:
        return fmt_int(fnum(s, "rps"))
    cell = fmt_int(r) + "/s, rate-limited"
    a = val(s, "rate_achieved")
    if a is not None and float(a) < 0.98 * r:
        cell += ", achieved " + fmt_int(a) + "/s"
    if fnum(s, "dropped") > 0:
        cell += ", " + fmt_int(fnum(s, "dropped")) + " dropped"
    return cell


def first_round(x):
    if x is None:
        return "-"
    x = float(x)
    return "never" if x < 0 else ("%.2f s" if x < 1 else "%.1f s") % x


def pct(x):
    return "-" if x is None else "%.0f%%" % float(x)


def cpu_cell(r):
    s, hc = r[0], r[4]
    if hosts_of(s) < 2 or len(hc) < 2:
        a, b = val(s, "client_cpu_window_pct"), val(s, "server_cpu_window_pct")
        return "-" if a is None and b is None else pct(a) + " / " + pct(b)
    return " + ".join(pct(h) for h in hc) + " / " + pct(val(s, "server_cpu_window_pct"))


def table_text(p, used, count, missing, imgs):
    out = []
    w = out.append
    if not p.rows:
        return "No results yet: run `./run.sh compare`, then `scripts/report`.\n"
    if used:
        w("From one `./run.sh compare` (set `%s`, %d runs): every design at one connection\n" % (used, count[used]))
        w("count all of them can hold, and the designs that scale also at the other counts.\n")
        w("Where it ran each design several times (`-r`), a row is the round with the median rps.\n")
        if missing.get(used):
            w("This set is incomplete: no run of %s (an interrupted compare?).\n" % " ".join(missing[used]))
    else:
        w("No `./run.sh compare` results here: each row is the newest passing run of its design,\n")
        w("size and variant, so rows may come from different days and loads.\n")
    w("Grouped by connection count: compare rows within a group. rps: round trips per second\n")
    w("over the client's measuring window; a fixed-rate run (01, 02) shows its rate instead.\n")
    w("CPU µs/rt: a process's CPU (user + system) over the window per round trip. Memory per\n")
    w("connection: server RSS + kernel (Slab growth, both ends). CPU: over the window, 100% =\n")
    w("one core busy. First round: until every connection had its first reply. \"-\": not recorded.\n")
    if p.multi:
        w("\"N hosts\": one run whose clients ran on N machines at once (`./run.sh NN --hosts`), one row:\n"
          "round trips and rps summed, latency from their histograms merged bucket by bucket, client CPU\n"
          "per host (100%% = one of its cores)%s.\n" % ("; shown beside the set, not part of it" if p.multi_beside else ""))
    w("\n")
    w("![round trips per second and memory per connection, per connection count](%s)\n" % imgs[0])
    w("![rps, server CPU per round trip and memory per connection against connections](%s)\n" % imgs[1])
    w("![the fixed-rate designs: memory and CPU per connection](%s)\n" % imgs[2])
    prev = None
    for r in p.rows:
        s = r[0]
        c = fnum(s, "conns")
        if c != prev:
            w("\n#### %s connections\n\n" % fmt_int(c))
            w("| design | rps | p50 | p99 | server CPU µs/rt | client CPU µs/rt | memory/conn | server RSS/conn "
              "| kernel/conn | CPU client/server | first round | bottleneck |%s\n"
              % (" Go (1M, 40 threads) |" if c == 1000000 else ""))
            w("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|%s\n" % ("--:|" if c == 1000000 else ""))
            prev = c
        line = "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            label(s), rps_cell(s), fmt_lat(val(s, "p50_us")), fmt_lat(val(s, "p99_us")),
            fmt_us(val(s, "server_us_per_rt")), fmt_us(val(s, "client_us_per_rt")),
            fmt_bytes(mem_total(s)), fmt_bytes(val(s, "server_rss_b_per_conn")),
            fmt_bytes(val(s, "kernel_b_per_conn")), cpu_cell(r),
            first_round(val(s, "first_round_s")), sval(s, "bottleneck"))
        if c == 1000000:
            nn = sval(s, "nn")
            line += " %s |" % (GO[nn] if nn in GO and sval(s, "variant") == "" else "-")
        w(line + "\n")
    if p.failed:
        w("\nDid not pass in this set: %s.\n" % "; ".join(p.failed))
    first = last = pin = ""
    m = {}
    cmds = []
    for s, mach, cmd, _, _ in p.rows:
        d = sval(s, "started")[:10]
        if first == "" or d < first:
            first = d
        if d > last:
            last, m = d, mach
        if pin == "" and sval(s, "pin_server") != "":
            pin = "server pinned to CPUs %s, client to %s" % (sval(s, "pin_server"), sval(s, "pin_client"))
        if cmd and cmd not in cmds:
            cmds.append(cmd)
    w("\nMachine: %s, %s; %s.\n" % (machine_line(m), first if first == last else first + " to " + last,
                                     pin or "client and server share its cores"))
    w("Command%s: %s.\n" % ("s" if len(cmds) > 1 else "", ", ".join("`%s`" % c for c in cmds) if cmds else "unknown"))
    return "".join(out)


def _cell(st, fmt):
    """'median [min-max]' of a stats.summary, the median alone when the
    rounds agree; "-" when no round passed."""
    if not st or st.get("median") is None:
        return "-"
    m, lo, hi = fmt(st["median"]), fmt(st["min"]), fmt(st["max"])
    return m if lo == hi else "%s [%s–%s]" % (m, lo, hi)


def _ratio(v):
    """A ratio with two decimals, or two significant digits below 0.1."""
    return "%.2f" % v if v >= 0.1 or v == 0 else "%.2g" % v


def ratio_text(doc, imgs, details, fixed=None):
    """The README's table from compare-<set>.json: per count, each design's
    rps and its ratio to the reference in the same rounds, with their
    spread, stamped with the set, its date, machine and commit. fixed:
    {design dir: rate} of the designs whose client holds a fixed rate
    (01, 02): their rps is that rate, not a figure to compete on. A set
    of several workloads (compare --workload) gets one table per workload
    and count, each with its shape's columns (compare.SHAPE_TABLES)."""
    from .cli import shq
    from .compare import fmt_cell, shape_table
    fixed = fixed or {}
    out = []
    w = out.append
    rounds = doc.get("rounds") or 1
    prov = doc.get("provenance") or {}
    commit = (prov.get("commit") or "unknown")[:12] + (" (tree with uncommitted changes)" if prov.get("dirty") else "")
    cmd = " ".join(shq(a) for a in doc.get("command") or [])
    wls = doc.get("workloads") or ["pingpong"]
    named = wls != ["pingpong"]
    w("`./run.sh %s` (set `%s`, %d round%s interleaved), %s, commit %s, on %s.\n"
      % (cmd, doc.get("set", "?"), rounds, "s" if rounds != 1 else "", (doc.get("started") or "")[:10],
         commit, machine_line(doc.get("machine"))))
    w("× reference: each round's round trips/s over the reference's in the SAME round, the\n"
      "median of the rounds [their min–max]. **These ratios are what a reader on another\n"
      "machine can compare**; raw rps moves with the machine (2.5× between days on this one).\n"
      "\"within noise of\": the two designs' rounds overlap, so this run does not tell them apart.\n"
      "p50 ≈ connections ÷ rps for a closed-loop design at saturation (Little's law).\n")
    if any(shape_table(x) not in (shape_table("pingpong"), shape_table("pipeline")) for x in wls):
        w("Workloads (`--workload`): in each table the first figure is the one the ratio is of:\n"
          "connections opened/s for churn (reference: `scripts/baseline_pair`'s bare\n"
          "accept/echo/close loop, in the same rounds), the server's CPU µs per push for push (lower\n"
          "is better; delivery p50/p99/max from the client's `push_lat_us`; fan-out: from a\n"
          "broadcast's scheduled time until the last connection had it), round trips/s for the\n"
          "rest; the other columns are the medians of the rounds. Under a workload every design\n"
          "but 04 is driven by 05's client.\n")
    for cnt in doc.get("counts", []):
        rows = cnt.get("rows", [])
        ref = cnt.get("reference")
        wl = cnt.get("workload", "pingpong")
        t = shape_table(wl)
        plain = t is shape_table("pingpong") or t is shape_table("pipeline")
        refname = next((r["design"] for r in rows if r["name"] == ref), ref)
        w("\n#### %s%s connections — reference: %s\n\n" % (
            "`%s` at " % wl if named else "", fmt_int(cnt["conns"]),
            refname or "none (%s)" % cnt.get("reference_why", "")))
        if plain:
            w("| design | rps median [min–max] | × reference [min–max] | p99 | server CPU µs/rt | within noise of |\n")
            w("|---|--:|--:|--:|--:|---|\n")
        else:
            w("| design | %s median [min–max] | × reference [min–max] | %s | within noise of |\n"
              % (t["head"].replace("us/", "µs/"), " | ".join(c[1].replace("us/", "µs/") for c in t["cols"])))
            w("|---|--:|--:|%s---|\n" % ("--:|" * len(t["cols"])))
        key = t["key"] if not plain else "rps"
        for r in rows:
            name = r["design"] + (" (reference)" if r.get("reference") else "")
            n = (r.get(key) or {}).get("n", 0)
            if n < rounds:
                name += " (%d of %d rounds passed)" % (n, rounds)
            ratio = "1" if r.get("reference") and n else _cell(r.get("ratio"), _ratio)
            noise = ", ".join(r.get("within_noise_of") or []) or ""
            if not plain:
                digits = (lambda v: "%.1f" % v) if key == "server_us_per_push" else fmt_int
                cells = [fmt_cell((r.get(k) or {}).get("median"), kind) for k, _, kind in t["cols"]]
                w("| %s | %s | %s | %s | %s |\n" % (name, _cell(r.get(key), digits), ratio,
                                                   " | ".join(cells), noise))
                continue
            rps = _cell(r.get("rps"), fmt_int)
            if r["design"] in fixed and wl == "pingpong":
                rps, ratio = "%s (fixed rate, -r %s)" % (rps, fmt_int(fixed[r["design"]])), "-"
            w("| %s | %s | %s | %s | %s | %s |\n" % (
                name, rps, ratio,
                fmt_lat((r.get("p99_us") or {}).get("median")),
                fmt_us((r.get("server_us_per_rt") or {}).get("median")), noise))
    w("\n![round trips per second and memory per connection, per connection count](%s)\n" % imgs[0])
    w("![rps, server CPU per round trip and memory per connection against connections](%s)\n" % imgs[1])
    w("![the fixed-rate designs: memory and CPU per connection](%s)\n" % imgs[2])
    if details:
        w("\nEvery figure of every run in this set (memory, CPU, first round, bottleneck): [%s](%s).\n"
          % (details, details))
    return "".join(out)


def _markers(path):
    """(lines, begin, end) of a Markdown file with the results markers."""
    if not os.path.isfile(path):
        raise Fail("%s: no such file" % path)
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines(True)
    b = next((i for i, ln in enumerate(lines) if ln.startswith(BEGIN)), None)
    e = next((i for i, ln in enumerate(lines) if ln.startswith(END)), None)
    if b is None or e is None or b >= e:
        raise Fail("%s: wants a line %s and, after it, %s" % (path, BEGIN, END))
    return lines, b, e


def rel(path, readme, write_readme):
    """Where a chart sits relative to the README, for the image links."""
    if not write_readme:
        return path
    return os.path.relpath(os.path.realpath(path), os.path.realpath(os.path.dirname(os.path.abspath(readme))))


def write_file(path, text):
    """Write atomically (a temporary file beside it, then rename)."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".report.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def run(o, root, out, err):
    if o.get("help"):
        out.write(__doc__.split("\nEvery file", 1)[0] + "\n")
        return 0
    if o["svg1"]:
        svgdir = os.path.dirname(o["svg1"]) or "."
        svg1 = o["svg1"]
    else:
        svgdir = o["svgdir"] or o["dir"]
        svg1 = os.path.join(svgdir, "summary.svg")
    svg2, svg3 = os.path.join(svgdir, "scaling.svg"), os.path.join(svgdir, "fixed-rate.svg")
    if not os.path.isdir(o["dir"]):
        raise Fail("%s: no results directory (run ./run.sh first)" % o["dir"])
    lines = dlines = None
    if o["write_readme"]:
        lines, b, e = _markers(o["readme"])
    if o["details"]:
        dlines, db, de = _markers(o["details"])
    runs = load_runs(o["dir"], lambda m: err.write(m + "\n"))
    designs = designs_here(root)
    if o["set"] and os.path.isfile(os.path.join(o["dir"], o["set"] + ".json")) \
            and not any(sval(r[0], "set") == o["set"] for r in runs):
        # A set's figures without its runs (copied apart, or a fixture):
        # the README's tables come from compare-<set>.json alone.
        used, count, missing = o["set"], {o["set"]: 0}, {}
    else:
        used, count, missing = pick_set(runs, o["set"], o["quick"], designs)
    p = take_rows(runs, used, o["set"], o["quick"])
    imgs = [rel(x, o["readme"], o["write_readme"]) for x in (svg1, svg2, svg3)]
    table = table_text(p, used, count, missing, imgs)
    # The charts plot round trips/s: ping-pong runs only (a workload's rows
    # are in the tables, each labelled with its workload).
    rows = [r[0] for r in p.rows if (sval(r[0], "workload") or "pingpong") == "pingpong"]
    foot = "c1m, %s; %s" % (machine_line(p.rows[0][1] if p.rows else {}),
                            "set " + used if used else "newest run of each design")
    svgs = [charts.summary_svg(rows, foot), charts.scaling_svg(rows, foot), charts.fixed_svg(rows, foot)]
    os.makedirs(svgdir, exist_ok=True)
    for path, text in zip((svg1, svg2, svg3), svgs):
        write_file(path, text)
    out.write("%s: wrote %s, %s, %s\n" % (PROG, svg1, svg2, svg3))
    if o["details"]:
        dimgs = [rel(x, o["details"], True) for x in (svg1, svg2, svg3)]
        dtable = table_text(p, used, count, missing, dimgs)
        write_file(o["details"], "".join(dlines[:db + 1]) + dtable + "".join(dlines[de:]))
        n = len(re.findall(r"^\| [0-9]", dtable, re.M))
        out.write("%s: regenerated the tables in %s (%d rows)\n" % (PROG, o["details"], n))
    cdoc = os.path.join(o["dir"], used + ".json") if used else ""
    if cdoc and os.path.isfile(cdoc):
        with open(cdoc, encoding="utf-8") as f:
            doc = json.load(f)
        details = rel(o["details"], o["readme"], True) if o["details"] else ""
        fixed = {sval(s, "design"): rate_of(s) for s in rows if rate_of(s)}
        table = ratio_text(doc, imgs, details, fixed)
    if o["write_readme"]:
        text = "".join(lines[:b + 1]) + table + "".join(lines[e:])
        write_file(o["readme"], text)
        n = len(re.findall(r"^\| [0-9]", table, re.M))
        out.write("%s: regenerated the tables in %s (%d rows)\n" % (PROG, o["readme"], n))
    return 0


def main(argv=None, env=None):
    argv = sys.argv[1:] if argv is None else argv
    env = os.environ if env is None else env
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        o = parse(argv, env)
        os.chdir(root)      # as scripts/report always did: paths from the repository
        return run(o, root, sys.stdout, sys.stderr)
    except Bad as e:
        sys.stderr.write("%s: %s\n%s\n" % (PROG, e, USAGE))
        return 2
    except Fail as e:
        sys.stderr.write("%s: %s\n" % (PROG, e))
        return 1
    except OSError as e:
        sys.stderr.write("%s: %s\n" % (PROG, e))
        return 1


if __name__ == "__main__":
    sys.exit(main())
