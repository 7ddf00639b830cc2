#!/usr/bin/env python3
"""Count every test case run by `meson test` (all tests speak TAP) and print
one line: 'N passed, N failed[, N skipped]'.  Exit 1 if anything failed.

A test executable whose result is a failure but whose TAP shows no failed
case (a crash, a timeout, a missing plan) counts as one failure of its own.
Usage: tap-summary.py TESTLOG.json [TESTLOG.json ...]"""
import json
import re
import sys

passed = failed = skipped = 0
for path in sys.argv[1:]:
    with open(path) as f:
        for line in f:
            t = json.loads(line)
            p = fl = s = 0
            for l in t.get("stdout", "").splitlines():
                if re.match(r"^not ok\b", l):
                    if re.search(r"#\s*TODO", l, re.I):
                        p += 1
                    else:
                        fl += 1
                        print(f"FAILED {t['name']}: {l}", file=sys.stderr)
                elif re.match(r"^ok\b", l):
                    if re.search(r"#\s*SKIP", l, re.I):
                        s += 1
                    else:
                        p += 1
                elif re.match(r"^1\.\.0\b.*#\s*SKIP", l, re.I):
                    s += 1
                    print(f"SKIPPED {t['name']}: {l}", file=sys.stderr)
            if t["result"] not in ("OK", "SKIP", "EXPECTEDFAIL") and fl == 0:
                fl = 1
                print(f"FAILED {t['name']}: result {t['result']}", file=sys.stderr)
            if t["result"] == "SKIP" and p + fl + s == 0:
                s = 1
            passed, failed, skipped = passed + p, failed + fl, skipped + s

line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed else 0)
