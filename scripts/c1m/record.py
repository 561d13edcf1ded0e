# STAND-IN: replaced by the record helper's module (record.py). It writes
# today's result shape (run.sh's record(), csv_row, print_table) so that
# run.py's tests run; the record helper owns the schema and its rules.
"""The result: summary (bottleneck verdict), result JSON, CSV row, table."""
import csv
import io
import json
import os
import platform
import resource
import shutil
import socket
import subprocess
import time

from . import plan
from .fmt import fmt_bytes, fmt_int, fmt_lat

CSV_COLS = ("started,nn,design,client,status,quick,netns,set,hosts,window_skew_ms,pin_server,"
            "pin_client,conns_target,conns,connect_s,first_round_s,duration_s,rps,server_window_rps,"
            "rps_agreement,rate_target,rate_achieved,late_sends,dropped,p50_us,p99_us,max_us,errors,"
            "mismatches,server_rss_b_per_conn,kernel_b_per_conn,server_us_per_rt,client_us_per_rt,"
            "client_cpu_window_pct,server_cpu_window_pct,client_cpu_run_pct,server_cpu_run_pct,"
            "bottleneck").split(",")


def _num(d, key):
    v = (d or {}).get(key)
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _f(d, key):
    return _num(d, key) or 0


def cpu_pct(obj, secs):
    if not isinstance(obj, dict) or secs is None or secs <= 0:
        return None
    u, s = _num(obj, "user_s"), _num(obj, "sys_s")
    if u is None or s is None:
        return None
    return 100 * (u + s) / secs


def machine_busy(a, b, ncpu):
    x, y = a.split(), b.split()
    if len(x) < 6 or len(y) < 6:
        return 0
    x = [int(v) for v in x[1:9]] + [0] * 8
    y = [int(v) for v in y[1:9]] + [0] * 8
    tot = sum(y[i] - x[i] for i in range(8))
    idle = (y[3] - x[3]) + (y[4] - x[4])
    return 100 * ncpu * (tot - idle) / tot if tot > 0 else 0


def bottleneck(c_pct, s_pct, c_loops, s_loops, ncpu, rps, c_cpus, s_cpus):
    if not rps or rps <= 0:
        return "none (no load)"
    c_cpus = ncpu if c_cpus < 1 or c_cpus > ncpu else c_cpus
    s_cpus = ncpu if s_cpus < 1 or s_cpus > ncpu else s_cpus
    c_loops = c_cpus if c_loops < 1 or c_loops > c_cpus else c_loops
    s_loops = s_cpus if s_loops < 1 or s_loops > s_cpus else s_loops
    c_sat, s_sat = c_pct >= 85 * c_loops, s_pct >= 85 * s_loops
    if c_sat and not s_sat:
        return "client"
    if s_sat and not c_sat:
        return "server"
    if c_cpus + s_cpus <= ncpu:
        return "both (pinned)" if c_sat else "neither (waiting)"
    if c_pct + s_pct >= 75 * ncpu:
        return ("server" if s_pct >= c_pct else "client") + " (cores shared)"
    return "neither (waiting)"


def _r(v, nd):
    if v is None:
        return None
    return int(round(v)) if nd == 0 else round(v, nd)


def peaks(facts):
    rows = facts.samples
    slab = max((r[1] for r in rows), default=0) or facts.slab0_kb
    return [slab, max((r[2] for r in rows), default=0), rows[-1][3] if rows else 0,
            max((r[4] for r in rows), default=0), max((r[5] for r in rows), default=0)]


def _numtext(v):
    return int(v) if float(v).is_integer() else v


def summary(facts, opts, ncpu):
    c, s = facts.client or {}, facts.server or {}
    p = peaks(facts)
    status = "ok" if facts.client_rc == 0 and facts.server_rc == 0 and facts.client and facts.server else "failed"
    conns = _f(c, "conns")
    rss = _num(s, "rss_kb_total")
    if rss is None:
        rss = _num(s, "rss_kb_peak")
    if rss is None or rss < p[4]:
        rss = p[4]
    slab_d = max(p[0] - facts.slab0_kb, 0)
    wall = facts.client_wall_s
    ccpu = _f(c, "cpu_user_s") + _f(c, "cpu_sys_s")
    scpu = _f(s, "cpu_user_s") + _f(s, "cpu_sys_s")
    cpct = 100 * ccpu / wall if wall > 0 else 0
    spct = 100 * scpu / wall if wall > 0 else 0
    cwin = cpu_pct(c.get("cpu_window"), _num(c, "duration_s"))
    swin = cpu_pct(s.get("cpu_window"), _num(s, "window_s"))
    rps = _f(c, "rps")
    srps = _num(s, "window_rps")
    agree = rps / srps if srps else None
    mpct = machine_busy(facts.stat0, facts.stat1, ncpu)
    other = max(mpct - cpct - spct, 0)
    sl = _num(s, "loops") or _num(s, "procs") or _num(s, "workers") or 0
    if cwin is None or swin is None:
        neck = "unknown (no window CPU)"
    else:
        neck = bottleneck(cwin, swin, _f(c, "loops"), sl, ncpu, rps, plan.cpu_count(facts.pin_client),
                          plan.cpu_count(facts.pin_server))
    rate = facts.rate
    if _num(c, "rate_target") is not None:
        rate = c["rate_target"]
    if rate > 0 and rps >= 0.9 * rate:
        neck = f"client rate (-r {_numtext(rate)})"
    if neck.startswith("neither") and mpct >= 75 * ncpu and other >= 25 * ncpu:
        neck = "other processes (machine busy)"
    lat = c.get("lat_us") or {}
    return {
        "nn": facts.nn, "design": facts.server_dir, "server": facts.server_dir, "client": facts.client_dir,
        "variant": " ".join(opts.extra_s + opts.extra_c), "set": facts.set_id,
        "hosts": max(len(facts.host_names), 1), "host_list": ",".join(facts.host_names),
        "window_skew_ms": _num(c, "window_skew_ms"), "status": status, "quick": int(opts.quick),
        "netns": int(facts.netns), "started": facts.started,
        "pin_server": facts.pin_server, "pin_client": facts.pin_client,
        "conns_target": facts.conns, "conns": conns, "connect_s": _f(c, "connect_s"),
        "first_round_s": _num(c, "first_round_s"), "duration_s": _f(c, "duration_s"), "rps": _r(rps, 0),
        "server_window_rps": _r(srps, 0), "rps_agreement": _r(agree, 4),
        "rate_target": _num(c, "rate_target"), "rate_achieved": _num(c, "rate_achieved"),
        "late_sends": _num(c, "late_sends"), "dropped": _num(c, "dropped"),
        "p50_us": _f(lat, "p50"), "p99_us": _f(lat, "p99"), "max_us": _f(lat, "max"), "mean_us": _f(lat, "mean"),
        "errors": int(_f(c, "errors")), "mismatches": int(_f(c, "mismatches")),
        "server_rss_kb": int(rss), "server_rss_b_per_conn": _r(rss * 1024 / conns if conns else 0, 0),
        "slab_delta_kb": int(slab_d), "kernel_b_per_conn": _r(slab_d * 1024 / conns if conns else 0, 0),
        "tcp_mem_b_per_conn": _r(p[3] * 4096 / conns if conns else 0, 0),
        "server_us_per_rt": _r(_num(s, "server_us_per_rt"), 2),
        "client_us_per_rt": _r(_num(c, "client_us_per_rt"), 2),
        "client_cpu_window_pct": _r(cwin, 0), "server_cpu_window_pct": _r(swin, 0),
        "client_cpu_run_s": _r(ccpu, 2), "server_cpu_run_s": _r(scpu, 2),
        "client_cpu_run_pct": _r(cpct, 0), "server_cpu_run_pct": _r(spct, 0),
        "client_rate": _numtext(rate), "machine_cpu_pct": _r(mpct, 0), "other_cpu_pct": _r(other, 0),
        "bottleneck": neck,
    }


def provenance(repo_dir):
    try:
        sha = subprocess.run(["git", "-C", repo_dir, "rev-parse", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "-C", repo_dir, "status", "--porcelain"], capture_output=True, text=True)
        if sha.returncode == 0:
            return {"commit": sha.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except OSError:
        pass
    return {"commit": "unknown", "dirty": False}


def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lim = lambda v: "unlimited" if v == resource.RLIM_INFINITY else str(v)  # noqa: E731
    return {"kernel": platform.release(), "cores": os.cpu_count(), "cpu": cpu, "mem_total_kb": mem,
            "hostname": socket.gethostname(), "rlimit_nofile": f"{lim(soft)}/{lim(hard)}"}


def result(facts, opts, summary, machine, provenance):
    from .cli import command_line
    p = peaks(facts)
    run = {"server_pid": facts.server_pid}
    if facts.client_pids:
        run["client_pid"] = facts.client_pids[0]
    run.update({"netns": facts.netns_name, "tune_state": facts.tune_state})
    r = {"summary": summary, "command": command_line(opts.argv), "server_cmd": facts.server_line,
         "client_cmd": facts.client_line, "exit": {"client": facts.client_rc, "server": facts.server_rc},
         "run": run, "provenance": provenance,
         "machine": dict(machine, mem_available_kb=facts.mem_available0_kb),
         "sizing": {"conns": facts.conns, "asked": facts.asked, "cap": facts.size_cap,
                    "limited_by": facts.size_why},
         "sysctls": facts.sysctls,
         "tcp_ext": {k: facts.tcp_ext1.get(k, 0) - facts.tcp_ext0.get(k, 0) for k in facts.tcp_ext1},
         "kernel": {"slab_kb_before": facts.slab0_kb, "peaks": " ".join(str(x) for x in p),
                    "peaks_are": "slab_kb tcp_inuse tcp_tw_at_end tcp_mem_pages server_rss_kb"},
         "client": facts.client}
    if facts.host_names:
        r["clients"] = facts.clients
    r["server"] = facts.server
    return r


def _csv_text(v):
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    return json.dumps(v)


def write(result, results_dir, logs):
    s = result["summary"]
    base = f"{s['nn']}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    if os.path.exists(os.path.join(results_dir, base + ".json")):
        base += f"-{s['conns_target']}"
    path = os.path.join(results_dir, base + ".json")
    os.makedirs(os.path.join(results_dir, "logs"), exist_ok=True)
    for name, src in logs.items():
        if os.path.exists(src):
            shutil.copy(src, os.path.join(results_dir, "logs", f"{base}-{name}.log"))
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    csv_path = os.path.join(results_dir, "results.csv")
    header = ",".join(CSV_COLS) + ",file"
    if os.path.exists(csv_path) and os.path.getsize(csv_path) > 0:
        with open(csv_path) as f:
            first = f.readline().rstrip("\n")
        if first != header:
            old = os.path.join(results_dir, f"results-until-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}.csv")
            os.rename(csv_path, old)
            print(f"run.sh: results.csv had other columns; kept as {old}", flush=True)
    new = not (os.path.exists(csv_path) and os.path.getsize(csv_path) > 0)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if new:
        buf.write(header + "\n")
    w.writerow([_csv_text(s.get(k)) for k in CSV_COLS] + [base + ".json"])
    with open(csv_path, "a") as f:
        f.write(buf.getvalue())
    return path


def table(summaries):
    fmt = "%-30s %9s %8s %9s %8s %8s %8s %9s %9s %9s %9s  %s"
    out = [fmt % ("design", "conns", "connect", "rps", "p50", "p99", "max", "srv us/rt", "srv RSS",
                  "kernel", "CPU c/s", "bottleneck"),
           fmt % ("", "", "", "", "", "", "", "(window)", "per conn", "per conn", "(window)", "")]
    dash = lambda v: "-" if v is None or v == "" else str(v)  # noqa: E731
    for s in summaries:
        d = s["design"]
        if not s["client"].startswith("05_") and s["client"] != d:
            d = d + "+" + s["client"][:2]
        if s.get("hosts", 1) > 1:
            d += f", {s['hosts']} hosts"
        us = s.get("server_us_per_rt")
        us = "-" if us is None else ("%.1f" % us if us < 100 else "%.0f" % us)
        out.append(fmt % (d, fmt_int(s["conns"]), "%.1f s" % s["connect_s"], fmt_int(s["rps"]),
                          fmt_lat(s["p50_us"]), fmt_lat(s["p99_us"]), fmt_lat(s["max_us"]), us,
                          fmt_bytes(s["server_rss_b_per_conn"]), fmt_bytes(s["kernel_b_per_conn"]),
                          dash(s["client_cpu_window_pct"]) + "/" + dash(s["server_cpu_window_pct"]),
                          s["bottleneck"] + ("" if s["status"] == "ok" else "  FAILED")))
    return "\n".join(out)


def hosts_table(facts):
    return ""
