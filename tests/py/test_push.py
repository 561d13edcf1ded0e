"""Push workloads (push:broadcast,SEC,BYTES and push:rate,RATE,BYTES) in
run.sh, from fixtures, not live runs: the parsing and its refusals; the
server's flags (-b SEC | -R RATE, -l BYTES) and the client's --push in
the commands; only a server whose -L says push:1 takes one; the result's
push figures from the programs' JSON lines in tests/fixtures/push/
(delivery latency from push_lat_us, never lat_us); the schema; the line
run.sh prints; compare's push table (tests/runsh-workload.cases).

run: python3 -B -m unittest discover -s tests/py -p test_push.py
"""
import json
import os
import sys
import unittest
from types import SimpleNamespace

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from c1m import cli, compare, designs, pair, record, schema, workload  # noqa: E402
from c1m.model import Facts, Options, UsageError  # noqa: E402

FIX = os.path.join(ROOT, "tests", "fixtures", "push")


def line(name):
    with open(os.path.join(FIX, name)) as f:
        return json.loads(f.read())


class Parse(unittest.TestCase):
    def test_shapes(self):
        cases = [
            ("push:broadcast,10,8", "push:broadcast,10,8",
             {"mode": "broadcast", "every_s": 10.0, "bytes": 8}, ("-b", "10", "-l", "8")),
            ("push:broadcast,0.5,0", "push:broadcast,0.5,0",
             {"mode": "broadcast", "every_s": 0.5, "bytes": 0}, ("-b", "0.5", "-l", "0")),
            ("push:rate,16667,512", "push:rate,16667,512",
             {"mode": "rate", "rate": 16667.0, "bytes": 512}, ("-R", "16667", "-l", "512")),
            ("push:rate,100.0,1M", "push:rate,100,1048576",
             {"mode": "rate", "rate": 100.0, "bytes": 1048576}, ("-R", "100", "-l", "1048576")),
        ]
        for spec, name, params, sargs in cases:
            with self.subTest(spec=spec):
                w = workload.parse(spec)
                self.assertEqual((w.name, w.shape, w.params, w.args, w.server_args),
                                 (name, "push", params, ("--push",), sargs))
        # The other shapes add no server flag.
        self.assertEqual(workload.parse("pipeline:4").server_args, ())

    def test_refusals(self):
        for spec in ("push", "push:", "push:broadcast", "push:broadcast,10", "push:bcast,10,8",
                     "push:broadcast,0,8", "push:broadcast,-1,8", "push:broadcast,10,-1",
                     "push:broadcast,10,1048577", "push:broadcast,10,2M", "push:rate,0,8",
                     "push:rate,-1,8", "push:rate,x,8", "push:rate,10,8,9", "push:broadcast,10,8,"):
            with self.subTest(spec=spec):
                with self.assertRaises(UsageError) as e:
                    workload.parse(spec)
                self.assertNotIn("\n", str(e.exception))

    def test_clash_with_S_and_C(self):
        w = workload.parse("push:broadcast,10,8")
        for c, s in ((["--push"], []), (["--push-echo"], []), ([], ["-b", "5"]), ([], ["-R", "5"]),
                     ([], ["-l", "64"]), ([], ["-l64"])):
            with self.subTest(c=c, s=s):
                with self.assertRaises(UsageError):
                    workload.check_extra(w, c, s)
        workload.check_extra(w, ["-c", "2"], ["-Q", "4096", "-c", "2"])
        cwd = os.getcwd()
        os.chdir(ROOT)
        try:
            with self.assertRaisesRegex(cli.Refused, "sets the server's -l: not -l in -S"):
                cli.parse(["06", "--workload", "push:rate,10,8", "-S", "-l 16"], ROOT)
            o = cli.parse(["compare", "--workload", "push:broadcast,10,8;push:rate,16667,512"], ROOT)
            self.assertEqual([x.name for x in o.workloads], ["push:broadcast,10,8", "push:rate,16667,512"])
        finally:
            os.chdir(cwd)


class Commands(unittest.TestCase):
    def run_of(self, w):
        opts = Options(target="06", port=0, interval="5", extra_s=["-c", "2"], extra_c=[])
        facts = Facts(nn="06", server_dir="06_multi_epoll_server", client_dir="05_multi_epoll_client",
                      conns=1000, workload=w)
        lim = SimpleNamespace(server_n=True, client_p=True)
        return SimpleNamespace(opts=opts, facts=facts, lim=lim)

    def test_server_and_client_flags(self):
        p = pair.Pair(self.run_of(workload.parse("push:rate,16667,512")))
        self.assertEqual(p.server_argv(), ["./06_multi_epoll_server/server", "-p", "0", "-i", "5", "-c", "2",
                                           "-R", "16667", "-l", "512", "-n", "1000"])
        self.assertEqual(p.client_argv("10", 0)[-1:], ["--push"])
        p = pair.Pair(self.run_of(workload.parse("push:broadcast,10,8")))
        self.assertIn("-b 10 -l 8", " ".join(p.server_argv()))
        # No push: the server's command as it was.
        p = pair.Pair(self.run_of(workload.parse("pipeline:4")))
        self.assertEqual(p.server_argv(), ["./06_multi_epoll_server/server", "-p", "0", "-i", "5", "-c", "2",
                                           "-n", "1000"])

    def test_only_servers_saying_push_1(self):
        self.assertTrue(designs._pushes('{"design":"06","target":1000000,"push":1}'))
        self.assertFalse(designs._pushes('{"design":"02","target":1000000}'))
        self.assertFalse(designs._pushes('{"design":"02","push":0}'))
        self.assertFalse(designs._pushes('not json'))


class Record(unittest.TestCase):
    def summary(self, mode, spec):
        f = Facts(nn="06", server_dir="06_multi_epoll_server", client_dir="05_multi_epoll_client",
                  conns=1000, client_rc=0, server_rc=0, client=line(f"{mode}-client.jsonl"),
                  server=line(f"{mode}-server.jsonl"), workload=workload.parse(spec))
        return f, record.summary(f, Options(target="06"), 2, me="x")

    def test_broadcast_figures(self):
        _, s = self.summary("broadcast", "push:broadcast,1,8")
        self.assertEqual(s["workload"], "push:broadcast,1,8")
        self.assertEqual(s["workload_params"], {"mode": "broadcast", "every_s": 1.0, "bytes": 8})
        # Delivery latency is push_lat_us's, not lat_us's (1.5 / 3.5 / 5.5 there).
        self.assertEqual((s["push_p50_us"], s["push_p99_us"], s["push_p999_us"], s["push_max_us"]),
                         (211.967, 2502.655, 2850.815, 2917.375))
        self.assertEqual((s["fanout_broadcasts"], s["fanout_incomplete"], s["fanout_p50_s"],
                          s["fanout_max_s"]), (10, 0, 0.002818047, 0.003014655))
        self.assertEqual((s["pushes_received"], s["pushes_missing"], s["push_mismatches"],
                          s["push_bytes_received"]), (10000, 0, 0, 320000))
        self.assertEqual((s["pushes_sent"], s["push_bytes"], s["slow_dropped"], s["window_pushes"],
                          s["server_us_per_push"]), (12000, 384000, 0, 10000, 3.875))
        self.assertEqual((s["clock_offset_us"], s["clock_maxerror_us"]), (0, 16000))
        text = record.workload_line(s)
        self.assertIn("10000 pushes received, 0 missing, 0 mismatched; delivery p50 212 us "
                      "p99 2.5 ms max 2.9 ms", text)
        self.assertIn("fan-out p50 2.8 ms max 3.0 ms over 10 broadcasts (0 incomplete)", text)
        self.assertIn("server 3.88 us per push, 12000 pushes sent, 0 slow consumers dropped", text)
        self.assertNotIn("never got a push", text)

    def test_silent_connections_said(self):
        f, s = self.summary("broadcast", "push:broadcast,1,8")
        f.client = dict(f.client, push_silent=20268)
        s = record.summary(f, Options(target="06"), 2, me="x")
        self.assertEqual(s["push_silent"], 20268)
        self.assertIn("20268 connections open at the close never got a push",
                      record.workload_line(s))

    def test_rate_figures_and_schema(self):
        f, s = self.summary("rate", "push:rate,500,536")
        self.assertEqual((s["pushes_missing"], s["slow_dropped"], s["push_p99_us"]), (3, 3, 131.071))
        self.assertEqual(s["clock_offset_us"], -12.5)
        # -R sends no broadcast: no fan-out figures at all (not 0, and not
        # the client's per-time "incomplete" count, 17,544 at 1M).
        self.assertEqual((s["fanout_broadcasts"], s["fanout_incomplete"], s["fanout_p50_s"],
                          s["fanout_max_s"]), (None, None, None, None))
        self.assertNotIn("fan-out", record.workload_line(s))
        doc = record.result(f, Options(target="06"), s, record.machine(), {"commit": "c" * 40})
        self.assertEqual(schema.problems(doc), [])
        self.assertEqual(doc["client"]["push_lat_us"]["p99"], 131.071)   # the line kept whole
        bad = dict(doc, summary=dict(s, push_p99_us="131"))
        self.assertTrue(any("push_p99_us" in p for p in schema.problems(bad)))

    def test_not_push_all_null(self):
        f = Facts(nn="06", conns=10, client_rc=0, server_rc=0, client={"rps": 5, "lat_us": {"p99": 1}},
                  server={"loops": 1})
        s = record.summary(f, Options(target="06"), 2, me="x")
        keys = ("pushes_received", "push_p99_us", "fanout_p50_s", "server_us_per_push", "slow_dropped")
        self.assertEqual([s[k] for k in keys], [None] * len(keys))


class CompareTable(unittest.TestCase):
    def test_push_table(self):
        rows = {}
        for nn, mode, rnd_scale in (("06", "broadcast", 1.0), ("14", "rate", 0.5)):
            f = Facts(nn=nn, conns=1000, client_rc=0, server_rc=0, client=line(f"{mode}-client.jsonl"),
                      server=line(f"{mode}-server.jsonl"), workload=workload.parse("push:broadcast,1,8"))
            s = record.summary(f, Options(target=nn), 2, me="x")
            e = {"rc": 0, "result": "/r/x.json"}
            e.update({k: s.get(k) for k in compare.ENTRY_KEYS})
            e2 = dict(e, server_us_per_push=e["server_us_per_push"] * (1 + rnd_scale))
            rows[nn] = [e, e2]
        doc = compare.figures_by_workload("compare-x", 2, {"push:broadcast,1,8": {1000: rows}},
                                          {"push:broadcast,1,8": {1000: ("06", "baseline_pair only "
                                                                         "ping-pongs or churns")}},
                                          {"06": "06_multi_epoll_server", "14": "14_io_uring"})
        r14 = [r for r in doc["counts"][0]["rows"] if r["name"] == "14"][0]
        # The ratio is of server us per push: 14's 9.25 and 13.875 over 06's 3.875 and 7.75.
        self.assertEqual(r14["key"], "server_us_per_push")
        self.assertEqual([round(x["ratio"], 4) for x in r14["rounds"]], [round(9.25 / 3.875, 4), 1.7903])
        self.assertEqual(r14["push_p99_us"]["median"], 131.071)
        self.assertEqual(r14["slow_dropped"]["median"], 3)
        text = compare.tables(doc)
        head = [ln for ln in text.splitlines() if ln.startswith("design")][0]
        for col in ("srv us/push median [min-max]", "deliv p50", "deliv p99", "deliv max",
                    "fan-out p50", "fan-out max", "missing", "slow dropped"):
            self.assertIn(col, head)
        row = [ln for ln in text.splitlines() if ln.startswith("14_io_uring")][0]
        self.assertRegex(row, r"^14_io_uring +11\.6 \[9\.2-13\.9\] +2\.09 \[1\.79-2\.39\] +61 us +131 us "
                              r"+1\.0 ms +- +- +3 +3$")
        row = [ln for ln in text.splitlines() if ln.startswith("06_multi_epoll_server")][0]
        self.assertIn("2.8 ms", row)       # fan-out p50 from fanout_s, seconds shown in ms
        self.assertIn("push:broadcast,1,8 at 1,000 connections", text)


if __name__ == "__main__":
    unittest.main()
