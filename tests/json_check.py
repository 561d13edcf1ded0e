#!/usr/bin/env python3
"""json_check.py FILE EXPR... - assert expressions over one JSON line.

The last line of FILE must be one JSON object. Each EXPR is a Python
expression evaluated with the object's keys as names (nested objects as
dicts), e.g. 'round_trips > 0', 'lat_us["p99"] >= lat_us["p50"]'.
Exit 0 if all hold, 1 naming the first that fails, 2 if FILE is not JSON.
"""
import json
import sys


def main():
    if len(sys.argv) < 3:
        print("usage: json_check.py FILE EXPR...", file=sys.stderr)
        return 2
    try:
        with open(sys.argv[1]) as f:
            lines = [l for l in f.read().splitlines() if l.strip()]
        obj = json.loads(lines[-1])
    except (OSError, IndexError, ValueError) as e:
        print(f"json_check: {sys.argv[1]}: no JSON line ({e})")
        return 2
    if not isinstance(obj, dict):
        print(f"json_check: {sys.argv[1]}: not a JSON object")
        return 2
    for expr in sys.argv[2:]:
        try:
            ok = eval(expr, {"__builtins__": {"len": len, "abs": abs, "sum": sum}}, dict(obj))
        except Exception as e:  # a missing key is a failure, not a crash
            print(f"json_check: {expr}: {type(e).__name__}: {e}")
            print(f"json_check: in {lines[-1]}")
            return 1
        if not ok:
            print(f"json_check: does not hold: {expr}")
            print(f"json_check: in {lines[-1]}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
