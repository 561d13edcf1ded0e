#!/usr/bin/env python3
"""pushread.py -p PORT [-n CONNS] [-d SEC] [-l BYTES] [-b SEC] [--eof] [--echo] [--split] -
hold connections to a push server and check every byte it writes first.

Opens CONNS connections to ADDR:PORT and reads them for SEC seconds (with
--eof: until the server closes every one, SEC the bound). Each push is
parsed by the frame of common/push.c (first word PUSH_FLAG | length, then
its scheduled CLOCK_REALTIME ns, then its sequence; body byte i equals
push_byte(seq, i)) and checked:
  - its length is the one every push of the run has (-l + 24),
  - its body bytes are push_byte's,
  - per connection the sequence goes 1, 2, 3, ...: a jump counts the seqs
    skipped as missing, a repeat or a step back is bad,
  - per connection the scheduled times increase; with -b SEC (a
    broadcast every SEC) by one period from push to push: a jump of k
    periods is k - 1 pushes missing even where the sequence has no gap.
--echo also ping-pongs 8-byte frames on every connection (one in flight,
distinct on every connection and round) and checks each echo equals the
frame sent; --split sends each frame in two writes with a pause between,
so a server holds half a frame while it pushes. An echoed frame found where
a push should start, or a push found inside a frame, breaks the stream:
it is bad, and that connection is no longer parsed.

Prints one JSON line: conns, pushes, push_bytes, missing, bad, echoes,
partial (a push cut by EOF), eof, per-connection min/max pushes, the span
of the scheduled times seen and the pushes per second of scheduled time
(rate: each connection's over its own span, added up), and the delivery latency (receive
wall time minus scheduled time) p50/p99/max in ms. Exits 1 on anything
bad or missing (or, with --eof, a connection still open at the bound), 2
on a bad command line. Also a module: pushslow.py uses Conn and parse().
"""
import argparse
import json
import resource
import selectors
import socket
import struct
import sys
import time

PUSH_FLAG = 1 << 63
PUSH_HDR = 24
PUSH_BODY_MAX = 1 << 20
FRAME = 8

# push_byte(seq, off) = seq * 131 + off * 7 + (off >> 8), mod 256: the base
# pattern is seq 0's, a seq shifts every byte by seq * 131.
_BASE = bytes((i * 7 + (i >> 8)) & 255 for i in range(PUSH_HDR + PUSH_BODY_MAX))
_SHIFT = [bytes((b + c) & 255 for b in range(256)) for c in range(256)]


def push_body(seq, length):
    """The bytes PUSH_HDR..length of push seq."""
    return _BASE[PUSH_HDR:length].translate(_SHIFT[(seq * 131) & 255])


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))


class Conn:
    """One connection: its unparsed bytes, its last push and its echo."""

    def __init__(self, sock, idx):
        self.sock = sock
        self.idx = idx
        self.buf = bytearray()
        self.seq = 0		# the last push's sequence
        self.sched = 0		# the last push's scheduled time
        self.first = 0		# the first push's scheduled time
        self.pushes = 0
        self.broken = False	# the stream could not be parsed on
        self.eof = False
        self.round = 0		# --echo: frames sent
        self.inflight = None	# --echo: the frame awaiting its echo
        self.rest = None	# --split: the frame's second half, not sent yet


class Tally:
    def __init__(self, length):
        self.length = length	# every push's length, None: learn it
        self.pushes = self.push_bytes = self.missing = self.bad = 0
        self.echoes = self.partial = 0
        self.lat = []		# ns
        self.first_sched = self.last_sched = None
        self.scheds = []	# every push's scheduled time (ns)
        self.why = []		# the first few things found bad
        self.every_ns = 0	# -b: the broadcast period
        self.split = False
        self.lat_from = 0	# latency only of pushes scheduled from then (ns)

    def fail(self, c, what):
        self.bad += 1
        if len(self.why) < 5:
            self.why.append(f"conn {c.idx}: {what}")


def parse(c, t, now_ns):
    """Take every whole record off c.buf, checking each."""
    buf = c.buf
    pos = 0
    while not c.broken and len(buf) - pos >= FRAME:
        word = struct.unpack_from(">Q", buf, pos)[0]
        if not word & PUSH_FLAG:
            frame = bytes(buf[pos:pos + FRAME])
            if c.inflight is None or frame != c.inflight or c.rest is not None:
                t.fail(c, f"unexpected 8 bytes {frame.hex()} (awaiting "
                       f"{c.inflight.hex() if c.inflight else 'a push'})")
                c.broken = True
                break
            t.echoes += 1
            c.inflight = None
            pos += FRAME
            continue
        if len(buf) - pos < PUSH_HDR:
            break
        length = word & ~PUSH_FLAG
        sched, seq = struct.unpack_from(">QQ", buf, pos + 8)
        if t.length is None:
            t.length = length
        if length != t.length or length < PUSH_HDR:
            t.fail(c, f"push of {length} bytes, want {t.length}")
            c.broken = True
            break
        if len(buf) - pos < length:
            break
        if bytes(buf[pos + PUSH_HDR:pos + length]) != push_body(seq, length):
            t.fail(c, f"push seq {seq}: body bytes differ from push_byte's")
        gap = 0
        if seq <= c.seq:
            t.fail(c, f"push seq {seq} after seq {c.seq}")
        else:
            gap = seq - c.seq - 1
        if sched <= c.sched:
            t.fail(c, f"push seq {seq} scheduled {sched} not after {c.sched}")
        elif t.every_ns and c.sched:
            k = round((sched - c.sched) / t.every_ns)
            if abs(sched - c.sched - k * t.every_ns) > 1000:
                t.fail(c, f"push seq {seq} scheduled {sched - c.sched} ns after "
                       f"the last, not a whole number of periods")
            gap = max(gap, k - 1)
        t.missing += gap
        c.seq, c.sched = max(c.seq, seq), sched
        c.first = c.first or sched
        c.pushes += 1
        t.pushes += 1
        t.push_bytes += length
        if sched >= t.lat_from:
            t.lat.append(now_ns - sched)
        t.scheds.append(sched)
        t.first_sched = sched if t.first_sched is None else min(t.first_sched, sched)
        t.last_sched = sched if t.last_sched is None else max(t.last_sched, sched)
        pos += length
    del buf[:pos]


def send_frame(c, t, frame_id):
    """--echo: the next frame, distinct per connection and round; top bit clear."""
    c.round += 1
    frame = struct.pack(">Q", (frame_id << 32 | c.idx << 16 | (c.round & 0xffff)) & ~PUSH_FLAG)
    c.inflight = frame
    try:
        if c.rest is None and t.split:
            c.sock.send(frame[:3])
            c.rest = frame[3:]
        else:
            c.sock.send(frame)
    except OSError:
        pass	# the read side sees the end


def pct(xs, q):
    if not xs:
        return 0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(q * len(xs) + 0.999999) - 1))]


def connect_all(addr, port, n, rcvbuf=0):
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.connect((addr, port))
        s.setblocking(False)
        socks.append(s)
    return socks


def read_loop(conns, t, deadline, until_eof, echo=False, split_pause=0.005):
    sel = selectors.DefaultSelector()
    for c in conns:
        sel.register(c.sock, selectors.EVENT_READ, c)
        if echo:
            send_frame(c, t, 1)
    open_n = len(conns)
    next_half = time.monotonic() + split_pause
    while open_n and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=min(0.05, split_pause if t.split else 0.05)):
            c = key.data
            try:
                data = c.sock.recv(262144)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            now = time.time_ns()
            if not data:
                c.eof = True
                open_n -= 1
                sel.unregister(c.sock)
                if c.buf and not c.broken:
                    t.partial += 1	# a record cut by the close
                continue
            if c.broken:
                continue
            c.buf += data
            parse(c, t, now)
            if echo and c.inflight is None and not c.broken:
                send_frame(c, t, 1)
        if t.split and time.monotonic() >= next_half:
            for c in conns:	# the frames' second halves, a pause later
                if c.rest is not None and not c.eof:
                    try:
                        c.sock.send(c.rest)
                    except OSError:
                        pass
                    c.rest = None
            next_half = time.monotonic() + split_pause
    sel.close()
    return open_n


def conn_rate(conns):
    """Pushes per second of scheduled time, connection by connection: each
    one's (pushes - 1) over its own first-to-last span, added up. A schedule
    with a fixed period per connection gives its rate exactly, whether the
    connections are served in turn (one loop's -R) or all at once (01's
    threads, each with its own clock), and a loop that lags at the end only
    shortens its connections' spans."""
    return sum((c.pushes - 1) / ((c.sched - c.first) / 1e9)
               for c in conns if c.pushes > 1 and c.sched > c.first)


def summary(conns, t, open_n, until_eof):
    per = [c.pushes for c in conns]
    span = (t.last_sched - t.first_sched) / 1e9 if t.pushes > 1 else 0
    return {
        "conns": len(conns), "pushes": t.pushes, "push_bytes": t.push_bytes,
        "missing": t.missing, "bad": t.bad, "echoes": t.echoes, "partial": t.partial,
        "eof": sum(c.eof for c in conns), "open": open_n,
        "min_per_conn": min(per) if per else 0, "max_per_conn": max(per) if per else 0,
        "sched_span_s": span,
        "rate": conn_rate(conns),
        "lat_p50_ms": pct(t.lat, 0.5) / 1e6, "lat_p99_ms": pct(t.lat, 0.99) / 1e6,
        "lat_max_ms": max(t.lat) / 1e6 if t.lat else 0,
        "why": t.why,
    }


def main():
    ap = argparse.ArgumentParser(description="Check every push a server writes.")
    ap.add_argument("-a", default="127.0.0.1")
    ap.add_argument("-p", type=int, required=True)
    ap.add_argument("-n", type=int, default=100)
    ap.add_argument("-d", type=float, default=2.0)
    ap.add_argument("-l", type=int, default=None, help="push body bytes to expect")
    ap.add_argument("-b", type=float, default=0, help="the broadcast period to expect")
    ap.add_argument("--eof", action="store_true", help="read until the server closes")
    ap.add_argument("--echo", action="store_true", help="ping-pong frames too")
    ap.add_argument("--split", action="store_true", help="each frame in two writes")
    a = ap.parse_args()
    if not 0 < a.n <= 20000 or a.d <= 0 or not 0 < a.p < 65536 or a.b < 0:
        print("pushread.py: -n 1..20000, -d over 0, -p 1..65535, -b 0 or more",
              file=sys.stderr)
        return 2
    raise_nofile(a.n + 64)
    t = Tally(None if a.l is None else a.l + PUSH_HDR)
    t.split = a.split
    t.every_ns = round(a.b * 1e9)
    conns = [Conn(s, i) for i, s in enumerate(connect_all(a.a, a.p, a.n))]
    print(f"pushread: {a.n} connections up", file=sys.stderr, flush=True)
    open_n = read_loop(conns, t, time.monotonic() + a.d, a.eof, echo=a.echo or a.split)
    for c in conns:
        c.sock.close()
    r = summary(conns, t, open_n, a.eof)
    print(json.dumps(r), flush=True)
    ok = not r["bad"] and not r["missing"] and not (a.eof and open_n)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
