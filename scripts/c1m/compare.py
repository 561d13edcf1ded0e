# STAND-IN: replaced by the compare helper's module (compare.py). It runs
# today's one-round plan through run.py's env, so run.py's tests run.
"""./run.sh compare: every design like for like."""
import sys
import time

from .fmt import fmt_int as num
from .fmt import fmt_list

COMMON_CONNS = 10000
SCALE_DESIGNS = ("03", "06", "07", "08", "14")
SCALE_CONNS = (1000, 100000, 1000000)


def main(opts, env):
    set_id = "compare-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    designs = env.valid_designs()
    if not designs:
        print("run.sh: no design has both a server and a client yet", flush=True)
        return 1
    caps, ok, bad, common, why = {}, [], [], COMMON_CONNS, ""
    for nn in designs:
        if not env.build(nn):
            bad.append(f"{nn}: make failed")
            continue
        c = env.cap(nn)
        if c is None:
            bad.append(f"{nn}: cannot size it")
            continue
        caps[nn] = c
        ok.append(nn)
        if c[0] < common:
            common, why = c[0], f"{env.dir_of(nn)} holds at most {num(c[0])} here, limited by {c[1]}"
    runs, counts = [], {nn: [common] for nn in ok}
    runs += [(nn, common) for nn in ok]
    for nn in SCALE_DESIGNS:
        if nn not in caps:
            continue
        for n in SCALE_CONNS:
            c = min(n, caps[nn][0])
            if c not in counts[nn]:
                runs.append((nn, c))
                counts[nn].append(c)
    total = sum(env.estimate(c) for _, c in runs)
    print(f"compare {set_id}: {len(runs)} runs, about {(total + 59) // 60} min")
    if common < COMMON_CONNS:
        print(f"  every design at {num(common)} connections, not {num(COMMON_CONNS)}: {why}")
    else:
        print(f"  every design at {num(common)} connections (all of them hold that here)")
    print(f"  then {', '.join(SCALE_DESIGNS)} at {fmt_list(SCALE_CONNS)}, each only up to its cap:")
    for nn in ok:
        print("  %-24s %-36s (cap %s: %s)" % (env.dir_of(nn), fmt_list(sorted(counts[nn])),
                                            num(caps[nn][0]), caps[nn][1]))
    for b in bad:
        print(f"  not run: {b}")
    summaries = []
    for i, (nn, c) in enumerate(runs, 1):
        print(f"\ncompare: {i}/{len(runs)} {env.dir_of(nn)} at {num(c)} connections (set {set_id})", flush=True)
        rc, summary, _ = env.run_one(nn, c, {"set_id": set_id, "round": 1, "rounds": 1, "reference": ""})
        if summary:
            summaries.append(summary)
        if rc == 2:
            bad.append(f"{nn} at {num(c)}: refused")
        elif rc:
            bad.append(f"{nn} at {num(c)}: failed")
    if summaries:
        print(f"\ncompare {set_id}:")
        print(env.table(summaries))
        print(f"scripts/report regenerates the README table and {env.results_dir}/summary.svg")
    if not bad:
        return 0
    print(f"run.sh: compare: {len(bad)} of {len(runs)} runs did not pass:", file=sys.stderr)
    for b in bad:
        print(f"  {b}", file=sys.stderr)
    return 1
