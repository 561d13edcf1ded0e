"""Tests of scripts/c1m/compare.py: the plan, the references, and main()
over a fake env whose runs return known figures (the known-answer test:
known rounds give the known medians, ratios and within-noise marks, in the
table and in compare-<set>.json).

run: python3 -m unittest discover -s tests/py -p 'test_compare.py'
"""
import contextlib
import glob
import io
import json
import os
import re
import sys
import tempfile
import unittest
from unittest import mock

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
from c1m import compare  # noqa: E402
from c1m.model import Options  # noqa: E402

# Round trips/s per round: (name, count) -> [round 1, 2, 3]; None = failed.
KNOWN = {
    ("baseline", 1000): [1000, 1000, 1000],
    ("baseline", 10000): [100, 200, 150],
    ("03", 10000): [50, 110, 60],       # ratios 0.5 0.55 0.4
    ("06", 10000): [80, 150, 120],      # ratios 0.8 0.75 0.8
    ("09", 10000): [50, None, 90],      # ratios 0.5 - 0.6 (round 2 failed)
    ("03", 1000): [500, 500, 500],
    ("09", 1000): [250, 500, 400],      # only with --ref 09
    ("06", 1000): [900, 1100, 1000],
    ("03", 50000): [40, 41, 42],
    ("06", 100000): [30, 33, 36],
    ("06", 1000000): [10, 12, 11],
}
CAPS = {"03": 50000, "06": 2000000, "09": 30000}


class FakeEnv:
    """run.py's env over no programs: every call is logged."""

    def __init__(self, tmp, dry_run=False):
        self.results_dir = os.path.join(tmp, "results")
        self.repo_dir = tmp
        self.dry_run = dry_run
        self.calls = []
        os.makedirs(os.path.join(tmp, "scripts"))
        exe = os.path.join(tmp, "scripts", "baseline_pair")
        with open(exe, "w") as f:
            f.write("#!/bin/sh\nexit 1\n")
        os.chmod(exe, 0o755)

    def valid_designs(self):
        return list(CAPS)

    def dir_of(self, nn):
        return {"03": "03_epoll_throughput", "06": "06_multi_epoll_server",
                "09": "09_few_clients"}[nn]

    def build(self, nn):
        return True

    def cap(self, nn):
        return CAPS[nn], f"fake cap of {nn}"

    def estimate(self, conns):
        return 10

    def table(self, summaries):
        return f"ALL RUNS TABLE ({len(summaries)} rows)"

    def run_one(self, nn, asked, tags):
        self.calls.append((nn, asked, dict(tags)))
        if self.dry_run:
            print(f"client: fake {nn} -n {asked}")
            return 0, None, None
        rps = KNOWN[(nn, asked)][tags["round"] - 1]
        if rps is None:
            return 1, {"nn": nn, "rps": 7, "status": "failed"}, None
        return 0, {"nn": nn, "conns": asked, "rps": rps, "p99_us": 2000.0 * tags["round"],
                   "server_us_per_rt": 5.25 + tags["round"], "status": "ok"}, \
            f"/r/{nn}-{asked}-{tags['round']}.json"


def run_main(env, **kw):
    calls = []

    def fake_baseline(binary, conns, secs, pin=None, tries=5):
        calls.append((conns, secs))
        # The round is the count of earlier baseline runs at this count.
        rnd = sum(1 for c, _ in calls if c == conns)
        return 0, float(KNOWN[("baseline", conns)][rnd - 1]), ""

    opts = Options(target="compare", rounds=kw.pop("rounds", 3), argv=["compare", "-r", "3"],
                   build=False, dry_run=env.dry_run, **kw)
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.object(compare, "run_baseline", fake_baseline), \
            mock.patch.object(compare, "baseline_cap", lambda: (20000, "fake fd table")), \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = compare.main(opts, env)
    return rc, out.getvalue(), err.getvalue(), calls


def line_of(text, head, design):
    """The table row of design under the table headed 'at HEAD connections'."""
    block = text.split(f"\nat {head} connections")[1].split("\n\n")[0]
    rows = [ln for ln in block.splitlines() if ln.startswith(design)]
    assert len(rows) == 1, (design, block)
    return rows[0]


def marks(text, head, design):
    """What design's row says under "~ within noise of" in that table."""
    block = text.split(f"\nat {head} connections")[1]
    col = block.splitlines()[1].index("~ within noise of")
    return line_of(text, head, design)[col:].strip()


class Plan(unittest.TestCase):
    def test_every_design_at_common_then_scaling(self):
        common, limiter, runs = compare.plan(dict(CAPS))
        self.assertEqual((common, limiter), (10000, None))
        self.assertEqual(runs, [("03", 10000), ("06", 10000), ("09", 10000),
                                ("03", 1000), ("03", 50000),
                                ("06", 1000), ("06", 100000), ("06", 1000000)])

    def test_least_cap_lowers_common(self):
        # run.sh's fake tree: one design that holds 4,990.
        self.assertEqual(compare.plan({"03": 4990}), (4990, "03", [("03", 4990), ("03", 1000)]))

    def test_references_baseline_then_06(self):
        _, _, runs = compare.plan(dict(CAPS))
        refs, extra = compare.references(runs, "baseline", CAPS, 20000)
        self.assertEqual({c: r[0] for c, r in refs.items()},
                         {1000: "baseline", 10000: "baseline", 50000: None,
                          100000: "06", 1000000: "06"})
        self.assertEqual(extra, [])

    def test_references_named_design(self):
        _, _, runs = compare.plan(dict(CAPS))
        refs, extra = compare.references(runs, "09", CAPS, 20000)
        self.assertEqual({c: r[0] for c, r in refs.items()},
                         {1000: "09", 10000: "09", 50000: None,
                          100000: "06", 1000000: "06"})
        self.assertEqual(extra, [("09", 1000)])   # 09 is not planned at 1,000


class KnownAnswer(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.env = FakeEnv(self.tmp.name)
        self.rc, self.out, self.err, self.base = run_main(self.env)

    def tearDown(self):
        self.tmp.cleanup()

    def test_interleaved_rounds(self):
        # Round 1 runs every (design, count), then round 2, then round 3.
        order = [(nn, c) for nn, c, _ in self.env.calls]
        _, _, runs = compare.plan(dict(CAPS))
        self.assertEqual(order, runs * 3)
        self.assertEqual([t["round"] for _, _, t in self.env.calls], [1] * 8 + [2] * 8 + [3] * 8)
        tags = self.env.calls[0][2]
        self.assertEqual(tags["rounds"], 3)
        self.assertRegex(tags["set_id"], r"^compare-\d{8}T\d{6}Z$")
        self.assertEqual({t["set_id"] for _, _, t in self.env.calls}, {tags["set_id"]})
        self.assertEqual({c: t["reference"] for _, c, t in self.env.calls},
                         {1000: "baseline", 10000: "baseline", 50000: "",
                          100000: "06", 1000000: "06"})
        # The bare pair at every count it holds, in every round.
        self.assertEqual(sorted(self.base), [(1000, 10.0)] * 3 + [(10000, 10.0)] * 3)

    def test_plan_printed_first(self):
        head = self.out.splitlines()
        self.assertRegex(head[0], r"^compare compare-\d{8}T\d{6}Z: 24 runs, about 5 min$")
        self.assertIn("  every design at 10,000 connections (all of them hold that here)", head)
        self.assertTrue(any(re.match(r"^  reference at 1,000, 10,000: scripts/baseline_pair", h)
                            for h in head), head[:20])
        self.assertIn("  reference at 100,000, 1,000,000: 06_multi_epoll_server "
                      "(baseline_pair cannot hold it here), in every round", head)
        self.assertTrue(any(h.startswith("  no reference at 50,000") for h in head))
        self.assertEqual(len(re.findall(r"(?m)^compare: \d+/24 ", self.out)), 24)

    def test_table_figures(self):
        row = line_of(self.out, "10,000", "03_epoll_throughput")
        self.assertIn("60 [50-110]", row)           # rps median [min-max]
        self.assertIn("0.50 [0.40-0.55]", row)      # same-round ratios
        self.assertIn("4.0 ms", row)                # p99 median
        self.assertIn("7.2", row)                   # server us/rt median (7.25)
        self.assertEqual(marks(self.out, "10,000", "03_epoll_throughput"), "09")
        row = line_of(self.out, "10,000", "06_multi_epoll_server")
        self.assertIn("0.80 [0.75-0.80]", row)
        # No marks: its rps range meets 03's, its ratio range does not.
        self.assertEqual(marks(self.out, "10,000", "06_multi_epoll_server"), "")
        row = line_of(self.out, "10,000", "09_few_clients  (2 of 3)")
        self.assertIn("0.55 [0.50-0.60]", row)      # the failed round left out
        self.assertEqual(marks(self.out, "10,000", "09_few_clients"), "03")
        row = line_of(self.out, "10,000", "baseline_pair  (reference)")
        self.assertIn("150 [100-200]", row)
        self.assertIn("1.00", row)
        row = line_of(self.out, "100,000", "06_multi_epoll_server  (reference)")
        self.assertIn("33 [30-36]", row)
        self.assertIn("no reference", self.out.split("\nat 50,000 connections")[1].splitlines()[0])
        self.assertIn("The x ref columns are what a reader on another machine can compare", self.out)

    def test_json(self):
        files = glob.glob(os.path.join(self.env.results_dir, "compare-*.json"))
        self.assertEqual(len(files), 1)
        with open(files[0]) as f:
            doc = json.load(f)
        self.assertEqual(os.path.basename(files[0]), doc["set"] + ".json")
        self.assertEqual((doc["schema_version"], doc["rounds"], doc["reference_asked"]),
                         (1, 3, "baseline"))
        by = {c["conns"]: c for c in doc["counts"]}
        self.assertEqual(sorted(by), [1000, 10000, 50000, 100000, 1000000])
        rows = {r["name"]: r for r in by[10000]["rows"]}
        self.assertEqual(by[10000]["reference"], "baseline")
        self.assertEqual([r["rps"] for r in rows["03"]["rounds"]], [50, 110, 60])
        self.assertEqual([r["ratio"] for r in rows["03"]["rounds"]], [0.5, 0.55, 0.4])
        self.assertEqual(rows["03"]["ratio"], {"median": 0.5, "min": 0.4, "max": 0.55, "n": 3})
        self.assertEqual(rows["03"]["rps"], {"median": 60, "min": 50, "max": 110, "n": 3})
        self.assertEqual(rows["03"]["server_us_per_rt"]["median"], 7.25)
        self.assertEqual(rows["03"]["rounds"][0]["result"], "/r/03-10000-1.json")
        self.assertEqual(rows["09"]["rounds"][1]["rc"], 1)
        self.assertIsNone(rows["09"]["rounds"][1]["ratio"])
        self.assertEqual(rows["09"]["ratio"]["n"], 2)
        self.assertAlmostEqual(rows["09"]["ratio"]["median"], 0.55)
        self.assertEqual(rows["03"]["within_noise_of"], ["09"])
        self.assertEqual(rows["09"]["within_noise_of"], ["03"])
        self.assertEqual(rows["06"]["within_noise_of"], [])
        self.assertTrue(rows["baseline"]["reference"])
        self.assertIsNone(by[50000]["reference"])
        self.assertEqual(by[50000]["rows"][0]["ratio"]["n"], 0)

    def test_failed_run_reported(self):
        self.assertEqual(self.rc, 1)
        self.assertIn("run.sh: compare: 1 of 24 runs did not pass:", self.err)
        self.assertIn("  09 at 10,000, round 2: failed", self.err)


class OneRound(unittest.TestCase):
    def test_no_marks_and_says_why(self):
        with tempfile.TemporaryDirectory() as tmp:
            rc, out, _, _ = run_main(FakeEnv(tmp), rounds=1)
        self.assertEqual(rc, 0)
        self.assertRegex(out.splitlines()[0], r": 8 runs, about 2 min$")
        self.assertIn("One round shows no noise", out)
        # 03 and 09 at 10,000 both did 0.5 of the reference in their one
        # round: equal, but one round shows no noise, so no mark.
        self.assertIn(" 0.50 ", line_of(out, "10,000", "03_epoll_throughput"))
        self.assertIn(" 0.50 ", line_of(out, "10,000", "09_few_clients"))
        self.assertEqual(marks(out, "10,000", "03_epoll_throughput"), "")
        self.assertEqual(marks(out, "10,000", "09_few_clients"), "")


class NamedReference(unittest.TestCase):
    def test_ref_design_runs_at_every_count_it_holds(self):
        with tempfile.TemporaryDirectory() as tmp:
            env = FakeEnv(tmp)
            rc, out, _, base = run_main(env, rounds=2, reference="09")
        self.assertEqual(rc, 1)                   # 09 at 10,000, round 2 failed
        self.assertIn(("09", 1000), [(nn, c) for nn, c, _ in env.calls])
        self.assertIn("  09_few_clients           1,000, 10,000 ", out)
        self.assertRegex(out.splitlines()[0], r": 18 runs, ")
        # The bare pair only where 09 cannot go and it can: nowhere here.
        self.assertEqual(base, [])
        self.assertIn("at 1,000 connections, 2 rounds; reference 09_few_clients (asked with --ref)", out)
        self.assertIn("1.50 [1.00-2.00]", line_of(out, "1,000", "03_epoll_throughput"))
        self.assertIn("  no reference at 50,000: neither 09 nor baseline_pair can run it here", out)


class Interrupted(unittest.TestCase):
    def test_ctrl_c_keeps_the_rounds_so_far(self):
        with tempfile.TemporaryDirectory() as tmp:
            env = FakeEnv(tmp)
            real = env.run_one

            def run_one(nn, asked, tags):
                if len(env.calls) == 10:        # round 2's third run
                    raise KeyboardInterrupt
                return real(nn, asked, tags)
            env.run_one = run_one
            with self.assertRaises(KeyboardInterrupt):
                run_main(env)
            files = glob.glob(os.path.join(env.results_dir, "compare-*.json"))
            self.assertEqual(len(files), 1)
            with open(files[0]) as f:
                doc = json.load(f)
        self.assertTrue(doc["interrupted"])
        rows = {r["name"]: r for r in doc["counts"][1]["rows"]}
        self.assertEqual([r["rps"] for r in rows["03"]["rounds"]], [50, 110, None])
        self.assertEqual([r["rc"] for r in rows["09"]["rounds"]], [0, None, None])
        self.assertEqual(rows["03"]["ratio"]["n"], 2)


class DryRun(unittest.TestCase):
    def test_prints_runs_writes_nothing(self):
        with tempfile.TemporaryDirectory() as tmp:
            env = FakeEnv(tmp, dry_run=True)
            rc, out, _, base = run_main(env, rounds=2)
            self.assertFalse(os.path.exists(env.results_dir))
        self.assertEqual((rc, base), (0, []))
        self.assertEqual(len(env.calls), 16)
        self.assertEqual(len(re.findall(r"(?m)^client: ", out)), 16)
        self.assertEqual(len(re.findall(r"(?m)^compare: reference baseline_pair at ", out)), 4)
        self.assertNotIn("\nat 10,000 connections", out)


class MaxConns(unittest.TestCase):
    def test_no_count_above_it(self):
        # --max-conns 10000: every design at 10,000, the scaling ones at 1,000
        # too, none at 50,000, 100,000 or 1,000,000.
        with tempfile.TemporaryDirectory() as tmp:
            env = FakeEnv(tmp, dry_run=True)
            rc, out, _, _ = run_main(env, rounds=1, max_conns=10000)
        self.assertEqual(rc, 0)
        self.assertEqual(sorted({(nn, n) for nn, n, _ in env.calls}),
                         [("03", 1000), ("03", 10000), ("06", 1000), ("06", 10000), ("09", 10000)])
        self.assertIn("(cap 10,000: --max-conns)", out)


class Designs(unittest.TestCase):
    """--designs LIST: only those designs run (and an asked --ref design),
    interleaved round by round as the whole plan is."""

    def test_only_those_interleaved(self):
        with tempfile.TemporaryDirectory() as tmp:
            env = FakeEnv(tmp)
            rc, out, err, base = run_main(env, designs=["03", "09"])
        self.assertEqual(rc, 1, err)          # 09's round 2 fails, as KNOWN says
        ran = [(nn, n, t["round"]) for nn, n, t in env.calls]
        self.assertEqual({nn for nn, _, _ in ran}, {"03", "09"})
        # Round by round: every (design, count) of round 1 before any of round 2.
        self.assertEqual([r for _, _, r in ran], sorted(r for _, _, r in ran))
        self.assertEqual(sorted({(nn, n) for nn, n, _ in ran}), [("03", 1000), ("03", 10000),
                                                                 ("03", 50000), ("09", 10000)])
        self.assertIn("only the designs asked (--designs 03,09)", out)
        self.assertNotIn("06_multi_epoll_server", out.split("\nat ")[0].split("compare: 1/")[0])
        self.assertIn((10000, 10.0), base)    # the bare pair still the reference

    def test_ref_design_runs_beside(self):
        with tempfile.TemporaryDirectory() as tmp:
            env = FakeEnv(tmp, dry_run=True)
            rc, out, _, _ = run_main(env, rounds=1, designs=["03"], reference="06")
        self.assertEqual(rc, 0)
        self.assertEqual({nn for nn, _, _ in env.calls}, {"03", "06"})

    def test_cli(self):
        from c1m import cli
        from c1m.model import UsageError
        cwd = os.getcwd()
        os.chdir(os.path.join(os.path.dirname(__file__), "..", ".."))
        try:
            o = cli.parse(["compare", "--designs", "14,1,06,01"], os.getcwd())
            self.assertEqual(o.designs, ["14", "01", "06"])
            for bad, msg in ((["compare", "--designs", "1;3"], "want design numbers"),
                             (["compare", "--designs", "99"], "no design 99 here"),
                             (["06", "--designs", "06"], "for compare only"),
                             (["compare", "--designs"], "needs a value")):
                with self.subTest(bad=bad):
                    with self.assertRaisesRegex(UsageError, msg):
                        cli.parse(bad, os.getcwd())
        finally:
            os.chdir(cwd)


class ChurnReference(unittest.TestCase):
    """compare --workload churn:N: the bare pair's accept/echo/close loop
    (run with the workload's lifetime and close) is the reference, in
    every round, and the ratio is of connections opened/s."""

    def test_ratio_of_conns_opened(self):
        from c1m import workload
        w = workload.parse("churn:5,rst")
        base_calls = []

        def fake_churn(binary, conns, secs, lifetime, rst=False, pin=None, tries=5):
            base_calls.append((conns, lifetime, rst))
            return 0, {"rps": 5000.0, "conns_opened_per_s": 1000.0, "connect_errors": 0.0}, ""

        class Env(FakeEnv):
            def run_one(self, nn, asked, tags):
                self.calls.append((nn, asked, dict(tags)))
                opened = {"03": 500.0, "06": 900.0, "09": 250.0}[nn] * tags["round"]
                return 0, {"nn": nn, "rps": opened * 5, "conns_opened_per_s": opened,
                           "connect_p99_us": 123.0, "server_us_per_conn": 7.5, "connect_errors": 0,
                           "p99_us": 1.0, "server_us_per_rt": 1.0, "status": "ok"}, "/r/x.json"

        with tempfile.TemporaryDirectory() as tmp:
            env = Env(tmp)
            opts = Options(target="compare", rounds=2, argv=["compare"], build=False,
                           workloads=[w], max_conns=10000)
            out, err = io.StringIO(), io.StringIO()
            with mock.patch.object(compare, "run_baseline_churn", fake_churn), \
                    mock.patch.object(compare, "run_baseline", lambda *a, **k: self.fail("ping-pong pair")), \
                    mock.patch.object(compare, "baseline_cap", lambda: (20000, "fake")), \
                    contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                rc = compare.main(opts, env)
            self.assertEqual(rc, 0, err.getvalue())
            with open(glob.glob(os.path.join(env.results_dir, "compare-*.json"))[0]) as f:
                doc = json.load(f)
        text = out.getvalue()
        # Each count, each round: the loop with lifetime 5, by RST.
        self.assertEqual(sorted(set(base_calls)), [(1000, 5, True), (10000, 5, True)])
        self.assertEqual(len(base_calls), 4)
        self.assertIn("scripts/baseline_pair client PORT 10000 10 5 rst", text)
        cnt = [c for c in doc["counts"] if c["conns"] == 10000][0]
        self.assertEqual((cnt["reference"], cnt["reference_why"]),
                         ("baseline", "the bare accept/echo/close loop"))
        row = {r["name"]: r for r in cnt["rows"]}
        # 06: 900 and 1800 opened/s against 1000 and 1000: ratios 0.9, 1.8.
        self.assertEqual([r["ratio"] for r in row["06"]["rounds"]], [0.9, 1.8])
        self.assertEqual(row["06"]["key"], "conns_opened_per_s")
        self.assertEqual(row["06"]["server_us_per_conn"]["median"], 7.5)
        table = text.split("\nchurn:5,rst at 10,000 connections, 2 rounds")[1].split("\n\n")[0]
        self.assertIn("conns opened/s median [min-max]", table)
        line = [ln for ln in table.splitlines() if ln.startswith("06_multi_epoll_server")][0]
        self.assertRegex(line, r"^06_multi_epoll_server +1,350 \[900-1,800\] +1.35 \[0.90-1.80\] +123 us +7.5 +0")

    def test_no_baseline_for_push(self):
        refs, _ = compare.references([("06", 1000)], compare.BASELINE, {"06": 10**6}, 28000, "push")
        self.assertEqual(refs[1000][0], "06")
        refs, _ = compare.references([("06", 1000)], compare.BASELINE, {"06": 10**6}, 28000, "churn")
        self.assertEqual(refs[1000][0], compare.BASELINE)


class PushPlan(unittest.TestCase):
    """compare --workload push:...: only designs whose server pushes run it
    (the others said once in the plan); the bare pair is no reference, 06
    is where it pushes, and none where it does not."""

    def plan(self, pushing):
        from c1m import workload
        w = workload.parse("push:broadcast,1,8")

        class Env(FakeEnv):
            def takes(self, nn, wl):
                return "" if nn in pushing else f"{nn}_x/server does not push: no push:1 in its -L line"

        with tempfile.TemporaryDirectory() as tmp:
            env = Env(tmp, dry_run=True)
            rc, out, _, base = run_main(env, rounds=1, workloads=[w], max_conns=10000)
        self.assertEqual(rc, 0)
        return env, out, base

    def test_only_pushing_servers(self):
        env, out, base = self.plan({"06"})
        self.assertEqual({nn for nn, _, _ in env.calls}, {"06"})
        self.assertEqual(out.count("not run for push:broadcast,1,8: 03_epoll_throughput"), 1)
        self.assertEqual(out.count("not run for push:broadcast,1,8: 09_few_clients"), 1)
        self.assertIn("reference at 1,000, 10,000: 06_multi_epoll_server (baseline_pair only "
                      "ping-pongs or churns)", out)
        self.assertNotIn("compare: reference baseline_pair", out)

    def test_no_reference_when_06_does_not_push(self):
        env, out, _ = self.plan({"03"})
        self.assertEqual({nn for nn, _, _ in env.calls}, {"03"})
        self.assertIn("no reference at 1,000, 10,000", out)
        self.assertNotIn("06_multi_epoll_server (baseline_pair", out)


if __name__ == "__main__":
    unittest.main()
