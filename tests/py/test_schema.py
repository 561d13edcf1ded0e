"""schema: every result file under docs/results*/ and tests/fixtures/ loads
into the version 2 shape and validates; bad documents are refused with the
reason (tests/record.cases)."""
import glob
import json
import math
import os
import tempfile
import unittest

from recpath import REPO
from c1m import record, schema
from c1m.model import Facts, Options


def result_files():
    pats = ["docs/results*/*.json", "tests/fixtures/*/*.json"]
    return sorted(p for pat in pats for p in glob.glob(os.path.join(REPO, pat)))


class LoadAll(unittest.TestCase):
    def test_every_old_file(self):
        files = result_files()
        self.assertGreater(len(files), 100)
        loaded = 0
        for path in files:
            with open(path) as f:
                raw = json.load(f)
            if raw.get("kind") == "c1m-compare":
                continue        # a compare set's figures, not a run's result
            if "schema_version" in raw:
                # Written by the new layer: it loads as it is, and names its commit.
                doc = schema.load(path)
                schema.validate(doc)
                # Its values as they are; a key newer than the file (e.g.
                # --restart-at's) filled empty.
                self.assertEqual({k: doc["summary"][k] for k in raw["summary"]}, raw["summary"], path)
                for k in set(doc["summary"]) - set(raw["summary"]):
                    self.assertIn(k, schema.WORKLOAD_KEYS, path)
                    self.assertEqual(doc["summary"][k], schema._empty(schema.SUMMARY[k]), path)
                self.assertRegex(raw["commit"], "^[0-9a-f]{40}$", path)
                continue
            if "summary" not in raw:
                # tests/fixtures/merge holds client lines, not results.
                self.assertIn("/fixtures/merge/", path)
                with self.assertRaisesRegex(schema.Invalid, "not a result file"):
                    schema.load(path)
                continue
            doc = schema.load(path)
            schema.validate(doc)
            loaded += 1
            self.assertEqual(doc["source_version"], 1, path)
            self.assertEqual(doc["commit"], "unknown")
            # Nothing the old file said is lost: its summary's values, its
            # programs' lines and its commands are there unchanged.
            for k, v in raw["summary"].items():
                self.assertEqual(doc["summary"][k], v, (path, k))
            self.assertEqual(doc["client"], raw.get("client"), path)
            self.assertEqual(doc["server"], raw.get("server"), path)
            self.assertEqual(doc["command"], raw["command"])
            if isinstance(raw.get("kernel", {}).get("peaks"), str):
                self.assertEqual([doc["kernel"]["peaks"][k] for k in schema.PEAK_KEYS],
                                 [int(x) for x in raw["kernel"]["peaks"].split()])
        self.assertGreater(loaded, 100)

    def test_old_command_as_argv(self):
        doc = schema.load(os.path.join(REPO, "tests/fixtures/multihost/06-20261205-090000.json"))
        self.assertEqual(doc["argv"]["run"][:2], ["./run.sh", "06"])
        self.assertIn("ip netns exec", doc["argv"]["run"])


def good():
    f = Facts(nn="03", server_dir="03_epoll_throughput", client_dir="05_multi_epoll_client",
              conns=10, client_rc=0, server_rc=0, client_wall_s=1.0,
              client={"conns": 10, "rps": 5.5, "lat_us": {"p50": 1.5}, "duration_s": 1,
                      "hist": {"sub_bits": 6, "count": 2, "sum_ns": 30, "min_ns": 10,
                               "max_ns": 20, "buckets": [[10, 1], [20, 1]]}},
              server={"rps": 5.0}, samples=[[0.5, 1, 2, 3, 4, 5, 6, 7]],
              progress=[{"t_s": 0.5, "who": "client", "line": "conns 10  rps 5"}])
    o = Options(target="03", argv=["03"])
    return record.result(f, o, record.summary(f, o, 2), record.machine(),
                         {"commit": "0" * 40, "dirty": True})


class Validate(unittest.TestCase):
    def test_good(self):
        schema.validate(good())

    def bad(self, change, why):
        d = good()
        change(d)
        with self.assertRaisesRegex(schema.Invalid, why):
            schema.validate(d)

    def test_refused(self):
        self.bad(lambda d: d.pop("commit"), "missing key 'commit'")
        self.bad(lambda d: d.update(surprise=1), "unknown key 'surprise'")
        self.bad(lambda d: d["summary"].update(rps="fast"), "summary.rps: want a number")
        self.bad(lambda d: d["summary"].update(rps=math.nan), "summary.rps: want a number")
        self.bad(lambda d: d["summary"].pop("bottleneck"), "summary: missing 'bottleneck'")
        self.bad(lambda d: d["summary"].update(status="meh"), "summary.status")
        self.bad(lambda d: d["argv"].update(server="a b"), "argv.server")
        self.bad(lambda d: d["client"]["hist"].update(count=3), "do not add up")
        self.bad(lambda d: d["samples"]["rows"].append([1, 2]), "samples.rows")
        self.bad(lambda d: d.update(schema_version=3), "schema_version 3")
        self.bad(lambda d: d["progress"].append({"t_s": 1}), "progress")

    def test_load_versions(self):
        with tempfile.TemporaryDirectory() as tmp:
            p = os.path.join(tmp, "03-x.json")
            d = good()
            with open(p, "w") as f:
                json.dump(d, f)
            self.assertEqual(schema.load(p), json.loads(json.dumps(d)))
            d["schema_version"] = 7
            with open(p, "w") as f:
                json.dump(d, f)
            with self.assertRaisesRegex(schema.Invalid, "schema_version 7"):
                schema.load(p)
            with open(p, "w") as f:
                f.write("{not json")
            with self.assertRaisesRegex(schema.Invalid, "not JSON"):
                schema.load(p)


if __name__ == "__main__":
    unittest.main()
