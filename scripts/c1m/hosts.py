"""--hosts: the clients on several hosts at once, through one start barrier.

parse() checks --hosts/--via/--remote-dir; check() asks every host whether
it has the client, built with -B; run_clients() starts each host's client
behind the barrier, says "go" to all at once, marks the server's window and
merges the clients' lines (merge.py) into the one line the record reads.

The barrier: each client runs with -B. Once its connections are up and
have answered once, it says "barrier: ready" on stderr and waits, load
running, for "go" on stdin. Its stdin is a pipe this process holds, one per
host (Popen closes every other descriptor in its children, so no client
holds another's pipe): writing "go" to all starts every window together;
closing a pipe gives that client EOF, which stops it (a failed host stops
the others so, at once). The same works over ssh, whose stdin is the remote
client's. The server's window is marked as a client's -P would mark it:
SIGUSR1 at go + warm-up and at go + warm-up + duration, timed with
time.monotonic().
"""
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import List

from . import merge
from .fmt import fmt_int
from .model import UsageError

HOST_RE = re.compile(r"^[A-Za-z0-9_.@:-]+$")
SRC_RE = re.compile(r"^[0-9]{1,3}(\.[0-9]{1,3}){3}(-[0-9]{1,3}(\.[0-9]{1,3}){3})?$")
PLAIN_RE = re.compile(r"^[A-Za-z0-9_./:=,@+-]+$")
PORTS_ONE_SOURCE = 28000     # above this, one source address runs short of ports
STOP_GRACE_S = 10            # after TERM, before KILL (timeout -k 10 before)


@dataclass
class HostsPlan:
    """--hosts as parsed: host i is names[i], its source addresses
    sources[i] ("" = the host's own); via_words the command prefix that
    reaches a host; via_ssh when that prefix is ssh (the command then goes
    as one string for the remote shell)."""
    names: List[str] = field(default_factory=list)
    sources: List[str] = field(default_factory=list)
    via_words: List[str] = field(default_factory=list)
    via_ssh: bool = False
    remote_dir: str = ""


def parse(opts, repo_dir=None):
    """The HostsPlan of opts.hosts; UsageError (one line) as run.sh's
    parse_hosts. remote_dir is --remote-dir, else repo_dir (default: here)."""
    names, sources = [], []
    for h in (opts.hosts or "").replace(",", " ").split():
        name, _, src = h.partition("=")
        if not HOST_RE.match(name):
            raise UsageError("--hosts: '%s' is not a host name" % name)
        if src and not SRC_RE.match(src):
            raise UsageError("--hosts: %s=%s: want source addresses FIRST[-LAST], e.g. "
                             "%s=198.18.1.1-198.18.1.50" % (name, src, name))
        names.append(name)
        sources.append(src)
    if not names:
        raise UsageError("--hosts: want at least one host")
    if not opts.addr:
        raise UsageError("--hosts needs -a ADDR: the server's address, as the hosts reach it")
    if opts.netns == "1":
        raise UsageError("--hosts runs the clients on other hosts; --netns puts both ends in one "
                         "namespace here: pick one")
    if opts.pin:
        raise UsageError("--pin places both ends on this machine's CPUs; with --hosts the clients "
                         "are elsewhere")
    if opts.target == "compare":
        raise UsageError("--hosts is for one design (or all), not compare")
    via = opts.via.split()
    if not via:
        raise UsageError("--via: want a command prefix, e.g. 'ip netns exec'")
    if not shutil.which(via[0]):
        raise UsageError("--via: no command '%s' here" % via[0])
    remote = opts.remote_dir or repo_dir or os.getcwd()
    if not remote.startswith("/"):
        raise UsageError("--remote-dir: want an absolute path, not '%s'" % remote)
    return HostsPlan(names, sources, via, os.path.basename(via[0]) == "ssh", remote)


def shq(word):
    """A word as a POSIX shell on the host reads it: as is when plain, else
    'quoted' (a ' inside as '\\'')."""
    if PLAIN_RE.match(word):
        return word
    return "'" + word.replace("'", "'\\''") + "'"


def host_cmd(plan, host, script):
    """The argv that runs shell command `script` on host: an ssh-like prefix
    gets it as one string (the remote shell parses it), any other as sh -c."""
    if plan.via_ssh:
        return plan.via_words + [host, script]
    return plan.via_words + [host, "sh", "-c", script]


def shares(conns, n):
    """conns split over n hosts as evenly as integers go, in host order."""
    return [conns * (i + 1) // n - conns * i // n for i in range(n)]


def check(plan, client_dir):
    """Before anything starts: every host answers, has the client built under
    remote_dir, and that client knows -B. Prints each host's problem on
    stderr ("run.sh: host H: ..."); True when there is none."""
    d = plan.remote_dir
    client = "%s/%s/client" % (d, client_dir)
    script = ("cd %s 2>/dev/null || { echo %s; exit 3; }\n"
              "[ -x ./%s/client ] || { echo %s; exit 3; }\n"
              "./%s/client -B -L >/dev/null 2>&1 || { echo %s; exit 3; }\n"
              "echo ok" % (
                  shq(d), shq("no directory " + d),
                  client_dir, shq("no %s: build it there (make %s/client)" % (client, client_dir)),
                  client_dir, shq("%s has no -B (built before the start barrier): rebuild it there"
                                  % client)))
    good = True
    for h in plan.names:
        try:
            p = subprocess.run(host_cmd(plan, h, script), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30,
                               universal_newlines=True, errors="replace")
            out, rc = p.stdout.rstrip("\n"), p.returncode
        except subprocess.TimeoutExpired:
            out, rc = "no answer in 30 s", 124
        except OSError as e:
            out, rc = str(e), 127
        if rc != 0 or out.split("\n")[-1] != "ok":
            print("run.sh: host %s: %s (via: %s)" % (h, out.replace("\n", "; "),
                                                    " ".join(plan.via_words)),
                  file=_stderr(), flush=True)
            good = False
    return good


def client_argv(client_dir, addr, port, share, duration, interval, warmup, source, extra_c):
    """The client's own argv on a host (relative to remote_dir)."""
    args = ["./%s/client" % client_dir, "-a", addr, "-p", str(port), "-n", str(share),
            "-d", str(duration), "-i", str(interval), "-B"]
    if warmup:
        args += ["-W", str(warmup)]
    if source:
        args += ["-s", source]
    return args + list(extra_c)


def barrier_timeout(conns, duration, warmup):
    """Seconds the whole run may take, from the clients' start: the ramp
    (5,000 connections/s), the first round (conns / 200 s, at most 600),
    the window and a minute."""
    first = min(conns // 200, 600)
    return conns // 5000 + first + int(float(duration)) + int(float(warmup)) + 60


def _stderr():
    """sys.stderr as it is now (a test may have replaced it)."""
    return sys.stderr


def _stop_client(p, grace_s=STOP_GRACE_S):
    """Stop one host's client: EOF on its stdin (it stops and prints its
    line), then TERM, then KILL. Returns its exit code."""
    try:
        if p.stdin and not p.stdin.closed:
            p.stdin.close()
    except OSError:
        pass
    for sig, wait_s in ((None, 1), (signal.SIGTERM, grace_s), (signal.SIGKILL, None)):
        if sig is not None and p.poll() is None:
            try:
                p.send_signal(sig)
            except ProcessLookupError:
                pass
        try:
            return p.wait(wait_s)
        except subprocess.TimeoutExpired:
            continue
    return p.wait()


def _proc_stat_cpu():
    with open("/proc/stat") as f:
        return f.readline().rstrip("\n")


def run_clients(plan, *, conns, addr, port, duration, warmup, interval, extra_c, client_dir,
                server_pid, logdir, cleanup, dry_run, facts):
    """Each host's client behind the start barrier; see the module's doc.
    Prints the per-host commands; unless dry_run runs them and fills facts
    (client_rc, client_wall_s, stat0, stat1, client, clients, host_names,
    client_line, client_argvs, client_pids, client_t0_wall_us, progress).
    Every process it starts is on `cleanup` until it has ended."""
    n = len(plan.names)
    lines, argvs = [], []
    for h, src, share in zip(plan.names, plan.sources, shares(conns, n)):
        args = client_argv(client_dir, addr, port, share, duration, interval, warmup, src, extra_c)
        inner = "cd %s && exec" % shq(plan.remote_dir) + "".join(" " + shq(a) for a in args)
        argvs.append(host_cmd(plan, h, inner))
        line = "%s %s %s" % (" ".join(plan.via_words), h,
                             shq(inner) if plan.via_ssh else "sh -c " + shq(inner))
        lines.append(line)
        print("client on %s: %s" % (h, line), flush=True)
        if share > PORTS_ONE_SOURCE and not src:
            print("  note: %s connections from one source address need more ports than a default "
                  "range (28,232) holds: give %s=FIRST-LAST" % (fmt_int(share), h), flush=True)
    facts.host_names = list(plan.names)
    facts.client_argvs = argvs
    facts.client_line = " ; ".join(lines)
    if dry_run:
        return
    _run(plan, argvs, conns=conns, duration=duration, warmup=warmup, server_pid=server_pid,
         logdir=logdir, cleanup=cleanup, facts=facts)


class _Host:
    """One host's client while it runs (the state of one call, not of the module)."""

    def __init__(self, i, name, p, log):
        self.i, self.name, self.p, self.log = i, name, p, log
        self.ready = False
        self.rc = None
        self.last = ""
        self.buf = b""
        self.eof = False
        self.timed_out = False


def _run(plan, argvs, *, conns, duration, warmup, server_pid, logdir, cleanup, facts):
    n = len(argvs)
    tmo = barrier_timeout(conns, duration, warmup)
    hosts = []
    sel = selectors.DefaultSelector()
    facts.client_t0_wall_us = time.time_ns() // 1000
    t0 = time.monotonic()
    facts.stat0 = _proc_stat_cpu()
    facts.client_rc = 0
    facts.progress = []
    handles = []
    try:
        for i, (h, argv) in enumerate(zip(plan.names, argvs)):
            out = open(os.path.join(logdir, "client.%d.json" % i), "wb")
            log = open(os.path.join(logdir, "client.%d.log" % i), "wb")
            try:
                p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out,
                                     stderr=subprocess.PIPE)
            finally:
                out.close()
            hosts.append(_Host(i, h, p, log))
            handles.append(cleanup.defer(_stop_client, p))
            os.set_blocking(p.stderr.fileno(), False)
            sel.register(p.stderr, selectors.EVENT_READ, hosts[-1])
        facts.client_pids = [x.p.pid for x in hosts]
        print("  (client pids %s; waiting until every host is connected and answered once)"
              % " ".join(str(x.p.pid) for x in hosts), flush=True)

        # The barrier: every host ready, or one gone, or the time up.
        deadline = t0 + tmo
        while True:
            _pump(sel, hosts, t0, facts, min(0.2, max(0.0, deadline - time.monotonic())))
            for x in hosts:
                if not x.ready and x.rc is not None and not facts.client_rc:
                    print("run.sh: the client on %s ended before the start barrier: %s"
                          % (x.name, x.last), file=_stderr(), flush=True)
                    facts.client_rc = 1
            ready = sum(x.ready for x in hosts)
            if ready == n or facts.client_rc:
                break
            if time.monotonic() >= deadline:
                print("run.sh: %d of %d hosts were ready after %ds; giving up" % (ready, n, tmo),
                      file=_stderr(), flush=True)
                facts.client_rc = 124
                break

        marks = []
        if not facts.client_rc:
            for x in hosts:
                _say(x.p, b"go\n")
            go = time.monotonic()
            print("run.sh: all %d hosts ready; go" % n, flush=True)
            w, d = float(warmup), float(duration)
            marks = [go + w, go + w + d]
        else:
            _close_all(hosts)

        # Every client to its end; the server's window marked on the way. A
        # client that fails stops the others: their stdin's EOF ends them.
        stopping = None          # monotonic time the clients were told to stop
        done = set()             # hosts whose end has been judged
        while len(done) < n:
            now = time.monotonic()
            while marks and now >= marks[0]:
                marks.pop(0)
                _mark(server_pid)
            if now >= deadline and stopping is None:
                stopping = now           # past the time allowed, as timeout(1) did
                for x in hosts:
                    if x.rc is None:
                        x.timed_out = True
                        x.p.send_signal(signal.SIGTERM)
            if stopping is not None and now >= stopping + STOP_GRACE_S:
                for x in hosts:
                    if x.rc is None:
                        x.p.kill()
            for x in hosts:
                if x.rc is None or x.i in done:
                    continue
                done.add(x.i)
                cleanup.cancel(handles[x.i])
                rc = 124 if x.timed_out else x.rc
                if rc == 0:
                    continue
                left = n - len(done)
                open_pipes = any(not y.p.stdin.closed for y in hosts)
                print("run.sh: the client on %s exited %d%s" % (
                    x.name, rc, "; stopping the others" if open_pipes and left else ""),
                    file=_stderr(), flush=True)
                if not facts.client_rc:
                    facts.client_rc = rc
                _close_all(hosts)
                marks = []
            if len(done) == n:
                break
            wait = min(0.2, marks[0] - now) if marks else 0.2
            _pump(sel, hosts, t0, facts, max(0.0, wait))
    finally:
        sel.close()
        for x in hosts:
            x.log.close()
            if x.p.stderr:
                x.p.stderr.close()
        _close_all(hosts)
    facts.stat1 = _proc_stat_cpu()
    facts.client_wall_s = time.monotonic() - t0
    _gather(logdir, hosts, facts)


def _mark(server_pid):
    """SIGUSR1 to the server: its window opens, or closes (as -P does)."""
    if server_pid > 0:
        try:
            os.kill(server_pid, signal.SIGUSR1)
        except ProcessLookupError:
            pass


def _say(p, data):
    try:
        p.stdin.write(data)
        p.stdin.flush()
    except (BrokenPipeError, OSError):
        pass


def _close_all(hosts):
    for x in hosts:
        try:
            if not x.p.stdin.closed:
                x.p.stdin.close()
        except OSError:
            pass


def _pump(sel, hosts, t0, facts, timeout):
    """Read what the clients say on stderr, waiting up to `timeout` s; reap
    the clients that have ended (after reading all they said)."""
    for key, _ in sel.select(timeout):
        _read(sel, key.data, t0, facts)
    for x in hosts:
        if x.rc is None and x.p.poll() is not None:
            while not x.eof and _read(sel, x, t0, facts):
                pass
            rc = x.p.returncode
            x.rc = rc if rc >= 0 else 128 - rc      # killed by signal N: 128 + N, as a shell says
    _stderr().flush()


def _read(sel, x, t0, facts):
    """One read of client x's stderr pipe; False when nothing more is there
    now (EOF, or a child of it still holds the pipe)."""
    try:
        data = os.read(x.p.stderr.fileno(), 65536)
    except BlockingIOError:
        return False
    if not data:
        sel.unregister(x.p.stderr)
        x.eof = True
        if x.buf:
            _line(x, x.buf, t0, facts)
            x.buf = b""
        return False
    x.log.write(data)
    x.log.flush()
    x.buf += data
    *done, x.buf = x.buf.split(b"\n")
    for raw in done:
        _line(x, raw, t0, facts)
    return True


def _line(x, raw, t0, facts):
    """One line a client said: on our stderr as "  HOST| line", into
    facts.progress; "barrier: ready" marks its host ready."""
    line = raw.decode("utf-8", "replace")
    x.last = line
    if line.startswith("barrier: ready"):
        x.ready = True
    facts.progress.append({"t_s": time.monotonic() - t0, "who": "client@" + x.name, "line": line})
    _stderr().write("  %s| %s\n" % (x.name, line))


def _gather(logdir, hosts, facts):
    """client.log (every host's stderr), each host's JSON line, and the merge
    in client.json (empty, and client_rc 1, when the lines do not merge)."""
    with open(os.path.join(logdir, "client.log"), "wb") as out:
        for x in hosts:
            with open(os.path.join(logdir, "client.%d.log" % x.i), "rb") as f:
                out.write(f.read())
    paths = [os.path.join(logdir, "client.%d.json" % x.i) for x in hosts]
    facts.clients = []
    for p in paths:
        try:
            facts.clients.append(merge.parse_line(p, merge.last_json_line(p)))
        except merge.MergeError:
            facts.clients.append(None)
    warnings = []
    try:
        m = merge.merge_files(paths, warnings)
    except merge.MergeError as e:
        print("run.sh: %s: %s" % (merge.PROG, e), file=_stderr(), flush=True)
        with open(os.path.join(logdir, "merge.err"), "w") as f:
            f.write("%s: %s\n" % (merge.PROG, e))
        open(os.path.join(logdir, "client.json"), "w").close()
        facts.client = None
        if not facts.client_rc:
            facts.client_rc = 1
        return
    with open(os.path.join(logdir, "merge.err"), "w") as f:
        f.writelines("%s: %s\n" % (merge.PROG, w) for w in warnings)
    with open(os.path.join(logdir, "client.json"), "w") as f:
        f.write(merge.dumps(m) + "\n")
    facts.client = m
