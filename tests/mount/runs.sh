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

done_testing
