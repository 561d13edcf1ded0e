#!/usr/bin/env python3
"""hostile-mutants.py [NAME ...] - prove that each hostile case can fail.

Builds deliberately broken copies of the suite, one bug each patched into
a server (03, whose handlers every epoll server writes the same way) or
the client in a copy of the tree under /tmp, and runs the hostile group
that must catch it against 03 (05 for the client's bugs). Prints "caught"
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
    "frames-whole": ("framing", "03_epoll_throughput/server.c",	# assumes whole frames per read
                     "\t\tw = send_some(fd, l->buf, (size_t)n);",
                     "\t\tn -= n % FRAME_SIZE;\n\t\tw = send_some(fd, l->buf, (size_t)n);"),
    "rst-on-eof": ("halfclose", "03_epoll_throughput/server.c",	# closes with RST, dropping unsent echo
                   "\tclose(fd);\t\t/* also leaves the epoll set */",
                   "\tif (!err)\n\t\tnet_set_linger0(fd);\n\tclose(fd);"),
    "sigpipe": ("resets", "common/util.c",	# SIGPIPE left at its default: death
                "\tsignal(SIGPIPE, SIG_IGN);\n", ""),
    "leak-on-error": ("resets", "03_epoll_throughput/server.c",	# a reset conn leaves epoll, not the table
                      "\tclose(fd);\t\t/* also leaves the epoll set */",
                      "\tif (err)\n\t\tepoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);\n\telse\n\t\tclose(fd);"),
    "busy-write": ("slow", "03_epoll_throughput/server.c",	# retries EAGAIN: one slow reader stalls the loop
                   "\t\telse if (n < 0 && errno == EAGAIN)\n\t\t\tbreak;",
                   "\t\telse if (n < 0 && errno == EAGAIN)\n\t\t\tcontinue;"),
    "drop-pending": ("slow", "03_epoll_throughput/server.c",	# drops what the peer would not take, reads on
                     "\t\tif (w < n) {", "\t\tif (w < 0) {"),
    "leak-on-eof": ("churn", "03_epoll_throughput/server.c",	# a clean EOF never closes the fd
                    "\tclose(fd);\t\t/* also leaves the epoll set */",
                    "\tif (err)\n\t\tclose(fd);\n\telse\n\t\tshutdown(fd, SHUT_RDWR);"),
    "emfile-spin": ("nofd", "03_epoll_throughput/server.c",	# EMFILE: the listener stays in the set
                    "\t\t\t\tepoll_ctl(l->ep, EPOLL_CTL_DEL, l->lfd, NULL);\n", ""),
    "no-stop": ("signals", "03_epoll_throughput/server.c",	# the loop never looks for a signal
                "\t\t\tsig_wait(0);", "\t\t\t(void)0;"),
    "client-no-check": ("client", "05_multi_epoll_client/client.c",	# replies never compared
                        "if (memcmp(c->reply, &be, FRAME_SIZE) != 0)", "if ((void)be, 0)"),
    "client-ignore-eof": ("client", "05_multi_epoll_client/client.c",	# EOF on a reply is not a lost conn
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
            b = subprocess.run(["make", "-C", tree, "-j2", "03_epoll_throughput/server",
                                "05_multi_epoll_client/client"], capture_output=True, text=True)
            if b.returncode:
                print(f"{name}: does not build: {b.stderr.strip().splitlines()[-3:]}")
                bad += 1
                continue
            only = "05" if group == "client" else "03"
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
