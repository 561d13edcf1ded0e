"""Processes and the cleanup stack.

Every process a run starts and every kernel change it makes is pushed on a
Cleanup stack as an undo step; the stack runs newest first when the run
ends, fails or is interrupted (run.main turns SIGINT/SIGTERM into an
exception, so the `finally` that calls run_all always runs).
"""
import signal
import subprocess
import sys


class CmdError(Exception):
    """A command run by cmd() failed; the message holds its output."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived: unwind, clean up, exit with `code`."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code


class Cleanup:
    """A stack of undo steps, run newest first."""

    def __init__(self):
        self._steps = []

    def defer(self, fn, *args, **kw):
        """Push fn(*args, **kw); returns a handle for cancel()."""
        handle = object()
        self._steps.append((handle, fn, args, kw))
        return handle

    def cancel(self, handle):
        """The step was done normally: drop it."""
        self._steps = [s for s in self._steps if s[0] is not handle]

    def run_all(self):
        """Run every step left, newest first, even if one raises. An
        interrupt during a step (Interrupted, KeyboardInterrupt) lets the
        other steps run first and is raised again after them."""
        pending = None
        while self._steps:
            _, fn, args, kw = self._steps.pop()
            try:
                fn(*args, **kw)
            except Exception as e:  # one failed undo must not stop the others
                print(f"run.sh: cleanup: {e}", file=sys.stderr, flush=True)
            except BaseException as e:
                pending = pending or e
        if pending is not None:
            raise pending


def stop_proc(popen, sig=signal.SIGTERM, grace_s=30):
    """Send sig, wait up to grace_s, then KILL; returns the exit code
    (negative: the signal that ended it, as subprocess says)."""
    if popen.poll() is None:
        try:
            popen.send_signal(sig)
        except ProcessLookupError:
            pass
        try:
            popen.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()
    return popen.returncode


def shell_rc(rc):
    """A Popen return code as bash's $? says it: -15 -> 143."""
    return 128 - rc if rc < 0 else rc


def cmd(argv, **kw):
    """Run argv to its end, capturing its output; raises CmdError with the
    output when it fails."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.STDOUT)
    kw.setdefault("text", True)
    kw.setdefault("stdin", subprocess.DEVNULL)
    r = subprocess.run(argv, check=False, **kw)
    if r.returncode != 0:
        out = (r.stdout or "").strip()
        raise CmdError(f"{' '.join(argv)}: exit {r.returncode}" + (f": {out}" if out else ""))
    return r


def bkg(argv, **kw):
    """Start argv in the background; the caller registers its stop step."""
    kw.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.Popen(argv, **kw)
