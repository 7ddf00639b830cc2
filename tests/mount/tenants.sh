#!/bin/bash
#
# tenants.sh — issue 21: one tenant cannot cut another tenant's retention
# or stop it deleting, through a real mount on a small ext4 image made here.
#   - fair eviction: tenant a's write+rm churn below the free-space floor
#     evicts a's own ops (a is over its share); b's op, past min_retention
#     and older than all of a's, stays; each eviction is audited with both
#     sites' figures.
#   - an inode reserve for deletions: a runs the filesystem out of inodes;
#     b's nested and top-level rm still work (the op directory and mirrored
#     parents come from the deletion reserve); once the reserve is gone an
#     rm fails with ENOSPC, the file untouched, and that is logged; the
#     sweeper refills the reserve when inodes come back; the trusted clock
#     is still saved (in place) while no inode is free.
#   - exclusions only for the deleter's own files: the owner of a shared
#     0777 directory renames another tenant's file to *.tmp and removes it,
#     or renames over it: it goes to trash; its own *.tmp is removed
#     directly.
#   - bytes written after an unlink through a still-open fd are counted
#     when the fd closes (gracectl ls, and so eviction and caps).

. "$(dirname "$0")/lib.sh"
: "${GRACECTL:=$GFS_REPO/build/fs/gracectl}"
gfs_require python3 mkfs.ext4 losetup setpriv
[ -x "$GRACECTL" ] || skip_all "gracectl binary not found at $GRACECTL"

gctl() { "$GRACECTL" -b "$BACKING" "$@"; }
MiB=$((1 << 20))
A=2101 B=2102

gfs_loop_backing 64M -m 0 -N 2048

status() {
	gctl --json status |
		python3 -c 'import json, sys; v = json.load(sys.stdin)["daemon"].get(sys.argv[1], "absent"); print(int(v) if isinstance(v, bool) else v)' "$1"
}
audit_rows() {   # EVENT SITE — "op detail" lines of the audit log
	gctl --json log --event "$1" --site "$2" |
		python3 -c 'import json, sys; [print(r.get("op") or "", r.get("detail") or "") for r in json.load(sys.stdin)]'
}
op_there() { [ -d "$(bk_op "$1" "$2")" ]; }

gfs_site a b
chown $A:$A "$BACKING/a"
chown $B:$B "$BACKING/b"
gfs_mount min_free=50% min_retention=2s op_gap=1s sweep_interval=1s

# ---------------------------------------------------------------------------
diag "$(date +%T) fair eviction"

as_uid $B head -c $((8 * MiB)) /dev/urandom >"$MNT/b/keep.dat" || bail_out "b cannot write"
before=$(trash_op_dirs b)
check "b deletes its 8 MiB file" as_uid $B rm "$MNT/b/keep.dat"
BOP=$(new_op b "$before")
# a churns 4 MiB files, well past the floor (32 MiB free on a ~60 MiB
# disk): write, rm, each its own op, each soon past min_retention
for i in $(seq 1 16); do
	as_uid $A sh -c "head -c $((4 * MiB)) /dev/zero >'$MNT/a/f$i' && rm '$MNT/a/f$i'" 2>/dev/null
	wait_until 20 eval '[ "$(status evicted_ops)" != unknown ]'
	[ "$i" -ge 8 ] && wait_until 20 eval '[ "$(status evicted_ops)" -ge $((i - 8)) ]'
done
wait_until 30 eval '[ "$(status space_pressure)" == 0 ] && [ "$(status space_free_bytes)" -ge "$(status space_floor_bytes)" ]'
check "a's churn evicted a's ops ($(status evicted_ops))" test "$(status evicted_ops)" -ge 4
check "b's op, older than all of a's and past min_retention, stays" op_there b "$BOP"
check_eq "no eviction in b" "" "$(audit_rows evict b)"
check_match "a's evictions are audited with both sites' figures" \
	"reason=space free=[0-9]+ floor=[0-9]+ site=a trash=[0-9]+ share=[0-9]+ next=b next_trash=$((8 * MiB)) next_share=[0-9]+" \
	"$(audit_rows evict a)"
check_eq "status names the site with the most trash against its share" a "$(status space_top_site)"

# ---------------------------------------------------------------------------
diag "$(date +%T) inode exhaustion"

as_uid $B mkdir -p "$MNT/b/x/y" || bail_out "b cannot mkdir"
as_uid $B sh -c "echo n >'$MNT/b/x/y/nested.txt' && echo t >'$MNT/b/top.txt' &&
	for i in \$(seq 1 40); do : >'$MNT/b/t'\$i; done" || bail_out "b cannot write"
check_eq "the deletion reserve is full" 32 "$(status deletion_reserve)"
made=$(as_uid $A /usr/bin/python3 -c '
import errno, os, sys
d = sys.argv[1] + "/fill"
os.mkdir(d)
n = 0
try:
    while True:
        open("%s/%d" % (d, n), "w").close()
        n += 1
except OSError as e:
    print(n if e.errno == errno.ENOSPC else "error %s" % e)
' "$MNT/a")
check "a ran the filesystem out of inodes ($made files)" test "$made" -gt 100 -a "$(stat -f -c %d "$BACKING")" -eq 0
check "b's nested rm succeeds" as_uid $B rm "$MNT/b/x/y/nested.txt"
check "b's top-level rm succeeds" as_uid $B rm "$MNT/b/top.txt"
check "both are in b's trash" test -n "$(find "$BACKING/b/.trash" -path '*/x/y/nested.txt')" \
	-a -n "$(find "$BACKING/b/.trash" -name top.txt)"
check "status counts the directories taken" test "$(status deletion_reserve_taken)" -ge 4
check_match "taking from the reserve is logged" "deletions take directories from the deletion reserve" "$(cat "$GFS_LOG")"
# one op per rm process, one directory each, until the reserve is empty
for i in $(seq 1 40); do
	as_uid $B rm "$MNT/b/t$i" 2>/dev/null || break
done
check "b removed files until the reserve ran out ($((i - 1)))" test "$i" -gt 20 -a "$i" -le 40
check_errno "then rm fails with ENOSPC" ENOSPC et_as $B unlink "$MNT/b/t$i"
check "the file is still there, unchanged" test -e "$BACKING/b/t$i" -a ! -s "$BACKING/b/t$i"
check_match "the empty reserve is logged" "the deletion reserve is empty" "$(cat "$GFS_LOG")"
check "status counts the refused mkdir" test "$(status deletion_reserve_empty)" -ge 1
clk=$(cat "$BACKING/.gracefs/clock")
wait_until 20 eval '[ "$(cat "$BACKING/.gracefs/clock")" != "$clk" ]'
check "the trusted clock is still saved with no inode free" test "$(cat "$BACKING/.gracefs/clock")" != "$clk"
check "and no 'cannot save the trusted clock'" eval '! grep -q "cannot save the trusted clock" "$GFS_LOG"'
rm -rf "$BACKING/a/fill"   # the operator frees inodes (underneath: a's rm would need an op too)
wait_until 20 eval '[ "$(status deletion_reserve)" == 32 ]'
check_eq "the sweeper refills the reserve" 32 "$(status deletion_reserve)"
check "b's rm works again" as_uid $B rm "$MNT/b/t$i"

# ---------------------------------------------------------------------------
diag "$(date +%T) exclusions only for the deleter's own files"

as_uid $A mkdir -m 0777 "$MNT/a/shared" || bail_out "a cannot mkdir"
as_uid $B sh -c "echo b-data >'$MNT/a/shared/report.txt' && echo b-over >'$MNT/a/shared/over.tmp'"
as_uid $A sh -c "echo a-data >'$MNT/a/shared/own.txt' && echo a-new >'$MNT/a/shared/mine.txt'"
check "exclude=*.tmp on site a" gctl site set site:a 'exclude=*.tmp' --execute
before=$(trash_op_dirs a)
check "a renames b's file to report.tmp" as_uid $A mv "$MNT/a/shared/report.txt" "$MNT/a/shared/report.tmp"
check "and removes it" as_uid $A rm "$MNT/a/shared/report.tmp"
op=$(new_op a "$before")
check_eq "b's file is kept in a's trash" b-data "$(cat "$(bk_op a "$op")/shared/report.tmp" 2>&1)"
before=$(trash_op_dirs a)
check "a renames its file over b's over.tmp" as_uid $A mv "$MNT/a/shared/mine.txt" "$MNT/a/shared/over.tmp"
op=$(new_op a "$before")
check_eq "b's replaced over.tmp is kept in a's trash" b-over "$(cat "$(bk_op a "$op")/shared/over.tmp" 2>&1)"
before=$(trash_op_dirs a)
check "a renames and removes its own *.tmp" \
	as_uid $A sh -c "mv '$MNT/a/shared/own.txt' '$MNT/a/shared/own.tmp' && rm '$MNT/a/shared/own.tmp'"
check_eq "a's own *.tmp is removed directly (no op)" "$before" "$(trash_op_dirs a)"
check "it is gone" test ! -e "$BACKING/a/shared/own.tmp"

# ---------------------------------------------------------------------------
diag "$(date +%T) bytes written after the unlink are counted"

op_bytes() {   # SITE OP — the op's bytes as gracectl ls shows them
	gctl --json ls "$1" |
		python3 -c 'import json, sys; print([o for o in json.load(sys.stdin) if o["op"].endswith(sys.argv[1])][0]["bytes"])' "$2"
}
op_state() { gctl --json ls b | python3 -c 'import json, sys; print([o for o in json.load(sys.stdin) if o["op"].endswith(sys.argv[1])][0]["state"])' "$1"; }
# b writes 1 MiB, unlinks, and writes 4 MiB more once its op has closed
# (told through a fifo): those 4 MiB land in a closed op
mkfifo "$GFS_TMP/go"
before=$(trash_op_dirs b)
as_uid $B /usr/bin/python3 -c '
import os, sys
p = sys.argv[1]
fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"x" * (1 << 20))
os.unlink(p)
sys.stdin.readline()
for i in range(4):
    os.write(fd, b"y" * (1 << 20))
os.fsync(fd)
os.close(fd)
' "$MNT/b/grow.dat" <"$GFS_TMP/go" &
WRITER=$!
exec 5>"$GFS_TMP/go"
wait_until 20 eval '[ -n "$(comm -13 <(printf "%s\n" "$before") <(trash_op_dirs b))" ]'
op=$(new_op b "$before")
wait_until 20 eval '[ "$(op_state "$op")" == closed ]'
check_eq "b's op closed with the file open" closed "$(op_state "$op")"
echo go >&5
exec 5>&-
check "b: writes 4 MiB more to the deleted file and closes it" wait "$WRITER"
wait_until 20 eval '[ "$(op_bytes b "$op")" -ge $((5 * MiB)) ]'
check "gracectl counts the 5 MiB in the op ($(op_bytes b "$op") bytes)" test "$(op_bytes b "$op")" -ge $((5 * MiB))

gfs_umount
done_testing
