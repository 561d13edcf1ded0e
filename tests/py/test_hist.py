"""scripts/c1m/hist.py against common/hist.c itself: the same bucket edges
and the same quantiles on the same buckets (tests/tools/hist_quantile, built
by make, runs hist.c's own functions). One histogram rule, proved here.

run: python3 tests/py/test_hist.py  (tests/merge.cases: merge-py-hist)
"""
import os
import random
import subprocess
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from c1m import hist  # noqa: E402

SB = 6
NB = hist.nbuckets(SB)
U64 = hist.U64_MAX


def tool():
    d = os.environ.get("UNIT_DIR") or os.path.join(ROOT, "build", "plain", "tests")
    p = os.path.join(d if os.path.isabs(d) else os.path.join(ROOT, d), "hist_quantile")
    if not os.access(p, os.X_OK):
        raise unittest.SkipTest("no %s: run make first" % p)
    return p


def c_edges(indices):
    """hist.c: {i: (low, high, index(low), index(high))}."""
    out = subprocess.run([tool(), "-e"] + [str(i) for i in indices], check=True,
                         capture_output=True, text=True).stdout.split("\n")
    r = {}
    for k, i in enumerate(indices):
        a, b, c = out[3 * k:3 * k + 3]
        ii, lo, hi = map(int, a.split())
        r[ii] = (lo, hi, int(b.split()[1]), int(c.split()[1]))
    return r


def c_quantiles(h, qs):
    """hist.c's hist_quantile() at each q, for the histogram h."""
    text = "%d %d %d %d\n" % (h["count"], h["sum_ns"], h["min_ns"], h["max_ns"])
    text += "".join("%d %d\n" % (i, n) for i, n in h["buckets"])
    out = subprocess.run([tool()] + [repr(float(q)) for q in qs], input=text, check=True,
                         capture_output=True, text=True).stdout.split()
    return [int(v) for v in out]


QS = [0, 1, -0.5, 1.5, 1e-300, 1e-12, 1e-6, 0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999,
      0.9999, 0.99999, 1 - 1e-9, 1 - 2 ** -53, 1 / 3, 2 / 3]


def mkhist(b, lo=None, hi=None):
    """A histogram of buckets {index: count}; min/max the buckets' edges
    unless given."""
    idx = sorted(i for i in b if b[i])
    return {"sub_bits": SB, "count": sum(b.values()), "sum_ns": 0,
            "min_ns": hist.bucket_low(idx[0], SB) if lo is None and idx else (lo or 0),
            "max_ns": hist.bucket_high(idx[-1], SB) if hi is None and idx else (hi or 0),
            "buckets": [[i, b[i]] for i in idx]}


class Edges(unittest.TestCase):
    def test_every_bucket_edge_as_hist_c(self):
        want = c_edges(list(range(NB)))
        for i in range(NB):
            got = (hist.bucket_low(i, SB), hist.bucket_high(i, SB),
                   hist.index(hist.bucket_low(i, SB), SB), hist.index(hist.bucket_high(i, SB), SB))
            self.assertEqual(got, want[i], "bucket %d: (low, high, index(low), index(high))" % i)

    def test_layout(self):
        # Exact below 128; a group boundary; the last bucket ends at 2^64 - 1.
        self.assertEqual([hist.bucket_low(i, SB) for i in (0, 1, 127, 128, 129, 191, 192)],
                         [0, 1, 127, 128, 130, 254, 256])
        self.assertEqual(hist.bucket_high(NB - 1, SB), U64)
        self.assertEqual(hist.index(U64, SB), NB - 1)
        self.assertEqual(hist.bucket_value(128, SB), 128)   # 128..129: 128 + 1 // 2
        self.assertEqual(hist.bucket_value(192, SB), 257)   # 256..259


class Quantiles(unittest.TestCase):
    def same(self, h, qs=QS, what=""):
        want = c_quantiles(h, qs)
        got = [hist.quantile(h, q) for q in qs]
        for q, g, w in zip(qs, got, want):
            self.assertEqual(g, w, "%s q=%r: hist.py %d, hist.c %d" % (what, q, g, w))

    def test_each_bucket_alone_reports_its_middle(self):
        # min 0, max 2^64 - 1: nothing clamps, the quantile is the bucket's
        # middle (low + (high - low) / 2, integer): the first buckets, group
        # boundaries and the largest index.
        picks = list(range(0, 140)) + [g * 64 + s for g in range(2, 59) for s in (0, 1, 31, 63)]
        picks = sorted(set(i for i in picks if i < NB)) + [NB - 2, NB - 1]
        for i in picks:
            h = mkhist({i: 3}, lo=0, hi=U64)
            self.same(h, [0.5], "bucket %d" % i)
            self.assertEqual(hist.quantile(h, 0.5), hist.bucket_value(i, SB))

    def test_random_histograms(self):
        r = random.Random(19)
        for k in range(60):
            nb = r.choice([1, 2, 3, 5, 40, 300])
            b = {}
            for _ in range(nb):
                b[r.randrange(NB if k % 5 == 0 else 1500)] = r.choice([1, 2, 7, r.randrange(1, 10 ** 6)])
            idx = sorted(b)
            lo = r.randrange(hist.bucket_low(idx[0], SB), hist.bucket_high(idx[0], SB) + 1)
            hi = r.randrange(hist.bucket_low(idx[-1], SB), hist.bucket_high(idx[-1], SB) + 1)
            self.same(mkhist(b, lo, hi), what="random %d" % k)

    def test_tiny_counts(self):
        for b in ({1000: 1}, {100: 1, 2000: 1}, {10: 1, 11: 1, 3000: 1}, {0: 1}, {127: 2, 128: 1}):
            self.same(mkhist(b), what=str(b))

    def test_huge_counts(self):
        # Counts past 2^53: q * count is a double (rounded as C rounds it).
        for b in ({700: 2 ** 62, 900: 3}, {300: 10 ** 17 + 1, 301: 1, 2000: 2 ** 61 + 7},
                  {i: 2 ** 55 + i for i in range(200, 3000, 97)}):
            self.same(mkhist(b), what="huge")

    def test_ranks_at_bucket_ends(self):
        # 500/400/90/9/1: ranks 500, 900, 990, 999 end buckets exactly;
        # 1,001 records: ceil(q * count) falls one past each end.
        for extra in (0, 1):
            b = {1000: 500, 1200: 400, 1500: 90, 1800: 9 + extra, 2100: 1}
            self.same(mkhist(b), what="ends+%d" % extra)

    def test_clamped_to_min_and_max(self):
        i = hist.index(5000, SB)
        mid = hist.bucket_value(i, SB)
        h = mkhist({i: 10, i + 5: 1}, lo=mid + 3, hi=hist.bucket_low(i + 5, SB) + 1)
        self.same(h, what="clamp")
        self.assertEqual(hist.quantile(h, 0.5), mid + 3)               # up to min
        self.assertEqual(hist.quantile(h, 0.99), hist.bucket_low(i + 5, SB) + 1)  # down to max

    def test_empty_and_short(self):
        self.same({"sub_bits": SB, "count": 0, "sum_ns": 0, "min_ns": 0, "max_ns": 0, "buckets": []},
                  what="empty")
        # A count above the buckets' sum: the rank is never reached, max.
        self.same(dict(mkhist({300: 5}, hi=777), count=9), what="short")

    def test_exact_quantiles_within_the_bucket_error(self):
        # Against the exact quantile of raw samples: within 1/128.
        r = random.Random(7)
        vals = sorted(int(r.lognormvariate(12, 1.5)) + 1 for _ in range(20000))
        h = hist.of_values(vals)
        for q in (0.5, 0.9, 0.99, 0.999):
            exact = vals[max(1, -(-int(q * len(vals)) // 1)) - 1]
            self.assertLessEqual(abs(hist.quantile(h, q) - exact), exact / 128 + 1, q)


# Broken copies of hist.py, each of which the comparison with hist.c must
# catch (tests that cannot fail prove nothing): text, replacement.
MUTANTS = (
    ("mid rounded up", "return lo + (hi - lo) // 2", "return lo + (hi - lo + 1) // 2"),
    ("upper edge", "return lo + (hi - lo) // 2", "return hi"),
    ("rank floored", "    if rank < x:\n", "    if False:\n"),
    ("rank + 1", "    if rank < x:\n", "    if True:\n"),
    ("no clamp to min", "            if v < hist[\"min_ns\"]:", "            if False:"),
    ("no clamp to max", "            if v > hist[\"max_ns\"]:", "            if False:"),
    ("group shifted", "return (sub + s) << (group - 1)", "return (sub + s) << group"),
    ("high = next low", "return bucket_low(i + 1, sub_bits) - 1", "return bucket_low(i + 1, sub_bits)"),
    ("q <= 0 as 0", "        return hist[\"min_ns\"]\n    if q >= 1", "        return 0\n    if q >= 1"),
)


class Mutants(unittest.TestCase):
    def test_each_broken_rule_is_caught(self):
        import types
        with open(hist.__file__) as f:
            src = f.read()
        r = random.Random(5)
        cases = [mkhist({1000: 500, 1200: 400, 1500: 90, 1800: 9, 2100: 1}),
                 mkhist({i: r.randrange(1, 50) for i in r.sample(range(NB), 40)}),
                 mkhist({hist.index(5000, SB): 10, hist.index(9000, SB): 1}, lo=5030, hi=9001),
                 mkhist({i: 1 for i in (0, 5, 127, 128, 200, 3000, NB - 1)}, lo=0, hi=U64)]
        want = [c_quantiles(h, QS) for h in cases]
        edges = c_edges(list(range(NB)))
        for name, a, b in MUTANTS:
            self.assertEqual(src.count(a), 1, "mutant %s: its text is no longer in hist.py" % name)
            m = types.ModuleType("hist_mutant")
            exec(compile(src.replace(a, b), "hist_mutant", "exec"), m.__dict__)
            bad = any([m.quantile(h, q) for q in QS] != w for h, w in zip(cases, want))
            bad = bad or any((m.bucket_low(i, SB), m.bucket_high(i, SB)) != edges[i][:2] for i in range(NB))
            self.assertTrue(bad, "mutant '%s' agrees with hist.c: the test cannot see it" % name)


class Merge(unittest.TestCase):
    def test_adds_buckets_and_saturates(self):
        a = {"sub_bits": 6, "count": 3, "sum_ns": U64 - 10, "min_ns": 7, "max_ns": 900,
             "buckets": [[7, 1], [400, 2]]}
        b = {"sub_bits": 6, "count": 2, "sum_ns": 11, "min_ns": 50, "max_ns": 1000,
             "buckets": [[50, 1], [400, 1]]}
        e = {"sub_bits": 6, "count": 0, "sum_ns": 0, "min_ns": 0, "max_ns": 0, "buckets": []}
        m = hist.merge([a, e, b])
        self.assertEqual(m, {"sub_bits": 6, "count": 5, "sum_ns": U64, "min_ns": 7, "max_ns": 1000,
                             "buckets": [[7, 1], [50, 1], [400, 3]]})
        self.assertEqual(hist.merge([e, e])["min_ns"], 0)
        self.assertEqual(hist.merge([a, b])["sum_ns"], U64)          # one past: saturated
        b["sum_ns"] = 9
        self.assertEqual(hist.merge([a, b])["sum_ns"], U64 - 1)      # exact below
        with self.assertRaises(ValueError):
            hist.merge([a, dict(b, sub_bits=7)])

    def test_merge_then_quantile_equals_hist_c_on_the_sum(self):
        r = random.Random(3)
        parts = [hist.of_values([int(r.expovariate(1 / m)) + 1 for _ in range(3000)])
                 for m in (2e5, 3e6, 5e7)]
        m = hist.merge(parts)
        self.assertEqual(m["count"], 9000)
        Quantiles.same(self, m, what="merged")


if __name__ == "__main__":
    unittest.main()
