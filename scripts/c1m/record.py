"""The record of one run: the summary and its bottleneck verdict, the result
JSON (docs/results-schema.md), the CSV row, the logs beside it, the .hgrm
and the per-interval CSV, and the tables run.sh prints.

summary() and bottleneck() are pure: Facts and Options in, dict out. The
programs' own JSON lines are kept whole in the result; the summary's
numbers are theirs at full precision (nothing is rounded on its way in).
"""
import csv
import io
import os
import platform
import re
import resource
import shutil
import socket
import subprocess
import sys
import time

from . import charts, formats, jsonio, schema
from .fmt import fmt_bytes, fmt_int, fmt_lat

# The sampler's columns (pair.Sampler), as Facts.samples holds them.
SAMPLE_COLUMNS = ("t_s", "slab_kb", "tcp_inuse", "tcp_tw", "tcp_mem_pages",
                  "server_rss_kb", "server_cpu_s", "client_cpu_s")
TCP_EXT = ("ListenOverflows", "ListenDrops", "SyncookiesSent",
           "TCPMemoryPressures", "TCPAbortOnMemory", "TCPTimeouts")
CSV_COLS = tuple(("started,nn,design,client,status,quick,netns,set,hosts,window_skew_ms,"
             "pin_server,pin_client,conns_target,conns,connect_s,first_round_s,duration_s,"
             "rps,server_window_rps,rps_agreement,rate_target,rate_achieved,late_sends,"
             "dropped,p50_us,p99_us,max_us,errors,mismatches,server_rss_b_per_conn,"
             "kernel_b_per_conn,server_us_per_rt,client_us_per_rt,client_cpu_window_pct,"
             "server_cpu_window_pct,client_cpu_run_pct,server_cpu_run_pct,bottleneck,workload").split(","))
PROG = "run.sh"
FRAME_BYTES = 8                         # common/c1m.h FRAME_SIZE: what a server counts as a request


# ---- numbers out of the programs' JSON lines ----

def num(obj, key):
    """OBJ[KEY] if it is a number (not a bool), else None."""
    if not isinstance(obj, dict):
        return None
    v = obj.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return v


def num0(obj, key):
    """num(), 0 when missing (the figures run.sh wrote as 0 then)."""
    v = num(obj, key)
    return 0 if v is None else v


def lat(client, key):
    """A client latency in us: lat_us.KEY (older lines: top-level KEY)."""
    v = num((client or {}).get("lat_us"), key)
    return v if v is not None else num(client, key)


def cpu_pct(obj, secs):
    """Per cent of a core (100 = one core busy) of {"user_s", "sys_s"} over
    SECS seconds; None when either is missing or SECS is not > 0."""
    u, s = num(obj, "user_s"), num(obj, "sys_s")
    if u is None or s is None or secs is None or secs <= 0:
        return None
    return 100.0 * (u + s) / secs


def cpu_count(cpus):
    """How many CPUs a list like "0-1,3" names (0 for "")."""
    n = 0
    for part in filter(None, (cpus or "").split(",")):
        lo, _, hi = part.partition("-")
        n += int(hi) - int(lo) + 1 if hi else 1
    return n


def machine_busy(stat0, stat1, ncpu):
    """Per cent of the machine busy between two /proc/stat "cpu" lines (100
    = one core busy), 0 when unknown."""
    a, b = (stat0 or "").split(), (stat1 or "").split()
    if len(a) < 6 or len(b) < 6:
        return 0

    def f(xs, i):
        return float(xs[i]) if i < len(xs) else 0.0
    tot = sum(f(b, i) - f(a, i) for i in range(1, 9))
    idle = (f(b, 4) - f(a, 4)) + (f(b, 5) - f(a, 5))
    return 100.0 * ncpu * (tot - idle) / tot if tot > 0 else 0


def plain(x):
    """A number as a person typed it: 200.0 -> "200", 2.5 -> "2.5"."""
    x = float(x)
    return str(int(x)) if x.is_integer() else repr(x)


# ---- the verdict ----

def bottleneck(c_pct, s_pct, c_loops, s_loops, ncpu, rps, c_cpus, s_cpus):
    """Which side limited the run, from each side's CPU over the measuring
    window (100 = one core busy), the loops each side could keep busy, the
    machine's cores and, when pinned, the CPUs each side had (0 = all):
     - a side whose loops are all busy while the other's are not is the limit;
     - both busy on shared cores: the one using more of them; pinned: both;
     - neither busy: the run waited (rate limit, sleeps, latency)."""
    if rps is None or rps <= 0:
        return "none (no load)"
    c_pct, s_pct = c_pct or 0, s_pct or 0
    c_loops, s_loops, c_cpus, s_cpus = (c_loops or 0, s_loops or 0,
                                        c_cpus or 0, s_cpus or 0)
    if c_cpus < 1 or c_cpus > ncpu:
        c_cpus = ncpu
    if s_cpus < 1 or s_cpus > ncpu:
        s_cpus = ncpu
    if c_loops < 1 or c_loops > c_cpus:
        c_loops = c_cpus
    if s_loops < 1 or s_loops > s_cpus:
        s_loops = s_cpus
    c_sat = c_pct >= 85 * c_loops
    s_sat = s_pct >= 85 * s_loops
    if c_sat and not s_sat:
        return "client"
    if s_sat and not c_sat:
        return "server"
    if c_cpus + s_cpus <= ncpu:
        return "both (pinned)" if c_sat else "neither (waiting)"
    if c_pct + s_pct >= 75 * ncpu:
        return ("server" if s_pct >= c_pct else "client") + " (cores shared)"
    return "neither (waiting)"


def hosts_verdict(clients, names, me):
    """--hosts: (remote, busy): whether any client ran on another machine
    (a host with no result counts as one: nothing says it is here), and
    "client (a, b)" naming the hosts whose client loops were all busy."""
    remote, busy = False, []
    for i, c in enumerate(clients):
        c = c if isinstance(c, dict) else {}
        pct = cpu_pct(c.get("cpu_window"), num(c, "duration_s"))
        loops, cpus = num0(c, "loops"), num0(c, "cpus")
        if cpus > 0 and loops > cpus:
            loops = cpus
        if c.get("host", "") != me:
            remote = True
        if pct is not None and loops > 0 and pct >= 85 * loops:
            busy.append(names[i] if i < len(names) else "?")
    return remote, ("client (" + ", ".join(busy) + ")" if busy else "")


def _peaks(samples, slab0):
    """[slab_kb, tcp_inuse, tcp_tw at the end, tcp_mem_pages, server_rss_kb]
    over the run's samples (peaks, tw the last); slab0 when none."""
    slab = inuse = tw = mem = rss = 0
    for s in samples or []:
        s = list(s) + [0] * (6 - len(s))
        slab, inuse, mem, rss = max(slab, s[1]), max(inuse, s[2]), max(mem, s[4]), max(rss, s[5])
        tw = s[3]
    return [slab if slab else slab0, inuse, tw, mem, rss]


def summary(facts, opts, ncpu, me=None):
    """The summary of one run: today's keys and meanings (run.sh's record()),
    the programs' numbers at full precision. ME is this host's name (for
    --hosts; socket.gethostname() when None)."""
    c = facts.client if isinstance(facts.client, dict) else None
    s = facts.server if isinstance(facts.server, dict) else None
    cd, sd = c or {}, s or {}
    status = "ok" if (facts.client_rc == 0 and facts.server_rc == 0
                      and c is not None and s is not None) else "failed"
    peaks = _peaks(facts.samples, facts.slab0_kb)
    conns = int(num0(cd, "conns"))
    rss = num(sd, "rss_kb_total")
    if rss is None:
        rss = num(sd, "rss_kb_peak")
    if rss is None or rss < peaks[4]:
        rss = peaks[4]
    slab_d = max(peaks[0] - facts.slab0_kb, 0)
    wall = facts.client_wall_s or 0
    ccpu = num0(cd, "cpu_user_s") + num0(cd, "cpu_sys_s")
    scpu = num0(sd, "cpu_user_s") + num0(sd, "cpu_sys_s")
    cpct = 100.0 * ccpu / wall if wall > 0 else 0
    spct = 100.0 * scpu / wall if wall > 0 else 0
    cwin = cpu_pct(cd.get("cpu_window"), num(cd, "duration_s"))
    swin = cpu_pct(sd.get("cpu_window"), num(sd, "window_s"))
    rps = num0(cd, "rps")
    srps = num(sd, "window_rps")
    agree = rps / srps if srps is not None and srps > 0 else None
    mpct = machine_busy(facts.stat0, facts.stat1, ncpu)
    other = max(mpct - cpct - spct, 0)
    sl = num(sd, "loops")
    if sl is None:
        sl = num(sd, "procs")
    if sl is None:
        sl = num(sd, "workers")
    sl = sl or 0
    if facts.host_names:
        remote, hneck = hosts_verdict(facts.clients, facts.host_names,
                                      socket.gethostname() if me is None else me)
    else:
        remote, hneck = False, ""
    if cwin is None or swin is None:
        neck = "unknown (no window CPU)"
    elif remote:
        need = 85 * (sl if 1 <= sl < ncpu else ncpu)
        neck = "server" if swin >= need else (hneck or "neither (waiting)")
    else:
        # A push run has no round trips: its load is the pushes received.
        neck = bottleneck(cwin, swin, num0(cd, "loops"), sl, ncpu, rps or num0(cd, "pushes_received"),
                          cpu_count(facts.pin_client), cpu_count(facts.pin_server))
    rate = facts.rate or 0
    if num(cd, "rate_target") is not None:
        rate = num(cd, "rate_target")
    if rate > 0 and rps >= 0.9 * rate:
        neck = "client rate (-r %s)" % plain(rate)
    # Cores busy with other work than this run: say so, it is the limit.
    if neck.startswith("neither") and mpct >= 75 * ncpu and other >= 25 * ncpu:
        neck = "other processes (machine busy)"
    per = (lambda x: x / conns) if conns else (lambda x: 0)
    wl = facts.workload
    conn_lat = cd.get("connect_lat_us") if isinstance(cd.get("connect_lat_us"), dict) else {}
    lag = cd.get("send_lag_us") if isinstance(cd.get("send_lag_us"), dict) else {}
    tcp_ext = {k: int(facts.tcp_ext1.get(k, 0)) - int(facts.tcp_ext0.get(k, 0))
               for k in ("ListenOverflows", "ListenDrops")}
    # Servers 06, 07 and 14 count accepts per loop (or child): the spread.
    apl = sd.get("accepts_per_loop")
    apl = [x for x in apl if isinstance(x, int) and not isinstance(x, bool)] \
        if isinstance(apl, list) else []
    amin, amax = (min(apl), max(apl)) if apl else (None, None)
    # Server CPU over the window per connection opened (churn) and per KB
    # of request echoed (size): the window's CPU, the client's counts.
    scpu_win = None
    if isinstance(sd.get("cpu_window"), dict):
        u, sy = num(sd["cpu_window"], "user_s"), num(sd["cpu_window"], "sys_s")
        scpu_win = u + sy if u is not None and sy is not None else None
    opened = (num(cd, "conns_opened_per_s") or 0) * (num(cd, "duration_s") or 0)
    per_conn = scpu_win * 1e6 / opened if scpu_win is not None and opened > 0 else None
    # A server counts every 8 bytes it echoes as one request (FRAME_SIZE):
    # its "per round trip" is per 8 bytes, so per KB is that x 1024/8, and
    # one round trip of an -l BYTES message costs BYTES/8 of them.
    us_frame, mb = num(sd, "server_us_per_rt"), num(cd, "msg_bytes")
    per_kb = us_frame * 1024 / FRAME_BYTES if us_frame is not None else None
    us_rt = us_frame * mb / FRAME_BYTES if us_frame is not None and mb else us_frame
    return {
        "nn": facts.nn, "design": facts.server_dir, "server": facts.server_dir,
        "client": facts.client_dir,
        "variant": " ".join(list(opts.extra_s) + list(opts.extra_c)),
        "set": facts.set_id,
        "hosts": len(facts.host_names) or 1, "host_list": ",".join(facts.host_names),
        "window_skew_ms": num(cd, "window_skew_ms"),
        "status": status, "quick": int(bool(opts.quick)), "netns": int(bool(facts.netns)),
        "started": facts.started,
        "pin_server": facts.pin_server, "pin_client": facts.pin_client,
        "conns_target": facts.conns, "conns": conns, "connect_s": num0(cd, "connect_s"),
        "first_round_s": num(cd, "first_round_s"),
        "duration_s": num0(cd, "duration_s"), "rps": rps,
        "server_window_rps": srps, "rps_agreement": agree,
        "rate_target": num(cd, "rate_target"), "rate_achieved": num(cd, "rate_achieved"),
        "late_sends": num(cd, "late_sends"), "dropped": num(cd, "dropped"),
        "p50_us": lat(cd, "p50") or 0, "p99_us": lat(cd, "p99") or 0,
        "max_us": lat(cd, "max") or 0, "mean_us": lat(cd, "mean") or 0,
        "errors": int(num0(cd, "errors")), "mismatches": int(num0(cd, "mismatches")),
        "server_rss_kb": rss, "server_rss_b_per_conn": per(rss * 1024),
        "slab_delta_kb": slab_d, "kernel_b_per_conn": per(slab_d * 1024),
        "tcp_mem_b_per_conn": per(peaks[3] * 4096),
        "server_us_per_rt": us_rt,
        "client_us_per_rt": num(cd, "client_us_per_rt"),
        "client_cpu_window_pct": cwin, "server_cpu_window_pct": swin,
        "client_cpu_run_s": ccpu, "server_cpu_run_s": scpu,
        "client_cpu_run_pct": cpct, "server_cpu_run_pct": spct,
        "client_rate": rate,
        "machine_cpu_pct": mpct, "other_cpu_pct": other,
        "bottleneck": neck,
        # --workload: its name, its parameters, and the client's figures
        # each shape is about (null when the client did not print them).
        "workload": wl.name if wl else "pingpong",
        "workload_params": dict(wl.params) if wl else {},
        "depth": num(cd, "depth"), "msg_bytes": num(cd, "msg_bytes"),
        "tx_bytes_per_s": num(cd, "tx_bytes_per_s"), "rx_bytes_per_s": num(cd, "rx_bytes_per_s"),
        "connect_p50_us": num(conn_lat, "p50"), "connect_p99_us": num(conn_lat, "p99"),
        "connect_max_us": num(conn_lat, "max"), "connect_errors": num(cd, "connect_errors"),
        "conns_opened_per_s": num(cd, "conns_opened_per_s"), "churned": num(cd, "churned"),
        "reconnects": num(cd, "reconnects"), "client_time_wait": num(cd, "time_wait"),
        "heartbeat_s": num(cd, "heartbeat_s"), "heartbeat_late_p99_us": num(lag, "p99"),
        "heartbeat_late_max_us": num(lag, "max"),
        "client_cpu_per_1k_conns": num(cd, "client_cpu_per_1k_conns"),
        "storm_dropped": num(cd, "storm_dropped"), "storm_back": num(cd, "storm_back"),
        "storm_retries": num(cd, "storm_retries"), "storm_recovery_s": num(cd, "storm_recovery_s"),
        "listen_overflows": tcp_ext["ListenOverflows"], "listen_drops": tcp_ext["ListenDrops"],
        "accepts_per_loop_min": amin, "accepts_per_loop_max": amax,
        "accept_spread": amax / amin if amin else None,
        "server_us_per_conn": per_conn, "server_us_per_kb": per_kb,
        **push_figures(cd, sd, not (wl and wl.name.startswith("push:rate"))),
        **restart_summary(facts, opts, cd),
    }


def push_figures(cd, sd, broadcast=True):
    """A push workload's figures (null when the programs did not print
    them): the client's deliveries (latency from push_lat_us, not lat_us),
    fan-out (BROADCAST runs only: under -R every push has a time of its
    own, and the client's per-time "incomplete" count means nothing) and
    clock; the server's pushes and slow consumers dropped."""
    plat = cd.get("push_lat_us") if isinstance(cd.get("push_lat_us"), dict) else {}
    fan = cd.get("fanout_s") if isinstance(cd.get("fanout_s"), dict) else {}
    clock = cd.get("clock") if isinstance(cd.get("clock"), dict) else {}
    if not broadcast:
        fan = {}
    elif num(fan, "broadcasts") == 0:
        fan = dict(fan, p50=None, max=None)     # none completed: no fan-out time
    return {
        "pushes_received": num(cd, "pushes_received"), "pushes_missing": num(cd, "pushes_missing"),
        "push_mismatches": num(cd, "push_mismatches"), "push_silent": num(cd, "push_silent"),
        "push_bytes_received": num(cd, "push_bytes_received"),
        "push_p50_us": num(plat, "p50"), "push_p99_us": num(plat, "p99"),
        "push_p999_us": num(plat, "p999"), "push_max_us": num(plat, "max"),
        "fanout_broadcasts": num(fan, "broadcasts"), "fanout_incomplete": num(fan, "incomplete"),
        "fanout_p50_s": num(fan, "p50"), "fanout_max_s": num(fan, "max"),
        "clock_offset_us": num(clock, "offset_us"), "clock_maxerror_us": num(clock, "maxerror_us"),
        "pushes_sent": num(sd, "pushes_sent"), "push_bytes": num(sd, "push_bytes"),
        "slow_dropped": num(sd, "slow_dropped"), "window_pushes": num(sd, "window_pushes"),
        "server_us_per_push": num(sd, "server_us_per_push"),
    }


def restart_summary(facts, opts, cd):
    """--restart-at's summary keys (null without it): when, how long the
    server was down, and the client's -X figures."""
    on = opts.restart_at is not None
    return {"restart_at_s": opts.restart_at if on else None,
            "restart_down_s": facts.restart.get("down_s") if on else None,
            "restart_dropped": num(cd, "restart_dropped") if on else None,
            "restart_back": num(cd, "restart_back") if on else None,
            "restart_retries": num(cd, "restart_retries") if on else None,
            "restart_recovery_s": num(cd, "restart_recovery_s") if on else None}


# ---- where and what ----

def provenance(repo_dir):
    """{"commit": the checked-out sha or "unknown", "dirty": whether tracked
    files that make or run the programs differ from it}. README.md and docs/
    do not count: a compare writing its results into docs/results (a
    tracked results.csv) changes no figure the next run measures."""
    try:
        sha = subprocess.run(["git", "-C", repo_dir, "rev-parse", "HEAD"],
                             capture_output=True, text=True, timeout=10)
        st = subprocess.run(["git", "-C", repo_dir, "status", "--porcelain", "--untracked-files=no",
                             "--", ".", ":(exclude)docs", ":(exclude)README.md"],
                            capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "dirty": False}
    if sha.returncode != 0:
        return {"commit": "unknown", "dirty": False}
    return {"commit": sha.stdout.strip(), "dirty": st.returncode == 0 and st.stdout.strip() != ""}


def _meminfo(key):
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def machine():
    """This machine: kernel, cores, cpu model, memory, hostname, open-file limit."""
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)

    def lim(x):
        return "unlimited" if x == resource.RLIM_INFINITY else str(x)
    return {"kernel": platform.release(), "cores": os.cpu_count() or 1, "cpu": cpu,
            "mem_total_kb": _meminfo("MemTotal"), "hostname": socket.gethostname(),
            "rlimit_nofile": lim(soft) + "/" + lim(hard)}


def _command(opts):
    """./run.sh and its arguments as typed, shell-quoted: cli's (the core
    helper's) when there, else the same rule here."""
    try:
        from .cli import command_line
    except ImportError:
        return " ".join(["./run.sh"] + [a if re.fullmatch(r"[A-Za-z0-9_./:=,@+-]+", a)
                                       else "'" + a.replace("'", "'\\''") + "'" for a in opts.argv])
    return command_line(opts.argv)


def result(facts, opts, summary, machine, provenance):
    """The whole result document, schema.SCHEMA_VERSION's shape."""
    mach = dict(machine)
    mach["mem_available_kb"] = facts.mem_available0_kb
    peaks = _peaks(facts.samples, facts.slab0_kb)
    # As run.sh had it: "client_pid" for one client here, "client_pids"
    # for --hosts (one per host).
    run = {"server_pid": facts.server_pid}
    if facts.host_names:
        run["client_pids"] = list(facts.client_pids)
    else:
        run["client_pid"] = facts.client_pids[0] if facts.client_pids else 0
    run.update({"netns": facts.netns_name, "tune_state": facts.tune_state,
                "client_t0_wall_us": facts.client_t0_wall_us, "client_wall_s": facts.client_wall_s})
    doc = {
        "schema_version": schema.SCHEMA_VERSION,
        "summary": summary,
        "commit": provenance.get("commit", "unknown"),
        "dirty": bool(provenance.get("dirty", False)),
        "command": _command(opts),
        "server_cmd": facts.server_line,
        "client_cmd": facts.client_line,
        "argv": {"run": ["./run.sh"] + list(opts.argv), "server": list(facts.server_argv),
                 "clients": [list(a) for a in facts.client_argvs]},
        "exit": {"client": facts.client_rc, "server": facts.server_rc},
        "run": run,
        "compare": {"set": facts.set_id, "round": facts.round, "rounds": facts.rounds,
                    "reference": facts.reference},
        "machine": mach,
        "sizing": {"conns": facts.conns, "asked": facts.asked, "cap": facts.size_cap,
                   "limited_by": facts.size_why},
        "sysctls": dict(facts.sysctls),
        "tcp_ext": {k: int(facts.tcp_ext1.get(k, 0)) - int(facts.tcp_ext0.get(k, 0))
                    for k in TCP_EXT},
        "kernel": {"slab_kb_before": facts.slab0_kb,
                   "peaks": dict(zip(schema.PEAK_KEYS, peaks)),
                   "time_wait_left": facts.time_wait_left,
                   "stat0": facts.stat0, "stat1": facts.stat1},
        "samples": {"columns": list(SAMPLE_COLUMNS), "rows": [list(r) for r in facts.samples]},
        "progress": list(facts.progress),
        "client": facts.client,
    }
    if facts.host_names:
        doc["hosts"] = list(facts.host_names)
        doc["clients"] = list(facts.clients)
    doc["server"] = facts.server
    if opts.restart_at is not None:
        doc["restart"] = dict(facts.restart) or {"at_s": opts.restart_at, "done": False}
        doc["server_before_restart"] = facts.server_before_restart
    return doc


# ---- files ----

def csv_value(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return plain(v) if v.is_integer() else repr(v)
    return str(v)


def csv_row(summary, name):
    """The CSV line of a summary (CSV_COLS, then the result file's name)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([csv_value(summary.get(k)) for k in CSV_COLS] + [name])
    return out.getvalue()


def append_csv(results_dir, summary, name, say=print):
    """Append the run's row to results.csv; a file with other columns (an
    older run.sh) is kept aside as results-until-<now>.csv, a new one begun."""
    path = os.path.join(results_dir, "results.csv")
    header = ",".join(CSV_COLS) + ",file"
    if os.path.exists(path) and os.path.getsize(path) > 0:
        with open(path) as f:
            first = f.readline().rstrip("\n")
        if first != header:
            old = os.path.join(results_dir, "results-until-%s.csv" % time.strftime("%Y%m%d-%H%M%S", time.gmtime()))
            os.rename(path, old)
            say("%s: results.csv had other columns; kept as %s" % (PROG, old))
    new = not (os.path.exists(path) and os.path.getsize(path) > 0)
    with open(path, "a") as f:
        if new:
            f.write(header + "\n")
        f.write(csv_row(summary, name))


def write(result, results_dir, logs, say=print):
    """NN-<ts>.json (+ -CONNS when taken), the CSV row, logs/BASE-WHO.log,
    BASE.hgrm (when the client has a histogram), BASE-progress.csv and
    BASE-timeseries.svg (when there are progress lines).
    LOGS: {"server": path, "client": path, "client-HOST": path}. -> the path.
    A result that does not validate is a bug here, but the run is written
    all the same, with a warning on stderr: a measured run is not thrown away."""
    bad = schema.problems(result)
    if bad:
        print("%s: warning: the result does not match docs/results-schema.md: %s"
              % (PROG, "; ".join(bad)), file=sys.stderr)
    s = result["summary"]
    base = "%s-%s" % (s["nn"], time.strftime("%Y%m%d-%H%M%S", time.gmtime()))
    if os.path.exists(os.path.join(results_dir, base + ".json")):
        base += "-%d" % s["conns_target"]
    os.makedirs(os.path.join(results_dir, "logs"), exist_ok=True)
    for who, src in (logs or {}).items():
        if src and os.path.exists(src):
            shutil.copyfile(src, os.path.join(results_dir, "logs", "%s-%s.log" % (base, who)))
    path = os.path.join(results_dir, base + ".json")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(jsonio.dump_result(result))
    os.replace(tmp, path)
    append_csv(results_dir, s, base + ".json", say)
    text = formats.hgrm(result)
    if text is not None:
        with open(os.path.join(results_dir, base + ".hgrm"), "w") as f:
            f.write(text)
    with open(os.path.join(results_dir, base + "-progress.csv"), "w") as f:
        f.write(formats.progress_csv(result))
    svg = charts.timeseries_svg(result, "%s, %s connections: over time" % (s["design"], fmt_int(s["conns"])))
    if svg is not None:
        with open(os.path.join(results_dir, base + "-timeseries.svg"), "w") as f:
            f.write(svg)
    return path


# ---- what run.sh prints ----

def _dash(v):
    return "-" if v is None or v == "" else v


def _pct(v):
    return "-" if v is None else "%.0f" % v


def table(summaries):
    """The summary table, one row per run (CPU over the measuring window),
    without a final newline: print() it."""
    fmt = "%-30s %9s %8s %9s %8s %8s %8s %9s %9s %9s %9s  %s\n"
    # A workload column only when a run is not the default ping-pong, so
    # the default table stays as it was.
    wls = [s.get("workload") or "pingpong" for s in summaries]
    wide = max([len(w) for w in wls if w != "pingpong"] or [0])
    if wide:
        fmt = "%-30s %-" + str(max(wide, 8)) + "s " + fmt[5:]
    head = [("design", "conns", "connect", "rps", "p50", "p99", "max", "srv us/rt",
             "srv RSS", "kernel", "CPU c/s", "bottleneck"),
            ("", "", "", "", "", "", "", "(window)", "per conn", "per conn", "(window)", "")]
    if wide:
        head = [(h[0], w) + h[1:] for h, w in zip(head, ("workload", ""))]
    out = [fmt % h for h in head]
    for s, wl in zip(summaries, wls):
        d = s.get("design", "")
        cl = s.get("client", "") or ""
        if not cl.startswith("05_") and cl != d:
            d = d + "+" + cl[:2]
        if (s.get("hosts") or 0) > 1:
            d += ", %d hosts" % s["hosts"]
        us = s.get("server_us_per_rt")
        us = "-" if us is None else ("%.1f" % us if us < 100 else "%.0f" % us)
        out.append(fmt % ((d,) + ((wl,) if wide else ()) + (
            fmt_int(s.get("conns") or 0), "%.1f s" % (s.get("connect_s") or 0),
            fmt_int(s.get("rps") or 0), fmt_lat(s.get("p50_us")), fmt_lat(s.get("p99_us")),
            fmt_lat(s.get("max_us")), us, fmt_bytes(s.get("server_rss_b_per_conn")),
            fmt_bytes(s.get("kernel_b_per_conn")),
            _pct(s.get("client_cpu_window_pct")) + "/" + _pct(s.get("server_cpu_window_pct")),
            s.get("bottleneck", "") + ("" if s.get("status") == "ok" else "  FAILED"))))
    return "".join(out).rstrip("\n")


def _secs(v):
    return "-" if v is None else ("%.1f ms" % (v * 1000) if v < 1 else "%.2f s" % v)


def _rate_bytes(v):
    return "-" if v is None else fmt_bytes(v) + "/s"


def workload_line(s):
    """The figures a run's workload is about, one line ("" for ping-pong):
    what run.sh prints under the table."""
    shape = (s.get("workload") or "pingpong").split(":")[0]
    if shape == "pingpong":
        return ""
    parts = []
    if shape in ("pipeline", "size"):
        parts.append("depth %s, %s B a message, %s out, %s in" % (
            _dash(s.get("depth")), _dash(s.get("msg_bytes")), _rate_bytes(s.get("tx_bytes_per_s")),
            _rate_bytes(s.get("rx_bytes_per_s"))))
    if shape in ("churn", "storm"):
        parts.append("%s connections opened/s, connect p50 %s p99 %s max %s, %s connect errors" % (
            fmt_int(s["conns_opened_per_s"]) if s.get("conns_opened_per_s") is not None else "-",
            fmt_lat(s.get("connect_p50_us")), fmt_lat(s.get("connect_p99_us")),
            fmt_lat(s.get("connect_max_us")), _dash(s.get("connect_errors"))))
    if shape == "churn":
        parts.append("%s TIME_WAIT at the client" % _dash(s.get("client_time_wait")))
        if s.get("server_us_per_conn") is not None:
            parts.append("server %.1f us per connection" % s["server_us_per_conn"])
    if shape == "push":
        parts.append("%s pushes received, %s missing, %s mismatched; delivery p50 %s p99 %s max %s" % (
            _dash(s.get("pushes_received")), _dash(s.get("pushes_missing")),
            _dash(s.get("push_mismatches")), fmt_lat(s.get("push_p50_us")),
            fmt_lat(s.get("push_p99_us")), fmt_lat(s.get("push_max_us"))))
        if s.get("push_silent"):
            parts.append("%s connections open at the close never got a push" % s["push_silent"])
        if s.get("fanout_broadcasts") is not None:
            parts.append("fan-out p50 %s max %s over %s broadcasts (%s incomplete)" % (
                _secs(s.get("fanout_p50_s")), _secs(s.get("fanout_max_s")),
                _dash(s.get("fanout_broadcasts")), _dash(s.get("fanout_incomplete"))))
        us = s.get("server_us_per_push")
        parts.append("server %s us per push, %s pushes sent, %s slow consumers dropped" % (
            "-" if us is None else "%.2f" % us, _dash(s.get("pushes_sent")),
            _dash(s.get("slow_dropped"))))
    if shape == "heartbeat":
        parts.append("heartbeats %s s apart, late p99 %s max %s, client CPU %s s per 1,000 conns" % (
            _dash(s.get("heartbeat_s")), fmt_lat(s.get("heartbeat_late_p99_us")),
            fmt_lat(s.get("heartbeat_late_max_us")), _dash(s.get("client_cpu_per_1k_conns"))))
    if shape == "storm":
        rec = s.get("storm_recovery_s")
        parts.append("storm: %s dropped, %s back in %s, %s retries" % (
            _dash(s.get("storm_dropped")), _dash(s.get("storm_back")),
            "-" if rec is None else "%.3f s" % rec, _dash(s.get("storm_retries"))))
    if s.get("accepts_per_loop_max") is not None and shape in ("churn", "storm"):
        sp = s.get("accept_spread")
        parts.append("accepts per server loop %s..%s (max/min %s)" % (
            fmt_int(s["accepts_per_loop_min"]), fmt_int(s["accepts_per_loop_max"]),
            "-" if sp is None else "%.2f" % sp))
    if s.get("listen_overflows") or s.get("listen_drops"):
        parts.append("listen overflows %s, drops %s" % (s.get("listen_overflows"), s.get("listen_drops")))
    return "%s: %s" % (s.get("workload"), "; ".join(parts))


def hosts_table(facts):
    """Each host's share of a --hosts run, and its window against the common
    one; no final newline."""
    merged = facts.client if isinstance(facts.client, dict) else None
    s0 = num(merged, "window_start_us")
    out = []
    for i, name in enumerate(facts.host_names):
        c = facts.clients[i] if i < len(facts.clients) else None
        if not isinstance(c, dict):
            out.append("  host %s: no result\n" % name)
            continue
        pct = cpu_pct(c.get("cpu_window"), num(c, "duration_s"))
        ws = num(c, "window_start_us")
        skew = (ws - s0) / 1000 if s0 is not None and ws is not None else 0
        out.append("  host %-16s %9s conns %9s rps  p99 %-8s CPU %s%% (%s loops, %s cpus)  window opened %+.1f ms\n" % (
            name, fmt_int(num0(c, "conns")), fmt_int(num0(c, "rps")), fmt_lat(lat(c, "p99")),
            _pct(pct), _dash(c.get("loops")), _dash(c.get("cpus")), skew))
    if merged is not None:
        out.append("  merged: window %.2f s in common, skew %s ms\n" % (
            num0(merged, "duration_s"), _dash(merged.get("window_skew_ms"))))
    return "".join(out).rstrip("\n")
