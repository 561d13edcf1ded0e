"""scripts/c1m/perf.py (scripts/perf-top): the formula on a fixture worked
by hand (tests/fixtures/perf: perf report's lines, its header, perf stat),
the two-column difference, after_run()'s files and text, and the refusals.

run: python3 tests/py/test_perf.py  (tests/merge.cases: merge-py-perf)
"""
import os
import shutil
import sys
import tempfile
import unittest
from unittest import mock

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from c1m import perf  # noqa: E402

FIX = os.path.join(ROOT, "tests", "fixtures", "perf")


def read(p):
    with open(p) as f:
        return f.read()


def fixture_run(d, rate="1000", count=""):
    """What perf.load() gives for the fixture: 1.0 s of samples on 2 CPUs."""
    text = read(os.path.join(FIX, "report.txt"))
    span, ncpu = perf.parse_header(read(os.path.join(FIX, "header.txt")))
    return {"dir": d, "span": span, "ncpu": ncpu, "rate": rate, "count": count,
            "samples": [s for s in map(perf.parse_report_line, text.splitlines()) if s]}


def rows(text, start):
    """{(process, function or ""): [numbers]} of the table after `start`."""
    lines = text.splitlines()
    i = next(k for k, l in enumerate(lines) if l.startswith(start)) + 1
    out = {}
    for l in lines[i:]:
        if not l.strip():
            break
        w = l.split()
        if start.endswith("total"):
            out[(w[0], "")] = [float(x) for x in w[1:]]
        else:
            out[(w[0], w[1])] = [float(x) for x in w[2:]]
    return out


class Formula(unittest.TestCase):
    def test_parse(self):
        r = fixture_run("w")
        self.assertEqual((r["span"], r["ncpu"]), (1.0, 2))
        comms = sorted(set(s[0] for s in r["samples"]))
        # Threads as one process (server/1, server/2), per-CPU kernel
        # threads as one, swapper is idle; the garbage line is skipped.
        self.assertEqual(comms, ["05_multi_epoll_", "06_multi_epoll_", "idle", "ksoftirqd", "server"])
        self.assertEqual(len(r["samples"]), 8)
        for comm, want in (("worker-12", "worker"), ("kworker/0:1-events", "kworker"),
                           ("irq/24-virtio0", "irq"), ("swapper", "idle"), ("06_multi", "06_multi")):
            self.assertEqual(perf.parse_report_line(" 5 |%s |x |[.] f " % comm), (want, "f", 5.0), comm)

    def test_us_per_round_trip_by_hand(self):
        # 1000 rt/s over 1.0 s = 1000 round trips: a sample of 4,000,000 ns
        # is 4 us per round trip.
        t = perf.report([fixture_run("w")], "round trip")
        self.assertIn("A w: 1.0 s at 1000 round trips/s = 1000 round trips; 1012.00 us of CPU each", t)
        # 1.012 s of samples on 2 CPUs x 1 s: half the CPU time missing.
        self.assertIn("  coverage 50.6% (the samples hold 1.01 of 2 CPUs x 1.00 s)", t)
        self.assertIn("  warning: perf missed 49% of the CPU time", t)
        procs = rows(t, "process        total")
        self.assertEqual(procs, {("idle", ""): [1000.0], ("06_multi_epoll_", ""): [6.0],
                                 ("05_multi_epoll_", ""): [3.0], ("server", ""): [2.0],
                                 ("ksoftirqd", ""): [1.0]})
        self.assertEqual(list(procs)[:2], [("idle", ""), ("06_multi_epoll_", "")])   # by size
        funcs = rows(t, "process        function")
        self.assertEqual(funcs[("06_multi_epoll_", "tcp_sendmsg")], [4.0])
        self.assertEqual(funcs[("ksoftirqd", "net_rx_action")], [1.0])
        self.assertNotIn("idle", [k[0] for k in funcs])                          # no idle function
        self.assertEqual(list(funcs)[0], ("06_multi_epoll_", "tcp_sendmsg"))
        self.assertEqual(len(rows(perf.report([fixture_run("w")], "round trip", top=2),
                                  "process        function")), 2)

    def test_ramp_is_per_connection_by_count(self):
        t = perf.report([fixture_run("r", rate="", count="500")], "connection")
        self.assertIn("= 500 connections; 2024.00 us of CPU each", t)
        self.assertIn("us/conn", t)
        self.assertEqual(rows(t, "process        total")[("server", "")], [4.0])

    def test_two_dirs_sorted_by_growth(self):
        a, b = fixture_run("a", rate="2000"), fixture_run("b", rate="1000")
        b["samples"] = [s if s[0] != "server" else (s[0], s[1], s[2] * 5) for s in b["samples"]]
        t = perf.report([a, b], "round trip")
        f = rows(t, "process        function")
        # server's functions grew from 0.5 to 5 us: they lead, +4.5 each.
        self.assertEqual(list(f)[0][0], "server")
        self.assertEqual(f[("server", "on_readable")], [0.5, 5.0, 4.5])
        self.assertEqual(f[("06_multi_epoll_", "tcp_sendmsg")], [2.0, 4.0, 2.0])

    def test_kernel_count_beside_the_samples(self):
        d = tempfile.mkdtemp()
        try:
            # 100 ticks/s: server's two threads used 0.6 + 0.4 s, a
            # 06_multi_epoll_ thread 0.5 s, a thread that started between
            # the two and one whose TID was reused by another program count
            # nothing; the rest is under 5% of the busy CPU.
            with open(os.path.join(d, "cpu0"), "w") as f:
                f.write("t 100.0\n1 10 server\n2 20 server\n3 0 06_multi_epoll_\n"
                        "4 0 kworker/0:1\n5 7 sleep\n")
            with open(os.path.join(d, "cpu1"), "w") as f:
                f.write("t 102.0\n1 70 server\n2 60 server\n3 50 06_multi_epoll_\n"
                        "4 1 kworker/0:2\n5 90 bash\n6 500 server\n")
            c = perf.read_cpu(d, hz=100)
            self.assertEqual(c["s"], 2.0)
            self.assertEqual({q: round(v, 6) for q, v in c["cpu"].items()},
                             {"server": 1.0, "06_multi_epoll_": 0.5, "kworker": 0.01})
            self.assertIsNone(perf.read_cpu(os.path.join(d, "nothing")))
            # 1000 rt/s over the 2 s between them: server 1.0 s = 500 us/rt;
            # the fixture's samples put 2 us/rt in server (0%), 6 in 06_..
            # (1% of 250).
            r = fixture_run("w")
            r["cpu"] = c
            t = perf.report([r], "round trip")
            self.assertIn("  kernel's count over the same 2.00 s, us/rt: server 500.00 (samples 0%), "
                          "06_multi_epoll_ 250.00 (samples 2%)\n", t)
            r["count"], r["rate"] = "100", ""
            self.assertIn("us/conn: server 10000.00", perf.report([r], "connection"))
        finally:
            shutil.rmtree(d)

    def test_perf_stat_per_unit(self):
        st = read(os.path.join(FIX, "stat.txt"))
        t = perf.stat_report("w", st, "round trip", "1000", "", 2)
        # task-clock 2,000 ms over 2 CPUs: perf stat counted 1 s, 1000 rt.
        self.assertIn("  %-24s %12s\n" % ("task-clock (us)", "2000.0000"), t)
        self.assertIn("  %-24s %12s\n" % ("context-switches", "4.0000"), t)
        self.assertIn("  %-24s %12s\n" % ("cpu-migrations", "0.1000"), t)
        self.assertIn("  cache-misses             not supported on this machine", t)
        t = perf.stat_report("r", st, "connection", "", "500", 2)
        self.assertIn("  %-24s %12s\n" % ("context-switches", "8.0000"), t)


class Runs(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.d)

    def make(self, sub, window):
        p = os.path.join(self.d, sub)
        os.makedirs(p)
        for n, text in (("perf.data", "x"), ("window", window),
                        ("stat.txt", read(os.path.join(FIX, "stat.txt")))):
            with open(os.path.join(p, n), "w") as f:
                f.write(text)
        return p

    @staticmethod
    def fake_load(d):
        """perf.load() without perf: the fixture's samples, d's window."""
        w = perf.read_window(d)
        r = fixture_run(d, rate=w["rate"], count=w["count"])
        r["samples"] += [("extra", "f%d" % k, 1000) for k in range(10)]   # 16 functions
        return r

    def test_after_run(self):
        self.make("window", "unit round trip\n")
        self.make("ramp", "count 500\nunit connection\n")
        with mock.patch.object(perf, "_have_perf", lambda: True), \
                mock.patch.object(perf, "load", self.fake_load):
            text = perf.after_run(self.d, 1000.0)
        w = os.path.join(self.d, "window")
        self.assertIn("rate 1000.0\n", read(os.path.join(w, "window")))
        top = read(os.path.join(w, "top.txt"))
        self.assertIn("= 1000 round trips; 1012.01 us of CPU each", top)
        self.assertIn("us/conn", read(os.path.join(self.d, "ramp", "top.txt")))
        lines = text.splitlines()
        self.assertEqual(lines[1], "profile of the window (%s/top.txt, and of the ramp in %s/top.txt):"
                         % (w, os.path.join(self.d, "ramp")))
        i = lines.index(next(l for l in lines if l.startswith("process        function")))
        # As run.sh printed it: the first 12 of the 16 functions.
        self.assertEqual(len(lines) - i - 1, 12)
        self.assertEqual(len(rows(text, "process        function")), 12)
        self.assertNotIn("perf stat", text)

    def test_refusals(self):
        import contextlib
        import io
        w = self.make("w", "unit round trip\nrate 5\n")
        r = self.make("r", "unit connection\ncount 5\n")
        u = self.make("u", "unit round trip\n")
        for argv, want in (([], "usage: scripts/perf-top"), (["-n", "x", w], "-n wants a count"),
                           ([os.path.join(self.d, "none")], "has no perf.data and window"),
                           ([w, r], "count different units"), ([u], "has no rate or count"),
                           ([w, w, w], "usage: scripts/perf-top")):
            err, out = io.StringIO(), io.StringIO()
            with mock.patch.object(perf, "_have_perf", lambda: True), \
                    contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
                rc = perf.main(argv)
            self.assertEqual((rc, out.getvalue(), err.getvalue().count("\n")), (2, "", 1), argv)
            self.assertIn(want, err.getvalue())


if __name__ == "__main__":
    unittest.main()
