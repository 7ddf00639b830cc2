#!/bin/bash
#
# runs.sh — one script run, found and rolled back across sites by its run
# ID (issue 23).
#
#  1. A script started with `setsid` deletes in 6 sites (rm -rf, one rm
#     per site) while another job (its own process group) deletes in 2
#     sites, one of them shared with the script.  The daemon is killed
#     (kill -9) between the script's third and fourth site and remounted.
#  2. Every one of the script's 6 ops carries the same run ID — after the
#     remount too — and the op directories' xattrs show it with the
#     script's command line; the other job's 2 ops carry another run.
#  3. gracectl: `runs` lists both runs (newest first, ops and sites
#     counted), `show run:ID` shows the script's command line and parent
#     chain, `ls --run` / `find --run` pick its ops, `hold run:ID` and
#     `release run:ID` (dry run, token, --execute) act on all 6 and only
#     them, and `undo run:ID --execute TOKEN` restores exactly the
#     script's 6 deletions while the other job's 2 (one in a shared site,
#     deleted in the same minute) stay in trash; `undo --since T --script
#     cleanup.sh` (the fleet playbook's form) plans the same ops;
#     `log --run` shows the run's deletions and their undo.  Bad run IDs
#     are refused.
#
# Every wait is a bounded poll.

. "$(dirname "$0")/lib.sh"
gfs_require getfattr setsid python3
. "$(dirname "$0")/gctl_lib.sh"

xa() { getfattr --only-values --absolute-names -n "user.gracefs.$2" -- "$1" 2>/dev/null; }
# op_of SITE PATTERN — the op directory in SITE's trash holding PATTERN
op_of() { local d; for d in "$MNT/$1/.trash/"*/; do [ -e "$d$2" ] && { basename "$d"; return; }; done; }

SITES="s1 s2 s3 s4 s5 s6 s7"
for s in $SITES; do
	gfs_site "$s"
	mkdir -p "$BACKING/$s/data/sub" "$BACKING/$s/other"
	echo "orig $s" >"$BACKING/$s/data/sub/f"
	echo "other $s" >"$BACKING/$s/other/g"
done
gfs_mount op_gap=1s

# The script: 3 sites, then wait for $GFS_TMP/go, then 3 more.
cat >"$GFS_TMP/cleanup.sh" <<SH
#!/bin/sh
for s in s1 s2 s3; do rm -rf "$MNT/\$s/data"; done
: >"$GFS_TMP/phase1"
while [ ! -e "$GFS_TMP/go" ]; do sleep 0.1; done
for s in s4 s5 s6; do rm -rf "$MNT/\$s/data"; done
SH
chmod +x "$GFS_TMP/cleanup.sh"
T0=$(date -u +%Y-%m-%dT%H:%M:%SZ)
setsid "$GFS_TMP/cleanup.sh" 3>&- </dev/null &
SCRIPT=$!
GFS_BG_PIDS+=("$SCRIPT")
# The other job, its own process group: s1 (shared) and s7.
setsid sh -c "rm -rf '$MNT/s1/other'; rm -rf '$MNT/s7/other'" 3>&- </dev/null
check "the script deleted its first 3 sites" wait_until 20 test -e "$GFS_TMP/phase1"

check "kill -9 of the daemon between two ops of the run" gfs_kill9
gfs_mount op_gap=1s
: >"$GFS_TMP/go"
wait_until 30 eval '! _pid_alive "$SCRIPT"'
wait "$SCRIPT"
check_eq "the script finished its 6 sites" 0 "$?"

RUN=$(xa "$MNT/s1/.trash/$(op_of s1 data)" run)
check_match "the run ID names the leader's start, command and pid" \
	"^run:[0-9]{8}T[0-9]{6}Z-cleanup\.sh-$SCRIPT\$" "$RUN"
same=0
for s in s1 s2 s3 s4 s5 s6; do
	op=$(op_of "$s" data)
	[ -n "$op" ] && [ "$(xa "$MNT/$s/.trash/$op" run)" == "$RUN" ] && same=$((same + 1))
done
check_eq "all 6 of the script's ops are in one run, across the kill -9" 6 "$same"
check_eq "the op's xattrs show the run's command line" "/bin/sh $GFS_TMP/cleanup.sh" \
	"$(xa "$MNT/s5/.trash/$(op_of s5 data)" run_command)"
o1=$(xa "$MNT/s1/.trash/$(op_of s1 other)" run)
o7=$(xa "$MNT/s7/.trash/$(op_of s7 other)" run)
check_match "the other job has a run of its own" "^run:.*-sh-[0-9]+\$" "$o1"
check_eq "the other job's 2 ops are one run" "$o1" "$o7"

# ---- gracectl: runs, show, ls/find --run, hold/release, undo ----
wait_until 20 all_closed
ID=${RUN#run:}
tok() { sed -n 's/^plan token: \([0-9a-f]\{12\}\)$/\1/p'; }

runs=$(gctl --json runs)
check_eq "runs lists the 2 runs" 2 "$(pyj 'len(d)' <<<"$runs")"
check_eq "the script's run: 6 ops in 6 sites, the other job's 2 in 2" "6 6 2 2" \
	"$(pyj '" ".join("%d %d" % (r["ops"], r["sites"]) for r in sorted(d, key=lambda r: r["run"] != "'"$RUN"'"))' <<<"$runs")"
check_match "the runs table names the script" "cleanup\.sh" "$(gctl runs)"

shown=$(gctl show "$RUN")
check_match "show run:ID shows the leader's command line" "/bin/sh $GFS_TMP/cleanup.sh" "$shown"
check_match "show run:ID shows the parent chain" "started by \(nearest first\):" "$shown"
check_eq "show run:ID --json: its 6 ops" 6 "$(gctl --json show "$RUN" | pyj 'len(d["ops"])')"
check_match "show run:ID --json: the chain has the script's parents" "[a-z]" \
	"$(gctl --json show "$RUN" | pyj '" ".join(d["chain"])')"
check_eq "ls --run: the script's 6 ops, each with its run" "6 1" \
	"$(gctl --json ls --run "$ID" | pyj '"%d %d" % (len(d), len(set(o["run"] for o in d)))')"
check_eq "find --run: the script's file in s4, not the other job's" "1" \
	"$(gctl --json find --run "$RUN" f | pyj 'len([r for r in d if r["site"] == "s4"])')"
check_eq "find --run: none of the other job's files" "0" \
	"$(gctl --json find --run "$RUN" g | pyj 'len(d)')"

# bash completion offers the run IDs where a run is taken
. "$GFS_REPO/scripts/completion/gracectl"
comp() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _gracectl; printf '%s\n' "${COMPREPLY[@]}" | sort | xargs; }
check_eq "completion: run IDs after --run" "$(sort <<<"$RUN"$'\n'"$o1" | xargs)" \
	"$(comp "$GRACECTL" -b "$BACKING" ls --run run:)"
check_match "completion: undo offers the script's run" "$RUN" "$(comp "$GRACECTL" -b "$BACKING" undo run:)"

# hold run:ID: a dry run, then all 6 and only them
dry=$(gctl hold "$RUN")
check_eq "hold run:ID changes nothing without --execute" 0 \
	"$(gctl --json ls | pyj 'len([o for o in d if o["hold"]])')"
check "hold run:ID --execute TOKEN" gctl hold "$RUN" --execute "$(tok <<<"$dry")"
check_eq "hold run:ID held the script's 6 ops and none of the other job's" "6 0" \
	"$(gctl --json ls | pyj '"%d %d" % (len([o for o in d if o["hold"] and o["run"] == "'"$RUN"'"]), len([o for o in d if o["hold"] and o["run"] != "'"$RUN"'"]))')"
# every op of the run is held: the dry run already says there is nothing
# to restore (held ops are left out of a bulk undo, issue 19)
out=$(gctl undo "$RUN" 2>&1)
check_match "undo of a held run is refused" "every matching operation is under legal hold" "$out"
check "release run:ID --execute TOKEN" \
	gctl release "$RUN" --execute "$(gctl --json release "$RUN" | pyj 'd["token"]')"
check_eq "release run:ID released all 6" 0 \
	"$(gctl --json ls | pyj 'len([o for o in d if o["hold"]])')"

# bad inputs change nothing
check_errno_rc() { local want=$1; shift; "$@" >/dev/null 2>&1; [ "$?" == "$want" ]; }
check "undo of a malformed run ID is a usage error" check_errno_rc 2 gctl undo run:cleanup.sh
check "undo of an unknown run is refused" check_errno_rc 2 gctl undo run:20200101T000000Z-x-1
check "hold run:ID with another ID is refused" check_errno_rc 2 gctl hold "$RUN" site:s1
check "purge of a run ID (purge takes an op) is refused" check_errno_rc 2 gctl purge "$RUN" --reason x

# undo run:ID: exactly the script's 6 deletions
dryj=$(gctl --json undo "$RUN")
check_eq "undo run:ID dry run: 6 ops in 6 sites" "6 6" "$(pyj '"%d %d" % (d["ops"], d["sites"])' <<<"$dryj")"
check_eq "undo run:ID dry run: each planned op names the run" "$RUN" \
	"$(pyj '" ".join(sorted(set(o["run"] for o in d["plan"])))' <<<"$dryj")"
check_eq "undo --since --script cleanup.sh plans the same 6 ops (the fleet's form)" \
	"$(pyj 'd["token"]' <<<"$dryj")" "$(gctl --json undo --since "$T0" --script cleanup.sh | pyj 'd["token"]')"
check_eq "undo --since --script sh: the other job's 2" 2 \
	"$(gctl --json undo --since "$T0" --script sh | pyj 'd["ops"]')"
check_eq "undo --since --script, a pattern on the leader's command line" 6 \
	"$(gctl --json undo --since "$T0" --script '*/cleanup.sh' | pyj 'd["ops"]')"
check "undo run:ID --execute TOKEN" gctl undo "$RUN" --execute "$(pyj 'd["token"]' <<<"$dryj")"
back=0
for s in s1 s2 s3 s4 s5 s6; do
	[ "$(cat "$MNT/$s/data/sub/f" 2>/dev/null)" == "orig $s" ] && back=$((back + 1))
done
check_eq "the script's 6 deletions are back" 6 "$back"
check "the other job's deletion in the shared site stays deleted" test ! -e "$MNT/s1/other"
check "the other job's deletion in s7 stays deleted" test ! -e "$MNT/s7/other"
left() { [ "$(gctl --json ls | pyj '"%d %s" % (len(d), " ".join(sorted(set(o["run"] for o in d))))')" == "2 $o1" ]; }
check "the other job's 2 ops are still in trash, and only they" wait_until 10 left

# log --run: the run's 6 delete rows and the 6 undo rows of its ops
# (written by gracectl's own run), none of the other job's
logged() { [ "$(gctl --json log --run "$RUN" | pyj '" ".join("%s:%d" % (e, len([r for r in d if r["event"] == e])) for e in ("delete", "undo"))')" == "delete:6 undo:6" ]; }
check "log --run: the run's deletions and the undo of its ops" wait_until 10 logged
check_eq "log --run: its delete rows carry its run" 6 \
	"$(gctl --json log --run "$RUN" --event delete | pyj 'len([r for r in d if r["run"] == "'"$RUN"'"])')"
check_eq "log --run: none of the other job's rows" 0 \
	"$(gctl --json log --run "$RUN" | pyj 'len([r for r in d if r["run"] == "'"$o1"'"])')"

done_testing
