#!/bin/bash
#
# startup.sh — bad invocations get one clear line and change nothing.

. "$(dirname "$0")/lib.sh"
gfs_require

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
done_testing
