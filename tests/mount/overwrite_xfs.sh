#!/bin/bash
#
# overwrite_xfs.sh — issue 9 on a backing store that shares blocks: BACKING
# is a small XFS (reflink=1) image on a loop device.  With copies turned
# off (preserve_max=0) a truncated file is still preserved whole — so it
# was cloned — quickly, counted as a clone and audited as one; fallocate
# punch and undo work the same.  Prints "1..0 # SKIP" only where mkfs.xfs,
# a loop device or the XFS mount are unavailable.

. "$(dirname "$0")/lib.sh"
: "${GRACECTL:=$GFS_REPO/build/fs/gracectl}"
gfs_require python3 truncate fallocate sha256sum losetup
[ -x "$GRACECTL" ] || skip_all "gracectl binary not found at $GRACECTL"
gfs_xfs_backing

gctl() { "$GRACECTL" -b "$BACKING" "$@"; }
PROM=$GFS_TMP/gracefs.prom
gfs_site s1
gfs_mount "metrics=$PROM" preserve_max=0 op_gap=1s
S=$MNT/s1
check_eq "BACKING is XFS" xfs "$(stat -f -c %T "$BACKING")"

# A 256 MiB file: cloned, not copied (copies are off), in well under a second.
# (written back first: a clone must flush dirty pages, a truncation would
# just drop them; the steady state of a file is on disk)
dd if=/dev/urandom of="$S/big" bs=1M count=256 status=none
sum=$(sha256sum <"$S/big")
sync -f "$BACKING/s1/big"
before=$(trash_op_dirs s1)
t0=$(date +%s%N)
check "truncate -s0 of 256 MiB with copies off succeeds" truncate -s0 "$S/big"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
diag "truncate -s0 of 256 MiB on XFS (clone, process start included): $ms ms (timed by scripts/bench/bench_overwrite.sh, not asserted)"
op=$(new_op s1 "$before")
check_eq "the preserved file holds all the data (a clone: copies are off)" "$sum" \
	"$(sha256sum <"$(bk_op s1 "$op")/big")"
check_eq "the live file is empty" 0 "$(stat -c %s "$S/big")"
check "counted as a clone" wait_until 10 grep -qx 'gracefs_overwrite_cloned_total 1' "$PROM"
check_eq "no copy" 1 "$(grep -cx 'gracefs_overwrite_copied_total 0' "$PROM")"
check "audited as a clone" wait_until 10 eval \
	'gctl --json log --event overwrite --site s1 | grep -q "bytes=268435456 clone"'

# fallocate punch, cp over a file: clones too.
head -c 100000 /dev/urandom >"$S/p"
psum=$(sha256sum <"$S/p")
before=$(trash_op_dirs s1)
check "fallocate --punch-hole" fallocate -p -o 0 -l 65536 "$S/p"
op_p=$(new_op s1 "$before")
check_eq "punch: the preserved file is whole" "$psum" "$(sha256sum <"$(bk_op s1 "$op_p")/p")"
punched=$(sha256sum <"$S/p")
printf 'new\n' >"$GFS_TMP/new"
before=$(trash_op_dirs s1)
check "cp over a file" cp "$GFS_TMP/new" "$S/p"
op_cp=$(new_op s1 "$before")
check_eq "cp: the op holds the punched version" "$punched" \
	"$(sha256sum <"$(bk_op s1 "$op_cp")/p")"
check_eq "cp: the live file is new" "new" "$(cat "$S/p")"

# undo of the punch op: the file as it was before the punch.
check "the ops close" wait_until 20 eval \
	'! gctl --json ls s1 | grep -q "\"state\": *\"open\""'
token=$(gctl undo "op:s1/$op_p" 2>&1 | sed -n 's/^plan token: //p')
check "undo op --execute TOKEN" gctl undo "op:s1/$op_p" --execute "$token"
check_eq "undo: the whole file is back" "$psum" "$(sha256sum <"$S/p")"

check "unmount" gfs_umount
check "unmount the XFS image" gfs_xfs_umount
done_testing
