"""scripts/merge - the exact merge of clients that ran on several hosts at once
(./run.sh NN --hosts): their JSON lines in, ONE line out, shaped like a
client's, so whatever reads a client's line reads the merge.

usage: scripts/merge CLIENT_JSON_FILE...
       scripts/merge -h

Each file holds a client's output; its last line that starts with '{' is
its JSON line, which must carry "hist" (the window's raw latency buckets,
printed by 05's client and every client that includes it).

How each output key is made:
  design                   the first input's; "hosts": the number of inputs
  conns_target, conns, loops, round_trips, requests_sent, replies,
  unanswered, late_sends, dropped, errors, connect_errors, lost, mismatches,
  cpu_user_s, cpu_sys_s, cpu_window {user_s, sys_s}, rate_target
                           the sum over the inputs
  rps, rate_achieved       the sum of each host's own figure (each over its
                           own window; the windows are the same to within
                           window_skew_ms)
  connect_s, rss_kb        the largest; first_round_s too, null if any is
  window_start_us          the latest start, window_end_us the earliest end:
                           the window every host measured in, and
                           duration_s its length (0, with a warning on
                           stderr, if the windows do not overlap)
  window_skew_ms           max(latest - earliest start, latest - earliest end)
  client_us_per_rt         window CPU of all hosts (user + sys) per round trip
  lat_us {p50 p90 p99 p999 max mean}
                           read from the merged histogram, never averaged:
                           the inputs' buckets are added index by index, then
                           as common/hist.c: rank = ceil(q * count) (at least
                           1), the first bucket whose running sum reaches it,
                           its middle low + (high - low) / 2, clamped to
                           [min_ns, max_ns]; mean = sum_ns / count; each
                           written as the client writes its own (%.10g)
                           (scripts/c1m/hist.py, held against hist.c itself)
  per_host [...]           one entry per input, in order: host, conns,
                           round_trips, rps, p50_us, p99_us, cpu_window_pct
                           (100 = one of that host's cores busy over its own
                           window), cpus, window_start_us, window_end_us
  hist                     the merged histogram, last, as a client prints it
                           (its count may be a little below round_trips: a
                           client leaves its window's first 100 ms hand-off
                           of latencies out of the histogram; see meter.c)
A number an input lacks (an older client) makes that output key null.

Numbers: Python integers are exact at any size: counts, bucket counts,
microsecond clocks and sum_ns (~1e19; it saturates at 2^64 - 1 as
hist_merge() does) come out as the integers they are, never with an
exponent. Other numbers are written at full precision (a whole one as an
integer).

Exit 0 with the line on stdout. Bad input (no files, an unreadable file, no
JSON line, a line that is not JSON, no "hist", different sub_bits, a
histogram whose count is not the sum of its buckets, malformed buckets, an
input that is a merge already): one line on stderr, nothing on stdout,
exit 2.

example: scripts/merge /tmp/h1.json /tmp/h2.json
  {"design":"05_multi_epoll_client","hosts":2,"conns_target":4000,...,
   "lat_us":{"p50":151.551,...},"per_host":[{"host":"c1",...},...],
   "hist":{"sub_bits":6,"count":283510,...,"buckets":[[161,3],...]}}
test with: tests/run.sh merge
"""
import json
import math
import os
import sys

from . import hist

PROG = "scripts/merge"
USAGE = "usage: %s CLIENT_JSON_FILE..." % PROG

# Summed over the inputs (integers stay integers).
SUMS = ("conns_target", "conns", "loops", "round_trips", "requests_sent", "replies",
        "unanswered", "rps", "rate_target", "rate_achieved", "late_sends", "dropped")
SUMS2 = ("errors", "connect_errors", "lost", "mismatches", "cpu_user_s", "cpu_sys_s")
HIST_INTS = ("count", "sum_ns", "min_ns", "max_ns")
QS = (("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("p999", 0.999))


class MergeError(Exception):
    """Bad input: one line (without the program's name)."""


def _number(v):
    """v if it is a JSON number, else None (missing, null, a string)."""
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _whole(v):
    """A float that is a whole number as an int (20.0 -> 20): the same
    value, written as the clients write it."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 2 ** 53:
        return int(v)
    return v


def _as_client(v):
    """A lat_us figure as the client prints its own (common/json.c's
    json_num, "%.10g"): a one-host merge says what its host said. Only the
    mean has more digits than that (ns / 1e3 of a whole ns has at most 10
    below 10,000 s)."""
    return _whole(float("%.10g" % v))


def _sum(xs):
    """The sum (exact for integers, correctly rounded for floats), or None
    if any is missing."""
    xs = [_number(x) for x in xs]
    if any(x is None for x in xs):
        return None
    if all(isinstance(x, int) for x in xs):
        return sum(xs)
    return _whole(math.fsum(xs))


def _max(xs):
    xs = [_number(x) for x in xs]
    return None if any(x is None for x in xs) else _whole(max(xs))


def last_json_line(path):
    """The last line of PATH that starts with '{', or raises MergeError."""
    line = None
    try:
        with open(path, "rb") as f:
            for raw in f:
                if raw.startswith(b"{"):
                    line = raw
    except OSError:
        raise MergeError("%s: cannot read it" % path)
    if line is None:
        raise MergeError('%s: no JSON line (none starts with "{")' % path)
    return line.decode("utf-8", "replace").rstrip("\n")


def parse_line(name, line):
    """A client's JSON line as a dict; MergeError if it is not one."""
    try:
        d = json.loads(line)
    except ValueError as e:
        raise MergeError("%s: its JSON line is not JSON (%s)" % (name, e))
    if not isinstance(d, dict):
        raise MergeError("%s: its JSON line is not a JSON object" % name)
    return d


def check_hist(name, c, sub_bits, first_name):
    """The client's "hist", checked as a histogram of layout sub_bits (None:
    this one sets it). Raises MergeError saying what is wrong."""
    hosts = _number(c.get("hosts"))
    if hosts is not None and hosts >= 2:
        raise MergeError("%s: already a merge of %s hosts; give each client's own line"
                         % (name, _whole(hosts)))
    h = c.get("hist")
    if not isinstance(h, dict):
        raise MergeError('%s: its JSON line has no "hist" (a client from before the exact merge?)'
                         % name)
    sb = h.get("sub_bits")
    if not _isint(sb) or not 1 <= sb <= 16:
        raise MergeError('%s: "hist" has no usable sub_bits (%s)' % (name, json.dumps(sb)))
    if sub_bits is not None and sb != sub_bits:
        raise MergeError("%s: sub_bits %d, but %s has %d: histograms of two layouts do not add"
                         % (name, sb, first_name, sub_bits))
    for k in HIST_INTS:
        if not _isint(h.get(k)):
            raise MergeError('%s: "hist" has no integer %s (%s)' % (name, k, json.dumps(h.get(k))))
    if "buckets" not in h:
        raise MergeError('%s: "hist" has no "buckets"' % name)
    b = h["buckets"]
    if not isinstance(b, list) or not all(
            isinstance(p, list) and len(p) == 2 and _isint(p[0]) and _isint(p[1]) for p in b):
        raise MergeError('%s: "hist" buckets are not [[index, count], ...]' % name)
    nb = hist.nbuckets(sb)
    prev = -1
    for i, _ in b:
        if i >= nb:
            raise MergeError("%s: bucket index %d out of range (sub_bits %d has %d buckets)"
                             % (name, i, sb, nb))
        if i <= prev:
            raise MergeError("%s: bucket indices not ascending (%d after %d)" % (name, i, prev))
        prev = i
    tot = sum(n for _, n in b)
    if tot != h["count"]:
        raise MergeError('%s: "hist" count %d is not the sum of its buckets (%d)'
                         % (name, h["count"], tot))
    return h


def _isint(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def window(cs):
    """(start, end, duration_s, skew_ms, overlap_s): the window every host
    measured in. Without a window clock on every input: start, end and skew
    None and the shortest duration_s; overlap_s < 0 when the windows do not
    overlap (then duration_s is 0)."""
    s = [_number(c.get("window_start_us")) for c in cs]
    e = [_number(c.get("window_end_us")) for c in cs]
    if None in s or None in e:
        durs = [d for d in (_number(c.get("duration_s")) for c in cs) if d is not None]
        return None, None, (_whole(min(durs)) if durs else None), None, 0
    dur = (min(e) - max(s)) / 1e6
    skew = max(max(s) - min(s), max(e) - min(e)) / 1000
    return max(s), min(e), _whole(max(dur, 0)), _whole(skew), dur


def merge(cs, names=None, warnings=None):
    """The merged line (a dict, keys in the order a client prints them) of
    client lines cs (dicts); names[k] says which input cs[k] came from in
    messages. Raises MergeError on bad input; appends a warning (a line
    without the program's name) to `warnings` when the windows do not
    overlap."""
    if not cs:
        raise MergeError("no input files (%s)" % USAGE)
    names = names or ["input %d" % (k + 1) for k in range(len(cs))]
    hs = []
    for k, c in enumerate(cs):
        hs.append(check_hist(names[k], c, hs[0]["sub_bits"] if hs else None, names[0]))
    h = hist.merge(hs)
    start, end, dur, skew, overlap = window(cs)
    if overlap < 0 and warnings is not None:
        warnings.append("warning: the windows do not overlap (the latest starts %.3f s after "
                        "the earliest ends)" % -overlap)
    cw = [c.get("cpu_window") if isinstance(c.get("cpu_window"), dict) else {} for c in cs]
    cu, cs_ = _sum([w.get("user_s") for w in cw]), _sum([w.get("sys_s") for w in cw])
    rt = _sum([c.get("round_trips") for c in cs])
    m = {"design": cs[0].get("design", ""), "hosts": len(cs)}
    for k in ("conns_target", "conns", "loops"):
        m[k] = _sum([c.get(k) for c in cs])
    m["connect_s"] = _max([c.get("connect_s") for c in cs])
    m["first_round_s"] = _max([c.get("first_round_s") for c in cs])
    m["duration_s"] = dur
    m["window_start_us"], m["window_end_us"], m["window_skew_ms"] = start, end, skew
    for k in SUMS[3:]:
        m[k] = _sum([c.get(k) for c in cs])
    if cu is None or cs_ is None or rt is None:
        m["client_us_per_rt"] = None
    else:
        m["client_us_per_rt"] = _whole((cu + cs_) * 1e6 / rt) if rt > 0 else 0
    for k in SUMS2:
        m[k] = _sum([c.get(k) for c in cs])
    m["rss_kb"] = _max([c.get("rss_kb") for c in cs])
    m["cpu_window"] = {"user_s": cu, "sys_s": cs_}
    lat = {k: hist.quantile(h, q) / 1e3 for k, q in QS}
    lat["max"] = h["max_ns"] / 1e3
    lat["mean"] = hist.mean(h) / 1e3
    m["lat_us"] = {k: _as_client(v) for k, v in lat.items()}
    m["per_host"] = [_host(c, w) for c, w in zip(cs, cw)]
    m["hist"] = h
    return m


def _host(c, w):
    """One per_host entry: the host's own figures, as it printed them."""
    lat = c.get("lat_us") if isinstance(c.get("lat_us"), dict) else {}
    u, s, d = _number(w.get("user_s")), _number(w.get("sys_s")), _number(c.get("duration_s"))
    pct = 100 * (u + s) / d if None not in (u, s, d) and d > 0 else None
    host = c.get("host")
    return {"host": host if isinstance(host, str) else None,
            "conns": _number(c.get("conns")), "round_trips": _number(c.get("round_trips")),
            "rps": _number(c.get("rps")), "p50_us": _number(lat.get("p50")),
            "p99_us": _number(lat.get("p99")), "cpu_window_pct": pct,
            "cpus": _number(c.get("cpus")), "window_start_us": _number(c.get("window_start_us")),
            "window_end_us": _number(c.get("window_end_us"))}


def dumps(m):
    """The merged line as one compact JSON line, as a client prints its own."""
    return json.dumps(m, separators=(",", ":"))


def merge_files(paths, warnings=None):
    """merge() of the clients' output files: their last '{' line each."""
    for p in paths:
        if not os.path.exists(p):
            raise MergeError("%s: no such file" % p)
        if not os.path.isfile(p):
            raise MergeError("%s: not a regular file" % p)
        if not os.access(p, os.R_OK):
            raise MergeError("%s: cannot read it" % p)
    cs = []
    for p in paths:             # each checked as read: the first bad one is named
        cs.append(parse_line(p, last_json_line(p)))
        check_hist(p, cs[-1], cs[0]["hist"]["sub_bits"] if len(cs) > 1 else None, paths[0])
    return merge(cs, list(paths), warnings)


def main(argv):
    """scripts/merge FILE...: the line on stdout, exit 0; bad input: one
    line on stderr, exit 2."""
    if argv and argv[0] in ("-h", "--help"):
        sys.stdout.write(__doc__)
        return 0
    if argv and argv[0] == "--":
        argv = argv[1:]
    elif argv and argv[0].startswith("-") and len(argv[0]) > 1:
        print("%s: unknown option '%s' (%s)" % (PROG, argv[0], USAGE), file=sys.stderr)
        return 2
    warnings = []
    try:
        m = merge_files(argv, warnings)
    except MergeError as e:
        print("%s: %s" % (PROG, e), file=sys.stderr)
        return 2
    for w in warnings:
        print("%s: %s" % (PROG, w), file=sys.stderr)
    sys.stdout.write(dumps(m) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
