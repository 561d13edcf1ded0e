"""scripts/c1m/hosts.py's pure parts: --hosts parsed and refused as run.sh's
parse_hosts did, shq() as a POSIX shell reads it back, the share split,
the per-host command lines (ssh: one string; any other prefix: sh -c).

run: python3 tests/py/test_hosts.py  (tests/merge.cases: merge-py-hosts)
"""
import os
import subprocess
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from c1m import hosts  # noqa: E402
from c1m.model import Facts, Options, UsageError  # noqa: E402


def opts(**kw):
    base = dict(target="06", hosts="a,b", addr="198.18.0.1", via="ssh -o BatchMode=yes",
                netns="auto")
    base.update(kw)
    return Options(**base)


class Parse(unittest.TestCase):
    def test_hosts_and_sources(self):
        p = hosts.parse(opts(hosts="c1=198.18.1.1-198.18.1.50, c2 ,u@h.example:22"), repo_dir="/r")
        self.assertEqual(p.names, ["c1", "c2", "u@h.example:22"])
        self.assertEqual(p.sources, ["198.18.1.1-198.18.1.50", "", ""])
        self.assertEqual((p.via_words, p.via_ssh, p.remote_dir), (["ssh", "-o", "BatchMode=yes"], True, "/r"))
        p = hosts.parse(opts(via="ip netns exec", remote_dir="/srv/c1m"))
        self.assertEqual((p.via_words, p.via_ssh, p.remote_dir), (["ip", "netns", "exec"], False, "/srv/c1m"))

    def test_refused_with_one_line(self):
        for kw, want in ((dict(addr=""), "--hosts needs -a ADDR"),
                         (dict(netns="1"), "--netns puts both ends in one namespace here: pick one"),
                         (dict(pin="0:1"), "with --hosts the clients are elsewhere"),
                         (dict(hosts="a=1.2.3,b"), "--hosts: a=1.2.3: want source addresses FIRST[-LAST]"),
                         (dict(hosts="a b;c"), "--hosts: 'b;c' is not a host name"),
                         (dict(hosts=" , "), "--hosts: want at least one host"),
                         (dict(via="no-such-cmd x"), "--via: no command 'no-such-cmd' here"),
                         (dict(via="  "), "--via: want a command prefix"),
                         (dict(remote_dir="rel/dir"), "--remote-dir: want an absolute path"),
                         (dict(target="compare"), "not compare")):
            with self.assertRaises(UsageError) as e:
                hosts.parse(opts(**kw))
            self.assertIn(want, str(e.exception), kw)
            self.assertNotIn("\n", str(e.exception))
        hosts.parse(opts(netns="0"))          # --no-netns goes with --hosts


class Quoting(unittest.TestCase):
    def test_shq_reads_back(self):
        for w in ("plain", "-d", "/a/b_c.d:1=2,3@4+5", "", "two words", "it's", "'", "$HOME", "a\nb",
                  "`x`", "*", "\\", "\"q\""):
            q = hosts.shq(w)
            got = subprocess.run(["sh", "-c", "printf %s " + q], capture_output=True, text=True).stdout
            self.assertEqual(got, w, q)
        self.assertEqual(hosts.shq("plain/x"), "plain/x")
        self.assertEqual(hosts.shq("it's"), "'it'\\''s'")

    def test_host_cmd(self):
        ssh = hosts.HostsPlan(["h"], [""], ["ssh", "-p", "22"], True, "/r")
        ns = hosts.HostsPlan(["h"], [""], ["ip", "netns", "exec"], False, "/r")
        self.assertEqual(hosts.host_cmd(ssh, "h", "cd /r && exec x"), ["ssh", "-p", "22", "h", "cd /r && exec x"])
        self.assertEqual(hosts.host_cmd(ns, "h", "cd /r && exec x"),
                         ["ip", "netns", "exec", "h", "sh", "-c", "cd /r && exec x"])


class Shares(unittest.TestCase):
    def test_split(self):
        self.assertEqual(hosts.shares(4000, 2), [2000, 2000])
        self.assertEqual(hosts.shares(10, 3), [3, 3, 4])
        self.assertEqual(hosts.shares(1000001, 4), [250000, 250000, 250000, 250001])
        for c, n in ((7, 7), (1, 3), (999, 10)):
            self.assertEqual(sum(hosts.shares(c, n)), c)
            self.assertLessEqual(max(hosts.shares(c, n)) - min(hosts.shares(c, n)), 1)

    def test_timeout(self):
        # 1M: 200 s of ramp, 600 s of first round (capped), 30 + 62 s of window, a minute.
        self.assertEqual(hosts.barrier_timeout(1000000, "30", 62), 200 + 600 + 30 + 62 + 60)
        self.assertEqual(hosts.barrier_timeout(4000, "2.5", 0), 0 + 20 + 2 + 0 + 60)


class DryRun(unittest.TestCase):
    def test_commands(self):
        import contextlib
        import io
        plan = hosts.HostsPlan(["c1", "c2"], ["198.18.1.1", ""], ["ssh", "-o", "BatchMode=yes"], True,
                               "/home/x/c1m dir")
        f = Facts()
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            hosts.run_clients(plan, conns=60001, addr="198.18.0.1", port=8972, duration="10", warmup=3,
                              interval="5", extra_c=["-r", "100"], client_dir="05_multi_epoll_client",
                              server_pid=0, logdir="/nonexistent", cleanup=None, dry_run=True, facts=f)
        inner = ("cd '/home/x/c1m dir' && exec ./05_multi_epoll_client/client -a 198.18.0.1 -p 8972 "
                 "-n 30000 -d 10 -i 5 -B -W 3 -s 198.18.1.1 -r 100")
        self.assertEqual(f.client_argvs[0], ["ssh", "-o", "BatchMode=yes", "c1", inner])
        self.assertIn("-n 30001", f.client_argvs[1][-1])
        self.assertNotIn("-s", f.client_argvs[1][-1].split())
        lines = out.getvalue().splitlines()
        self.assertEqual(lines[0], "client on c1: ssh -o BatchMode=yes c1 " + hosts.shq(inner))
        # 30,001 connections from one address: more than a port range holds.
        self.assertEqual(lines[2], "  note: 30,001 connections from one source address need more ports "
                                   "than a default range (28,232) holds: give c2=FIRST-LAST")
        self.assertEqual(f.client_line.count(" ; "), 1)
        self.assertEqual(f.host_names, ["c1", "c2"])


if __name__ == "__main__":
    unittest.main()
