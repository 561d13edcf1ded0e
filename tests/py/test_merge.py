"""scripts/c1m/merge.py's rules on hand-made client lines: sums, maxima,
nulls, the common window and its skew, the histogram added, the errors.
(tests/merge.sh runs scripts/merge on generated and real client lines.)

run: python3 tests/py/test_merge.py  (tests/merge.cases: merge-py-merge)
"""
import json
import os
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from c1m import hist, merge  # noqa: E402

T0 = 1765000000000000


def client(host, values, start=T0, end=T0 + 10_000_000, **kw):
    h = hist.of_values(values)
    c = {"design": "05_multi_epoll_client", "host": host, "cpus": 2, "conns_target": 100,
         "conns": 100, "loops": 1, "connect_s": 0.5, "first_round_s": 0.25,
         "duration_s": (end - start) / 1e6, "window_start_us": start, "window_end_us": end,
         "round_trips": len(values), "requests_sent": len(values) + 100, "replies": len(values) + 99,
         "unanswered": 1, "rps": len(values) / 10, "rate_target": 0, "rate_achieved": len(values) / 10,
         "late_sends": 0, "dropped": 0, "client_us_per_rt": 1, "errors": 0, "connect_errors": 0,
         "lost": 0, "mismatches": 0, "cpu_user_s": 1.5, "cpu_sys_s": 2.5, "rss_kb": 5000,
         "cpu_window": {"user_s": 1.0, "sys_s": 2.0},
         "lat_us": {"p50": hist.quantile(h, 0.5) / 1e3, "p99": hist.quantile(h, 0.99) / 1e3},
         "hist": h}
    c.update(kw)
    return c


class Rules(unittest.TestCase):
    def test_sums_maxima_and_the_histogram(self):
        a = client("a", [1000] * 90 + [50000] * 10, connect_s=0.75, rss_kb=7000)
        b = client("b", [2000] * 100, first_round_s=0.5, rate_target=3)
        m = merge.merge([a, b])
        self.assertEqual((m["hosts"], m["conns"], m["round_trips"], m["unanswered"]), (2, 200, 200, 2))
        self.assertEqual((m["connect_s"], m["rss_kb"], m["first_round_s"]), (0.75, 7000, 0.5))
        self.assertEqual((m["rps"], m["rate_target"], m["cpu_window"]), (20, 3, {"user_s": 2, "sys_s": 4}))
        self.assertEqual(m["client_us_per_rt"], 6e6 / 200)
        self.assertEqual(m["hist"], hist.merge([a["hist"], b["hist"]]))
        self.assertEqual(m["hist"]["count"], 200)
        # Ranks 100 and 198 of 90 x 1,000, 100 x 2,000, 10 x 50,000 ns: the
        # middles of 2,000's and 50,000's buckets (an average of the hosts'
        # p50 would be ~1.5 us); q = 1 is max.
        self.assertEqual(m["lat_us"]["p50"], hist.bucket_value(hist.index(2000, 6), 6) / 1e3)
        self.assertEqual(m["lat_us"]["p99"], hist.bucket_value(hist.index(50000, 6), 6) / 1e3)
        self.assertEqual(m["lat_us"]["max"], 50)
        self.assertEqual(m["lat_us"]["mean"], (90 * 1000 + 10 * 50000 + 100 * 2000) / 200 / 1e3)
        self.assertEqual([p["host"] for p in m["per_host"]], ["a", "b"])
        self.assertEqual(m["per_host"][0]["cpu_window_pct"], 30)
        self.assertEqual(list(m)[-1], "hist")

    def test_a_missing_number_makes_null(self):
        a = client("a", [1000] * 10, first_round_s=None)
        b = client("b", [1000] * 10)
        del b["rss_kb"]
        m = merge.merge([a, b])
        self.assertIsNone(m["first_round_s"])
        self.assertIsNone(m["rss_kb"])
        self.assertEqual(m["conns"], 200)

    def test_window_and_skew(self):
        a = client("a", [1000], start=T0, end=T0 + 10_000_000)
        b = client("b", [1000], start=T0 + 12_345, end=T0 + 10_020_000)
        m = merge.merge([a, b])
        self.assertEqual((m["window_start_us"], m["window_end_us"]), (T0 + 12_345, T0 + 10_000_000))
        self.assertEqual(m["duration_s"], 9.987655)
        self.assertEqual(m["window_skew_ms"], 20)
        w = []
        c = client("c", [1000], start=T0 + 20_000_000, end=T0 + 30_000_000)
        m = merge.merge([a, c], warnings=w)
        self.assertEqual((m["duration_s"], m["window_skew_ms"]), (0, 20000))
        self.assertEqual(w, ["warning: the windows do not overlap (the latest starts 10.000 s "
                             "after the earliest ends)"])
        # No window clock on one: the shortest duration, no window.
        del c["window_start_us"]
        m = merge.merge([a, c])
        self.assertEqual((m["window_start_us"], m["window_skew_ms"], m["duration_s"]), (None, None, 10))

    def test_exact_integers(self):
        a = client("a", [10 ** 9], round_trips=5_000_000_167)
        a["hist"]["sum_ns"] = 2 ** 63 + 1
        b = dict(a, host="b")
        line = merge.dumps(merge.merge([a, b]))
        self.assertIn('"round_trips":10000000334,', line)
        self.assertIn('"sum_ns":18446744073709551615,', line)     # saturated
        b["hist"] = dict(a["hist"], sum_ns=2 ** 63 - 3)
        self.assertIn('"sum_ns":18446744073709551614,', merge.dumps(merge.merge([a, b])))


class Errors(unittest.TestCase):
    def bad(self, want, cs):
        with self.assertRaises(merge.MergeError) as e:
            merge.merge(cs, ["f%d" % k for k in range(len(cs))])
        self.assertIn(want, str(e.exception))

    def test_each_error(self):
        g = client("g", [1000, 2000])
        self.bad("no input files", [])
        self.bad('f1: its JSON line has no "hist"', [g, {"error": "json overflow"}])
        self.bad("f1: sub_bits 7, but f0 has 6", [g, dict(g, hist=dict(g["hist"], sub_bits=7))])
        self.bad("no usable sub_bits", [dict(g, hist=dict(g["hist"], sub_bits=0))])
        self.bad('"hist" count 3 is not the sum of its buckets (2)', [dict(g, hist=dict(g["hist"], count=3))])
        self.bad("no integer count", [dict(g, hist=dict(g["hist"], count=2.0))])
        self.bad("no integer min_ns", [dict(g, hist=dict(g["hist"], min_ns=-1))])
        self.bad("buckets are not [[index, count]", [dict(g, hist=dict(g["hist"], buckets=[[1]]))])
        self.bad("not ascending (5 after 900)",
                 [dict(g, hist=dict(g["hist"], buckets=[[900, 1], [5, 1]]))])
        self.bad("bucket index 3776 out of range (sub_bits 6 has 3776 buckets)",
                 [dict(g, hist=dict(g["hist"], buckets=[[3776, 2]]))])
        self.bad("f1: already a merge of 2 hosts", [g, merge.merge([g, g])])

    def test_main_exits_2_with_one_line(self):
        d = tempfile.mkdtemp()
        p = os.path.join(d, "x.json")
        with open(p, "w") as f:
            f.write('client: up\n{"design": "x", "hist": ]\n')
        import contextlib
        import io
        for argv, want in (([], "no input files"), (["-x"], "unknown option '-x'"),
                           ([p], "its JSON line is not JSON"), ([d], "not a regular file"),
                           ([p + ".no"], "no such file")):
            err, out = io.StringIO(), io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
                rc = merge.main(argv)
            self.assertEqual((rc, out.getvalue(), err.getvalue().count("\n")), (2, "", 1), argv)
            self.assertTrue(err.getvalue().startswith("scripts/merge: "), err.getvalue())
            self.assertIn(want, err.getvalue())
        os.unlink(p)
        os.rmdir(d)


if __name__ == "__main__":
    unittest.main()
