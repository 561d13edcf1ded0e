"""./run.sh end to end over a fake pair (shell scripts in a copy of the
tree): SIGTERM -> 143 with nothing left running; an earlier run's kernel
settings put back when this run ends."""
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LIMITS_S = ('{"design":"03_fake","fd_tables":"many","fd_limit":1000,"table_cap":900,"max_loops":3,'
            '"thread_per_conn":0,"target":5000}')
LIMITS_C = ('{"design":"03_fake","fd_tables":"one","fd_limit":1000,"table_cap":990,"max_loops":1,'
            '"thread_per_conn":0,"target":100,"per_src":100,"rate":0}')
SERVER = """#!/bin/sh
case "$*" in *-L*) echo '%s'; exit 0 ;; esac
trap 'echo "{\\"design\\":\\"03_fake\\"}"; exit 0' TERM
echo "03_fake/server: listening on 127.0.0.1:8972" >&2
while :; do sleep 0.05; done
""" % LIMITS_S
CLIENT = """#!/bin/sh
case "$*" in *-L*) echo '%s'; exit 0 ;; esac
echo "client up" >&2
exec sleep 60
""" % LIMITS_C


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


class EndToEnd(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="c1m-test-run.")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        t = self.tree = os.path.join(self.tmp, "tree")
        os.makedirs(os.path.join(t, "03_fake"))
        shutil.copy(os.path.join(ROOT, "run.sh"), t)
        shutil.copytree(os.path.join(ROOT, "scripts"), os.path.join(t, "scripts"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        for name, text in (("server", SERVER), ("client", CLIENT)):
            open(os.path.join(t, "03_fake", name + ".c"), "w").close()
            p = os.path.join(t, "03_fake", name)
            with open(p, "w") as f:
                f.write(text)
            os.chmod(p, 0o755)
        self.env = dict(os.environ, RESULTS_DIR=os.path.join(self.tmp, "results"),
                        C1M_TUNE_STATE=os.path.join(self.tmp, "tune.saved"))

    def start(self, *args):
        path = os.path.join(self.tmp, "out")
        with open(path, "w") as out:  # run.sh's own fd: its offset is not ours to move
            p = subprocess.Popen([os.path.join(self.tree, "run.sh"), "03", "-n", "10", "-d", "30", "-p", "0",
                                  "--no-build", "--no-netns"] + list(args),
                                 stdout=out, stderr=subprocess.STDOUT, env=self.env)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        return p, path

    @staticmethod
    def read(path):
        with open(path) as f:
            return f.read()

    def wait_for(self, path, text, secs=20):
        for _ in range(secs * 20):
            data = self.read(path)
            if text in data:
                return data
            time.sleep(0.05)
        self.fail(f"no {text!r} in: {data}")

    def test_sigterm(self):
        p, out = self.start("--no-tune")
        data = self.wait_for(out, "client up")
        spid = int(data.split("(server pid ")[1].split(")")[0])
        cpid = int(data.split("(client pid ")[1].split(")")[0])
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=20), 143)
        for pid in (spid, cpid):
            self.assertFalse(alive(pid), f"pid {pid} left running")
        self.assertFalse(glob.glob(os.path.join(self.env["RESULTS_DIR"], "03-*.json")), "an interrupted run was recorded")

    def test_earlier_run_put_back(self):
        if os.geteuid() != 0:
            self.skipTest("tuning is for root")
        root = os.path.join(self.tmp, "sys")
        os.makedirs(os.path.join(root, "net", "core"))
        with open(os.path.join(root, "net", "core", "somaxconn"), "w") as f:
            f.write("4096\n")
        with open(self.env["C1M_TUNE_STATE"], "w") as f:
            f.write("net.core.somaxconn\t100\n")
        self.env["C1M_SYSCTL_ROOT"] = root
        p, out = self.start("-d", "1")
        self.wait_for(out, "client up")
        p.send_signal(signal.SIGINT)
        self.assertEqual(p.wait(timeout=20), 130)
        data = self.read(out)
        self.assertIn("run.sh: an earlier run left kernel settings changed", data)
        self.assertIn("  was net.core.somaxconn\t100", data)
        self.assertIn("interrupted; cleaning up", data)
        with open(os.path.join(root, "net", "core", "somaxconn")) as f:
            self.assertEqual(f.read().strip(), "100")
        self.assertFalse(os.path.exists(self.env["C1M_TUNE_STATE"]))


if __name__ == "__main__":
    unittest.main()
