"""report: the set it picks, and new (version 2) results beside old ones in
one table (tests/record.cases; tests/report.sh holds the user-level cases)."""
import contextlib
import io
import json
import os
import re
import shutil
import tempfile
import unittest

from recpath import REPO
from c1m import record, report
from c1m.model import Facts, Options


def summ(nn, st, started, quick=0, status="ok", conns=1000, rps=100.0):
    return {"nn": nn, "design": nn + "_x", "client": "05_multi_epoll_client", "variant": "",
            "set": st, "started": started, "quick": quick, "status": status, "netns": 0,
            "conns_target": conns, "conns": conns, "rps": rps}


def runs(*ss):
    return [(s, {}, "./run.sh", "%s-%d.json" % (s["nn"], i), []) for i, s in enumerate(ss)]


class PickSet(unittest.TestCase):
    def test_newest_complete_not_quick(self):
        r = runs(summ("01", "old", "2026-12-01"), summ("02", "old", "2026-12-01"),
                 summ("01", "inc", "2026-12-03"),
                 summ("01", "q", "2026-12-04", quick=1), summ("02", "q", "2026-12-04", quick=1))
        used, count, missing = report.pick_set(r, "", False, ["01", "02"])
        self.assertEqual(used, "old")                  # newer "inc" lacks 02, "q" is --quick
        self.assertEqual(missing["inc"], ["02"])
        used, _, _ = report.pick_set(r, "", True, ["01", "02"])
        self.assertEqual(used, "q")                    # --quick counts it
        used, count, _ = report.pick_set(r, "q", False, ["01", "02"])
        self.assertEqual((used, count["q"]), ("q", 2))  # --set names it
        with self.assertRaisesRegex(report.Fail, r"--set nope: no run has that set \(sets here: old inc\)"):
            report.pick_set(r, "nope", False, ["01", "02"])

    def test_newest_only_when_none_complete(self):
        r = runs(summ("01", "a", "2026-12-01"), summ("01", "b", "2026-12-02"))
        self.assertEqual(report.pick_set(r, "", False, ["01", "02"])[0], "b")

    def test_rows(self):
        r = runs(summ("02", "s", "2026-12-01", conns=2000), summ("01", "s", "2026-12-01"),
                 summ("01", "s", "2026-12-02", status="failed"), summ("01", "", "2026-12-05"))
        p = report.take_rows(r, "s", "", False)
        self.assertEqual([x[0]["nn"] for x in p.rows], ["01", "02"])   # by connections
        self.assertEqual(len(p.failed), 1)


    def test_workloads_apart(self):
        # One design at one count under two workloads: two rows, each labelled.
        a, b = summ("06", "s", "2026-12-01T01", rps=100.0), summ("06", "s", "2026-12-01T02", rps=7.0)
        a["workload"], b["workload"] = "pingpong", "churn:1"
        p = report.take_rows(runs(a, b), "s", "", False)
        self.assertEqual(sorted((x[0]["workload"], x[0]["rps"]) for x in p.rows),
                         [("churn:1", 7.0), ("pingpong", 100.0)])
        self.assertEqual(sorted(report.label(x[0]) for x in p.rows), ["06_x", "06_x churn:1"])

    def test_median_round_of_a_set(self):
        r = runs(summ("06", "s", "2026-12-01T01", rps=300.0), summ("06", "s", "2026-12-01T02", rps=100.0),
                 summ("06", "s", "2026-12-01T03", rps=200.0), summ("03", "s", "2026-12-01T01", rps=5.0))
        p = report.take_rows(r, "s", "", False)
        self.assertEqual([(x[0]["nn"], x[0]["rps"]) for x in p.rows], [("03", 5.0), ("06", 200.0)])


class NewBesideOld(unittest.TestCase):
    def test_v2_result_in_the_table(self):
        f = Facts(nn="06", server_dir="06_multi_epoll_server", client_dir="05_multi_epoll_client",
                  started="2026-12-07T10:00:00Z", conns=5000, client_rc=0, server_rc=0,
                  client_wall_s=10.0,
                  client={"conns": 5000, "rps": 123456.789, "duration_s": 5, "loops": 2,
                          "lat_us": {"p50": 1234.5678, "p99": 23456.789, "max": 50000, "mean": 2000},
                          "cpu_window": {"user_s": 1, "sys_s": 2}, "first_round_s": 0.5},
                  server={"window_rps": 123000.5, "window_s": 5, "server_us_per_rt": 3.14159,
                          "cpu_window": {"user_s": 1, "sys_s": 1}, "loops": 2, "rss_kb_peak": 4000})
        o = Options(target="06", argv=["06", "-n", "5000"])
        doc = record.result(f, o, record.summary(f, o, 2), {"cores": 2, "kernel": "k", "cpu": "c",
                                                            "mem_total_kb": 1048576}, {"commit": "c" * 40})
        with tempfile.TemporaryDirectory() as tmp:
            res = os.path.join(tmp, "results")
            shutil.copytree(os.path.join(REPO, "tests/fixtures/results"), res)
            record.write(doc, res, {}, say=lambda m: None)
            readme = os.path.join(tmp, "R.md")
            with open(readme, "w") as fh:
                fh.write("x\n<!-- results:begin -->\n<!-- results:end -->\ny\n")
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                rc = report.main(["--results", res, "--readme", readme, "--svg-dir", os.path.join(tmp, "svg")])
            self.assertEqual((rc, err.getvalue()), (0, ""))
            with open(readme) as fh:
                text = fh.read()
        self.assertIn("#### 5,000 connections", text)
        self.assertIn("| 06_multi_epoll_server | 123,457 | 1.2 ms | 23.5 ms | 3.14 | - |", text)
        self.assertIn("| 10_io_bound_epoll -m timer | 99,012 |", text)      # an old file beside it
        self.assertIn("`./run.sh 06 -n 5000`", text)


class RatioTable(unittest.TestCase):
    """A set with its compare-<set>.json: the README gets the ratios of the
    rounds with their spread, stamped; --details gets every run's figures."""

    def test_readme_ratios_and_details(self):
        from c1m import compare
        with tempfile.TemporaryDirectory() as tmp:
            res = os.path.join(tmp, "results")
            shutil.copytree(os.path.join(REPO, "tests", "fixtures", "compare"), res)
            st = "compare-20261202-090000"
            rows = {1000: {"baseline": [{"rc": 0, "rps": 1000.0}, {"rc": 0, "rps": 2000.0},
                                        {"rc": 0, "rps": 1500.0}],
                           "06": [{"rc": 0, "rps": 800.0, "p99_us": 1500.0, "server_us_per_rt": 7.5},
                                  {"rc": 0, "rps": 1500.0, "p99_us": 1600.0, "server_us_per_rt": 7.0},
                                  {"rc": 0, "rps": 1200.0, "p99_us": 1700.0, "server_us_per_rt": 8.0}],
                           "03": [{"rc": 0, "rps": 500.0}, None, {"rc": 0, "rps": 600.0}]}}
            doc = compare.figures(st, 3, rows, {1000: ("baseline", "the bare epoll pair")},
                                  {"baseline": "baseline_pair", "06": "06_multi_epoll_server",
                                   "03": "03_epoll_throughput"})
            doc.update({"command": ["compare", "-r", "3"], "started": "2026-12-02T09:00:00Z",
                        "provenance": {"commit": "0123456789abcdef0123", "dirty": False},
                        "machine": {"cores": 2, "kernel": "6.18", "mem_total_kb": 25165824}})
            with open(os.path.join(res, st + ".json"), "w") as f:
                json.dump(doc, f)
            readme = os.path.join(tmp, "README.md")
            details = os.path.join(tmp, "results.md")
            for path in (readme, details):
                with open(path, "w") as f:
                    f.write("top\n%s\nold\n%s\nbottom\n" % (report.BEGIN, report.END))
            out, err = io.StringIO(), io.StringIO()
            rc = report.run(report.parse(["--results", res, "--readme", readme, "--details", details,
                                          "--svg-dir", tmp], {}), REPO, out, err)
            self.assertEqual(rc, 0, err.getvalue())
            with open(readme) as f:
                text = f.read()
            with open(details) as f:
                full = f.read()
        self.assertTrue(text.startswith("top\n") and text.endswith("bottom\n") and "old" not in text)
        self.assertIn("set `compare-20261202-090000`, 3 rounds interleaved), 2026-12-02, commit 0123456789ab", text)
        # ratios per round: 0.8 0.75 0.8 -> median 0.80 [0.75-0.80]; rps 1,200 [800-1,500]
        self.assertIn("| 06_multi_epoll_server | 1,200 [800–1,500] | 0.80 [0.75–0.80] | 1.6 ms | 7.50 |", text)
        self.assertIn("| 03_epoll_throughput (2 of 3 rounds passed) | 550 [500–600] | 0.45 [0.40–0.50] |", text)
        self.assertIn("| baseline_pair (reference) | 1,500 [1,000–2,000] | 1 |", text)
        self.assertIn("[results.md](results.md)", text)
        self.assertNotIn("| design | rps | p50 |", text)          # the per-run table went to details
        self.assertIn("| design | rps | p50 |", full)


    def test_fixed_rate_and_small_ratios(self):
        from c1m import compare
        rows = {1000: {"baseline": [{"rc": 0, "rps": 50000.0}], "01": [{"rc": 0, "rps": 200.0}],
                       "12": [{"rc": 0, "rps": 175.0}]}}
        doc = compare.figures("s", 1, rows, {1000: ("baseline", "the bare epoll pair")},
                              {"baseline": "baseline_pair", "01": "01_thread_per_conn",
                               "12": "12_cpu_bound_epoll"})
        text = report.ratio_text(doc, ["a", "b", "c"], "", {"01_thread_per_conn": 200})
        self.assertIn("| 01_thread_per_conn | 200 (fixed rate, -r 200) | - |", text)
        self.assertIn("| 12_cpu_bound_epoll | 175 | 0.0035 |", text)


class WorkloadTables(unittest.TestCase):
    """A set of several workloads (tests/fixtures/workloads: pingpong,
    churn:1 and push:broadcast,10,8, two rounds, figures only): one README
    table per workload and count, each with its shape's columns and the
    ratio of its shape's figure."""

    def test_per_workload_tables(self):
        st = "compare-20261206T180000Z"
        with tempfile.TemporaryDirectory() as tmp:
            readme = os.path.join(tmp, "README.md")
            with open(readme, "w") as f:
                f.write("top\n%s\nold\n%s\nbottom\n" % (report.BEGIN, report.END))
            out, err = io.StringIO(), io.StringIO()
            rc = report.run(report.parse(["--results", os.path.join(REPO, "tests/fixtures/workloads"),
                                          "--set", st, "--readme", readme, "--svg-dir", tmp], {}),
                            REPO, out, err)
            self.assertEqual(rc, 0, err.getvalue())
            with open(readme) as f:
                text = f.read()
        self.assertIn("`./run.sh compare -r 2 --designs 02,06,14 --max-conns 1000 --workload "
                      "'pingpong;churn:1;push:broadcast,10,8'` (set `%s`, 2 rounds" % st, text)
        heads = re.findall(r"^#### (.*)$", text, re.M)
        self.assertEqual(heads, ["`pingpong` at 1,000 connections — reference: baseline_pair",
                                 "`churn:1` at 1,000 connections — reference: baseline_pair",
                                 "`push:broadcast,10,8` at 1,000 connections — reference: "
                                 "06_multi_epoll_server"])
        churn = text.split("#### `churn:1`")[1].split("####")[0]
        self.assertIn("| design | conns opened/s median [min–max] | × reference [min–max] | connect p99 "
                      "| srv µs/conn | conn errors | within noise of |", churn)
        # 02: 9,000 and 9,450 opened/s over the bare loop's 20,000 and 21,000: 0.45 both rounds.
        self.assertIn("| 02_epoll_server | 9,225 [9,000–9,450] | 0.45 | 2.2 ms | 48.0 | 0 |  |", churn)
        self.assertIn("| baseline_pair (reference) | 20,500 [20,000–21,000] | 1 |", churn)
        push = text.split("#### `push:broadcast,10,8`")[1]
        self.assertIn("| design | srv µs/push median [min–max] | × reference [min–max] | deliv p50 | "
                      "deliv p99 | deliv max | fan-out p50 | fan-out max | missing | slow dropped |", push)
        self.assertIn("| 14_io_uring | 2.0 [1.8–2.2] | 0.47 [0.45–0.50] | 155 us | 1.2 ms | 1.6 ms | "
                      "1.6 ms | 1.9 ms | 0 | 1 |  |", push)
        pp = text.split("#### `pingpong`")[1].split("####")[0]
        self.assertIn("| 06_multi_epoll_server | 59,190 [57,000–61,380] | 0.97 [0.95–0.99] | 26.5 ms | 9.62 |", pp)
        self.assertIn("connections opened/s for churn", text)

    def test_plain_set_has_no_workload_heading(self):
        from c1m import compare
        doc = compare.figures("s", 1, {1000: {"06": [{"rc": 0, "rps": 5.0}]}}, {1000: (None, "x")},
                              {"06": "06_multi_epoll_server"})
        text = report.ratio_text(doc, ["a", "b", "c"], "")
        self.assertIn("#### 1,000 connections — reference: none (x)", text)
        self.assertNotIn("Workloads (", text)


if __name__ == "__main__":
    unittest.main()
