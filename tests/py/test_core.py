"""cli.parse (the compare options, the checks that need no machine),
proc.Cleanup and stop_proc, designs.limit's messages."""
import os
import signal
import subprocess
import sys
import time
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from c1m import cli, designs, kernel, proc  # noqa: E402
from c1m.model import UsageError  # noqa: E402


class Parse(unittest.TestCase):
    def setUp(self):
        self.cwd = os.getcwd()
        os.chdir(ROOT)  # valid_designs() looks at the repository's NN_* dirs

    def tearDown(self):
        os.chdir(self.cwd)

    def parse(self, *argv):
        return cli.parse(list(argv), ROOT)

    def bad(self, want, *argv):
        with self.assertRaises(UsageError) as e:
            self.parse(*argv)
        self.assertIn(want, str(e.exception))

    def test_compare_options(self):
        o = self.parse("compare", "-r", "3", "--ref", "6", "--dry-run")
        self.assertEqual((o.target, o.rounds, o.reference), ("compare", 3, "06"))
        self.assertEqual(self.parse("compare", "--ref", "baseline").reference, "baseline")
        self.assertEqual(self.parse("compare").rounds, 1)
        self.bad("-r: want a number of rounds >= 1, not '0'", "compare", "-r", "0")
        self.bad("-r needs a value", "compare", "-r")
        self.bad("--ref: want a design number or baseline, not 'x'", "compare", "--ref", "x")
        self.bad("--ref 99: no design 99 here", "compare", "--ref", "99")
        self.bad("-r is for compare only", "06", "-r", "2")
        self.bad("--ref is for compare only", "06", "--ref", "baseline")
        self.assertEqual(self.parse("compare", "--max-conns", "10000").max_conns, 10000)
        self.assertIsNone(self.parse("compare").max_conns)
        self.bad("--max-conns: want a count in 1..100000000, not '0'", "compare", "--max-conns", "0")
        self.bad("--max-conns: want a count in 1..100000000, not '1e4'", "compare", "--max-conns", "1e4")
        self.bad("--max-conns is for compare only", "06", "--max-conns", "1000")

    def test_options(self):
        o = self.parse("6", "-n", "1000,200", "-S", "-m  timer", "--quick", "-p", "0")
        self.assertEqual((o.target, o.asked, o.extra_s, o.port), ("06", [1000, 200], ["-m", "timer"], 0))
        self.assertEqual((o.duration, o.interval), ("2", "1"))   # --quick's defaults
        o = self.parse("06", "--quick", "-d", "5")
        self.assertEqual((o.duration, o.interval), ("5", "1"))
        self.assertEqual(self.parse("06").duration, None)
        self.bad("-n: 0 is not in 1..100000000", "06", "-n", "5,0")
        self.bad("compare runs every design as it comes, at the counts it plans: -n --quick is not for compare",
                 "compare", "-n", "5", "--quick")
        self.bad("say which design: one number, or all", "06", "all")
        self.bad("unknown option -x", "06", "-x", "-h")   # the loop's order: -x first
        with self.assertRaises(cli.ShowHelp):
            self.parse("06", "-h", "-x")

    def test_shq(self):
        self.assertEqual(cli.shq("-m"), "-m")
        self.assertEqual(cli.shq("a b"), "'a b'")
        self.assertEqual(cli.shq("it's"), "'it'\\''s'")
        self.assertEqual(cli.command_line(["06", "-S", "-m timer"]), "./run.sh 06 -S '-m timer'")


class Limits(unittest.TestCase):
    def test_limit(self):
        line = '{"fd_tables":"many","target":5000,"rate":2.5,"x":null}'
        self.assertEqual(designs.limit("s", line, ("fd_tables", "one|many"), ("target", "[1-9][0-9]*"),
                                       ("rate", r"[0-9]+(\.[0-9]+)?")), ["many", "5000", "2.5"])
        with self.assertRaises(designs.LimitsError) as e:
            designs.limit("03_x/server", line, ("max_loops", "[1-9][0-9]*"))
        self.assertEqual(str(e.exception), "./03_x/server -L: \"max_loops\" is '', want [1-9][0-9]*, in: " + line)
        with self.assertRaises(designs.LimitsError) as e:
            designs.limit("s", line, ("fd_tables", "one"))
        self.assertIn("\"fd_tables\" is 'many', want one", str(e.exception))
        with self.assertRaises(designs.LimitsError) as e:
            designs.limit("s", '{"target":5000,}', ("target", "[0-9]+"))
        self.assertIn("./s -L: not a JSON object", str(e.exception))


class Kernel(unittest.TestCase):
    def test_sockstat(self):
        text = "sockets: used 12\nTCP: inuse 5 orphan 0 tw 7 alloc 9 mem 3\nUDP: inuse 1 mem 2\n"
        self.assertEqual(kernel.sockstat_tcp(text), {"inuse": 5, "orphan": 0, "tw": 7, "alloc": 9, "mem": 3})
        self.assertEqual(kernel.sockstat_tcp(""), {})

    def test_tune_args(self):
        self.assertEqual(kernel.tune_args(200, 8972, False, 0, False), ["-n", "200", "-p", "8972"])
        self.assertEqual(kernel.tune_args(10, 1, True, 1048576, True),
                         ["-n", "10", "-p", "1", "--threads", "--fds", "1048576", "--netns"])

    def test_auto_netns_asked(self):
        # --netns / --no-netns are as asked, whatever the size; not root: never.
        self.assertEqual(kernel.auto_netns("1", 10, False, False, ""), (True, []))
        self.assertEqual(kernel.auto_netns("0", 10 ** 7, True, False, ""), (False, []))
        self.assertEqual(kernel.auto_netns("auto", 10 ** 7, False, False, ""), (False, []))
        self.assertEqual(kernel.auto_netns("auto", 10 ** 7, True, True, ""), (False, []))
        self.assertEqual(kernel.auto_netns("auto", 10 ** 7, True, False, "10.0.0.1"), (False, []))


class Cleanup(unittest.TestCase):
    def test_order_and_failures(self):
        done = []
        c = proc.Cleanup()
        c.defer(done.append, 1)
        h = c.defer(done.append, 2)
        c.defer(lambda: 1 / 0)   # one failed step does not stop the others
        c.defer(done.append, 4)
        c.cancel(h)
        c.run_all()
        self.assertEqual(done, [4, 1])
        c.run_all()   # nothing left: nothing runs twice
        self.assertEqual(done, [4, 1])

    def test_interrupt_in_a_step(self):
        # Ctrl-C inside one step: the rest still run, then it is raised again.
        done = []
        c = proc.Cleanup()
        c.defer(done.append, 1)
        c.defer(self._interrupt)
        c.defer(done.append, 3)
        with self.assertRaises(proc.Interrupted):
            c.run_all()
        self.assertEqual(done, [3, 1])

    @staticmethod
    def _interrupt():
        raise proc.Interrupted(130)

    def test_stop_proc_kills_after_grace(self):
        p = subprocess.Popen([sys.executable, "-c",
                              "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
                              " print('up', flush=True); time.sleep(60)"], stdout=subprocess.PIPE)
        p.stdout.readline()
        t0 = time.monotonic()
        rc = proc.stop_proc(p, grace_s=0.5)
        self.assertEqual(rc, -signal.SIGKILL)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(proc.shell_rc(rc), 137)
        p.stdout.close()

    def test_stop_proc_term(self):
        p = subprocess.Popen(["sleep", "60"])
        self.assertEqual(proc.stop_proc(p, grace_s=5), -signal.SIGTERM)
        self.assertEqual(proc.stop_proc(p), -signal.SIGTERM)   # already gone: its code

    def test_cmd(self):
        self.assertEqual(proc.cmd(["echo", "hi"]).stdout, "hi\n")
        with self.assertRaises(proc.CmdError) as e:
            proc.cmd(["sh", "-c", "echo oops; exit 3"])
        self.assertIn("exit 3: oops", str(e.exception))


if __name__ == "__main__":
    unittest.main()
