#!/bin/bash
#
# links.sh — hard links, link counts and open files of deleted files
# (issue 8, items 1, 2, 3 and 9; docs/design.md "Open files and hard links
# in trash").  Every check looks through the mount and in the backing store.
#
#   1  every name of an inode in trash: nothing changes it, held or not,
#      through any name or new open; no link out of trash
#   2  link counts as ext4 shows them, after restart, mv restore, undo, purge
#   3  fchmod/fchown/futimens/fsetxattr through an fd opened before the
#      delete work; the same calls from another process, or through an fd
#      opened after the delete, do not
#   9  writes through an fd opened before the delete reach the trash copy

. "$(dirname "$0")/lib.sh"
gfs_require getfattr setfattr
: "${GRACECTL:=$GFS_REPO/build/fs/gracectl}"
[ -x "$GRACECTL" ] || skip_all "gracectl binary not found at $GRACECTL"
gctl() { "$GRACECTL" -b "$BACKING" "$@"; }

gfs_site s1 s2
gfs_mount op_gap=1s
S=$MNT/s1
B=$BACKING/s1

nlink_mnt() { stat -c %h -- "$1" 2>/dev/null || echo missing; }

# newest op of a site (the ops made below are one per rm process)
# mark SITE, then last_op SITE: the op the deletions since the mark made.
# (Op names sort by second, then command: two ops of one second would not
# sort by age.)
mark() { MARK=$(trash_op_dirs "$1"); }
last_op() { comm -13 <(printf '%s\n' "$MARK" | sed '/^$/d') <(trash_op_dirs "$1") | tail -n 1; }

# changes that must all fail with EPERM on PATH (a name in trash)
check_frozen() {
	local desc=$1 p=$2
	check_errno "$desc: open O_WRONLY" EPERM et open "$p" w
	check_errno "$desc: open O_RDWR" EPERM et open "$p" rw
	check_errno "$desc: open O_TRUNC" EPERM et open "$p" w,trunc
	check_errno "$desc: open O_APPEND" EPERM et open "$p" w,append
	check_errno "$desc: truncate" EPERM et truncate "$p" 0
	check_errno "$desc: chmod" EPERM et chmod "$p" 0666
	check_errno "$desc: chown" EPERM et chown "$p" 1234 1234
	check_errno "$desc: utimens" EPERM et utimens "$p" 1 2
	check_errno "$desc: setxattr" EPERM et setxattr "$p" user.t 1
	# EPERM from gracefs; ENOENT from the kernel itself when it reaches
	# the inode through a dentry cached from before its last live name
	# went (it then counts 0 links: "cannot link an unlinked file")
	check_match "$desc: link out of trash refused" '^(EPERM|ENOENT)$' \
		"$(et link "$p" "$S/linked-out")"
	check_absent "$desc: no link was made" "$B/linked-out"
}

# ---------------------------------------------------------------------------
# 1. echo x > he; ln he he2; rm he; cat .trash/OP/he; rm he2

echo x >"$S/he"
ln "$S/he" "$S/he2"
ops=$(trash_op_dirs s1)
check "rm he (he2 still live)" rm "$S/he"
op1=$(new_op s1 "$ops")
check_eq "cat .trash/OP/he" x "$(cat "$S/.trash/$op1/he")"
ops=$(trash_op_dirs s1)
check "rm he2 (every name in trash now)" rm "$S/he2"
op2=$(new_op s1 "$ops")
sig_he=$(sig "$B/.trash/$op1/he")
check_frozen "trash name he" "$S/.trash/$op1/he"
check_frozen "trash name he2" "$S/.trash/$op2/he2"
check "hold the op of he" setfattr -n user.gracefs.hold -v 1 "$S/.trash/$op1"
check_frozen "he while its op is held" "$S/.trash/$op1/he"
check "release it" setfattr -n user.gracefs.hold -v 0 "$S/.trash/$op1"
check_errno "link out of trash, looked up afresh: EPERM" EPERM et link "$S/.trash/$op2/he2" "$S/he3"
check_eq "content intact in the backing store" x "$(cat "$B/.trash/$op2/he2")"
check_eq "metadata intact in the backing store" "$sig_he" "$(sig "$B/.trash/$op1/he")"
check_eq "no user.t xattr was set" "" "$(getfattr --only-values -n user.t "$B/.trash/$op1/he" 2>/dev/null)"
check_eq "through trash, the item shows its names there (2)" "2 2" \
	"$(nlink_mnt "$S/.trash/$op1/he") $(nlink_mnt "$S/.trash/$op2/he2")"

# ---------------------------------------------------------------------------
# 2. link counts

touch "$S/a"
ln "$S/a" "$S/b"
mark s1
check "rm b" rm "$S/b"
opb=$(last_op s1)
check_eq "touch a; ln a b; rm b; stat a: 1 link" 1 "$(nlink_mnt "$S/a")"
check_eq "... 2 in the backing store (the trash holds b)" 2 "$(stat -c %h "$B/a")"
check_errno "errnotool stat agrees" "OK" et stat "$S/a" nlink
check_eq "errnotool: nlink=1" "OK nlink=1" "$(et stat "$S/a" nlink)"
check "the surviving name is writable" sh -c "echo more >>'$S/a'"
check "ln of the surviving name" ln "$S/a" "$S/c"
check_eq "a, c: 2 links" "2 2" "$(nlink_mnt "$S/a") $(nlink_mnt "$S/c")"
check "rm c" rm "$S/c"
check_eq "a: 1 link again" 1 "$(nlink_mnt "$S/a")"

check "restart (the counts are in the index)" gfs_remount
check_eq "after a restart: stat a shows 1" 1 "$(nlink_mnt "$S/a")"

check "mv .trash/OP/b b (restore)" mv "$S/.trash/$opb/b" "$S/b"
check_eq "after the restore: a and b show 2" "2 2" "$(nlink_mnt "$S/a") $(nlink_mnt "$S/b")"
mark s1
check "rm b again" rm "$S/b"
check_eq "a shows 1" 1 "$(nlink_mnt "$S/a")"
opb2=$(last_op s1)
undo_tok=$(gctl --json undo "op:s1/$opb2" 2>/dev/null | sed -n 's/.*"token": *"\([0-9a-f]*\)".*/\1/p')
check "gracectl undo of that op" gctl undo "op:s1/$opb2" --execute "$undo_tok"
check "b is back" wait_until 10 test -f "$B/b"
check_eq "after the undo: a and b show 2" "2 2" "$(nlink_mnt "$S/a") $(nlink_mnt "$S/b")"

# a directory restored whole brings its hard links back to life too
mkdir "$S/d"
echo d >"$S/d/f"
ln "$S/d/f" "$S/g"
mark s1
check "rm -r d (d/f has a live twin g)" rm -r "$S/d"
opd=$(last_op s1)
check_eq "g shows 1" 1 "$(nlink_mnt "$S/g")"
check "mv .trash/OP/d d" mv "$S/.trash/$opd/d" "$S/d"
# (the kernel's cached count of g is dropped by the next maintenance tick)
check "after the restore: g and d/f show 2" wait_until 5 eval \
	'[ "$(nlink_mnt "$S/g") $(nlink_mnt "$S/d/f")" == "2 2" ]'

# purge: the count goes with the purged name
echo p >"$S/p"
ln "$S/p" "$S/q"
mark s1
check "rm q (to purge)" rm "$S/q"
opp=$(last_op s1)
check_eq "p shows 1" 1 "$(nlink_mnt "$S/p")"
gfs_purge() {   # dry run, then --execute with its token when it prints one
	local out tok
	out=$(gctl purge "$1" --reason test 2>&1) || return 1
	tok=$(sed -n 's/.*plan token: \([0-9a-f]\{12\}\).*/\1/p' <<<"$out")
	gctl purge "$1" --reason test --execute $tok
}
# (retried: the op must first close, op_gap after the rm)
check "gracectl purge of that op" wait_until 20 gfs_purge "op:s1/$opp"
check_absent "the op is gone" "$B/.trash/$opp"
check_eq "p: 1 link, through the mount and in the backing store" "1 1" \
	"$(nlink_mnt "$S/p") $(stat -c %h "$B/p")"
check "ln p r (the purged count is not inherited)" ln "$S/p" "$S/r"
check_eq "p, r: 2 links" "2 2" "$(nlink_mnt "$S/p") $(nlink_mnt "$S/r")"

# kill -9: the counts were committed before the deletions returned
echo k >"$S/k1"
ln "$S/k1" "$S/k2"
check "rm k2" rm "$S/k2"
check "kill -9 of the daemon" gfs_kill9
gfs_mount op_gap=1s
check_eq "after kill -9 and remount: k1 shows 1" 1 "$(nlink_mnt "$S/k1")"
check_errno "k1 is still writable after the restart" \
	OK et open "$S/k1" w,append

# a site deleted whole and restored whole: a hard link kept in the site's
# own trash stays counted, the one brought back does not
S2=$MNT/s2
echo x >"$S2/x"
ln "$S2/x" "$S2/y"
check "rm s2/y" rm "$S2/y"
mark /
check "rm -rf s2" rm -rf "$S2"
rop=$(last_op /)
check_eq "x in the deleted site shows its names (2)" 2 "$(nlink_mnt "$MNT/.trash/$rop/s2/x")"
check_errno "x in the deleted site: no write" EPERM et open "$MNT/.trash/$rop/s2/x" w
check "mv .trash/OP/s2 s2" mv "$MNT/.trash/$rop/s2" "$S2"
check "after the site restore: x shows 1 (y is still in trash)" wait_until 5 eval \
	'[ "$(nlink_mnt "$S2/x")" == 1 ]'
check_eq "... 2 in the backing store" 2 "$(stat -c %h "$BACKING/s2/x")"

# fstat of an open file whose last live name went: 0
echo o >"$S/o"
check_eq "fstat after unlink of the only name: 0 links" "OK OK OK:nlink=0" \
	"$(et fd "$S/o" r "unlink:$S/o" nlink)"
echo o >"$S/o2"
ln "$S/o2" "$S/o3"
check_eq "fstat after unlink of one of two names: 1, then 0" \
	"OK OK OK:nlink=1 OK OK:nlink=0" \
	"$(et fd "$S/o2" r "unlink:$S/o2" nlink "unlink:$S/o3" nlink)"

# ---------------------------------------------------------------------------
# 3 and 9. an fd opened before the delete keeps working

mark s1
printf data >"$S/f"
out=$(et fd "$S/f" rw,append "unlink:$S/f" fchmod:0640 fchown:1234:1234 futimens \
	fsetxattr:user.t:v write:more ftruncate:6 nlink)
check_eq "unlink, then fchmod fchown futimens fsetxattr write ftruncate through the fd" \
	"OK OK OK OK OK OK OK OK OK:nlink=0" "$out"
opf=$(last_op s1)
check_eq "the trash copy has the writes (backing)" "datamo" "$(cat "$B/.trash/$opf/f")"
check_eq "... and through the mount" "datamo" "$(cat "$S/.trash/$opf/f")"
check_eq "mode and owner set through the fd" "640 1234:1234" "$(stat -c '%a %u:%g' "$B/.trash/$opf/f")"
check_eq "xattr set through the fd" v "$(getfattr --only-values -n user.t "$B/.trash/$opf/f")"
check_frozen "once that fd is closed" "$S/.trash/$opf/f"

# while the fd is open: other processes, new opens, later fds: EPERM
echo keep >"$S/h"
mark s1
gfs_bg "$ERRNOTOOL" fd "$S/h" rw,append "unlink:$S/h" "hold:$GFS_TMP/held" fchmod:0600 write:+
holder=$GFS_BG_PID
check "the holder removed h and waits" wait_until 20 test -e "$GFS_TMP/held"
oph=$(last_op s1)
H=$S/.trash/$oph/h
check_errno "another process: chmod of the trash name" EPERM et chmod "$H" 0600
check_errno "another process: setxattr" EPERM et setxattr "$H" user.t 1
check_errno "another process: open for writing" EPERM et open "$H" w
check_eq "an fd opened after the delete: no fchmod, no fsetxattr, no write" \
	"OK EPERM EPERM EBADF" "$(et fd "$H" r fchmod:0600 fsetxattr:user.t:1 write:x)"
check_eq "the holder itself: no new open for writing" "OK EPERM" \
	"$(et fd "$H" r "open:$H:w")"
rm -f "$GFS_TMP/held"
check "the holder finished" wait_until 20 eval '! _pid_alive "$holder"'
check_eq "its fchmod and write went through" "600 keep+" \
	"$(stat -c %a "$B/.trash/$oph/h") $(tr -d '\n' <"$B/.trash/$oph/h")"
check_eq "nothing else changed it (no user.t)" "" \
	"$(getfattr --only-values -n user.t "$B/.trash/$oph/h" 2>/dev/null)"

check "clean unmount" gfs_umount
done_testing
