"""./run.sh: one design at one size (a Run) through its stages, `all`, -n
lists, compare; exit 0 (every run passed), 1 (a run failed), 2 (bad usage
or a size that cannot fit); 130 on Ctrl-C, 143 on SIGTERM.

A Run passes through: build, limits, size, hosts check, auto-netns,
kernel, server, sampler, client (or hosts.run_clients), stop, record,
print. Every process and kernel change it makes is on its Cleanup stack.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from types import SimpleNamespace

from . import cli, designs, hosts, kernel, plan, proc, record, restart, workload
from .fmt import fmt_int as num
from .model import C1M_PORT, Facts, UsageError
from .pair import Pair


def say(msg):
    print(f"run.sh: {msg}", flush=True)


def err(msg):
    print(f"run.sh: {msg}", file=sys.stderr, flush=True)


class Session:
    """What the runs of one ./run.sh share: the options, where results and
    the tuning state go, whether settings are changed now, the summaries."""

    def __init__(self, opts, repo_dir, env=None):
        env = os.environ if env is None else env
        self.opts = opts
        self.repo_dir = repo_dir
        self.results_dir = env.get("RESULTS_DIR") or "results"
        self.tune_state = env.get("C1M_TUNE_STATE") or "/var/tmp/c1m-tune.saved"
        self.can_tune = os.geteuid() == 0 and not opts.no_tune
        self.tuned = False
        self.grace = 30          # s a process gets after TERM; 5 once interrupted
        self.interrupted = False
        self.summaries = []
        self.hosts_plan = hosts.parse(opts) if opts.hosts is not None else None

    def undo_tuning(self):
        if self.tuned:
            self.tuned = False
            kernel.undo(self.tune_state)


class Run:
    """One design at one size."""

    def __init__(self, session, nn, asked=None, tags=None, build=None):
        self.session, self.opts = session, session.opts
        self.nn, self.asked = nn, asked
        self.build = self.opts.build if build is None else build
        self.facts = Facts(nn=nn, asked=asked)
        for k, v in (tags or {}).items():  # compare's set_id, round, rounds, reference, workload
            setattr(self.facts, k, v)
        if self.facts.workload is None:
            self.facts.workload = self.opts.workloads[0] if self.opts.workloads else workload.PINGPONG
        self.cleanup = proc.Cleanup()
        self.lim = None
        self.sizing = None
        self.ns = ""
        self.netns = False
        self.logdir = ""
        self.result_path = None
        self.summary = None

    # helpers the stages share
    def say_out(self, line):
        print(line, flush=True)

    def nsx(self):
        return ["ip", "netns", "exec", self.ns] if self.ns else []

    def ns_prefix(self):
        if self.ns:
            return f"ip netns exec {self.ns} "
        if self.netns:
            return f"ip netns exec c1m-run-{os.getpid()} "
        return ""

    def dirs(self):
        f = self.facts
        f.server_dir, f.client_dir = designs.server_dir(self.nn), designs.client_dir(self.nn)
        if f.workload and f.workload.shape != "pingpong":
            f.client_dir = designs.workload_client_dir(self.nn)
        if self.opts.client_nn:
            f.client_dir = designs.dir_of(self.opts.client_nn)

    def make(self):
        """Build just this pair: another design's broken build does not stop it."""
        f = self.facts
        san = os.environ.get("SAN")
        argv = ["make", "-s"] + ([f"SAN={san}"] if san else []) + [f"{f.server_dir}/server", f"{f.client_dir}/client"]
        sys.stdout.flush()
        if subprocess.run(argv, stdin=subprocess.DEVNULL).returncode != 0:
            err(f"make {f.server_dir}/server {f.client_dir}/client failed")
            return False
        return True

    def built(self):
        for b in (f"{self.facts.server_dir}/server", f"{self.facts.client_dir}/client"):
            if not os.access(b, os.X_OK):
                err(f"{b} is not built (run make)")
                return False
        return True

    def read_limits(self):
        try:
            self.lim = designs.limits(self.facts.server_dir, self.facts.client_dir)
        except designs.LimitsError as e:
            err(str(e))
            return False
        if self.session.hosts_plan and not designs.client_has_barrier(self.facts.client_dir):
            err(f"--hosts: {self.facts.client_dir}/client has no start barrier (-B); the clients that"
                " include 05's have it (every design but 04)")
            return False
        return True

    def workload_refused(self):
        """Why this pair's client cannot run the workload ("" when it can)."""
        w = self.facts.workload
        if w and w.shape == "push" and os.access(f"{self.facts.server_dir}/server", os.X_OK) \
                and not designs.server_pushes(self.facts.server_dir):
            return (f"--workload {w.name}: {self.facts.server_dir}/server does not push: "
                    "no push:1 in its -L line")
        if not w or not w.args or designs.client_takes(self.facts.client_dir, w.args):
            return ""
        return (f"--workload {w.name}: {self.facts.client_dir}/client does not take "
                f"{' '.join(w.args)}")

    def size(self):
        s = self.session
        m = plan.Machine(**kernel.machine_figures(s.can_tune, self.lim.kind == "threads"))
        hp = s.hosts_plan
        return plan.size(self.lim, m, server_dir=self.facts.server_dir, client_dir=self.facts.client_dir,
                         asked=self.asked, quick=self.opts.quick, loops=self.opts.loops,
                         can_tune=s.can_tune, hosts=len(hp.names) if hp else 0,
                         whole_machine=self.opts.whole_machine)

    def go(self):
        """Every stage; 0 passed, 1 failed, 2 refused (cannot fit)."""
        try:
            return self._go()
        finally:
            self.cleanup.run_all()
            if self.logdir:
                shutil.rmtree(self.logdir, ignore_errors=True)

    def _go(self):
        o, f, s = self.opts, self.facts, self.session
        self.dirs()
        if self.build and not o.dry_run and not self.make():
            return 1
        if not self.built() or not self.read_limits():
            return 1
        why = self.workload_refused() or restart.refused(self.opts, self.facts.client_dir)
        if why:
            err(why)
            return 2
        if o.loops and o.loops > self.lim.srv_loops:
            err(f"-c {o.loops}: {f.server_dir}/server runs at most {self.lim.srv_loops} (its -L max_loops)")
            return 2
        f.rate = float(plan.asked_rate(o.extra_c, self.lim.rate_default))
        if o.pin:
            f.pin_server, f.pin_client = plan.pins(o.pin, plan.usable_cpus())
        print(flush=True)
        self.sizing = sz = self.size()
        for line in sz.lines:
            print(line, flush=True)
        if sz.refused:
            for line in sz.refused:
                print(line, file=sys.stderr, flush=True)
            return 2
        f.conns, f.size_cap, f.size_why = sz.conns, sz.cap, sz.why
        if s.hosts_plan and not o.dry_run:
            print(f"hosts: checking {' '.join(s.hosts_plan.names)} for {o.remote_dir}/{f.client_dir}/client",
                  flush=True)
            if not hosts.check(s.hosts_plan, f.client_dir):
                return 1
        port_reserve = o.port or C1M_PORT
        self.netns, lines = kernel.auto_netns(o.netns, f.conns, s.can_tune, s.hosts_plan is not None, o.addr)
        for line in lines:
            print(line, flush=True)
        f.netns = self.netns
        if not self.prepare_kernel(port_reserve, sz.raise_nofile):
            return 1
        self.logdir = tempfile.mkdtemp(prefix="c1m-run.", dir="/tmp")
        if sz.raise_nofile > 0:
            kernel.raise_nofile(sz.raise_nofile)
        f.started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        f.tune_state = s.tune_state
        f.mem_available0_kb = kernel.meminfo("MemAvailable")
        f.slab0_kb = kernel.meminfo("Slab")
        tw0 = kernel.time_wait(self.ns)
        f.tcp_ext0 = kernel.tcp_ext(self.ns)
        f.sysctls = kernel.sysctls(self.ns)
        pair = Pair(self)
        if pair.start_server():
            if not o.dry_run:
                pair.start_sampler()
            if s.hosts_plan:
                self.run_hosts(pair)
            else:
                pair.run_client()
            if not o.dry_run:
                pair.stop_server()
        else:
            pair.stop_server()
        if o.dry_run:
            return 0
        pair.stop_sampler()
        pair.finish()
        f.time_wait_left = kernel.time_wait(self.ns) - tw0
        f.tcp_ext1 = kernel.tcp_ext(self.ns)
        logs = {"server": os.path.join(self.logdir, "server.log"),
                "client": os.path.join(self.logdir, "client.log")}
        for i, name in enumerate(f.host_names):
            logs[f"client-{name}"] = os.path.join(self.logdir, f"client.{i}.log")
        # Processes stopped, settings back, the namespace gone; then the record.
        self.cleanup.run_all()
        return self.record(logs)

    def prepare_kernel(self, port_reserve, raise_to):
        """Apply (or check) the settings; make the namespace. False: stop."""
        o, f, s = self.opts, self.facts, self.session
        args = kernel.tune_args(f.conns, port_reserve, self.lim.kind == "threads", raise_to, self.netns)
        if o.dry_run:
            kernel.check(args, self.netns)
            return True
        if s.can_tune:
            kernel.apply(args, s, self.cleanup)
        elif kernel.check(args, False) != 0:
            print("  (--no-tune or not root: nothing changed; the run may be slower than it could be)", flush=True)
        if self.netns:
            name = f"c1m-run-{os.getpid()}"
            if not kernel.make_netns(name, args, self.cleanup):
                return False
            self.ns = f.netns_name = name
        return True

    def run_hosts(self, pair):
        o, f, s = self.opts, self.facts, self.session
        duration, warmup = plan.window_for(f.conns, o.duration)
        hosts.run_clients(s.hosts_plan, conns=f.conns, addr=o.addr,
                          port=pair.port_used if pair.port_used is not None else o.port,
                          duration=duration, warmup=warmup, interval=o.interval,
                          extra_c=list(f.workload.args) + list(o.extra_c),
                          client_dir=f.client_dir, server_pid=f.server_pid, logdir=self.logdir,
                          cleanup=self.cleanup, dry_run=o.dry_run, facts=f)

    def record(self, logs):
        o, f, s = self.opts, self.facts, self.session
        ncpu = os.cpu_count() or 1
        self.summary = record.summary(f, o, ncpu)
        res = record.result(f, o, self.summary, record.machine(), record.provenance(s.repo_dir))
        os.makedirs(s.results_dir, exist_ok=True)
        self.result_path = record.write(res, s.results_dir, logs)
        s.summaries.append(self.summary)
        rc = 0 if self.summary.get("status") == "ok" else 1
        print(flush=True)
        print(record.table([self.summary]), flush=True)
        wl_line = record.workload_line(self.summary)
        if wl_line:
            print(wl_line, flush=True)
        rs_line = restart.summary_line(self.summary)
        if rs_line:
            print(rs_line, flush=True)
        win = os.path.join(o.perf_dir or "", "window", "window")
        if o.perf_dir and os.path.isfile(win) and os.path.getsize(win) > 0:
            from . import perf
            print(perf.after_run(o.perf_dir, _window_rps(self.summary)), end="", flush=True)
        if f.host_names:
            text = record.hosts_table(f)
            if text:
                print(text, flush=True)
        print(f"result: {self.result_path}", flush=True)
        ext = " ".join(f"{k} {f.tcp_ext1.get(k, 0) - f.tcp_ext0.get(k, 0)}" for k in kernel.TCP_EXT
                       if f.tcp_ext1.get(k, 0) - f.tcp_ext0.get(k, 0) > 0)
        if ext:
            print(f"note: TCP counters during the run: {ext}", flush=True)
        if f.time_wait_left > 1000:
            print(f"note: this run left {num(f.time_wait_left)} more TIME_WAIT sockets (they expire in 60 s)",
                  flush=True)
        if rc:
            err(f"{self.nn} FAILED: client exit {f.client_rc}, server exit {f.server_rc};"
                f" logs in {s.results_dir}/logs/")
            tails = []
            for p in (logs["client"], logs["server"]):
                try:
                    with open(p, errors="replace") as fh:
                        last = fh.read().splitlines()[-3:]
                except OSError:
                    last = []
                tails.append("\n".join([f"==> {p} <=="] + last))
            print("\n\n".join(tails), file=sys.stderr, flush=True)
        return rc


def _window_rps(summary):
    """--perf's rate: the server's window count when it gave one, else the client's."""
    srps = summary.get("server_window_rps")
    return srps if srps not in (None, "") and float(srps) > 0 else summary.get("rps")


def make_env(session):
    """What compare.main needs of a run (interfaces.md)."""
    o = session.opts

    def build(nn):
        if not o.build or o.dry_run:
            return True
        r = Run(session, nn)
        r.dirs()
        return r.make()

    def cap(nn):
        r = Run(session, nn)
        r.dirs()
        if not r.built() or not r.read_limits():
            return None
        sz = r.size()
        return sz.cap, sz.why

    def takes(nn, w):
        """"" when nn's client can run workload w, else why not."""
        r = Run(session, nn, tags={"workload": w})
        r.dirs()
        if not os.access(f"{r.facts.client_dir}/client", os.X_OK):
            return ""  # not built: the run itself says so
        return r.workload_refused().split(": ", 1)[-1]

    def run_one(nn, asked, tags):
        r = Run(session, nn, asked=asked, tags=tags, build=False)
        rc = r.go()
        return rc, r.summary, r.result_path

    return SimpleNamespace(
        valid_designs=designs.valid_designs, dir_of=designs.dir_of, build=build, cap=cap, takes=takes,
        run_one=run_one, estimate=lambda conns: plan.run_estimate(conns, o.duration),
        table=record.table, results_dir=session.results_dir, dry_run=o.dry_run,
        repo_dir=session.repo_dir)


def _runs(session):
    """`all`, one design, each -n of a list; the exit code."""
    o = session.opts
    if o.target == "all":
        nns = designs.valid_designs()
        if not nns:
            say("no design has both a server and a client yet")
            return 1
    else:
        nns = [o.target]
    failed = refused = 0
    for nn in nns:
        if o.target == "all" and o.workloads:
            # `all` with a workload: a design whose client cannot run it is
            # left out (said), not a refusal of the whole set.
            r = Run(session, nn)
            r.dirs()
            if r.build and not o.dry_run and not r.make():
                failed += 1
                continue
            why = r.workload_refused() if os.access(f"{r.facts.client_dir}/client", os.X_OK) else ""
            if why:
                say(f"{nn}: not run: {why.split(': ', 1)[-1]}")
                continue
        for asked in (o.asked or [None]):
            rc = Run(session, nn, asked=asked).go()
            if rc == 2:
                refused += 1
            elif rc:
                failed += 1
    if len(session.summaries) > 1:
        print("\nall runs:", flush=True)
        print(record.table(session.summaries), flush=True)
    if refused:
        return 2
    if o.dry_run:
        return 1 if failed else 0
    if session.summaries:
        print(f"scripts/report regenerates the README table and {session.results_dir}/summary.svg", flush=True)
    return 1 if failed else 0


def main(argv=None, repo_dir=None):
    repo_dir = repo_dir or os.getcwd()
    argv = sys.argv[1:] if argv is None else argv
    try:
        sys.stdout.reconfigure(line_buffering=True)
    except (AttributeError, ValueError):
        pass
    try:
        opts = cli.parse(argv, repo_dir)
    except cli.ShowHelp:
        try:
            print(cli.USAGE, end="", flush=True)
        except BrokenPipeError:  # ./run.sh -h | head: as the Python docs advise
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except UsageError as e:
        print(f"run.sh: {e}\n{cli.SYNOPSIS}", file=sys.stderr, flush=True)
        return 2
    except cli.Refused as e:
        print(f"run.sh: {e}", file=sys.stderr, flush=True)
        return 2
    session = Session(opts, repo_dir)

    def on_signal(signum, _frame):
        if session.interrupted:
            return
        session.interrupted = True
        session.grace = 5
        if signum == signal.SIGINT:
            print()
            say("interrupted; cleaning up")
            raise proc.Interrupted(130)
        raise proc.Interrupted(143)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        if opts.netns == "1" and opts.no_tune:
            say("--netns with --no-tune: the namespace shares this one's TCP hash table")
        if not opts.dry_run:
            os.makedirs(session.results_dir, exist_ok=True)
        if session.can_tune and not opts.dry_run and os.path.isfile(session.tune_state) \
                and os.path.getsize(session.tune_state) > 0:
            say("an earlier run left kernel settings changed; they are put back when this one ends:")
            with open(session.tune_state) as f:
                for line in f.read().splitlines():
                    print(f"  was {line}")
            session.tuned = True
        if opts.target == "compare":
            from . import compare
            return compare.main(opts, make_env(session))
        return _runs(session)
    except proc.Interrupted as e:
        return e.code
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        session.undo_tuning()


if __name__ == "__main__":
    sys.exit(main())
