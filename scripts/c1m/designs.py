"""Which directories hold a design's server and client, and what the
programs say of themselves with -L (never their -h text).

Paths are relative to the repository root, where run.sh runs.
"""
import glob
import json
import os
import re
import subprocess

from .plan import Limits


class LimitsError(Exception):
    """A program cannot say its limits: one line, run exits 1."""


def dir_of(nn):
    """The NN_* directory of number nn, or ""."""
    for d in sorted(glob.glob(f"{nn}_*/")):
        if os.path.isdir(d):
            return d.rstrip("/")
    return ""


def _nearest(n, name):
    for i in range(n, 0, -1):
        d = dir_of("%02d" % i)
        if d and os.path.isfile(os.path.join(d, name)):
            return d
    return ""


def server_dir(nn):
    """The directory whose server design nn runs: its own, or the nearest
    lower-numbered one."""
    return _nearest(int(nn, 10), "server.c")


def client_dir(nn):
    """The directory whose client drives design nn: its own for 01-05, and
    05_multi_epoll_client for 06 and up (their client.c files only set 05's
    defaults); without one, the nearest lower-numbered client."""
    return _nearest(min(int(nn, 10), 5), "client.c")


ENGINE = "05_multi_epoll_client"


def workload_client_dir(nn):
    """The client that drives design nn under a --workload other than
    ping-pong: 05's engine for every design whose own client is that
    engine with other defaults (01 and 02 hold a fixed 200 requests/s,
    03 one loop), so every design meets the same instrument; 04's own
    single-loop client stays (its lesson), and says what it cannot do."""
    own = client_dir(nn)
    try:
        with open(os.path.join(own, "client.c")) as f:
            engine = f'"../{ENGINE}/engine.h"' in f.read()
    except OSError:
        engine = False
    return ENGINE if engine and os.path.isdir(ENGINE) else own


def valid_designs():
    """Every number with a directory, a server and a client to run."""
    out = []
    for d in sorted(glob.glob("[0-9][0-9]_*/")):
        nn = d.split("_", 1)[0]
        if os.path.isdir(d) and nn not in out and server_dir(nn) and client_dir(nn):
            out.append(nn)
    return out


def limits_line(prog):
    """PROGRAM -L's one JSON line; raises LimitsError when it cannot say."""
    try:
        r = subprocess.run(["timeout", "5", "./" + prog, "-L"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        rc, out = r.returncode, r.stdout.decode(errors="replace").rstrip("\n")
    except OSError as e:
        rc, out = 127, str(e)
    if rc == 0 and out.startswith("{") and out.endswith("}") and "\n" not in out:
        return out
    first = out.split("\n", 1)[0]
    printed = f', printed "{first}"' if first else ""
    raise LimitsError(f"./{prog} -L failed (exit {rc}{printed}): it must print its limits as one"
                      f" JSON line; rebuild it (make {prog})")


def _jtext(v):
    """A JSON value as its text in the line (what the sizing checks)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    return json.dumps(v)


def limit(prog, line, *wants):
    """Each (KEY, WANT) of PROGRAM's -L line: its value as text, checked
    against the regex WANT; a missing or odd value raises LimitsError."""
    try:
        obj = json.loads(line)
        if not isinstance(obj, dict):
            raise ValueError("not an object")
    except ValueError as e:
        raise LimitsError(f"./{prog} -L: not a JSON object ({e}): {line}")
    out = []
    for key, want in wants:
        v = _jtext(obj.get(key))
        if not re.fullmatch(f"({want})", v):
            raise LimitsError(f"./{prog} -L: \"{key}\" is '{v}', want {want}, in: {line}")
        out.append(v)
    return out


def _probe(argv):
    """argv exits 0 (a program accepting an option before -L)."""
    try:
        return subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              stdin=subprocess.DEVNULL).returncode == 0
    except OSError:
        return False


INT = "[1-9][0-9]*"


def limits(sdir, cdir):
    """Both programs' -L lines -> Limits; the -n / -P probes. Raises
    LimitsError with one line."""
    s = limits_line(f"{sdir}/server")
    c = limits_line(f"{cdir}/client")
    kind, tables, target, sfd, scap, sloops = limit(
        f"{sdir}/server", s, ("thread_per_conn", "0|1"), ("fd_tables", "one|many"),
        ("target", INT), ("fd_limit", INT), ("table_cap", INT), ("max_loops", INT))
    ctables, cfd, ccap, cloops, per_src, rate = limit(
        f"{cdir}/client", c, ("fd_tables", "one|many"), ("fd_limit", INT), ("table_cap", INT),
        ("max_loops", INT), ("per_src", INT), ("rate", r"[0-9]+(\.[0-9]+)?(e[-+][0-9]+)?"))
    return Limits(
        kind="threads" if kind == "1" else "events", tables=tables, target=int(target),
        srv_reserve=int(sfd) - int(scap), srv_loops=int(sloops), cli_tables=ctables,
        cli_reserve=int(cfd) - int(ccap), cli_loops=int(cloops), per_src=int(per_src),
        rate_default=rate,
        push=_pushes(s),
        server_n=_probe([f"./{sdir}/server", "-n", "1", "-L"]),
        client_p=_probe([f"./{cdir}/client", "-P", "1", "-L"]))


def _pushes(line):
    """A server -L line says push:1 (the push flags -b, -R, -l, -Q)."""
    try:
        obj = json.loads(line)
    except ValueError:
        return False
    return isinstance(obj, dict) and obj.get("push") == 1


def server_pushes(sdir):
    """SDIR's server has the push flags: its -L line says push:1."""
    try:
        return _pushes(limits_line(f"{sdir}/server"))
    except LimitsError:
        return False


def client_has_barrier(cdir):
    """The client takes -B (the start barrier of --hosts)."""
    return _probe([f"./{cdir}/client", "-B", "-L"])


def client_takes(cdir, args):
    """The client accepts ARGS (a workload's flags): it parses them before -L."""
    return _probe([f"./{cdir}/client"] + list(args) + ["-L"])
