#!/bin/bash
#
# startup.sh — bad invocations get one clear line and change nothing.

. "$(dirname "$0")/lib.sh"
gfs_require getfattr

# expect_fail DESC PATTERN ARGS... — gracefs exits non-zero, prints one line
# matching PATTERN on stderr, and mounts nothing on its mountpoint (the
# last argument).
expect_fail() {
	local desc=$1 pat=$2 out rc mp=${!#}
	shift 2
	out=$(timeout 20 "$GRACEFS" "$@" 2>&1 </dev/null)
	rc=$?
	if [ "$rc" -ne 0 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] &&
		[[ $out =~ $pat ]] && ! mountpoint -q "$mp" 2>/dev/null; then
		pass "$desc"
	else
		fail "$desc" "exit $rc" "output: $out"
	fi
}

expect_fail "missing backing" "error: backing .*No such file or directory" \
	"$BACKING/nope" "$MNT"
touch "$BACKING/afile"
expect_fail "backing is a file" "error: backing .*Not a directory" "$BACKING/afile" "$MNT"
rm -f "$BACKING/afile"
expect_fail "missing mountpoint" "(bad mount point|mountpoint).*No such file" "$BACKING" "$MNT/nope"
mkdir -p "$BACKING/inner"
expect_fail "mountpoint inside backing" "inside the backing store" "$BACKING" "$BACKING/inner"
expect_fail "backing inside mountpoint" "inside the mountpoint" "$BACKING/inner" "$(dirname "$BACKING")"
expect_fail "bad retention" "invalid retention 'soon'" -o retention=soon "$BACKING" "$MNT"
expect_fail "zero retention" "invalid retention '0s'" -o retention=0s "$BACKING" "$MNT"
expect_fail "bad op_gap" "invalid op_gap" -o op_gap=-1 "$BACKING" "$MNT"
# a duration needs its unit: one fstab typo must not make a 30-second purger
expect_fail "retention=30 (no unit)" "invalid retention '30': not a duration with a unit" \
	-o retention=30 "$BACKING" "$MNT"
expect_fail "retention=86400 (no unit)" "invalid retention '86400'" \
	-o retention=86400 "$BACKING" "$MNT"
expect_fail "min_retention=60 (no unit)" "invalid min_retention '60'" \
	-o min_retention=60,retention=2d "$BACKING" "$MNT"
expect_fail "op_gap=10 (no unit)" "invalid op_gap '10'" -o op_gap=10 "$BACKING" "$MNT"
# the mount's retention obeys the floor (24 h unless lowered explicitly)
expect_fail "retention=1h under the default 24h floor" \
	"retention 1h is below min_retention 1d \\(lower the floor explicitly" \
	-o retention=1h "$BACKING" "$MNT"
expect_fail "retention=23h59m under the default floor" "below min_retention 1d" \
	-o retention=23h59m "$BACKING" "$MNT"
expect_fail "retention=10s under min_retention=1m" "retention 10s is below min_retention 1m" \
	-o retention=10s,min_retention=1m "$BACKING" "$MNT"
check_eq "nothing was created in a refused backing" "" "$(ls -A "$BACKING/inner")"

ro=$(mktemp -d)
if mount -t tmpfs -o size=1m tmpfs "$ro" 2>/dev/null; then
	mount -o remount,ro "$ro"
	expect_fail "read-only backing" "[Rr]ead-only" "$ro" "$MNT"
	umount "$ro"
else
	skip "read-only backing" "cannot mount a tmpfs here"
fi
rmdir "$ro"

gfs_site site1
gfs_mount
second=$(mktemp -d)
diag "serving daemon: pid $GFS_PID"
expect_fail "a second gracefs on the same backing" \
	"already served by another gracefs \\(pid [0-9]+\\)" "$BACKING" "$second"
rmdir "$second"
check "the first one still serves" test -d "$MNT/site1"
check "clean unmount" gfs_umount
check "the lock is free again: remount works" gfs_mount
check "clean unmount again" gfs_umount

# a floor lowered explicitly lets a short retention mount
check "retention=1h mounts with min_retention=1h" gfs_mount retention=1h,min_retention=1h
check_eq "the site trash shows 1h" 1h \
	"$(getfattr --only-values -n user.gracefs.retention "$MNT/site1/.trash" 2>/dev/null)"
# and the same rules hold at run time: xattr and gracectl
check_errno "setfattr retention=30 (no unit): EINVAL" EINVAL \
	"$ERRNOTOOL" setxattr "$MNT/site1/.trash" user.gracefs.retention 30
check_errno "setfattr retention=30m (below the 1h floor): EINVAL" EINVAL \
	"$ERRNOTOOL" setxattr "$MNT/site1/.trash" user.gracefs.retention 30m
out=$("$GRACECTL" -b "$BACKING" site set site:site1 retention=30 --execute 2>&1)
rc=$?
if [ "$rc" -ne 0 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] &&
	[[ $out =~ "bad retention '30'" ]]; then
	pass "gracectl site set retention=30 (no unit): refused in one line"
else
	fail "gracectl site set retention=30 (no unit): refused in one line" "exit $rc" "$out"
fi
check_eq "nothing changed: still 1h" 1h \
	"$(getfattr --only-values -n user.gracefs.retention "$MNT/site1/.trash" 2>/dev/null)"
check "clean unmount at the end" gfs_umount
done_testing
