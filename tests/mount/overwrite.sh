#!/bin/bash
#
# overwrite.sh — issue 9 on ext4 (the test's temp dir): `> file` is undone
# like rm.  Every way of truncating a file with data (`: >`, truncate -s0,
# truncate -s 1, cp over it, echo >, ftruncate, fallocate punch and zero)
# first preserves its content in the caller's op at its site-relative path
# with its metadata; appends and growing writes are not versioned; the
# preserved item is immutable; a path truncated twice, or truncated then
# deleted, in one op keeps its first state; mv and `gracectl undo` (one op
# and --since) put the first state back; over preserve_max the truncation
# is unpreserved, audited and counted; preserve_max per site (gracectl site
# set), 0 and bad values; a protected path is never truncated unpreserved.
#
# Each truncation runs in its own process (sh -c, truncate, cp, python3):
# ops are per process, and the test's own shell must not collect them.

. "$(dirname "$0")/lib.sh"
: "${GRACECTL:=$GFS_REPO/build/fs/gracectl}"
gfs_require python3 truncate fallocate dd cp
[ -x "$GRACECTL" ] || skip_all "gracectl binary not found at $GRACECTL"

gctl() { "$GRACECTL" -b "$BACKING" "$@"; }
n_events() { gctl --json log --event "$1" --site s1 | pyj 'len(d)'; }

PROM=$GFS_TMP/gracefs.prom
gfs_site s1
gfs_mount "metrics=$PROM" op_gap=2s
S=$MNT/s1
# no op of s1 is still collecting (a plan is stable only then)
all_closed() { ! gctl --json ls s1 | pyj '" ".join(r["state"] for r in d)' | grep -qw open; }

# mk NAME CONTENT — a new file (no truncation: it did not exist) with
# metadata worth keeping: mode 0640, owner 1000:1001, a fixed mtime, an xattr.
mk() {
	printf '%s' "$2" >"$S/$1" &&
	chmod 0640 "$S/$1" && chown 1000:1001 "$S/$1" &&
	touch -m -d @1600000000.123456789 "$S/$1" &&
	setfattr -n user.tag -v "$1" "$S/$1" 2>/dev/null
	return 0
}

# truncated DESC NAME LIVE CMD... — NAME holds "orig NAME" (made with mk
# unless it exists); CMD (its own process) truncates it.  Exactly one new op
# holds NAME as it was (content, sig, xattr) through the mount and in
# BACKING; NAME now holds LIVE (NUL bytes shown as @).
truncated() {
	local desc=$1 name=$2 live=$3 before want op
	shift 3
	[ -e "$S/$name" ] || mk "$name" "orig $name"
	want=$(sig "$S/$name")
	before=$(trash_op_dirs s1)
	"$@" || fail "$desc: the command failed" "$(_q "$@")"
	op=$(new_op s1 "$before")
	check_eq "$desc: trash holds the old content (BACKING)" "orig $name" \
		"$(cat "$(bk_op s1 "$op")/$name" 2>&1)"
	check_eq "$desc: trash holds the old content (mount)" "orig $name" \
		"$(cat "$(mnt_op s1 "$op")/$name" 2>&1)"
	check_eq "$desc: mode, owner, size, mtime kept" "$want" "$(sig "$(bk_op s1 "$op")/$name")"
	check_eq "$desc: xattr kept" "$name" \
		"$(getfattr --only-values -n user.tag "$(bk_op s1 "$op")/$name" 2>/dev/null)"
	check_eq "$desc: the live file is truncated" "$live" "$(tr '\0' @ <"$S/$name")"
	LAST_OP=$op
}

cat >"$GFS_TMP/ftrunc.py" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
os.ftruncate(fd, int(sys.argv[2]))
os.close(fd)
EOF
printf 'brand new\n' >"$GFS_TMP/new"

truncated ": > f" colon "" sh -c ': >"$1"' _ "$S/colon"
op_colon=$LAST_OP
truncated "truncate -s0" t0 "" truncate -s0 "$S/t0"
truncated "truncate -s 1" t1 "o" truncate -s 1 "$S/t1"
truncated "cp new f" cp "brand new" cp "$GFS_TMP/new" "$S/cp"
truncated "echo x > f" echo "x" sh -c 'echo x >"$1"' _ "$S/echo"
truncated "ftruncate(2)" ft "or" python3 "$GFS_TMP/ftrunc.py" "$S/ft" 2
truncated "open(O_TRUNC) for writing" otrunc "" et open "$S/otrunc" w,trunc
truncated "fallocate --punch-hole" punch "@@@@ punch" \
	fallocate -p -o 0 -l 4 "$S/punch"
truncated "fallocate --zero-range" zero "or@@ zero" \
	fallocate -z -o 2 -l 2 "$S/zero"
check_eq "the punched file keeps its size" 10 "$(stat -c %s "$S/punch")"

# The preserved item is immutable, like any deleted item.
item=$(mnt_op s1 "$op_colon")/colon
check_errno "a preserved item cannot be truncated" EPERM et truncate "$item" 0
check_errno "a preserved item cannot be opened for writing" EPERM et open "$item" w
check_errno "a preserved item cannot be opened with O_TRUNC" EPERM et open "$item" r,trunc
check_eq "and it is unchanged" "orig colon" "$(cat "$item")"

# Appends, growing, new files and empty files: nothing versioned (in-place
# writes over existing bytes are: overwrite_inplace.sh).
mk keep "0123456789"
before=$(trash_op_dirs s1)
sh -c 'echo more >>"$1"' _ "$S/keep"
printf 'AB' | dd of="$S/keep" bs=1 seek=17 conv=notrunc status=none
truncate -s 100 "$S/keep"
sh -c 'echo new >"$1"' _ "$S/fresh"
: >"$S/empty"
sh -c ': >"$1"' _ "$S/empty"
truncate -s0 "$S/empty"
et open "$S/fresh2" w,creat,trunc >/dev/null
check_eq "append, write past the end, growing, new and empty files: no op" "$before" \
	"$(trash_op_dirs s1)"

# One op truncating a path twice keeps its first state, once.
cat >"$GFS_TMP/twice.py" <<'EOF'
import sys
p = sys.argv[1]
open(p, "w").write("second")
open(p, "w").write("third")
EOF
mk twice "orig twice"
want_twice=$(sig "$S/twice")
before=$(trash_op_dirs s1)
python3 "$GFS_TMP/twice.py" "$S/twice"
op_twice=$(new_op s1 "$before")
check_eq "twice truncated: the op holds the first state" "orig twice" \
	"$(cat "$(bk_op s1 "$op_twice")/twice")"
check_eq "twice truncated: one item in the op" 1 \
	"$(find "$(bk_op s1 "$op_twice")" -type f | wc -l)"
check "twice truncated: the op counts one item" wait_until 10 eval \
	'[ "$(getfattr --absolute-names --only-values -n user.gracefs.items \
	     "$(mnt_op s1 "$op_twice")" 2>/dev/null)" = 1 ]'
check_eq "twice truncated: live holds the last write" "third" "$(cat "$S/twice")"

# Truncated, then deleted by the same process: the op keeps the first
# state; the later version goes to a new op (nothing is destroyed).
cat >"$GFS_TMP/thendel.py" <<'EOF'
import os, sys
p = sys.argv[1]
open(p, "w").write("later")
os.unlink(p)
EOF
mk thendel "orig thendel"
before=$(trash_op_dirs s1)
python3 "$GFS_TMP/thendel.py" "$S/thendel"
new=$(comm -13 <(printf '%s\n' "$before" | sed '/^$/d') <(trash_op_dirs s1))
check_eq "truncated then deleted: two new ops" 2 "$(printf '%s\n' "$new" | grep -c .)"
op_first=$(printf '%s\n' "$new" | head -n 1)
op_later=$(printf '%s\n' "$new" | tail -n 1)
check_eq "truncated then deleted: the first op holds the first state" "orig thendel" \
	"$(cat "$(bk_op s1 "$op_first")/thendel" 2>&1)"
check_eq "truncated then deleted: the later version is in the next op" "later" \
	"$(cat "$(bk_op s1 "$op_later")/thendel" 2>&1)"
check_absent "truncated then deleted: gone from the live tree" "$S/thendel"

# mv restores: the preserved file replaces the truncated one, which goes
# to trash like any replaced target.
check "mv restores the preserved file over the truncated one" \
	mv "$(mnt_op s1 "$op_colon")/colon" "$S/colon"
check_eq "mv: the content before the truncation is back" "orig colon" "$(cat "$S/colon")"
check_eq "mv: metadata as before" "1000:1001 640" "$(stat -c '%u:%g %a' "$S/colon")"

# gracectl undo of one op: the truncated path is put back as it was
# before the op (the live version stays in the op).
out=$(gctl undo "op:s1/$op_twice" 2>&1)
check_match "undo dry run says the live file is replaced" "replace" "$out"
check_eq "the dry run changed nothing" "third" "$(cat "$S/twice")"
token=$(printf '%s\n' "$out" | sed -n 's/^plan token: //p')
out=$(gctl undo "op:s1/$op_twice" --execute "$token" 2>&1)
check_eq "undo --execute succeeds" 0 "$?"
diag "$out"
check_eq "undo: the first state is back (mount)" "orig twice" "$(cat "$S/twice")"
check_eq "undo: the first state is back (BACKING)" "orig twice" "$(cat "$BACKING/s1/twice")"
check_eq "undo: metadata as before the op" "$want_twice" "$(sig "$S/twice")"
check_eq "undo: the replaced live version stays in the op" "third" \
	"$(cat "$(bk_op s1 "$op_twice")/twice" 2>&1)"

# Bulk undo --since: a script run that empties, rewrites and deletes files
# is undone to the state before it.
mk b1 "orig b1"
mk b2 "orig b2"
mk b3 "orig b3"
s0=$(date +%s)
wait_until 3 eval '[ "$(date +%s)" != "$s0" ]'
T=$(date -u +%Y-%m-%dT%H:%M:%SZ)
cat >"$GFS_TMP/deploy.py" <<'EOF'
import os, sys
d = sys.argv[1]
open(os.path.join(d, "b1"), "w").close()
open(os.path.join(d, "b1"), "w").write("deployed")
os.truncate(os.path.join(d, "b2"), 3)
os.unlink(os.path.join(d, "b2"))
EOF
python3 "$GFS_TMP/deploy.py" "$S"
cp "$GFS_TMP/new" "$S/b3"
check "the run's ops close" wait_until 30 all_closed
out=$(gctl undo --since "$T" 2>&1)
token=$(printf '%s\n' "$out" | sed -n 's/^plan token: //p')
check_match "bulk undo: a dry run with a token" '^[0-9a-f]{12}$' "$token"
out=$(gctl undo --since "$T" --execute "$token" 2>&1)
check_eq "bulk undo --execute succeeds" 0 "$?"
diag "$out"
for f in b1 b2 b3; do
	check_eq "bulk undo: $f as before the run" "orig $f" "$(cat "$S/$f" 2>&1)"
done

# Audit: one 'overwrite' row per preserved file, with the op and path.
check "overwrite rows in the audit log" wait_until 10 \
	eval '[ "$(n_events overwrite)" -ge 11 ]'
check_match "an overwrite row names the op, the path and the method" \
	"^$op_colon colon bytes=10 (clone|copy)\$" \
	"$(gctl --json log --event overwrite --site s1 |
	   pyj '[r["op"] + " " + r["path"] + " " + r["detail"] for r in d if r["path"] == "colon"][0]')"

# Over the copy limit: truncated unpreserved, logged, audited, counted.
gfs_umount || diag "unmount was not clean"
gfs_mount "metrics=$PROM" op_gap=2s preserve_max=1K
head -c 4096 /dev/urandom >"$S/big"
printf 'small\n' >"$S/small"
before=$(trash_op_dirs s1)
check "a file over preserve_max is truncated anyway" truncate -s0 "$S/big"
check_eq "over preserve_max: nothing in trash" "$before" "$(trash_op_dirs s1)"
check_eq "over preserve_max: the live file is empty" 0 "$(stat -c %s "$S/big")"
check "over preserve_max: an 'unpreserved' audit row" wait_until 10 \
	eval '[ "$(n_events unpreserved)" -eq 1 ]'
check_match "the unpreserved row says size and limit" "^big bytes=4096 preserve_max=1K$" \
	"$(gctl --json log --event unpreserved --site s1 | pyj 'd[0]["path"] + " " + d[0]["detail"]')"
check "over preserve_max: counted in the metrics" wait_until 10 \
	grep -qx 'gracefs_overwrite_unpreserved_total 1' "$PROM"
check_match "over preserve_max: logged by the daemon" "truncated s1/big unpreserved" \
	"$(cat "$GFS_LOG")"
truncated "under preserve_max: still copied" small2 "" truncate -s0 "$S/small2"
check "copies are counted in the metrics" wait_until 10 \
	grep -q '^gracefs_overwrite_copied_total [1-9]' "$PROM"

# preserve_max per site, through gracectl.
mk big2 "$(head -c 3000 /dev/zero | tr '\0' x)"
out=$(gctl site set site:s1 preserve_max=12X 2>&1)
check_eq "site set preserve_max=12X fails" 1 "$(( $? != 0 ))"
check_match "with a one-line reason" "bad preserve_max '12X'" "$out"
check_eq "and sets nothing" "" "$(getfattr --only-values -n trusted.gracefs.preserve_max \
	"$BACKING/s1/.trash" 2>/dev/null)"
check "site set preserve_max=8K" gctl site set site:s1 preserve_max=8K
before=$(trash_op_dirs s1)
truncate -s0 "$S/big2"
op=$(new_op s1 "$before")
check_eq "the site's limit wins over the mount's" 3000 \
	"$(stat -c %s "$(bk_op s1 "$op")/big2" 2>&1)"
check "site set preserve_max=0" gctl site set site:s1 preserve_max=0
mk tiny "t"
before=$(trash_op_dirs s1)
truncate -s0 "$S/tiny"
check_eq "preserve_max=0: no copy at all" "$before" "$(trash_op_dirs s1)"
check "site-set is audited" wait_until 10 eval \
	'gctl --json log --event site-set --site s1 | grep -q "preserve_max=0"'

# A protected path is never truncated unpreserved (EPERM instead, audited);
# with a copy allowed, it is truncated and preserved as any file.
mk conf.ini "orig conf.ini"
check "protect conf.ini" gctl site protect site:s1 conf.ini
check_errno "protected, no copy allowed: truncate refused" EPERM et truncate "$S/conf.ini" 0
check_eq "protected: unchanged" "orig conf.ini" "$(cat "$S/conf.ini")"
check "protected: a 'denied' audit row" wait_until 10 eval \
	'gctl --json log --event denied --site s1 | grep -q "truncation over preserve_max"'
check "site set preserve_max=default" gctl site set site:s1 preserve_max=default
truncated "protected, copy allowed: preserved" conf.ini "" truncate -s0 "$S/conf.ini"

# kill -9 right after a preservation: after remount the item is in its op,
# whole, and counted (reconcile recounts the op the crash left open).
mk crash "orig crash"
before=$(trash_op_dirs s1)
sh -c ': >"$1"; kill -KILL '"$GFS_PID" _ "$S/crash"
op=$(new_op s1 "$before")
check "the daemon is gone" gfs_kill9
gfs_mount "metrics=$PROM" op_gap=2s
check_eq "after kill -9: the preserved content is in its op" "orig crash" \
	"$(cat "$(mnt_op s1 "$op")/crash" 2>&1)"
check_eq "after kill -9: the live file is truncated" 0 "$(stat -c %s "$S/crash")"
check_eq "after kill -9: the op counts it" 1 \
	"$(getfattr --absolute-names --only-values -n user.gracefs.items "$(mnt_op s1 "$op")")"

# kill -9 in the middle of a preservation's copy (fs/engine/trash_preserve.c, the
# crash ordering): the copy goes into an unnamed O_TMPFILE and the live file
# is truncated only after the copy has its name in the op, so after the
# remount the live file is whole and the trash holds nothing of it.
check "site set preserve_max=1G" gctl site set site:s1 preserve_max=1G
{ printf 'head'; head -c 400M /dev/zero; printf 'tail'; } >"$BACKING/s1/midcopy"
sum=$(md5sum <"$BACKING/s1/midcopy")
sync "$BACKING/s1/midcopy"   # its pages clean, then dropped: the copy reads the disk
dd if="$BACKING/s1/midcopy" iflag=nocache count=0 status=none
sh -c ': >"$1"' _ "$S/midcopy" 2>/dev/null &
truncer=$!
# The daemon holds the copy open unnamed ("BACKING/s1/.trash/#N (deleted)")
# until it links it into the op: freeze it there, and kill it.
caught=0
[ "$(et freeze_on_fd "$GFS_PID" "/s1/.trash/#" 30)" == OK ] && caught=1
if [ "$caught" -eq 1 ]; then
	check "killed in the middle of the copy" gfs_kill9
	wait "$truncer"
	check_not "the truncating process failed" test $? -eq 0
	gfs_mount "metrics=$PROM" op_gap=2s
	check_eq "after kill -9 mid-copy: the live file is whole" "$sum" "$(md5sum <"$S/midcopy")"
	check_eq "and nothing of it is in the trash" "" "$(find "$BACKING/s1/.trash" -name midcopy)"
	check_eq "no unnamed copy is left open" "" \
		"$(ls -l "/proc/$GFS_PID/fd" 2>/dev/null | grep '(deleted)')"
else
	wait "$truncer"
	skip "kill -9 in the middle of the copy" "the 400 MiB copy ended before it was seen"
	kill -CONT "$GFS_PID"
fi
rm -f "$BACKING/s1/midcopy"

mkdir -p "$GFS_TMP/b2" "$GFS_TMP/m2"
out=$(timeout 20 "$GRACEFS" -f -o preserve_max=lots "$GFS_TMP/b2" "$GFS_TMP/m2" 2>&1)
check_eq "gracefs -o preserve_max=lots exits nonzero" 1 "$(( $? != 0 ))"
check_match "with a one-line error" "bad preserve_max 'lots'" "$out"

check "unmount" gfs_umount
done_testing
