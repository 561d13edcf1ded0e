"""compare's reference for real: scripts/baseline_pair (make builds it) at
200 connections for 2 s, on a port it finds free on 127.0.0.1; a port
someone else holds is retried; a run that cannot hold its connections
fails with the reason; nothing is left running. Its churn mode (LIFETIME
[rst], the client's -x N [-R]) opens a connection per LIFETIME round
trips, counts them a second, and closes by RST only when asked (no
TIME_WAIT left then); bad churn words are refused with exit 2.

run: python3 -m unittest discover -s tests/py -p 'test_baseline.py'
"""
import os
import socket
import subprocess
import sys
import unittest
from unittest import mock

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from c1m import compare  # noqa: E402

# C1M_BASELINE: another build (a mutant) to check these tests against.
BINARY = os.environ.get("C1M_BASELINE") or os.path.join(ROOT, "scripts", "baseline_pair")


def time_wait_to(port):
    """TIME_WAIT sockets (state 06) whose remote end is 127.0.0.1:port."""
    n = 0
    for name in ("/proc/net/tcp",):
        with open(name) as f:
            for line in f.readlines()[1:]:
                w = line.split()
                if w[3] == "06" and w[2].endswith(f":{port:04X}"):
                    n += 1
    return n


class Baseline(unittest.TestCase):
    def setUp(self):
        self.assertTrue(os.access(BINARY, os.X_OK), "scripts/baseline_pair is not built (make)")
        self.pids = []
        real = subprocess.Popen

        def popen(*a, **kw):
            p = real(*a, **kw)
            self.pids.append((p.pid, a[0][-2] if a[0][-2] == "server" else "client"))
            return p
        self.patch = mock.patch.object(compare.subprocess, "Popen", popen)
        self.patch.start()

    def tearDown(self):
        self.patch.stop()

    def assert_nothing_left(self):
        for pid, _ in self.pids:
            self.assertFalse(os.path.exists(f"/proc/{pid}"), f"server {pid} left behind")

    def test_200_connections_2s(self):
        rc, rps, why = compare.run_baseline(BINARY, 200, 2)
        self.assertEqual((rc, why), (0, ""))
        self.assertGreater(rps, 1000)     # 200 connections in ping-pong: far more
        self.assertEqual([w for _, w in self.pids], ["server", "client"])
        self.assert_nothing_left()

    def test_port_taken_is_retried(self):
        with socket.socket() as held:
            held.bind(("127.0.0.1", 0))
            held.listen()
            taken = held.getsockname()[1]
            ports = [taken, compare._free_port()]
            with mock.patch.object(compare, "_free_port", lambda: ports.pop(0)):
                rc, rps, why = compare.run_baseline(BINARY, 20, 1)
            self.assertEqual((rc, why), (0, ""))
            self.assertEqual(ports, [])              # both tried
            # The first server gave up on the port, the second ran.
            self.assertEqual([w for _, w in self.pids], ["server", "server", "client"])
            self.assert_nothing_left()

    def test_too_many_connections_fails_with_reason(self):
        # Under a hard limit of 100 fds the client cannot open 200.
        code = ("import sys; sys.path.insert(0, sys.argv[1]); from c1m import compare; "
                "print(compare.baseline_cap()[0]); print(compare.run_baseline(sys.argv[2], 200, 1))")
        out = subprocess.run(["prlimit", "--nofile=100:100", sys.executable, "-c", code,
                              os.path.join(ROOT, "scripts"), BINARY],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        cap, res = out.stdout.splitlines()
        self.assertEqual(int(cap), 84)               # 100 less the few each side keeps
        self.assertRegex(res, r"^\(1, None, 'client exit 1: baseline_pair: connect: ")


class Churn(unittest.TestCase):
    def test_lifetime_one_a_connection_a_round_trip(self):
        rc, figs, why = compare.run_baseline_churn(BINARY, 50, 1, 1)
        self.assertEqual((rc, why), (0, ""))
        self.assertEqual(set(figs), {"rps", "conns_opened_per_s", "connect_errors"})
        self.assertGreater(figs["conns_opened_per_s"], 200)
        self.assertLess(abs(figs["conns_opened_per_s"] / figs["rps"] - 1), 0.2, figs)
        self.assertEqual(figs["connect_errors"], 0)

    def test_lifetime_ten(self):
        rc, figs, why = compare.run_baseline_churn(BINARY, 50, 1, 10)
        self.assertEqual((rc, why), (0, ""))
        self.assertLess(abs(figs["conns_opened_per_s"] * 10 / figs["rps"] - 1), 0.2, figs)

    def test_rst_leaves_no_time_wait_fin_does(self):
        left = {}
        for rst in (False, True):
            port = compare._free_port()
            with mock.patch.object(compare, "_free_port", lambda: port):
                rc, figs, why = compare.run_baseline_churn(BINARY, 20, 0.5, 1, rst)
            self.assertEqual((rc, why), (0, ""))
            left[rst] = time_wait_to(port)
        # FIN: the client closes first, so its side waits, one per connection
        # churned; RST: none but the 20 still open when the client exits.
        self.assertGreater(left[False], 100, left)
        self.assertLessEqual(left[True], 20, left)

    def test_default_unchanged_and_bad_words(self):
        p = subprocess.run([BINARY, "client", "1", "10", "1", "0"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        p = subprocess.run([BINARY, "client", "1", "10", "1", "5", "fin"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertEqual(len(p.stderr.splitlines()), 1)
        rc, rps, why = compare.run_baseline(BINARY, 20, 0.5)
        self.assertEqual((rc, why), (0, ""))
        self.assertIsInstance(rps, float)


if __name__ == "__main__":
    unittest.main()
