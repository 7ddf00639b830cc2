#!/bin/bash
#
# audit_actors.sh — issue 19, item 8: audit rows and metrics say who did
# what.  An eviction's row names the sweeper as its actor (uid 0, the
# daemon's pid, command gracefs-sweeper) and keeps the op's deleter in its
# own detail fields; the metrics file shows the eviction within a tick; a
# deleted site brought back beside its re-created name gets a site-add
# row; a whole-site rm -rf counts one op; an exclude row names its
# pattern; a purge row's command line keeps its quoting (it can be pasted
# back).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gctl_lib.sh"

gfs_site s1 s2
head -c 1048576 /dev/urandom >"$BACKING/s1/f1"
head -c 1048576 /dev/urandom >"$BACKING/s1/f2"
mkdir "$BACKING/s2/d" && echo old >"$BACKING/s2/d/page"
PROM=$GFS_TMP/gracefs.prom
gfs_mount op_gap=1s,min_retention=2s,sweep_interval=1s,"metrics=$PROM"
metric() { awk -v n="$1" '$1 == n { print $2 }' "$PROM" 2>/dev/null; }
row() {   # EVENT SITE — the last row of EVENT for SITE, as JSON
	gctl --json log --event "$1" --site "$2" | pyj 'd[-1] if d else ""'
}

# ---------------------------------------------------------------------------
# An eviction by the site's trash cap: the sweeper is the actor.
rm "$MNT/s1/f1"
rm "$MNT/s1/f2"
check "the ops are closed" wait_until 30 all_closed
OLD=$(gctl --json ls s1 | pyj 'sorted(o["op"] for o in d)[0].split("/")[-1]')
DELETER_PID=$(gctl --json ls s1 | pyj '[o["pid"] for o in d if o["op"].endswith("'"$OLD"'")][0]')
check "metrics: nothing evicted yet" wait_until 10 eval '[ "$(metric gracefs_evicted_ops_total)" == 0 ]'
check "cap s1's trash at 1M" gctl site set site:s1 trash_max=1M --execute
check "the oldest op is evicted" wait_until 30 eval '[ ! -d "$(bk_op s1 "$OLD")" ]'
# the metrics file follows the eviction within a tick (not the 30 s refresh)
check "metrics: the eviction shows within a few seconds" \
	wait_until 4 eval '[ "$(metric gracefs_evicted_ops_total)" == 1 ]'
check "the evict row is written" wait_until 10 eval '[ -n "$(row evict s1)" ]'
EV=$(row evict s1)
check_eq "evict row: its op" "$OLD" "$(pyj 'd["op"]' <<<"$EV")"
check_eq "evict row: the actor is the sweeper" gracefs-sweeper "$(pyj 'd["command"]' <<<"$EV")"
check_eq "evict row: the actor's uid is the daemon's (0)" 0 "$(pyj 'd["uid"]' <<<"$EV")"
check_eq "evict row: the actor's pid is the daemon's" "$GFS_PID" "$(pyj 'd["pid"]' <<<"$EV")"
check_match "evict row: the reason" "reason=trash_max" "$(pyj 'd["detail"]' <<<"$EV")"
check_match "evict row: the original deleter in its own fields" \
	"deleter_uid=0 deleter_pid=$DELETER_PID deleter_run=run:[^ ]+ deleter_command=rm .*/s1/f1\$" \
	"$(pyj 'd["detail"]' <<<"$EV")"

# ---------------------------------------------------------------------------
# A whole-site rm -rf is one op in the metrics.
check "metrics are written" wait_until 10 test -s "$PROM"
before=$(metric gracefs_ops_created_total)
rm -rf "$MNT/s2"
check "the whole-site op is closed" wait_until 30 all_closed
check "metrics: rm -rf of a site counts one op" \
	wait_until 10 eval '[ "$(metric gracefs_ops_created_total)" == $((before + 1)) ]'
check_eq "... and the listing shows one op for s2" 1 "$(gctl --json ls s2 | pyj 'len(d)')"

# ---------------------------------------------------------------------------
# The site comes back beside a tenant's new s2: a new site, audited.
ROOT=$(gctl --json ls s2 | pyj 'd[0]["op"]')
mkdir "$MNT/s2" && echo new >"$MNT/s2/page"
token=$(gctl --json undo "$ROOT" | pyj 'd["token"]')
check "undo the whole-site op" gctl undo "$ROOT" --execute "$token"
RESTORED="s2.restored-${ROOT#op:/}"
check_eq "the old site is back beside the new one" old "$(cat "$MNT/$RESTORED/d/page")"
check "a site-add row for the restored site" wait_until 10 eval '[ -n "$(row site-add "$RESTORED")" ]'
check_match "site-add: says where it came from" "restored site s2 of $ROOT" \
	"$(pyj 'd["detail"]' <<<"$(row site-add "$RESTORED")")"
check_match "site-add: the operator's undo is the actor" "gracectl .*undo" \
	"$(pyj 'd["command"]' <<<"$(row site-add "$RESTORED")")"

# The same by hand: mv out of the root trash under a new name, then a
# rename of that site, each a new site.
mkdir "$MNT/s3"
echo three >"$MNT/s3/page"
rm -rf "$MNT/s3"
check "the op of s3 is closed" wait_until 30 all_closed
ROOT3=$(gctl --json ls s3 | pyj 'd[0]["op"]')
check "mv the deleted site back under a new name" mv "$MNT/.trash/${ROOT3#op:/}/s3" "$MNT/s3b"
check "a site-add row for the restored site" wait_until 10 eval '[ -n "$(row site-add s3b)" ]'
check_match "site-add: restored by mv" "restored s3 of $ROOT3" "$(pyj 'd["detail"]' <<<"$(row site-add s3b)")"
check "rename the site" mv "$MNT/s3b" "$MNT/s3c"
check "a site-add row for the renamed site" wait_until 10 eval '[ -n "$(row site-add s3c)" ]'
check_match "site-add: renamed" "renamed from site s3b" "$(pyj 'd["detail"]' <<<"$(row site-add s3c)")"

# ---------------------------------------------------------------------------
# An exclusion's row names the pattern that matched.
check "exclude *.tmp in s1" gctl site set site:s1 'exclude=*.tmp' --execute
echo t >"$MNT/s1/scratch.tmp"
rm "$MNT/s1/scratch.tmp"
check "the exclude row is written" wait_until 20 eval '[ -n "$(row exclude s1)" ]'
check_match "exclude row: the pattern that matched" "items=1 .*pattern=\*\.tmp" \
	"$(pyj 'd["detail"]' <<<"$(row exclude s1)")"
check "clear the exclusion" gctl site set site:s1 exclude=none --execute

# ---------------------------------------------------------------------------
# The purge row's command line keeps its quoting.
echo x >"$MNT/s1/g"
rm "$MNT/s1/g"
check "the op of g is closed" wait_until 30 all_closed
G=$(gctl --json find g --site s1 | pyj 'd[0]["op"]')
REASON="tenant's request, ticket 42"
token=$(gctl --json purge "$G" --reason "$REASON" | pyj 'd["token"]')
check "purge with a quoted reason" gctl purge "$G" --reason "$REASON" --execute "$token"
check "the purge row is written" wait_until 10 eval '[ -n "$(row purge s1)" ]'
CMD=$(pyj 'd["command"]' <<<"$(row purge s1)")
check_eq "purge row: the command line splits back into the same arguments" \
	"[\"purge\", \"$G\", \"--reason\", \"$REASON\", \"--execute\", \"$token\"]" \
	"$(python3 -c 'import json, shlex, sys; a = shlex.split(sys.argv[1]); print(json.dumps(a[a.index("purge"):]))' "$CMD")"

done_testing
