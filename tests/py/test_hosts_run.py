"""hosts.run_clients()'s barrier on this machine, with stand-in clients (a
shell script that behaves as a client with -B does: "barrier: ready" on
stderr, then waits for "go" on stdin; EOF stops it). Each "host" is an
`env MODE=...` prefix, so no namespace or root is needed; tests/py/
hosts_lab.py runs the real client over network namespaces.

  go       2 hosts ready, one 0.8 s after the other: "run.sh: all 2 hosts
           ready; go", both get "go" together (within 150 ms),
           the server (this process) gets SIGUSR1 at go + W and go + W + d
           (within 150 ms), the merged line is the two lines merged
  early    a host that ends before the barrier: named, client_rc 1, the
           other stopped by EOF at once, no SIGUSR1
  fail     a host that exits 3 after go: "exited 3; stopping the others",
           the other ends at once (EOF), client_rc 3
  timeout  a host never ready: "0 of 1 hosts were ready after 2s; giving
           up", client_rc 124, the process stopped

run: python3 tests/py/test_hosts_run.py  (tests/merge.cases: merge-py-hosts-run)
"""
import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from unittest import mock

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from c1m import hosts, merge  # noqa: E402
from c1m.model import Facts  # noqa: E402
import merge_tool  # noqa: E402

FAKE = r"""#!/bin/sh
# A stand-in client with -B: MODE (from the "host") says how it behaves.
case $MODE in
early) echo "client: connect 198.18.0.1: refused" >&2; exit 1 ;;
never) exec sleep 30 ;;
good2) sleep 0.8 ;;     # slower to connect: go waits for it
esac
echo "client: 10/10 connected in 0.1 s" >&2
echo "barrier: ready 10/10 connections up; waiting for \"go\" on stdin" >&2
read line || { echo "barrier: stdin closed before \"go\"; stopping" >&2; exit 1; }
[ "$line" = go ] || exit 1
date +%s%N > "$DIR/go.$MODE"
case $MODE in
fail) sleep 0.3; echo "client: lost the server" >&2; exit 3 ;;
long) read more; echo "barrier: stdin closed; stopping" >&2; date +%s%N > "$DIR/eof.$MODE" ;;
*) sleep "$DELAY" ;;
esac
cat "$DIR/$MODE.json"
"""


def read(p):
    with open(p) as f:
        return f.read()


class Cleanup:
    """proc.Cleanup's interface, enough for hosts.run_clients()."""

    def __init__(self):
        self.steps = {}

    def defer(self, fn, *args, **kw):
        h = object()
        self.steps[h] = (fn, args, kw)
        return h

    def cancel(self, h):
        del self.steps[h]

    def run_all(self):
        for fn, args, kw in reversed(list(self.steps.values())):
            fn(*args, **kw)
        self.steps.clear()


class Barrier(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp()
        os.makedirs(os.path.join(self.d, "fake"))
        p = os.path.join(self.d, "fake", "client")
        with open(p, "w") as f:
            f.write(FAKE)
        os.chmod(p, 0o755)
        self.logdir = os.path.join(self.d, "log")
        os.makedirs(self.logdir)
        t0 = 1765000000000000
        for k, mode in enumerate(("good1", "good2", "long", "fail")):
            h = merge_tool.hist_of([1000 * (k + 1) + j for j in range(100)])
            with open(os.path.join(self.d, mode + ".json"), "w") as f:
                f.write(merge_tool.client_line(mode, h, start=t0 + 1000 * k) + "\n")
        self.usr1 = []
        self.old = signal.signal(signal.SIGUSR1, lambda *a: self.usr1.append(time.time_ns()))
        self.cleanup = Cleanup()

    def tearDown(self):
        self.cleanup.run_all()
        signal.signal(signal.SIGUSR1, self.old)
        shutil.rmtree(self.d)

    def run_hosts(self, modes, warmup=0, duration="1", delay="0.2"):
        plan = hosts.HostsPlan(["MODE=" + m for m in modes], [""] * len(modes),
                               ["env", "DIR=" + self.d, "DELAY=" + delay], False, self.d)
        f = Facts()
        out, err = io.StringIO(), io.StringIO()
        t = time.monotonic()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            hosts.run_clients(plan, conns=20, addr="198.18.0.1", port=1, duration=duration,
                              warmup=warmup, interval="1", extra_c=[], client_dir="fake",
                              server_pid=os.getpid(), logdir=self.logdir, cleanup=self.cleanup,
                              dry_run=False, facts=f)
        self.took = time.monotonic() - t
        self.out, self.err = out.getvalue(), err.getvalue()
        if os.environ.get("V"):
            print(self.out + self.err)
        self.assertEqual(self.cleanup.steps, {}, "a client left on the cleanup stack")
        return f

    def test_go(self):
        f = self.run_hosts(["good1", "good2"], warmup=0.4, duration="1.0", delay="2")
        self.assertEqual(f.client_rc, 0)
        self.assertIn("run.sh: all 2 hosts ready; go\n", self.out)
        self.assertIn("  MODE=good1| barrier: ready 10/10", self.err)
        go = [int(read(os.path.join(self.d, "go." + m))) for m in ("good1", "good2")]
        self.assertLess(abs(go[0] - go[1]), 150e6, "the hosts got go apart")
        self.assertEqual(len(self.usr1), 2, "SIGUSR1 to the server at the window's edges")
        for got, want in zip(self.usr1, (min(go) + 0.4e9, min(go) + 1.4e9)):
            self.assertLess(abs(got - want), 150e6, "a mark %.0f ms off" % ((got - want) / 1e6))
        want = merge.merge_files([os.path.join(self.d, m + ".json") for m in ("good1", "good2")])
        self.assertEqual(f.client, want)
        self.assertEqual([c["host"] for c in f.clients], ["good1", "good2"])
        with open(os.path.join(self.logdir, "client.json")) as fh:
            self.assertEqual(json.loads(fh.read()), want)
        self.assertEqual(f.host_names, ["MODE=good1", "MODE=good2"])
        self.assertEqual(len(f.client_pids), 2)
        self.assertTrue(f.stat0.startswith("cpu ") and f.stat1.startswith("cpu "))
        self.assertGreater(f.client_wall_s, 2)
        self.assertTrue(any(p["who"] == "client@MODE=good2" and p["line"].startswith("barrier: ready")
                            for p in f.progress))
        with open(os.path.join(self.logdir, "client.log")) as fh:
            self.assertEqual(fh.read().count("barrier: ready"), 2)

    def test_early(self):
        f = self.run_hosts(["long", "early"])
        self.assertEqual(f.client_rc, 1)
        self.assertIn("run.sh: the client on MODE=early ended before the start barrier: "
                      "client: connect 198.18.0.1: refused\n", self.err)
        self.assertNotIn("hosts ready; go", self.out)    # not "go" alone: a temp dir may hold it
        self.assertFalse(os.path.exists(os.path.join(self.d, "go.long")))
        self.assertEqual(self.usr1, [])
        self.assertLess(self.took, 5)
        self.assertIsNone(f.client)          # long never measured: no JSON line to merge

    def test_fail_stops_the_others(self):
        f = self.run_hosts(["long", "fail"], duration="20")
        self.assertEqual(f.client_rc, 3)
        self.assertIn("run.sh: the client on MODE=fail exited 3; stopping the others\n", self.err)
        eof = int(read(os.path.join(self.d, "eof.long")))
        go = int(read(os.path.join(self.d, "go.fail")))
        # fail exits 0.3 s after go; long sees EOF right after, not at -d 20.
        self.assertLess((eof - go) / 1e9, 1.5)
        self.assertLess(self.took, 6)
        self.assertEqual(len(self.usr1), 1, "the window opened (W 0), and never closed")

    def test_timeout(self):
        with mock.patch.object(hosts, "barrier_timeout", lambda *a: 2):
            f = self.run_hosts(["never"])
        self.assertEqual(f.client_rc, 124)
        self.assertIn("run.sh: 0 of 1 hosts were ready after 2s; giving up\n", self.err)
        self.assertLess(self.took, 6)
        left = subprocess.run(["pgrep", "-f", "sleep 30"], capture_output=True, text=True).stdout.split()
        self.assertNotIn(str(f.client_pids[0]), left)


if __name__ == "__main__":
    unittest.main()
