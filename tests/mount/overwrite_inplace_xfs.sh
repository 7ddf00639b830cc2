#!/bin/bash
#
# overwrite_inplace_xfs.sh — issue 20 on a backing store that shares
# blocks: BACKING is a small XFS (reflink=1) image on a loop device, and
# copies are off (preserve_max=0), so every file kept before an in-place
# write is there only because it was cloned.  A 4 KiB dd conv=notrunc over
# a 128 MiB file keeps the whole file, quickly, in blocks it shares with
# the live file (FIEMAP "shared", free space unchanged), counted and
# audited as a clone, and undo gives it back; then the writers of
# overwrite_inplace.sh (inplace_lib.sh: dd, pwrite, mmap, shred, rsync
# --inplace, fallocate punch, XOR of a tree, >>) without and with
# -o writeback.  Prints "1..0 # SKIP" only where mkfs.xfs, a loop device or
# the XFS mount are unavailable.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/inplace_lib.sh"
gfs_require losetup filefrag
gfs_xfs_backing

PROM=$GFS_TMP/gracefs.prom
gfs_site s1
gfs_mount "metrics=$PROM" preserve_max=0 op_gap=1s
S=$MNT/s1
check_eq "BACKING is XFS" xfs "$(stat -f -c %T "$BACKING")"

# 128 MiB, on disk (a clone flushes dirty pages first; the steady state of
# a file is written back), then 4 KiB over its first block.
dd if=/dev/urandom of="$S/big" bs=1M count=128 status=none
sum=$(h "$S/big")
sync -f "$BACKING/s1/big"
free0=$(stat -f -c '%f %S' "$BACKING")
before=$(trash_op_dirs s1)
t0=$(date +%s%N)
head -c 4096 /dev/zero | dd of="$S/big" bs=4096 conv=notrunc status=none
check "dd conv=notrunc of 4 KiB over 128 MiB with copies off succeeds" test $? -eq 0
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
diag "4 KiB dd conv=notrunc over 128 MiB on XFS (clone, process start included): $ms ms (timed by scripts/bench/bench_inplace.sh, not asserted)"
op=$(new_op s1 "$before")
kept=$(bk_op s1 "$op")/big
check_eq "the op holds the whole file from before (a clone: copies are off)" "$sum" "$(h "$kept")"
check_not "the live file has the write" test "$(h "$S/big")" == "$sum"
sync -f "$BACKING/s1/big"
check "the kept file shares its blocks with the live one (FIEMAP)" \
	eval 'filefrag -v "$kept" | grep -qw shared'
read -r f1 bs <<<"$(stat -f -c '%f %S' "$BACKING")"
drop=$(( (${free0% *} - f1) * bs / 1048576 ))
diag "free space used by the preservation and the write: $drop MiB"
check "free space: well under the file's 128 MiB (used $drop MiB)" test "$drop" -lt 16
check "counted as a clone" wait_until 10 grep -qx 'gracefs_overwrite_cloned_total 1' "$PROM"
check_eq "no copy" 1 "$(grep -cx 'gracefs_overwrite_copied_total 0' "$PROM")"
check "audited as a clone of a write" wait_until 10 eval \
	'gctl --json log --event overwrite --site s1 | grep -q "bytes=134217728 clone write"'
check "the op closes" wait_until 30 all_closed
token=$(gctl undo "op:s1/$op" 2>&1 | sed -n 's/^plan token: //p')
check "undo op --execute TOKEN" gctl undo "op:s1/$op" --execute "$token"
check_eq "undo: the file from before the write is back" "$sum" "$(h "$S/big")"
rm -f "$S/big"

# copies off: each "its op holds the bytes from before" there is a clone
inplace_run plain
check "unmount" gfs_umount
gfs_mount preserve_max=0 op_gap=1s writeback
inplace_run wb
check "unmount (writeback)" gfs_umount
check "unmount the XFS image" gfs_xfs_umount
done_testing
