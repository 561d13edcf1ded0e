#!/usr/bin/env python3
"""resets.py [NN ...] - a client that resets is counted under `resets`.

For every NN_*/server of the repository (or only those NN): start it on a
free port (-p 0), open CONNS connections, send one 8-byte frame on each and
read its echo, then close each with SO_LINGER {1, 0}, which sends an RST.
After a short wait, SIGTERM; the server must exit 0 with its JSON line and
count exactly CONNS resets and no errors: a reset is the peer's doing,
not an error of ours or of the network (common/c1m.h, stats_conn_closed).

Servers that take -w or -b BITS (10-13: per-request work) get -w 1000 /
-b 8; whether a server takes one is asked with "-w 1000 -L" (and its -h
synopsis, where -b is a push period on the pushing servers). A server
whose -L says push:1 runs a second time with -b 0.01 -l 4096: pushes stream
to every connection while it sends its frame, reads its echo among the
pushes, and resets mid-push; the server must count every reset as a reset
(no error, no slow_dropped). A server that exits 77 at start (14 without
io_uring) is skipped.

Prints "ok NN_x: ..." or "FAIL NN_x: why" per server and exits 1 if any
failed, 77 if every one was skipped. C1M_TEST_STRETCH stretches the waits.
"""
import glob
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STRETCH = float(os.environ.get("C1M_TEST_STRETCH", "1") or 1)
CONNS = 20
FRAME = 8


class Fail(Exception):
    pass


class Skip(Exception):
    pass


def work_args(server):
    """-w 1000 and -b 8 where the server takes them as per-request work (it
    accepts them with -L; -b only as -b BITS, not a push period)."""
    args = []
    usage = subprocess.run([server, "-h"], stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=10).stdout
    for flag in (["-w", "1000"], ["-b", "8"]):
        if flag[0] == "-b" and "[-b BITS]" not in usage:
            continue
        r = subprocess.run([server] + flag + ["-L"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
        if r.returncode == 0:
            args += flag
    return args


def pushes(server):
    """Does the server have the push flags (-L says push:1)?"""
    r = subprocess.run([server, "-L"], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=10)
    return r.returncode == 0 and json.loads(r.stdout).get("push") == 1


def recv_echo(s, n, push):
    """The next n echoed bytes; in push mode the pushes before them are
    skipped (each says its length in its first word, top bit set)."""
    if not push:
        return recv_exact(s, n)
    while True:
        word = recv_exact(s, FRAME)
        w = struct.unpack(">Q", word)[0]
        if not w >> 63:
            return word + recv_exact(s, n - FRAME)
        recv_exact(s, (w & ~(1 << 63)) - FRAME)


def recv_exact(s, n):
    got = b""
    while len(got) < n:
        chunk = s.recv(n - len(got))
        if not chunk:
            raise Fail(f"EOF after {len(got)} of {n} echoed bytes")
        got += chunk
    return got


def run(d, push=False):
    server = os.path.join(ROOT, d, "server")
    if not os.access(server, os.X_OK):
        raise Fail(f"{d}/server is not built (make {d}/server)")
    tmp = tempfile.mkdtemp(prefix="c1m-resets.")
    out_path, err_path = os.path.join(tmp, "out"), os.path.join(tmp, "err")
    argv = [server, "-p", "0", "-i", "1"] + work_args(server)
    if push:
        argv += ["-b", "0.01", "-l", "4096"]
    with open(out_path, "w") as out, open(err_path, "w") as err:
        # A session of its own: a prefork server's children go with it.
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                cwd=ROOT, start_new_session=True)

    def stderr():
        with open(err_path, errors="replace") as f:
            return f.read()

    def tail():
        return " | ".join(stderr().strip().splitlines()[-4:])

    socks = []
    try:
        end = time.monotonic() + 5 * STRETCH
        port = None
        while port is None:
            m = re.search(r"listening on [0-9.]+:(\d+)", stderr())
            if m:
                port = int(m.group(1))
            elif proc.poll() is not None:
                if proc.returncode == 77:
                    raise Skip(tail())
                raise Fail(f"exited {proc.returncode} at start: {tail()}")
            elif time.monotonic() > end:
                raise Fail("no 'listening on ADDR:PORT' within 5 s")
            else:
                time.sleep(0.02)
        for i in range(CONNS):
            s = socket.create_connection(("127.0.0.1", port), timeout=10 * STRETCH)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            socks.append(s)
        for i, s in enumerate(socks):
            frame = struct.pack(">Q", 0x0123456789ab0000 + i)
            s.sendall(frame)
            echo = recv_echo(s, FRAME, push)
            if echo != frame:
                raise Fail(f"connection {i}: echo {echo.hex()} != sent {frame.hex()}")
        if push:	# pushes keep coming: reset with them in flight
            time.sleep(0.05)
        for s in socks:
            # close() with SO_LINGER {on, 0}: an RST instead of a FIN.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        socks = []
        time.sleep(0.5 * STRETCH)
        if proc.poll() is not None:
            raise Fail(f"died after the resets: exit {proc.returncode}: {tail()}")
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=5 * STRETCH)
        except subprocess.TimeoutExpired:
            raise Fail(f"still running {5 * STRETCH:.0f} s after SIGTERM")
        if rc != 0:
            raise Fail(f"exited {rc} after SIGTERM, want 0: {tail()}")
        with open(out_path) as f:
            lines = [l for l in f.read().splitlines() if l.strip()]
        try:
            js = json.loads(lines[-1])
        except (IndexError, ValueError):
            raise Fail(f"no JSON line on stdout at SIGTERM: {lines[-1:]}")
        got = {k: js.get(k) for k in ("accepted", "resets", "errors")}
        if push:
            got["slow_dropped"] = js.get("slow_dropped")
            got["pushes_sent"] = js.get("pushes_sent")
        if js.get("resets") != CONNS or js.get("errors") != 0:
            raise Fail(f"{CONNS} connections reset: want resets == {CONNS} and errors == 0, "
                       f"JSON has {got}")
        if push and (js.get("slow_dropped") != 0 or not js.get("pushes_sent")):
            raise Fail(f"resets mid-push: want pushes_sent > 0 and slow_dropped == 0, "
                       f"JSON has {got}")
        return f"{CONNS} resets{' mid-push' if push else ''} counted as resets, 0 errors ({got})"
    finally:
        for s in socks:
            s.close()
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        for p in (out_path, err_path):
            if os.path.exists(p):
                os.unlink(p)
        os.rmdir(tmp)


def main():
    os.chdir(ROOT)
    dirs = sorted(os.path.basename(os.path.dirname(p))
                  for p in glob.glob(os.path.join(ROOT, "[0-9][0-9]_*", "server.c")))
    want = sys.argv[1:]
    if want:
        dirs = [d for d in dirs if any(d == w or d[:2] == w.zfill(2) for w in want)]
        if not dirs:
            print(f"FAIL: no NN_*/server.c for {' '.join(want)}")
            return 1
    passed = failed = skipped = 0
    for d in dirs:
        try:
            print(f"ok   {d}: {run(d)}", flush=True)
            passed += 1
            if pushes(os.path.join(ROOT, d, "server")):
                print(f"ok   {d} -b: {run(d, push=True)}", flush=True)
                passed += 1
        except Skip as e:
            print(f"skip {d}: exit 77 at start: {e}", flush=True)
            skipped += 1
        except (Fail, OSError, subprocess.SubprocessError) as e:
            print(f"FAIL {d}: {e}", flush=True)
            failed += 1
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    if failed:
        return 1
    if skipped and not passed:
        print("skip: every server skipped")
        return 77
    return 0


if __name__ == "__main__":
    sys.exit(main())
