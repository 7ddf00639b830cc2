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
done_testing
