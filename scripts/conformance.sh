#!/bin/bash
#
# conformance.sh — measure POSIX conformance of gracefs by hand, side by side
# with the backing filesystem it runs on.  Not part of CI (it takes minutes
# and needs pjdfstest, which is not packaged in Debian); run it after changes
# to the FUSE layer and record the figures in docs/conformance.md.
#
#     sudo nice -n 19 scripts/conformance.sh [PJDFSTEST_DIR]
#
# PJDFSTEST_DIR is a pjdfstest checkout (https://github.com/pjd/pjdfstest);
# without it, the script clones that repository into a temporary directory.
# The pjdfstest binary is built in the checkout when it is missing
# (autoreconf -ifs && ./configure && make pjdfstest: needs autoconf,
# automake, gcc, make).
#
# What it does, in a fresh temporary directory (on ext4: /tmp when /tmp is
# ext4, else a 2 GiB loop-mounted ext4 image):
#   1. `prove -rv PJDFSTEST_DIR/tests` from inside plain/ on the backing
#      filesystem, then from inside a site of a gracefs mount
#      (build/fs/gracefs -f BACKING MNT: default options, which include
#      default_permissions,allow_other; add more with GRACEFS_OPTS);
#      prints files, assertions, failed files and failed assertions for both,
#      then every failing test file and assertion number that fails on
#      gracefs but not on the plain filesystem, with the "not ok" lines.
#   2. stress-ng filesystem stressors, each for STRESS_TIME (default 10s)
#      with one worker and --temp-path on the plain filesystem and in the
#      mount; prints pass/fail per stressor (skipped when stress-ng is not
#      installed: `apt-get install stress-ng`).
#   3. fsx is not packaged in Debian: skipped, said so in the output.
#
# Exit status: 0 when gracefs fails nothing that the plain filesystem passes
# (pjdfstest and stress-ng) and the daemon unmounted cleanly; 1 otherwise;
# 2 when the run could not be set up.
#
# Environment: GRACEFS (default <repo>/build/fs/gracefs), GRACEFS_OPTS
# (extra -o options), STRESS_TIME (stress-ng --timeout, default 10s),
# STRESSORS (default "link rename dentry hdd fallocate dir xattr symlink
# chown"), OUT (directory for the logs, default a new
# /tmp/gracefs-conformance-results.XXXXXX, kept).
#
# Only what this script mounts is unmounted and only the daemon it started is
# stopped (by PID).  Run it under `nice -n 19` on a shared machine.

set -u
export LC_ALL=C
umask 022

REPO=$(cd "$(dirname "$0")/.." && pwd)
: "${GRACEFS:=$REPO/build/fs/gracefs}"
: "${GRACEFS_OPTS:=}"
: "${STRESS_TIME:=10s}"
: "${STRESSORS:=link rename dentry hdd fallocate dir xattr symlink chown}"

die() { echo "conformance.sh: $*" >&2; exit 2; }

[ "$(id -u)" -eq 0 ] || die "must run as root (pjdfstest needs it; gracefs needs CAP_DAC_READ_SEARCH)"
[ -x "$GRACEFS" ] || die "no gracefs binary at $GRACEFS (meson setup build && ninja -C build)"
{ : <>/dev/fuse; } 2>/dev/null || die "/dev/fuse cannot be opened"
for c in prove fusermount3 mountpoint git; do
	command -v "$c" >/dev/null || die "$c is not installed"
done

WORK=$(mktemp -d /tmp/gracefs-conformance.XXXXXX) || die "cannot create a temporary directory"
chmod 0755 "$WORK"
if [ -z "${OUT:-}" ]; then
	OUT=$(mktemp -d /tmp/gracefs-conformance-results.XXXXXX) || die "cannot create $OUT"
fi
mkdir -p "$OUT" || die "cannot create $OUT"

GFS_PID=
LOOP_MNT=
MNT=$WORK/mnt

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
	local rc=$? i
	trap - EXIT
	cd / || true
	if [ -n "$GFS_PID" ]; then
		fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -u -z "$MNT" 2>/dev/null
		for ((i = 0; i < 100; i++)); do
			kill -0 "$GFS_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$GFS_PID" 2>/dev/null && kill -KILL "$GFS_PID"
	fi
	if [ -n "$LOOP_MNT" ]; then
		umount "$LOOP_MNT" 2>/dev/null || umount -l "$LOOP_MNT"
	fi
	if awk -v m="$MNT" '$2 == m { f = 1 } END { exit !f }' /proc/self/mounts; then
		echo "conformance.sh: $MNT is still mounted; leaving $WORK" >&2
	else
		rm -rf --one-file-system "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
# pjdfstest: the given checkout, or a fresh clone; build the binary if needed.

PJD=${1:-}
if [ -z "$PJD" ]; then
	PJD=$WORK/pjdfstest
	echo "cloning https://github.com/pjd/pjdfstest into $PJD"
	git clone -q https://github.com/pjd/pjdfstest "$PJD" || die "cannot clone pjdfstest"
fi
PJD=$(cd "$PJD" && pwd) || die "no such directory: $1"
[ -d "$PJD/tests" ] || die "$PJD is not a pjdfstest checkout (no tests/)"
if [ ! -x "$PJD/pjdfstest" ]; then
	echo "building pjdfstest in $PJD (log: $OUT/pjdfstest-build.log)"
	(cd "$PJD" && autoreconf -ifs && ./configure && make pjdfstest) \
		>"$OUT/pjdfstest-build.log" 2>&1 ||
		die "pjdfstest did not build; see $OUT/pjdfstest-build.log"
fi

# ---------------------------------------------------------------------------
# The backing filesystem: ext4 (what pjdfstest and gracefs are measured on).

fstype() { df -PT "$1" | awk 'NR == 2 { print $2 }'; }
BASE=$WORK
if [ "$(fstype "$WORK")" != ext4 ]; then
	command -v mkfs.ext4 >/dev/null || die "/tmp is not ext4 and mkfs.ext4 is missing"
	truncate -s 2G "$WORK/ext4.img" && mkfs.ext4 -q -F "$WORK/ext4.img" ||
		die "cannot make an ext4 image"
	LOOP_MNT=$WORK/ext4
	mkdir "$LOOP_MNT"
	mount -o loop "$WORK/ext4.img" "$LOOP_MNT" || { LOOP_MNT=; die "cannot loop-mount the ext4 image"; }
	BASE=$LOOP_MNT
fi
BASE_FS=$(fstype "$BASE")
PLAIN=$BASE/plain
BACKING=$BASE/backing
SITE=conformance
mkdir -m 0755 "$PLAIN" "$BACKING" "$BACKING/$SITE" "$MNT"

gfs_mount() {
	local args=(-f) i
	[ -n "$GRACEFS_OPTS" ] && args+=(-o "$GRACEFS_OPTS")
	"$GRACEFS" "${args[@]}" "$BACKING" "$MNT" >"$OUT/gracefs.log" 2>&1 </dev/null &
	GFS_PID=$!
	for ((i = 0; i < 100; i++)); do
		timeout 2 mountpoint -q "$MNT" && return 0
		kill -0 "$GFS_PID" 2>/dev/null || { GFS_PID=; die "gracefs exited before mounting; see $OUT/gracefs.log"; }
		sleep 0.1
	done
	die "gracefs did not mount $MNT within 10 s"
}

# gfs_umount — 0 when the mount is gone and the daemon exited with status 0.
gfs_umount() {
	local i st
	for ((i = 0; i < 100; i++)); do
		fusermount3 -u "$MNT" 2>/dev/null && break
		sleep 0.1
	done
	for ((i = 0; i < 100; i++)); do
		kill -0 "$GFS_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$GFS_PID" 2>/dev/null && return 1
	wait "$GFS_PID"
	st=$?
	GFS_PID=
	return "$st"
}

# ---------------------------------------------------------------------------
# prove output: the summary report gives, per failing file, its failed
# assertion numbers ("Failed tests: 3, 7-9") and parse errors.

# totals LOG — "files assertions failed_assertions" from prove's last lines
# (failed files: the line count of `failures LOG`).
totals() {
	awk '
	/^Files=[0-9]+, Tests=[0-9]+/ {
		split($1, a, "="); files = a[2] + 0
		split($2, b, "="); tests = b[2] + 0
	}
	/\(Wstat: [0-9]+ .*Tests: [0-9]+ Failed: [0-9]+\)$/ {
		n = $NF; sub(/\)/, "", n); fa += n
	}
	END { printf "%d %d %d\n", files, tests, fa }' "$1"
}

# failures LOG — one line per failing file: "tests/dir/NN.t N N N…" (failed
# assertion numbers expanded; "parse" for a parse error such as a plan not
# met, "exit" for a non-zero exit status).  Entries of the summary report
# that only say "TODO passed" are not failures (see todo_passed).
failures() {
	awk -v pjd="$PJD/" '
	function flush() { if (file != "" && nums != "") print file nums; file = ""; nums = "" }
	/^Test Summary Report/ { in_sum = 1; next }
	!in_sum { next }
	/^Files=/ { flush(); exit }
	/^[^ ].*\(Wstat: / {
		flush(); file = $1; sub(pjd, "", file); mode = ""
		next
	}
	/^  Failed tests?:/ { mode = "f"; sub(/^  Failed tests?: */, ""); }
	/^  [A-Z][A-Za-z -]+:/ && mode != "f" || /^  (Parse errors|Non-zero exit status|Non-zero wait status|TODO passed):/ {
		if ($0 ~ /^  Parse errors/) nums = nums " parse"
		if ($0 ~ /^  Non-zero (exit|wait) status/) nums = nums " exit"
		mode = ""; next
	}
	mode == "f" && /^ *[0-9]/ {
		gsub(/ /, "")
		n = split($0, parts, ",")
		for (i = 1; i <= n; i++) {
			if (parts[i] == "") continue
			if (split(parts[i], r, "-") == 2)
				for (j = r[1]; j <= r[2]; j++) nums = nums " " j
			else
				nums = nums " " parts[i]
		}
	}
	END { flush() }' "$1"
}

# todo_passed LOG — "tests/dir/NN.t: N, N…" for assertions marked TODO (an
# expected failure on this OS) that passed.
todo_passed() {
	awk -v pjd="$PJD/" '
	function flush() { if (nums != "") print file ": " nums; nums = "" }
	/^Test Summary Report/ { in_sum = 1; next }
	!in_sum { next }
	/^Files=/ { exit }
	/^[^ ].*\(Wstat: / { flush(); file = $1; sub(pjd, "", file); mode = ""; next }
	/^  TODO passed:/ { mode = "t"; sub(/^  TODO passed: */, "") }
	/^  [A-Z]/ && !/^  TODO passed:/ { mode = "" }
	mode == "t" && /[0-9]/ { gsub(/^ +| +$/, ""); nums = nums (nums == "" ? "" : ", ") $0 }
	END { flush() }' "$1"
}

# plans LOG — "tests/dir/NN.t 1..N" per file, sorted: a file with a smaller
# plan skipped assertions (pjdfstest gates some on the filesystem type).
plans() {
	awk -v pjd="$PJD/" '
	/^\/.*\.t \.+ *$/ { cur = $1; sub(pjd, "", cur) }
	/^1\.\.[0-9]+/ && cur != "" { print cur, $1; cur = "" }' "$1" | sort
}

# notok LOG FILE NUM — the verbose "not ok NUM" line of FILE in LOG.
notok() {
	awk -v want="$PJD/$2" -v num="$3" '
	/^\/.*\.t \.+ *$/ { cur = $1 }
	cur == want && $1 == "not" && $2 == "ok" && $3 == num { print; exit }' "$1"
}

run_pjd() {   # DIR LOG
	(cd "$1" && prove -rv "$PJD/tests") >"$2" 2>&1
}

echo "== pjdfstest $(git -C "$PJD" log -1 --format='%h %cs' 2>/dev/null)"
echo "   on plain $BASE_FS ($PLAIN), log $OUT/pjdfstest-plain.log"
run_pjd "$PLAIN" "$OUT/pjdfstest-plain.log"
gfs_mount
echo "   on gracefs ($MNT/$SITE over $BACKING), log $OUT/pjdfstest-gracefs.log"
run_pjd "$MNT/$SITE" "$OUT/pjdfstest-gracefs.log"

for w in plain gracefs; do
	failures "$OUT/pjdfstest-$w.log" >"$OUT/failures-$w.txt"
	todo_passed "$OUT/pjdfstest-$w.log" >"$OUT/todo-passed-$w.txt"
	plans "$OUT/pjdfstest-$w.log" >"$OUT/plans-$w.txt"
done
read -r p_files p_tests p_fa < <(totals "$OUT/pjdfstest-plain.log")
read -r g_files g_tests g_fa < <(totals "$OUT/pjdfstest-gracefs.log")
p_ff=$(grep -c . "$OUT/failures-plain.txt")
g_ff=$(grep -c . "$OUT/failures-gracefs.txt")
printf '\n%-22s %14s %14s\n' "pjdfstest" "plain $BASE_FS" "gracefs"
printf '%-22s %14s %14s\n' "test files" "$p_files" "$g_files"
printf '%-22s %14s %14s\n' "assertions" "$p_tests" "$g_tests"
printf '%-22s %14s %14s\n' "failed files" "$p_ff" "$g_ff"
printf '%-22s %14s %14s\n' "failed assertions" "$p_fa" "$g_fa"

status=0
extra=0
echo
echo "failures on gracefs that plain $BASE_FS does not have:"
while read -r file nums; do
	plain_nums=" $(awk -v f="$file" '$1 == f { $1 = ""; print }' "$OUT/failures-plain.txt") "
	for n in $nums; do
		[[ $plain_nums == *" $n "* ]] && continue
		extra=$((extra + 1))
		case $n in
		parse) echo "  $file: parse error (plan not met or script died)" ;;
		exit) echo "  $file: non-zero exit status" ;;
		*) echo "  $file #$n: $(notok "$OUT/pjdfstest-gracefs.log" "$file" "$n" | cut -c1-160)" ;;
		esac
	done
done <"$OUT/failures-gracefs.txt"
[ "$extra" -eq 0 ] && echo "  none"
[ "$extra" -eq 0 ] || status=1
if [ -s "$OUT/failures-plain.txt" ]; then
	echo "(failing on plain $BASE_FS as well, not counted: $(cut -d' ' -f1 "$OUT/failures-plain.txt" | tr '\n' ' '))"
fi
# Not failures, but differences worth knowing: assertions pjdfstest ran on
# one side only (it gates some on the filesystem type, e.g. rename/22.t
# runs on EXT4, UFS and ZFS only), and TODO assertions (expected to fail on
# this OS) that passed.
echo "test files with a different plan (plain -> gracefs):"
join "$OUT/plans-plain.txt" "$OUT/plans-gracefs.txt" |
	awk '$2 != $3 { print "  " $1 ": " $2 " -> " $3; n++ } END { if (!n) print "  none" }'
for w in plain gracefs; do
	echo "TODO assertions that passed on $w:"
	if [ -s "$OUT/todo-passed-$w.txt" ]; then sed 's/^/  /' "$OUT/todo-passed-$w.txt"; else echo "  none"; fi
done

# ---------------------------------------------------------------------------
# stress-ng: short runs of filesystem stressors, plain and through the mount.

echo
if ! command -v stress-ng >/dev/null; then
	echo "== stress-ng: skipped (not installed; apt-get install stress-ng)"
else
	echo "== stress-ng $(stress-ng --version 2>/dev/null | awk '{ print $3 }'), 1 worker, $STRESS_TIME each, logs $OUT/stress-*.log"
	printf '%-12s %14s %14s\n' "stressor" "plain $BASE_FS" "gracefs"
	verdict() {   # exit status of stress-ng -> word
		case $1 in
		0) echo pass ;;
		3) echo "skip(res)" ;;   # not enough resources
		4) echo "skip(n/a)" ;;   # not implemented here
		*) echo "FAIL($1)" ;;
		esac
	}
	for s in $STRESSORS; do
		extra_args=()
		[ "$s" == hdd ] && extra_args=(--hdd-bytes 64m --verify)
		[ "$s" == fallocate ] && extra_args=(--fallocate-bytes 64m)
		for where in plain gracefs; do
			if [ "$where" == plain ]; then dir=$PLAIN/stress-$s; else dir=$MNT/$SITE/stress-$s; fi
			mkdir -p "$dir"
			stress-ng --"$s" 1 "${extra_args[@]}" --timeout "$STRESS_TIME" \
				--temp-path "$dir" --metrics-brief \
				>"$OUT/stress-$s-$where.log" 2>&1
			eval "rc_$where=\$?"
		done
		# shellcheck disable=SC2154  # set by the eval above
		printf '%-12s %14s %14s\n' "$s" "$(verdict "$rc_plain")" "$(verdict "$rc_gracefs")"
		if [ "$rc_gracefs" -ne 0 ] && [ "$rc_gracefs" -ne 3 ] && [ "$rc_gracefs" -ne 4 ] &&
			[ "$rc_plain" -eq 0 ]; then
			status=1
		fi
	done
fi

echo
echo "== fsx: skipped (not packaged in Debian; build it from xfstests or FreeBSD by hand)"

echo
if gfs_umount; then
	echo "gracefs unmounted cleanly (exit status 0)"
else
	echo "gracefs did not unmount cleanly; see $OUT/gracefs.log"
	status=1
fi
echo "logs: $OUT"
exit "$status"
