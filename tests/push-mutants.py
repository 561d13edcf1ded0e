#!/usr/bin/env python3
"""push-mutants.py [NAME ...] - prove that tests/pushserv.sh can fail.

Builds deliberately broken copies of the tree, one bug each, in a copy of
the repository under /tmp (the built objects copied along, so only the
patched file is compiled again), and runs the pushserv.sh check that must
catch it. Prints "caught" or "NOT CAUGHT" per mutant; exits 1 if a bug
went unnoticed or a patch no longer applies (the source moved on: update
its text below).

  skip-push   03 leaves its last connection out of one broadcast (the one
              that would be its 6th push, once: -b leaves l->cursor
              free for the flag): the sequence has no gap, the
              scheduled times do (broadcast)
  skip-seq    03 numbers a connection's third push 4 (broadcast)
  mid-frame   03 echoes bytes as they come in push mode, so a push can
              land between the two halves of a frame (echo)
  rate-share  06 gives every loop the whole -R rate, not its share (rate)
  rate-even   07 splits -R evenly over its children, not by the connections
              each holds, so a child with none loses its share (few)
  body-byte   common/push.c writes a push's last body byte wrong (large)
"""
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
S03 = "03_epoll_throughput/server.c"
SHARE = "push_clock_share(&l->clock, &cfg.push, atomic_load(&l->st->conns),\n\t\t\t\t stats_conns());"

# name: (design, check that must fail, file, text, its broken replacement)
MUTANTS = {
    "skip-push": ("03", "broadcast", S03,
                  "\t\t\telse if (l->pc[fd].live)\n\t\t\t\tpush_to(l, fd, due);",
                  "\t\t\telse if (l->pc[fd].live && (l->pc[fd].seq != 5 || fd != l->fd_max || l->cursor++))\n"
                  "\t\t\t\tpush_to(l, fd, due);"),
    "skip-seq": ("03", "broadcast", S03, "uint64_t seq = ++l->pc[fd].seq;",
                 "uint64_t seq = l->pc[fd].seq += 1 + (l->pc[fd].seq == 2);"),
    "mid-frame": ("03", "echo", S03, "\t\twhole = got - got % FRAME_SIZE;",
                  "\t\twhole = got;"),
    "rate-share": ("06", "rate", "06_multi_epoll_server/server.c", SHARE,
                   "push_clock_share(&l->clock, &cfg.push, 1, 1);"),
    "rate-even": ("07", "few", "07_prefork/server.c", SHARE,
                  "push_clock_share(&l->clock, &cfg.push, 1, cfg.loops);"),
    "body-byte": ("03", "large", "common/push.c", "\t\tbuf[i] = push_byte(seq, i);",
                  "\t\tbuf[i] = push_byte(seq, i) ^ (i == len - 1);"),
}


def copy_tree(dst):
    for e in os.listdir(ROOT):
        if e in (".git", "results"):
            continue
        src = os.path.join(ROOT, e)
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(dst, e), symlinks=True,
                            ignore=shutil.ignore_patterns("test-logs"))
        else:
            shutil.copy2(src, dst)


def main():
    names = sys.argv[1:] or list(MUTANTS)
    for n in names:
        if n not in MUTANTS:
            print(f"usage: push-mutants.py [{'|'.join(MUTANTS)} ...]", file=sys.stderr)
            return 2
    san = os.environ.get("SAN", "")
    bad = 0
    with tempfile.TemporaryDirectory(prefix="c1m-push-mutants.") as work:
        for name in names:
            nn, check, path, old, new = MUTANTS[name]
            tree = os.path.join(work, name)
            os.mkdir(tree)
            copy_tree(tree)
            f = os.path.join(tree, path)
            with open(f) as fh:
                src = fh.read()
            if src.count(old) != 1:
                print(f"{name}: the patch no longer applies to {path}: update {sys.argv[0]}")
                bad += 1
                continue
            with open(f, "w") as fh:
                fh.write(src.replace(old, new))
            design = next(d for d in os.listdir(tree) if d.startswith(nn + "_"))
            b = subprocess.run(["make", "-s", "-C", tree, f"SAN={san}", f"{design}/server"],
                               capture_output=True, text=True)
            if b.returncode:
                print(f"{name}: does not build: {b.stderr.strip().splitlines()[-3:]}")
                bad += 1
                continue
            r = subprocess.run(["bash", "tests/pushserv.sh", nn, check], cwd=tree,
                               capture_output=True, text=True, timeout=120)
            if r.returncode:
                why = next((l for l in r.stdout.splitlines() if "FAIL" in l or "json_check" in l),
                           r.stdout.strip().splitlines()[-1:])
                print(f"{name}: caught by {check}: {why}")
            else:
                print(f"{name}: NOT CAUGHT by {check}")
                bad += 1
            shutil.rmtree(tree)
    print(f"{len(names) - bad} of {len(names)} mutants caught")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
