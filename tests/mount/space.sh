#!/bin/bash
#
# space.sh — issue 12: trash never fills the disk.  On a small ext4 loop
# image: site trash caps (trash_max) evict a site's oldest ops past
# min_retention; below the free-space floor (min_free) unheld ops past
# min_retention are evicted, from the site most over its share first, oldest
# first within it, while held and young ops stay and free space ends above
# the floor; a site within its share keeps its trash while another is over
# its share (issue 21); when nothing more may go,
# the pressure is reported once and cleared when space comes back;
# exclusion globs remove matching items directly (directories only when
# empty, protected paths first) while everything else still goes to trash;
# and a kill -9 during an eviction, then a remount, finishes it and touches
# nothing else.  Every eviction is audited ("evict") and counted.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gctl_lib.sh"
gfs_require mkfs.ext4 fallocate losetup

# check_wait DESC SECONDS CMD... — ok once CMD succeeds, polled (bounded)
check_wait() {
	local desc=$1 secs=$2
	shift 2
	if wait_until "$secs" "$@"; then
		pass "$desc"
	else
		fail "$desc" "still false after ${secs}s: $(_q "$@")" "free $(free_bytes), floor $FLOOR"
	fi
}

# The backing store is a 128 MiB ext4 image (no reserved blocks, inodes
# enough for the crash test's 40000 files); unmounted after gracefs.
gfs_loop_backing 128M -m 0 -N 50000 -I 128

PROM=$GFS_TMP/gracefs.prom
MiB=$((1 << 20))
OPTS=(min_free=40% min_retention=20s retention=30d op_gap=1s sweep_interval=1s
      "metrics=$PROM")

# status KEY — one of the daemon's lines of `gracectl status`
status() {
	gctl --json status |
		python3 -c 'import json, sys; v = json.load(sys.stdin)["daemon"].get(sys.argv[1], "absent"); print(int(v) if isinstance(v, bool) else v)' "$1"
}
# site_field SITE COLUMN — a cell of `gracectl site ls`
site_field() {
	gctl --json site ls |
		python3 -c 'import json, sys; v = [r for r in json.load(sys.stdin) if r["site"] == sys.argv[1]][0][sys.argv[2]]; print("" if v is None else v)' "$1" "$2"
}
free_bytes() { stat -f -c '%a %S' "$BACKING" | awk '{ printf "%d\n", $1 * $2 }'; }
metric() { awk -v n="$1" '$1 == n { print $2 }' "$PROM" 2>/dev/null; }
op_there() { [ -d "$(bk_op "$1" "$2")" ]; }
op_gone() { ! op_there "$1" "$2"; }
audit_rows() {   # EVENT SITE — "op detail" lines of the audit log
	gctl --json log --event "$1" --site "$2" |
		python3 -c 'import json, sys; [print(r.get("op") or "", r.get("detail") or "") for r in json.load(sys.stdin)]'
}

# ---------------------------------------------------------------------------
# Live data: 4 MiB files for the floor, 2 MiB ones for the cap.

gfs_site s1 s2 s3 s4 s5
mk() { head -c "$2" /dev/urandom >"$BACKING/$1"; }
mk s1/a.dat $((4 * MiB)); mk s2/b.dat $((4 * MiB)); mk s3/c.dat $((4 * MiB))
mk s1/d.dat $((4 * MiB)); mk s2/e.dat $((4 * MiB)); mk s2/f.dat $((4 * MiB))
for i in 1 2 3; do mk "s4/g$i" $((2 * MiB)); done
gfs_mount "${OPTS[@]}"

# del SITE FILE — rm it through the mount (its own process: its own op);
# prints the new op's name
del() {
	local before
	before=$(trash_op_dirs "$1")
	rm "$MNT/$1/$2" || fail "rm $1/$2"
	new_op "$1" "$before"
}
A=$(del s1 a.dat); B=$(del s2 b.dat); C=$(del s3 c.dat); D=$(del s1 d.dat)
G1=$(del s4 g1); G2=$(del s4 g2); G3=$(del s4 g3)
check "hold op C" gctl hold "op:s3/$C"

# ---------------------------------------------------------------------------
# trash_max: s4 holds 6 MiB in three ops; capped at 3 MiB its two oldest go
# once they are past min_retention (20 s), the newest stays.
diag "$(date +%T) trash_max: s4 holds"

check_not "trash_max refuses a bad size" gctl site set site:s4 trash_max=3q
# an op's bytes are counted when it closes (op_gap after its last rm)
check "the ops are closed" wait_until 30 all_closed
check_match "setting a cap is a dry run first" "dry run: would cap the trash of site 's4' at 3M; it holds 6291456 bytes in 3 op" \
	"$(gctl site set site:s4 trash_max=3M)"
check_eq "the dry run set nothing" "" "$(site_field s4 trash_max)"
check "trash_max=3M set on s4" gctl site set site:s4 trash_max=3M --execute
check_eq "site ls shows the cap" 3M "$(site_field s4 trash_max)"
check_wait "the cap evicted s4's two oldest ops" 90 eval 'op_gone s4 "$G1" && op_gone s4 "$G2"'
check "the newest op of s4 stays (within the cap)" op_there s4 "$G3"
for o in "s1 $A" "s2 $B" "s3 $C" "s1 $D"; do
	check "op $o untouched by s4's cap" op_there $o
done
wait_until 20 eval 'audit_rows evict s4 | grep -q "$G1"'   # the audit writer is asynchronous
check_match "evictions by the cap are audited with their reason" \
	"$G1 .*reason=trash_max trash_max=3M" "$(audit_rows evict s4)"

# ---------------------------------------------------------------------------
# The floor: all of A, B, D, G3 are past min_retention now; E is young.
diag "$(date +%T) The floor: all of A"

wait_until 60 eval '[ "$(status evictable_ops)" == 4 ]'
check_eq "status: four ops could be evicted now (C is held)" 4 "$(status evictable_ops)"
E=$(del s2 e.dat)
FLOOR=$(status space_floor_bytes)
check_eq "status: min_free as configured" 40% "$(status min_free)"
TOTAL=$(status space_total_bytes)
check_eq "the floor is 40% of the filesystem" $((TOTAL / 100 * 40 + TOTAL % 100 * 40 / 100)) "$FLOOR"
# fill until free space is 3 MiB below the floor: with the margin (a tenth
# of the floor) A and B, the two oldest, free enough; D need not go
FILL=$(( $(free_bytes) - FLOOR + 3 * MiB ))
check "fill s1 to 3 MiB below the floor" fallocate -l "$FILL" "$MNT/s1/fill1"
check_wait "below the floor, the two oldest ops were evicted" 60 \
	eval 'op_gone s1 "$A" && op_gone s2 "$B"'
wait_until 20 eval '[ "$(status evicted_ops)" == 4 ]'
check "held op C stays" op_there s3 "$C"
check "young op E stays" op_there s2 "$E"
check "op D, not needed, stays" op_there s1 "$D"
check "op G3 stays" op_there s4 "$G3"
check "free space ends above the floor" test "$(free_bytes)" -ge "$FLOOR"
check_eq "status: 4 ops evicted" 4 "$(status evicted_ops)"
check_eq "status: no space pressure" 0 "$(status space_pressure)"
wait_until 20 eval 'audit_rows evict s1 | grep -q "$A" && audit_rows evict s2 | grep -q "$B"'
check_match "A's eviction audited with reason=space" "$A .*reason=space free=" "$(audit_rows evict s1)"
check_match "B's eviction audited with reason=space" "$B .*reason=space free=" "$(audit_rows evict s2)"
check_match "evictions are logged" "evicted op s1/$A: .*reason=space" "$(cat "$GFS_LOG")"
wait_until 10 eval '[ "$(metric gracefs_evicted_ops_total)" == 4 ]'
check_eq "metric gracefs_evicted_ops_total" 4 "$(metric gracefs_evicted_ops_total)"
check "metric gracefs_backing_free_bytes is there" test -n "$(metric gracefs_backing_free_bytes)"
check_eq "metric gracefs_space_floor_bytes" "$FLOOR" "$(metric gracefs_space_floor_bytes)"

# ---------------------------------------------------------------------------
# Pressure: 12 MiB below the floor, more than every evictable op frees.
# Fair shares (unheld trash: s1 D 4M, s2 E+F 8M, s4 G3 2M capped at 3M):
# s2 is over its share, so its E goes once past min_retention, then s1's D
# (s1 is then over the share); then s2 (F, open) is still over its share
# and s4's G3, within its share, stays although it is old enough.
diag "$(date +%T) Pressure: 12 MiB"

# F is deleted by a process that goes on deleting a small file every 0.3 s
# into the same op (within op_gap): the op stays open — s2's trash, never
# evictable — however long the checks below take on a loaded machine.
before=$(trash_op_dirs s2)
gfs_bg python3 -c '
import os, sys, time
os.unlink(sys.argv[1] + "/f.dat")
for i in range(100000):
    p = "%s/tick%d" % (sys.argv[1], i)
    open(p, "w").close()
    os.unlink(p)
    time.sleep(0.3)
' "$MNT/s2"
DELETER=$GFS_BG_PID
wait_until 10 eval '[ -n "$(comm -13 <(printf "%s\n" "$before") <(trash_op_dirs s2))" ]'
F=$(new_op s2 "$before")
FILL=$(( $(free_bytes) - FLOOR + 12 * MiB ))
check "fill s1 to 12 MiB below the floor" fallocate -l "$FILL" "$MNT/s1/fill2"
check_wait "s2's op E (over its share) was evicted" 60 op_gone s2 "$E"
check_wait "status reports space pressure" 60 eval '[ "$(status space_pressure)" == 1 ]'
check "op F (still open) stays under pressure" op_there s2 "$F"
check "held op C stays under pressure" op_there s3 "$C"
check "op D was evicted" op_gone s1 "$D"
check "op G3 (s4 within its share) stays while s2 is over its share" op_there s4 "$G3"
check_eq "status: s2 keeps the others' trash from eviction" s2 "$(status space_blocked_by)"
check "status: s2's figures (F's 4 MiB against a share of 3 MiB)" \
	test "$(status space_blocked_by_bytes)" -ge $((4 * MiB)) -a "$(status space_blocked_by_share_bytes)" -lt $((4 * MiB))
check_match "E's eviction audited with both sites' figures" \
	"$E .*reason=space free=[0-9]+ floor=[0-9]+ site=s2 trash=[0-9]+ share=[0-9]+ next=s[14] next_trash=[0-9]+ next_share=[0-9]+" \
	"$(audit_rows evict s2)"
check_match "the pressure names the site over its share" "site s2 holds .* against a share of" "$(cat "$GFS_LOG")"
check_eq "the pressure is logged once" 1 "$(grep -c 'nothing more may be evicted' "$GFS_LOG")"
wait_until 10 eval '[ "$(metric gracefs_space_pressure)" == 1 ]'
check_eq "metric gracefs_space_pressure" 1 "$(metric gracefs_space_pressure)"
# who caused the pressure, in the metrics: s2 over its share, the most of all
ratio() { metric "gracefs_trash_share_ratio{site=\"$1\"}"; }
s2_top() {
	awk -v r="$(ratio s2)" -v a="$(ratio s1)" -v b="$(ratio s4)" \
		'BEGIN { exit !(r > 1 && r > a + 0 && r > b + 0) }'
}
check "metric gracefs_trash_share_ratio: s2 over its share, above every other site" \
	wait_until 20 s2_top
check "metric gracefs_trash_share_bytes: s2's share is known" \
	test -n "$(metric 'gracefs_trash_share_bytes{site="s2"}')"
diag "share ratios: s1 $(ratio s1) s2 $(ratio s2) s4 $(ratio s4)"
kill "$DELETER" && wait "$DELETER" 2>/dev/null

# ---------------------------------------------------------------------------
# Exclusions relieve it: the fill files are removed directly, not to trash.
diag "$(date +%T) Exclusions relieve i"

check_not "an exclusion matching everything is refused" gctl site set site:s1 'exclude=**' --execute
check_match "setting exclusions is a dry run first" "would delete items of site 's1' matching fill\* directly" \
	"$(gctl site set site:s1 'exclude=fill*')"
check_eq "the dry run set nothing" "" "$(site_field s1 exclude)"
check "exclude=fill* on s1" gctl site set site:s1 'exclude=fill*' --execute
before=$(trash_op_dirs s1)
check "rm of the excluded fill files" rm "$MNT/s1/fill1" "$MNT/s1/fill2"
check_eq "no new trash op for excluded files" "$before" "$(trash_op_dirs s1)"
check_eq "the fill files are in no trash" "" "$(find "$BACKING/s1/.trash" -name 'fill*')"
check_wait "the pressure is cleared" 30 eval '[ "$(status space_pressure)" == 0 ]'
check_match "the relief is logged" "back above the floor" "$(cat "$GFS_LOG")"
check_eq "status counts 2 excluded items" 2 "$(status excluded_items)"
check_match "setting an exclusion is audited" "exclude=fill\*" "$(audit_rows site-set s1)"

# directories and protected paths on s2
mkdir -p "$MNT/s2/cache/a" "$MNT/s2/dir.tmp" "$MNT/s2/keep"
for f in cache/a/b.dat cache/c.dat notes.tmp real.txt dir.tmp/important.txt keep/x.tmp; do
	echo "$f" >"$MNT/s2/$f"
done
check "exclude=cache/**,*.tmp on s2" gctl site set site:s2 'exclude=cache/**,*.tmp' --execute
check_errno "rmdir of a non-empty excluded directory: ENOTEMPTY" ENOTEMPTY et rmdir "$MNT/s2/dir.tmp"
check_live "its content is untouched" s2 dir.tmp/important.txt
check "protect s2 cache/c.dat" gctl site protect site:s2 cache/c.dat
check_errno "a protected path wins over an exclusion" EPERM et unlink "$MNT/s2/cache/c.dat"
check "unprotect it" gctl site unprotect site:s2 cache/c.dat
before=$(trash_op_dirs s2)
check "rm -rf of excluded and kept items" \
	rm -rf "$MNT/s2/cache" "$MNT/s2/notes.tmp" "$MNT/s2/real.txt" "$MNT/s2/dir.tmp" "$MNT/s2/keep/x.tmp"
op=$(new_op s2 "$before")
check_trashed "real.txt went to trash" s2 "$op" real.txt
check_trashed "a kept file inside an excluded directory went to trash" s2 "$op" dir.tmp/important.txt
for f in cache notes.tmp keep/x.tmp; do
	check_absent "excluded $f is not in the op" "$(bk_op s2 "$op")/$f"
	check_absent "excluded $f is gone" "$BACKING/s2/$f"
done
check_eq "status counts 9 excluded items" 9 "$(status excluded_items)"
# a rename over an excluded name replaces it unpreserved; over another name
# the replaced file still goes to trash
echo old >"$MNT/s2/r.tmp"; echo new >"$MNT/s2/n1"
echo old >"$MNT/s2/kept.txt"; echo new >"$MNT/s2/n2"
before=$(trash_op_dirs s2)
check "mv over an excluded name" mv "$MNT/s2/n1" "$MNT/s2/r.tmp"
check_eq "no trash op for it" "$before" "$(trash_op_dirs s2)"
check_eq "the new content is in place" new "$(cat "$MNT/s2/r.tmp")"
check_eq "status counts 10 excluded items" 10 "$(status excluded_items)"
check "mv over a kept name" mv "$MNT/s2/n2" "$MNT/s2/kept.txt"
op=$(new_op s2 "$before")
check_eq "the replaced kept file is in trash" old "$(cat "$(bk_op s2 "$op")/kept.txt")"
check_wait "one audit row for the 7 excluded items of the rm" 20 \
	eval 'audit_rows exclude s2 | grep -q "items=7 "'
check_eq "site ls shows the exclusions" 'cache/**,*.tmp' "$(site_field s2 exclude)"
check_match "status shows the exclusions" 's2 +cache/\*\*,\*\.tmp' "$(gctl status)"
check "gracefs refuses min_free=100%" eval '! "$GRACEFS" -f -o min_free=100% "$BACKING" "$GFS_TMP" 2>"$GFS_TMP/err" &&
	grep -q "invalid min_free" "$GFS_TMP/err"'

# ---------------------------------------------------------------------------
# kill -9 during an eviction: an old op of 40000 files in s5 (made in the
# backing store, adopted at mount); every other site held; min_free=99%.
diag "$(date +%T) kill -9 during an ev"

sync -f "$BACKING"   # the loop image: leave the daemon little to flush at its exit
check "unmount" gfs_umount
BIG=20200101T000000Z-rm-4242
mkdir -p "$BACKING/s5/.trash/$BIG/big"
(cd "$BACKING/s5/.trash/$BIG/big" && seq 1 40000 | sed 's/^/f/' | xargs touch) ||
	bail_out "cannot make the big op"
check "hold every other site" gctl hold site:s1 site:s2 site:s3 site:s4
others=$(for s in s1 s2 s3 s4; do trash_op_dirs $s | sed "s|^|$s/|"; done)
: >"$BACKING/.gracefs/evicting"
gfs_mount min_free=99% min_retention=20s op_gap=1s sweep_interval=1s
check_wait "the eviction started" 60 test -s "$BACKING/.gracefs/evicting"
gfs_kill9
check "kill -9 cleared the mount" eval '! gfs_mounted'
if op_there s5 "$BIG"; then
	pass "killed while the op was being evicted ($(ls "$(bk_op s5 "$BIG")/big" | wc -l) files left)"
else
	skip "killed while the op was being evicted" "the eviction finished before the kill"
fi
gfs_mount min_free=99% min_retention=20s op_gap=1s sweep_interval=1s
check_wait "after the remount the eviction finished" 120 op_gone s5 "$BIG"
check_eq "nothing else was touched" "$others" \
	"$(for s in s1 s2 s3 s4; do trash_op_dirs $s | sed "s|^|$s/|"; done)"
wait_until 20 eval 'audit_rows evict s5 | grep -q "$BIG"'
check_eq "one evict row for the op" 1 "$(audit_rows evict s5 | grep -c "$BIG")"
check_eq "the journal is cleared" "" "$(cat "$BACKING/.gracefs/evicting")"
sync -f "$BACKING"   # the loop image: leave the daemon little to flush at its exit
check "unmount" gfs_umount

done_testing
