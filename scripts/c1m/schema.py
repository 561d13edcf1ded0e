"""The result file's schema (docs/results-schema.md says every key, its unit
and who produced it): validate() a document, load() any result file.

Version 2 is what record.result() writes. Version 1 is every older file
(run.sh's record() before Python; no "schema_version"): load() lifts it to
the version 2 shape in memory, with "unknown"/None/[] where the old file has
nothing, and "source_version": 1 so a reader can tell.
"""
import json
import math
import shlex

SCHEMA_VERSION = 2
PEAK_KEYS = ("slab_kb", "tcp_inuse", "tcp_tw_at_end", "tcp_mem_pages", "server_rss_kb")

# Summary keys: "n" a number, "n?" a number or null, "s" a string,
# "i" an integer 0/1 flag or count.
SUMMARY = {
    "nn": "s", "design": "s", "server": "s", "client": "s", "variant": "s", "set": "s",
    "hosts": "n", "host_list": "s", "window_skew_ms": "n?", "status": "s", "quick": "n",
    "netns": "n", "started": "s", "pin_server": "s", "pin_client": "s",
    "conns_target": "n", "conns": "n", "connect_s": "n", "first_round_s": "n?",
    "duration_s": "n", "rps": "n", "server_window_rps": "n?", "rps_agreement": "n?",
    "rate_target": "n?", "rate_achieved": "n?", "late_sends": "n?", "dropped": "n?",
    "p50_us": "n", "p99_us": "n", "max_us": "n", "mean_us": "n", "errors": "n",
    "mismatches": "n", "server_rss_kb": "n", "server_rss_b_per_conn": "n",
    "slab_delta_kb": "n", "kernel_b_per_conn": "n", "tcp_mem_b_per_conn": "n",
    "server_us_per_rt": "n?", "client_us_per_rt": "n?", "client_cpu_window_pct": "n?",
    "server_cpu_window_pct": "n?", "client_cpu_run_s": "n", "server_cpu_run_s": "n",
    "client_cpu_run_pct": "n", "server_cpu_run_pct": "n", "client_rate": "n",
    "machine_cpu_pct": "n", "other_cpu_pct": "n", "bottleneck": "s",
    # --workload
    "workload": "s", "workload_params": "o",
    "depth": "n?", "msg_bytes": "n?", "tx_bytes_per_s": "n?", "rx_bytes_per_s": "n?",
    "connect_p50_us": "n?", "connect_p99_us": "n?", "connect_max_us": "n?",
    "connect_errors": "n?", "conns_opened_per_s": "n?", "churned": "n?", "reconnects": "n?",
    "client_time_wait": "n?", "heartbeat_s": "n?", "heartbeat_late_p99_us": "n?",
    "heartbeat_late_max_us": "n?", "client_cpu_per_1k_conns": "n?",
    "storm_dropped": "n?", "storm_back": "n?", "storm_retries": "n?", "storm_recovery_s": "n?",
    "listen_overflows": "n?", "listen_drops": "n?",
    "accepts_per_loop_min": "n?", "accepts_per_loop_max": "n?", "accept_spread": "n?",
    "server_us_per_conn": "n?", "server_us_per_kb": "n?",
    # push workloads (client: deliveries, fan-out, clock; server: pushes)
    "pushes_received": "n?", "pushes_missing": "n?", "push_mismatches": "n?", "push_silent": "n?",
    "push_bytes_received": "n?", "push_p50_us": "n?", "push_p99_us": "n?",
    "push_p999_us": "n?", "push_max_us": "n?", "fanout_broadcasts": "n?",
    "fanout_incomplete": "n?", "fanout_p50_s": "n?", "fanout_max_s": "n?",
    "clock_offset_us": "n?", "clock_maxerror_us": "n?", "pushes_sent": "n?",
    "push_bytes": "n?", "slow_dropped": "n?", "window_pushes": "n?",
    "server_us_per_push": "n?",
    # --restart-at (null without it)
    "restart_at_s": "n?", "restart_down_s": "n?", "restart_dropped": "n?", "restart_back": "n?",
    "restart_retries": "n?", "restart_recovery_s": "n?",
}
# Summary keys a file written before --workload (or --restart-at) lacks:
# load() fills them (a run then was ping-pong unless -C said otherwise;
# "" = not recorded).
WORKLOAD_KEYS = tuple(list(SUMMARY)[list(SUMMARY).index("workload"):])
# Top-level keys of a version 2 document and their JSON types.
TOP = {
    "schema_version": int, "summary": dict, "commit": str, "dirty": (bool, type(None)),
    "command": str, "server_cmd": str, "client_cmd": str, "argv": dict, "exit": dict,
    "run": dict, "compare": dict, "machine": dict, "sizing": dict, "sysctls": dict,
    "tcp_ext": dict, "kernel": dict, "samples": dict, "progress": list,
    "client": (dict, type(None)), "server": (dict, type(None)),
}
OPTIONAL_TOP = {"hosts": list, "clients": list, "source_version": int,
                "restart": dict, "server_before_restart": (dict, type(None))}  # --restart-at


class Invalid(ValueError):
    """A document that is not a version 2 result; the message lists why."""


def _isnum(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _hist_problems(h, where):
    if not isinstance(h, dict):
        return ["%s: not an object" % where]
    out = []
    for k in ("sub_bits", "count", "sum_ns", "min_ns", "max_ns"):
        if not isinstance(h.get(k), int) or h.get(k) < 0:
            out.append("%s.%s: want a non-negative integer" % (where, k))
    b = h.get("buckets")
    if not isinstance(b, list) or not all(
            isinstance(x, list) and len(x) == 2 and all(isinstance(y, int) and y >= 0 for y in x)
            for x in b):
        out.append("%s.buckets: want [[index, count], ...]" % where)
    elif isinstance(h.get("count"), int) and sum(x[1] for x in b) != h["count"]:
        out.append("%s: bucket counts do not add up to count" % where)
    return out


def problems(doc):
    """Every way DOC differs from a version 2 result (empty when it is one)."""
    if not isinstance(doc, dict):
        return ["not a JSON object"]
    out = []
    for k, t in TOP.items():
        if k not in doc:
            out.append("missing key %r" % k)
        elif not isinstance(doc[k], t):
            out.append("%r: wrong type %s" % (k, type(doc[k]).__name__))
    for k, t in OPTIONAL_TOP.items():
        if k in doc and not isinstance(doc[k], t):
            out.append("%r: wrong type %s" % (k, type(doc[k]).__name__))
    for k in doc:
        if k not in TOP and k not in OPTIONAL_TOP:
            out.append("unknown key %r" % k)
    if out:
        return out
    if doc["schema_version"] != SCHEMA_VERSION:
        out.append("schema_version %r, want %d" % (doc["schema_version"], SCHEMA_VERSION))
    s = doc["summary"]
    for k, t in SUMMARY.items():
        v = s.get(k, "MISSING")
        if v == "MISSING":
            out.append("summary: missing %r" % k)
        elif t == "s" and not isinstance(v, str):
            out.append("summary.%s: want a string, have %r" % (k, v))
        elif t == "n" and not _isnum(v) and not (doc.get("source_version") and v is None):
            out.append("summary.%s: want a number, have %r" % (k, v))
        elif t == "n?" and v is not None and not _isnum(v):
            out.append("summary.%s: want a number or null, have %r" % (k, v))
        elif t == "o" and not isinstance(v, dict):
            out.append("summary.%s: want an object, have %r" % (k, v))
    if s.get("status") not in ("ok", "failed"):
        out.append("summary.status: %r" % s.get("status"))
    for who in ("run", "server"):
        a = doc["argv"].get(who)
        if not isinstance(a, list) or not all(isinstance(x, str) for x in a):
            out.append("argv.%s: want a list of strings" % who)
    cl = doc["argv"].get("clients")
    if not isinstance(cl, list) or not all(
            isinstance(a, list) and all(isinstance(x, str) for x in a) for a in cl):
        out.append("argv.clients: want a list of lists of strings")
    sm = doc["samples"]
    if not isinstance(sm.get("columns"), list) or not isinstance(sm.get("rows"), list):
        out.append("samples: want columns and rows")
    elif not all(isinstance(r, list) and len(r) == len(sm["columns"]) and all(map(_isnum, r))
                 for r in sm["rows"]):
        out.append("samples.rows: want rows of %d numbers" % len(sm["columns"]))
    for p in doc["progress"]:
        if not (isinstance(p, dict) and _isnum(p.get("t_s")) and isinstance(p.get("who"), str)
                and isinstance(p.get("line"), str)):
            out.append("progress: want {t_s, who, line}, have %r" % (p,))
            break
    for who in ("client", "server"):
        if isinstance(doc[who], dict) and "hist" in doc[who]:
            out += _hist_problems(doc[who]["hist"], who + ".hist")
    if "clients" in doc and not all(c is None or isinstance(c, dict) for c in doc["clients"]):
        out.append("clients: want objects or null")
    if not isinstance(doc["kernel"].get("peaks"), dict):
        out.append("kernel.peaks: want an object")
    try:
        json.dumps(doc, allow_nan=False).encode("utf-8")
    except (ValueError, UnicodeEncodeError) as e:
        out.append("not strict JSON: %s" % e)
    return out


def validate(doc):
    """Raise Invalid naming every problem unless DOC is a version 2 result."""
    p = problems(doc)
    if p:
        raise Invalid("; ".join(p))


def _empty(t):
    """The value a summary key of type T has when a file predates it."""
    return "" if t == "s" else {} if t == "o" else None


def upgrade(doc):
    """A version 1 document (run.sh's bash record) in the version 2 shape."""
    if not isinstance(doc, dict) or not isinstance(doc.get("summary"), dict):
        raise Invalid("not a result file (no summary)")
    s = dict(doc["summary"])
    for k in SUMMARY:
        s.setdefault(k, _empty(SUMMARY[k]))
    command = doc.get("command") or ""
    try:
        run_argv = shlex.split(command)
    except ValueError:
        run_argv = []
    kernel = dict(doc.get("kernel") or {})
    peaks = kernel.get("peaks")
    if isinstance(peaks, str):
        vals = [float(x) if "." in x else int(x) for x in peaks.split()]
        kernel["peaks"] = dict(zip(PEAK_KEYS, vals))
        kernel.pop("peaks_are", None)
    elif not isinstance(peaks, dict):
        kernel["peaks"] = {}
    client = doc.get("client") if isinstance(doc.get("client"), dict) else None
    hosts = [h for h in (s.get("host_list") or "").split(",") if h]
    out = {
        "schema_version": SCHEMA_VERSION, "source_version": 1, "summary": s,
        "commit": "unknown", "dirty": None, "command": command,
        "server_cmd": doc.get("server_cmd") or "", "client_cmd": doc.get("client_cmd") or "",
        "argv": {"run": run_argv, "server": [], "clients": []},
        "exit": doc.get("exit") or {}, "run": doc.get("run") or {},
        "compare": {"set": s.get("set") or "", "round": 0, "rounds": 0, "reference": ""},
        "machine": doc.get("machine") or {}, "sizing": doc.get("sizing") or {},
        "sysctls": doc.get("sysctls") or {}, "tcp_ext": doc.get("tcp_ext") or {},
        "kernel": kernel, "samples": {"columns": [], "rows": []}, "progress": [],
        "client": client,
    }
    if "clients" in doc:
        out["hosts"] = hosts
        out["clients"] = [c if isinstance(c, dict) else None for c in doc["clients"] or []]
    out["server"] = doc.get("server") if isinstance(doc.get("server"), dict) else None
    return out


def from_json(doc):
    """Any parsed result document in the version 2 shape (validated)."""
    if not isinstance(doc, dict):
        raise Invalid("not a JSON object")
    v = doc.get("schema_version", 1)
    if v == 1:
        doc = upgrade(doc)
    elif v != SCHEMA_VERSION:
        raise Invalid("schema_version %r: this c1m reads 1 and %d" % (v, SCHEMA_VERSION))
    elif isinstance(doc.get("summary"), dict) and any(k not in doc["summary"] for k in WORKLOAD_KEYS):
        s = dict(doc["summary"])         # a version 2 file from before --workload (or push, or --restart-at)
        for k in WORKLOAD_KEYS:
            s.setdefault(k, _empty(SUMMARY[k]))
        doc = dict(doc, summary=s)
    validate(doc)
    return doc


def load(path):
    """The result file PATH in the version 2 shape; raises OSError, or
    Invalid (a ValueError) saying why it is not a result."""
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        try:
            doc = json.load(f)
        except ValueError as e:
            raise Invalid("%s: not JSON: %s" % (path, e))
    try:
        return from_json(doc)
    except Invalid as e:
        raise Invalid("%s: %s" % (path, e))
