"""--restart-at SEC: a server restart inside the measuring window.

SEC into the client's window (the client says "window open" on stderr)
run.sh sends the server SIGTERM, waits for it to exit (the session's grace,
then SIGKILL to that PID only), and starts it again with the same argv (on
the port the first one listened on, when -p 0 let it pick), in the same
namespace. The client runs with -X, so every connection the restart drops
reconnects with backoff and jitter. The result keeps the restart's times
("restart") and the first server's JSON line ("server_before_restart");
"server" is the second server's. The client gets no -P: the first
server's PID is gone (or another process's) when the window closes, so
the summary has no server window figures (rps, CPU) for such a run.

Why an option and not a --workload shape: a workload is what the client
sends (its flags, one table per shape in compare); a restart is something
run.sh does to the server, and it goes with any shape (a restart under
heartbeats is the 1M-phones case).
"""
import os
import re
import subprocess
import threading
import time

from .model import UsageError

_NUM = re.compile(r"[0-9]+(\.[0-9]+)?")
WINDOW_OPEN = re.compile(r": window open\b")
LISTEN_S = 60          # the second server must listen within this


def parse_at(text):
    """'--restart-at' value -> seconds (float); UsageError, one line."""
    if not _NUM.fullmatch(text or ""):
        raise UsageError(f"--restart-at: want seconds >= 0 into the window, not '{text}'")
    return float(text)


def check(at, duration, workloads, extra_c, target, hosts):
    """Refuse what --restart-at cannot go with (UsageError, one line).
    DURATION: -d as typed, or None (the default window, 10 s or more)."""
    window = float(duration) if duration is not None else 10.0
    if at >= window:
        raise UsageError(f"--restart-at {at:g}: outside the {window:g} s window (-d)")
    if target == "compare" or hosts is not None:
        raise UsageError("--restart-at restarts the server of one run here: not with compare or --hosts")
    for w in workloads:
        if w.shape in ("churn", "storm"):
            raise UsageError(f"--restart-at: the client's -X does not combine with --workload {w.name}")
    for x in extra_c:
        if x in ("-x", "--storm") or x.startswith("--storm=") or (x.startswith("-x") and x != "-X"):
            raise UsageError(f"--restart-at: the client's -X does not combine with -C's {x}")


def refused(opts, client_dir):
    """Why this client cannot ride out a restart ("" when it can): 04's,
    the single-loop lesson, has no -X."""
    from . import designs
    if opts.restart_at is None or designs.client_takes(client_dir, ["-X"]):
        return ""
    return f"--restart-at: {client_dir}/client does not take -X (reconnect)"


def client_args(opts):
    """The client's flags for a run that restarts its server."""
    return ["-X"] if opts.restart_at is not None else []


def same_port(argv, port):
    """The server's argv with -p PORT: the port the first one listened on."""
    out = list(argv)
    for i, a in enumerate(out[:-1]):
        if a == "-p":
            out[i + 1] = str(port)
    return out


def summary_line(s):
    """The printed line: '' when the run had no restart."""
    if s.get("restart_at_s") is None:
        return ""
    down, rec = s.get("restart_down_s"), s.get("restart_recovery_s")

    def n(k):
        v = s.get(k)
        return "-" if v is None else "%d" % v
    return ("restart at %g s: server down %s; %s dropped, %s back, %s retries, recovered in %s" % (
        s["restart_at_s"], "-" if down is None else "%.3f s" % down, n("restart_dropped"),
        n("restart_back"), n("restart_retries"), "-" if rec is None else "%.3f s" % rec))


class Restarter(threading.Thread):
    """Waits for the client's window, then SEC more, then restarts the
    pair's server. The client's end first: nothing happens."""

    def __init__(self, pair, client, at):
        super().__init__(daemon=True)
        self.pair, self.client, self.at = pair, client, at
        self.window_open = threading.Event()

    def on_client_line(self, line):
        if WINDOW_OPEN.search(line):
            self.window_open.set()

    def run(self):
        while not self.window_open.wait(0.05):
            if self.client.poll() is not None:
                return
        end = time.monotonic() + self.at
        while time.monotonic() < end:
            if self.client.poll() is not None:
                return
            time.sleep(min(0.02, max(0.0, end - time.monotonic())))
        restart_server(self.pair)


def restart_server(pair):
    """SIGTERM, bounded wait, SIGKILL (this PID only); the JSON it printed;
    the same argv again; fills facts.restart and facts.server_before_restart."""
    r = pair.run
    f, old = r.facts, pair.server
    info = {"at_s": r.opts.restart_at, "server_pid_before": old.pid, "killed": False}
    r.say_out(f"restart: SIGTERM to the server (pid {old.pid}), {r.opts.restart_at:g} s into the window")
    t0 = time.monotonic()
    pair.stop_sampler()
    if old.poll() is None:
        old.terminate()
        try:
            old.wait(timeout=r.session.grace)
        except subprocess.TimeoutExpired:
            r.say_out(f"restart: the server ignored SIGTERM for {r.session.grace} s; killing it")
            old.kill()
            old.wait()
            info["killed"] = True
    info["stop_s"] = round(time.monotonic() - t0, 6)
    info["server_rc_before"] = old.returncode if old.returncode >= 0 else 128 - old.returncode
    for t in pair.tees:
        if t.who == "server":
            t.join(timeout=5)
    path = os.path.join(r.logdir, "server.json")
    from .pair import json_or_null
    f.server_before_restart = json_or_null(path)
    argv = same_port(f.server_argv, pair.port_used)
    info["argv"] = argv
    if not pair.start_server(argv):
        info["down_s"] = None
        f.restart = info
        return
    info["down_s"] = round(time.monotonic() - t0, 6)
    info["server_pid"] = pair.server.pid
    info["done"] = True
    pair.start_sampler()
    r.say_out(f"restart: the server is back (pid {pair.server.pid}) after {info['down_s']:.3f} s")
    f.restart = info
