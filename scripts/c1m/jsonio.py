"""JSON in and out: the programs' JSON lines read with a parser, results
written at full precision, hostile strings made safe.

- read_line(path): the last line of a file that parses as a JSON object.
- clean(obj): a copy safe to dump: strings from argv (decoded with
  surrogateescape) show their non-UTF-8 bytes as \\xNN text, NaN and
  infinities become null; floats are untouched (repr round-trips).
- dumps(obj) / dump_result(doc): JSON text; a result file has one top-level
  key per line, so people can grep it, yet any JSON parser reads it.
"""
import json
import math


def read_line(path):
    """The last line of PATH that parses as a JSON object, else None (no
    file, no such line)."""
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            return obj
    return None


def clean_str(s):
    """A str that encodes as UTF-8: lone surrogates (argv's undecodable
    bytes, surrogateescape) become the text \\xNN."""
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def clean(obj):
    """A copy of OBJ that json.dumps turns into strict, valid JSON."""
    if isinstance(obj, str):
        return clean_str(obj)
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "backslashreplace")
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {clean_str(str(k)): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    return obj


def dumps(obj):
    """One line of strict JSON, floats at full precision."""
    return json.dumps(clean(obj), ensure_ascii=False, allow_nan=False)


def dump_result(doc):
    """A result document: one top-level key per line."""
    doc = clean(doc)
    body = ",\n".join("  %s: %s" % (json.dumps(k, ensure_ascii=False),
                                    json.dumps(v, ensure_ascii=False, allow_nan=False))
                      for k, v in doc.items())
    return "{\n" + body + "\n}\n"
