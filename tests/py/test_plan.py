"""plan.size() (pure sizing), window_for, run_estimate and the CPU sets."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
from c1m import plan  # noqa: E402

EVENTS_MANY = plan.Limits(kind="events", tables="many", target=1000000, srv_reserve=32, srv_loops=4096,
                          cli_tables="many", cli_reserve=32, cli_loops=4096, per_src=2000, rate_default="0")
EVENTS_ONE = plan.Limits(kind="events", tables="one", target=1000000, srv_reserve=100, srv_loops=1,
                         cli_tables="one", cli_reserve=10, cli_loops=1, per_src=28000, rate_default="0")
THREADS = plan.Limits(kind="threads", tables="one", target=1000, srv_reserve=50, srv_loops=1,
                      cli_tables="many", cli_reserve=32, cli_loops=4096, per_src=2000, rate_default="0")
GIB_KB = 1024 * 1024


def machine(mem_kb=24 * GIB_KB, hard=20000, **kw):
    f = dict(mem_available_kb=mem_kb, hard_nofile=hard, nr_open=1048576, can_raise_nofile=False,
             file_max=10 ** 9, files_used=1000, pid_max=4194304, threads_max=4194304, threads_running=100)
    f.update(kw)
    return plan.Machine(**f)


def size(lim, m, **kw):
    kw.setdefault("can_tune", True)
    return plan.size(lim, m, server_dir="06_x", client_dir="05_x", **kw)


class Sizing(unittest.TestCase):
    def test_memory_limited(self):
        # 1 GiB: 60% at 8,500 B a connection.
        s = size(EVENTS_MANY, machine(mem_kb=GIB_KB))
        want = GIB_KB * 1024 * 60 // 100 // 8500
        self.assertEqual((s.cap, s.why, s.conns), (want, "memory", want))
        self.assertIn("  => 75,793 connections (short of the design's target, limited by memory)", s.lines)
        self.assertEqual(s.refused, [])

    def test_whole_machine(self):
        # 22 GiB available: 60% holds 1.67M (the design's 1M target runs);
        # --whole-machine takes 90% and runs at the cap, 2,328,... (2M fits).
        m = machine(mem_kb=22 * GIB_KB)
        s = size(EVENTS_MANY, m)
        self.assertEqual(s.conns, 1000000)
        w = size(EVENTS_MANY, m, whole_machine=True)
        want = 22 * GIB_KB * 1024 * 90 // 100 // 8500
        self.assertEqual((w.cap, w.why, w.conns), (want, "memory", want))
        self.assertGreater(w.conns, 2000000)
        self.assertLessEqual(w.conns * 8500, m.mem_available_kb * 1024)   # never past it
        self.assertTrue(any("90% of it (--whole-machine)" in l for l in w.lines), w.lines)
        self.assertIn("--whole-machine: the most this machine holds", w.lines[-1])
        # -n 2,000,000 is refused by default and fits with the flag.
        self.assertTrue(size(EVENTS_MANY, m, asked=2000000).refused)
        ok = size(EVENTS_MANY, m, asked=2000000, whole_machine=True)
        self.assertEqual((ok.refused, ok.conns), ([], 2000000))
        # Past 90% of MemAvailable: still refused, with the reason.
        self.assertIn("limited by memory", size(EVENTS_MANY, m, asked=want + 1,
                                                whole_machine=True).refused[0])
        # --quick stays small; the fd tables still cap it.
        self.assertEqual(size(EVENTS_MANY, m, quick=True, whole_machine=True).conns, 200)
        self.assertEqual(size(EVENTS_ONE, m, whole_machine=True).why, "the server's one fd table")

    def test_target_fits(self):
        s = size(EVENTS_MANY, machine())
        self.assertEqual(s.conns, 1000000)
        self.assertTrue(s.lines[-1].startswith("  => 1,000,000 connections (the design's target"), s.lines)

    def test_fd_one_table(self):
        # One table: the hard RLIMIT_NOFILE less the spare fds caps the run.
        s = size(EVENTS_ONE, machine(hard=20000))
        self.assertEqual((s.cap, s.why), (19900, "the server's one fd table"))
        s = size(plan.Limits(**{**EVENTS_ONE.__dict__, "srv_reserve": 5}), machine(hard=20000))
        self.assertEqual((s.cap, s.why), (19990, "the client's one fd table"))

    def test_fd_many_tables(self):
        # Private tables: one per loop, so -c 2 gives two tables' worth.
        s = size(EVENTS_MANY, machine(mem_kb=GIB_KB * 100, hard=1000), loops=2)
        self.assertEqual((s.cap, s.why), (2 * 968, "the server's 2 fd tables"))
        self.assertTrue(any("up to 2 loops (-c)" in l for l in s.lines), s.lines)

    def test_raise_nofile(self):
        # Root that may raise the hard limit sizes by fs.nr_open and says to raise it.
        s = size(EVENTS_ONE, machine(hard=20000, can_raise_nofile=True))
        self.assertEqual((s.raise_nofile, s.cap), (1048576, 1048476))
        s = size(EVENTS_ONE, machine(hard=20000, can_raise_nofile=True), can_tune=False)
        self.assertEqual(s.raise_nofile, 0)

    def test_threads(self):
        s = size(THREADS, machine(mem_kb=GIB_KB), can_tune=True)
        self.assertEqual(s.cap, GIB_KB * 1024 * 60 // 100 // (8500 + 31744))
        self.assertTrue(any("+ a thread" in l for l in s.lines), s.lines)
        # Not root: pid_max/threads-max and the threads running cap it.
        s = size(THREADS, machine(hard=100000, pid_max=32768, threads_max=192000, threads_running=500),
                 can_tune=False)
        self.assertEqual((s.cap, s.why), (32768 - 500 - 1024, "kernel.pid_max/threads-max"))

    def test_file_max(self):
        s = size(EVENTS_MANY, machine(file_max=265536, files_used=0), can_tune=False)
        self.assertEqual((s.cap, s.why), (100000, "fs.file-max"))
        self.assertEqual(size(EVENTS_MANY, machine(file_max=265536, files_used=0)).why, "memory")

    def test_asked_over_cap_refused(self):
        s = size(EVENTS_ONE, machine(hard=20000), asked=50000)
        self.assertEqual(s.conns, 0)
        self.assertEqual(s.refused, ["run.sh: -n 50,000 cannot fit: at most 19,900 here, limited by"
                                     " the server's one fd table"])
        # A kernel limit, not root: says root would raise it.
        s = size(EVENTS_MANY, machine(file_max=265536, files_used=0), asked=200000, can_tune=False)
        self.assertEqual(len(s.refused), 2)
        self.assertIn("kernel limits would be raised", s.refused[1])

    def test_asked_edge(self):
        # The cap itself fits; one more does not.
        self.assertEqual(size(EVENTS_ONE, machine(hard=20000), asked=19900).conns, 19900)
        self.assertTrue(size(EVENTS_ONE, machine(hard=20000), asked=19901).refused)

    def test_asked_fits(self):
        s = size(EVENTS_ONE, machine(), asked=500)
        self.assertEqual((s.conns, s.refused), (500, []))
        self.assertEqual(s.lines[-1], "  => 500 connections (-n; fits: at most 19,900, limited by"
                                      " the server's one fd table)")

    def test_quick(self):
        self.assertEqual(size(EVENTS_MANY, machine(), quick=True).conns, 200)
        self.assertEqual(size(EVENTS_MANY, machine(mem_kb=1000), quick=True).conns, 72)
        # A cap below 1 is 1: a run of one connection, not zero.
        self.assertEqual(size(EVENTS_MANY, machine(mem_kb=1), quick=True).conns, 1)

    def test_hosts_line(self):
        s = size(EVENTS_MANY, machine(), hosts=3)
        self.assertTrue(any(l.startswith("  ports    3 hosts, each its share") for l in s.lines), s.lines)


class Window(unittest.TestCase):
    def test_window(self):
        self.assertEqual(plan.window_for(1000), ("10", 0))
        self.assertEqual(plan.window_for(50000), ("10", 3))
        self.assertEqual(plan.window_for(1000000), ("30", 62))
        self.assertEqual(plan.window_for(1000000, "5"), ("5", 62))

    def test_timeout_and_estimate(self):
        self.assertEqual(plan.client_timeout(200, "2", 0), 0 + 1 + 2 + 0 + 60)
        self.assertEqual(plan.client_timeout(1000000, "30", 62), 200 + 600 + 30 + 62 + 60)
        self.assertEqual(plan.client_timeout(1000, "2.5", 0), 0 + 5 + 2 + 60)
        self.assertEqual(plan.run_estimate(10000), 5 + 0 + 0 + 0 + 10)
        self.assertEqual(plan.run_estimate(1000000), 5 + 50 + 20 + 62 + 30)


class CpuSets(unittest.TestCase):
    def test_expand(self):
        self.assertEqual(plan.expand_cpus("0-2,5"), [0, 1, 2, 5])
        self.assertEqual(plan.expand_cpus("5,0-1,1"), [0, 1, 5])
        for bad in ("", "x", "2-1", "0,", "0-70000", "-1", "1:2"):
            self.assertIsNone(plan.expand_cpus(bad), bad)

    def test_compact(self):
        self.assertEqual(plan.compact_cpus([0, 1, 2, 5]), "0-2,5")
        self.assertEqual(plan.compact_cpus([3]), "3")
        self.assertEqual(plan.compact_cpus([]), "")
        self.assertEqual(plan.compact_cpus([7, 1, 2, 9, 8]), "1-2,7-9")

    def test_usable(self):
        self.assertEqual(plan.usable("0-3\n", {1, 2, 7}), [1, 2])
        self.assertEqual(plan.usable("garbage", {4, 1}), [1, 4])

    def test_pins(self):
        self.assertEqual(plan.pins("auto", [0, 1, 2, 3]), ("0-1", "2-3"))
        self.assertEqual(plan.pins("auto", [0, 1, 2]), ("0", "1-2"))
        self.assertEqual(plan.pins("0:1", [0, 1]), ("0", "1"))
        self.assertEqual(plan.pins("0-1,3:2", [0, 1, 2, 3]), ("0-1,3", "2"))

    def test_pins_refused(self):
        cases = {("auto", (0,)): "this run may use only CPU 0",
                 ("0:0-1", (0, 1)): "CPU 0 is in both sets",
                 ("0:9", (0, 1)): "CPU 9 is not online or not ours (usable: 0-1)",
                 ("0-1", (0, 1)): "want SERVER_CPUS:CLIENT_CPUS",
                 ("x:1", (0, 1)): "'x' is not a CPU list",
                 ("0:", (0, 1)): "'' is not a CPU list"}
        for (arg, cpus), want in cases.items():
            with self.assertRaises(plan.PinError) as e:
                plan.pins(arg, list(cpus))
            self.assertIn(want, str(e.exception), arg)
            self.assertEqual(e.exception.usage, arg != "auto", arg)

    def test_cpu_count_and_rate(self):
        self.assertEqual(plan.cpu_count(""), 0)
        self.assertEqual(plan.cpu_count("0-3,8"), 5)
        self.assertEqual(plan.asked_rate(["-r", "100", "-x", "-r500"], "0"), "500")
        self.assertEqual(plan.asked_rate(["-k"], "7"), "7")


if __name__ == "__main__":
    unittest.main()
