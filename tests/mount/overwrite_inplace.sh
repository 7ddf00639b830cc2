#!/bin/bash
#
# overwrite_inplace.sh — issue 20 on ext4 (the test's temp dir): writing
# over a file's existing bytes without truncating is undone like rm.  Each
# of dd conv=notrunc, pwrite at offset 0, a write through a shared writable
# mmap, shred -n1, rsync --inplace, fallocate --punch-hole and an in-place
# XOR of a whole tree first preserves the file in the writer's op, once
# (later writes in the op keep nothing more); `gracectl undo` gives back
# the exact bytes; appends (`>>`) and rewriting a file with the bytes it
# holds keep nothing.  The whole run
# is made twice: without and with `-o writeback` (the kernel then sends
# WRITEs by itself, the partial last page of an append included).
#
# Last, kill -9 of the daemon in the middle of the copy a write waits for.
#
# Each writer runs in its own process: ops are per process.  The checks
# are in inplace_lib.sh (overwrite_inplace_xfs.sh runs them on XFS).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/inplace_lib.sh"

gfs_site s1
gfs_mount op_gap=1s
inplace_run plain
check "unmount" gfs_umount
gfs_mount op_gap=1s writeback
inplace_run wb
check "unmount (writeback)" gfs_umount

# kill -9 in the middle of the copy an in-place write waits for
# (docs/overwrite.md, crash ordering): the copy is an unnamed O_TMPFILE
# until it is linked into the op, and the write is made only after that,
# so after the remount the live file is whole and unwritten, and the trash
# holds nothing of it.  The daemon is frozen while it holds the copy open.
gfs_mount op_gap=1s preserve_max=1G
{ printf 'head'; head -c 400M /dev/zero; printf 'tail'; } >"$BACKING/s1/midcopy"
sum=$(h "$BACKING/s1/midcopy")
sync "$BACKING/s1/midcopy"   # its pages clean, then dropped: the copy reads the disk
dd if="$BACKING/s1/midcopy" iflag=nocache count=0 status=none
printf 'XXXX' | dd of="$MNT/s1/midcopy" conv=notrunc status=none 2>/dev/null &
writer=$!
if [ "$(et freeze_on_fd "$GFS_PID" "/s1/.trash/#" 30)" == OK ]; then
	check "killed in the middle of the copy" gfs_kill9
	wait "$writer"
	check_not "the writing process failed" test $? -eq 0
	gfs_mount op_gap=1s
	check_eq "after kill -9 mid-copy: the live file is whole and unwritten" "$sum" \
		"$(h "$MNT/s1/midcopy")"
	check_eq "and nothing of it is in the trash" "" "$(find "$BACKING/s1/.trash" -name midcopy)"
else
	wait "$writer"
	skip "kill -9 in the middle of the copy" "the 400 MiB copy ended before it was seen"
	kill -CONT "$GFS_PID"
fi
rm -f "$BACKING/s1/midcopy"
check "unmount (after the crash)" gfs_umount
done_testing
