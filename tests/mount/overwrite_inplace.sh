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
# Then the per-site nopreserve opt-out, and last, kill -9 of the daemon in
# the middle of the copy a write waits for.
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

# nopreserve: the site's operator opts files out (databases): a dry run
# first, then set and audited; a matching file is overwritten keeping
# nothing, audited as unpreserved with its pattern, once per handle; other
# files and protected paths are preserved as ever.
gfs_mount op_gap=1s
S=$MNT/s1
out=$(gctl site set site:s1 'nopreserve=*.db,*-wal' 2>&1)
check_match "nopreserve: a dry run first" "would let files of site 's1' matching" "$out"
check_eq "nopreserve: the dry run set nothing" "" \
	"$(getfattr --only-values -n trusted.gracefs.nopreserve "$BACKING/s1/.trash" 2>/dev/null)"
check "nopreserve: set with --execute" gctl site set site:s1 'nopreserve=*.db,*-wal' --execute
refused() { ! gctl site set site:s1 "nopreserve=$1" --execute >/dev/null 2>&1; }
check "nopreserve=* is refused (that is switching protection off)" refused '*' 
check_eq "site ls shows it" '*.db,*-wal' \
	"$(gctl --json site ls | pyj '[r["nopreserve"] for r in d if r["site"] == "s1"][0]')"
check "the setting is audited" wait_until 10 eval \
	'gctl --json log --event site-set --site s1 | grep -qF "nopreserve=*.db,*-wal"'
declare -A orig
for f in app.db app.txt keep.db; do
	head -c 100000 /dev/urandom >"$GFS_TMP/src"
	cp "$GFS_TMP/src" "$S/$f"
	orig[$f]=$(h "$S/$f")
done
check "protect keep.db" gctl site protect site:s1 keep.db
check "nopreserve: the files' ops close" wait_until 30 all_closed
before=$(trash_op_dirs s1)
python3 "$GFS_TMP/pwrite.py" "$S/app.db"
check_eq "nopreserve: overwriting a matching file keeps nothing" "$before" "$(trash_op_dirs s1)"
check_not "nopreserve: the write was made" test "$(h "$S/app.db")" == "${orig[app.db]}"
check "nopreserve: audited unpreserved with its pattern, once per handle" wait_until 10 eval \
	'[ "$(gctl --json log --event unpreserved --site s1 | grep -cF "nopreserve=*.db write")" -eq 1 ]'
python3 "$GFS_TMP/pwrite.py" "$S/app.txt"
op=$(new_op s1 "$before")
check_eq "nopreserve: a file that does not match is preserved" "${orig[app.txt]}" \
	"$(h "$(bk_op s1 "$op")/app.txt" 2>&1)"
before=$(trash_op_dirs s1)
python3 "$GFS_TMP/pwrite.py" "$S/keep.db"
op=$(new_op s1 "$before")
check_eq "nopreserve: a protected path is preserved all the same" "${orig[keep.db]}" \
	"$(h "$(bk_op s1 "$op")/keep.db" 2>&1)"
check "nopreserve=none clears it" gctl site set site:s1 nopreserve=none
check_eq "cleared" "" \
	"$(getfattr --only-values -n trusted.gracefs.nopreserve "$BACKING/s1/.trash" 2>/dev/null)"
check "unmount (nopreserve)" gfs_umount

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
