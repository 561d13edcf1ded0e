"""hosts.py over network namespaces of this machine, before run.py calls it:
the real 05 client on two "hosts" (scripts/netns-lab.sh: a server namespace
and two client namespaces on a bridge, 198.18.0.0/15 only, no route out), a
real 06 server in the server namespace, hosts.check() and
hosts.run_clients() driven here as run.py will. Root and ip netns, else
skipped (exit 77). The namespaces and the server go also on failure.
tests/hosts.sh asserts the same through ./run.sh once run.py calls hosts.py.

  netns  2 x 2,000 connections with --via 'ip netns exec': both hosts
         ready, then "go"; the merged round trips are the sum of the two
         clients'; every merged key against tests/py/merge_tool.py's
         check; the windows open and close within 50 ms of each other;
         the server's window (SIGUSR1 marks) agrees with the merged rps
         (0.85..1.15); each histogram holds the window's round trips;
         nothing left in the namespaces
  fail   a host that does not exist: check() is False, one line names it;
         a client killed in the middle of its window: the other is stopped
         at once, client_rc 137, the message, nothing left behind

run: python3 tests/py/hosts_lab.py  (tests/merge.cases: merge-hosts-lab)
"""
import contextlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from c1m import hosts  # noqa: E402
from c1m.model import Facts  # noqa: E402
from test_hosts_run import Cleanup  # noqa: E402

LAB = "c1m-hp%d" % os.getpid()
CLIENT_DIR = "05_multi_epoll_client"
SERVER = "./06_multi_epoll_server/server"
ADDR = "198.18.0.1"


def lab(*args):
    return subprocess.run([os.path.join(ROOT, "scripts", "netns-lab.sh")] + list(args) + ["--name", LAB],
                          capture_output=True, text=True)


def ns_pids(ns):
    return subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()


class Lab(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        r = lab("up", "2")
        if r.returncode:
            raise RuntimeError("netns-lab.sh up: " + r.stdout + r.stderr)

    @classmethod
    def tearDownClass(cls):
        lab("down")

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="c1m-hosts-lab.")
        self.cleanup = Cleanup()
        self.server = None

    def tearDown(self):
        self.cleanup.run_all()
        if self.server:
            if self.server.poll() is None:
                self.server.kill()
                self.server.wait()
            self.server.stderr.close()
        shutil.rmtree(self.tmp)

    def start_server(self):
        """06 in the server namespace on a free port; returns the port."""
        self.sout = open(os.path.join(self.tmp, "server.json"), "w")
        self.server = subprocess.Popen(["ip", "netns", "exec", LAB + "-srv", SERVER, "-p", "0", "-a", ADDR,
                                        "-i", "1"], cwd=ROOT, stdout=self.sout, stderr=subprocess.PIPE,
                                       text=True)
        self.sout.close()
        for _ in range(200):
            line = self.server.stderr.readline()
            if not line:
                break
            if "listening on" in line:
                threading.Thread(target=self.server.stderr.read, daemon=True).start()   # keep it drained
                return int(re.search(r"listening on [0-9.]*:([0-9]+)", line).group(1))
        self.fail("the server did not say where it listens")

    def stop_server(self):
        self.server.send_signal(signal.SIGTERM)
        self.server.wait(30)
        with open(os.path.join(self.tmp, "server.json")) as f:
            return json.loads([l for l in f if l.startswith("{")][-1])

    def run_hosts(self, names, duration, port, during=None):
        plan = hosts.HostsPlan(names, ["198.18.%d.1" % (i + 1) for i in range(len(names))],
                               ["ip", "netns", "exec"], False, ROOT)
        f = Facts()
        out, err = io.StringIO(), io.StringIO()
        if during:
            threading.Thread(target=during, args=(f,), daemon=True).start()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            hosts.run_clients(plan, conns=4000, addr=ADDR, port=port, duration=duration, warmup=0,
                              interval="1", extra_c=[], client_dir=CLIENT_DIR, server_pid=self.server.pid,
                              logdir=self.tmp, cleanup=self.cleanup, dry_run=False, facts=f)
        self.out, self.err = out.getvalue(), err.getvalue()
        sys.stdout.write(self.out + self.err)
        self.assertEqual(self.cleanup.steps, {}, "a client left on the cleanup stack")
        return f

    def assert_nothing_left(self):
        for ns in (LAB + "-1", LAB + "-2", LAB + "-srv"):
            self.assertEqual(ns_pids(ns), [], "processes left in " + ns)

    def test_netns(self):
        port = self.start_server()
        f = self.run_hosts([LAB + "-1", LAB + "-2"], "3", port)
        srv = self.stop_server()
        self.assertEqual(f.client_rc, 0)
        self.assertIn("run.sh: all 2 hosts ready; go\n", self.out)
        m, cs = f.client, f.clients
        self.assertTrue(all(c["conns"] == 2000 and c["errors"] == 0 and c["mismatches"] == 0 for c in cs))
        self.assertEqual(m["round_trips"], sum(c["round_trips"] for c in cs))
        self.assertGreater(m["round_trips"], 0)
        for c in cs:
            rt = c["round_trips"] - c["mismatches"]
            self.assertLessEqual(abs(c["hist"]["count"] - rt), max(20, 0.002 * rt), c["host"])
        self.assertEqual(m["hist"]["count"], sum(c["hist"]["count"] for c in cs))
        starts = [c["window_start_us"] for c in cs]
        ends = [c["window_end_us"] for c in cs]
        self.assertLessEqual(max(starts) - min(starts), 50000, "windows open apart")
        self.assertLessEqual(max(ends) - min(ends), 50000, "windows close apart")
        self.assertLessEqual(abs(m["rps"] - sum(c["rps"] for c in cs)), 1)
        agreement = m["rps"] / srv["window_rps"]
        print("client / server window rps = %.3f" % agreement)
        self.assertTrue(0.85 <= agreement <= 1.15, "the server's window was not marked: %s" % agreement)
        # Every merged key against the rules worked apart (tests/py/merge_tool.py).
        with open(os.path.join(self.tmp, "merged.json"), "w") as fh:
            json.dump(m, fh, separators=(",", ":"))
        paths = []
        for i, c in enumerate(cs):
            paths.append(os.path.join(self.tmp, "host.%d.json" % i))
            with open(paths[-1], "w") as fh:
                json.dump(c, fh, separators=(",", ":"))
        r = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "py", "merge_tool.py"), "check",
                            os.path.join(self.tmp, "merged.json")] + paths, capture_output=True, text=True)
        print(r.stdout + r.stderr)
        self.assertEqual(r.returncode, 0, "the merged line differs (above)")
        self.assert_nothing_left()

    def test_fail(self):
        plan = hosts.HostsPlan([LAB + "-1", LAB + "-9"], ["", ""], ["ip", "netns", "exec"], False, ROOT)
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            ok = hosts.check(plan, CLIENT_DIR)
        print(err.getvalue())
        self.assertFalse(ok)
        lines = err.getvalue().splitlines()
        self.assertEqual([l for l in lines if l.startswith("run.sh: host %s-9: " % LAB)], lines)
        self.assertEqual(len(lines), 1)
        plan.names = [LAB + "-1", LAB + "-2"]
        with contextlib.redirect_stderr(io.StringIO()):
            self.assertTrue(hosts.check(plan, CLIENT_DIR))

        killed = []

        def kill_one(f):
            # Once both are ready (and so told "go"), 1.5 s into the window.
            t = time.monotonic()
            while time.monotonic() - t < 60:
                if sum(p["line"].startswith("barrier: ready") for p in list(f.progress)) == 2:
                    break
                time.sleep(0.1)
            time.sleep(1.5)
            pids = ns_pids(LAB + "-2")
            if pids:
                os.kill(int(pids[0]), signal.SIGKILL)
                killed.append(time.monotonic())

        port = self.start_server()
        f = self.run_hosts([LAB + "-1", LAB + "-2"], "20", port, during=kill_one)
        ended = time.monotonic()
        self.stop_server()
        self.assertTrue(killed, "no client was running in %s-2" % LAB)
        self.assertEqual(f.client_rc, 137)
        self.assertIn("run.sh: the client on %s-2 exited 137; stopping the others\n" % LAB, self.err)
        self.assertLess(ended - killed[0], 10, "the other host was not stopped at once")
        self.assert_nothing_left()


def main():
    if os.environ.get("SAN"):
        print("a sanitized client at 2 x 2,000 connections adds nothing here; plain make test runs it")
        return 77
    if os.geteuid() != 0 or not shutil.which("ip") or subprocess.run(
            ["ip", "netns", "list"], capture_output=True).returncode:
        print("needs root and ip netns")
        return 77
    for p in (SERVER, "./%s/client" % CLIENT_DIR):
        if not os.access(os.path.join(ROOT, p), os.X_OK):
            print("no %s: run make first" % p)
            return 77
    # timeout(1) sends TERM (unittest would catch a SystemExit and go on):
    # remove the lab at once; `down` also ends what runs in it (the server,
    # the clients).
    signal.signal(signal.SIGTERM, lambda *a: (lab("down"), os._exit(143)))
    try:
        r = unittest.main(exit=False).result
    finally:
        lab("down")
    return 0 if r.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
