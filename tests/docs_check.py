#!/usr/bin/env python3
"""docs_check.py links|mentions|counts [ROOT] - no dangling references in
the tree, and no stale figure that a command can check.

links     every relative link and image in README.md and docs/**/*.md
          points at a file or directory that exists (links to a web
          address or to an anchor in the same page are not checked).
mentions  no file tracked by git names the design notes that are not in
          the repository (the spec, by its file name or its upper-case
          name alone, and the merge interface file), or
          an issue number ("issue" followed by a number): a reader of the
          repository cannot follow either.
counts    the `server.c` lines column of README.md's designs table is
          `wc -l` of each NN_*/server.c, and the table lists every one.

Prints each dangling reference as FILE:LINE: what, and exits 1 if there is
any, 0 if none, 2 on bad arguments. ROOT defaults to the repository that
holds this script.
"""
import os
import re
import subprocess
import sys

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
CODE_SPAN = re.compile(r"`[^`]*`")
# Built from parts so that this file does not name what it looks for.
# The spec is cited as its file name or as the upper-case word alone.
MENTIONS = (
    re.compile(r"\bSP" r"EC\b|\bi11-interface" r"\.md\b"),
    re.compile(r"\biss" r"ues?\s+#?\d+", re.IGNORECASE),
)


def markdown_files(root):
    """README.md and every .md file under docs/, sorted."""
    out = [os.path.join(root, "README.md")]
    for d, _, files in os.walk(os.path.join(root, "docs")):
        out += [os.path.join(d, f) for f in files if f.endswith(".md")]
    return sorted(p for p in out if os.path.isfile(p))


def links(root):
    """(file, line number, target) of every relative link that is missing."""
    bad = []
    for path in markdown_files(root):
        fence = False
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if line.lstrip().startswith("```"):
                    fence = not fence
                    continue
                if fence:
                    continue
                for target in LINK.findall(CODE_SPAN.sub("", line)):
                    if SCHEME.match(target) or target.startswith("#"):
                        continue
                    file_part = target.split("#", 1)[0].split("?", 1)[0]
                    full = os.path.normpath(os.path.join(os.path.dirname(path), file_part))
                    if not os.path.exists(full):
                        bad.append((os.path.relpath(path, root), n, target))
    return bad


def tracked_files(root):
    """Every file git tracks under root."""
    out = subprocess.run(["git", "-C", root, "ls-files", "-z"], check=True,
                         stdout=subprocess.PIPE).stdout
    return [p for p in out.decode().split("\0") if p]


def mentions(root):
    """(file, line number, the mention) of every forbidden mention."""
    bad = []
    for rel in tracked_files(root):
        path = os.path.join(root, rel)
        if os.path.islink(path) or not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (UnicodeDecodeError, OSError):
            continue  # binary, or gone from the work tree
        if "\0" in text:
            continue
        for n, line in enumerate(text.splitlines(), 1):
            for pattern in MENTIONS:
                for m in pattern.finditer(line):
                    bad.append((rel, n, m.group(0)))
    return bad


def line_counts(root):
    """(design, what the README says, what wc -l says) of every mismatch."""
    actual = {}
    for d in sorted(os.listdir(root)):
        path = os.path.join(root, d, "server.c")
        if re.match(r"^\d\d_", d) and os.path.isfile(path):
            with open(path, "rb") as f:
                actual[d] = f.read().count(b"\n")
    header, stated = None, {}
    with open(os.path.join(root, "README.md"), encoding="utf-8") as f:
        for line in f:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if "`server.c` lines" in cells:
                header = cells.index("`server.c` lines")
            elif header is not None and cells and cells[0].startswith("`"):
                stated[cells[0].strip("`")] = cells[header] if header < len(cells) else ""
            elif header is not None and not line.startswith("|"):
                break
    bad = [(d, stated.get(d, "missing"), n) for d, n in actual.items()
           if stated.get(d) != str(n)]
    bad += [(d, stated[d], "no such server.c") for d in stated if d not in actual]
    return bad


def main():
    if len(sys.argv) not in (2, 3) or sys.argv[1] not in ("links", "mentions", "counts"):
        print("usage: docs_check.py links|mentions|counts [ROOT]", file=sys.stderr)
        return 2
    root = sys.argv[2] if len(sys.argv) == 3 else os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))
    if not os.path.isdir(root):
        print(f"docs_check.py: {root}: not a directory", file=sys.stderr)
        return 2
    if sys.argv[1] == "links":
        bad = links(root)
        for path, n, target in bad:
            print(f"{path}:{n}: link to a missing file: {target}")
        print(f"{len(bad)} dangling links in {len(markdown_files(root))} pages")
        return 1 if bad else 0
    if sys.argv[1] == "counts":
        bad = line_counts(root)
        for d, said, n in bad:
            print(f"README.md: {d}: says {said} lines, wc -l says {n}")
        print(f"{len(bad)} stale line counts")
        return 1 if bad else 0
    bad = mentions(root)
    for path, n, what in bad:
        print(f"{path}:{n}: names {what!r}, which a reader cannot follow")
    files = sorted({b[0] for b in bad})
    print(f"{len(bad)} mentions in {len(files)} files: {' '.join(files)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
