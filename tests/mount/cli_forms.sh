#!/bin/bash
#
# cli_forms.sh — issue 19, item 7 (the rest of it): every verb takes its
# options before or after its positionals and calls anything else an
# unknown option (exit 2); the error after a wrong ID names the forms that
# verb takes; --json output has absent values as null (never "" or "-"),
# flags as booleans (never 0/1 or yes/no), and status's audit, opens and
# brake lines as objects.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gctl_lib.sh"

gfs_site s1 s2
echo hello >"$BACKING/s1/page.html"
mkdir "$BACKING/s2/d" && echo x >"$BACKING/s2/d/f"
gfs_mount op_gap=1s
rc_of() { "$@" >/dev/null 2>&1; echo $?; }
T=$(date -u +@%s)
rm "$MNT/s1/page.html"
rm -rf "$MNT/s2"
check "the ops are closed" wait_until 30 all_closed
OP=$(gctl --json ls s1 | pyj 'd[0]["op"]')
ROOT=$(gctl --json ls s2 | pyj 'd[0]["op"]')
RUN=$(gctl --json ls s1 | pyj 'd[0]["run"]')

# ---------------------------------------------------------------------------
# Unknown options: exit 2, named as such, for every verb.
unknown() {   # ARGS... — gracectl ARGS must say "unknown option '--bogus'", rc 2
	local out rc
	out=$(gctl "$@" 2>&1)
	rc=$?
	if [ "$rc" == 2 ] && [[ $out == *"unknown option '--bogus'"* ]]; then
		pass "$* : unknown option, rc 2"
	else
		fail "$* : unknown option, rc 2" "rc $rc: $out"
	fi
}
unknown ls s1 --bogus
unknown ls --bogus s1
unknown show "$OP" --bogus
unknown show --bogus
unknown find page.html --bogus
unknown runs --bogus
unknown undo "$OP" --bogus
unknown hold "$OP" --bogus
unknown purge "$OP" --reason r --bogus
unknown site ls --bogus
unknown site add site:s1 --bogus
unknown site set site:s1 kind=x --bogus
unknown status --bogus
unknown log --bogus
unknown audit verify --bogus
check_eq "site ls with an argument: rc 2 (it takes none)" 2 "$(rc_of gctl site ls s1)"
check_eq "log with a positional: rc 2" 2 "$(rc_of gctl log s1)"

# ---------------------------------------------------------------------------
# Options before or after the positionals.
check_eq "ls --run R SITE = ls SITE --run R" "$(gctl --json ls s1 --run "$RUN")" \
	"$(gctl --json ls --run "$RUN" s1)"
check_eq "find --site S PAT = find PAT --site S" "$(gctl --json find page.html --site s1)" \
	"$(gctl --json find --site s1 page.html)"
check_eq "purge --reason R OP = purge OP --reason R (same plan)" \
	"$(gctl --json purge "$OP" --reason 'wrong file' | pyj 'd["token"]')" \
	"$(gctl --json purge --reason 'wrong file' "$OP" | pyj 'd["token"]')"
check_eq "log: --site after --limit" "$(gctl --json log --site s1 --limit 2)" \
	"$(gctl --json log --limit 2 --site s1)"
check "site set --execute before the site" gctl site set --execute site:s1 kind=shop
check_eq "... and it is set" shop "$(gctl --json site ls | pyj '[r["kind"] for r in d if r["site"] == "s1"][0]')"
check_eq "show OP --json" "$OP" "$(gctl show "$OP" --json | pyj 'd["op"]["op"]')"

# ---------------------------------------------------------------------------
# A wrong ID: the error names what the verb takes.
says() {   # DESC ERE ARGS... — gracectl ARGS fails with rc 2 and stderr matching ERE
	local desc=$1 re=$2 out rc
	shift 2
	out=$(gctl "$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" == 2 ] && [[ $out =~ $re ]]; then
		pass "$desc"
	else
		fail "$desc" "rc $rc: $out"
	fi
}
says "undo SITE: write op:, and undo's forms (op:, run:, a selection)" \
	"untyped ID 's1': write op:s1 \(undo takes op:NAME.*run:ID.*--since T.*--site S" undo s1
says "undo site:ID: undo's forms" "'site:s1' is a site ID.*undo takes op:NAME.*run:ID" undo site:s1
says "hold of an unknown kind: hold's forms (site:, op:, run:)" \
	"unknown ID kind 'foo:'.*hold takes site:NAME, op:NAME.*run:ID" hold foo:bar
says "release SITE: write site: or op:" "write site:s1 or op:s1 \(release takes site:NAME" release s1
says "show site:ID: show's forms (op:, run:)" "show takes op:NAME.*run:ID" show site:s1
says "ls op:ID: ls takes a site" "'op:x' is an op ID.*ls takes one site" ls op:x
says "purge run:ID: purge takes one op" "is a run ID.*purge takes one op:NAME" purge "$RUN" --reason r
says "an unknown op names the forms" "unknown op 'op:s1/20200101T000000Z-rm-1'.*undo takes" \
	undo op:s1/20200101T000000Z-rm-1
says "site set SITE: site set takes site:NAME" "write site:s1 \(site set takes one site:NAME" \
	site set s1 kind=x
says "log --run with a site: log's forms" "log takes .*--run run:ID" log --run site:s1

# ---------------------------------------------------------------------------
# JSON: objects, null, booleans.
ST=$(gctl --json status)
check_eq "status: audit is an object with counts" '[true, 0]' \
	"$(pyj '[isinstance(d["daemon"]["audit"]["written"], int), d["daemon"]["audit"]["dropped"]]' <<<"$ST")"
check_eq "status: brake is an object" '["20/10m", 0]' \
	"$(pyj '[d["daemon"]["brake"]["limit"], d["daemon"]["brake"]["braked"]]' <<<"$ST")"
check_eq "status: opens is an object" true "$(pyj 'isinstance(d["daemon"]["opens"]["passthrough"], int)' <<<"$ST")"
check_eq "status: space_pressure is a boolean" false "$(pyj 'd["daemon"]["space_pressure"]' <<<"$ST")"
check_eq "site ls: unset trash_max, exclude, nopreserve are null" '[null, null, null]' \
	"$(gctl --json site ls | pyj '[[r["trash_max"], r["exclude"], r["nopreserve"]] for r in d if r["site"] == "s1"][0]')"
check_eq "release --json: changed is a boolean" '[false, true]' \
	"$(gctl --json release "$OP" | pyj '[d["results"][0]["changed"], d["ok"]]')"
HOLD=$(gctl --json hold "$RUN")
check_eq "hold run:ID dry run: lift_brake is a boolean, always there" false "$(pyj 'd["lift_brake"]' <<<"$HOLD")"
RUN2=$(gctl --json ls s2 | pyj 'd[0]["run"]')
check_eq "hold run:ID plan: a deleted site's op is that site's" s2 \
	"$(gctl --json hold "$RUN2" | pyj 'd["plan"][0]["site"]')"

# Every --json document: no "" or "-" for an absent value, no yes/no or
# 0/1 for a flag.
scan() {
	python3 -c '
import json, sys
flags = {"hold", "own_hold", "held", "ok", "dry_run", "executed", "lift_brake",
         "space_pressure"}
bad = []
def walk(v, path):
    if isinstance(v, dict):
        for k, x in v.items():
            if k in flags and not isinstance(x, bool):
                bad.append("%s.%s=%r" % (path, k, x))
            walk(x, path + "." + k)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            walk(x, "%s[%d]" % (path, i))
    elif v in ("", "-", "yes", "no"):
        bad.append("%s=%r" % (path, v))
walk(json.load(sys.stdin), "")
print(" ".join(bad[:5]) or "clean")'
}
for cmd in "ls" "ls s2" "show $OP" "show $ROOT" "show $RUN" "find page.html" "runs" "site ls" \
	"status" "log" "undo --since $T" "purge $OP --reason r" "hold $RUN" "release $OP" \
	"audit archive --before now --to $GFS_TMP/a.jsonl"; do
	# shellcheck disable=SC2086
	check_eq "--json $cmd: nulls and booleans" clean "$(gctl --json $cmd | scan)"
done

done_testing
