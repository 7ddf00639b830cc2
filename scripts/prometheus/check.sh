#!/usr/bin/env bash
# check.sh [OPERATIONS_MD] — the shipped alert rules, as TAP (the unit test
# "rules"): promtool accepts the rule file, its unit tests pass
# (gracefs.rules.test.yml: which alerts fire and which stay silent on
# synthetic series), every alert pages with a severity, a summary, a
# description and a runbook line, every alert has its own entry in
# docs/operations.md "Alerts", and every alert is tested both firing and
# silent.  Skips (exit 77) without promtool (Debian: prometheus,
# scripts/deps.sh) or python3-yaml.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ops=${1:-$here/../../docs/operations.md}
if ! command -v promtool >/dev/null || ! python3 -c 'import yaml' 2>/dev/null; then
	echo "1..0 # SKIP promtool or python3-yaml missing (scripts/deps.sh installs them)"
	exit 77
fi
n=0 failed=0
tap() {   # DESC CMD… — one TAP line; the command's output as diagnostics on failure
	local desc=$1 out
	shift
	n=$((n + 1))
	if out=$("$@" 2>&1); then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		printf '%s\n' "$out" | sed 's/^/# /'
		failed=1
	fi
}
echo "1..4"
tap "promtool check rules gracefs.rules.yml" promtool check rules "$here/gracefs.rules.yml"
tap "promtool test rules gracefs.rules.test.yml" \
	bash -c 'cd "$1" && promtool test rules gracefs.rules.test.yml' _ "$here"
tap "every alert: severity, summary, description, runbook naming its operations.md entry" \
	python3 - "$here/gracefs.rules.yml" "$ops" <<'PY'
import re, sys, yaml
rules, ops = sys.argv[1], open(sys.argv[2]).read()
m = re.search(r'^## [0-9]+\. Alerts\n(.*?)(?=^## |\Z)', ops, re.S | re.M)
if not m:
    sys.exit("docs/operations.md has no '## N. Alerts' section")
section, bad = m.group(1), []
for g in yaml.safe_load(open(rules))["groups"]:
    for r in g["rules"]:
        if "alert" not in r:
            continue
        a = r["alert"]
        if r.get("labels", {}).get("severity") not in ("page", "warning"):
            bad.append(a + ": severity is not page or warning")
        ann = r.get("annotations", {})
        for k in ("summary", "description", "runbook"):
            if not ann.get(k):
                bad.append(a + ": no " + k)
        if not ann.get("runbook", "").startswith("docs/operations.md, Alerts: " + a + " "):
            bad.append(a + ": runbook does not name its entry")
        if not re.search(r'^### ' + a + r'$', section, re.M):
            bad.append(a + ": no '### " + a + "' entry in the Alerts section")
if bad:
    sys.exit("\n".join(bad))
PY
tap "every alert is tested firing and silent" \
	python3 - "$here/gracefs.rules.yml" "$here/gracefs.rules.test.yml" <<'PY'
import sys, yaml
alerts = {r["alert"] for g in yaml.safe_load(open(sys.argv[1]))["groups"]
          for r in g["rules"] if "alert" in r}
fired, silent = set(), set()
for t in yaml.safe_load(open(sys.argv[2]))["tests"]:
    for c in t.get("alert_rule_test", []):
        (fired if c.get("exp_alerts") else silent).add(c["alertname"])
bad = ["%s: never expected to fire" % a for a in sorted(alerts - fired)]
bad += ["%s: never expected silent" % a for a in sorted(alerts - silent)]
if bad:
    sys.exit("\n".join(bad))
PY
exit $failed
