# shellcheck shell=bash
#
# lib.sh — harness for the gracefs mount tests.  Source it first thing:
#
#     . "$(dirname "$0")/lib.sh"
#     gfs_require getfattr          # skip_all unless root, /dev/fuse, binaries
#     gfs_site site1                # BACKING/site1 (before mounting)
#     gfs_mount                     # or: gfs_mount retention=1h,trash_visible
#     check "…" cmd …               # TAP assertions
#     done_testing
#
# Output is TAP on the original stdout, which lib.sh moves to fd 3; the
# script's own fd 1 is pointed at stderr, so stray output from commands can
# never corrupt the TAP stream (it shows up in the test log instead).  Test
# counts live in a file, so assertions made inside $(…) are counted too.
#
# Every test gets its own temporary directory GFS_TMP (mktemp -d under
# /tmp) holding BACKING=$GFS_TMP/backing and MNT=$GFS_TMP/mnt; the daemon's
# output goes to $GFS_LOG.  An EXIT trap unmounts, kills only PIDs this
# library started, and removes GFS_TMP (kept when GFS_KEEP=1, or when a
# mount could not be cleared).
#
# Environment: GRACEFS (daemon, default <repo>/build/fs/gracefs), ERRNOTOOL
# (default <repo>/build/tests/mount/errnotool), GFS_EXTRA_OPTS (appended to
# every mount's -o list), GFS_KEEP=1 (keep GFS_TMP for inspection).
#
# Single-threaded: tests run one at a time (is_parallel: false in meson).

GFS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GFS_REPO=$(cd "$GFS_LIB_DIR/../.." && pwd)
: "${GRACEFS:=$GFS_REPO/build/fs/gracefs}"
: "${ERRNOTOOL:=$GFS_REPO/build/tests/mount/errnotool}"
export LC_ALL=C
umask 022

exec 3>&1 1>&2

GFS_TMP=$(mktemp -d /tmp/gracefs-test.XXXXXX) || {
	echo "1..0 # SKIP cannot create a temporary directory" >&3
	exit 0
}
chmod 0755 "$GFS_TMP"            # other users (setpriv tests) must reach MNT
BACKING=$GFS_TMP/backing
MNT=$GFS_TMP/mnt
GFS_LOG=$GFS_TMP/gracefs.log
mkdir -m 0755 "$BACKING" "$MNT"
: >"$GFS_LOG"
echo 0 >"$GFS_TMP/.tap-count"
echo 0 >"$GFS_TMP/.tap-failed"

GFS_PID=            # the daemon we started, if running
GFS_OPTS=()         # -o options of the last gfs_mount, for gfs_remount
GFS_BG_PIDS=()      # background helpers started with gfs_bg
GFS_PLAN_DONE=

# ---------------------------------------------------------------------------
# TAP

_tap_clean() {   # one printable ASCII line, '#' escaped (it starts a directive)
	local d=$1
	d=${d//\\/\\\\}
	d=${d//#/\\#}
	d=${d//$'\n'/\\n}
	printf '%s' "$d" | LC_ALL=C tr -c '\040-\176' '?' | cut -c1-200
}

_tap_next() {
	local n
	n=$(<"$GFS_TMP/.tap-count")
	n=$((n + 1))
	echo "$n" >"$GFS_TMP/.tap-count"
	echo "$n"
}

# diag MSG... — "# " comment lines in the TAP stream (multi-line safe).
diag() {
	local line
	printf '%s\n' "$*" | while IFS= read -r line; do
		printf '# %s\n' "$(printf '%s' "$line" | LC_ALL=C tr -c '\040-\176\t' '?')" >&3
	done
}

pass() {
	printf 'ok %s - %s\n' "$(_tap_next)" "$(_tap_clean "$1")" >&3
	return 0
}

# fail DESC [DIAG...] — a "not ok" line, then each DIAG as comment lines.
fail() {
	local desc=$1 n
	shift
	n=$(<"$GFS_TMP/.tap-failed")
	echo $((n + 1)) >"$GFS_TMP/.tap-failed"
	printf 'not ok %s - %s\n' "$(_tap_next)" "$(_tap_clean "$desc")" >&3
	printf '%s\n' "FAILED: $desc" >&2
	local d
	for d in "$@"; do
		diag "$d"
	done
	return 1
}

# skip DESC REASON — a test that could not be run here (counts as passed).
skip() {
	printf 'ok %s - %s # SKIP %s\n' "$(_tap_next)" "$(_tap_clean "$1")" \
		"$(_tap_clean "$2")" >&3
}

# ok_if DESC COND-STATUS — pass/fail from the status of the previous command.
ok_if() {
	if [ "$2" -eq 0 ]; then pass "$1"; else fail "$1"; fi
}

# check DESC CMD... — runs CMD in this shell; ok if it exits 0.
check() {
	local desc=$1 rc
	shift
	"$@"
	rc=$?
	if [ "$rc" -eq 0 ]; then
		pass "$desc"
	else
		fail "$desc" "command: $(_q "$@")" "exit status: $rc"
	fi
}

# check_not DESC CMD... — ok if CMD exits non-zero.
check_not() {
	local desc=$1
	shift
	if "$@"; then
		fail "$desc" "command unexpectedly succeeded: $(_q "$@")"
	else
		pass "$desc"
	fi
}

# check_eq DESC EXPECTED ACTUAL
check_eq() {
	if [ "$2" == "$3" ]; then
		pass "$1"
	else
		fail "$1" "expected: $2" "     got: $3"
	fi
}

# check_match DESC ERE ACTUAL
check_match() {
	if [[ $3 =~ $2 ]]; then
		pass "$1"
	else
		fail "$1" "expected to match: $2" "               got: $3"
	fi
}

# check_same_text DESC FILE_OR_TEXT_A FILE_OR_TEXT_B — compares two texts,
# showing a unified diff on failure.
check_same_text() {
	local desc=$1
	if [ "$2" == "$3" ]; then
		pass "$desc"
	else
		fail "$desc" "$(diff -u <(printf '%s\n' "$2") <(printf '%s\n' "$3") | head -60)"
	fi
}

# check_same_set DESC LINES_A LINES_B — two sorted line lists (multisets)
# are equal; on failure shows how many lines are missing and extra.
check_same_set() {
	local desc=$1 missing extra
	if [ "$2" == "$3" ]; then
		pass "$desc"
		return
	fi
	missing=$(comm -23 <(printf '%s\n' "$2") <(printf '%s\n' "$3"))
	extra=$(comm -13 <(printf '%s\n' "$2") <(printf '%s\n' "$3"))
	fail "$desc" \
		"expected $(printf '%s\n' "$2" | grep -c .) lines, got $(printf '%s\n' "$3" | grep -c .)" \
		"missing $(printf '%s' "$missing" | grep -c .), e.g.: $(echo $(head -3 <<<"$missing"))" \
		"extra $(printf '%s' "$extra" | grep -c .), e.g.: $(echo $(head -3 <<<"$extra"))"
}

# check_errno DESC ERRNO CMD... — CMD is normally `et OP ARGS` (errnotool);
# compares the first word of its output (OK or an errno name) with ERRNO.
check_errno() {
	local desc=$1 want=$2 out rc
	shift 2
	out=$("$@")
	rc=$?
	if [ "$rc" -ne 0 ]; then
		fail "$desc" "command failed (exit $rc): $(_q "$@")" "output: $out"
	elif [ "${out%% *}" == "$want" ]; then
		pass "$desc"
	else
		fail "$desc" "command: $(_q "$@")" "expected: $want" "     got: $out"
	fi
}

# skip_all REASON — the whole test is skipped (must precede any test line).
skip_all() {
	printf '1..0 # SKIP %s\n' "$(_tap_clean "$1")" >&3
	GFS_PLAN_DONE=1
	exit 0
}

# bail_out REASON — abort the whole test (TAP "Bail out!").
bail_out() {
	printf 'Bail out! %s\n' "$(_tap_clean "$1")" >&3
	GFS_PLAN_DONE=1
	_gfs_show_log
	exit 1
}

# done_testing — prints the plan; exit status 0 when nothing failed.
done_testing() {
	local n f
	n=$(<"$GFS_TMP/.tap-count")
	f=$(<"$GFS_TMP/.tap-failed")
	printf '1..%s\n' "$n" >&3
	GFS_PLAN_DONE=1
	if [ "$f" -ne 0 ]; then
		diag "$f of $n tests failed"
		_gfs_show_log
		exit 1
	fi
	exit 0
}

_q() { printf '%q ' "$@" | LC_ALL=C tr -c '\040-\176' '?' | cut -c1-300; }

# ---------------------------------------------------------------------------
# Prerequisites

# gfs_require [CMD...] — skip the test unless we are root, /dev/fuse can be
# opened, fusermount3, gracefs, errnotool and every CMD exist.
gfs_require() {
	local c
	[ "$(id -u)" -eq 0 ] || skip_all "mount tests need root"
	[ -c /dev/fuse ] || skip_all "/dev/fuse is missing"
	{ : <>/dev/fuse; } 2>/dev/null || skip_all "/dev/fuse cannot be opened"
	command -v fusermount3 >/dev/null || skip_all "fusermount3 is not installed"
	command -v mountpoint >/dev/null || skip_all "mountpoint is not installed"
	[ -x "$GRACEFS" ] || skip_all "gracefs binary not found at $GRACEFS"
	[ -x "$ERRNOTOOL" ] || skip_all "errnotool not found at $ERRNOTOOL"
	for c in "$@"; do
		command -v "$c" >/dev/null || skip_all "$c is not installed"
	done
}

# et OP ARGS... — run errnotool (prints OK… or an errno name).
et() { "$ERRNOTOOL" "$@"; }

# as_nobody CMD... — run CMD as uid/gid 65534 with no supplementary groups.
as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"
}

# et_nobody OP ARGS... — errnotool as uid/gid 65534 (runs a copy in
# GFS_TMP, so the build tree's permissions do not matter).
et_nobody() {
	if [ ! -x "$GFS_TMP/bin/errnotool" ]; then
		install -D -m 0755 "$ERRNOTOOL" "$GFS_TMP/bin/errnotool" || return 2
	fi
	as_nobody "$GFS_TMP/bin/errnotool" "$@"
}

# as_uid UID CMD... — run CMD as uid and gid UID (numeric: no passwd entry
# needed), no supplementary groups.  For tenant tests.
as_uid() {
	local u=$1
	shift
	setpriv --reuid="$u" --regid="$u" --clear-groups -- "$@"
}

# et_as UID OP ARGS... — errnotool as UID (a copy in GFS_TMP, like et_nobody).
et_as() {
	local u=$1
	shift
	if [ ! -x "$GFS_TMP/bin/errnotool" ]; then
		install -D -m 0755 "$ERRNOTOOL" "$GFS_TMP/bin/errnotool" || return 2
	fi
	as_uid "$u" "$GFS_TMP/bin/errnotool" "$@"
}

# ---------------------------------------------------------------------------
# Daemon lifecycle

_pid_alive() {   # exists and is not a zombie (builtins only: cheap to poll)
	local st
	kill -0 "$1" 2>/dev/null || return 1
	read -r st 2>/dev/null <"/proc/$1/stat" || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ]
}

# nap SECONDS — sleep without forking (for tight polling loops).
nap() {
	if [ -z "$_GFS_NAP_FD" ]; then
		mkfifo "$GFS_TMP/.nap" && exec {_GFS_NAP_FD}<>"$GFS_TMP/.nap"
	fi
	read -r -t "$1" -u "$_GFS_NAP_FD" _
}

# gfs_mounted — MNT appears in the mount table (also true for a dead FUSE
# connection, unlike `mountpoint`, which stats it).
gfs_mounted() {
	awk -v m="$MNT" '$2 == m { f = 1 } END { exit !f }' /proc/self/mounts
}

# wait_until SECONDS CMD... — poll CMD every 0.1 s; 0 once it succeeds,
# 1 after SECONDS.
wait_until() {
	local limit=$(( $1 * 10 )) i=0
	shift
	while ! "$@"; do
		i=$((i + 1))
		[ "$i" -ge "$limit" ] && return 1
		sleep 0.1
	done
	return 0
}

_gfs_show_log() {
	if [ -s "$GFS_LOG" ]; then
		diag "last lines of the gracefs log ($GFS_LOG):"
		diag "$(tail -n 30 "$GFS_LOG")"
	fi
}

# gfs_site NAME... — create sites: in BACKING when not mounted, through the
# mount (mkdir at the root) when mounted.
gfs_site() {
	local s
	for s in "$@"; do
		if [ -n "$GFS_PID" ]; then
			mkdir "$MNT/$s" || bail_out "cannot create site $s through the mount"
		else
			mkdir -p "$BACKING/$s" || bail_out "cannot create $BACKING/$s"
		fi
	done
}

# gfs_mount [OPT...] — start `gracefs -f -o OPT,... BACKING MNT` in the
# background and wait up to 10 s for the mount.  Bails out on failure.
gfs_mount() {
	local opts args i
	[ -z "$GFS_PID" ] || bail_out "gfs_mount: already mounted (pid $GFS_PID)"
	GFS_OPTS=("$@")
	opts=$(IFS=,; printf '%s' "$*")
	[ -n "$GFS_EXTRA_OPTS" ] && opts=${opts:+$opts,}$GFS_EXTRA_OPTS
	args=(-f)
	[ -n "$opts" ] && args+=(-o "$opts")
	args+=("$BACKING" "$MNT")
	echo "### $(date +%T.%N) $GRACEFS ${args[*]}" >>"$GFS_LOG"
	"$GRACEFS" "${args[@]}" >>"$GFS_LOG" 2>&1 3>&- </dev/null &
	GFS_PID=$!
	for ((i = 0; i < 100; i++)); do
		if timeout 2 mountpoint -q "$MNT"; then
			return 0
		fi
		if ! _pid_alive "$GFS_PID"; then
			wait "$GFS_PID"
			local rc=$?
			GFS_PID=
			bail_out "gracefs exited with status $rc before mounting"
		fi
		sleep 0.1
	done
	bail_out "gracefs did not mount $MNT within 10 s"
}

# gfs_umount — fusermount3 -u, then wait (10 s) for the daemon to exit.
# Returns 0 only if the mount is gone and the daemon exited with status 0.
gfs_umount() {
	local i rc=0 st
	[ -n "$GFS_PID" ] || return 0
	for ((i = 0; i < 50; i++)); do
		fusermount3 -u "$MNT" 2>>"$GFS_LOG" && break
		sleep 0.1       # EBUSY: something still has a file open
	done
	if gfs_mounted; then
		diag "gfs_umount: $MNT still busy after 5 s, detaching lazily"
		fusermount3 -u -z "$MNT" 2>>"$GFS_LOG" || umount -l "$MNT"
		rc=1
	fi
	if ! wait_until 10 eval '! _pid_alive "$GFS_PID"'; then
		diag "gfs_umount: gracefs (pid $GFS_PID) still running 10 s after unmount; killing it"
		kill -KILL "$GFS_PID" 2>/dev/null
		wait_until 5 eval '! _pid_alive "$GFS_PID"'
		rc=1
	fi
	wait "$GFS_PID" 2>/dev/null
	st=$?
	if [ "$st" -ne 0 ]; then
		diag "gfs_umount: gracefs exited with status $st"
		rc=1
	fi
	GFS_PID=
	return $rc
}

# gfs_kill9 — SIGKILL the daemon (only the PID we started), then clear the
# dead mount.  Returns 0 when the mount is gone.
gfs_kill9() {
	[ -n "$GFS_PID" ] || { diag "gfs_kill9: no daemon running"; return 1; }
	kill -KILL "$GFS_PID"
	wait_until 10 eval '! _pid_alive "$GFS_PID"' ||
		diag "gfs_kill9: pid $GFS_PID did not die within 10 s"
	wait "$GFS_PID" 2>/dev/null
	GFS_PID=
	echo "### $(date +%T.%N) killed with SIGKILL" >>"$GFS_LOG"
	fusermount3 -u "$MNT" 2>>"$GFS_LOG" || umount -l "$MNT" 2>>"$GFS_LOG"
	! gfs_mounted
}

# gfs_remount [OPT...] — unmount if mounted, mount again (same options
# unless new ones are given).
gfs_remount() {
	local opts=("${GFS_OPTS[@]}")
	[ $# -gt 0 ] && opts=("$@")
	if [ -n "$GFS_PID" ]; then
		gfs_umount || diag "gfs_remount: unmount was not clean"
	fi
	gfs_mount "${opts[@]}"
}

# gfs_bg CMD... — run CMD in the background, detached from the TAP stream;
# its PID is in GFS_BG_PID and is killed at exit if still running.
gfs_bg() {
	"$@" 3>&- </dev/null &
	GFS_BG_PID=$!
	GFS_BG_PIDS+=("$GFS_BG_PID")
}

# gfs_loop_backing SIZE MKFS_ARG... — BACKING becomes a fresh ext4 image of
# SIZE in GFS_TMP (mkfs.ext4 -q -F MKFS_ARG..., no lost+found), unmounted
# at exit once gracefs is gone.  Skips the test where loop devices are not
# available.  The image is $GFS_IMG.
gfs_loop_backing() {
	local size=$1
	shift
	GFS_IMG=$GFS_TMP/img
	[ -e /dev/loop-control ] || skip_all "no loop devices (/dev/loop-control missing)"
	truncate -s "$size" "$GFS_IMG" && mkfs.ext4 -q -F "$@" "$GFS_IMG" ||
		skip_all "cannot make an ext4 image"
	mount -o loop "$GFS_IMG" "$BACKING" 2>/dev/null || skip_all "loop devices are not available here"
	rmdir "$BACKING/lost+found"
	trap _gfs_loop_cleanup EXIT
}

_gfs_loop_cleanup() {
	local rc=$?
	if [ -n "$GFS_PID" ]; then
		fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -u -z "$MNT" 2>/dev/null
		wait_until 10 eval '! _pid_alive "$GFS_PID"' || kill -KILL "$GFS_PID" 2>/dev/null
		GFS_PID=
	fi
	umount "$BACKING" 2>/dev/null || umount -l "$BACKING"
	(exit "$rc")
	_gfs_cleanup
}

_gfs_cleanup() {
	local rc=$? p
	trap - EXIT
	for p in "${GFS_BG_PIDS[@]}"; do
		_pid_alive "$p" && kill -KILL "$p" 2>/dev/null
	done
	if [ -n "$GFS_PID" ]; then
		fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -u -z "$MNT" 2>/dev/null
		if ! wait_until 5 eval '! _pid_alive "$GFS_PID"'; then
			kill -TERM "$GFS_PID" 2>/dev/null
			wait_until 3 eval '! _pid_alive "$GFS_PID"' || kill -KILL "$GFS_PID" 2>/dev/null
		fi
	fi
	gfs_mounted && { umount -l "$MNT" 2>/dev/null || fusermount3 -u -z "$MNT" 2>/dev/null; }
	if [ -z "$GFS_PLAN_DONE" ]; then
		printf 'Bail out! test script ended without done_testing (status %s)\n' "$rc" >&3
		_gfs_show_log
		[ "$rc" -eq 0 ] && rc=1
	fi
	if [ -n "$GFS_KEEP" ]; then
		diag "kept $GFS_TMP"
	elif gfs_mounted; then
		diag "$MNT is still mounted; leaving $GFS_TMP in place"
	else
		rm -rf --one-file-system "$GFS_TMP"
	fi
	exit "$rc"
}
trap _gfs_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# gfs_xfs_backing — make BACKING a 512 MiB XFS (reflink=1) image on a loop
# device (sparse, in GFS_TMP), for tests of a store that shares blocks.
# Call before gfs_site.  skip_all where mkfs.xfs, a loop device or the
# mount are unavailable.  gfs_xfs_umount unmounts it at the end of a test
# (the daemon first); the EXIT trap does it too, on any exit.
GFS_XFS_MOUNTED=
gfs_xfs_backing() {
	local img=$GFS_TMP/xfs.img
	command -v mkfs.xfs >/dev/null || skip_all "mkfs.xfs is not installed (xfsprogs)"
	losetup -f >/dev/null 2>&1 || skip_all "no loop device available"
	truncate -s 512M "$img" || skip_all "cannot create the image file"
	mkfs.xfs -q -m reflink=1 "$img" 2>/dev/null || skip_all "mkfs.xfs -m reflink=1 failed"
	mount -o loop "$img" "$BACKING" 2>/dev/null || skip_all "cannot mount an XFS loop image here"
	GFS_XFS_MOUNTED=1
	chmod 0755 "$BACKING"
	trap 'rc=$?; gfs_xfs_umount >/dev/null 2>&1 || umount -l "$BACKING" 2>/dev/null; (exit $rc); _gfs_cleanup' EXIT
}
gfs_xfs_umount() {
	[ -n "$GFS_XFS_MOUNTED" ] || return 0
	gfs_umount
	umount "$BACKING" && GFS_XFS_MOUNTED=
}

# ---------------------------------------------------------------------------
# Paths and three-way checks
#
# SITE "/" names the mount root scope (whole deleted sites).

# What only_op/new_op print when there is no op: a name that never exists,
# so the checks that follow fail with ENOENT instead of acting on .trash.
NO_OP=no-such-op

OP_NAME_RE='^[0-9]{8}T[0-9]{6}Z-[A-Za-z0-9._+-]{1,32}-[0-9]+(\.[0-9]+)?$'

# bk_trash SITE / mnt_trash SITE — the trash directory in BACKING / MNT.
bk_trash() {
	if [ "$1" == / ]; then echo "$BACKING/.gracefs/trash"; else echo "$BACKING/$1/.trash"; fi
}
mnt_trash() {
	if [ "$1" == / ]; then echo "$MNT/.trash"; else echo "$MNT/$1/.trash"; fi
}

# trash_op_dirs SITE — op directory names in the backing store, sorted, one
# per line (temporary .tmp-* directories are not ops and are left out).
trash_op_dirs() {
	local d n
	d=$(bk_trash "$1")
	[ -d "$d" ] || return 0
	for n in "$d"/*; do
		n=${n##*/}
		[[ $n =~ $OP_NAME_RE ]] && printf '%s\n' "$n"
	done | sort
}

# mnt_op_dirs SITE — the same list, read through the mount.
mnt_op_dirs() {
	local d n
	d=$(mnt_trash "$1")
	ls -1 "$d" 2>/dev/null | while IFS= read -r n; do
		[[ $n =~ $OP_NAME_RE ]] && printf '%s\n' "$n"
	done | sort
}

# only_op SITE — asserts that SITE's trash holds exactly one op, identical
# through the mount and in the backing store; prints its name.
only_op() {
	local bk mn
	bk=$(trash_op_dirs "$1")
	mn=$(mnt_op_dirs "$1")
	if [ -n "$bk" ] && [ "$(printf '%s\n' "$bk" | wc -l)" -eq 1 ] && [ "$bk" == "$mn" ]; then
		pass "exactly one trash op in $1 ($bk)"
		printf '%s\n' "$bk"
	else
		fail "exactly one trash op in $1" "backing: $(echo $bk)" "  mount: $(echo $mn)"
		printf '%s\n' "${bk:-$NO_OP}" | head -n 1
	fi
}

# new_op SITE BEFORE — like only_op, for the ops that are not in the list
# BEFORE (an earlier output of trash_op_dirs).
new_op() {
	local new
	new=$(comm -13 <(printf '%s\n' "$2" | sed '/^$/d') <(trash_op_dirs "$1"))
	if [ -n "$new" ] && [ "$(printf '%s\n' "$new" | wc -l)" -eq 1 ]; then
		pass "exactly one new trash op in $1 ($new)"
		printf '%s\n' "$new"
	else
		fail "exactly one new trash op in $1" "new ops: $(echo $new)"
		printf '%s\n' "${new:-$NO_OP}" | head -n 1
	fi
}

# bk_op SITE OP / mnt_op SITE OP — an op directory in BACKING / MNT.
bk_op() { echo "$(bk_trash "$1")/$2"; }
mnt_op() { echo "$(mnt_trash "$1")/$2"; }

# sig PATH — what must survive a trip through the trash unchanged:
# type, mode, owner, size, mtime (ns), link count.  Directories: type,
# mode and owner only (removing their entries changes the rest).
sig() {
	local t
	t=$(stat -c %F -- "$1" 2>/dev/null) || { echo missing; return 1; }
	if [ "$t" == directory ]; then
		stat -c '%F %a %u:%g' -- "$1"
	elif [ "$t" == "symbolic link" ]; then
		printf '%s -> %q\n' "$(stat -c '%F %a %u:%g %s %.9Y' -- "$1")" \
			"$(readlink -- "$1")"
	else
		stat -c '%F %a %u:%g %s %.9Y %h' -- "$1"
	fi
}

# tree_manifest DIR [notime] — one line per entry below DIR (the top-level
# .trash excluded), sorted: escaped relative path, type, mode, owner, and for
# files size, mtime and sha256; symlinks their target.  Link counts are left
# out (a name deleted into trash still counts as a link).  "notime" omits
# mtimes (for comparing two trees created at different times).
tree_manifest() {
	local dir=$1 notime=$2 p t line
	(
		cd "$dir" || exit 1
		find . -mindepth 1 \( -path ./.trash -prune \) -o -print0 | sort -z |
		while IFS= read -r -d '' p; do
			t=$(stat -c %F -- "$p") || continue
			line="$(printf '%q' "${p#./}") $(stat -c '%a %u:%g' -- "$p")"
			case $t in
			directory) line+=" dir" ;;
			"symbolic link") line+=" lnk -> $(printf '%q' "$(readlink -- "$p")")" ;;
			"regular file"|"regular empty file")
				line+=" reg $(stat -c %s -- "$p")"
				[ -n "$notime" ] || line+=" $(stat -c %.9Y -- "$p")"
				line+=" $(sha256sum <"$p" | cut -c1-64)" ;;
			*) line+=" $t" ;;
			esac
			printf '%s\n' "$line"
		done
	)
}

# content_hashes DIR... — sorted sha256 of every regular file below the DIRs
# (a multiset: independent of names and places).
content_hashes() {
	find "$@" -type f -print0 2>/dev/null | xargs -0 -r sha256sum | cut -c1-64 | sort
}

# pyj EXPR — evaluate EXPR on the JSON document on stdin (as d); strings
# are printed as they are, anything else as JSON (needs python3).
pyj() {
	python3 -c '
import json, sys
d = json.load(sys.stdin)
r = eval(sys.argv[1])
print(r if isinstance(r, str) else json.dumps(r, sort_keys=True))' "$1"
}

# ino PATH — inode number (use on BACKING paths: inode numbers through the
# mount are the daemon's choice).
ino() { stat -c %i -- "$1"; }

# check_absent DESC PATH — lstat fails with ENOENT.
check_absent() {
	check_errno "$1" ENOENT et lstat "$2"
}

# check_trashed DESC SITE OP RELPATH [SIG] — three ways: gone from the live
# tree in MNT and BACKING, present in the op both through the mount and in
# the backing store, with the same sig (and equal to SIG when given).
check_trashed() {
	local desc=$1 site=$2 op=$3 rel=$4 want=$5 s_bk s_mnt
	check_absent "$desc: gone from MNT/$site" "$MNT/$site/$rel"
	check_absent "$desc: gone from BACKING/$site" "$BACKING/$site/$rel"
	s_bk=$(sig "$(bk_op "$site" "$op")/$rel")
	s_mnt=$(sig "$(mnt_op "$site" "$op")/$rel")
	if [ "$s_bk" == missing ]; then
		fail "$desc: in the op through the mount and in BACKING" \
			"missing: $(bk_op "$site" "$op")/$rel" "  mount: $s_mnt"
	else
		check_eq "$desc: in the op, same through the mount and in BACKING" "$s_bk" "$s_mnt"
	fi
	[ -z "$want" ] || check_eq "$desc: metadata kept in trash" "$want" "$s_bk"
}

# check_live DESC SITE RELPATH [SIG] — present through the mount and in
# BACKING with the same sig (and equal to SIG when given).
check_live() {
	local desc=$1 site=$2 rel=$3 want=$4 s_bk s_mnt
	s_bk=$(sig "$BACKING/$site/$rel")
	s_mnt=$(sig "$MNT/$site/$rel")
	if [ "$s_bk" == missing ] || [ "$s_mnt" == missing ]; then
		fail "$desc: live in MNT and BACKING" "backing: $s_bk" "  mount: $s_mnt"
	else
		check_eq "$desc: same through the mount and in BACKING" "$s_bk" "$s_mnt"
	fi
	[ -z "$want" ] || check_eq "$desc: metadata as before" "$want" "$s_bk"
}

# ---------------------------------------------------------------------------
# JSON (gracectl --json)

# pyj EXPR — evaluate the python EXPR on the JSON document on stdin (as d;
# json and sys are imported); strings are printed as they are, anything
# else as JSON.
pyj() {
	python3 -c '
import json, sys
d = json.load(sys.stdin)
r = eval(sys.argv[1])
print(r if isinstance(r, str) else json.dumps(r, sort_keys=True))' "$1"
}
