#!/bin/bash
#
# delete_restore.sh — deleting moves data into the trash intact, and one mv
# restores it.  Every result is checked through the mount, in the backing
# store and in .trash.  Each section uses its own site, so each has its own
# trash and its op is the only one there.
#
#   site1  rm of one file: metadata, xattrs, inode kept; .trash hidden; restore
#   site2  rm -rf of a subtree: one op, tree intact, hard links, getfattr -d
#          metadata, partial restore, full restore with one mv
#   site3  rm -rf of the whole site: lands in MNT/.trash/<op>/site3; one mv back
#   site4  rename over an existing name puts the old one in trash;
#          RENAME_EXCHANGE does not

. "$(dirname "$0")/lib.sh"
gfs_require getfattr setfattr sha256sum

gfs_site site1 site2 site3 site4
gfs_mount

# getx PATH NAME — one xattr value ("" when absent).
getx() { getfattr --absolute-names --only-values -n "$2" -- "$1" 2>/dev/null; }

# ---------------------------------------------------------------------------
# site1: one file

S=$MNT/site1
mkdir "$S/docs"
printf 'report body\n' >"$S/docs/report.txt"
chown 1234:2345 "$S/docs/report.txt"
chmod 0640 "$S/docs/report.txt"
setfattr -n user.x -v hello "$S/docs/report.txt"
touch -d '2021-03-04 05:06:07.123456789' "$S/docs/report.txt"
printf 'stays\n' >"$S/docs/other.txt"

sig_before=$(sig "$S/docs/report.txt")
ino_before=$(ino "$BACKING/site1/docs/report.txt")
check_live "new file" site1 docs/report.txt "$sig_before"

check "rm of a file succeeds" rm "$S/docs/report.txt"
op=$(only_op site1)
check_match "op name is <time>-rm-<pid>" '^[0-9]{8}T[0-9]{6}Z-rm-[0-9]+' "$op"
check_trashed "rm docs/report.txt" site1 "$op" docs/report.txt "$sig_before"
T_bk=$(bk_op site1 "$op")/docs/report.txt
T_mnt=$(mnt_op site1 "$op")/docs/report.txt
check_eq "trash is a rename in the backing store (same inode)" "$ino_before" "$(ino "$T_bk")"
check_eq "content kept (through the mount)" "report body" "$(cat "$T_mnt")"
check_eq "content kept (backing store)" "report body" "$(cat "$T_bk")"
check_eq "xattr user.x kept (through the mount)" hello "$(getx "$T_mnt" user.x)"
check_eq "xattr user.x kept (backing store)" hello "$(getx "$T_bk" user.x)"
check_live "sibling untouched" site1 docs/other.txt

check_eq "ls -a of the site root does not show .trash" "" "$(ls -a "$S" | grep -x .trash)"
check_eq "find does not walk into .trash" "" "$(find "$S" -name .trash)"
check_eq "ls of .trash by name lists the op" "$op" "$(ls "$S/.trash")"
check "stat of .trash by name works" stat "$S/.trash"

check "restore: mv out of the trash" mv "$T_mnt" "$S/docs/report.txt"
check_live "restored file" site1 docs/report.txt "$sig_before"
check_eq "restored by rename (same inode)" "$ino_before" "$(ino "$BACKING/site1/docs/report.txt")"
check_eq "restored content" "report body" "$(cat "$S/docs/report.txt")"
check_eq "restored xattr" hello "$(getx "$S/docs/report.txt" user.x)"
check_absent "no longer in the trash (mount)" "$T_mnt"
check_absent "no longer in the trash (backing)" "$T_bk"

# ---------------------------------------------------------------------------
# site2: rm -rf of a subtree

W=$MNT/site2/wiki
mkdir -p "$W/2024/jan" "$W/2024/feb/deep/er" "$W/2024/empty" "$W/2025"
for m in jan feb; do
	for i in 1 2 3; do
		printf 'wiki %s page %s\n' "$m" "$i" >"$W/2024/$m/page$i.md"
	done
done
printf 'deep\n' >"$W/2024/feb/deep/er/leaf.txt"
: >"$W/2024/jan/empty.md"
head -c 200000 /dev/urandom >"$W/2024/jan/big.bin"
chmod 0600 "$W/2024/jan/page2.md"
chmod 0750 "$W/2024/feb/deep"
chown 1234:2345 "$W/2024/feb/page1.md" "$W/2024/feb/deep"
ln -s ../jan/page1.md "$W/2024/feb/link-to-jan"
ln "$W/2024/jan/page3.md" "$W/2024/feb/hardlink.md"
setfattr -n user.tag -v 'wiki-2024' "$W/2024/jan/page1.md"
mkfifo "$W/2024/feb/pipe"
touch -d '2020-01-02 03:04:05.5' "$W/2024/jan/page1.md" "$W/2024/feb/page3.md"
touch -h -d '2019-05-06 07:08:09' "$W/2024/feb/link-to-jan"
printf 'keep me\n' >"$W/2025/current.md"

before=$(tree_manifest "$W/2024")
nentries=$(printf '%s\n' "$before" | wc -l)
ino_big=$(ino "$BACKING/site2/wiki/2024/jan/big.bin")
ino_hard=$(ino "$BACKING/site2/wiki/2024/jan/page3.md")
check_same_text "new tree: mount and backing agree" "$before" \
	"$(tree_manifest "$BACKING/site2/wiki/2024")"

check "rm -rf wiki/2024 succeeds" rm -rf "$W/2024"
op=$(only_op site2)
OPB=$(bk_op site2 "$op")
OPM=$(mnt_op site2 "$op")
check_absent "wiki/2024 gone (mount)" "$W/2024"
check_absent "wiki/2024 gone (backing)" "$BACKING/site2/wiki/2024"
check_live "wiki/2025 untouched" site2 wiki/2025/current.md
check_eq "the op holds the site-relative path" wiki "$(ls -A "$OPB")"
check_eq "the op holds wiki/2024 only" 2024 "$(ls -A "$OPB/wiki")"
check_same_text "tree in trash = tree before (backing)" "$before" "$(tree_manifest "$OPB/wiki/2024")"
check_same_text "tree in trash = tree before (mount)" "$before" "$(tree_manifest "$OPM/wiki/2024")"
check_eq "file moved, not copied (same inode)" "$ino_big" "$(ino "$OPB/wiki/2024/jan/big.bin")"
check_eq "hard links: one inode in trash (backing)" \
	"$ino_hard $ino_hard" \
	"$(ino "$OPB/wiki/2024/jan/page3.md") $(ino "$OPB/wiki/2024/feb/hardlink.md")"
check_eq "hard links: still 2 links in trash" 2 "$(stat -c %h "$OPB/wiki/2024/jan/page3.md")"
i1=$(stat -c %i "$OPM/wiki/2024/jan/page3.md" || echo missing)
i2=$(stat -c %i "$OPM/wiki/2024/feb/hardlink.md" || echo missing)
check_eq "hard links: one inode in trash (mount)" "$i1 $i1" "$i2 $i2"
check_eq "hard links: found through the mount" "" "$(echo "$i1 $i2" | grep missing)"
check_eq "xattr kept in trash" wiki-2024 "$(getx "$OPM/wiki/2024/jan/page1.md" user.tag)"

# The op's record, as user.gracefs.* xattrs of its directory.
meta=$(getfattr -d --absolute-names -- "$OPM" 2>&1)
diag "getfattr -d $OPM:" "$meta"
for k in expires uid command items bytes; do
	check "getfattr -d shows user.gracefs.$k" grep -q "^user\.gracefs\.$k=" <<<"$meta"
done
check_eq "user.gracefs.uid is the deleting uid" 0 "$(getx "$OPM" user.gracefs.uid)"
check_match "user.gracefs.command is the rm command line" '(^|/)rm( |$)' \
	"$(getx "$OPM" user.gracefs.command)"
check_eq "user.gracefs.items counts every deleted name" "$((nentries + 1))" \
	"$(getx "$OPM" user.gracefs.items)"
check_match "user.gracefs.bytes is a positive number" '^[1-9][0-9]*$' \
	"$(getx "$OPM" user.gracefs.bytes)"
# expires: default retention is 30 days from the deletion.
exp=$(getx "$OPM" user.gracefs.expires)
if [[ $exp =~ ^[0-9]+$ ]]; then exp_s=$exp; else exp_s=$(date -d "$exp" +%s 2>/dev/null); fi
want=$(( $(date +%s) + 30 * 86400 ))
if [ -n "$exp_s" ] && [ "$exp_s" -ge $((want - 3600)) ] && [ "$exp_s" -le $((want + 60)) ]; then
	pass "user.gracefs.expires is about 30 days from now ($exp)"
else
	fail "user.gracefs.expires is about 30 days from now" "got: '$exp'"
fi

# Partial restore: one file out of the op, elsewhere.
check "partial restore of one file" mv "$OPM/wiki/2024/feb/page2.md" "$MNT/site2/page2-restored.md"
check_eq "restored file content" "wiki feb page 2" "$(cat "$MNT/site2/page2-restored.md")"
check_live "restored file" site2 page2-restored.md
check_absent "restored file left the op (backing)" "$OPB/wiki/2024/feb/page2.md"
check "the rest stays in the op" test -f "$OPB/wiki/2024/feb/page1.md"

# Full restore: one mv of the directory.
check "restore the rest with one mv" mv "$OPM/wiki/2024" "$W/2024"
check_absent "wiki/2024 left the op (backing)" "$OPB/wiki/2024"
check_eq "restored by rename (same inode)" "$ino_big" "$(ino "$BACKING/site2/wiki/2024/jan/big.bin")"
check "put the partially restored file back" mv "$MNT/site2/page2-restored.md" "$W/2024/feb/page2.md"
check_same_text "tree after restore = tree before (mount)" "$before" "$(tree_manifest "$W/2024")"
check_same_text "tree after restore = tree before (backing)" "$before" \
	"$(tree_manifest "$BACKING/site2/wiki/2024")"
check_eq "hard links restored as one inode" "$ino_hard $ino_hard" \
	"$(ino "$BACKING/site2/wiki/2024/jan/page3.md") $(ino "$BACKING/site2/wiki/2024/feb/hardlink.md")"
check "the emptied op goes (its mirror parent wiki too)" wait_until 10 eval '! test -e "$OPB"'

# The op's only entry restored: the engine skips counting what leaves (the
# op is empty after it) and the op goes at the next tick.
mkdir -p "$MNT/site2/solo/d"
echo solo >"$MNT/site2/solo/d/f"
check "rm -rf solo" rm -rf "$MNT/site2/solo"
sop=$(only_op site2)
check_eq "its op holds solo alone" solo "$(ls -A "$(bk_op site2 "$sop")")"
check "mv the op's only entry out" mv "$(mnt_op site2 "$sop")/solo" "$MNT/site2/solo"
check_eq "solo is back whole" solo "$(cat "$MNT/site2/solo/d/f")"
check "the emptied op goes (backing)" wait_until 10 eval '! test -e "$(bk_op site2 "$sop")"'
check_eq "and from the mount's trash" "" "$(mnt_op_dirs site2)"

# ---------------------------------------------------------------------------
# site3: rm -rf of a whole site

mkdir -p "$MNT/site3/a/b"
printf 'site three\n' >"$MNT/site3/index.html"
printf 'nested\n' >"$MNT/site3/a/b/c.txt"
setfattr -n user.site -v 3 "$MNT/site3/index.html"
chown -R 1234:2345 "$MNT/site3/a"
site_before=$(tree_manifest "$MNT/site3")

check "rm -rf MNT/site3 succeeds" rm -rf "$MNT/site3"
check_absent "site3 gone (mount)" "$MNT/site3"
check_absent "site3 gone (backing)" "$BACKING/site3"
check_eq "ls -a of the mount root shows neither site3 nor .trash" "" \
	"$(ls -a "$MNT" | grep -x -e site3 -e .trash -e .gracefs)"
rop=$(only_op /)
check_match "root op name says rm" '-rm-[0-9]+' "$rop"
check "whole site in BACKING/.gracefs/trash/<op>/site3" test -d "$(bk_op / "$rop")/site3"
check "whole site in MNT/.trash/<op>/site3" test -d "$(mnt_op / "$rop")/site3"
check_same_text "trashed site = site before (backing)" "$site_before" \
	"$(tree_manifest "$(bk_op / "$rop")/site3")"
check_same_text "trashed site = site before (mount)" "$site_before" \
	"$(tree_manifest "$(mnt_op / "$rop")/site3")"
check_eq "files are in place, not in the site's own .trash" "" \
	"$(find "$(bk_op / "$rop")/site3/.trash" ! -type d 2>/dev/null)"
check_eq "xattr kept" 3 "$(getx "$(mnt_op / "$rop")/site3/index.html" user.site)"

check "one mv restores the whole site" mv "$(mnt_op / "$rop")/site3" "$MNT/site3"
check "site3 is back in the backing store" test -d "$BACKING/site3"
check_same_text "restored site = site before (mount)" "$site_before" "$(tree_manifest "$MNT/site3")"
check_same_text "restored site = site before (backing)" "$site_before" \
	"$(tree_manifest "$BACKING/site3")"
check_eq "site3 listed at the root again" site3 "$(ls "$MNT" | grep -x site3)"

# ---------------------------------------------------------------------------
# site4: rename over an existing name

R=$MNT/site4
printf 'old b\n' >"$R/b"
setfattr -n user.v -v old "$R/b"
printf 'new a\n' >"$R/a"
sig_b=$(sig "$R/b")
ino_b=$(ino "$BACKING/site4/b")
ino_a=$(ino "$BACKING/site4/a")

check "mv a b over an existing b" mv "$R/a" "$R/b"
check_eq "b has a's content" "new a" "$(cat "$R/b")"
check_eq "b is a's inode (backing)" "$ino_a" "$(ino "$BACKING/site4/b")"
check_absent "a is gone" "$R/a"
op=$(only_op site4)
check_match "op name says mv" '-mv-[0-9]+' "$op"
check_eq "old b in trash (backing), same metadata" "$sig_b" "$(sig "$(bk_op site4 "$op")/b")"
check_eq "old b in trash (mount), same metadata" "$sig_b" "$(sig "$(mnt_op site4 "$op")/b")"
check_eq "old b in trash is the old inode" "$ino_b" "$(ino "$(bk_op site4 "$op")/b")"
check_eq "old b's content" "old b" "$(cat "$(mnt_op site4 "$op")/b")"
check_eq "old b's xattr" old "$(getx "$(mnt_op site4 "$op")/b" user.v)"

# RENAME_EXCHANGE destroys nothing, so it trashes nothing.
printf 'x\n' >"$R/x"
printf 'y\n' >"$R/y"
ops_before=$(trash_op_dirs site4)
check_errno "rename_exchange x y" OK et rename_exchange "$R/x" "$R/y"
check_eq "exchanged" "y x" "$(cat "$R/x") $(cat "$R/y")"
check_eq "RENAME_EXCHANGE creates no trash op" "$ops_before" "$(trash_op_dirs site4)"

# Restoring over an existing target: the replaced target goes to trash too.
check_errno "restore old b over the current b" OK et rename "$(mnt_op site4 "$op")/b" "$R/b"
check_eq "b is the old b again" "old b" "$(cat "$R/b")"
op2=$(new_op site4 "$ops_before")
check_eq "the replaced b went to trash" "new a" "$(cat "$(mnt_op site4 "$op2")/b" 2>&1)"

check "clean unmount" gfs_umount
done_testing
