"""One pair's run on this machine: the server up (it says "listening on
ADDR:PORT"), a sampler thread, the client under `timeout -k 10 TMO`, the
server stopped (TERM, 60 s, KILL). Both programs' stderr goes to the
terminal ("  server| ", "  client| "), to log files and, with its time,
into Facts.progress; their stdout (the JSON line) to LOG/NAME.json.
"""
import json
import os
import re
import subprocess
import sys
import threading
import time

from . import kernel, plan, proc, restart
from .fmt import fmt_int as num

_LISTENING = re.compile(r"listening on [0-9.]*:([0-9]+)")
CLK_TCK = os.sysconf("SC_CLK_TCK")


class Tee(threading.Thread):
    """Copies a program's stderr, line by line, to its log file and to the
    terminal with a prefix, and keeps (monotonic time, who, line)."""

    def __init__(self, pipe, log_path, prefix, who, lines, on_line=None):
        super().__init__(daemon=True)
        self.pipe, self.log_path, self.prefix, self.who = pipe, log_path, prefix, who
        self.lines, self.on_line = lines, on_line

    def run(self):
        with open(self.log_path, "a", encoding="utf-8", errors="replace") as log:
            for raw in iter(self.pipe.readline, b""):
                line = raw.decode("utf-8", errors="replace").rstrip("\n")
                log.write(line + "\n")
                log.flush()
                try:
                    sys.stderr.write(self.prefix + line + "\n")
                    sys.stderr.flush()
                except (OSError, ValueError):
                    pass
                self.lines.append((time.monotonic(), self.who, line))
                if self.on_line:
                    self.on_line(line)
        self.pipe.close()


def _stat_cpu_s(pid):
    """utime + stime of a process, in seconds; 0 when gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return (int(rest[11]) + int(rest[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return []


def _rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


class Sampler(threading.Thread):
    """Every `every` s while the server lives: [mono, slab_kb, tcp_inuse,
    tcp_tw, tcp_mem_pages, server_rss_kb, server_cpu_s, client_cpu_s]. The
    TCP figures come from /proc/SERVER_PID/net/sockstat: the run's
    namespace. mono becomes t_s from the client's start in Pair.finish()."""

    def __init__(self, server_pid, client_pids, every=0.5):
        super().__init__(daemon=True)
        self.server_pid, self.client_pids, self.every = server_pid, client_pids, every
        self.rows, self.stop = [], threading.Event()

    def sample(self):
        pid = self.server_pid
        tcp = kernel.sockstat_tcp(kernel.read(f"/proc/{pid}/net/sockstat"))
        ccpu = 0.0
        for p in list(self.client_pids):  # timeout's; the client is its child
            ccpu += sum(_stat_cpu_s(c) for c in _children(p))
        return [time.monotonic(), kernel.meminfo("Slab"), tcp.get("inuse", 0), tcp.get("tw", 0),
                tcp.get("mem", 0), _rss_kb(pid), _stat_cpu_s(pid), ccpu]

    def run(self):
        while not self.stop.is_set() and os.path.exists(f"/proc/{self.server_pid}"):
            self.rows.append(self.sample())
            self.stop.wait(self.every)


def json_or_null(path):
    """The last line of a file if it is a JSON object, else None."""
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    last = lines[-1] if lines else ""
    if not (last.startswith("{") and last.endswith("}")):
        return None
    try:
        v = json.loads(last)
    except ValueError:
        return None
    return v if isinstance(v, dict) else None


def stat_cpu_line():
    return kernel.read("/proc/stat").split("\n", 1)[0]


class Pair:
    """One server and its client(s) on this machine, for one Run."""

    def __init__(self, run):
        self.run = run            # run.Run: opts, facts, lim, logdir, ns, cleanup, session
        self.server = None
        self.lines = []           # (mono, who, line) of both programs' stderr
        self.port_used = None
        self.listening = threading.Event()
        self.sampler = None
        self.client_t0_mono = None
        self.tees = []

    # ---- the server ----

    def _on_server_line(self, line):
        m = _LISTENING.search(line)
        if m and not self.listening.is_set():
            self.port_used = int(m.group(1))
            self.listening.set()

    def server_argv(self):
        r, o = self.run, self.run.opts
        argv = ["taskset", "-c", r.facts.pin_server] if r.facts.pin_server else []
        argv += [f"./{r.facts.server_dir}/server", "-p", str(o.port), "-i", o.interval] + o.extra_s
        # A push workload's server flags (-b SEC | -R RATE, -l BYTES).
        wl = r.facts.workload
        argv += list(getattr(wl, "server_args", ()) or ())
        if o.addr:
            argv += ["-a", o.addr]
        if r.lim.server_n:
            argv += ["-n", str(r.facts.conns)]
        if o.loops:
            argv += ["-c", str(o.loops)]
        return argv

    def start_server(self, again=None):
        """Start the server and wait until it listens; False (said why) if not.
        AGAIN: the argv to start it with once more (--restart-at)."""
        r = self.run
        argv = again or self.server_argv()
        if again is None:
            r.facts.server_argv = argv
            r.facts.server_line = r.ns_prefix() + " ".join(argv)
            r.say_out(f"server: {r.facts.server_line}")
        if r.opts.dry_run:
            return True
        log = os.path.join(r.logdir, "server.log")
        first = self.server is None
        self.listening.clear()
        with open(os.path.join(r.logdir, "server.json"), "w") as out:
            self.server = proc.bkg(r.nsx() + argv, stdout=out, stderr=subprocess.PIPE)
        if first:
            r.cleanup.defer(self._kill_server)
        r.facts.server_pid = self.server.pid
        tee = Tee(self.server.stderr, log, "  server| ", "server", self.lines, self._on_server_line)
        tee.start()
        self.tees.append(tee)
        r.say_out(f"  (server pid {self.server.pid})")
        for _ in range(300):
            if self.listening.wait(0.1):
                return True
            if self.server.poll() is not None:
                break
        time.sleep(0.2)
        print(f"run.sh: the server did not start listening: {_last_line(log)}", file=sys.stderr, flush=True)
        return False

    def _kill_server(self):
        if self.server is not None:
            proc.stop_proc(self.server, grace_s=self.run.session.grace)

    def stop_server(self):
        """TERM, up to 60 s, then KILL; sets facts.server_rc."""
        f = self.run.facts
        f.server_rc = 1
        if self.server is None:
            return
        if self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                print("run.sh: the server ignored SIGTERM for 60 s; killing it", file=sys.stderr, flush=True)
                self.server.kill()
                self.server.wait()
        f.server_rc = proc.shell_rc(self.server.returncode)
        for t in self.tees:
            t.join(timeout=5)

    # ---- the sampler ----

    def start_sampler(self):
        first = self.sampler is None
        rows = [] if first else self.sampler.rows  # --restart-at: one series
        self.sampler = Sampler(self.server.pid, self.run.facts.client_pids)
        self.sampler.rows = rows
        self.sampler.start()
        if first:
            self.run.cleanup.defer(self.stop_sampler)

    def stop_sampler(self):
        if self.sampler is not None:
            self.sampler.stop.set()
            self.sampler.join(timeout=2)

    # ---- the client ----

    def client_argv(self, duration, warmup):
        r, o = self.run, self.run.opts
        argv = ["taskset", "-c", r.facts.pin_client] if r.facts.pin_client else []
        port = self.port_used if self.port_used is not None else o.port
        argv += [f"./{r.facts.client_dir}/client", "-p", str(port), "-n", str(r.facts.conns),
                 "-d", duration, "-i", o.interval] + restart.client_args(o)
        if o.addr:
            argv += ["-a", o.addr]
        # The server's PID: the client marks its window on it (SIGUSR1).
        # Not across --restart-at: the first server's PID is gone (or reused)
        # when the window closes.
        if r.lim.client_p and o.restart_at is None:
            argv += ["-P", str(self.server.pid) if self.server else "SERVER_PID"]
        if warmup:
            argv += ["-W", str(warmup)]
        # The workload's flags (--workload), then -C's words as typed.
        wl = r.facts.workload
        return argv + list(wl.args if wl else ()) + o.extra_c

    def run_client(self):
        """Run the client to its end; fills client_rc, client_wall_s, stat0/1."""
        r, f = self.run, self.run.facts
        duration, warmup = plan.window_for(f.conns, r.opts.duration)
        if warmup:
            r.say_out(f"measuring {duration} s after a {warmup} s warm-up: at {num(f.conns)} connections"
                      " one round trip on each takes seconds")
        argv = self.client_argv(duration, warmup)
        f.client_argvs = [argv]
        f.client_line = r.ns_prefix() + " ".join(argv)
        r.say_out(f"client: {f.client_line}")
        if r.opts.dry_run:
            return
        tmo = plan.client_timeout(f.conns, duration, warmup)
        log = os.path.join(r.logdir, "client.log")
        pidfile = os.path.join(r.logdir, "client.pid")
        open(log, "a").close()
        perf = None
        if r.opts.perf_dir:
            # Its ramp recording is on before the client starts (perf takes
            # seconds to start; a 1K ramp is over in 0.1 s), or there is none.
            perf = proc.bkg(["scripts/perf-window.sh", log, pidfile, str(warmup), duration, r.opts.perf_dir])
            h = r.cleanup.defer(proc.stop_proc, perf, grace_s=5)
            ready = os.path.join(r.opts.perf_dir, "ramp", "ready")
            while not os.path.exists(ready) and perf.poll() is None:
                time.sleep(0.1)
        f.client_t0_wall_us = time.time_ns() // 1000
        self.client_t0_mono = time.monotonic()
        f.stat0 = stat_cpu_line()
        with open(os.path.join(r.logdir, "client.json"), "w") as out:
            client = proc.bkg(["timeout", "-k", "10", str(tmo)] + r.nsx() + argv,
                              stdout=out, stderr=subprocess.PIPE)
        ch = r.cleanup.defer(lambda: proc.stop_proc(client, grace_s=r.session.grace))
        with open(pidfile, "w") as pf:
            pf.write(f"{client.pid}\n")
        f.client_pids.append(client.pid)
        restarter = restart.Restarter(self, client, r.opts.restart_at) \
            if r.opts.restart_at is not None else None
        tee = Tee(client.stderr, log, "  client| ", "client", self.lines,
                  restarter.on_client_line if restarter else None)
        tee.start()
        r.say_out(f"  (client pid {client.pid})")
        if restarter:
            restarter.start()
        client.wait()
        tee.join(timeout=5)
        if restarter:
            restarter.join()    # bounded: the grace, then LISTEN_S
        r.cleanup.cancel(ch)
        f.client_rc = proc.shell_rc(client.returncode)
        if perf is not None:
            if perf.wait() != 0:
                print("run.sh: no profile: perf-window.sh failed (above)", file=sys.stderr, flush=True)
            r.cleanup.cancel(h)
        f.stat1 = stat_cpu_line()
        f.client_wall_s = round((time.time_ns() // 1000 - f.client_t0_wall_us) / 1e6, 3)
        if f.client_rc == 124:
            print(f"run.sh: the client ran past {tmo}s and was stopped", file=sys.stderr, flush=True)

    # ---- after ----

    def finish(self):
        """The programs' JSON lines, the samples and the progress lines into
        Facts (times from the client's start)."""
        r, f = self.run, self.run.facts
        t0 = self.client_t0_mono
        if t0 is None:
            t0 = self.lines[0][0] if self.lines else time.monotonic()
        if f.client is None:
            f.client = json_or_null(os.path.join(r.logdir, "client.json"))
        f.server = json_or_null(os.path.join(r.logdir, "server.json"))
        if self.sampler is not None:
            f.samples = [[row[0] - t0] + row[1:] for row in self.sampler.rows]
        f.progress += [{"t_s": round(t - t0, 6), "who": who, "line": line} for t, who, line in self.lines]
        for name in ("server.log", "client.log"):
            open(os.path.join(r.logdir, name), "a").close()


def _last_line(path):
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
        return lines[-1] if lines else ""
    except OSError:
        return ""
