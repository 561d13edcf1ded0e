"""./run.sh's arguments: argv -> model.Options, every check of the old
argument loop. Bad input raises UsageError (run.main prints "run.sh: MSG"
and the synopsis on stderr, exit 2); -h prints USAGE.
"""
import os
import re
import shutil

from . import designs, hosts, plan, restart, workload
from .model import Options, UsageError

USAGE = """\
run.sh - run one c1m design (its server and its client) at this machine's
size, and record what it cost.

usage: ./run.sh NN|all [options]
       ./run.sh compare [-r ROUNDS] [--ref NN|baseline] [--max-conns N] [--designs LIST]
                        [--workload W[;W...]] [-d SEC] [-p PORT] [-i SEC] [--pin[ S:C]] [--netns]
                        [--no-tune] [--whole-machine] [--dry-run] [--no-build]

  NN            a design directory's number (06 = 06_multi_epoll_server); all = every one
  compare       like for like: every design at one connection count they can
                all hold (10,000, or less when sizing says so for one of them),
                then 03, 06, 07, 08 and 14 at 1,000, 100,000 and 1,000,000, each
                only up to its cap. Every run gets the same "set" in its JSON
                (compare-<UTC time>). Prints the plan and its time first.
  -r ROUNDS     compare only: run the plan ROUNDS times, the designs interleaved
                round by round (default 1)
  --ref NN|baseline
                compare only: the design (or the bare pair, baseline) the
                ratios are to
  --max-conns N compare only: plan no count above N (e.g. 10000: every design at
                10,000, the scaling designs at 1,000 too); each design's cap still holds
  --designs LIST
                compare only: run only these designs (e.g. 01,03,06,07,08,14; 02,05
                for churn and storms), in that plan, interleaved as always; the
                reference (--ref) runs besides
  -n N[,N...]   connections (default: chosen from the design and this machine, and
                the reason printed); a list runs once per count, e.g. the blog's sweep
                -n 5000,2000,1000,500,200,100. Refused, with the reason, if it cannot fit.
  -d SEC        measuring time once every connection is up (default 10)
  -c N          server loops/workers/processes (default: the server's own choice)
  -p PORT       server port (default 8972; 0 = any free one)
  -i SEC        progress interval of both programs (default 5)
  -S 'ARGS'     extra server arguments, e.g. -S '-m timer' for 10
  -C 'ARGS'     extra client arguments
  --workload W  the traffic shape, recorded in the result and shown in the table:
                pingpong (default: one 8-byte request in flight), pipeline:N
                (-q N in flight), size:BYTES (-l, 8..1M), churn:N[,rst] (-x N: a
                new connection every N round trips; rst: close by RST, -R),
                heartbeat:SEC (-H: each connection one request every SEC),
                storm:PCT@SEC (--storm: SEC into the -d window drop PCT% and
                reconnect), push:broadcast,SEC,BYTES (the server writes first:
                every connection a push every SEC; server -b SEC -l BYTES, client
                --push) or push:rate,RATE,BYTES (server -R RATE: RATE pushes/s over
                the connections in turn); BYTES: the push body, 0..1M. A push
                workload runs only servers whose -L says push:1 (others are
                left out, said). Not with the same flag in -C (or -S). For compare:
                several, separated by ';' (quote them) or the option repeated;
                each runs the whole plan, one table per workload
  --restart-at SEC
                SEC into the measuring window stop the server (SIGTERM; after
                the grace, SIGKILL) and start it again with the same argv;
                the client runs with -X and reconnects what it dropped. The
                result records the restart and the first server's JSON; the
                summary says dropped/back/retries/recovery. Not with compare,
                --hosts, churn or storm
  --client NN   drive the server with NN's client instead
  --quick       a small smoke run: 200 connections (or fewer), 2 s
  --pin[ S:C]   run the server on CPUs S and the client on CPUs C (taskset -c;
                e.g. --pin 0:1, --pin 0-3:4-7; disjoint, online). Without S:C:
                the first half of the usable CPUs for the server, the rest for
                the client. The sets are recorded in the JSON.
  --netns       run both ends in a fresh network namespace (root), made after
                raising net.ipv4.tcp_child_ehash_entries, so that it has a TCP
                hash table of its own (1.13-1.27x the round trips/s at 1M here).
                As root, a run with more sockets than this namespace's table
                has buckets gets one by default, and says so
  --no-netns    run in this namespace even then
  -a ADDR       the server's address: it listens there and the clients connect
                to it (default 127.0.0.1)
  --hosts H1[=SRC],H2[=SRC],...
                run the client on several hosts, one each, sharing -n equally,
                the server here on -a (required: an address the hosts reach).
                SRC (FIRST[-LAST]) is that host's source addresses (client -s);
                without it the host uses one, which holds ~28K connections.
                Every client waits at a start barrier (client -B) until all
                have had their first round; then run.sh says "go" to all at
                once, and scripts/merge adds their histograms bucket by bucket.
  --via 'PREFIX' how to run a command on a host: PREFIX HOST COMMAND (default
                'ssh -o BatchMode=yes'). A prefix whose first word is ssh gets
                the command as one string for the remote shell; any other
                (e.g. 'ip netns exec') gets it as words: sh -c 'COMMAND'
  --remote-dir DIR  where this repository is built on the hosts (default: this
                directory's path); checked on every host before the run
  --perf DIR    profile the run: perf record -a -g and perf stat over the ramp
                (DIR/ramp) and the measuring window's inside (DIR/window), by
                scripts/perf-window.sh; then each process's and function's CPU
                us per connection or round trip in DIR/*/top.txt (scripts/perf-top;
                give it two DIRs to compare, e.g. 1K's and 1M's window)
  --no-tune     change no kernel setting; run at the size the machine allows as it is
  --whole-machine
                let sizing take up to 90% of MemAvailable (not 60%), and without -n
                run at the most this machine holds, not the design's target (e.g.
                --workload heartbeat:30 toward 2,000,000 connections); never past
                MemAvailable. --dry-run shows the plan. compare: its caps grow
                the same way (with --max-conns, --designs to keep it short)
  --dry-run     print the sizing, the kernel settings and the commands; run nothing
  --no-build    do not run make first
  -h            this help

What a run does: builds (make), sizes the run, checks the kernel settings
through scripts/tune.sh (as root it changes what is short, printing
"current -> needed", and puts every value back when the run ends, also on
Ctrl-C or failure), starts the server and waits until it listens, runs the
client, stops the server with SIGTERM and collects both JSON lines plus the
kernel memory (/proc/meminfo Slab) and TCP memory (/proc/net/sockstat).

Which programs: NN's own server; for 01-05 NN's own client, for 06 and up
05_multi_epoll_client (it drives 06-14). A directory without a server uses
the nearest lower-numbered server.

Sizing reads what each program prints with -L (one JSON line: its fd
tables, the fds it keeps spare per table, its most loops, thread per
connection or not, its target; a client's connections per source address
and default rate), never its -h text. A program without -L is an error.

Defaults by design (the target and rate their -L print): 09-13 run 1,000
connections (the middle of the blog's 5000..100 sweep); the others aim at
1,000,000 and take what the machine allows. The clients' own defaults set
the load (01 and 02: a low round-robin rate; the rest: closed-loop
ping-pong).

The window: the client (given -P SERVER_PID when it takes it) marks the
start and the end of its measuring window on the server (SIGUSR1), so both
report their CPU over the same window; the summary's CPU per cent, us per
round trip and bottleneck come from those window figures only (the
whole-run CPU is kept as *_cpu_run_*).

Results: $RESULTS_DIR (default results/) gets NN-<timestamp>.json (both
programs' JSON lines, the machine, the kernel settings, the memory deltas),
a row in results.csv, and the programs' logs in logs/. scripts/report turns
them into the README table and results/summary.svg.

More than one host (--hosts): each host's client gets its share of -n and
-B; run.sh waits until every one prints "barrier: ready" (connected and
answered once), then writes "go" to all their stdins at once (over ssh:
the same channel), and marks the server's window itself (SIGUSR1) -W
seconds later and again -d seconds after that. Each client's JSON records
its window's wall-clock start and end and its raw histogram; the result's
"client" is scripts/merge's line over all of them and "clients" holds each.

Exit: 0 when every run passed (the client checked every reply), 1 when a
run failed, 2 on bad usage or a size that cannot fit.
"""

SYNOPSIS = """\
usage: ./run.sh NN|all [-n N[,N...]] [-d SEC] [-c N] [-p PORT] [-i SEC] [-S ARGS] [-C ARGS]
                [--workload W] [--restart-at SEC] [--client NN] [--quick] [--pin[ S:C]] [--[no-]netns] [-a ADDR] [--hosts H1,H2,...]
                [--via PREFIX] [--remote-dir DIR] [--perf DIR] [--no-tune] [--whole-machine] [--dry-run]
                [--no-build] [-h]
       ./run.sh compare [-r ROUNDS] [--ref NN|baseline] [--max-conns N] [--designs LIST]
                [--workload W[;W...]] [-d SEC] [-p PORT] [-i SEC] [--pin[ S:C]] [--netns] [--no-tune]
                [--whole-machine] [--dry-run] [--no-build]"""


class ShowHelp(Exception):
    """-h: print USAGE, exit 0."""


class Refused(Exception):
    """Exit 2 with this one line and no synopsis (e.g. --pin on one CPU)."""


def shq(word):
    """A word as a POSIX shell reads it: as is when plain, else 'quoted'."""
    if re.fullmatch(r"[A-Za-z0-9_./:=,@+-]+", word):
        return word
    return "'" + word.replace("'", "'\\''") + "'"


def command_line(argv):
    """./run.sh and its arguments as typed, quotes and all."""
    return " ".join(["./run.sh"] + [shq(a) for a in argv])


_NUM = re.compile(r"[0-9]+(\.[0-9]+)?")


def _value(args, i):
    """The value after option args[i], or UsageError "X needs a value"."""
    if i + 1 >= len(args) or args[i + 1] == "":
        raise UsageError(f"{args[i]} needs a value")
    return args[i + 1]


def parse(argv, repo_dir):
    """argv -> Options; raises ShowHelp, UsageError or Refused."""
    kw = {"argv": list(argv), "remote_dir": repo_dir}
    targets, per_design, compare_only = [], [], []
    asked_list = ""
    duration = interval = None
    hosts_arg = None
    workloads = []
    restart_at = None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-n", "-c", "-S", "-C", "--client", "--quick", "--hosts"):
            per_design.append(a)
        if a in ("-r", "--ref", "--max-conns", "--designs"):
            compare_only.append(a)
        takes = True
        if a in ("-h", "--help"):
            raise ShowHelp()
        elif a == "-n":
            v = _value(argv, i)
            if not re.fullmatch(r"[0-9]+(,[0-9]+)*", v):
                raise UsageError(f"-n: want a count or a list like 5000,1000, not '{v}'")
            asked_list = v
        elif a == "-d":
            v = _value(argv, i)
            if not _NUM.fullmatch(v) or v == "0":
                raise UsageError(f"-d: want seconds > 0, not '{v}'")
            duration = v
        elif a == "-c":
            v = _value(argv, i)
            if not re.fullmatch(r"[1-9][0-9]*", v):
                raise UsageError(f"-c: want a number >= 1, not '{v}'")
            kw["loops"] = int(v)
        elif a == "-p":
            v = _value(argv, i)
            if not re.fullmatch(r"[0-9]+", v) or int(v) > 65535:
                raise UsageError(f"-p: want a port in 0..65535, not '{v}'")
            kw["port"] = int(v)
        elif a == "-i":
            v = _value(argv, i)
            if not _NUM.fullmatch(v):
                raise UsageError(f"-i: want seconds, not '{v}'")
            interval = v
        elif a == "-S":
            kw["extra_s"] = _value(argv, i).split()
        elif a == "-C":
            kw["extra_c"] = _value(argv, i).split()
        elif a == "--client":
            v = _value(argv, i)
            if not re.fullmatch(r"[0-9]{1,2}", v):
                raise UsageError(f"--client: want a design number, not '{v}'")
            kw["client_nn"] = "%02d" % int(v, 10)
        elif a == "-r":
            v = _value(argv, i)
            if not re.fullmatch(r"[1-9][0-9]*", v):
                raise UsageError(f"-r: want a number of rounds >= 1, not '{v}'")
            kw["rounds"] = int(v)
        elif a == "--ref":
            v = _value(argv, i)
            if v != "baseline" and not re.fullmatch(r"[0-9]{1,2}", v):
                raise UsageError(f"--ref: want a design number or baseline, not '{v}'")
            kw["reference"] = v if v == "baseline" else "%02d" % int(v, 10)
        elif a == "--max-conns":
            v = _value(argv, i)
            if not re.fullmatch(r"[1-9][0-9]*", v) or int(v) > 100000000:
                raise UsageError(f"--max-conns: want a count in 1..100000000, not '{v}'")
            kw["max_conns"] = int(v)
        elif a == "--designs":
            v = _value(argv, i)
            if not re.fullmatch(r"[0-9]{1,2}(,[0-9]{1,2})*", v):
                raise UsageError(f"--designs: want design numbers like 01,03,06, not '{v}'")
            kw["designs"] = list(dict.fromkeys("%02d" % int(x, 10) for x in v.split(",")))
        elif a == "--workload":
            workloads.append(_value(argv, i))
        elif a.startswith("--workload="):
            workloads.append(a[len("--workload="):])
            takes = False
        elif a == "--restart-at":
            restart_at = _value(argv, i)
        elif a == "--via":
            kw["via"] = _value(argv, i)
        elif a == "--hosts":
            hosts_arg = _value(argv, i)
        elif a == "-a":
            v = _value(argv, i)
            if not re.fullmatch(r"[0-9]{1,3}(\.[0-9]{1,3}){3}", v):
                raise UsageError(f"-a: want an IPv4 address, not '{v}'")
            kw["addr"] = v
        elif a == "--remote-dir":
            v = _value(argv, i)
            if not v.startswith("/"):
                raise UsageError(f"--remote-dir: want an absolute path, not '{v}'")
            kw["remote_dir"] = v
        elif a == "--perf":
            kw["perf_dir"] = _value(argv, i)
        else:
            takes = False
            if a == "--quick":
                kw["quick"] = True
            elif a == "--pin":
                # --pin takes a value only when the next word is a CPU list, not a design.
                kw["pin"] = "auto"
                if i + 1 < len(argv):
                    n = argv[i + 1]
                    if ":" in n or (re.fullmatch(r"[0-9,-]+", n) and re.search("[,-]", n)):
                        kw["pin"] = n
                        i += 1
            elif a.startswith("--pin="):
                kw["pin"] = a[len("--pin="):]
            elif a == "compare":
                targets.append("compare")
            elif a == "all":
                targets.append("all")
            elif a == "--netns":
                kw["netns"] = "1"
            elif a == "--no-netns":
                kw["netns"] = "0"
            elif a == "--no-tune":
                kw["no_tune"] = True
            elif a == "--whole-machine":
                kw["whole_machine"] = True
            elif a == "--dry-run":
                kw["dry_run"] = True
            elif a == "--no-build":
                kw["build"] = False
            elif re.fullmatch(r"[0-9]{1,2}", a):
                targets.append("%02d" % int(a, 10))
            elif a.startswith("-"):
                raise UsageError(f"unknown option {a}")
            else:
                raise UsageError(f"'{a}' is not a design number (or all)")
        i += 2 if takes else 1

    if len(targets) != 1:
        raise UsageError("say which design: one number, or all")
    target = kw["target"] = targets[0]
    if target == "compare" and per_design:
        raise UsageError("compare runs every design as it comes, at the counts it plans:"
                         + "".join(" " + p for p in per_design) + " is not for compare")
    if target != "compare" and compare_only:
        raise UsageError(f"{compare_only[0]} is for compare only")
    asked = [int(n) for n in asked_list.split(",")] if asked_list else []
    for n in asked:
        if not 1 <= n <= 100000000:
            raise UsageError(f"-n: {n} is not in 1..100000000")
    kw["asked"] = asked
    if kw.get("quick"):
        duration = duration or "2"
        interval = interval or "1"
    kw["duration"] = duration
    kw["interval"] = interval or "5"
    if workloads:
        # A bad workload is one line (no synopsis): its message says what is wanted.
        try:
            wls = workload.parse_list(workloads, duration)
            if target != "compare" and len(wls) > 1:
                raise UsageError("--workload: one shape a run (compare takes several)")
            for w in wls:
                workload.check_extra(w, kw.get("extra_c", []), kw.get("extra_s", []))
        except UsageError as e:
            raise Refused(str(e))
        kw["workloads"] = wls
    if restart_at is not None:
        # Like a bad workload: one line, no synopsis.
        try:
            kw["restart_at"] = restart.parse_at(restart_at)
            restart.check(kw["restart_at"], duration, kw.get("workloads", []), kw.get("extra_c", []),
                          target, hosts_arg)
        except UsageError as e:
            raise Refused(str(e))

    if kw.get("pin"):
        if shutil.which("taskset") is None:
            raise UsageError("--pin needs the taskset command (util-linux)")
        try:
            plan.pins(kw["pin"], plan.usable_cpus())
        except plan.PinError as e:
            if e.usage:
                raise UsageError(str(e))
            raise Refused(str(e))
    if hosts_arg is not None:
        kw["hosts"] = hosts_arg
    opts = Options(**kw)
    if opts.hosts is not None:
        hosts.parse(opts)  # raises UsageError as run.sh's parse_hosts did
    if opts.perf_dir:
        if target in ("compare", "all") or len(asked) > 1 or opts.hosts:
            raise UsageError("--perf profiles one run here: not with compare, all, an -n list or --hosts")
        if shutil.which("perf") is None:
            raise UsageError("--perf needs perf (Debian: apt-get install linux-perf)")

    valid = designs.valid_designs()
    if target not in ("compare", "all") and target not in valid:
        raise UsageError(f"no design {target} here; valid: {' '.join(valid) or 'none yet'}")
    for nn in opts.designs or []:
        if nn not in valid:
            raise UsageError(f"--designs: no design {nn} here; valid: {' '.join(valid)}")
    if opts.reference not in (None, "baseline") and opts.reference not in valid:
        raise UsageError(f"--ref {opts.reference}: no design {opts.reference} here; valid: {' '.join(valid)}")
    if opts.client_nn:
        d = designs.dir_of(opts.client_nn)
        if not d or not os.path.isfile(d + "/client.c"):
            raise UsageError(f"--client {opts.client_nn}: no client there")
    if opts.netns == "1":
        if os.geteuid() != 0:
            raise UsageError("--netns needs root (ip netns add)")
        if shutil.which("ip") is None:
            raise UsageError("--netns needs the ip command (iproute2)")
    return opts

