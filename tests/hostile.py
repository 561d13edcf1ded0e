#!/usr/bin/env python3
"""hostile.py GROUP [NN ...] - hostile clients against every server of the suite.

Runs one group of cases against every NN_*/server (or, for the client
groups, every NN_*/client) built in the repository, each on a free loopback
port (-p 0), and prints one line per (program, case):

    ok   06 framing (0.4s)
    FAIL 08 slow: 3 of 16 prompt clients waited over 0.5 s (max 2.9 s)

then a summary; exits 1 if any failed. NN limits the run to those
directories. Which directories exist is discovered at run time, so a design
that lands later is tested without editing anything.

Groups (every case ends by stopping the server with SIGTERM: it must exit 0
within ~2 s with its JSON line, leave no process behind, and print no
sanitizer report):
  framing   frames split over writes with pauses, across a frame boundary;
            thousands of frames in one write; all 256 byte values
  halfclose send, then shutdown(SHUT_WR): the whole echo arrives, then EOF
            (small, and large enough that the echo is still pending at EOF)
  resets    hundreds of connections reset (SO_LINGER 0) mid-frame, some
            with an echo in flight; the server lives, serves the next
            client, and its open fds return to where they were
  slow      clients that write MBs and read nothing through a tiny
            SO_RCVBUF: the server must stop reading them, not buffer without
            bound; meanwhile clients spread over every loop/worker still get
            prompt echoes; then the slow ones get every byte back in order
  churn     thousands of connections opened and closed every which way:
            /proc/PID/fd (every thread's and child's table) returns to its
            baseline, and the server counted every connection
  nofd      started under RLIMIT_NOFILE 128 and flooded past it: it must
            not die, must not spin (its CPU time over a saturated window),
            and must serve again once the flood is closed
  signals   SIGTERM and SIGINT with connections open, idle and mid-frame:
            exit 0 within ~2 s, exactly one JSON line naming the design
  client    each NN_*/client: its server SIGKILLed mid-run (at full speed,
            and again while it holds every request: 10 -m timer -w 200000)
            -> it reports and exits 1 within seconds; a fake server that
            echoes wrong bytes on some connections and nothing on others ->
            mismatches and unanswered counted, exit 1, no crash, no hang

tests/hostile-mutants.py shows that each group fails on the bug it is for.

Designs with artificial per-request work (their -h lists -w or -b BITS)
get -w 100 / -b 4 and smaller floods. The pushing servers (03, 06, 07, ...:
-b SEC is a push period there) run without push flags: as echo servers
they must pass every group unchanged (tests/pushserv.sh, tests/pushslow.py
and resets.py test them pushing). C1M_TEST_STRETCH (set by tests/run.sh
under sanitizers) stretches every time limit except the CPU-time bound.
"""
import concurrent.futures
import json
import os
import random
import re
import resource
import select
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STRETCH = float(os.environ.get("C1M_TEST_STRETCH", "1") or 1)
HOST = "127.0.0.1"
SAN_RE = re.compile(r"(Address|Leak|Thread|UndefinedBehavior|Memory)Sanitizer|runtime error:")
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Where .ci/extra has the sanitizers write their reports (log_path=DIR/x
# makes DIR/x.PID), so that no report is lost with a discarded stderr.
SAN_LOGS = sorted({m.group(1) for v in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS")
                   for m in [re.search(r"log_path=([^:]+)", os.environ.get(v, ""))] if m})


def san_summary(text, at):
    """One line from the sanitizer report starting near `at`: what it found
    and the first frames of its stack."""
    lines = text[at:].splitlines()
    head = next((l.strip("= ") for l in lines if re.search(r"ERROR|WARNING|runtime error", l)),
                lines[0] if lines else "")
    frames = [re.sub(r"^\s*#\d+ (0x[0-9a-f]+ in )?", "", l) for l in lines
              if re.match(r"\s*#\d+ ", l) and "libsanitizer" not in l][:3]
    head = re.sub(r"^\d+==", "", head.split(" on address")[0])
    return head + (" at " + " < ".join(f.split(" (")[0] for f in frames) if frames else "")


def san_report(pids, stderr=""):
    """A one-line summary of a sanitizer report printed by any of pids
    (on stderr, or in a log_path file), or None."""
    m = SAN_RE.search(stderr)
    if m:
        return san_summary(stderr, stderr.rfind("\n", 0, m.start()) + 1)
    for prefix in SAN_LOGS:
        for pid in pids:
            try:
                with open(f"{prefix}.{pid}", errors="replace") as f:
                    text = f.read()
            except OSError:
                continue
            m = SAN_RE.search(text)
            if m:
                return f"{san_summary(text, text.rfind(chr(10), 0, m.start()) + 1)} ({prefix}.{pid})"
    return None


class Fail(Exception):
    pass


_out = threading.local()


def log(msg):
    """A note for the job's report; jobs run in parallel, so each job's
    lines are printed together once it ends."""
    buf = getattr(_out, "lines", None)
    if buf is None:
        print(msg, flush=True)
    else:
        buf.append(msg)


def deadline(s):
    return time.monotonic() + s * STRETCH


# ---- the server under test ---------------------------------------------------


def run_quiet(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=5 * STRETCH)
    except (OSError, subprocess.TimeoutExpired):
        return subprocess.CompletedProcess(argv, -1, "", "")


class Design:
    """What the tests need to know about one server: its directory, the
    arguments it runs with, and whether its requests carry artificial work."""

    def __init__(self, sdir, args=(), label=None):
        self.dir = sdir
        self.name = os.path.basename(sdir)
        self.nn = label or self.name[:2]
        self.args = list(args)
        self.work = "-w" in self.args or "-b" in self.args

    def size(self, fast, work):
        return work if self.work else fast

    def count(self, fast, work):
        """A number of connections: a third under a sanitizer, where each
        costs several times as much (make SAN=1 test sets SAN)."""
        n = self.size(fast, work)
        return n // 3 if os.environ.get("SAN") else n


def designs(sdir):
    """The server of sdir as it is tested: artificial work kept small
    (-w 100, -b 4), and one Design per mode when a flag takes a choice of
    modes (10's -m block|timer): each mode is its own code path."""
    server = os.path.join(sdir, "server")
    usage = run_quiet([server, "-h"]).stdout
    syn = next((l for l in usage.splitlines() if l.startswith("usage:")), "")
    args = []
    if "[-w " in syn:
        args += ["-w", "100"]
    if "[-b BITS]" in syn:
        args += ["-b", "4"]
    nn = os.path.basename(sdir)[:2]
    for opt in re.findall(r"\[-([b-hj-mo-z]) [A-Z]+\]", syn):	# not -a -i -n -p
        # A bad value makes srv_parse name the choices: "is not one of a|b".
        m = re.search(r"not one of ([\w|]+)", run_quiet([server, f"-{opt}", "?"]).stderr)
        if m:
            return [Design(sdir, args + [f"-{opt}", c], f"{nn}-{c}") for c in m.group(1).split("|")]
    return [Design(sdir, args)]


def proc_stat(pid):
    """The fields of /proc/PID/stat after the command name (state first),
    or None once the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
    except OSError:
        return None
    return st[st.rindex(")") + 2:].split()


class Server:
    """One server process, in a session of its own (so its children, if
    any, are found by session id and never outlive the test)."""

    def __init__(self, design, nofile=None, extra=()):
        self.d = design
        self.tmp = tempfile.mkdtemp(prefix="c1m-hostile.")
        self.out_path = os.path.join(self.tmp, "out")
        self.err_path = os.path.join(self.tmp, "err")
        argv = [os.path.join(design.dir, "server"), "-p", "0", "-i", "1"] + design.args + list(extra)
        if nofile:	# prlimit execs the server: same pid
            argv = ["prlimit", f"--nofile={nofile}:{nofile}", "--"] + argv
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         cwd=ROOT, start_new_session=True)
        self.pid = self.proc.pid
        self.seen = {self.pid}	# every pid of the session, for sanitizer logs
        _out.servers = getattr(_out, "servers", []) + [self]
        self.port = None
        self.err_text = None
        end = deadline(5)
        while time.monotonic() < end:
            m = re.search(r"listening on [0-9.]+:(\d+)", self.stderr())
            if m:
                self.port = int(m.group(1))
                return
            if self.proc.poll() is not None:
                raise Fail(f"exited {self.proc.returncode} at start: {self.stderr_tail()}")
            time.sleep(0.02)
        raise Fail(f"no 'listening on ADDR:PORT' within {5 * STRETCH:.0f} s")

    def stderr(self):
        if self.err_text is not None:	# cleaned up: what it said
            return self.err_text
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def stderr_tail(self, n=6):
        return " | ".join(self.stderr().strip().splitlines()[-n:])

    def alive(self):
        return self.proc.poll() is None

    def check_alive(self, when):
        if not self.alive():
            raise Fail(f"server died {when}: exit {self.proc.returncode}; {self.stderr_tail()}")

    # -- /proc views of the whole session (threads and child processes) --

    def pids(self):
        found = []
        for p in os.listdir("/proc"):
            st = proc_stat(p) if p.isdigit() else None
            if st and int(st[3]) == self.pid and st[0] != "Z":	# session id
                found.append(int(p))
        self.seen.update(found)
        return found

    def cpu(self):
        """CPU seconds used so far by every live process of the session."""
        stats = [proc_stat(p) for p in self.pids()]
        return sum(int(st[11]) + int(st[12]) for st in stats if st) / CLK_TCK	# utime + stime

    def fd_tables(self):
        """The open-fd tables of the session: threads that share a table
        are counted once, private tables (unshare) and children apart."""
        tables = {}
        for p in self.pids():
            try:
                tids = os.listdir(f"/proc/{p}/task")
            except OSError:
                continue
            for t in tids:
                d = f"/proc/{p}/task/{t}/fd"
                try:
                    fds = []
                    for fd in os.listdir(d):
                        try:
                            link = os.readlink(f"{d}/{fd}")
                            if not any(link.startswith(os.path.dirname(l)) for l in SAN_LOGS):
                                fds.append((int(fd), link))
                        except OSError:
                            pass
                except OSError:
                    continue
                tables[(p, frozenset(fds))] = len(fds)
        return list(tables.values())

    def fds(self):
        return sum(self.fd_tables())

    def wait_fds(self, want, secs, what):
        end = deadline(secs)
        while True:
            now = self.fds()
            if now <= want:
                return
            if time.monotonic() > end:
                raise Fail(f"{what}: {now} fds open {secs * STRETCH:.0f} s later, "
                           f"baseline {want} (tables {self.fd_tables()})")
            time.sleep(0.05)

    def sigpipe_ignored(self):
        """SIGPIPE in SigIgn of every process of the session."""
        for p in self.pids():
            try:
                with open(f"/proc/{p}/status") as f:
                    ign = next(l for l in f if l.startswith("SigIgn:"))
            except (OSError, StopIteration):
                continue
            if not int(ign.split()[1], 16) & (1 << (signal.SIGPIPE - 1)):
                return False
        return True

    # -- the end of every case --

    def stop(self, sig=signal.SIGTERM, within=2.0):
        """Signal the server; it must exit 0 in time with one JSON line,
        leaving no process behind and no sanitizer report. Returns the JSON."""
        self.check_alive("before the stop signal")
        t0 = time.monotonic()
        os.kill(self.pid, sig)
        try:
            rc = self.proc.wait(timeout=within * STRETCH)
        except subprocess.TimeoutExpired:
            raise Fail(f"still running {within * STRETCH:.1f} s after {sig.name}")
        took = time.monotonic() - t0
        rep = self.san_report()
        if rep:
            raise Fail(f"sanitizer report: {rep}")
        if rc != 0:
            raise Fail(f"exit {rc} after {sig.name}, want 0; {self.stderr_tail()}")
        end = time.monotonic() + 1.0 * STRETCH
        while self.pids():
            if time.monotonic() > end:
                raise Fail(f"exited but left processes {self.pids()} behind")
            time.sleep(0.05)
        with open(self.out_path) as f:
            lines = [l for l in f.read().splitlines() if l.strip()]
        if len(lines) != 1:
            raise Fail(f"{len(lines)} lines on stdout after {sig.name}, want 1 JSON line")
        try:
            j = json.loads(lines[0])
        except ValueError:
            raise Fail(f"stdout is not JSON: {lines[0][:200]!r}")
        if j.get("design") != self.d.name:
            raise Fail(f"JSON design is {j.get('design')!r}, want {self.d.name!r}")
        j["_stop_s"] = took
        return j

    def san_report(self):
        return san_report(self.seen, self.stderr())

    def kill(self):
        for p in self.pids() or [self.pid]:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def cleanup(self):
        if self.alive() or self.pids():
            self.kill()
        self.err_text = self.stderr()
        for n in ("out", "err"):
            try:
                os.unlink(os.path.join(self.tmp, n))
            except OSError:
                pass
        os.rmdir(self.tmp)


# ---- sockets -----------------------------------------------------------------


def connect(port, rcvbuf=None, timeout=2.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)	# before connect: sets the window
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(timeout * STRETCH)
    try:
        s.connect((HOST, port))
    except OSError as e:
        s.close()
        raise Fail(f"connect: {e}")
    return s


def rst_close(s):
    """close() that sends RST: SO_LINGER {on, 0}."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def first_diff(a, b):
    for i in range(min(len(a), len(b))):
        if a[i] != b[i]:
            return f"byte {i}: sent {b[i]:#04x}, got {a[i]:#04x}"
    return f"got {len(a)} bytes, want {len(b)}"


def wait_io(s, want_write, secs):
    """poll(), not select(): our fds go past 1024 when jobs flood in parallel."""
    p = select.poll()
    p.register(s, select.POLLIN | (select.POLLOUT if want_write else 0))
    ev = p.poll(max(0, secs) * 1000)
    bits = ev[0][1] if ev else 0
    return (bool(bits & (select.POLLIN | select.POLLERR | select.POLLHUP)),
            bool(bits & (select.POLLOUT | select.POLLERR)))


def pump(s, data, secs, want=None, shut=False, until_eof=False):
    """Send data while reading the echo. Returns what was read once `want`
    bytes (default len(data)) arrived, or at EOF when until_eof. Fails on a
    reset, an early EOF, or the time limit."""
    want = len(data) if want is None else want
    s.setblocking(False)
    mv = memoryview(data)
    got = bytearray()
    off, shut_done = 0, False
    end = deadline(secs)
    while True:
        if off == len(data) and shut and not shut_done:
            s.shutdown(socket.SHUT_WR)
            shut_done = True
        if not until_eof and len(got) >= want:
            return bytes(got)
        left = end - time.monotonic()
        if left <= 0:
            if until_eof and len(got) >= want:
                raise Fail(f"all {len(got)} bytes echoed, but the server did not close in"
                           f" {secs * STRETCH:.1f} s after our FIN")
            raise Fail(f"echo: {len(got)} of {want} bytes back after {secs * STRETCH:.1f} s"
                       f" ({off} of {len(data)} sent)")
        r, w = wait_io(s, off < len(data), left)
        try:
            if w:
                off += s.send(mv[off:off + 65536])
            if r:
                chunk = s.recv(262144)
                if not chunk:
                    if until_eof:
                        return bytes(got)
                    raise Fail(f"server closed after echoing {len(got)} of {want} bytes")
                got += chunk
        except BlockingIOError:
            pass
        except OSError as e:
            raise Fail(f"{e.strerror or e} after echoing {len(got)} of {want} bytes "
                       f"({off} of {len(data)} sent)")


def echo_ok(port, nframes=4, secs=2.0, what="echo"):
    s = connect(port)
    try:
        data = random.randbytes(8 * nframes)
        got = pump(s, data, secs)
        if got != data:
            raise Fail(f"{what}: {first_diff(got, data)}")
    finally:
        s.close()


def serve_again(port, secs):
    """A fresh client gets its echo within secs, retrying connects."""
    end = deadline(secs)
    last = None
    while time.monotonic() < end:
        try:
            echo_ok(port, secs=1.0)
            return
        except Fail as e:
            last = e
            time.sleep(0.1)
    raise Fail(f"not serving {secs * STRETCH:.0f} s later: {last}")


# ---- server cases ------------------------------------------------------------


def case_framing(d):
    srv = Server(d)
    try:
        # One frame in three writes with pauses, then one and a half frames
        # and the other half: frame boundaries never match read boundaries.
        s = connect(srv.port)
        for pieces in ([3, 1, 4], [1, 1, 1, 1, 1, 1, 1, 1], [12, 4], [5, 6, 5]):
            data = random.randbytes(sum(pieces))
            off = 0
            for p in pieces:
                s.sendall(data[off:off + p])
                off += p
                time.sleep(0.03)
            got = pump(s, b"", 2.0, want=len(data))
            s.setblocking(True)
            if got != data:
                raise Fail(f"split frames {pieces}: {first_diff(got, data)}")
        # Thousands of frames in one write.
        data = random.randbytes(d.size(65536, 8192))
        got = pump(s, data, 5.0)
        if got != data:
            raise Fail(f"{len(data) // 8} frames in one write: {first_diff(got, data)}")
        s.close()
        # Every byte value, in frames of all-equal bytes and mixed ones.
        s = connect(srv.port)
        data = bytes(range(256)) * 4 + b"".join(bytes([v]) * 8 for v in (0, 0xFF, 0x0A, 0x0D, 0x80))
        got = pump(s, data, 2.0)
        if got != data:
            raise Fail(f"arbitrary bytes: {first_diff(got, data)}")
        s.close()
        j = srv.stop()
        want = (16 + 16 + len(data) + d.size(65536, 8192)) // 8
        if j.get("requests", 0) < want - 8:
            raise Fail(f"JSON requests {j.get('requests')} < the {want} frames echoed")
    finally:
        srv.cleanup()


def case_halfclose(d):
    srv = Server(d)
    try:
        for size in (24, d.size(1 << 20, 16384)):
            s = connect(srv.port)
            data = random.randbytes(size)
            got = pump(s, data, 5.0, shut=True, until_eof=True)
            s.close()
            if got != data:
                raise Fail(f"half-close after {size} bytes: {first_diff(got, data)} before EOF")
        srv.stop()
    finally:
        srv.cleanup()


def case_resets(d):
    srv = Server(d)
    try:
        if not srv.sigpipe_ignored():
            raise Fail("SIGPIPE is not ignored: a write to a reset peer would kill the server")
        echo_ok(srv.port)
        time.sleep(0.1)
        base = srv.fds()
        n = d.count(450, 150)
        big = random.randbytes(d.size(1 << 20, 8192))
        for batch in range(0, n, 50):
            socks = [connect(srv.port, rcvbuf=4096 if i % 4 == 3 else None) for i in range(50)]
            for i, s in enumerate(socks):
                k = i % 4
                if k == 0:
                    s.send(random.randbytes(3))		# mid-frame
                elif k == 1:
                    s.send(random.randbytes(13))	# a frame and a bit
                elif k == 2:
                    s.send(random.randbytes(8 * 512))	# echo still in flight
                else:
                    # A tiny window: the server is still writing when the
                    # RST comes, so its write fails (ECONNRESET or EPIPE).
                    s.setblocking(False)
                    try:
                        s.send(big)
                    except BlockingIOError:
                        pass
                    s.shutdown(socket.SHUT_WR)
            time.sleep(0.02)
            for s in socks:
                rst_close(s)
            srv.check_alive(f"after {batch + 50} resets")
        serve_again(srv.port, 2.0)
        srv.wait_fds(base, 3.0, f"after {n} resets")
        srv.stop()
    finally:
        srv.cleanup()


class Stream:
    """What slow reader i sends: random bytes, each 64 KB block stamped with
    (i, block number) so that lost, repeated or reordered blocks show.
    Made block by block: up to `cap` may be sent, only MBs are."""
    rnd = random.randbytes(65536)

    def __init__(self, i):
        self.i = i

    def block(self, k):
        return struct.pack(">II", self.i, k) + self.rnd[8:]

    def upto(self, n):
        return b"".join(self.block(k) for k in range((n + 65535) // 65536))[:n]


def fill(socks, streams, cap, stall, must_stall):
    """Write each stream into its socket without reading, until each takes
    no more for `stall` s or took `cap` bytes. Returns bytes written per
    socket. With must_stall, reaching cap fails: the server is reading a
    client that reads nothing, without bound."""
    for s in socks:
        s.setblocking(False)
    sent = [0] * len(socks)
    last = [time.monotonic()] * len(socks)
    done = [False] * len(socks)
    while not all(done):
        progress = False
        for i, s in enumerate(socks):
            if done[i]:
                continue
            try:
                n = s.send(streams[i].block(sent[i] // 65536)[sent[i] % 65536:][:cap - sent[i]])
                sent[i] += n
                last[i] = time.monotonic()
                progress = True
                if sent[i] >= cap and not must_stall:
                    done[i] = True
                elif sent[i] >= cap:
                    raise Fail(f"a client that reads nothing got {cap >> 20} MB into the server:"
                               " it does not stop reading a slow reader")
            except BlockingIOError:
                if time.monotonic() - last[i] > stall:
                    done[i] = True
        if not progress:
            time.sleep(0.01)
    return sent


def case_slow(d):
    srv = Server(d)
    slow, prompt = [], []
    try:
        nslow, nprompt = d.size(4, 2), 16
        prompt = [connect(srv.port) for _ in range(nprompt)]
        for s in prompt:
            pump(s, random.randbytes(8), 2.0)
        slow = [connect(srv.port, rcvbuf=4096) for _ in range(nslow)]
        cap = d.size(32 << 20, 32 << 10)
        streams = [Stream(i) for i in range(nslow)]
        sent = fill(slow, streams, cap, 0.3 * STRETCH, not d.work)
        srv.check_alive("while slow readers filled it")
        # The slow readers are parked: every other client still gets
        # prompt echoes, whichever loop or worker serves it.
        limit = d.size(0.5, 1.5) * STRETCH
        worst, late = 0.0, 0
        for rnd in range(10):
            frames = [random.randbytes(8) for _ in prompt]
            t0 = time.monotonic()
            for s, f in zip(prompt, frames):
                s.send(f)
            for s, f in zip(prompt, frames):
                got = pump(s, b"", 3.0, want=8)
                if got != f:
                    raise Fail(f"prompt client: {first_diff(got, f)}")
                lat = time.monotonic() - t0
                worst = max(worst, lat)
                late += lat > limit
        if late:
            raise Fail(f"{late} of {10 * nprompt} echoes to other clients took over "
                       f"{limit:.1f} s (worst {worst:.2f} s) while {nslow} slow readers were "
                       f"parked with {min(sent) >> 10}..{max(sent) >> 10} KB each")
        # Now the slow readers read: every byte comes back, in order.
        for i, s in enumerate(slow):
            got = pump(s, b"", 10.0 + sent[i] / 20e6, want=sent[i])
            want = streams[i].upto(sent[i])
            if got != want:
                raise Fail(f"slow reader {i}, {sent[i]} bytes: {first_diff(got, want)}")
        log(f"     {d.nn} slow: {nslow} slow readers parked {min(sent) >> 10}..{max(sent) >> 10} KB"
            f" each; prompt echoes worst {worst * 1000:.0f} ms")
        for s in slow + prompt:
            s.close()
        slow, prompt = [], []
        srv.stop()
    finally:
        for s in slow + prompt:
            s.close()
        srv.cleanup()


def case_churn(d):
    srv = Server(d)
    try:
        echo_ok(srv.port)
        time.sleep(0.1)
        base = srv.fds()
        n = d.count(2000, 500)
        for batch in range(0, n, 100):
            socks = [connect(srv.port) for _ in range(100)]
            for i, s in enumerate(socks):
                k = i % 5
                if k == 1:	# a round trip, then a polite close
                    f = random.randbytes(8)
                    if pump(s, f, 2.0) != f:
                        raise Fail("churn: bad echo")
                elif k == 2:	# a frame, closed unread: RST from our side
                    s.send(random.randbytes(8))
                elif k == 3:	# half a frame, then half-close
                    s.send(random.randbytes(4))
                    s.shutdown(socket.SHUT_WR)
                elif k == 4:
                    rst_close(s)
            for s in socks:
                s.close()
        srv.check_alive(f"after {n} connections")
        serve_again(srv.port, 2.0)
        srv.wait_fds(base, 3.0, f"after {n} connections opened and closed")
        j = srv.stop()
        if j.get("accepted", 0) < n:
            raise Fail(f"JSON accepted {j.get('accepted')} < the {n} connections made")
    finally:
        srv.cleanup()


NOFILE = 128


def case_nofd(d):
    srv = Server(d, nofile=NOFILE)
    flood = []
    try:
        echo_ok(srv.port)
        base = srv.fds()
        n = d.size(1200, 600)
        for _ in range(n):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex((HOST, srv.port))	# completes into the backlog
            flood.append(s)
        end = deadline(3.0)
        while max(srv.fd_tables()) < NOFILE - 16 and time.monotonic() < end:
            srv.check_alive(f"when flooded with {n} connections")
            time.sleep(0.05)
        time.sleep(0.2)		# the server hits EMFILE and pauses accepting
        srv.check_alive(f"when flooded with {n} connections")
        tables = srv.fd_tables()
        if max(tables) < NOFILE - 16:
            raise Fail(f"the flood did not fill an fd table (tables {tables}, limit {NOFILE}):"
                       " this case tested nothing")
        window = 1.0
        c0 = srv.cpu()
        time.sleep(window)
        used = srv.cpu() - c0
        srv.check_alive(f"while out of fds")
        if used > 0.25 * window:
            raise Fail(f"spins when out of fds: {used:.2f} s CPU in {window} s at the fd limit")
        for s in flood:
            s.close()
        flood = []
        serve_again(srv.port, 3.0)
        srv.wait_fds(base, 3.0, "after the flood closed")
        log(f"     {d.nn} nofd: {n} connections, tables {tables}, {used:.2f} s CPU in {window} s")
        srv.stop()
    finally:
        for s in flood:
            s.close()
        srv.cleanup()


def case_signals(d):
    for sig in (signal.SIGTERM, signal.SIGINT):
        srv = Server(d)
        socks = []
        try:
            socks = [connect(srv.port) for _ in range(3)]
            f = random.randbytes(8 * 4)
            if pump(socks[0], f, 2.0) != f:
                raise Fail("bad echo")
            socks[1].send(b"\x01\x02\x03")	# mid-frame
            socks[2].send(random.randbytes(8 * 100000 if not d.work else 8 * 64))  # echo unread
            time.sleep(0.2)
            j = srv.stop(sig)
            if j.get("requests", 0) < 4:
                raise Fail(f"JSON requests {j.get('requests')} < the 4 frames echoed")
        finally:
            for s in socks:
                s.close()
            srv.cleanup()


# ---- client cases ------------------------------------------------------------


class FakeServer(threading.Thread):
    """A broken server: on odd connections it echoes every byte XOR 0x5a,
    on even ones it reads and never answers."""

    def __init__(self):
        super().__init__(daemon=True)
        self.lsock = socket.socket()
        self.lsock.bind((HOST, 0))
        self.lsock.listen(128)
        self.lsock.setblocking(False)
        self.port = self.lsock.getsockname()[1]
        self.stopping = False
        self.start()

    def run(self):
        sel = selectors.DefaultSelector()
        sel.register(self.lsock, selectors.EVENT_READ, None)
        n = 0
        while not self.stopping:
            for key, _ in sel.select(0.05):
                s = key.fileobj
                if s is self.lsock:
                    try:
                        c, _ = s.accept()
                    except OSError:
                        continue
                    n += 1
                    sel.register(c, selectors.EVENT_READ, n % 2)
                    continue
                try:
                    b = s.recv(65536)
                except OSError:
                    b = b""
                if not b:
                    sel.unregister(s)
                    s.close()
                elif key.data:
                    try:
                        s.sendall(bytes(x ^ 0x5A for x in b))
                    except OSError:
                        pass
        for key in list(sel.get_map().values()):
            key.fileobj.close()
        sel.close()

    def stop(self):
        self.stopping = True
        self.join()


def start_client(cdir, port, args):
    return subprocess.Popen([os.path.join(cdir, "client"), "-p", str(port), "-i", "1"] + args,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def finish_client(proc, secs, hung):
    """Wait secs (stretched) for the client; fail with `hung` if it is still
    running then. Returns the CompletedProcess and the time waited."""
    t0 = time.monotonic()
    try:
        out, err = proc.communicate(timeout=secs * STRETCH)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise Fail(hung)
    p = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    p.pid = proc.pid
    return p, time.monotonic() - t0


def client_json(p):
    lines = [l for l in p.stdout.splitlines() if l.strip()]
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        raise Fail(f"no JSON line on stdout (exit {p.returncode}); stderr: {p.stderr[-300:]!r}")


def check_client_exit(p, what):
    if p.returncode < 0:
        raise Fail(f"{what}: client killed by signal {-p.returncode}; stderr: {p.stderr[-300:]!r}")
    rep = san_report([p.pid], p.stderr)
    if rep:
        raise Fail(f"{what}: sanitizer report: {rep}")
    if p.returncode != 1:
        raise Fail(f"{what}: client exited {p.returncode}, want 1")


def kill_under_client(cdir, d, what):
    """Start d's server, run the client against it, SIGKILL the server once
    the load runs: the client must report and exit 1 within seconds."""
    srv = Server(d)
    try:
        base = srv.fds()
        proc = start_client(cdir, srv.port, ["-n", "20", "-d", "60"])
        try:
            end = deadline(5.0)	# until the server holds the 20 connections
            while srv.fds() < base + 20 and time.monotonic() < end and proc.poll() is None:
                time.sleep(0.05)
            time.sleep(0.3)	# and the load runs
            if proc.poll() is not None:
                raise Fail(f"{what}: client ended before the kill: exit {proc.returncode}")
            srv.kill()
            p, took = finish_client(proc, 5, f"{what}: client still running {5 * STRETCH:.0f} s"
                                    " after its server was killed")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        check_client_exit(p, what)
        j = client_json(p)
        if j.get("errors", 0) <= 0:
            raise Fail(f"{what}: client JSON errors {j.get('errors')}, want > 0")
        if not p.stderr.strip():
            raise Fail(f"{what}: client said nothing on stderr")
        return took
    finally:
        srv.cleanup()


def waiting_server():
    """A server that holds every request for a while before its echo, so
    that at a kill every connection has a request in flight and the client
    sees a FIN, not a reset: 10 in timer mode (or any -w design), -w 200 ms."""
    ds = [d for s in programs("server") for d in designs(s) if "-w" in d.args]
    ds.sort(key=lambda d: "timer" not in d.args)
    if not ds:
        return None
    d = ds[0]
    d.args[d.args.index("-w") + 1] = "200000"
    return d


def case_client(cdir):
    # 1. The server is killed mid-run: its own server, or 06, at full
    # speed; then one that holds each request, so that every reply is due.
    sdir = cdir if os.access(os.path.join(cdir, "server"), os.X_OK) else pick_server()
    took = kill_under_client(cdir, designs(sdir)[0], "server killed")
    d = waiting_server()
    if d:
        kill_under_client(cdir, d, f"{d.nn} killed with every request in flight")
    # 2. A server that answers wrong bytes, or nothing.
    fake = FakeServer()
    try:
        p, took2 = finish_client(start_client(cdir, fake.port, ["-n", "10", "-d", "0.5"]), 0.5 + 2 + 5,
                                 "client hung against a server that answers wrong bytes or nothing")
    finally:
        fake.stop()
    check_client_exit(p, "fake server")
    j = client_json(p)
    if j.get("mismatches", 0) <= 0:
        raise Fail(f"fake server echoed wrong bytes, client JSON mismatches {j.get('mismatches')}")
    if j.get("errors", 0) <= 0:
        raise Fail(f"fake server answered nothing on 5 conns, client JSON errors {j.get('errors')}")
    log(f"     {os.path.basename(cdir)[:2]} client: exited {took:.1f} s after the kill;"
        f" fake server: {j.get('mismatches')} mismatches, {j.get('unanswered')} unanswered,"
        f" {took2:.1f} s")


def pick_server():
    for d in programs("server"):
        if d.startswith(os.path.join(ROOT, "06_")):
            return d
    return programs("server")[0]


# ---- the runner ---------------------------------------------------------------

SERVER_CASES = {
    "framing": case_framing,
    "halfclose": case_halfclose,
    "resets": case_resets,
    "slow": case_slow,
    "churn": case_churn,
    "nofd": case_nofd,
    "signals": case_signals,
}


def programs(kind):
    dirs = sorted(os.path.join(ROOT, e) for e in os.listdir(ROOT) if re.match(r"\d\d_", e))
    return [d for d in dirs if os.access(os.path.join(d, kind), os.X_OK)]


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in list(SERVER_CASES) + ["client"]:
        print(f"usage: hostile.py {'|'.join(list(SERVER_CASES) + ['client'])} [NN ...]",
              file=sys.stderr)
        return 2
    group, only = sys.argv[1], sys.argv[2:]
    kind = "client" if group == "client" else "server"
    dirs = [d for d in programs(kind) if not only or os.path.basename(d)[:2] in only]
    if kind == "server":
        dirs = [d for sdir in dirs for d in designs(sdir)]
    if not dirs:
        print(f"hostile {group}: no NN_*/{kind} built{' matching ' + ' '.join(only) if only else ''}")
        return 1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))	# our floods need fds
    # Most of a case is waiting on sockets and timers: run a few at once
    # (the client group, mostly sleeps, more).
    jobs = int(os.environ.get("C1M_HOSTILE_JOBS", "16" if kind == "client" else "4"))
    t_all = time.monotonic()

    def job(target):
        _out.lines = []
        _out.servers = []
        t0 = time.monotonic()
        nn = target.nn if kind == "server" else os.path.basename(target)[:2]
        try:
            if kind == "client":
                case_client(target)
            else:
                SERVER_CASES[group](target)
            return nn, None, _out.lines + [f"ok   {nn} {group} ({time.monotonic() - t0:.1f}s)"]
        except Exception as e:	# a Fail, or a bug of ours: one line either way
            why = str(e) if isinstance(e, Fail) else f"{type(e).__name__}: {e} (hostile.py)"
            for srv in getattr(_out, "servers", []):
                rep = srv.san_report()
                if rep and "sanitizer report" not in why:
                    why = f"sanitizer report: {rep}; then: {why}"
            return nn, why, _out.lines + [f"FAIL {nn} {group}: {why}"]

    failed = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for nn, why, lines in pool.map(job, dirs):
            print("\n".join(lines), flush=True)
            if why:
                failed.append((nn, why))
    print(f"hostile {group}: {len(dirs) - len(failed)} ok, {len(failed)} failed"
          f" of {len(dirs)} {kind}s in {time.monotonic() - t_all:.1f} s")
    for nn, why in failed:
        print(f"  {nn}: {why}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
