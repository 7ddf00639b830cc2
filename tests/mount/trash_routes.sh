#!/bin/bash
#
# trash_routes.sh — issue 18: a name in trash is read-only through every
# route (docs/design.md, "Trash node ids").  A lookup under .trash gets a
# node id of its own, so the route decides, not a guess about the caller:
#
#   1  ln f g; rm g: every change through the trash name g fails with EPERM
#      (open for writing, O_TRUNC, truncate, chmod, chown, utime, setxattr,
#      link out), as a tenant uid; f keeps its data; reads, stat and xattr
#      reads through g work and never show stale data or sizes
#   2  a truncation through the live name f (: >, truncate, cp) preserves
#      the old content although the daemon last saw the trash name
#   3  a process holding an fd from before the rm — read-only, another
#      tenant's — cannot truncate, utime or setxattr the trash name by path;
#      the owner holding one cannot chmod/chown it either
#   4  restore of a link whose other name is live: the same inode, 2 links,
#      writable at once; of one whose other names are gone: the data
#   5  SIGKILL of the daemon between a trash lookup and a restore: nothing
#      lost, nothing writable after the remount, the restore then works

. "$(dirname "$0")/lib.sh"
gfs_require getfattr setfattr setpriv truncate
ALICE=2001 BOB=2002

gfs_site s1
chmod 0777 "$BACKING/s1"
# trash_view=all: the EPERM checks on another tenant's trash are the ones
# behind the default view, which hides its ops altogether (trash_view.sh)
gfs_mount op_gap=1s trash_view=all
S=$MNT/s1
B=$BACKING/s1

nlink_mnt() { stat -c %h -- "$1" 2>/dev/null || echo missing; }
as_alice() { as_uid $ALICE "$@"; }
# rm_op [AS...] -- PATH: remove PATH (as the command prefix AS), print the
# new op that holds it
rm_op() {
	local before
	before=$(trash_op_dirs s1)
	"$@" >/dev/null || fail "rm: $(_q "$@")"
	new_op s1 "$before"
}

# frozen DESC PATH UID — every change through PATH fails with EPERM as UID
frozen() {
	local desc=$1 p=$2 u=$3
	check_errno "$desc: open O_WRONLY" EPERM et_as "$u" open "$p" w
	check_errno "$desc: open O_RDWR" EPERM et_as "$u" open "$p" rw
	check_errno "$desc: open O_TRUNC" EPERM et_as "$u" open "$p" w,trunc
	check_errno "$desc: truncate" EPERM et_as "$u" truncate "$p" 0
	check_errno "$desc: chmod" EPERM et_as "$u" chmod "$p" 0600
	check_errno "$desc: chown to itself" EPERM et_as "$u" chown "$p" "$u" "$u"
	check_errno "$desc: utime" EPERM et_as "$u" utimens "$p"
	check_errno "$desc: setxattr" EPERM et_as "$u" setxattr "$p" user.t 1
	check_errno "$desc: link out of trash" EPERM et_as "$u" link "$p" "$S/out-$u"
	check_absent "$desc: no link was made" "$B/out-$u"
}

# ---------------------------------------------------------------------------
# 1. ln f g; rm g; change g through .trash — as a tenant, f live

as_alice sh -c "printf data >'$S/f' && ln '$S/f' '$S/g'"
op=$(rm_op as_alice rm "$S/g")
G=$S/.trash/$op/g
sig_f=$(sig "$B/f")
check_eq "cat .trash/OP/g (a name of the live f)" data "$(cat "$G")"
frozen "trash name g of live f" "$G" $ALICE
frozen "the same, as root" "$G" 0
check_eq "f keeps its data" data "$(cat "$S/f")"
check_eq "f keeps mode, owner, size, mtime" "$sig_f" "$(sig "$B/f")"
check_eq "no user.t xattr was set" "" "$(getfattr --only-values -n user.t "$B/f" 2>/dev/null)"
check_errno "reads through g work" OK et read "$G"
check_errno "getxattr through g works (ENODATA is an answer)" ENODATA et getxattr "$G" user.none
check_errno "listxattr through g works" OK et listxattr "$G"
check_eq "the live name is writable" OK "$(et_as $ALICE write "$S/f" "data+more")"
check_eq "g shows what f holds at once (no stale data)" "data+more" "$(cat "$G")"
check_eq "... and its size" 9 "$(stat -c %s "$G")"

# ---------------------------------------------------------------------------
# 2. truncation through the live name, last seen through the trash name

# trunc_kept DESC CMD — NAME f2 with a link in trash, looked up there just
# before; CMD (its own process) truncates f2: a new op holds the old bytes
trunc_kept() {
	local desc=$1 before o
	shift
	rm -f "$S/f2" "$S/g2"
	printf 'old bytes' >"$S/f2" && ln "$S/f2" "$S/g2"
	o=$(rm_op rm "$S/g2")
	stat "$S/.trash/$o/g2" >/dev/null && cat "$S/.trash/$o/g2" >/dev/null
	before=$(trash_op_dirs s1)
	"$@" || fail "$desc: the command failed"
	o=$(new_op s1 "$before")
	check_eq "$desc: the old content is kept" "old bytes" \
		"$(cat "$B/.trash/$o/f2" 2>/dev/null || cat "$B/.trash/$o/g2" 2>&1)"
	check_eq "$desc: under the live name" yes "$([ -e "$B/.trash/$o/f2" ] && echo yes)"
}
printf new >"$GFS_TMP/x"
trunc_kept ": > f2" sh -c ": >'$S/f2'"
trunc_kept "truncate -s0 f2" truncate -s0 "$S/f2"
trunc_kept "cp x f2" cp "$GFS_TMP/x" "$S/f2"
check_eq "f2 holds the copy" new "$(cat "$S/f2")"

# ---------------------------------------------------------------------------
# 3. an fd held from before the rm gives no right over the trash name

# held UID NAME STEP... — UID holds NAME (alice's, mode 0666) open
# read-only from before alice removes it, then runs each STEP on the trash
# name by path (through a symlink: the op is known only after the rm)
hold_dir=$GFS_TMP/hold
mkdir -p "$hold_dir" && chmod 1777 "$hold_dir"
et_as $BOB stat / >/dev/null   # installs the tenants' copy of errnotool
held() {
	local u=$1 name=$2 out=$hold_dir/$2.out o
	shift 2
	as_alice sh -c "printf shared >'$S/$name' && chmod 0666 '$S/$name'"
	ln -sfn "$name" "$S/ptr"
	gfs_bg sh -c 'exec "$@" >"$0"' "$out" setpriv --reuid="$u" --regid="$u" --clear-groups \
		-- "$GFS_TMP/bin/errnotool" fd "$S/$name" r "hold:$hold_dir/$name" "$@"
	wait_until 20 test -e "$hold_dir/$name" || fail "$name: the holder did not start"
	o=$(rm_op as_alice rm "$S/$name")
	ln -sfn ".trash/$o/$name" "$S/ptr"
	rm -f "$hold_dir/$name"
	wait_until 20 eval "[ -s '$out' ]" || fail "$name: the holder did not finish"
	cat "$out"
	check_eq "$name: its data intact" shared "$(cat "$B/.trash/$o/$name")" >&2
}
check_eq "bob (a read-only fd, another tenant): truncate, utime, setxattr, open by path" \
	"OK OK EPERM EPERM EPERM EPERM" \
	"$(held $BOB w "truncate:$S/ptr:0" "utime:$S/ptr" "setxattr:$S/ptr:user.t" "open:$S/ptr:w")"
check_eq "alice (the owner) holding an fd: chmod, chown, truncate, utime, setxattr by path" \
	"OK OK EPERM EPERM EPERM EPERM EPERM" \
	"$(held $ALICE m "chmod:$S/ptr:0600" "chown:$S/ptr:$ALICE" "truncate:$S/ptr:0" \
		"utime:$S/ptr" "setxattr:$S/ptr:user.t")"

# ---------------------------------------------------------------------------
# 4. restore

printf r1 >"$S/r1"
ln "$S/r1" "$S/r2"
o=$(rm_op rm "$S/r2")
cat "$S/.trash/$o/r2" >/dev/null
check "mv .trash/OP/r2 r2 (r1 still live)" mv "$S/.trash/$o/r2" "$S/r2"
check_eq "the same inode again" "$(ino "$B/r1")" "$(ino "$B/r2")"
check_eq "r1 and r2 show 2 links" "2 2" "$(nlink_mnt "$S/r1") $(nlink_mnt "$S/r2")"
check_eq "the restored name is writable at once" OK "$(et write "$S/r2" r2data)"
check_eq "... and r1 shows the write" r2data "$(cat "$S/r1")"

printf gone >"$S/d1"
ln "$S/d1" "$S/d2"
o2=$(rm_op rm "$S/d2")
check "rm d1 (every name in trash)" rm "$S/d1"
check_errno "d2 in trash: still frozen" EPERM et open "$S/.trash/$o2/d2" w
check "mv .trash/OP/d2 d2" mv "$S/.trash/$o2/d2" "$S/d2"
check_eq "the data is back" gone "$(cat "$S/d2")"
check_eq "d2 is writable" OK "$(et write "$S/d2" again)"

# ---------------------------------------------------------------------------
# 5. SIGKILL between a trash lookup and a restore

printf k >"$S/k1"
ln "$S/k1" "$S/k2"
ok=$(rm_op rm "$S/k2")
check_eq "lookup of .trash/OP/k2" k "$(cat "$S/.trash/$ok/k2")"
check "kill -9 of the daemon" gfs_kill9
gfs_mount op_gap=1s
frozen "after the remount: k2" "$S/.trash/$ok/k2" 0
check_eq "k1 intact" k "$(cat "$S/k1")"
check "restore k2" mv "$S/.trash/$ok/k2" "$S/k2"
check_eq "k1 and k2: one inode, 2 links" "$(ino "$B/k1") 2 2" \
	"$(ino "$B/k2") $(nlink_mnt "$S/k1") $(nlink_mnt "$S/k2")"

check "clean unmount" gfs_umount
done_testing
