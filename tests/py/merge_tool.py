#!/usr/bin/env python3
"""tests/py/merge_tool.py - test tooling for scripts/merge: client lines to
merge, and a check of a merged line against the merge's rules. The
histogram rule is scripts/c1m/hist.py's (held against common/hist.c itself by
tests/py/test_hist.py); everything else is worked out here from the inputs,
apart from scripts/c1m/merge.py.

  merge_tool.py gen OUT --host H --seed S --n N --dist KIND [--start US]
                [--end US] [--conns C] [--late-keys] [--first-round null|S]
      a client's output in OUT (progress text, then the JSON line shaped as a
      client prints it) from N random latencies (KIND: fast = lognormal
      around 150 us, slow = around 2 ms, tail = fast plus 2% stalls of
      50-400 ms, empty = no sample); the raw latencies go to OUT.samples.
      --late-keys puts host/cpus/window_* after lat_us.
  merge_tool.py gen-edge DIR
      two hand-made histograms whose merged running sums end exactly at the
      ranks of p50/p90/p99/p999 (an off-by-one rank lands in the next
      bucket), and whose min clamps p50 up: DIR/edge1.json, edge2.json; and
      two whose q * count falls just past a bucket's end (a floor instead of
      the ceiling reads one bucket low): DIR/edge3.json, edge4.json
  merge_tool.py gen-big DIR N_HOSTS SUM_NS
      hosts with ~5e9 round trips each, bucket counts of ~1e9 and sum_ns
      SUM_NS each (near 2^64 in total: exact only as integers)
  merge_tool.py check MERGED IN... [--samples] [--discriminating]
      compare every key of MERGED (scripts/merge's stdout) with the rules
      applied to IN... (sums, maxima, the common window; the histogram's
      buckets added and its percentiles by hist.py); --samples also holds
      the merged percentiles against the exact quantiles of the raw samples
      (within 1%); --discriminating asserts the inputs are ones an average of
      percentiles would get wrong. Prints what it checked; exit 1 on a
      mismatch.
"""
import json
import math
import os
import random
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "scripts"))
from c1m import hist as H  # noqa: E402

SUB_BITS = 6
U64 = H.U64_MAX
QS = {"p50": 0.50, "p90": 0.90, "p99": 0.99, "p999": 0.999}


def hist_index(v):
    return H.index(v, SUB_BITS)


def low(i):
    return H.bucket_low(i, SUB_BITS)


def high(i):
    return H.bucket_high(i, SUB_BITS)


def as_json_hist(h):
    """This file's {count, sum, min, max, b: {index: n}} as a client's "hist"."""
    return {"sub_bits": SUB_BITS, "count": h["count"], "sum_ns": min(h["sum"], U64),
            "min_ns": h["min"], "max_ns": h["max"], "buckets": [[i, h["b"][i]] for i in sorted(h["b"])]}


def quantile(h, q):
    return H.quantile(as_json_hist(h), q)


def hist_of(samples):
    b = {}
    for v in samples:
        i = hist_index(v)
        b[i] = b.get(i, 0) + 1
    return {"count": len(samples), "sum": sum(samples),
            "min": min(samples) if samples else 0,
            "max": max(samples) if samples else 0, "b": b}


def client_line(host, h, rt=None, conns=2000, start=1765000000000000, end=None,
                late_keys=False, first_round=0.42, cpu=(0.61, 1.37), dur=None):
    """A client's JSON line as meter_report prints it (compact, %.10g)."""
    end = end if end is not None else start + 10_000_000
    dur = dur if dur is not None else (end - start) / 1e6
    rt = h["count"] if rt is None else rt
    new = [("host", json.dumps(host)), ("cpus", "2"),
           ("window_start_us", str(start)), ("window_end_us", str(end))]
    lat = {k: quantile(h, q) / 1e3 for k, q in QS.items()}
    kv = [("design", '"05_multi_epoll_client"')]
    if not late_keys:
        kv += new
    kv += [("conns_target", str(conns)), ("conns", str(conns)), ("loops", "2"),
           ("connect_s", "%.10g" % (0.05 + conns / 1e5)),
           ("first_round_s", "null" if first_round is None else "%.10g" % first_round),
           ("duration_s", "%.10g" % dur), ("round_trips", str(rt)),
           ("requests_sent", str(rt + conns)), ("replies", str(rt + conns - 3)),
           ("unanswered", "3"), ("rps", "%.10g" % (rt / dur if dur else 0)),
           ("rate_target", "0"), ("rate_achieved", "%.10g" % (rt / dur if dur else 0)),
           ("late_sends", "0"), ("dropped", "0"),
           ("client_us_per_rt", "%.10g" % ((cpu[0] + cpu[1]) * 1e6 / rt if rt else 0)),
           ("errors", "3"), ("connect_errors", "0"), ("lost", "0"), ("mismatches", "0"),
           ("cpu_user_s", "%.10g" % (cpu[0] * 1.5)), ("cpu_sys_s", "%.10g" % (cpu[1] * 1.5)),
           ("rss_kb", str(9000 + conns)),
           ("cpu_window", '{"user_s":%.10g,"sys_s":%.10g}' % cpu),
           ("lat_us", "{" + ",".join('"%s":%.10g' % (k, v) for k, v in list(lat.items()) + [
               ("max", h["max"] / 1e3), ("mean", h["sum"] / h["count"] / 1e3 if h["count"] else 0)]) + "}")]
    if late_keys:
        kv += new
    buckets = ",".join("[%d,%d]" % (i, h["b"][i]) for i in sorted(h["b"]))
    kv.append(("hist", '{"sub_bits":%d,"count":%d,"sum_ns":%d,"min_ns":%d,"max_ns":%d,"buckets":[%s]}'
               % (SUB_BITS, h["count"], min(h["sum"], U64), h["min"], h["max"], buckets)))
    return "{" + ",".join('"%s":%s' % kv_ for kv_ in kv) + "}"


def gen(argv):
    import argparse
    p = argparse.ArgumentParser(prog="merge_tool.py gen")
    p.add_argument("out")
    p.add_argument("--host", required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--n", type=int, default=100000)
    p.add_argument("--dist", choices=["fast", "slow", "tail", "empty"], default="fast")
    p.add_argument("--start", type=int, default=1765000000000000)
    p.add_argument("--end", type=int)
    p.add_argument("--conns", type=int, default=2000)
    p.add_argument("--late-keys", action="store_true")
    p.add_argument("--first-round", default="0.42")
    a = p.parse_args(argv)
    r = random.Random(a.seed)
    mu = {"fast": math.log(150e3), "slow": math.log(2e6), "tail": math.log(150e3)}.get(a.dist)
    s = []
    if a.dist != "empty":
        for _ in range(a.n):
            v = r.lognormvariate(mu, 0.35)
            if a.dist == "tail" and r.random() < 0.02:
                v = r.uniform(50e6, 400e6)
            s.append(max(1, int(v)))
    fr = None if a.first_round == "null" else float(a.first_round)
    with open(a.out, "w") as f:
        f.write("client: %d connections up\nconns %d  rps 1  p99 1 ms\n" % (a.conns, a.conns))
        f.write(client_line(a.host, hist_of(s), conns=a.conns, start=a.start, end=a.end,
                            late_keys=a.late_keys, first_round=fr) + "\n")
        f.write("client: done\n")
    with open(a.out + ".samples", "w") as f:
        f.write(" ".join(map(str, s)))


def gen_edge(d):
    # edge1 + edge2: 500 in bucket A, 400 in B, 90 in C, 9 in D, 1 in E
    # (1,000): the ranks 500, 900, 990 and 999 each end a bucket exactly.
    A, B, C, D, E = (hist_index(v) for v in (5_000, 60_000, 700_000, 8_000_000, 90_000_000))
    h1 = {A: 300, B: 100, C: 80, D: 2}
    h2 = {A: 200, B: 300, C: 10, D: 7, E: 1}
    # min above A's middle: p50 clamps up to it; max inside E, below its middle.
    mn, mx = low(A) + (high(A) - low(A)) // 2 + 3, low(E) + 5
    # edge3 + edge4: 500, 400, 90, 10, 1 (1,001): q * count is 500.5, 900.9,
    # 990.99 and 999.999, whose floors end buckets A, B, C, D and whose
    # ceilings (the rule) fall in the next: a floor would read one bucket low.
    h3 = {A: 250, B: 150, C: 45, D: 5}
    h4 = {A: 250, B: 250, C: 45, D: 5, E: 1}
    for name, b, lo, hi in (("edge1", h1, mn, high(D)), ("edge2", h2, low(A) + 40, mx),
                            ("edge3", h3, low(A), high(D)), ("edge4", h4, low(A) + 1, high(E))):
        n = sum(b.values())
        h = {"count": n, "sum": sum(c * (low(i) + (high(i) - low(i)) // 2) for i, c in b.items()),
             "min": lo, "max": hi, "b": b}
        with open(os.path.join(d, name + ".json"), "w") as f:
            f.write(client_line(name, h) + "\n")


def gen_big(d, nhosts, sum_ns):
    for k in range(nhosts):
        b = {hist_index(1_800_000_000 + j * 40_000_000): 1_000_000_007 + 13 * j + k for j in range(5)}
        n = sum(b.values())
        h = {"count": n, "sum": sum_ns, "min": 1_790_000_001, "max": 2_100_000_003 + k, "b": b}
        with open(os.path.join(d, "big%d.json" % k), "w") as f:
            f.write(client_line("big%d" % k, h, conns=500_000) + "\n")


class Check:
    def __init__(self):
        self.bad = 0
        self.n = 0

    def eq(self, what, got, want, rel=0.0):
        self.n += 1
        ok = got == want
        if not ok and rel and isinstance(got, (int, float)) and isinstance(want, (int, float)):
            ok = abs(got - want) <= rel * max(1e-12, abs(want))
        if not ok:
            self.bad += 1
            print("MISMATCH %s: merge says %r, independent merge %r" % (what, got, want))


def last_json(path):
    line = None
    for l in open(path):
        if l.startswith("{"):
            line = l
    return line


def check(argv):
    flags = {a for a in argv if a.startswith("--")}
    merged_path, ins = argv[0], [a for a in argv[1:] if not a.startswith("--")]
    text = open(merged_path).read()
    lines = text.splitlines()
    assert len(lines) == 1, "scripts/merge printed %d lines, want 1" % len(lines)
    m = json.loads(lines[0])
    cs = [json.loads(last_json(p)) for p in ins]
    c = Check()

    assert list(m)[-1] == "hist", "hist is not the last key: %s" % list(m)[-5:]
    c.eq("hosts", m["hosts"], len(cs))
    c.eq("design", m["design"], cs[0]["design"])
    for k in ("conns_target", "conns", "loops", "round_trips", "requests_sent", "replies",
              "unanswered", "late_sends", "dropped", "errors", "connect_errors", "lost",
              "mismatches"):
        c.eq(k, m[k], sum(x[k] for x in cs))
        # Integers, written as integers: no exponent, no fraction.
        c.eq(k + " as written", bool(re.search(r'"%s":-?[0-9]+[,}]' % k, lines[0])), True)
    for k in ("rps", "rate_target", "rate_achieved", "cpu_user_s", "cpu_sys_s"):
        c.eq(k, m[k], math.fsum(x[k] for x in cs), rel=1e-9)
    for k in ("user_s", "sys_s"):
        c.eq("cpu_window." + k, m["cpu_window"][k], math.fsum(x["cpu_window"][k] for x in cs), rel=1e-9)
    c.eq("connect_s", m["connect_s"], max(x["connect_s"] for x in cs))
    c.eq("rss_kb", m["rss_kb"], max(x["rss_kb"] for x in cs))
    frs = [x["first_round_s"] for x in cs]
    c.eq("first_round_s", m["first_round_s"], None if None in frs else max(frs))
    cw = sum(x["cpu_window"]["user_s"] + x["cpu_window"]["sys_s"] for x in cs)
    rt = sum(x["round_trips"] for x in cs)
    c.eq("client_us_per_rt", m["client_us_per_rt"], cw * 1e6 / rt if rt else 0, rel=1e-9)

    # The window every host measured in.
    s = [x["window_start_us"] for x in cs]
    e = [x["window_end_us"] for x in cs]
    c.eq("window_start_us", m["window_start_us"], max(s))
    c.eq("window_end_us", m["window_end_us"], min(e))
    c.eq("duration_s", m["duration_s"], max(0, min(e) - max(s)) / 1e6, rel=1e-9)
    c.eq("window_skew_ms", m["window_skew_ms"], max(max(s) - min(s), max(e) - min(e)) / 1000, rel=1e-9)

    # The histogram: bucket by bucket, exact (as hist_merge() adds them).
    h = {"count": 0, "sum": 0, "min": None, "max": None, "b": {}}
    for x in cs:
        hx = x["hist"]
        assert hx["sub_bits"] == SUB_BITS
        h["count"] += hx["count"]
        h["sum"] += hx["sum_ns"]
        if hx["count"]:
            h["min"] = hx["min_ns"] if h["min"] is None else min(h["min"], hx["min_ns"])
            h["max"] = hx["max_ns"] if h["max"] is None else max(h["max"], hx["max_ns"])
        for i, n in hx["buckets"]:
            h["b"][i] = h["b"].get(i, 0) + n
    h["sum"] = min(h["sum"], U64)          # hist_merge() saturates
    h["min"] = h["min"] or 0
    h["max"] = h["max"] or 0
    mh = m["hist"]
    c.eq("hist.sub_bits", mh["sub_bits"], SUB_BITS)
    c.eq("hist.count", mh["count"], h["count"])
    c.eq("hist.sum_ns", mh["sum_ns"], h["sum"])
    c.eq("hist.min_ns", mh["min_ns"], h["min"])
    c.eq("hist.max_ns", mh["max_ns"], h["max"])
    c.eq("hist.buckets", mh["buckets"], [[i, h["b"][i]] for i in sorted(h["b"])])
    c.eq("hist as written", bool(re.search(
        r'"hist":\{"sub_bits":[0-9]+,"count":[0-9]+,"sum_ns":[0-9]+,"min_ns":[0-9]+,"max_ns":[0-9]+,'
        r'"buckets":\[(\[[0-9]+,[0-9]+\](,\[[0-9]+,[0-9]+\])*)?\]\}\}$', lines[0])), True)
    for k, q in QS.items():
        c.eq("lat_us." + k, m["lat_us"][k], quantile(h, q) / 1e3)
    c.eq("lat_us.max", m["lat_us"]["max"], h["max"] / 1e3)
    c.eq("lat_us.mean", m["lat_us"]["mean"], h["sum"] / h["count"] / 1e3 if h["count"] else 0, rel=1e-9)

    # One entry per input, in order.
    c.eq("per_host entries", len(m["per_host"]), len(cs))
    for k, (p, x) in enumerate(zip(m["per_host"], cs)):
        for key in ("host", "conns", "round_trips", "rps", "cpus", "window_start_us", "window_end_us"):
            c.eq("per_host[%d].%s" % (k, key), p[key], x[key])
        c.eq("per_host[%d].p50_us" % k, p["p50_us"], x["lat_us"]["p50"])
        c.eq("per_host[%d].p99_us" % k, p["p99_us"], x["lat_us"]["p99"])
        pct = 100 * (x["cpu_window"]["user_s"] + x["cpu_window"]["sys_s"]) / x["duration_s"]
        c.eq("per_host[%d].cpu_window_pct" % k, p["cpu_window_pct"], pct, rel=0.002)

    if "--samples" in flags:
        samples = []
        for p in ins:
            samples += [int(v) for v in open(p + ".samples").read().split()]
        samples.sort()
        for k, q in QS.items():
            exact = samples[max(1, math.ceil(q * len(samples))) - 1]
            c.eq("lat_us.%s against the raw samples (1%%)" % k, m["lat_us"][k], exact / 1e3, rel=0.01)
    if "--discriminating" in flags:
        # The inputs must be ones where the shortcut is wrong, or the
        # comparison above proves nothing about it.
        for k in ("p50", "p99"):
            avg = sum(x["lat_us"][k] for x in cs) / len(cs)
            c.eq("an average of the hosts' %s is far (>5%%) from the merged one" % k,
                 abs(avg - m["lat_us"][k]) > 0.05 * m["lat_us"][k], True)
    print("merge_tool: %d checks, %d mismatches; merged p50 %s p90 %s p99 %s p999 %s us over %d hosts, %d round trips"
          % (c.n, c.bad, m["lat_us"]["p50"], m["lat_us"]["p90"], m["lat_us"]["p99"], m["lat_us"]["p999"],
             len(cs), m["round_trips"]))
    return 1 if c.bad else 0


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    cmd, argv = sys.argv[1], sys.argv[2:]
    if cmd == "gen":
        gen(argv)
    elif cmd == "gen-edge":
        gen_edge(argv[0])
    elif cmd == "gen-big":
        gen_big(argv[0], int(argv[1]), int(argv[2]))
    elif cmd == "check":
        return check(argv)
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
