"""--restart-at: its parsing and refusals (one line, exit 2), the client's
-X, the same port on the second start, and what the result and the
summary line keep (tests/restart.cases)."""
import os
import subprocess
import sys
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from c1m import cli, record, restart, schema  # noqa: E402
from c1m.model import Facts, Options, UsageError  # noqa: E402
from clicase import CliCase  # noqa: E402


class Parse(CliCase):
    def test_values(self):
        self.assertEqual(self.parse("06", "-d", "3", "--restart-at", "1").restart_at, 1.0)
        self.assertEqual(self.parse("06", "--restart-at", "0").restart_at, 0.0)
        self.assertEqual(self.parse("06", "--restart-at", "9.5").restart_at, 9.5)  # default -d 10
        self.assertIsNone(self.parse("06").restart_at)
        self.assertEqual(restart.parse_at("2.25"), 2.25)

    def test_refusals(self):
        self.refused("want seconds >= 0", "06", "--restart-at", "-1")
        self.refused("want seconds >= 0", "06", "--restart-at", "1s")
        self.refused("want seconds >= 0", "06", "--restart-at", "nan")
        self.refused("outside the 3 s window", "06", "-d", "3", "--restart-at", "3")
        self.refused("outside the 10 s window", "06", "--restart-at", "12")
        self.refused("outside the 2 s window", "06", "--quick", "--restart-at", "2")
        self.refused("not with compare", "compare", "--restart-at", "1")
        self.refused("does not combine with --workload churn:1", "06", "--workload", "churn:1",
                     "--restart-at", "1")
        self.refused("does not combine with --workload storm:10@2", "06", "--workload", "storm:10@2",
                     "--restart-at", "1")
        self.refused("-C's -x", "06", "-C", "-x 5", "--restart-at", "1")
        self.refused("-C's --storm", "06", "-C", "--storm 10@1", "--restart-at", "1")
        with self.assertRaises(UsageError):
            self.parse("06", "--restart-at")
        # -C -X itself is no clash (the same flag twice)
        self.assertEqual(self.parse("06", "-C", "-X", "--restart-at", "1").restart_at, 1.0)

    def test_one_line_exit_2(self):
        for v in (["-1"], ["5", "-d", "3"], ["x"]):
            with self.subTest(v=v):
                p = subprocess.run([os.path.join(ROOT, "run.sh"), "06", "--no-build", "--dry-run",
                                    "--restart-at"] + v, capture_output=True, text=True, cwd=ROOT,
                                   timeout=30)
                self.assertEqual(p.returncode, 2)
                self.assertEqual(p.stdout, "")
                self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
                self.assertTrue(p.stderr.startswith("run.sh: --restart-at"), p.stderr)

    def test_client_without_x_refused(self):
        p = subprocess.run([os.path.join(ROOT, "run.sh"), "04", "--no-build", "--dry-run", "--quick",
                            "--restart-at", "1"], capture_output=True, text=True, cwd=ROOT, timeout=30)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("04_epoll_client/client does not take -X", p.stderr)

    def test_help_names_it(self):
        self.assertIn("--restart-at SEC", cli.USAGE)
        self.assertIn("[--restart-at SEC]", cli.SYNOPSIS)


class Pieces(unittest.TestCase):
    def test_client_args(self):
        self.assertEqual(restart.client_args(Options(target="06", restart_at=1.0)), ["-X"])
        self.assertEqual(restart.client_args(Options(target="06")), [])

    def test_same_port(self):
        argv = ["taskset", "-c", "0", "./06_multi_epoll_server/server", "-p", "0", "-i", "5"]
        self.assertEqual(restart.same_port(argv, 41000),
                         ["taskset", "-c", "0", "./06_multi_epoll_server/server", "-p", "41000", "-i", "5"])
        self.assertEqual(argv[5], "0")  # the first argv is kept as it was

    def test_window_open_line(self):
        self.assertTrue(restart.WINDOW_OPEN.search("05_multi_epoll_client/client: window open for 3 s"))
        self.assertFalse(restart.WINDOW_OPEN.search("conns 200  rps 5000  p99 1 ms"))


CLIENT = {"conns": 200, "connect_s": 0.1, "duration_s": 3.0, "rps": 1000.0, "errors": 0,
          "mismatches": 0, "loops": 1, "lat_us": {"p50": 10, "p99": 20, "max": 30, "mean": 12},
          "cpu_window": {"user_s": 0.1, "sys_s": 0.1}, "reconnect": 1, "restart_dropped": 200,
          "restart_back": 199, "restart_retries": 1234, "restart_recovery_s": 0.123456789}


class Record(unittest.TestCase):
    def facts(self, done=True):
        f = Facts(nn="06", server_dir="06_multi_epoll_server", client_dir="05_multi_epoll_client",
                  conns=200, client_rc=0, server_rc=0, client=dict(CLIENT), server={"loops": 2})
        if done:
            f.restart = {"at_s": 1.0, "stop_s": 0.01, "down_s": 0.0345, "done": True}
            f.server_before_restart = {"design": "06_multi_epoll_server", "accepted": 200}
        return f

    def test_summary_and_result(self):
        o = Options(target="06", restart_at=1.0)
        f = self.facts()
        s = record.summary(f, o, 2, me="x")
        self.assertEqual((s["restart_at_s"], s["restart_down_s"], s["restart_dropped"], s["restart_back"],
                          s["restart_retries"], s["restart_recovery_s"]),
                         (1.0, 0.0345, 200, 199, 1234, 0.123456789))
        doc = record.result(f, o, s, record.machine(), {"commit": "x"})
        self.assertEqual(schema.problems(doc), [])
        self.assertEqual(doc["server_before_restart"]["accepted"], 200)
        self.assertEqual(doc["restart"]["down_s"], 0.0345)
        self.assertEqual(restart.summary_line(s), "restart at 1 s: server down 0.035 s; 200 dropped, "
                         "199 back, 1234 retries, recovered in 0.123 s")

    def test_not_done_and_not_asked(self):
        o = Options(target="06", restart_at=1.0)
        f = self.facts(done=False)
        s = record.summary(f, o, 2, me="x")
        doc = record.result(f, o, s, record.machine(), {"commit": "x"})
        self.assertEqual(schema.problems(doc), [])
        self.assertEqual(doc["restart"], {"at_s": 1.0, "done": False})
        self.assertIsNone(doc["server_before_restart"])
        self.assertIn("server down -", restart.summary_line(s))
        o = Options(target="06")
        s = record.summary(f, o, 2, me="x")
        self.assertIsNone(s["restart_dropped"])  # without --restart-at: null
        doc = record.result(f, o, s, record.machine(), {"commit": "x"})
        self.assertNotIn("restart", doc)
        self.assertEqual(restart.summary_line(s), "")


if __name__ == "__main__":
    unittest.main()
