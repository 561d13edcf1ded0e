"""record: the bottleneck verdict, the summary from a run's facts, the result
document and the files write() leaves (tests/record.cases)."""
import contextlib
import copy
import csv
import io
import json
import os
import tempfile
import unittest

from recpath import REPO
from c1m import record, schema
from c1m.model import Facts, Options

# A real --hosts run of 06 at 200,000 (2026-12-01): both programs' lines.
REAL = os.path.join(REPO, "docs/results-hosts/06-20261201-150827.json")


def real_facts(**kw):
    with open(REAL) as f:
        old = json.load(f)
    f = Facts(nn="06", server_dir="06_multi_epoll_server", client_dir="05_multi_epoll_client",
              started="2026-12-01T15:07:12Z", conns=200000, client_rc=0, server_rc=0,
              client_wall_s=73.87, stat0="cpu 0 0 0 1000 0 0 0 0 0 0",
              stat1="cpu 100 0 100 1600 0 0 0 0 0 0", client=old["client"], server=old["server"],
              slab0_kb=89132, server_argv=["./06_multi_epoll_server/server", "-n", "200000"],
              client_argvs=[["./05_multi_epoll_client/client", "-n", "200000"]],
              samples=[[0.5, 90000, 10, 0, 100, 4000, 0.1, 0.1],
                       [1.0, 1949960, 200011, 7, 199725, 5044, 1.0, 1.2]])
    for k, v in kw.items():
        setattr(f, k, v)
    return f


OPTS = Options(target="06", argv=["06", "-n", "200000"])


class Bottleneck(unittest.TestCase):
    def test_each_rule(self):
        b = record.bottleneck
        self.assertEqual(b(190, 50, 2, 2, 4, 1000, 0, 0), "client")
        self.assertEqual(b(50, 190, 2, 2, 4, 1000, 0, 0), "server")
        self.assertEqual(b(50, 50, 2, 2, 4, 0, 0, 0), "none (no load)")
        self.assertEqual(b(50, 50, 2, 2, 4, None, 0, 0), "none (no load)")
        # Pinned, 2 + 2 of 4 CPUs: both busy is "both", neither is waiting.
        self.assertEqual(b(180, 180, 2, 2, 4, 1000, 2, 2), "both (pinned)")
        self.assertEqual(b(10, 10, 2, 2, 4, 1000, 2, 2), "neither (waiting)")
        # Shared cores, both under their loops but the machine full.
        self.assertEqual(b(96, 95, 11, 11, 2, 1000, 0, 0), "client (cores shared)")
        self.assertEqual(b(95, 95, 11, 11, 2, 1000, 0, 0), "server (cores shared)")
        self.assertEqual(b(40, 40, 11, 11, 2, 1000, 0, 0), "neither (waiting)")

    def test_loops_clamped_to_cpus(self):
        # 11 loops on 2 cores: busy at 85 x 2, not 85 x 11.
        self.assertEqual(record.bottleneck(171, 20, 11, 1, 2, 1000, 0, 0), "client")
        # One server loop: busy at 85 %.
        self.assertEqual(record.bottleneck(20, 86, 2, 1, 2, 1000, 0, 0), "server")
        self.assertEqual(record.bottleneck(20, 84, 2, 1, 2, 1000, 0, 0), "neither (waiting)")

    def test_edges(self):
        b = record.bottleneck
        # Busy from 85 % per loop: 170 of 2 loops is, 168 is not.
        self.assertEqual(b(170, 20, 2, 2, 2, 1000, 0, 0), "client")
        self.assertEqual(b(168, 20, 2, 2, 2, 1000, 0, 0), "client (cores shared)")
        # Shared cores full from 75 % of the machine: 150 of 2 cores.
        self.assertEqual(b(75, 75, 2, 2, 2, 1000, 0, 0), "server (cores shared)")
        self.assertEqual(b(74, 75, 2, 2, 2, 1000, 0, 0), "neither (waiting)")


class Summary(unittest.TestCase):
    def test_real_run_full_precision(self):
        f = real_facts()
        s = record.summary(f, OPTS, 2, me="here")
        c = f.client
        # The verdict the bash record() gave this run.
        self.assertEqual(s["bottleneck"], "client (cores shared)")
        self.assertEqual(s["status"], "ok")
        # Full precision: the programs' numbers exactly, not 6 digits.
        self.assertEqual(s["rps"], 44041.64106)
        self.assertEqual(s["p50_us"], 4596957.183)
        self.assertEqual(s["max_us"], 10034820.26)
        self.assertEqual(s["connect_s"], 8.321459811)
        self.assertEqual(s["server_window_rps"], 43965.00599)
        self.assertEqual(s["rps_agreement"], 44041.64106 / 43965.00599)
        self.assertEqual(s["client_cpu_window_pct"], 100 * (0.799365 + 27.877724) / 30.000017)
        # Peaks from the samples: slab growth and RSS per connection.
        self.assertEqual(s["slab_delta_kb"], 1949960 - 89132)
        self.assertEqual(s["kernel_b_per_conn"], (1949960 - 89132) * 1024 / 200000)
        self.assertEqual(s["server_rss_kb"], 5044)      # the sampler's peak beats rss_kb_peak 5036
        self.assertEqual(s["tcp_mem_b_per_conn"], 199725 * 4096 / 200000)
        self.assertEqual(s["client_cpu_run_s"], c["cpu_user_s"] + c["cpu_sys_s"])
        self.assertEqual(set(s), set(schema.SUMMARY))
        # machine_busy: 200 of 800 jiffies busy on 2 cores = 50 % of a core.
        self.assertEqual(s["machine_cpu_pct"], 50.0)

    def test_failed(self):
        self.assertEqual(record.summary(real_facts(client_rc=1), OPTS, 2)["status"], "failed")
        self.assertEqual(record.summary(real_facts(server=None), OPTS, 2)["status"], "failed")

    def test_no_window_cpu(self):
        c = copy.deepcopy(real_facts().client)
        del c["cpu_window"]
        self.assertEqual(record.summary(real_facts(client=c), OPTS, 2)["bottleneck"], "unknown (no window CPU)")

    def test_rate_rule(self):
        c = copy.deepcopy(real_facts().client)
        c["rate_target"] = 45000
        s = record.summary(real_facts(client=c), OPTS, 2)
        self.assertEqual(s["bottleneck"], "client rate (-r 45000)")
        self.assertEqual(s["client_rate"], 45000)
        c["rate_target"] = 50000          # 44,042 < 90 % of 50,000: the cores decide
        self.assertEqual(record.summary(real_facts(client=c), OPTS, 2)["bottleneck"], "client (cores shared)")

    def test_machine_busy(self):
        c = copy.deepcopy(real_facts().client)
        s = copy.deepcopy(real_facts().server)
        c["cpu_window"] = {"user_s": 3, "sys_s": 3}     # 20 % each: neither busy
        s["cpu_window"] = {"user_s": 3, "sys_s": 3}
        f = real_facts(client=c, server=s, client_wall_s=100.0,
                       stat1="cpu 500 0 500 1050 0 0 0 0 0 0")  # 1000 of 1050 busy
        self.assertEqual(record.summary(f, OPTS, 2)["bottleneck"], "other processes (machine busy)")
        f.stat1 = "cpu 100 0 100 1600 0 0 0 0 0 0"
        self.assertEqual(record.summary(f, OPTS, 2)["bottleneck"], "neither (waiting)")
        # The edge: 75 % of the machine busy, 25 % of it not this run's.
        f.client_wall_s = 200.0                 # this run: 36.9 + 33.1 % of a core
        f.stat1 = "cpu 400 0 350 1250 0 0 0 0 0 0"   # 750 of 1000: 150 %
        self.assertEqual(record.summary(f, OPTS, 2)["bottleneck"], "other processes (machine busy)")
        f.stat1 = "cpu 400 0 340 1260 0 0 0 0 0 0"   # 148 %
        self.assertEqual(record.summary(f, OPTS, 2)["bottleneck"], "neither (waiting)")

    def test_remote_hosts(self):
        f = real_facts(host_names=["lab-1", "lab-2"])
        a = dict(f.client, host="lab-1", cpus=2, loops=2, cpu_window={"user_s": 0, "sys_s": 57}, duration_s=30)
        b = dict(a, host="lab-2", cpu_window={"user_s": 0, "sys_s": 3})
        f.clients = [a, b]
        srv = dict(f.server, cpu_window={"user_s": 0, "sys_s": 9}, loops=1)   # 30 % of its one loop
        f.server = srv
        self.assertEqual(record.summary(f, OPTS, 2, me="here")["bottleneck"], "client (lab-1)")
        f.server = dict(srv, cpu_window={"user_s": 0, "sys_s": 27})           # 90 %: the server
        self.assertEqual(record.summary(f, OPTS, 2, me="here")["bottleneck"], "server")
        f.server, f.clients = srv, [b, b]
        self.assertEqual(record.summary(f, OPTS, 2, me="here")["bottleneck"], "neither (waiting)")
        # Every client here: the local rules on the merged line, not a
        # busy host's name.
        f.clients = [dict(a, host="here"), dict(b, host="here")]
        self.assertEqual(record.summary(f, OPTS, 2, me="here")["bottleneck"], "neither (waiting)")


class Result(unittest.TestCase):
    def doc(self, **kw):
        f = real_facts(**kw)
        s = record.summary(f, OPTS, 2)
        return record.result(f, OPTS, s, record.machine(), {"commit": "abc123", "dirty": False})

    def test_validates_and_keeps_lines_whole(self):
        d = self.doc()
        schema.validate(d)
        self.assertEqual(d["schema_version"], schema.SCHEMA_VERSION)
        self.assertEqual(d["commit"], "abc123")
        self.assertEqual(d["client"], real_facts().client)
        self.assertEqual(d["argv"]["run"], ["./run.sh", "06", "-n", "200000"])
        self.assertEqual(d["argv"]["server"], ["./06_multi_epoll_server/server", "-n", "200000"])
        self.assertEqual(d["command"], "./run.sh 06 -n 200000")
        self.assertEqual(d["kernel"]["peaks"]["slab_kb"], 1949960)

    def test_command_quoted_as_typed(self):
        f = real_facts()
        o = Options(target="06", argv=["06", "-S", "-x 1", "it's", "a,b=c"])
        d = record.result(f, o, record.summary(f, o, 2), {}, {})
        self.assertEqual(d["command"], "./run.sh 06 -S '-x 1' 'it'\\''s' a,b=c")
        self.assertEqual(d["argv"]["run"], ["./run.sh", "06", "-S", "-x 1", "it's", "a,b=c"])

    def test_write(self):
        d = self.doc(progress=[{"t_s": 1.0, "who": "client", "line": "conns 200000  rps 44000  p99 5.3 s"},
                               {"t_s": 1.0, "who": "server", "line": "conns 200000  rps 43000  accepted 1"}])
        with tempfile.TemporaryDirectory() as tmp:
            log = os.path.join(tmp, "c.log")
            with open(log, "w") as f:
                f.write("client says\n")
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                path = record.write(d, tmp, {"client": log, "server": os.path.join(tmp, "missing")},
                                    say=lambda m: None)
            self.assertEqual(err.getvalue(), "")        # it validates
            base = path[:-len(".json")]
            back = schema.load(path)
            self.assertEqual(back, json.loads(json.dumps(d)))
            with open(os.path.join(tmp, "results.csv")) as f:
                rows = list(csv.reader(f))
            self.assertEqual(rows[0], list(record.CSV_COLS) + ["file"])
            self.assertEqual(rows[1][record.CSV_COLS.index("rps")], "44041.64106")
            self.assertEqual(rows[1][-1], os.path.basename(path))
            self.assertTrue(os.path.exists(os.path.join(tmp, "logs", os.path.basename(base) + "-client.log")))
            with open(base + ".hgrm") as f:
                self.assertIn("4596.957183     0.500000", f.read())
            with open(base + "-progress.csv") as f:
                row = f.read().splitlines()[1].split(",")
            # CPU: the client's samples went 0.1 -> 1.2 s by t = 1.0.
            self.assertEqual(row[:6], ["1.0", "client", "200000", "44000", "", "5300000.0"])
            self.assertAlmostEqual(float(row[6]), 110.0)
            self.assertTrue(os.path.exists(base + "-timeseries.svg"))

    def test_failed_run_still_recorded(self):
        # Neither program printed its line: a valid result that says so.
        d = self.doc(client=None, server=None, client_rc=1, samples=[])
        schema.validate(d)
        self.assertEqual((d["summary"]["status"], d["summary"]["bottleneck"]),
                         ("failed", "unknown (no window CPU)"))
        with tempfile.TemporaryDirectory() as tmp:
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                path = record.write(d, tmp, {}, say=lambda m: None)
            self.assertEqual(err.getvalue(), "")
            self.assertEqual(schema.load(path)["summary"]["status"], "failed")
            base = os.path.basename(path)[:-len(".json")]
            self.assertEqual(sorted(os.listdir(tmp)), sorted([base + ".json", base + "-progress.csv",
                                                              "results.csv", "logs"]))

    def test_write_warns_on_invalid(self):
        # A bug in the record must not lose a measured run: written, and said.
        d = self.doc()
        d["summary"]["rps"] = "fast"
        err = io.StringIO()
        with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stderr(err):
            path = record.write(d, tmp, {}, say=lambda m: None)
            self.assertTrue(os.path.exists(path))
        self.assertIn("summary.rps: want a number", err.getvalue())
        self.assertEqual(len(err.getvalue().splitlines()), 1)

    def test_csv_other_columns_kept_aside(self):
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "results.csv"), "w") as f:
                f.write("old,header\n1,2\n")
            said = []
            record.append_csv(tmp, self.doc()["summary"], "x.json", say=said.append)
            self.assertEqual(len(said), 1)
            self.assertIn("results.csv had other columns", said[0])
            kept = [n for n in os.listdir(tmp) if n.startswith("results-until-")]
            self.assertEqual(len(kept), 1)

    def test_tables(self):
        d = self.doc()
        t = record.table([d["summary"], dict(d["summary"], status="failed")]).splitlines()
        self.assertEqual(len(t), 4)
        self.assertIn("06_multi_epoll_server", t[2])
        self.assertIn("44,042", t[2])
        self.assertIn("4.60 s", t[2])
        self.assertIn("96/96", t[2])
        self.assertTrue(t[2].endswith("client (cores shared)"))
        self.assertTrue(t[3].endswith("FAILED"))
        f = real_facts(host_names=["a", "b"])
        f.clients = [dict(f.client, cpus=2), None]
        h = record.hosts_table(f).splitlines()
        self.assertIn("host a", h[0])
        self.assertIn("44,042 rps", h[0])
        self.assertEqual(h[1], "  host b: no result")
        self.assertTrue(h[2].startswith("  merged: window 30.00 s"))


class Provenance(unittest.TestCase):
    """The commit, and dirty only when code differs: results written into
    docs/ (a compare's tracked results.csv) or README.md do not count."""

    def test_dirty_means_code(self):
        import subprocess
        with tempfile.TemporaryDirectory() as tmp:
            def git(*a):
                subprocess.run(["git", "-C", tmp, "-c", "user.name=t", "-c", "user.email=t@t"] + list(a),
                               check=True, capture_output=True)
            git("init", "-q")
            for path in ("scripts/x.py", "docs/results/results.csv", "README.md"):
                os.makedirs(os.path.join(tmp, os.path.dirname(path)), exist_ok=True)
                with open(os.path.join(tmp, path), "w") as f:
                    f.write("a\n")
            git("add", "-A")
            git("commit", "-qm", "one")
            p = record.provenance(tmp)
            self.assertEqual(len(p["commit"]), 40)
            self.assertFalse(p["dirty"])
            for path in ("docs/results/results.csv", "README.md"):
                with open(os.path.join(tmp, path), "a") as f:
                    f.write("b\n")
            self.assertFalse(record.provenance(tmp)["dirty"])
            with open(os.path.join(tmp, "scripts/x.py"), "a") as f:
                f.write("b\n")
            self.assertTrue(record.provenance(tmp)["dirty"])
        self.assertEqual(record.provenance("/"), {"commit": "unknown", "dirty": False})


if __name__ == "__main__":
    unittest.main()
