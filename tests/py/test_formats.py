"""formats: .hgrm rows and text from known buckets, the real client's
percentiles through it, the progress lines and their CSV (tests/record.cases)."""
import json
import os
import subprocess
import unittest

from recpath import REPO
from c1m import formats, hist, schema

# 10, 20, 20, 30 ns: buckets below 128 hold one value each.
SMALL = {"sub_bits": 6, "count": 4, "sum_ns": 80, "min_ns": 10, "max_ns": 30,
         "buckets": [[10, 1], [20, 2], [30, 1]]}
REAL = os.path.join(REPO, "docs/results-hosts/06-20261201-150827.json")


class Hgrm(unittest.TestCase):
    def test_rows_known(self):
        # HdrHistogram's percentile iteration, 5 ticks per half distance.
        want = [(10, 0, 1), (10, 10, 1), (10, 20, 1), (20, 30, 3), (20, 40, 3), (20, 50, 3),
                (20, 55, 3), (20, 60, 3), (20, 65, 3), (20, 70, 3), (20, 75, 3),
                (30, 77.5, 4), (30, 100, 4)]
        self.assertEqual(formats.hgrm_rows(SMALL), want)

    def test_text_known(self):
        t = formats.hgrm_text(SMALL).splitlines()
        self.assertEqual(t[0], "       Value   Percentile   TotalCount 1/(1-Percentile)")
        self.assertEqual(t[1], "")
        self.assertEqual(t[2], "    0.000010     0.000000            1         1.00")
        self.assertEqual(t[5], "    0.000020     0.300000            3         1.43")
        self.assertEqual(t[-4], "    0.000030     1.000000            4          inf")
        self.assertEqual(t[-3], "#[Mean    =     0.000020, StdDeviation   =     0.000007]")
        self.assertEqual(t[-2], "#[Max     =     0.000030, Total count    =            4]")
        self.assertEqual(t[-1], "#[Buckets =           59, SubBuckets     =           64]")

    def test_bucket_middle(self):
        # 1000 ns is bucket 317, [1000, 1007]: it reports 1003, the middle.
        h = {"sub_bits": 6, "count": 2, "sum_ns": 2006, "min_ns": 1000, "max_ns": 1006,
             "buckets": [[317, 2]]}
        self.assertEqual([r[0] for r in formats.hgrm_rows(h)], [1003, 1003])
        # ... clamped to the largest value seen.
        h["max_ns"] = 1001
        self.assertEqual(formats.hgrm_rows(h)[-1][0], 1001)

    def test_real_client_percentiles(self):
        # The client computed lat_us with common/hist.c; the .hgrm row at
        # each percentile says the same value.
        with open(REAL) as f:
            c = json.load(f)["client"]
        rows = formats.hgrm_rows(c["hist"])
        self.assertGreater(len(rows), 50)
        for v, p, _ in rows[1:-1]:      # 0 and 100 are the bucket's, not min/max
            self.assertEqual(v, hist.quantile(c["hist"], p / 100), p)
        at = {p: v for v, p, _ in rows}
        for p, key in ((50, "p50"), (90, "p90")):
            self.assertAlmostEqual(at[p] / 1000, c["lat_us"][key], places=3)
        self.assertEqual(formats.hgrm_rows(c["hist"])[-1][2], c["hist"]["count"])

    def test_command_on_old_result(self):
        out = subprocess.run([os.path.join(REPO, "scripts/formats"), "hgrm", REAL],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("4596.957183     0.500000", out.stdout)
        # A client's own output line (tests/fixtures/merge) works too.
        out = subprocess.run([os.path.join(REPO, "scripts/formats"), "hgrm",
                              os.path.join(REPO, "tests/fixtures/merge/real-1.json")],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertTrue(out.stdout.startswith("       Value   Percentile"), out.stdout[:200])
        out = subprocess.run([os.path.join(REPO, "scripts/formats"), "progress",
                              os.path.join(REPO, "tests/fixtures/merge/real-1.json")],
                             capture_output=True, text=True)
        self.assertEqual((out.returncode, len(out.stderr.splitlines())), (2, 1), out.stderr)
        out = subprocess.run([os.path.join(REPO, "scripts/formats"), "bogus", REAL],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 2)
        self.assertEqual(len(out.stderr.splitlines()), 2)   # the reason, the usage


class Progress(unittest.TestCase):
    def test_parse(self):
        self.assertEqual(formats.parse_progress("conns 1000  rps 81277  p99 24.2 ms"),
                         {"conns": 1000, "rps": 81277, "p99_us": 24200.0})
        self.assertEqual(formats.parse_progress("conns 5  rps 9  p50 850 us  p99 1.50 s"),
                         {"conns": 5, "rps": 9, "p50_us": 850.0, "p99_us": 1500000.0})
        self.assertEqual(formats.parse_progress("conns 200  rps 0  accepted 200  resets 0  errors 0"),
                         {"conns": 200, "rps": 0})
        self.assertIsNone(formats.parse_progress("ramp: 130560/1000000 connected"))

    def test_csv_with_cpu(self):
        doc = {"samples": {"columns": ["t_s", "slab_kb", "tcp_inuse", "tcp_tw", "tcp_mem_pages",
                                       "server_rss_kb", "server_cpu_s", "client_cpu_s"],
                           "rows": [[0, 0, 0, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0.5, 0.25],
                                    [2, 0, 0, 0, 0, 0, 1.5, 0.5]]},
               "progress": [{"t_s": 1, "who": "server", "line": "conns 3  rps 10  accepted 3"},
                            {"t_s": 1, "who": "client", "line": "ramp: 3/3 connected"},
                            {"t_s": 1.5, "who": "client", "line": "conns 3  rps 12  p99 3.3 ms"},
                            {"t_s": 2, "who": "server", "line": "conns 3  rps 11  accepted 3"}]}
        lines = formats.progress_csv(doc).splitlines()
        self.assertEqual(lines, ["t_s,who,conns,rps,p50_us,p99_us,cpu_pct",
                                 "1.0,server,3,10,,,50.0",
                                 "1.5,client,3,12,,3300.0,25.0",
                                 "2.0,server,3,11,,,100.0"])

    def test_old_result_has_no_rows(self):
        doc = schema.load(REAL)
        self.assertEqual(formats.progress_csv(doc), "t_s,who,conns,rps,p50_us,p99_us,cpu_pct\n")


if __name__ == "__main__":
    unittest.main()


class TimeSeries(unittest.TestCase):
    DOC = {"client": {"connect_s": 0.2, "first_round_s": 0.05, "duration_s": 2.0,
                      "window_start_us": 1_000_001_000_000},
           "run": {"client_t0_wall_us": 1_000_000_000_000},
           "samples": {"columns": [], "rows": []},
           "progress": [{"t_s": 0.5, "who": "server", "line": "conns 3  rps 10  accepted 3"},
                        {"t_s": 1.5, "who": "client", "line": "conns 3  rps 12  p99 3.3 ms"},
                        {"t_s": 2.5, "who": "client", "line": "conns 3  rps 14  p99 2.0 ms"},
                        {"t_s": 3.5, "who": "server", "line": "conns 3  rps 11  accepted 3"}]}

    def test_phases(self):
        from c1m import charts
        self.assertEqual(charts.phases(self.DOC),
                         [("ramp", 0.0, 0.2), ("first round", 0.2, 0.25), ("window", 1.0, 3.0)])
        self.assertEqual(charts.phases({"client": None, "run": {}}), [])

    def test_svg(self):
        import xml.etree.ElementTree as ET
        from c1m import charts
        root = ET.fromstring(charts.timeseries_svg(self.DOC, "t <&> \"q\""))

        def tag(e):
            return e.tag.split("}")[-1]
        panels = [g for g in root.iter() if tag(g) == "g" and g.get("class") == "panel"]
        self.assertEqual([p.get("data-metric") for p in panels], ["rps", "p99_us"])
        lines = [{l.get("data-who"): l.get("points").split() for l in p.iter() if tag(l) == "polyline"}
                 for p in panels]
        self.assertEqual(sorted(lines[0]), ["client", "server"])
        self.assertEqual(sorted(lines[1]), ["client"])
        self.assertEqual(len(lines[1]["client"]), 2)
        # p99 3.3 ms drawn above (smaller y) 2.0 ms; time runs left to right.
        (x1, y1), (x2, y2) = [tuple(map(float, p.split(","))) for p in lines[1]["client"]]
        self.assertLess(y1, y2)
        self.assertLess(x1, x2)
        ph = {r.get("data-phase"): float(r.get("x")) for r in panels[0].iter() if r.get("class") == "phase"}
        self.assertEqual(sorted(ph), ["first round", "ramp", "window"])
        self.assertLess(ph["ramp"], ph["first round"])
        self.assertLess(ph["first round"], ph["window"])
        # The window starts at 1.0 s: between the points at 0.5 and 1.5 s.
        xs = sorted(float(p.split(",")[0]) for p in lines[0]["server"] + lines[0]["client"])
        self.assertLess(xs[0], ph["window"])
        self.assertLess(ph["window"], xs[1])
        self.assertIsNone(charts.timeseries_svg({"progress": []}, "x"))
