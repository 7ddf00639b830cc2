#!/bin/bash
#
# immutable.sh — nothing inside .trash can be changed (EPERM, and the
# backing store is untouched); only root, the deleting uid and the item's
# owner may move things out; the mount root holds sites only.
#
#   site1  every kind of modification inside a site's trash, and of .trash
#   site2  deleted as a whole: modifications inside MNT/.trash
#   site3  who may restore (as uid 65534 via setpriv)

. "$(dirname "$0")/lib.sh"
gfs_require setpriv getfattr setfattr

gfs_site site1 site2 site3
# allow_other: the restore-permission checks run as another user.
# trash_view=all: the EPERM checks below are the ones behind the default
# view, which hides other tenants' ops altogether (trash_view.sh)
gfs_mount allow_other trash_view=all

# ---------------------------------------------------------------------------
# site1: a trash op with a file, a directory with a file, an empty directory

S=$MNT/site1
mkdir "$S/d" "$S/empty"
printf 'keep\n' >"$S/f"
printf 'inner\n' >"$S/d/g"
setfattr -n user.x -v 1 "$S/f"
printf 'live\n' >"$S/live"
check "rm -r f d empty (one process, one op)" rm -r "$S/f" "$S/d" "$S/empty"
op=$(only_op site1)
T=$(mnt_op site1 "$op")
TB=$(bk_op site1 "$op")
trash_before=$(tree_manifest "$TB")
op_sig=$(sig "$TB")
x_before=$(getfattr --only-values -n user.x -- "$TB/f")

# Reading is allowed.
check_errno "open for reading in trash" OK et open "$T/f" r
check_eq "read in trash" keep "$(cat "$T/f")"
check_errno "readdir in trash" OK et ls "$T"
check_eq "getxattr in trash" "OK 1" "$(et getxattr "$T/f" user.x)"

# Data and metadata.
check_errno "open O_WRONLY in trash" EPERM et open "$T/f" w
check_errno "open O_RDWR in trash" EPERM et open "$T/f" rw
check_errno "open O_TRUNC in trash" EPERM et open "$T/f" w,trunc
check_errno "open O_APPEND in trash" EPERM et open "$T/f" w,append
check_errno "truncate in trash" EPERM et truncate "$T/f" 0
check_errno "fallocate in trash" EPERM et fallocate "$T/f" plain 0 4096
check_errno "chmod in trash" EPERM et chmod "$T/f" 0666
check_errno "chmod of a directory in trash" EPERM et chmod "$T/d" 0777
check_errno "chmod of the op directory" EPERM et chmod "$T" 0777
check_errno "chown in trash" EPERM et chown "$T/f" 1234 1234
check_errno "lchown in trash" EPERM et lchown "$T/f" 1234 1234
check_errno "utimens (now) in trash" EPERM et utimens "$T/f"
check_errno "utimens (explicit) in trash" EPERM et utimens "$T/f" 1 2
check_errno "utimens (omit, now) in trash" EPERM et utimens "$T/f" omit now
check_errno "setxattr in trash" EPERM et setxattr "$T/f" user.y 2
check_errno "setxattr replace in trash" EPERM et setxattr "$T/f" user.x 2 replace
check_errno "removexattr in trash" EPERM et removexattr "$T/f" user.x
check_errno "setxattr on the op directory" EPERM et setxattr "$T" user.y 2

# Creating names.
check_errno "create a file in the op" EPERM et open "$T/new" creat,w
check_errno "create a file below the op" EPERM et open "$T/d/new" creat,w
check_errno "create a file in .trash" EPERM et open "$S/.trash/new" creat,w
check_errno "mkdir in the op" EPERM et mkdir "$T/newdir" 0755
check_errno "mkdir in .trash (a fake op)" EPERM et mkdir "$S/.trash/20991231T000000Z-fake-1" 0755
check_errno "mknod fifo in trash" EPERM et mknod "$T/fifo" fifo
check_errno "symlink in trash" EPERM et symlink target "$T/sl"
check_errno "link into trash" EPERM et link "$S/live" "$T/live-link"
check_errno "link out of trash" EPERM et link "$T/f" "$S/f-link"

# Removing names.
check_errno "unlink in trash" EPERM et unlink "$T/f"
check_errno "unlink below the op" EPERM et unlink "$T/d/g"
check_errno "rmdir of an empty directory in trash" EPERM et rmdir "$T/empty"
check_errno "rmdir of the op directory" EPERM et rmdir "$T"
check_not "rm -rf MNT/site1/.trash/<op> fails" rm -rf "$T"

# Renames within and into.
check_errno "rename within the op" EPERM et rename "$T/f" "$T/f2"
check_errno "rename into a subdirectory of the op" EPERM et rename "$T/f" "$T/d/f"
check_errno "rename of the op directory" EPERM et rename "$T" "$S/.trash/20991231T000000Z-x-1"
check_errno "rename into the op" EPERM et rename "$S/live" "$T/live"
check_errno "rename into .trash" EPERM et rename "$S/live" "$S/.trash/live"
check_errno "rename_noreplace into the op" EPERM et rename_noreplace "$S/live" "$T/live"
check_errno "rename over a file in trash" EPERM et rename "$S/live" "$T/f"
check_errno "rename_exchange live <-> trash" EPERM et rename_exchange "$S/live" "$T/f"

# .trash itself, at a site root and at the mount root.
check_errno "mkdir site/.trash" EEXIST et mkdir "$S/.trash" 0755
check_errno "rmdir site/.trash" EPERM et rmdir "$S/.trash"
check_errno "rename site/.trash" EPERM et rename "$S/.trash" "$S/trash2"
check_errno "rmdir MNT/.trash" EPERM et rmdir "$MNT/.trash"
check_errno "rename MNT/.trash" EPERM et rename "$MNT/.trash" "$MNT/trash2"
check_errno "mkdir MNT/.trash" EEXIST et mkdir "$MNT/.trash" 0755

# Nothing changed, three ways.
check_same_text "trash unchanged (backing)" "$trash_before" "$(tree_manifest "$TB")"
check_same_text "trash unchanged (mount)" "$trash_before" "$(tree_manifest "$T")"
check_eq "op directory unchanged" "$op_sig" "$(sig "$TB")"
check_eq "xattr unchanged" "$x_before" "$(getfattr --only-values -n user.x -- "$TB/f")"
check_eq "no other op appeared" "$op" "$(trash_op_dirs site1)"
check_eq "only op directories in .trash (backing)" "$op" "$(ls -A "$(bk_trash site1)")"
check_live "the live file is untouched" site1 live
check_absent "no link was created outside" "$S/f-link"
check_eq "live tree unchanged" "live" "$(ls "$BACKING/site1")"

# ---------------------------------------------------------------------------
# site2: inside MNT/.trash (whole deleted sites)

mkdir "$MNT/site2/sub"
printf 'two\n' >"$MNT/site2/sub/file"
check "rm -rf MNT/site2" rm -rf "$MNT/site2"
rop=$(only_op /)
RT=$(mnt_op / "$rop")/site2
rbefore=$(tree_manifest "$(bk_op / "$rop")")
check_eq "read in MNT/.trash" two "$(cat "$RT/sub/file")"
check_errno "write-open in MNT/.trash" EPERM et open "$RT/sub/file" w
check_errno "truncate in MNT/.trash" EPERM et truncate "$RT/sub/file" 0
check_errno "chmod in MNT/.trash" EPERM et chmod "$RT/sub/file" 0600
check_errno "create in MNT/.trash" EPERM et open "$RT/new" creat,w
check_errno "create in MNT/.trash/<op>" EPERM et open "$(mnt_op / "$rop")/new" creat,w
check_errno "mkdir in MNT/.trash" EPERM et mkdir "$RT/newdir" 0755
check_errno "mkdir MNT/.trash/<new op>" EPERM et mkdir "$MNT/.trash/20991231T000000Z-fake-1" 0755
check_errno "unlink in MNT/.trash" EPERM et unlink "$RT/sub/file"
check_errno "rename within MNT/.trash" EPERM et rename "$RT/sub" "$RT/sub2"
check_errno "rename a site into MNT/.trash" EPERM et rename "$MNT/site1" "$(mnt_op / "$rop")/site1"
check_errno "rmdir of a trashed site" EPERM et rmdir "$RT"
check_same_text "MNT/.trash unchanged (backing)" "$rbefore" "$(tree_manifest "$(bk_op / "$rop")")"
check_live "site1 still live" site1 live

# ---------------------------------------------------------------------------
# The mount root holds sites only; .gracefs is invisible

check_errno "create a regular file at the root" EPERM et open "$MNT/file" creat,w
check_errno "mknod at the root" EPERM et mknod "$MNT/fifo" fifo
check_errno "symlink at the root" EPERM et symlink site1 "$MNT/link"
check_errno "link at the root" EPERM et link "$S/live" "$MNT/hardlink"
check_errno "rename a file to the root" EPERM et rename "$S/live" "$MNT/live"
check_eq "nothing created at the backing root" "" \
	"$(ls -A "$BACKING" | grep -vx -e .gracefs -e site1 -e site3)"
check_errno ".gracefs is invisible" ENOENT et lstat "$MNT/.gracefs"
check_errno "mkdir .gracefs" EPERM et mkdir "$MNT/.gracefs" 0755
check_eq ".gracefs not listed" "" "$(ls -a "$MNT" | grep -x .gracefs)"
check_errno "mkdir at the root creates a site" OK et mkdir "$MNT/newsite" 0755
check "the new site is a directory in the backing store" test -d "$BACKING/newsite"
check_errno "files can be created in the new site" OK et write "$MNT/newsite/x" hi
check_eq "... and land in the backing store" hi "$(cat "$BACKING/newsite/x")"

# ---------------------------------------------------------------------------
# site3: who may restore.  pub is 0777 (not sticky), so uid 65534 may
# rename in it; whether it may take something out of trash is gracefs's
# decision: root, the deleting uid and the item's owner only.

P=$MNT/site3/pub
mkdir -m 0777 "$P"
printf 'root owned\n' >"$P/rootfile"
chmod 0666 "$P/rootfile"
printf 'nobody owned\n' >"$P/nobodyfile"
chown 65534:65534 "$P/nobodyfile"
printf 'deleted by nobody\n' >"$P/bynobody"

ops=$(trash_op_dirs site3)
check "root deletes a root-owned file" rm "$P/rootfile"
op_root=$(new_op site3 "$ops")
ops=$(trash_op_dirs site3)
check "root deletes a file owned by 65534" rm "$P/nobodyfile"
op_owner=$(new_op site3 "$ops")
ops=$(trash_op_dirs site3)
check "65534 deletes a root-owned file (0777 directory)" as_nobody rm -f "$P/bynobody"
op_nobody=$(new_op site3 "$ops")
check_eq "the op records the deleting uid" 65534 \
	"$(getfattr --only-values -n user.gracefs.uid -- "$(mnt_op site3 "$op_nobody")" 2>/dev/null)"

check_errno "65534 can see the mount (allow_other)" OK et_nobody stat "$P"
check_errno "non-owner, non-deleter cannot restore" EPERM \
	et_nobody rename "$(mnt_op site3 "$op_root")/pub/rootfile" "$P/rootfile"
check_not "... not with mv either" as_nobody mv "$(mnt_op site3 "$op_root")/pub/rootfile" "$P/rootfile"
check "refused restore left the item in trash" test -f "$(bk_op site3 "$op_root")/pub/rootfile"
check_absent "refused restore created nothing" "$BACKING/site3/pub/rootfile"
check_errno "the item's owner can restore" OK \
	et_nobody rename "$(mnt_op site3 "$op_owner")/pub/nobodyfile" "$P/nobodyfile"
check_live "restored by its owner" site3 pub/nobodyfile
check_errno "the deleting uid can restore" OK \
	et_nobody rename "$(mnt_op site3 "$op_nobody")/pub/bynobody" "$P/bynobody"
check_live "restored by its deleter" site3 pub/bynobody
check_errno "root can restore" OK et rename "$(mnt_op site3 "$op_root")/pub/rootfile" "$P/rootfile"
check_eq "restored by root" "root owned" "$(cat "$BACKING/site3/pub/rootfile")"

check "clean unmount" gfs_umount
done_testing
