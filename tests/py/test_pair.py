"""pair.Tee (a program's stderr to its log, the terminal and progress) and
pair.Sampler (its columns; TCP figures from the server's own namespace)."""
import io
import os
import subprocess
import sys
import tempfile
import unittest
from contextlib import redirect_stderr

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
from c1m import pair  # noqa: E402

# Listens on N ports, says so, then waits for stdin to close.
LISTENER = ("import socket, sys\nn = int(sys.argv[1])\nss = [socket.socket() for _ in range(n)]\n"
            "for s in ss:\n    s.bind(('127.0.0.1', 0)); s.listen()\nprint('up', flush=True)\nsys.stdin.read()\n")


class TeeTest(unittest.TestCase):
    def test_lines_to_log_terminal_and_progress(self):
        with tempfile.TemporaryDirectory() as d:
            log = os.path.join(d, "x.log")
            p = subprocess.Popen([sys.executable, "-c", "import sys; sys.stderr.write('a\\nlistening on 1.2.3.4:99\\n')"],
                                 stderr=subprocess.PIPE)
            seen, lines, term = [], [], io.StringIO()
            with redirect_stderr(term):
                t = pair.Tee(p.stderr, log, "  server| ", "server", lines, seen.append)
                t.start()
                p.wait()
                t.join(5)
            self.assertEqual(open(log).read(), "a\nlistening on 1.2.3.4:99\n")
            self.assertEqual(term.getvalue(), "  server| a\n  server| listening on 1.2.3.4:99\n")
            self.assertEqual([(w, l) for _, w, l in lines], [("server", "a"), ("server", "listening on 1.2.3.4:99")])
            self.assertLessEqual(lines[0][0], lines[1][0])
            self.assertEqual(seen, ["a", "listening on 1.2.3.4:99"])


class SamplerTest(unittest.TestCase):
    def listener(self, n, prefix=()):
        p = subprocess.Popen(list(prefix) + [sys.executable, "-c", LISTENER, str(n)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
        self.addCleanup(p.wait)
        self.addCleanup(p.stdin.close)
        self.assertEqual(p.stdout.readline(), b"up\n")
        return p

    def test_columns(self):
        p = self.listener(1)
        row = pair.Sampler(p.pid, []).sample()
        self.assertEqual(len(row), 8)
        self.assertGreater(row[1], 0)   # slab kB
        self.assertGreater(row[5], 0)   # the server's RSS
        self.assertGreaterEqual(row[6], 0)

    def test_sees_the_servers_namespace(self):
        if os.geteuid() != 0:
            self.skipTest("ip netns needs root")
        ns = f"c1m-sampler-test-{os.getpid()}"
        if subprocess.run(["ip", "netns", "add", ns], stderr=subprocess.DEVNULL).returncode != 0:
            self.skipTest("ip netns add does not work here")
        self.addCleanup(subprocess.run, ["ip", "netns", "del", ns])
        p = self.listener(5, ["ip", "netns", "exec", ns])
        # A fresh namespace holds only the listener's 5 sockets.
        self.assertEqual(pair.Sampler(p.pid, []).sample()[2], 5)

    def test_thread_stops(self):
        p = self.listener(1)
        s = pair.Sampler(p.pid, [], every=0.05)
        s.start()
        s.stop.set()
        s.join(2)
        self.assertFalse(s.is_alive())
        self.assertGreaterEqual(len(s.rows), 1)


if __name__ == "__main__":
    unittest.main()
