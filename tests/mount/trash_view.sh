#!/bin/bash
#
# trash_view.sh — a tenant sees only the trash that reaches it (issue 21,
# item 5; docs/isolation.md "Who sees which ops"): with the default
# -o trash_view=reach, a non-root uid lists (and looks up) in a site's
# .trash only the ops it deleted and those holding an item it owns, and the
# site .trash's figures (ops, trash_bytes, trash_items, oldest,
# next_expiry) count only the ops it deleted; root sees everything, and
# -o trash_view=all gives everyone the old, full view.
# Tenants are numeric uids without passwd entries (setpriv): alice 2001,
# bob 2002, carol 2003.

. "$(dirname "$0")/lib.sh"
gfs_require setpriv getfattr

ALICE=2001 BOB=2002 CAROL=2003

# bad values are refused before mounting
out=$("$GRACEFS" -f -o trash_view=some "$BACKING" "$MNT" 2>&1)
check_eq "trash_view=some is refused (usage error)" 2 "$?"
check_match "... with a one-line error" "invalid trash_view 'some' \(reach or all\)" "$out"

# a 0755 site of alice's with a sticky shared directory in it
gfs_site s
chown "$ALICE:$ALICE" "$BACKING/s"
chmod 0755 "$BACKING/s"
mkdir -m 1777 "$BACKING/s/pub"
gfs_mount op_gap=1s
S=$MNT/s
check "alice writes a file" as_uid $ALICE sh -c "echo a > $S/a.txt"
check "bob writes two files in pub" as_uid $BOB sh -c "echo b > $S/pub/b.txt && echo b2 > $S/pub/b2.txt"
before=$(trash_op_dirs s)
check "alice deletes her file" as_uid $ALICE rm "$S/a.txt"
A1=$(new_op s "$before")
before=$(trash_op_dirs s)
check "bob deletes one of his" as_uid $BOB rm "$S/pub/b.txt"
B1=$(new_op s "$before")
before=$(trash_op_dirs s)
check "root deletes bob's other file" rm "$S/pub/b2.txt"
R1=$(new_op s "$before")

lsop() { as_uid "$1" ls -1 "$S/.trash" 2>&1 | sort | tr '\n' ' '; }
sorted() { printf '%s\n' "$@" | sort | tr '\n' ' '; }
check_eq "root lists every op" "$(sorted "$A1" "$B1" "$R1")" "$(ls -1 "$S/.trash" | sort | tr '\n' ' ')"
check_eq "alice lists only the op she deleted" "$(sorted "$A1")" "$(lsop $ALICE)"
check_eq "bob lists his op and root's op holding his file" "$(sorted "$B1" "$R1")" "$(lsop $BOB)"
check_eq "carol (neither deleter nor owner) lists none" "" "$(lsop $CAROL)"
check_errno "carol cannot look up alice's op by name" ENOENT et_as $CAROL stat "$S/.trash/$A1"
check_errno "bob cannot look up alice's op by name" ENOENT et_as $BOB stat "$S/.trash/$A1"
check_errno "... nor read the file in it" ENOENT et_as $BOB read "$S/.trash/$A1/a.txt"
check "alice reads her deleted file" as_uid $ALICE cat "$S/.trash/$A1/a.txt"
check_errno "after root's lookup (a cached dentry), bob still gets ENOENT" ENOENT \
	sh -c "stat '$S/.trash/$A1' >/dev/null && exec setpriv --reuid=$BOB --regid=$BOB --clear-groups -- '$ERRNOTOOL' stat '$S/.trash/$A1'"

# the site trash's figures: a tenant's own
fig() { as_uid "$1" getfattr --only-values -n "user.gracefs.$2" "$S/.trash" 2>/dev/null; }
check_eq "root: ops 3" 3 "$(getfattr --only-values -n user.gracefs.ops "$S/.trash")"
check_eq "alice: ops 1 (hers)" 1 "$(fig $ALICE ops)"
check_eq "bob: ops 1 (his)" 1 "$(fig $BOB ops)"
check_eq "carol: ops 0" 0 "$(fig $CAROL ops)"
check_eq "carol: trash_items 0, oldest none" "0 none" "$(fig $CAROL trash_items) $(fig $CAROL oldest)"
check_eq "root: trash_items 3" 3 "$(getfattr --only-values -n user.gracefs.trash_items "$S/.trash")"
check_eq "retention is the site's, for everyone" "$(getfattr --only-values -n user.gracefs.retention "$S/.trash")" \
	"$(fig $CAROL retention)"

# the item's owner still restores out of an op that reaches it
check "bob restores his file out of root's op" as_uid $BOB mv "$S/.trash/$R1/pub/b2.txt" "$S/pub/b2.txt"
check_eq "it is back" b2 "$(cat "$BACKING/s/pub/b2.txt")"
check "unmount" gfs_umount

# ---- -o trash_view=all: the old view ---------------------------------------
gfs_mount op_gap=1s trash_view=all
# (root's op went with its only item)
check_eq "trash_view=all: carol lists every op" "$(sorted "$A1" "$B1")" "$(lsop $CAROL)"
check_eq "trash_view=all: carol sees every op in the figures" 2 "$(fig $CAROL ops)"
check "trash_view=all: carol looks up alice's op" et_as $CAROL stat "$S/.trash/$A1"
check "unmount" gfs_umount

done_testing
