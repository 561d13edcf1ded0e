#!/usr/bin/env python3
"""pushslow.py NN - 2,000 connections that never read, while a push server
broadcasts, cost the server a bounded queue each and the readers nothing.

Server NN runs -b 0.05 -l 4096 -Q 65536 (-c 2 where it has -c) twice:
  1. alone with READERS connections that read and check every push
     (tests/pushread.py's parse) for SEC seconds: their delivery p99, and
     the server's peak RSS from its JSON;
  2. again with the same readers plus IDLE connections that never read
     (SO_RCVBUF 4096, one reader among every IDLE / READERS of them),
     until the server has reset every idle one (seen as ECONNRESET on its
     socket) and at least SEC seconds have passed. An idle one still
     not seen reset once the resets have stopped for 2 s (at most
     PROBE_MAX of them) is sent one byte: a socket the server let go of
     answers with a reset, one it still holds takes the byte (TCP drops
     a RST it finds outside the receive window, and a zero window makes
     that possible).
Asserts: the server lives through it and exits 0 with its JSON; its
slow_dropped is exactly IDLE and every idle connection saw its reset; no
reader was dropped, missed a push or got a bad byte; the peak RSS grew by
at most IDLE x BUFS x (Q + Q / 4) + IDLE x 16 KiB + 16 MiB. A queue's
buffer may be Q / 4 over Q (it is compacted once per quarter, and holds
a push written in part); BUFS is 1, or 2 for 14, whose send in flight
keeps the buffer it reads while the next one fills; 16 KiB a connection
and 16 MiB are the allocator's rounding and the server's bookkeeping.
The readers' delivery p99 within 2x (+ 5 ms) of run 1's is the goal: printed, and a
failure only with C1M_PUSHSLOW_P99=1 (not met on the 2-core box). C1M_TEST_STRETCH stretches
the waits (not the bounds).

Prints both runs' figures as JSON lines, then "ok" or "FAIL: why"; exits
1 on a failure, 2 on a bad command line.
"""
import glob
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pushread  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STRETCH = float(os.environ.get("C1M_TEST_STRETCH", "1") or 1)
READERS, IDLE, SEC = 100, 2000, 3.0
EVERY, BODY, QUEUE = 0.05, 4096, 65536
PROBE_MAX = 20		# idle ones a probe may find reset: 1% (a FIN, not a RST, needs all)
BOOK_KB = IDLE * 16 + 16 * 1024	# rounding and bookkeeping


def rss_bound_kb(design):
    """The most the idle queues may add to the server's peak RSS, in KiB."""
    bufs = 2 if design == "14" else 1	# 14: a send in flight keeps its buffer
    return IDLE * bufs * (QUEUE + QUEUE // 4) // 1024 + BOOK_KB


class Fail(Exception):
    pass


def start(server, args):
    tmp = tempfile.mkdtemp(prefix="c1m-pushslow.")
    out, err = os.path.join(tmp, "out"), os.path.join(tmp, "err")
    with open(out, "w") as o, open(err, "w") as e:
        proc = subprocess.Popen([server, "-p", "0", "-i", "1"] + args, stdout=o, stderr=e,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    for _ in range(int(100 * STRETCH)):
        with open(err) as f:
            for line in f:
                if "listening on" in line:
                    return proc, int(line.split("listening on ")[1].split(",")[0].split(":")[1]), out, err
        if proc.poll() is not None:
            raise Fail(f"{server} exited {proc.returncode} at start")
        time.sleep(0.05)
    proc.kill()
    raise Fail(f"{server} did not say 'listening on'")


def stop(proc, out, err):
    if proc.poll() is not None:
        raise Fail(f"the server died during the run: exit {proc.returncode}; "
                   f"{open(err).read()[-400:]}")
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=10 * STRETCH)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise Fail("the server still ran 10 s after SIGTERM")
    if rc != 0:
        raise Fail(f"the server exited {rc} after SIGTERM; {open(err).read()[-400:]}")
    with open(out) as f:
        lines = [l for l in f.read().splitlines() if l.strip()]
    return json.loads(lines[-1])


def run(port, idle):
    """READERS readers (and `idle` non-readers among them) until every idle
    one is reset and SEC has passed: (readers' tally, their conns, resets seen)."""
    t = pushread.Tally(PUSH_LEN)
    t.every_ns = round(EVERY * 1e9)
    readers, sleepers = [], []
    total = READERS + idle
    for i in range(total):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        is_reader = len(readers) * total <= i * READERS	# spread among the idle
        if not is_reader:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", port))
        s.setblocking(False)
        if is_reader:
            readers.append(pushread.Conn(s, len(readers)))
        else:
            sleepers.append(s)
    sel = selectors.DefaultSelector()
    for c in readers:
        sel.register(c.sock, selectors.EVENT_READ, c)
    # Latency counts from here: pushes scheduled while the connections were
    # still being opened waited for this loop, not for the server.
    t.lat_from = time.time_ns()
    start_t = time.monotonic()
    bound = start_t + 30 * STRETCH
    reset, probed = set(), 0
    next_poll = last_reset = 0
    while time.monotonic() < bound:
        now_m = time.monotonic()
        if now_m - start_t >= SEC and len(reset) == idle:
            break
        if (not probed and now_m - start_t >= SEC and len(reset) >= idle - PROBE_MAX
                and now_m - last_reset >= 2 * STRETCH):
            probed = probe(sleepers, reset)
        for key, _ in sel.select(timeout=0.02):
            c = key.data
            try:
                data = c.sock.recv(262144)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as e:
                raise Fail(f"reader {c.idx}: {e}")
            if not data:
                raise Fail(f"reader {c.idx} was closed by the server")
            c.buf += data
            pushread.parse(c, t, time.time_ns())
        if now_m >= next_poll:		# which idle ones were reset?
            for i, s in enumerate(sleepers):
                if i not in reset and s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    reset.add(i)
                    last_reset = now_m
            next_poll = now_m + 0.1
    sel.close()
    for s in sleepers:
        s.close()
    for c in readers:
        c.sock.close()
    return t, readers, len(reset), probed, time.monotonic() - start_t


def probe(sleepers, reset):
    """One byte on each idle connection not yet seen reset: a socket the
    server has let go of answers with a reset (its RST may have been
    dropped by TCP as outside the window), one it still holds takes the
    byte. Returns how many were probed."""
    left = [i for i in range(len(sleepers)) if i not in reset]
    for i in left:
        try:
            sleepers[i].send(b"\0")
        except OSError:
            reset.add(i)		# the reset came meanwhile
    return len(left)


PUSH_LEN = pushread.PUSH_HDR + BODY


def main():
    if len(sys.argv) != 2 or len(sys.argv[1]) != 2 or not sys.argv[1].isdigit():
        print("usage: pushslow.py NN", file=sys.stderr)
        return 2
    dirs = glob.glob(os.path.join(ROOT, sys.argv[1] + "_*"))
    server = os.path.join(dirs[0], "server") if dirs else ""
    if not os.access(server, os.X_OK):
        print(f"FAIL: no {sys.argv[1]}_*/server built (make -s)")
        return 1
    pushread.raise_nofile(READERS + IDLE + 64)
    usage = subprocess.run([server, "-h"], capture_output=True, text=True).stdout
    args = ["-b", str(EVERY), "-l", str(BODY), "-Q", str(QUEUE)]
    if "[-c N]" in usage:
        args += ["-c", "2"]
    try:
        figs = []
        for idle in (0, IDLE):
            proc, port, out, err = start(server, args)
            try:
                t, readers, resets, probed, secs = run(port, idle)
                js = stop(proc, out, err)
            finally:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            fig = {"idle": idle, "secs": round(secs, 2), "pushes": t.pushes,
                   "missing": t.missing, "bad": t.bad, "why": t.why,
                   "min_per_reader": min(c.pushes for c in readers),
                   "p99_ms": pushread.pct(t.lat, 0.99) / 1e6,
                   "max_ms": max(t.lat) / 1e6 if t.lat else 0,
                   "resets_seen": resets, "probed": probed, "slow_dropped": js.get("slow_dropped"),
                   "rss_kb_peak": js.get("rss_kb_peak"), "errors": js.get("errors")}
            print(json.dumps(fig), flush=True)
            figs.append(fig)
            if t.bad or t.missing:
                raise Fail(f"idle {idle}: readers saw {t.bad} bad and {t.missing} missing "
                           f"pushes: {t.why}")
            if fig["min_per_reader"] < SEC / EVERY / 2:
                raise Fail(f"idle {idle}: a reader got only {fig['min_per_reader']} pushes "
                           f"in {secs:.1f} s of -b {EVERY}")
            if js.get("slow_dropped") != idle or resets != idle:
                raise Fail(f"idle {idle}: slow_dropped {js.get('slow_dropped')}, resets seen "
                           f"{resets}, want {idle} (every idle connection, no reader)")
        base, hostile = figs
        grew = hostile["rss_kb_peak"] - base["rss_kb_peak"]
        allowed = rss_bound_kb(sys.argv[1])
        if grew > allowed:
            raise Fail(f"peak RSS grew {grew} KiB with {IDLE} idle connections, "
                       f"over the {allowed} KiB their queues may hold (-Q {QUEUE})")
        # The goal, not met on this 2-core box (docs/tests.md): the
        # resets and the 2,000 queues filling cost the readers tens of ms.
        # A failure only with C1M_PUSHSLOW_P99=1; otherwise said, not asserted.
        if hostile["p99_ms"] > 2 * base["p99_ms"] + 5 and not os.environ.get("C1M_PUSHSLOW_P99"):
            print(f"goal not met: readers' p99 {base['p99_ms']:.1f} -> "
                  f"{hostile['p99_ms']:.1f} ms, over 2 x + 5 ms (C1M_PUSHSLOW_P99=1 fails on it)")
        elif hostile["p99_ms"] > 2 * base["p99_ms"] + 5:
            raise Fail(f"readers' p99 {hostile['p99_ms']:.1f} ms beside {IDLE} idle "
                       f"connections, over 2 x {base['p99_ms']:.1f} + 5 ms")
        print(f"ok {os.path.basename(dirs[0])}: {IDLE} idle dropped, RSS +{grew} KiB "
              f"(<= {allowed}), p99 {base['p99_ms']:.1f} -> {hostile['p99_ms']:.1f} ms")
        return 0
    except Fail as e:
        print(f"FAIL: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
