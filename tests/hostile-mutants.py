#!/usr/bin/env python3
"""hostile-mutants.py [NAME ...] - prove that each hostile case can fail.

Builds deliberately broken copies of the suite, one bug each patched into
common/ or 06 in a copy of the tree under /tmp, and runs the hostile group
that must catch it against 06 (05 for the client's bugs). Prints "caught"
or "NOT CAUGHT" per mutant; exits 1 if a bug went unnoticed or a patch no
longer applies (the source moved on: update its text below).

Not part of make test (one build per mutant, ~1 min in all); run it after
changing tests/hostile.py or the code the mutants patch.
"""
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name: (group that must fail, file, text, its broken replacement)
MUTANTS = {
    "frames-whole": ("framing", "common/echo.c",	# assumes whole frames per read
                     "\t\tr = echo_write(c, fd, buf, (size_t)n, bytes);",
                     "\t\tn -= n % FRAME_SIZE;\n\t\tr = echo_write(c, fd, buf, (size_t)n, bytes);"),
    "rst-on-eof": ("halfclose", "common/echo.c",	# closes with RST, dropping unsent echo
                   "\techo_reset(c);\n\tclose(fd);",
                   "\techo_reset(c);\n\tif (!err)\n\t\tnet_set_linger0(fd);\n\tclose(fd);"),
    "sigpipe": ("resets", "common/util.c",	# SIGPIPE left at its default: death
                "\tsignal(SIGPIPE, SIG_IGN);\n", ""),
    "leak-on-error": ("resets", "common/echo.c",	# a reset conn leaves epoll, not the table
                      "\tif (r != ECHO_CLOSE)\n\t\treturn 0;\n",
                      "\tif (r != ECHO_CLOSE)\n\t\treturn 0;\n\tif (errno) {\n"
                      "\t\tepoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);\n\t\treturn -1;\n\t}\n"),
    "busy-write": ("slow", "common/echo.c",	# retries EAGAIN: one slow reader stalls the loop
                   "\t\t} else if (n < 0 && errno == EAGAIN) {\n\t\t\tbreak;",
                   "\t\t} else if (n < 0 && errno == EAGAIN) {\n\t\t\tcontinue;"),
    "drop-pending": ("slow", "common/echo.c",	# drops what the peer would not take, reads on
                     "\tif (keep(c, buf + w, len - (size_t)w) < 0)\n\t\treturn ECHO_CLOSE;\n"
                     "\treturn ECHO_BLOCKED;",
                     "\t(void)keep;\n\t(void)c;\n\treturn ECHO_OPEN;"),
    "leak-on-eof": ("churn", "common/echo.c",	# a clean EOF never closes the fd
                    "\techo_reset(c);\n\tclose(fd);",
                    "\techo_reset(c);\n\tif (err)\n\t\tclose(fd);\n\telse\n\t\tshutdown(fd, SHUT_RDWR);"),
    "emfile-spin": ("nofd", "common/server.c",	# EMFILE: the listener stays in the set
                    "\t\t\t\tepoll_ctl(a->ep, EPOLL_CTL_DEL, a->lfd, NULL);\n", ""),
    "no-stop": ("signals", "06_multi_epoll_server/server.c",	# loops never see sig_stop
                "MAX_EVENTS, 100);", "MAX_EVENTS, -1);"),
    "client-no-check": ("client", "common/client.c",	# replies never compared
                        "if (memcmp(c->reply, &be, FRAME_SIZE) != 0)", "if ((void)be, 0)"),
    "client-ignore-eof": ("client", "common/client.c",	# EOF on a reply is not a lost conn
                          "\t} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {\n"
                          "\t\tconn_close(l, fd, 1);\n\t}\n}",
                          "\t} else if (n < 0 && errno != EAGAIN && errno != EINTR) {\n"
                          "\t\tconn_close(l, fd, 1);\n\t}\n}"),
}


def copy_tree(dst):
    skip = {"build", ".git", "results"}
    for e in os.listdir(ROOT):
        if e in skip:
            continue
        src = os.path.join(ROOT, e)
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(dst, e), symlinks=True)
        else:
            shutil.copy2(src, dst)


def main():
    names = sys.argv[1:] or list(MUTANTS)
    bad = 0
    with tempfile.TemporaryDirectory(prefix="c1m-mutants.") as work:
        for name in names:
            group, path, old, new = MUTANTS[name]
            tree = os.path.join(work, name)
            os.mkdir(tree)
            copy_tree(tree)
            f = os.path.join(tree, path)
            src = open(f).read()
            if src.count(old) != 1:
                print(f"{name}: the patch no longer applies to {path}: update {sys.argv[0]}")
                bad += 1
                continue
            open(f, "w").write(src.replace(old, new))
            b = subprocess.run(["make", "-C", tree, "-j2", "all"], capture_output=True, text=True)
            if b.returncode:
                print(f"{name}: does not build: {b.stderr.strip().splitlines()[-3:]}")
                bad += 1
                continue
            only = "05" if group == "client" else "06"
            r = subprocess.run([sys.executable, "tests/hostile.py", group, only], cwd=tree,
                               capture_output=True, text=True, timeout=300)
            if r.returncode:
                why = next((l for l in r.stdout.splitlines() if l.startswith("FAIL")), "")
                print(f"{name}: caught by {group}: {why}")
            else:
                print(f"{name}: NOT CAUGHT by {group}")
                bad += 1
            shutil.rmtree(tree)
    print(f"{len(names) - bad} of {len(names)} mutants caught")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
