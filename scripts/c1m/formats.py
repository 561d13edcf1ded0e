"""Formats people already plot, from any result file (old ones too):

  hgrm RESULT.json          HdrHistogram's percentile distribution, the text
                            wrk2 -L and outputPercentileDistribution print
                            (values in ms), from the client's "hist" buckets
                            (RESULT may also be a client's own output)
  progress RESULT.json      a per-interval CSV of both programs' progress
                            lines (time, connections, rps, p50, p99, CPU)
  chart RESULT.json         the run's time-series SVG (rps and p99 over time,
                            the ramp, first round and window shaded)

usage: scripts/formats hgrm|progress|chart RESULT.json   (python3 -m c1m.formats ...)
"""
import csv
import io
import math
import re
import sys

from . import hist as histmod
from . import jsonio

PROG = "scripts/formats"
TICKS_PER_HALF = 5          # wrk2's hdr_percentiles_print(..., 5, ...)
NS_PER_MS = 1e6


def hgrm_rows(h):
    """HdrHistogram's percentile iteration over H's buckets: [(value_ns,
    percentile 0..100, cumulative count)], the last row at 100. A bucket's
    value is common/hist.c's (its middle, clamped to min/max)."""
    total = int(h.get("count") or 0)
    if total <= 0:
        return []
    lo_v, hi_v, sb = int(h["min_ns"]), int(h["max_ns"]), int(h["sub_bits"])
    rows, cum, to = [], 0, 0.0
    buckets = [(i, n) for i, n in sorted(h["buckets"]) if n > 0]
    for k, (i, n) in enumerate(buckets):
        cum += n
        cur = 100.0 * cum / total
        v = min(max(histmod.bucket_value(i, sb), lo_v), hi_v)
        last = k == len(buckets) - 1
        # Every reporting level this bucket reaches (only one in the last
        # bucket: then the iterator has no next and reports 100%).
        while to <= cur:
            rows.append((v, to, cum))
            half = 2.0 ** int(math.log(100.0 / (100.0 - to)) / math.log(2) + 1) if to < 100 else math.inf
            to += 100.0 / (TICKS_PER_HALF * half)
            if last:
                break
        if last:
            rows.append((v, 100.0, cum))
    return rows


def hgrm_text(h):
    """The .hgrm text of the histogram H (values in ms)."""
    out = ["%12s %12s %12s %12s\n\n" % ("Value", "Percentile", "TotalCount", "1/(1-Percentile)")]
    for v, p, c in hgrm_rows(h):
        inv = 1.0 / (1.0 - p / 100.0) if p < 100 else math.inf
        out.append("%12.6f %12f %12d %12.2f\n" % (v / NS_PER_MS, p / 100.0, c, inv))
    count = int(h.get("count") or 0)
    mean = h["sum_ns"] / count if count else 0.0
    var = 0.0
    for i, n in h.get("buckets") or []:
        if count:
            v = min(max(histmod.bucket_value(i, h["sub_bits"]), h["min_ns"]), h["max_ns"])
            var += n * (v - mean) ** 2
    sd = math.sqrt(var / count) if count else 0.0
    sub = 1 << int(h["sub_bits"])
    out.append("#[Mean    = %12.6f, StdDeviation   = %12.6f]\n" % (mean / NS_PER_MS, sd / NS_PER_MS))
    out.append("#[Max     = %12.6f, Total count    = %12d]\n" % (h["max_ns"] / NS_PER_MS, count))
    out.append("#[Buckets = %12d, SubBuckets     = %12d]\n" % (histmod.nbuckets(h["sub_bits"]) // sub, sub))
    return "".join(out)


def hgrm(result):
    """The .hgrm of a result's client histogram, None when it has none
    (clients before the histogram was printed, a failed run)."""
    c = result.get("client")
    h = c.get("hist") if isinstance(c, dict) else None
    if not isinstance(h, dict) or not h.get("count"):
        return None
    return hgrm_text(h)


# ---- progress ----

PAIR = re.compile(r"\b(conns|rps|p50|p90|p99|max)\s+(-?[0-9]+(?:\.[0-9]+)?)(?:\s*(us|ms|s)\b)?")
UNIT_US = {"us": 1.0, "ms": 1e3, "s": 1e6, None: 1.0}
CSV_COLS = ("t_s", "who", "conns", "rps", "p50_us", "p99_us", "cpu_pct")


def parse_progress(line):
    """A progress line ("conns 200  rps 119877  p99 3.3 ms") -> {"conns",
    "rps", "p50_us", "p99_us"} (keys it has), None if it is not one."""
    if not line.startswith("conns "):
        return None
    out = {}
    for key, val, unit in PAIR.findall(line):
        v = float(val) if "." in val else int(val)
        if key in ("p50", "p90", "p99", "max"):
            out[key + "_us"] = v * UNIT_US[unit or None]
        else:
            out[key] = v
    return out


def _cpu_at(samples, col, t):
    """Cumulative CPU seconds in sample column COL at time T (linear between
    samples), None when there are no samples."""
    if not samples:
        return None
    prev = None
    for r in samples:
        if r[0] >= t:
            if prev is None or r[0] == prev[0]:
                return r[col]
            f = (t - prev[0]) / (r[0] - prev[0])
            return prev[col] + f * (r[col] - prev[col])
        prev = r
    return samples[-1][col]


def progress_rows(result):
    """Every progress line of both programs, parsed, with the CPU (per cent
    of a core) of its program since its previous line, from the samples."""
    sm = result.get("samples") or {}
    cols = sm.get("columns") or []
    rows = sm.get("rows") or []
    out, last_t = [], {}
    for p in result.get("progress") or []:
        v = parse_progress(p.get("line", ""))
        if v is None:
            continue
        who, t = p.get("who", ""), float(p.get("t_s", 0))
        col = "server_cpu_s" if who == "server" else "client_cpu_s"
        cpu = None
        if col in cols and rows and who in ("server", "client"):
            i = cols.index(col)
            t0 = last_t.get(who, 0.0)
            a, b = _cpu_at(rows, i, t0), _cpu_at(rows, i, t)
            if a is not None and t > t0:
                cpu = 100.0 * (b - a) / (t - t0)
        last_t[who] = t
        row = {"t_s": t, "who": who, "cpu_pct": cpu}
        row.update(v)
        out.append(row)
    return out


def progress_csv(result):
    """The per-interval CSV (CSV_COLS; empty cells where a line had no such figure)."""
    f = io.StringIO()
    w = csv.writer(f, lineterminator="\n")
    w.writerow(CSV_COLS)
    for r in progress_rows(result):
        w.writerow(["" if r.get(k) is None else (repr(r[k]) if isinstance(r[k], float) else r[k])
                    for k in CSV_COLS])
    return f.getvalue()


def main(argv):
    from . import schema
    usage = "usage: %s hgrm|progress|chart RESULT.json" % PROG
    if len(argv) != 2 or argv[0] not in ("hgrm", "progress", "chart"):
        print("%s: want a format and one result file" % PROG, file=sys.stderr)
        print(usage, file=sys.stderr)
        return 2
    try:
        doc = schema.load(argv[1])
    except (OSError, ValueError) as e:
        # Not a result: a client's own output (its last JSON line) will do
        # for the histogram.
        line = jsonio.read_line(argv[1]) if argv[0] == "hgrm" else None
        if not (isinstance(line, dict) and isinstance(line.get("hist"), dict)):
            print("%s: %s" % (PROG, e), file=sys.stderr)
            return 2
        doc = {"client": line}
    if argv[0] == "hgrm":
        text = hgrm(doc)
        if text is None:
            print("%s: %s: the client printed no histogram (\"hist\"); nothing to write"
                  % (PROG, argv[1]), file=sys.stderr)
            return 1
        sys.stdout.write(text)
    elif argv[0] == "chart":
        from . import charts
        s = doc["summary"]
        text = charts.timeseries_svg(doc, "%s, %s connections: over time" % (
            s.get("design") or "?", s.get("conns") or "?"))
        if text is None:
            print("%s: %s: no progress lines recorded (results before the Python record have none)"
                  % (PROG, argv[1]), file=sys.stderr)
            return 1
        sys.stdout.write(text)
    else:
        sys.stdout.write(progress_csv(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
