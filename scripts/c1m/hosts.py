# STAND-IN: replaced by the merge helper's module (hosts.py). A direct port
# of run.sh's parse_hosts, check_hosts and run_hosts (still through the
# bash scripts/merge), so that run.py's --hosts path runs and is tested.
"""--hosts: parse, check every host, the start barrier, merge."""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import shutil
from dataclasses import dataclass, field
from typing import List

from .model import UsageError


@dataclass
class HostsPlan:
    names: List[str] = field(default_factory=list)
    sources: List[str] = field(default_factory=list)
    via_words: List[str] = field(default_factory=list)
    via_ssh: bool = False
    remote_dir: str = ""


def parse(opts):
    """opts.hosts -> HostsPlan; UsageError as run.sh's parse_hosts."""
    plan = HostsPlan(remote_dir=opts.remote_dir)
    for h in opts.hosts.replace(",", " ").split():
        name, _, src = h.partition("=")
        if not re.fullmatch(r"[A-Za-z0-9_.@:-]+", name):
            raise UsageError(f"--hosts: '{name}' is not a host name")
        if src and not re.fullmatch(r"[0-9]{1,3}(\.[0-9]{1,3}){3}(-[0-9]{1,3}(\.[0-9]{1,3}){3})?", src):
            raise UsageError(f"--hosts: {name}={src}: want source addresses FIRST[-LAST],"
                             f" e.g. {name}=198.18.1.1-198.18.1.50")
        plan.names.append(name)
        plan.sources.append(src)
    if not plan.names:
        raise UsageError("--hosts: want at least one host")
    if not opts.addr:
        raise UsageError("--hosts needs -a ADDR: the server's address, as the hosts reach it")
    if opts.netns == "1":
        raise UsageError("--hosts runs the clients on other hosts; --netns puts both ends in one"
                         " namespace here: pick one")
    if opts.pin:
        raise UsageError("--pin places both ends on this machine's CPUs; with --hosts the clients"
                         " are elsewhere")
    if opts.target == "compare":
        raise UsageError("--hosts is for one design (or all), not compare")
    plan.via_words = opts.via.split()
    if not plan.via_words:
        raise UsageError("--via: want a command prefix, e.g. 'ip netns exec'")
    if shutil.which(plan.via_words[0]) is None:
        raise UsageError(f"--via: no command '{plan.via_words[0]}' here")
    plan.via_ssh = plan.via_words[0].rsplit("/", 1)[-1] == "ssh"
    return plan


def shq(word):
    """A word as a POSIX shell on the host reads it."""
    if re.fullmatch(r"[A-Za-z0-9_./:=,@+-]+", word):
        return word
    return "'" + word.replace("'", "'\\''") + "'"


def host_cmd(plan, host, script):
    """argv that runs the shell command `script` on host: an ssh-like prefix
    gets it as one string, any other as sh -c words."""
    if plan.via_ssh:
        return plan.via_words + [host, script]
    return plan.via_words + [host, "sh", "-c", script]


def check(plan, client_dir):
    """Every host answers, has the client built under remote_dir, and that
    client knows -B. Prints what is missing; False if any."""
    d, rd = shq(plan.remote_dir), plan.remote_dir
    script = (f"cd {d} 2>/dev/null || {{ echo 'no directory {rd}'; exit 3; }}\n"
              f"[ -x ./{client_dir}/client ] || {{ echo 'no {rd}/{client_dir}/client: build it there"
              f" (make {client_dir}/client)'; exit 3; }}\n"
              f"./{client_dir}/client -B -L >/dev/null 2>&1 || {{ echo '{rd}/{client_dir}/client has no -B"
              f" (built before the start barrier): rebuild it there'; exit 3; }}\necho ok")
    bad = 0
    for name in plan.names:
        argv = host_cmd(plan, name, script)
        try:
            r = subprocess.run(["timeout", "30"] + argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
            rc, out = r.returncode, r.stdout.rstrip("\n")
        except OSError as e:
            rc, out = 127, str(e)
        if rc != 0 or out.split("\n")[-1] != "ok":
            if rc == 124:
                out = "no answer in 30 s"
            print(f"run.sh: host {name}: {out.replace(chr(10), '; ')} (via: {' '.join(plan.via_words)})",
                  file=sys.stderr, flush=True)
            bad += 1
    return bad == 0


def run_clients(plan, *, conns, addr, port, duration, warmup, interval, extra_c, client_dir,
                server_pid, logdir, cleanup, dry_run, facts):
    """The clients on every host, through one start barrier."""
    from . import pair, proc
    from .fmt import fmt_int as num
    if warmup:
        print(f"measuring {duration} s after a {warmup} s warm-up: at {num(conns)} connections one round"
              " trip on each takes seconds", flush=True)
    n = len(plan.names)
    argvs, lines = [], []
    for i, name in enumerate(plan.names):
        share = conns * (i + 1) // n - conns * i // n
        args = [f"./{client_dir}/client", "-a", addr, "-p", str(port), "-n", str(share), "-d", duration,
                "-i", interval, "-B"]
        if warmup:
            args += ["-W", str(warmup)]
        if plan.sources[i]:
            args += ["-s", plan.sources[i]]
        args += extra_c
        inner = f"cd {shq(plan.remote_dir)} && exec " + " ".join(shq(a) for a in args)
        argvs.append(host_cmd(plan, name, inner))
        lines.append(f"{' '.join(plan.via_words)} {name} " + (shq(inner) if plan.via_ssh else f"sh -c {shq(inner)}"))
        print(f"client on {name}: {lines[i]}", flush=True)
        if share > 28000 and not plan.sources[i]:
            print(f"  note: {num(share)} connections from one source address need more ports than a default"
                  f" range (28,232) holds: give {name}=FIRST-LAST", flush=True)
    facts.client_line = " ; ".join(lines)
    facts.client_argvs = argvs
    facts.host_names = list(plan.names)
    if dry_run:
        return
    first = min(conns // 200, 600)
    tmo = conns // 5000 + first + int(duration.split(".")[0]) + warmup + 60
    facts.client_t0_wall_us = time.time_ns() // 1000
    t0 = time.monotonic()
    facts.stat0 = pair.stat_cpu_line()
    procs, tees, ready, progress = [], [], [threading.Event() for _ in plan.names], []
    for i, name in enumerate(plan.names):
        with open(os.path.join(logdir, f"client.{i}.json"), "w") as out:
            p = subprocess.Popen(["timeout", "-k", "10", str(tmo)] + argvs[i], stdin=subprocess.PIPE,
                                 stdout=out, stderr=subprocess.PIPE)
        cleanup.defer(proc.stop_proc, p, grace_s=5)
        procs.append(p)
        ev = ready[i]
        t = pair.Tee(p.stderr, os.path.join(logdir, f"client.{i}.log"), f"  {name}| ", f"client@{name}",
                     progress, lambda line, ev=ev: line.startswith("barrier: ready") and ev.set())
        t.start()
        tees.append(t)
    facts.client_pids = [p.pid for p in procs]
    print(f"  (client pids {' '.join(str(p.pid) for p in procs)}; waiting until every host is connected"
          " and answered once)", flush=True)

    def close_all():
        for p in procs:
            try:
                p.stdin.close()
            except OSError:
                pass

    rc = 0
    while True:
        nready = 0
        for i, p in enumerate(procs):
            if ready[i].is_set():
                nready += 1
            elif p.poll() is not None:
                print(f"run.sh: the client on {plan.names[i]} ended before the start barrier:"
                      f" {pair._last_line(os.path.join(logdir, f'client.{i}.log'))}", file=sys.stderr, flush=True)
                rc = 1
        if nready == n or rc:
            break
        if time.monotonic() - t0 > tmo:
            print(f"run.sh: {nready} of {n} hosts were ready after {tmo}s; giving up", file=sys.stderr, flush=True)
            rc = 124
            break
        time.sleep(0.05)
    marks = []
    if rc == 0:
        for p in procs:
            try:
                p.stdin.write(b"go\n")
                p.stdin.flush()
            except OSError:
                pass
        go = time.monotonic()
        print(f"run.sh: all {n} hosts ready; go", flush=True)
        marks = [go + warmup, go + warmup + float(duration)]
    else:
        close_all()
    # Wait for every client; on the way, mark the server's window as the
    # clients' -P would. A client that fails stops the others (EOF on stdin).
    left, done, stdin_open = n, [False] * n, rc == 0
    while left:
        now = time.monotonic()
        if marks and now >= marks[0]:
            try:
                os.kill(server_pid, signal.SIGUSR1)
            except OSError:
                pass
            marks.pop(0)
        for i, p in enumerate(procs):
            if done[i] or p.poll() is None:
                continue
            done[i], left = True, left - 1
            prc = proc.shell_rc(p.returncode)
            if prc == 0:
                continue
            more = "; stopping the others" if stdin_open and left else ""
            print(f"run.sh: the client on {plan.names[i]} exited {prc}{more}", file=sys.stderr, flush=True)
            rc = rc or prc
            close_all()
            stdin_open, marks = False, []
        wait = 0.05
        if marks:
            wait = max(0.0, min(wait, marks[0] - time.monotonic()))
        if left:
            time.sleep(wait)
    close_all()
    for t in tees:
        t.join(timeout=5)
    facts.stat1 = pair.stat_cpu_line()
    facts.client_wall_s = round((time.time_ns() // 1000 - facts.client_t0_wall_us) / 1e6, 3)
    with open(os.path.join(logdir, "client.log"), "w") as out:
        for i in range(n):
            with open(os.path.join(logdir, f"client.{i}.log"), errors="replace") as f:
                out.write(f.read())
    jsons = [os.path.join(logdir, f"client.{i}.json") for i in range(n)]
    facts.clients = [pair.json_or_null(j) for j in jsons]
    r = subprocess.run(["scripts/merge"] + jsons, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        print(f"run.sh: scripts/merge: {r.stderr.strip()}", file=sys.stderr, flush=True)
        facts.client = None
        rc = rc or 1
    else:
        try:
            facts.client = json.loads(r.stdout.strip().split("\n")[-1])
        except (ValueError, IndexError):
            facts.client = None
    facts.client_rc = rc
    facts.progress += [{"t_s": round(t - t0, 6), "who": who, "line": line} for t, who, line in progress]
