"""jsonio: hostile strings come out as valid JSON, numbers at full
precision, and a program's JSON line is found by parsing (tests/record.cases)."""
import json
import os
import tempfile
import unittest

from recpath import REPO  # noqa: F401  (sys.path)
from c1m import jsonio, record, schema
from c1m.model import Facts, Options

# As sys.argv has them: b"\xff\xfe" arrives as surrogateescape'd text.
RAW = b"-S \xff\xfe-x"
HOSTILE = ['a "quoted" word', "back\\slash", "tab\tnew\nline\r", "\x00\x01\x1b[31m\x7f",
           RAW.decode("utf-8", "surrogateescape"), "é ü 日本", "\u2028"]


def strict_loads(text):
    """json.loads that also refuses lone surrogates (what a strict parser
    in another language does)."""
    text.encode("utf-8")
    return json.loads(text)


class Hostile(unittest.TestCase):
    def test_strings(self):
        for s in HOSTILE:
            text = jsonio.dumps({"s": s})
            back = strict_loads(text)["s"]
            if s == HOSTILE[4]:
                self.assertEqual(back, "-S \\xff\\xfe-x")    # the bytes, readable
            else:
                self.assertEqual(back, s)
            self.assertNotIn("\n", text)

    def test_result_with_hostile_argv(self):
        f = Facts(nn="03", server_dir="03_epoll_throughput", client_dir="05_multi_epoll_client",
                  server_argv=["./03_epoll_throughput/server"] + HOSTILE, server_line=" ".join(HOSTILE),
                  client_rc=0, server_rc=0)
        o = Options(target="03", argv=["03", "-S"] + HOSTILE, extra_s=HOSTILE)
        doc = record.result(f, o, record.summary(f, o, 2), record.machine(),
                            {"commit": "unknown", "dirty": False})
        text = jsonio.dump_result(doc)
        back = strict_loads(text)
        schema.validate(back)
        self.assertEqual(back["argv"]["server"][1:4], HOSTILE[:3])
        self.assertEqual(back["argv"]["run"][-7:-3], HOSTILE[:4])
        self.assertEqual(back["summary"]["variant"].split(" ")[:2], ["a", '"quoted"'])
        with tempfile.TemporaryDirectory() as tmp:
            path = record.write(doc, tmp, {}, say=lambda m: None)
            self.assertEqual(schema.load(path)["argv"]["run"][2], "-S")

    def test_full_precision(self):
        for x in (0.1 + 0.2, 1e-300, 15235678.123456789, 2 ** 63 + 1, 44041.64106, 1.52337e+07 + 0.1):
            self.assertEqual(json.loads(jsonio.dumps([x]))[0], x)
            self.assertEqual(json.loads(jsonio.dump_result({"x": x}))["x"], x)
        self.assertEqual(json.loads(jsonio.dumps({"x": float("nan"), "y": float("inf")})),
                         {"x": None, "y": None})


class ReadLine(unittest.TestCase):
    def read(self, data):
        with tempfile.NamedTemporaryFile("wb", delete=False) as f:
            f.write(data)
        try:
            return jsonio.read_line(f.name)
        finally:
            os.unlink(f.name)

    def test_last_object(self):
        self.assertEqual(self.read(b'conns 3  rps 1\n{"rps": 1.25, "a": {"b": [1]}}\n'), {"rps": 1.25, "a": {"b": [1]}})
        self.assertEqual(self.read(b'{"a": 1}\n{"a": 2}\n\n'), {"a": 2})
        self.assertEqual(self.read(b'{"a": 1}\n{"a": 2, "cut'), {"a": 1})
        self.assertIsNone(self.read(b"progress only\n[1, 2]\n"))
        self.assertIsNone(self.read(b""))
        self.assertIsNone(self.read(b'\xff\xfe{"a":\n'))
        self.assertIsNone(jsonio.read_line("/nonexistent/c1m"))


if __name__ == "__main__":
    unittest.main()
