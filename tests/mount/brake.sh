#!/bin/bash
#
# brake.sh — the mass-deletion brake (issue 25), with its defaults
# (-o brake=20/10m).
#
#  1. A script (its own run, setsid) removes 19 sites, one `rm -rf` each:
#     below the brake: nothing held, no audit row, gracefs_braked_runs 0.
#  2. Another script removes 25 sites: the 20th trips the brake.  Every
#     op of its run is held — the 19 before and the 6 after — and only
#     those; the 25 sites are gone all the same (deletions stay soft); a
#     warning in the log names the run and its command; an audit row
#     `brake` names the run, the count and the leader's command line;
#     gracectl status and the metrics file show one braked run.
#  3. kill -9 of the daemon while braked, remount: every hold is still
#     there, and the run is still braked: the script, still running, makes
#     one more deletion after the remount, and its op is created held.
#     A crash after a run was kept as braked but before its ops were held
#     (simulated: the 19-site run written into .gracefs/brakes while the
#     daemon is down) is finished at mount: all 19 ops held, an audit row
#     `brake` with resumed=restart.
#  4. gracectl release run:ID: the dry run says it lifts the brake; with
#     --execute TOKEN every op of the run is released, status and metrics
#     say nothing is braked, and an audit row `release` names the run;
#     it stays released across a remount.  A malformed run ID changes
#     nothing.
#
# Every wait is a bounded poll.

. "$(dirname "$0")/lib.sh"
gfs_require setsid python3
. "$(dirname "$0")/gctl_lib.sh"

PROM=$(dirname "$BACKING")/gracefs.prom
A=$(seq -f 'a%02g' 1 19)
B=$(seq -f 'b%02g' 1 25)
for s in $A $B; do
	mkdir -p "$BACKING/$s/www"
	echo "$s" >"$BACKING/$s/www/index.html"
done
mkdir -p "$BACKING/late/www"
echo late >"$BACKING/late/www/f"
gfs_mount op_gap=1s "metrics=$PROM"

# value NAME — one unlabelled sample of the metrics file, or "absent"
value() { awk -v n="$1" '$1 == n { print $2; f = 1; exit } END { if (!f) print "absent" }' "$PROM"; }
# held_of RUN — "HELD OPS" of the run's ops
held_of() { gctl --json ls --run "${1#run:}" | pyj '"%d %d" % (len([o for o in d if o["hold"]]), len(d))'; }
run_of_root() {   # the run of the root-scope ops whose command line names $1
	gctl --json ls | pyj '" ".join(sorted(set(o["run"] for o in d if "'"$1"'" in o["command"])))'
}

# 1. 19 sites: below the brake
cat >"$GFS_TMP/nineteen.sh" <<SH
#!/bin/sh
for s in $(echo $A); do rm -rf "$MNT/\$s"; done
SH
chmod +x "$GFS_TMP/nineteen.sh"
setsid "$GFS_TMP/nineteen.sh" 3>&- </dev/null
check_eq "the 19 sites are gone" 0 "$(cd "$MNT" && ls -d a?? 2>/dev/null | wc -l)"
check "their ops are closed" wait_until 20 all_closed
R19=$(gctl --json ls | pyj '" ".join(sorted(set(o["run"] for o in d)))')
check_match "the 19 deletions are one run" "^run:[0-9]{8}T[0-9]{6}Z-nineteen\.sh-[0-9]+$" "$R19"
check_eq "19 sites: no op held" "0 19" "$(held_of "$R19")"
check_eq "19 sites: no brake row" 0 "$(gctl --json log --event brake | pyj 'len(d)')"
check_match "status: nothing braked" "braked=0 trips=0" "$(gctl status | grep '^brake')"

# 2. 25 sites: the 20th trips it; the script then waits for $GFS_TMP/go
cat >"$GFS_TMP/cleanup.sh" <<SH
#!/bin/sh
for s in $(echo $B); do rm -rf "$MNT/\$s"; done
: >"$GFS_TMP/phase1"
while [ ! -e "$GFS_TMP/go" ]; do sleep 0.1; done
rm -rf "$MNT/late/www"
: >"$GFS_TMP/phase2"
while [ ! -e "$GFS_TMP/end" ]; do sleep 0.1; done
SH
chmod +x "$GFS_TMP/cleanup.sh"
setsid "$GFS_TMP/cleanup.sh" 3>&- </dev/null &
SCRIPT=$!
GFS_BG_PIDS+=("$SCRIPT")
check "the script removed its 25 sites" wait_until 30 test -e "$GFS_TMP/phase1"
check_eq "all 25 are gone: deletions keep working" 0 "$(cd "$MNT" && ls -d b?? 2>/dev/null | wc -l)"
check "their ops are closed" wait_until 20 all_closed
RUN=$(gctl --json ls | pyj '" ".join(sorted(set(o["run"] for o in d if "cleanup" in o["run"])))')
check_match "the 25 deletions are one run" "^run:[0-9]{8}T[0-9]{6}Z-cleanup\.sh-$SCRIPT$" "$RUN"
check_eq "every one of its 25 ops is held, the 19 before the brake and the 6 after" \
	"25 25" "$(held_of "$RUN")"
check_eq "... and none of the other run's" "0 19" "$(held_of "$R19")"
row=$(gctl --json log --event brake)
check_eq "one audit row 'brake'" 1 "$(pyj 'len(d)' <<<"$row")"
check_match "... naming the run, the count, the limit and the leader's command line" \
	"run=${RUN#run:} sites=20 limit=20/10m ops_held=20 leader=/bin/sh $GFS_TMP/cleanup.sh" \
	"$(pyj 'd[0]["detail"]' <<<"$row")"
check_eq "... in the site that crossed it" b20 "$(pyj 'd[0]["site"]' <<<"$row")"
check_eq "... filed under the run (log --run)" 1 \
	"$(gctl --json log --run "${RUN#run:}" --event brake | pyj 'len(d)')"
check "a warning in the log names the run and how to release it" \
	grep -q "brake: run ${RUN#run:} (/bin/sh $GFS_TMP/cleanup.sh) .* 20 sites within 10m.*gracectl release $RUN" "$GFS_LOG"
check_match "status: one run braked" "^brake: +20/10m braked=1 trips=1$" "$(gctl status | grep '^brake')"
check "metrics: gracefs_braked_runs 1" wait_until 10 eval '[ "$(value gracefs_braked_runs)" == 1 ]'
check_eq "metrics: one trip" 1 "$(value gracefs_brake_trips_total)"
check_eq "metrics: the limit" "20 600" "$(value gracefs_brake_limit_sites) $(value gracefs_brake_window_seconds)"
op=$(gctl --json ls --run "${RUN#run:}" | pyj 'd[0]["op"]')
check_match "show op: says the brake holds it and how to release it" \
	"held by the mass-deletion brake.*gracectl release $RUN" "$(gctl show "$op")"
out=$(gctl purge "$op" --reason test --execute "$(gctl --json purge "$op" --reason test | pyj 'd["token"]')" 2>&1)
check_match "a braked op cannot be purged" "legal hold" "$out"

# 3. kill -9 while braked; the run goes on after the remount
check "kill -9 of the daemon while braked" gfs_kill9
# the crash state "kept as braked, no op held yet", for the 19-site run
echo "${R19#run:}" >>"$BACKING/.gracefs/brakes"
gfs_mount op_gap=1s "metrics=$PROM"
check_eq "after the remount every op of the run is still held" "25 25" "$(held_of "$RUN")"
check_match "... and the run is still braked" "braked=2" "$(gctl status | grep '^brake')"
check_eq "a run kept as braked before its holds were placed: held at mount" "19 19" \
	"$(held_of "$R19")"
check_match "... with an audit row 'brake' saying so" "run=${R19#run:} .*ops_held=19 resumed=restart" \
	"$(gctl --json log --event brake | pyj '" ".join(r["detail"] for r in d)')"
check "... and a warning in the log" grep -q "brake: run ${R19#run:} is still braked" "$GFS_LOG"
: >"$GFS_TMP/go"
check "the script deleted once more, after the remount" wait_until 20 test -e "$GFS_TMP/phase2"
check "its op is closed" wait_until 20 all_closed
check_eq "its new op was created held: 26 of 26" "26 26" "$(held_of "$RUN")"
: >"$GFS_TMP/end"
wait_until 10 eval '! _pid_alive "$SCRIPT"'

# 4. release run:ID
out=$(gctl release run:not-a-run 2>&1)
check_eq "a malformed run ID is a usage error" 2 "$(gctl release run:not-a-run >/dev/null 2>&1; echo $?)"
check_eq "... and changes nothing" "26 26" "$(held_of "$RUN")"
dry=$(gctl release "$RUN")
check_match "the dry run says it lifts the brake" "lift the mass-deletion brake" "$dry"
tok=$(sed -n 's/^plan token: \([0-9a-f]\{12\}\)$/\1/p' <<<"$dry")
check "release run:ID --execute TOKEN" gctl release "$RUN" --execute "$tok"
check_eq "every op of the run is released" "0 26" "$(held_of "$RUN")"
check_eq "... and only its: the other braked run stays held" "19 19" "$(held_of "$R19")"
dry=$(gctl release "$R19")
check "release of the other run" gctl release "$R19" --execute \
	"$(sed -n 's/^plan token: \([0-9a-f]\{12\}\)$/\1/p' <<<"$dry")"
check_eq "... released its 19" "0 19" "$(held_of "$R19")"
check_match "status: nothing braked" "braked=0" "$(gctl status | grep '^brake')"
check "metrics: gracefs_braked_runs 0" wait_until 10 eval '[ "$(value gracefs_braked_runs)" == 0 ]'
check_match "an audit row 'release' names the run" "brake run=${RUN#run:} ops_released=" \
	"$(gctl --json log --event release | pyj '" ".join(r["detail"] or "" for r in d)')"
check_eq "the kept set is empty" "" "$(cat "$BACKING/.gracefs/brakes")"
gfs_remount
check_eq "released runs stay released after a remount" "0 26 0 19 braked=0" \
	"$(held_of "$RUN") $(held_of "$R19") $(gctl status | grep -o 'braked=[0-9]*')"
check "clean unmount" gfs_umount
done_testing
