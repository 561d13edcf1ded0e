"""--workload W: the traffic shapes, named with their parameters, and the
client arguments each one maps to (pure; UsageError on bad input).

    pingpong          one 8-byte request in flight per connection (default;
                      adds nothing)
    pipeline:N        N requests in flight per connection      -> -q N
    size:BYTES        BYTES a request and its reply, 8..1 MiB  -> -l BYTES
                      (a K or M suffix: KiB, MiB, as the client takes)
    churn:N[,rst]     a new connection after N round trips     -> -x N [-R]
                      (FIN close; ",rst": SO_LINGER 0)
    heartbeat:SEC     one request per connection every SEC     -> -H SEC
    storm:PCT@SEC     SEC into the window drop PCT% and        -> --storm PCT@SEC
                      reconnect them (SEC inside -d)
    push:broadcast,SEC,BYTES   the server writes first: every     server -b SEC -l BYTES,
                      connection one push every SEC              client --push
    push:rate,RATE,BYTES       RATE pushes/s over the             server -R RATE -l BYTES,
                      connections in turn                        client --push
                      (BYTES: the push body after its 24-byte header, 0..1 MiB;
                      only a server whose -L says push:1 takes one)

A Workload's name is canonical (size:4K -> size:4096), so compare's set
file and the tables key on one spelling per shape.
"""
import re
from dataclasses import dataclass, field
from typing import Tuple

from .model import UsageError

MAX_DEPTH = 4096            # the client's -q cap
MIN_BYTES, MAX_BYTES = 8, 1 << 20  # the client's -l range
MAX_LIFETIME = 1 << 30      # the client's -x cap
MIN_HEARTBEAT_S, MAX_HEARTBEAT_S = 0.001, 86400.0
MIN_PUSH_BYTES, MAX_PUSH_BYTES = 0, 1 << 20  # the servers' -l (push body) range
MAX_PUSH_RATE = 1e8
SHAPES = ("pingpong", "pipeline", "size", "churn", "heartbeat", "storm", "push")
# The client flags each shape sets: the same flag in -C as well is refused.
FLAGS = {"pingpong": (), "pipeline": ("-q",), "size": ("-l",), "churn": ("-x", "-R"),
         "heartbeat": ("-H",), "storm": ("--storm",), "push": ("--push", "--push-echo")}
# The server flags: the same in -S as well is refused.
SERVER_FLAGS = {"push": ("-b", "-R", "-l")}
SYNTAX = ("pingpong, pipeline:N, size:BYTES, churn:N[,rst], heartbeat:SEC, storm:PCT@SEC, "
          "push:broadcast,SEC,BYTES or push:rate,RATE,BYTES")
_NUM = re.compile(r"[0-9]+(\.[0-9]+)?")


@dataclass(frozen=True)
class Workload:
    name: str                       # canonical: "pipeline:4", "churn:1,rst"
    shape: str                      # one of SHAPES
    params: dict = field(default_factory=dict)  # the parsed parameters (JSON-ready)
    args: Tuple[str, ...] = ()      # the client arguments it adds
    server_args: Tuple[str, ...] = ()  # the server arguments it adds (push)


PINGPONG = Workload("pingpong", "pingpong", {}, ())


def _plain(x):
    """2.0 -> "2", 0.5 -> "0.5": seconds as a person types them."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _int(text, what, lo, hi, spec):
    if not re.fullmatch(r"[0-9]+", text) or not lo <= int(text) <= hi:
        raise UsageError(f"--workload {spec}: {what} must be an integer in {lo}..{hi}")
    return int(text)


def _bytes(text, spec, lo=MIN_BYTES, hi=MAX_BYTES):
    m = re.fullmatch(r"([0-9]+)([KkMm]?)", text)
    n = int(m.group(1)) << {"": 0, "k": 10, "m": 20}[m.group(2).lower()] if m else -1
    if not lo <= n <= hi:
        raise UsageError(f"--workload {spec}: BYTES must be {lo}..{hi} "
                         "(a K or M suffix: KiB, MiB)")
    return n


def _push(arg, spec):
    """push:broadcast,SEC,BYTES or push:rate,RATE,BYTES -> Workload."""
    parts = arg.split(",")
    if len(parts) != 3 or parts[0] not in ("broadcast", "rate"):
        raise UsageError(f"--workload {spec}: want push:broadcast,SEC,BYTES or "
                         "push:rate,RATE,BYTES, e.g. push:broadcast,10,8")
    kind, val, size = parts
    n = _bytes(size, spec, MIN_PUSH_BYTES, MAX_PUSH_BYTES)
    v = float(val) if _NUM.fullmatch(val) else -1.0
    if kind == "broadcast":
        if not MIN_HEARTBEAT_S <= v <= MAX_HEARTBEAT_S:
            raise UsageError(f"--workload {spec}: SEC must be seconds in "
                             f"{MIN_HEARTBEAT_S:g}..{MAX_HEARTBEAT_S:g}")
        s = _plain(v)
        return Workload(f"push:broadcast,{s},{n}", "push",
                        {"mode": "broadcast", "every_s": v, "bytes": n}, ("--push",),
                        ("-b", s, "-l", str(n)))
    if not 0 < v <= MAX_PUSH_RATE:
        raise UsageError(f"--workload {spec}: RATE must be pushes/s in (0, {MAX_PUSH_RATE:g}]")
    r = _plain(v)
    return Workload(f"push:rate,{r},{n}", "push", {"mode": "rate", "rate": v, "bytes": n},
                    ("--push",), ("-R", r, "-l", str(n)))


def parse(spec, duration=None):
    """'pipeline:4' -> Workload. DURATION: the window's seconds (-d as a
    string or number; None = the default 10) a storm must fall inside."""
    spec = spec.strip()
    shape, sep, arg = spec.partition(":")
    if shape not in SHAPES:
        raise UsageError(f"--workload: unknown shape '{shape}'; want {SYNTAX}")
    if shape == "pingpong":
        if sep:
            raise UsageError("--workload pingpong takes no parameter")
        return PINGPONG
    if not arg:
        raise UsageError(f"--workload {shape} needs its parameter: {SYNTAX}")
    if shape == "push":
        return _push(arg, spec)
    if shape == "pipeline":
        n = _int(arg, "N (requests in flight)", 1, MAX_DEPTH, spec)
        return Workload(f"pipeline:{n}", shape, {"depth": n}, ("-q", str(n)))
    if shape == "size":
        n = _bytes(arg, spec)
        return Workload(f"size:{n}", shape, {"bytes": n}, ("-l", str(n)))
    if shape == "churn":
        life, comma, close = arg.partition(",")
        if comma and close != "rst":
            raise UsageError(f"--workload {spec}: after the comma only 'rst' (close by RST)")
        n = _int(life, "N (round trips a connection)", 1, MAX_LIFETIME, spec)
        rst = bool(comma)
        return Workload(f"churn:{n}" + (",rst" if rst else ""), shape,
                        {"lifetime": n, "close": "rst" if rst else "fin"},
                        ("-x", str(n)) + (("-R",) if rst else ()))
    if shape == "heartbeat":
        if not _NUM.fullmatch(arg) or not MIN_HEARTBEAT_S <= float(arg) <= MAX_HEARTBEAT_S:
            raise UsageError(f"--workload {spec}: SEC must be seconds in "
                             f"{MIN_HEARTBEAT_S:g}..{MAX_HEARTBEAT_S:g}")
        s = _plain(float(arg))
        return Workload(f"heartbeat:{s}", shape, {"every_s": float(arg)}, ("-H", s))
    # storm
    pct, at, when = arg.partition("@")
    if not at or not _NUM.fullmatch(when):
        raise UsageError(f"--workload {spec}: want storm:PCT@SEC, e.g. storm:10@5")
    p = _int(pct, "PCT", 1, 100, spec)
    window = float(duration) if duration is not None else 10.0
    if float(when) >= window:
        raise UsageError(f"--workload {spec}: second {_plain(float(when))} is outside the "
                         f"{_plain(window)} s window (-d)")
    s = _plain(float(when))
    return Workload(f"storm:{p}@{s}", shape, {"pct": p, "at_s": float(when)},
                    ("--storm", f"{p}@{s}"))


def parse_list(values, duration=None):
    """Every --workload given (each may be a ';'-separated list) ->
    [Workload], in order, each once."""
    out, seen = [], set()
    for v in values:
        for spec in v.split(";"):
            if not spec.strip():
                raise UsageError(f"--workload: an empty shape in '{v}'")
            w = parse(spec, duration)
            if w.name not in seen:
                seen.add(w.name)
                out.append(w)
    return out


def _sets(word, flag):
    """Whether a -C word sets FLAG: -q, -q4, --storm, --storm=..."""
    if flag.startswith("--"):
        return word == flag or word.startswith(flag + "=")
    return word == flag or (word.startswith(flag) and not word.startswith("--"))


def check_extra(w, extra_c, extra_s=()):
    """Refuse a workload whose flag -C (or, for the server's, -S) gives as
    well (-r, -H and -x combine in the client: a rate on top of
    heartbeats or churn is the user's to add)."""
    for flag in FLAGS[w.shape]:
        if any(_sets(x, flag) for x in extra_c):
            raise UsageError(f"--workload {w.name} sets the client's {flag}: "
                             f"not {flag} in -C as well")
    for flag in SERVER_FLAGS.get(w.shape, ()):
        if any(_sets(x, flag) for x in extra_s):
            raise UsageError(f"--workload {w.name} sets the server's {flag}: "
                             f"not {flag} in -S as well")
