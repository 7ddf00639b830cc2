#!/bin/bash
#
# isolation.sh — trash never widens what a tenant can see (issue 10, items
# 1-3 and 8; docs/isolation.md).
#
# Tenants are numeric uids without passwd entries (setpriv): alice 2001,
# bob 2002, carol 2003, dave 2004.
#   1 an op directory takes the owner, mode and ACL of the site root its
#     items came from; op metadata is readable by root and the deleter only;
#     the deleter and the item's owner can still restore;
#   2 the root trash (whole deleted sites) is root's: 0700, root restores;
#   3 a parent that is in trash only to hold someone else's deleted file
#     moves only for those who may restore everything inside it;
#   8 `gracefs B B` (or one inside the other) is refused; a mount left dead
#     by kill -9 is detached and replaced, never stacked.

. "$(dirname "$0")/lib.sh"
gfs_require setpriv setfacl getfacl

ALICE=2001 BOB=2002 CAROL=2003 DAVE=2004

# Sites: alice's private site (0711: traverse, no listing), a shared site.
gfs_site alice shared s3
chown "$ALICE:$ALICE" "$BACKING/alice" "$BACKING/s3"
chmod 0711 "$BACKING/alice"
chmod 0755 "$BACKING/s3"
chmod 01777 "$BACKING/shared"
setfacl -m "u:$CAROL:r-x" "$BACKING/alice"
# trash_view=all: the checks below are the ones behind the default view,
# which hides other tenants' ops altogether (ENOENT: trash_view.sh)
gfs_mount op_gap=1s trash_view=all

# ---- 1: op directories take the site root's owner, mode and ACL ---------
A=$MNT/alice
check "alice writes a private file" as_uid $ALICE sh -c "echo secret > $A/wp-config-backup.php && chmod 0600 $A/wp-config-backup.php"
check "alice deletes it" as_uid $ALICE rm "$A/wp-config-backup.php"
op=$(only_op alice)
O=$(mnt_op alice "$op")
# (the ACL's mask shows as the group bits: 0711 + u:carol:r-x is 0751)
check_eq "op dir has the site root's owner and mode (mount)" "751 $ALICE:$ALICE" \
	"$(stat -c '%a %u:%g' "$O")"
check_eq "op dir has the site root's owner and mode (backing)" "751 $ALICE:$ALICE" \
	"$(stat -c '%a %u:%g' "$(bk_op alice "$op")")"
check_match "op dir has the site root's ACL" "user:$CAROL:r-x" \
	"$(getfacl -n -p "$(bk_op alice "$op")" 2>/dev/null)"
check_errno "bob cannot list alice's op" EACCES et_as $BOB ls "$O"
check_errno "bob cannot read the deleted file" EACCES et_as $BOB read "$O/wp-config-backup.php"
check_errno "bob cannot read the op's command line" EACCES \
	et_as $BOB getxattr "$O" user.gracefs.command
check_match "bob's listing of the op's xattrs shows no gracefs names" '^OK' \
	"$(et_as $BOB listxattr "$O" user.gracefs)"
check_eq "... and really none" "" \
	"$(et_as $BOB listxattr "$O" user.gracefs | grep -o 'user\.gracefs\.[a-z_]*')"
check_match "alice (the deleter) reads the op's command line" '^OK .*rm' \
	"$(et_as $ALICE getxattr "$O" user.gracefs.command)"
check_match "root reads it too" '^OK .*rm' \
	"$(et getxattr "$O" user.gracefs.command)"
check_errno "bob cannot move the file out" EACCES \
	et_as $BOB rename "$(mnt_op alice "$op")/wp-config-backup.php" "$MNT/shared/stolen"
check "alice (deleter and owner) restores it" as_uid $ALICE mv "$(mnt_op alice "$op")/wp-config-backup.php" "$A/"
check_eq "restored content" "secret" "$(cat "$BACKING/alice/wp-config-backup.php")"

# the item's owner restores a file someone else (root) deleted
S=$MNT/shared
check "bob creates a file in the shared (sticky) site" as_uid $BOB sh -c "echo bob > $S/bobfile"
before=$(trash_op_dirs shared)
check "root deletes bob's file" rm "$S/bobfile"
op=$(new_op shared "$before")
check_eq "op dir mode follows the shared site root" "1777 0:0" "$(stat -c '%a %u:%g' "$(mnt_op shared "$op")")"
check_errno "carol may not restore bob's file" EPERM \
	et_as $CAROL rename "$(mnt_op shared "$op")/bobfile" "$S/carol-has-it"
check "bob (the item's owner) restores it" as_uid $BOB mv "$(mnt_op shared "$op")/bobfile" "$S/bobfile"
check_eq "bob's file is back" "bob" "$(cat "$S/bobfile")"

# the deleter restores someone else's file (a writable, non-sticky dir)
check "a world-writable dir in the shared site" mkdir -m 0777 "$S/pub"
chmod 0777 "$BACKING/shared/pub"
check "bob writes pub/doc" as_uid $BOB sh -c "echo doc > $S/pub/doc"
before=$(trash_op_dirs shared)
check "carol deletes bob's pub/doc" as_uid $CAROL rm -f "$S/pub/doc"
op=$(new_op shared "$before")
check_errno "dave (neither deleter nor owner) may not restore it" EPERM \
	et_as $DAVE rename "$(mnt_op shared "$op")/pub/doc" "$S/pub/dave-has-it"
check "carol (the deleter) restores it" as_uid $CAROL mv "$(mnt_op shared "$op")/pub/doc" "$S/pub/doc"
check_eq "bob's doc is back" "doc" "$(cat "$S/pub/doc")"

# ---- 3: a container moves only for those who may restore all inside -----
C=$MNT/s3
check "alice makes a world-writable dir in her site" as_uid $ALICE mkdir -m 0777 "$C/dropbox"
chmod 0777 "$BACKING/s3/dropbox"
check "bob writes into it" as_uid $BOB sh -c "echo bobs > $C/dropbox/bobs"
check "bob deletes his file" as_uid $BOB rm "$C/dropbox/bobs"
op=$(only_op s3)
check_eq "dropbox is in the op only as a container (mirror marker)" "$op" \
	"$(getfattr --absolute-names --only-values -n trusted.gracefs.mirror "$(bk_op s3 "$op")/dropbox" 2>/dev/null)"
check_errno "alice (the container's owner) may not move the container away" EPERM \
	et_as $ALICE rename "$(mnt_op s3 "$op")/dropbox" "$C/stolen"
check "bob's file is still in the op" test -f "$(bk_op s3 "$op")/dropbox/bobs"
check "bob restores his own file" as_uid $BOB mv "$(mnt_op s3 "$op")/dropbox/bobs" "$C/dropbox/bobs"
check "alice deletes her own file in the dropbox" as_uid $ALICE sh -c "echo a > $C/dropbox/a && rm $C/dropbox/a"
op2=$(new_op s3 "$op")
check "alice moves that container: everything inside is hers" \
	as_uid $ALICE mv "$(mnt_op s3 "$op2")/dropbox" "$C/dropbox-old"
check_eq "with her file" "a" "$(cat "$C/dropbox-old/a")"

# ---- 2: the root trash is root's ----------------------------------------
check "root deletes alice's whole site" rm -rf "$MNT/alice"
rop=$(only_op /)
check_eq "MNT/.trash is 0700 root" "700 0:0" "$(stat -c '%a %u:%g' "$MNT/.trash")"
check_eq "its root-trash op is 0700 root" "700 0:0" "$(stat -c '%a %u:%g' "$(bk_op / "$rop")")"
check_errno "bob cannot list the root trash" EACCES et_as $BOB ls "$MNT/.trash"
check_errno "alice cannot reach her deleted site" EACCES et_as $ALICE ls "$MNT/.trash/$rop/alice"
check_errno "alice cannot restore it" EACCES et_as $ALICE rename "$MNT/.trash/$rop/alice" "$MNT/shared/alice-copy"
check_errno "alice cannot read the root trash's attributes" EACCES et_as $ALICE getxattr "$MNT/.trash" user.gracefs.ops
check "root restores it" mv "$MNT/.trash/$rop/alice" "$MNT/alice"
check_eq "alice's site is back with its file" "secret" "$(cat "$MNT/alice/wp-config-backup.php")"
check "unmount" gfs_umount
chmod 0755 "$BACKING/.gracefs/trash"
gfs_mount op_gap=1s
check_eq "a 0755 root trash left by an older version is 0700 after mount" "700" \
	"$(stat -c '%a' "$BACKING/.gracefs/trash")"

# ---- 8: refuse B B, and never stack over a dead mount --------------------
check "unmount" gfs_umount
out=$(timeout 20 "$GRACEFS" -f "$BACKING" "$BACKING" 2>&1 </dev/null)
rc=$?
check_eq "gracefs B B exits 1" 1 "$rc"
check_match "... with one clear line" '^gracefs: error: mountpoint .* is the backing store itself$' "$out"
check_not "... and mounts nothing" awk -v m="$BACKING" '$2 == m { f = 1 } END { exit !f }' /proc/self/mounts
mkdir -p "$BACKING/shared/inner"
out=$(timeout 20 "$GRACEFS" -f "$BACKING" "$BACKING/shared/inner" 2>&1 </dev/null)
check_eq "a mountpoint inside the backing store: exit 1" "1 gracefs: error: mountpoint '$BACKING/shared/inner' is inside the backing store" "$? $out"
gfs_mount op_gap=1s
kill -KILL "$GFS_PID"
wait_until 10 eval '! _pid_alive "$GFS_PID"'
wait "$GFS_PID" 2>/dev/null
GFS_PID=
check_match "the mount is dead (statfs fails)" 'not connected' "$(stat -f "$MNT" 2>&1)"
check "... and still in the mount table" gfs_mounted
served=$(grep -c 'gracefs: serving' "$GFS_LOG")
gfs_mount op_gap=1s   # (its mountpoint check may see the dead mount's cached root)
check "the new daemon serves" wait_until 20 eval '[ "$(grep -c "gracefs: serving" "$GFS_LOG")" -gt "$served" ]'
check_eq "restarting over the dead mount leaves exactly one mount at MNT" 1 \
	"$(awk -v m="$MNT" '$2 == m' /proc/self/mounts | wc -l)"
check_match "... and says it detached the dead one" 'lazily unmounted a dead gracefs mount' "$(cat "$GFS_LOG")"
check_eq "the new mount serves" "doc" "$(cat "$MNT/shared/pub/doc")"
mkdir -p "$GFS_TMP/other"
out=$(timeout 20 "$GRACEFS" -f "$GFS_TMP/other" "$MNT" 2>&1 </dev/null)
check_eq "a second gracefs over a live gracefs mount is refused" \
	"1 gracefs: error: mountpoint '$MNT' is already a gracefs mount" "$? $out"
check "clean unmount" gfs_umount
done_testing
