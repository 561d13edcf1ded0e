# STAND-IN: replaced by the merge helper's module (perf.py): it still calls
# the bash scripts/perf-top, as run.sh's perf_top did.
"""--perf: the profile's text after a run."""
import os
import re
import subprocess


def after_run(perf_dir, rps):
    """Writes the rate, DIR/window/top.txt and DIR/ramp/top.txt; returns
    what run.sh prints after the table."""
    win, ramp = os.path.join(perf_dir, "window"), os.path.join(perf_dir, "ramp")
    with open(os.path.join(win, "window"), "a") as f:
        f.write(f"rate {rps}\n")
    with open(os.path.join(win, "top.txt"), "w") as f:
        subprocess.run(["scripts/perf-top", win], stdout=f)
    rw = os.path.join(ramp, "window")
    if os.path.exists(rw) and os.path.getsize(rw) > 0:
        with open(os.path.join(ramp, "top.txt"), "w") as f:
            subprocess.run(["scripts/perf-top", ramp], stdout=f)
    with open(os.path.join(win, "top.txt")) as f:
        lines = f.read().splitlines()
    head, rest, on = [], [], False
    for line in lines:
        if on:
            rest.append(line)
        else:
            head.append(line)
            on = re.match(r"process *function", line) is not None
    out = ["", f"profile of the window ({win}/top.txt, and of the ramp in {ramp}/top.txt):"]
    return "\n".join(out + head + rest[:12]) + "\n"
