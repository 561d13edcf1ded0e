"""--workload: every shape's parsing, its canonical name, its parameters and
the client arguments it maps to; every refusal (one line, exit 2); the -C
clash; the result's workload keys; compare's per-workload tables
(tests/runsh-workload.cases)."""
import contextlib
import io
import os
import subprocess
import sys
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from c1m import cli, compare, record, schema, workload  # noqa: E402
from c1m.model import Facts, Options, UsageError  # noqa: E402
from clicase import CliCase  # noqa: E402


class Parse(unittest.TestCase):
    def test_each_shape(self):
        cases = [
            ("pingpong", "pingpong", {}, ()),
            ("pipeline:4", "pipeline:4", {"depth": 4}, ("-q", "4")),
            ("pipeline:4096", "pipeline:4096", {"depth": 4096}, ("-q", "4096")),
            ("size:8", "size:8", {"bytes": 8}, ("-l", "8")),
            ("size:4096", "size:4096", {"bytes": 4096}, ("-l", "4096")),
            ("size:4K", "size:4096", {"bytes": 4096}, ("-l", "4096")),
            ("size:1M", "size:1048576", {"bytes": 1048576}, ("-l", "1048576")),
            ("churn:1", "churn:1", {"lifetime": 1, "close": "fin"}, ("-x", "1")),
            ("churn:100,rst", "churn:100,rst", {"lifetime": 100, "close": "rst"}, ("-x", "100", "-R")),
            ("heartbeat:30", "heartbeat:30", {"every_s": 30.0}, ("-H", "30")),
            ("heartbeat:0.5", "heartbeat:0.5", {"every_s": 0.5}, ("-H", "0.5")),
            ("heartbeat:30.0", "heartbeat:30", {"every_s": 30.0}, ("-H", "30")),
            ("storm:10@5", "storm:10@5", {"pct": 10, "at_s": 5.0}, ("--storm", "10@5")),
            ("storm:100@0.5", "storm:100@0.5", {"pct": 100, "at_s": 0.5}, ("--storm", "100@0.5")),
        ]
        for spec, name, params, args in cases:
            with self.subTest(spec=spec):
                w = workload.parse(spec)
                self.assertEqual((w.name, w.params, w.args), (name, params, args))
                self.assertEqual(w.shape, spec.split(":")[0])

    def test_refusals(self):
        for spec in ("pipeline:0", "pipeline:4097", "pipeline:-1", "pipeline:x", "pipeline",
                     "pipeline:", "size:7", "size:1048577", "size:2G", "size:2M", "size:",
                     "churn:0", "churn:-1", "churn:1,fin", "churn:1,", "heartbeat:0",
                     "heartbeat:0.0001", "heartbeat:-1", "heartbeat:1e3", "storm:150@2",
                     "storm:0@2", "storm:10", "storm:10@", "storm:10@-1", "storm:10@10",
                     "storm:10@11", "pingpong:1", "pipe:4", "", "bogus"):
            with self.subTest(spec=spec):
                with self.assertRaises(UsageError) as e:
                    workload.parse(spec)
                self.assertNotIn("\n", str(e.exception))

    def test_storm_window_follows_d(self):
        self.assertEqual(workload.parse("storm:10@15", "20").params["at_s"], 15.0)
        with self.assertRaises(UsageError) as e:
            workload.parse("storm:10@2", "2")
        self.assertIn("outside the 2 s window", str(e.exception))
        workload.parse("storm:10@1.5", "2")

    def test_list(self):
        ws = workload.parse_list(["pipeline:4;size:4K", "size:4096", "churn:1"])
        self.assertEqual([w.name for w in ws], ["pipeline:4", "size:4096", "churn:1"])
        with self.assertRaises(UsageError):
            workload.parse_list(["pipeline:4;;size:8"])

    def test_clash_with_C(self):
        for spec, words in (("pipeline:4", ["-q", "2"]), ("pipeline:4", ["-q2"]),
                            ("size:64", ["-l", "64"]), ("churn:1", ["-x", "5"]),
                            ("churn:1", ["-R"]), ("heartbeat:1", ["-H", "2"]),
                            ("storm:1@1", ["--storm", "5@1"]), ("storm:1@1", ["--storm=5@1"])):
            with self.subTest(spec=spec, words=words):
                with self.assertRaises(UsageError):
                    workload.check_extra(workload.parse(spec), words)
        workload.check_extra(workload.parse("pipeline:4"), ["-l", "64", "-c", "2"])
        workload.check_extra(workload.parse("churn:1"), ["-q", "2"])
        # The client combines -r with -x and -H: a rate on top is allowed.
        workload.check_extra(workload.parse("churn:1"), ["-r", "100"])
        workload.check_extra(workload.parse("heartbeat:1"), ["-r", "100"])


class Cli(CliCase):
    def test_run_option(self):
        o = self.parse("06", "--workload", "pipeline:4")
        self.assertEqual([w.name for w in o.workloads], ["pipeline:4"])
        self.assertEqual(self.parse("06", "--workload=size:4K").workloads[0].args, ("-l", "4096"))
        self.assertEqual(self.parse("06").workloads, [])

    def test_run_refusals(self):
        self.refused("integer in 1..4096", "06", "--workload", "pipeline:0")
        self.refused("8..1048576", "06", "--workload", "size:7")
        self.refused("PCT must be", "06", "--workload", "storm:150@2")
        self.refused("outside the 2 s window", "06", "--quick", "--workload", "storm:10@2")
        self.refused("outside the 3 s window", "06", "-d", "3", "--workload", "storm:10@3")
        self.refused("unknown shape", "06", "--workload", "ramp:3")
        self.refused("one shape a run", "06", "--workload", "pipeline:4;size:64")
        self.refused("not -q in -C", "06", "--workload", "pipeline:4", "-C", "-q 8")
        with self.assertRaises(UsageError):
            self.parse("06", "--workload")

    def test_compare_takes_several(self):
        o = self.parse("compare", "--workload", "pipeline:4;size:4096", "--workload", "churn:1")
        self.assertEqual([w.name for w in o.workloads], ["pipeline:4", "size:4096", "churn:1"])

    def test_one_line_exit_2(self):
        for w in ("pipeline:0", "size:7", "storm:150@2", "storm:10@20", "nope"):
            with self.subTest(w=w):
                # --dry-run --quick: should the check break, nothing is run or changed.
                p = subprocess.run([os.path.join(ROOT, "run.sh"), "06", "--no-build", "--dry-run",
                                    "--quick", "--workload", w], capture_output=True, text=True,
                                   cwd=ROOT, timeout=30)
                self.assertEqual(p.returncode, 2)
                self.assertEqual(p.stdout, "")
                self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
                self.assertTrue(p.stderr.startswith("run.sh: --workload"), p.stderr)

    def test_client_without_the_flag_refused(self):
        p = subprocess.run([os.path.join(ROOT, "run.sh"), "04", "--no-build", "--dry-run", "--quick",
                            "--workload", "pipeline:4"], capture_output=True, text=True, cwd=ROOT,
                           timeout=30)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("04_epoll_client/client does not take -q 4", p.stderr)

    def test_all_leaves_out_a_client_without_the_flag(self):
        p = subprocess.run([os.path.join(ROOT, "run.sh"), "all", "--no-build", "--dry-run", "--quick",
                            "--workload", "pipeline:4"], capture_output=True, text=True, cwd=ROOT,
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout[-2000:] + p.stderr)
        self.assertIn("run.sh: 04: not run: 04_epoll_client/client does not take -q 4", p.stdout)
        self.assertIn("-P SERVER_PID -q 4\n", p.stdout)

    def test_workload_client_is_the_engine(self):
        # A workload other than ping-pong: every design whose own client is
        # 05's engine with other defaults (01, 02 at 200/s, 03 one loop)
        # is driven by 05's client itself; 04's single-loop lesson keeps its own.
        from c1m import designs
        got = {nn: designs.workload_client_dir(nn) for nn in ("01", "02", "03", "04", "06", "14")}
        self.assertEqual(got, {"01": "05_multi_epoll_client", "02": "05_multi_epoll_client",
                               "03": "05_multi_epoll_client", "04": "04_epoll_client",
                               "06": "05_multi_epoll_client", "14": "05_multi_epoll_client"})
        p = subprocess.run([os.path.join(ROOT, "run.sh"), "02", "--no-build", "--dry-run", "--quick",
                            "--workload", "churn:1"], capture_output=True, text=True, cwd=ROOT, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("client: ./05_multi_epoll_client/client -p 8972 -n 200 ", p.stdout)
        self.assertNotIn(" -r ", p.stdout.split("client: ")[1])
        # Ping-pong keeps each design's own client (the default run unchanged).
        p = subprocess.run([os.path.join(ROOT, "run.sh"), "02", "--no-build", "--dry-run", "--quick"],
                           capture_output=True, text=True, cwd=ROOT, timeout=30)
        self.assertIn("client: ./02_epoll_server/client ", p.stdout)

    def test_whole_machine_option(self):
        self.assertTrue(self.parse("06", "--whole-machine").whole_machine)
        self.assertFalse(self.parse("06").whole_machine)
        self.assertTrue(self.parse("compare", "--whole-machine").whole_machine)
        self.assertIn("--whole-machine", cli.USAGE)

    def test_help_names_it(self):
        self.assertIn("--workload W", cli.USAGE)
        for shape in ("pipeline:N", "size:BYTES", "churn:N[,rst]", "heartbeat:SEC", "storm:PCT@SEC"):
            self.assertIn(shape, cli.USAGE)


CLIENT = {"conns": 100, "rps": 1000.5, "duration_s": 2.0, "depth": 4, "msg_bytes": 4096,
          "tx_bytes_per_s": 4098048.123456789, "rx_bytes_per_s": 4098048.5,
          "connect_lat_us": {"count": 120, "p50": 101.123, "p99": 2047.999, "max": 3000.5},
          "conns_opened_per_s": 9.87654321, "churned": 20, "reconnects": 20, "time_wait": 7,
          "heartbeat_s": 0, "send_lag_us": {"count": 0, "p50": 0, "p99": 0, "max": 0},
          "client_cpu_per_1k_conns": 1.234567891, "storm_dropped": 10, "storm_back": 10,
          "storm_retries": 3, "storm_recovery_s": 0.012345678, "connect_errors": 0,
          "lat_us": {"p50": 10, "p99": 20, "max": 30, "mean": 12},
          "cpu_window": {"user_s": 0.1, "sys_s": 0.1}}


class Record(unittest.TestCase):
    def summary(self, wl):
        f = Facts(nn="06", server_dir="06_multi_epoll_server", client_dir="05_multi_epoll_client",
                  conns=100, client_rc=0, server_rc=0, client=dict(CLIENT),
                  server={"loops": 2, "window_s": 2.0, "cpu_window": {"user_s": 0.1, "sys_s": 0.1}},
                  workload=wl, tcp_ext0={"ListenOverflows": 5}, tcp_ext1={"ListenOverflows": 9})
        return record.summary(f, Options(target="06"), 2, me="x")

    def test_summary_names_workload_full_precision(self):
        s = self.summary(workload.parse("pipeline:4"))
        self.assertEqual(s["workload"], "pipeline:4")
        self.assertEqual(s["workload_params"], {"depth": 4})
        self.assertEqual(s["tx_bytes_per_s"], 4098048.123456789)
        self.assertEqual(s["connect_p99_us"], 2047.999)
        self.assertEqual(s["conns_opened_per_s"], 9.87654321)
        self.assertEqual(s["storm_recovery_s"], 0.012345678)
        self.assertEqual(s["client_cpu_per_1k_conns"], 1.234567891)
        self.assertEqual(s["listen_overflows"], 4)
        self.assertEqual(s["client_time_wait"], 7)
        self.assertEqual(self.summary(None)["workload"], "pingpong")

    def test_size_per_kb_counts_the_servers_8_byte_frames(self):
        # A server counts every 8 bytes echoed as a request: 0.02 us per
        # "request" is 2.56 us per KB, and a 4096-byte round trip 10.24 us,
        # whatever the message size (the old figure divided by it twice).
        f = Facts(nn="06", conns=100, client_rc=0, server_rc=0, client=dict(CLIENT),
                  server={"loops": 2, "server_us_per_rt": 0.02}, workload=workload.parse("size:4096"))
        s = record.summary(f, Options(target="06"), 2, me="x")
        self.assertAlmostEqual(s["server_us_per_kb"], 2.56)
        self.assertAlmostEqual(s["server_us_per_rt"], 10.24)
        f.client = dict(CLIENT, msg_bytes=8)
        s = record.summary(f, Options(target="06"), 2, me="x")
        self.assertAlmostEqual(s["server_us_per_kb"], 2.56)
        self.assertAlmostEqual(s["server_us_per_rt"], 0.02)

    def test_push_run_is_load(self):
        # No round trips, but pushes: the verdict is read from the CPU
        # figures, never "none (no load)".
        f = Facts(nn="06", conns=100, client_rc=0, server_rc=0,
                  client=dict(CLIENT, rps=0, pushes_received=500, loops=1),
                  server={"loops": 1, "window_s": 2.0, "cpu_window": {"user_s": 1.0, "sys_s": 0.9}},
                  workload=workload.parse("push:broadcast,1,8"))
        self.assertEqual(record.summary(f, Options(target="06"), 2, me="x")["bottleneck"], "server")
        f.client["pushes_received"] = 0
        self.assertEqual(record.summary(f, Options(target="06"), 2, me="x")["bottleneck"], "none (no load)")

    def test_accept_spread(self):
        f = Facts(nn="06", conns=100, client_rc=0, server_rc=0, client=dict(CLIENT),
                  server={"loops": 3, "accepts_per_loop": [40, 20, 25]})
        s = record.summary(f, Options(target="06"), 2, me="x")
        self.assertEqual((s["accepts_per_loop_min"], s["accepts_per_loop_max"], s["accept_spread"]),
                         (20, 40, 2.0))
        f.server = {"loops": 2, "accepts_per_loop": [0, 7]}
        s = record.summary(f, Options(target="06"), 2, me="x")
        self.assertEqual((s["accepts_per_loop_min"], s["accept_spread"]), (0, None))
        f.server = {"loops": 2}
        s = record.summary(f, Options(target="06"), 2, me="x")
        self.assertIsNone(s["accept_spread"])
        f.server, f.workload = {"accepts_per_loop": [3, 6]}, workload.parse("churn:1")
        self.assertIn("accepts per server loop 3..6 (max/min 2.00)",
                      record.workload_line(record.summary(f, Options(target="06"), 2, me="x")))

    def test_schema_requires_and_types_it(self):
        s = self.summary(workload.parse("churn:1,rst"))
        bad = [k for k, t in schema.SUMMARY.items() if k in schema.WORKLOAD_KEYS and k not in s]
        self.assertEqual(bad, [])
        doc = {"summary": s}
        probs = schema.problems(dict(self._doc(), summary=s))
        self.assertEqual(probs, [])
        s2 = dict(s, workload_params="lifetime=1")
        self.assertTrue(any("workload_params" in p for p in schema.problems(dict(self._doc(), summary=s2))))
        s3 = dict(s)
        del s3["workload"]
        self.assertTrue(any("'workload'" in p for p in schema.problems(dict(self._doc(), summary=s3))))
        # A version 2 file from before --workload still loads.
        old = dict(self._doc(), summary={k: v for k, v in s.items() if k not in schema.WORKLOAD_KEYS})
        up = schema.from_json(old)
        self.assertEqual(up["summary"]["workload"], "")
        self.assertEqual(up["summary"]["workload_params"], {})
        del doc

    def _doc(self):
        f = Facts(nn="06", server_dir="06_multi_epoll_server", client_dir="05_multi_epoll_client",
                  conns=100, client_rc=0, server_rc=0, client=dict(CLIENT), server={"loops": 2})
        s = record.summary(f, Options(target="06"), 2, me="x")
        return record.result(f, Options(target="06"), s, record.machine(), {"commit": "x"})

    def test_table_and_line(self):
        pp = self.summary(None)
        self.assertNotIn("workload", record.table([pp]))
        s = self.summary(workload.parse("pipeline:4"))
        t = record.table([pp, s])
        head, row_pp, row_pl = t.splitlines()[0], t.splitlines()[2], t.splitlines()[3]
        self.assertIn("workload", head)
        self.assertIn("pingpong", row_pp)
        self.assertIn("pipeline:4", row_pl)
        self.assertIn("depth 4", record.workload_line(s))
        self.assertIn("storm: 10 dropped, 10 back", record.workload_line(self.summary(workload.parse("storm:10@1"))))
        self.assertIn("p99 2.0 ms", record.workload_line(self.summary(workload.parse("churn:1"))))
        self.assertEqual(record.workload_line(pp), "")


class Compare(unittest.TestCase):
    def rows(self, a, b):
        return {1000: {"06": [{"rc": 0, "rps": a, "p99_us": 1, "server_us_per_rt": 1}],
                       "07": [{"rc": 0, "rps": b, "p99_us": 1, "server_us_per_rt": 1}]}}

    def test_figures_tagged_and_tables_per_workload(self):
        refs = {1000: ("06", "asked with --ref")}
        names = {"06": "06_multi_epoll_server", "07": "07_prefork_server"}
        doc = compare.figures_by_workload("compare-x", 1, {"pingpong": self.rows(100, 200),
                                                           "pipeline:4": self.rows(400, 300)},
                                          {"pingpong": refs, "pipeline:4": refs}, names)
        self.assertEqual(doc["workloads"], ["pingpong", "pipeline:4"])
        self.assertEqual([(c["workload"], c["conns"]) for c in doc["counts"]],
                         [("pingpong", 1000), ("pipeline:4", 1000)])
        ratio = {(c["workload"], r["name"]): r["ratio"]["median"] for c in doc["counts"] for r in c["rows"]}
        self.assertEqual(ratio[("pingpong", "07")], 2.0)
        self.assertEqual(ratio[("pipeline:4", "07")], 0.75)
        text = compare.tables(doc)
        self.assertIn("pingpong at 1,000 connections", text)
        self.assertIn("pipeline:4 at 1,000 connections", text)

    def test_baseline_not_a_reference_for_other_shapes(self):
        runs = [("06", 1000), ("07", 1000)]
        refs, _ = compare.references(runs, compare.BASELINE, {"06": 10**6, "07": 10**6}, 28000,
                                     shape="pipeline")
        self.assertEqual(refs[1000][0], "06")
        self.assertIn("only ping-pongs", refs[1000][1])
        refs, _ = compare.references(runs, compare.BASELINE, {"06": 10**6, "07": 10**6}, 28000)
        self.assertEqual(refs[1000][0], compare.BASELINE)


if __name__ == "__main__":
    unittest.main()
