#!/bin/bash
#
# expiry.sh — the sweeper through a real mount: ops leave the mount, the
# backing store and the index after their retention; held ops and held
# sites stay; a partial restore survives the purge of the rest; only root
# may hold, release or set a site's retention, never below the floor; a
# site's retention applies to new ops only; and a kill -9 in the middle of
# purging a 20,000-file op is finished by the next mount without touching
# anything else; and files that reuse the inode numbers a purge freed work.
#
# The 20,000-file op is kept from expiring while it is deleted (and across a
# clean remount) by a hold on its site, released right before the kill
# window: an op records its retention when deleted and the sweeper sleeps
# only until the next expiry, so a long sweep_interval alone would not keep
# a 2 s op around.
#
# Mounted with retention=2s,min_retention=2s (the floor lowered explicitly,
# and as far as the mount's retention),sweep_interval=1s,op_gap=1s: an op closes 1 s
# after its last deletion and is due 2 s after it.  Every wait is a bounded
# poll (wait_until); "survives well past its expiry" is shown with witness
# ops deleted later than the held one: once a witness is purged, the
# sweeper has passed the held op's expiry and skipped it.

. "$(dirname "$0")/lib.sh"
gfs_require getfattr setfattr setpriv sha256sum date

OPTS=retention=2s,min_retention=2s,sweep_interval=1s,op_gap=1s
WAIT=${GFS_WAIT:-60}   # bound on waiting for a due purge (a loaded machine is slow)
BIG_N=20000
BIG_PER_DIR=100

gfs_site site1 site2 site3
# Non-root requests on the mount root and on a root-owned site .trash are
# refused by the kernel (default_permissions: user.* xattrs need write
# permission) before gracefs sees them.  To reach gracefs's own check, the
# backing root is made writable for everyone and site2's .trash belongs to
# nobody (both before the first mount).
chmod 0777 "$BACKING"
mkdir -m 0755 "$BACKING/site2/.trash" && chown 65534:65534 "$BACKING/site2/.trash"

# The 20,000-file tree is written straight into the backing store before
# the first mount (faster than through FUSE; the backing store is the truth).
BIG=$BACKING/site3/big
for ((d = 0; d < BIG_N / BIG_PER_DIR; d++)); do
	mkdir -p "$BIG/d$d"
done
for ((i = 0; i < BIG_N; i++)); do
	: >"$BIG/d$((i / BIG_PER_DIR))/f$i"
done
for ((i = 0; i < BIG_N; i += 2000)); do   # a few with content
	printf 'big file %d\n' "$i" >"$BIG/d$((i / BIG_PER_DIR))/f$i"
done

gfs_mount "$OPTS"

# ---------------------------------------------------------------------------
# helpers

# xa PATH NAME — value of user.gracefs.NAME (empty when unreadable).
xa() { getfattr --only-values --absolute-names -n "user.gracefs.$2" -- "$1" 2>/dev/null; }

# epoch ISO-TIME — seconds since 1970 (empty when unparsable).
epoch() { date -u -d "$1" +%s 2>/dev/null; }

# mktree SITE DIR N — DIR with N files of distinct content and a subdir.
mktree() {
	local i root=$MNT/$1/$2
	mkdir -p "$root/sub" || return 1
	for ((i = 0; i < $3; i++)); do
		printf '%s/%s file %d\n' "$1" "$2" "$i" >"$root/f$i" || return 1
	done
	printf 'nested in %s\n' "$2" >"$root/sub/nested" || return 1
}

# delete SITE DIR — mktree + rm -rf through the mount; prints the new op.
delete() {
	local before
	before=$(trash_op_dirs "$1")
	mktree "$1" "$2" 4 || fail "create $1/$2"
	rm -rf "$MNT/$1/$2" || fail "rm -rf $1/$2"
	new_op "$1" "$before"
}

bk_present() { [ -d "$(bk_op "$1" "$2")" ]; }
bk_gone() { [ ! -e "$(bk_op "$1" "$2")" ]; }

mnt_gone() { [ "$(et lstat "$(mnt_op "$1" "$2")")" == ENOENT ]; }

# check_purged DESC SITE OP — gone from the backing store and the mount
# (the sweeper's invalidation of the kernel's entry is sent by the next
# maintenance tick, so the mount gets a moment).
check_purged() {
	local desc=$1 site=$2 op=$3
	check "$desc: gone from the backing store" bk_gone "$site" "$op"
	check "$desc: gone through the mount (lstat ENOENT within 10 s)" \
		wait_until 10 mnt_gone "$site" "$op"
	check "$desc: not listed in MNT/$site/.trash" \
		eval '! mnt_op_dirs "$site" | grep -qxF -- "$op"'
}

# check_refused DESC CMD... — like check_errno EPERM, but EACCES (the
# kernel's own refusal under default_permissions) is accepted as well.
check_refused() {
	local desc=$1 out
	shift
	out=$("$@")
	case ${out%% *} in
	EPERM) pass "$desc" ;;
	EACCES) pass "$desc (EACCES from the kernel's permission check)" ;;
	*) fail "$desc" "command: $(_q "$@")" "expected: EPERM or EACCES" "     got: $out" ;;
	esac
}

# check_kept DESC SITE OP MANIFEST — present in both, content as before.
check_kept() {
	local desc=$1 site=$2 op=$3 want=$4
	check "$desc: still in the backing store" bk_present "$site" "$op"
	check "$desc: still listed through the mount" \
		eval 'mnt_op_dirs "$site" | grep -qxF -- "$op"'
	check_same_text "$desc: content unchanged (backing)" "$want" \
		"$(tree_manifest "$(bk_op "$site" "$op")")"
	check_same_text "$desc: content unchanged (mount)" "$want" \
		"$(tree_manifest "$(mnt_op "$site" "$op")")"
}

# witness SITE NAME — delete a throwaway tree and wait for its purge: proof
# that the sweeper has passed the expiry of every op deleted before it.
witness() {
	local w
	w=$(delete "$1" "$2")
	check "witness $2 ($w) purged within ${WAIT}s" wait_until "$WAIT" bk_gone "$1" "$w"
}

printf 'live and well\n' >"$MNT/site1/keep.txt"
printf 'site2 data\n' >"$MNT/site2/data.txt"
printf 'site3 data\n' >"$MNT/site3/live.txt"

# ---------------------------------------------------------------------------
# 1. An op is purged after its retention: mount, backing store, index.

check_match "the mount root shows the sweeper running" '^running; elapsed [0-9]+s' "$(xa "$MNT" sweeper)"
check_eq "no op purged yet" 0 "$(xa "$MNT" purged_ops)"
check_eq "site1 .trash: default retention" 2s "$(xa "$MNT/site1/.trash" retention)"

op1=$(delete site1 t1)
# one read of each right away: op1 lives only 2 s (a loaded machine is slow)
snapO=$(getfattr -d --absolute-names "$(mnt_op site1 "$op1")" 2>/dev/null)
snapS=$(getfattr -d --absolute-names "$MNT/site1/.trash" 2>/dev/null)
sv() { sed -n "s/^user\.gracefs\.$2=\"\(.*\)\"\$/\1/p" <<<"$1"; }
check_eq "op1 records retention 2s" 2s "$(sv "$snapO" retention)"
exp=$(epoch "$(sv "$snapO" expires)")
last=$(epoch "$(sv "$snapO" last_deleted)")
check_eq "op1 expires 2 s after its last deletion" 2 "$((${exp:-0} - ${last:-0}))"
check_eq "site1 .trash counts one op" 1 "$(sv "$snapS" ops)"
check_eq "site1 .trash counts its items (t1, 4 files, sub, nested)" 7 \
	"$(sv "$snapS" trash_items)"
check_match "site1 .trash: next_expiry is op1's" "^$(sv "$snapO" expires)\$" \
	"$(sv "$snapS" next_expiry)"

check "op1 purged within ${WAIT}s" wait_until "$WAIT" bk_gone site1 "$op1"
check_purged "op1" site1 "$op1"
check_eq "index: site1 .trash counts 0 ops" 0 "$(xa "$MNT/site1/.trash" ops)"
check_eq "index: site1 .trash counts 0 items" 0 "$(xa "$MNT/site1/.trash" trash_items)"
check_eq "index: site1 .trash counts 0 bytes" 0 "$(xa "$MNT/site1/.trash" trash_bytes)"
check_eq "index: no next expiry" none "$(xa "$MNT/site1/.trash" next_expiry)"
check_eq "the mount root counts one purged op" 1 "$(xa "$MNT" purged_ops)"
check "the purge is logged" grep -qF "purged op site1/$op1" "$GFS_LOG"
check_eq "live file next to it untouched" "live and well" "$(cat "$MNT/site1/keep.txt")"

# ---------------------------------------------------------------------------
# 2. A held op survives well past its expiry; released, it is purged.

opH=$(delete site1 t2)
check "root holds op H" setfattr -n user.gracefs.hold -v 1 "$(mnt_op site1 "$opH")"
check_eq "op H shows hold 1" 1 "$(xa "$(mnt_op site1 "$opH")" hold)"
manH=$(tree_manifest "$(bk_op site1 "$opH")")
witness site1 w1
check_kept "held op H after one witness" site1 "$opH" "$manH"
witness site2 w2
check_kept "held op H after a second witness" site1 "$opH" "$manH"
expH=$(epoch "$(xa "$(mnt_op site1 "$opH")" expires)")
check "op H is past its expiry" test "$(date +%s)" -gt "${expH:-9999999999}"
check_eq "op H is closed (not protected by being open)" closed \
	"$(xa "$(mnt_op site1 "$opH")" state)"
check "root releases op H" setfattr -n user.gracefs.hold -v 0 "$(mnt_op site1 "$opH")"
check "released op H purged within ${WAIT}s" wait_until "$WAIT" bk_gone site1 "$opH"
check_purged "released op H" site1 "$opH"

# ---------------------------------------------------------------------------
# 3. A held site: its ops survive; released, they are purged.

check "root holds site2" setfattr -n user.gracefs.hold -v 1 "$MNT/site2/.trash"
check_eq "site2 .trash shows hold 1" 1 "$(xa "$MNT/site2/.trash" hold)"
check_eq "site1 is not held" 0 "$(xa "$MNT/site1/.trash" hold)"
opS=$(delete site2 t3)
manS=$(tree_manifest "$(bk_op site2 "$opS")")
witness site1 w3
check_kept "op S of the held site" site2 "$opS" "$manS"
check "root releases site2" setfattr -n user.gracefs.hold -v 0 "$MNT/site2/.trash"
check_eq "site2 .trash shows hold 0" 0 "$(xa "$MNT/site2/.trash" hold)"
check "op S purged within ${WAIT}s after the release" wait_until "$WAIT" bk_gone site2 "$opS"
check_purged "op S" site2 "$opS"
check_eq "site2's live file untouched" "site2 data" "$(cat "$MNT/site2/data.txt")"

# ---------------------------------------------------------------------------
# 4. A partial restore before expiry survives the purge of the rest.
#    (op P gets 10 s: with 2 s a loaded machine may purge it before the mv,
#    which is then rightly ENOENT, or EBUSY while the purge runs.)

check "site1 retention 10s for op P" setfattr -n user.gracefs.retention -v 10s "$MNT/site1/.trash"
opP=$(delete site1 t4)
check "site1 retention back to default" setfattr -n user.gracefs.retention -v default "$MNT/site1/.trash"
sum_b=$(sha256sum <"$(bk_op site1 "$opP")/t4/f1" | cut -c1-64)
man_sub=$(tree_manifest "$(bk_op site1 "$opP")/t4/sub")
check "restore one file out of op P" mv "$(mnt_op site1 "$opP")/t4/f1" "$MNT/site1/f1.restored"
check "restore a directory out of op P" mv "$(mnt_op site1 "$opP")/t4/sub" "$MNT/site1/sub.restored"
check "op P (the rest) purged within $((WAIT + 10))s" wait_until $((WAIT + 10)) bk_gone site1 "$opP"
check_purged "op P" site1 "$opP"
check_live "restored file" site1 f1.restored
check_eq "restored file keeps its content (mount)" "$sum_b" \
	"$(sha256sum <"$MNT/site1/f1.restored" | cut -c1-64)"
check_eq "restored file keeps its content (backing)" "$sum_b" \
	"$(sha256sum <"$BACKING/site1/f1.restored" | cut -c1-64)"
check_same_text "restored directory intact (mount)" "$man_sub" \
	"$(tree_manifest "$MNT/site1/sub.restored")"
check_same_text "restored directory intact (backing)" "$man_sub" \
	"$(tree_manifest "$BACKING/site1/sub.restored")"

# ---------------------------------------------------------------------------
# 5. Only root may hold, release, set retention or confirm the clock.

opR=$(delete site1 t5)
check "root holds op R" setfattr -n user.gracefs.hold -v 1 "$(mnt_op site1 "$opR")"
# an op of nobody's own (its directory belongs to nobody)
mkdir -m 1777 "$MNT/site1/pub"
as_nobody mkdir "$MNT/site1/pub/mine" && as_nobody sh -c 'echo x >"$1/f"' sh "$MNT/site1/pub/mine"
before=$(trash_op_dirs site1)
check "nobody deletes its own tree" as_nobody rm -rf "$MNT/site1/pub/mine"
opO=$(new_op site1 "$before")
# op directories take the site root's owner and mode (root 0755 here,
# docs/isolation.md): the kernel refuses nobody's setxattr with EACCES
check_errno "nobody cannot hold its own op" EACCES \
	et_nobody setxattr "$(mnt_op site1 "$opO")" user.gracefs.hold 1
check_eq "its op stays unheld" 0 "$(xa "$(mnt_op site1 "$opO")" hold)"
# root's op R does not reach nobody: under the default trash_view=reach
# (docs/isolation.md) it is not even visible to it, so ENOENT, not EACCES
check_errno "nobody cannot release root's held op R" ENOENT \
	et_nobody setxattr "$(mnt_op site1 "$opR")" user.gracefs.hold 0
check_errno "nobody cannot hold op R again" ENOENT \
	et_nobody setxattr "$(mnt_op site1 "$opR")" user.gracefs.hold 1
check_eq "op R stays held" 1 "$(xa "$(mnt_op site1 "$opR")" hold)"
check_refused "nobody cannot hold root-owned site1" \
	et_nobody setxattr "$MNT/site1/.trash" user.gracefs.hold 1
check_refused "nobody cannot set root-owned site1's retention" \
	et_nobody setxattr "$MNT/site1/.trash" user.gracefs.retention 30d
# site2's .trash belongs to nobody: the kernel lets it through, gracefs refuses
check_errno "nobody cannot hold site2 (its .trash is nobody's)" EPERM \
	et_nobody setxattr "$MNT/site2/.trash" user.gracefs.hold 1
check_errno "nobody cannot set site2's retention" EPERM \
	et_nobody setxattr "$MNT/site2/.trash" user.gracefs.retention 30d
check_errno "nobody cannot clear site2's retention" EPERM \
	et_nobody setxattr "$MNT/site2/.trash" user.gracefs.retention default
check_errno "nobody cannot confirm the clock (the root is writable)" EPERM \
	et_nobody setxattr "$MNT" user.gracefs.confirm_clock 1
check_eq "site1 still unheld" 0 "$(xa "$MNT/site1/.trash" hold)"
check_eq "site1 retention unchanged" 2s "$(xa "$MNT/site1/.trash" retention)"
check_eq "site2 still unheld" 0 "$(xa "$MNT/site2/.trash" hold)"
check_eq "site2 retention unchanged" 2s "$(xa "$MNT/site2/.trash" retention)"
check_errno "nobody can read the trash usage" OK \
	et_nobody getxattr "$MNT/site1/.trash" user.gracefs.ops
check "nobody's op purged in time" wait_until "$WAIT" bk_gone site1 "$opO"
check "root releases op R" setfattr -n user.gracefs.hold -v 0 "$(mnt_op site1 "$opR")"
check "op R purged after the release" wait_until "$WAIT" bk_gone site1 "$opR"

# ---------------------------------------------------------------------------
# 6. Site retention: the floor (min_retention=2s here; the 24 h default is
# in retention.sh), units, and inheritance by new ops only.

check_errno "site retention 1s: below the floor" EINVAL \
	et setxattr "$MNT/site1/.trash" user.gracefs.retention 1s
check_errno "site retention 30 (no unit): EINVAL" EINVAL \
	et setxattr "$MNT/site1/.trash" user.gracefs.retention 30
check_errno "site retention 86400 (no unit): EINVAL" EINVAL \
	et setxattr "$MNT/site1/.trash" user.gracefs.retention 86400
check_errno "site retention garbage: EINVAL" EINVAL \
	et setxattr "$MNT/site1/.trash" user.gracefs.retention soon
check_errno "site hold garbage: EINVAL" EINVAL \
	et setxattr "$MNT/site1/.trash" user.gracefs.hold yes
check_eq "site1 retention unchanged" 2s "$(xa "$MNT/site1/.trash" retention)"
check_eq "site1 hold unchanged" 0 "$(xa "$MNT/site1/.trash" hold)"

opOld=$(delete site1 t6)
retOld=$(xa "$(mnt_op site1 "$opOld")" retention)   # now: it lives 2 s
check "site1 retention 2d" setfattr -n user.gracefs.retention -v 2d "$MNT/site1/.trash"
check_eq "site1 .trash shows 2d" 2d "$(xa "$MNT/site1/.trash" retention)"
check_eq "site2 keeps the mount default" 2s "$(xa "$MNT/site2/.trash" retention)"
opNew=$(delete site1 t7)
check_eq "the new op carries 2d" 2d "$(xa "$(mnt_op site1 "$opNew")" retention)"
now=$(date +%s)
expN=$(epoch "$(xa "$(mnt_op site1 "$opNew")" expires)")
if [ -n "$expN" ] && [ $((expN - now - 172800)) -ge -60 ] && [ $((expN - now - 172800)) -le 60 ]; then
	pass "the new op expires ~2 days out ($(xa "$(mnt_op site1 "$opNew")" expires))"
else
	fail "the new op expires ~2 days out" "expires: $expN, now: $now"
fi
check_eq "the older op keeps its 2s" 2s "$retOld"
check "the older op is purged on its 2s promise" wait_until "$WAIT" bk_gone site1 "$opOld"
check "the new op is still there" bk_present site1 "$opNew"
check "site1 retention default" setfattr -n user.gracefs.retention -v default "$MNT/site1/.trash"
check_eq "site1 back to the mount default" 2s "$(xa "$MNT/site1/.trash" retention)"
check_eq "the new op keeps its 2d" 2d "$(xa "$(mnt_op site1 "$opNew")" retention)"
check_eq "site1 holds exactly the new op now" "$opNew" "$(trash_op_dirs site1)"
check_eq "index agrees: one op in site1" 1 "$(xa "$MNT/site1/.trash" ops)"

# ---------------------------------------------------------------------------
# 7. kill -9 in the middle of purging a 20,000-file op; the next mount
#    finishes it and touches nothing else.

check "root holds site3" setfattr -n user.gracefs.hold -v 1 "$MNT/site3/.trash"
before=$(trash_op_dirs site3)
check "rm -rf the 20,000-file tree" rm -rf "$MNT/site3/big"
opBig=$(new_op site3 "$before")
mktree site3 small 5
before=$(trash_op_dirs site3)
rm -rf "$MNT/site3/small"
opSmall=$(new_op site3 "$before")
check "root holds the second op of site3" setfattr -n user.gracefs.hold -v 1 "$(mnt_op site3 "$opSmall")"
check "the big op closes" wait_until "$WAIT" eval '[ "$(xa "$(mnt_op site3 "$opBig")" state)" == closed ]'
check_eq "the big op holds every entry" $((BIG_N + BIG_N / BIG_PER_DIR + 1)) \
	"$(xa "$(mnt_op site3 "$opBig")" items)"
check "the big op is past its expiry" \
	wait_until "$WAIT" eval '[ "$(date +%s)" -gt "$(epoch "$(xa "$(mnt_op site3 "$opBig")" expires)")" ]'

# a clean remount in between: holds and records persist
gfs_remount "$OPTS"
check_eq "after remount: site3 still held" 1 "$(xa "$MNT/site3/.trash" hold)"
check "after remount: the big op is still there" bk_present site3 "$opBig"

# everything that must not change
snapshot() {
	local s
	for s in site1 site2 site3; do
		echo "== live $s"
		tree_manifest "$BACKING/$s"
	done
	echo "== op $opNew"
	tree_manifest "$(bk_op site1 "$opNew")"
	echo "== op $opSmall"
	tree_manifest "$(bk_op site3 "$opSmall")"
	echo "== ops"
	trash_op_dirs site1
	trash_op_dirs site2
	trash_op_dirs site3 | grep -vxF -- "$opBig"
}
snap_before=$(snapshot)
check "snapshot of the rest taken" test -n "$snap_before"

bkBig=$(bk_op site3 "$opBig")
dirs_total=$((BIG_N / BIG_PER_DIR))
check "root releases site3" setfattr -n user.gracefs.hold -v 0 "$MNT/site3/.trash"
killed_mid=
deadline=$((SECONDS + 30))
shopt -s nullglob
while [ "$SECONDS" -lt "$deadline" ] && [ -d "$bkBig" ]; do
	dirs=("$bkBig"/big/d*)
	if [ "${#dirs[@]}" -ge 1 ] && [ "${#dirs[@]}" -le $((dirs_total * 3 / 4)) ]; then
		gfs_kill9
		killed_mid=${#dirs[@]}
		break
	fi
	nap 0.002
done
shopt -u nullglob
left=$(find "$bkBig" -type f 2>/dev/null | wc -l)
if [ -n "$killed_mid" ] && [ "$left" -gt 0 ] && [ "$left" -lt "$BIG_N" ]; then
	pass "daemon killed mid-purge: $left of $BIG_N files left in the op"
	check "dead mount cleared" test -z "$(gfs_mounted && echo mounted)"
else
	skip "daemon killed mid-purge" \
		"purge not caught in the middle (dirs left: ${killed_mid:-none}, files left: $left)"
	[ -n "$GFS_PID" ] && gfs_kill9
fi
diag "after the kill: $left files left in $opBig"
log_lines_before=$(wc -l <"$GFS_LOG")

gfs_remount "$OPTS"
check "after remount: the purge completes within 30s" wait_until 30 bk_gone site3 "$opBig"
check_purged "the big op" site3 "$opBig"
check_eq "index: site3 .trash counts one op (the held one)" 1 "$(xa "$MNT/site3/.trash" ops)"
check_eq "the held second op is still held" 1 "$(xa "$(mnt_op site3 "$opSmall")" hold)"
check_same_text "nothing else changed: live files of every site, other ops" \
	"$snap_before" "$(snapshot)"
check_eq "live file of site3 intact" "site3 data" "$(cat "$MNT/site3/live.txt")"
check_eq "live file of site1 intact" "live and well" "$(cat "$MNT/site1/keep.txt")"
n_logged=$(tail -n +"$((log_lines_before + 1))" "$GFS_LOG" | grep -cF "purged op site3/$opBig")
check_eq "the new daemon reports the purge once (log)" 1 "$n_logged"
check_eq "the new daemon counts one purged op" 1 "$(xa "$MNT" purged_ops)"
check "no stray entries left in site3's .trash" \
	eval '[ "$(ls -A "$(bk_trash site3)")" == "$opSmall" ]'

# ---------------------------------------------------------------------------
# 8. A purge frees backing inode numbers while the kernel may still hold
#    inodes of the op (here: processes whose cwd is inside it; the same
#    happens for any cached entry until the invalidation arrives).  A new
#    file or directory that gets such a number must still work.  A fresh
#    site (a top-level directory: likely a block group of its own) keeps
#    the numbers freed by earlier purges out of the way.

HOLD_N=40
gfs_site site4
# 20 s: the 40 holders must be in place before the purge, even on a loaded machine
check "site4 retention 20s" setfattr -n user.gracefs.retention -v 20s "$MNT/site4/.trash"
for ((i = 0; i < HOLD_N; i++)); do
	mkdir -p "$MNT/site4/cwd/e$i"
done
before=$(trash_op_dirs site4)
rm -rf "$MNT/site4/cwd"
opC=$(new_op site4 "$before")
declare -A held_ino=()
holders=()
for ((i = 0; i < HOLD_N; i++)); do
	held_ino[$(ino "$(bk_op site4 "$opC")/cwd/e$i")]=e$i
	gfs_bg sh -c 'cd "$1" && exec sleep 120' sh "$(mnt_op site4 "$opC")/cwd/e$i"
	holders+=("$GFS_BG_PID")
done
check "op C (cwd of $HOLD_N processes) purged" wait_until $((WAIT + 20)) bk_gone site4 "$opC"
reused=
for ((i = 0; i < 1000; i++)); do
	printf 'new file %d\n' "$i" >"$MNT/site4/new$i" || { fail "create site4/new$i"; break; }
	n=$(ino "$BACKING/site4/new$i")
	if [ -n "${held_ino[$n]}" ]; then
		reused=new$i
		diag "site4/new$i got inode $n, freed by the purge of ${held_ino[$n]}, still held by the kernel"
		break
	fi
	mkdir "$MNT/site4/newd$i" || { fail "mkdir site4/newd$i"; break; }
	n=$(ino "$BACKING/site4/newd$i")
	if [ -n "${held_ino[$n]}" ]; then
		reused=newd$i
		diag "site4/newd$i got inode $n, freed by the purge of ${held_ino[$n]}, still held by the kernel"
		break
	fi
done
if [ -z "$reused" ]; then
	skip "a new file reusing a purged, still-referenced inode number works" \
		"the backing filesystem did not reuse any of the $HOLD_N inode numbers"
elif [ "${reused#newd}" != "$reused" ]; then
	check_errno "the new directory $reused stats as a directory" "OK" et stat "$MNT/site4/$reused"
	check "a file can be created in $reused" eval 'echo inside >"$MNT/site4/$reused/f"'
	check_eq "and read back" inside "$(cat "$MNT/site4/$reused/f" 2>&1)"
else
	check_match "the new file $reused stats as a regular file" '^OK type=reg' \
		"$(et stat "$MNT/site4/$reused")"
	check_eq "the new file $reused reads back" "new file ${reused#new}" \
		"$(cat "$MNT/site4/$reused" 2>&1)"
fi
for p in "${holders[@]}"; do
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
done

check "clean unmount" gfs_umount
done_testing
