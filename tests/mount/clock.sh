#!/bin/bash
#
# clock.sh — clock safety through a real mount (SPEC "Clock safety"; issue 8
# item 6): no wall-clock error makes an op expire before it has existed for
# its retention as measured by elapsed time.  The daemon runs under
# libfaketime (Debian `faketime`) with DONT_FAKE_MONOTONIC=1, so its wall
# clock is whatever $GFS_TMP/faketime says while CLOCK_BOOTTIME stays real.
#
#  a. The wall clock is already 3 h ahead when the daemon starts: an op
#     with 1 h retention deleted before is not purged.
#  b. Creeping: +50 min every couple of seconds, 6 times (5 h): a 1 h op
#     deleted just before is not purged; the operator gets a notice.
#  c. Ops deleted while the clock was 2 h behind, then the clock set right
#     (restart with a true clock): not purged.
#  d. A backward jump of a day while running: nothing is delayed beyond its
#     elapsed retention (a 3 s op still goes).
#
# "Not purged" is shown with witnesses: site w has a 2 s retention; a witness
# op deleted after the clock error is purged by the sweeper (so it ran past
# the moment the bug would have struck) while the 1 h op stays.  Mounted
# with retention=1h,min_retention=1s,sweep_interval=1s,op_gap=1s.

. "$(dirname "$0")/lib.sh"
gfs_require getfattr setfattr
[ -x "$GRACECTL" ] || skip_all "gracectl not found at $GRACECTL"
LIBFT=
for f in /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 \
	/usr/lib/*/faketime/libfaketimeMT.so.1 /usr/lib/faketime/libfaketimeMT.so.1; do
	[ -e "$f" ] && { LIBFT=$f; break; }
done
[ -n "$LIBFT" ] || skip_all "libfaketime is not installed (Debian package faketime)"

REAL_GRACEFS=$GRACEFS
FT=$GFS_TMP/faketime
echo "+0" >"$FT"
cat >"$GFS_TMP/gracefs-faked" <<EOF
#!/bin/sh
exec env LD_PRELOAD="$LIBFT" DONT_FAKE_MONOTONIC=1 FAKETIME_TIMESTAMP_FILE="$FT" \
	ASAN_OPTIONS="\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}verify_asan_link_order=0" \
	FAKETIME_CACHE_DURATION=1 "$REAL_GRACEFS" "\$@"
EOF
chmod +x "$GFS_TMP/gracefs-faked"
faked() { GRACEFS=$GFS_TMP/gracefs-faked; }
honest() { GRACEFS=$REAL_GRACEFS; }
# set_clock OFFSET — the faked daemon's wall clock offset (libfaketime syntax)
set_clock() { echo "$1" >"$FT"; }

gctl() { "$GRACECTL" -b "$BACKING" "$@"; }
xa() { getfattr --only-values --absolute-names -n "user.gracefs.$2" -- "$1" 2>/dev/null; }
OPTS=retention=1h,min_retention=1s,sweep_interval=1s,op_gap=1s
WAIT=30

gfs_site a b c d w

# delete SITE NAME — create SITE/NAME with a file, rm -rf it; prints the op
delete() {
	local before
	before=$(trash_op_dirs "$1")
	mkdir "$MNT/$1/$2" && echo "$2" >"$MNT/$1/$2/f"
	rm -rf "$MNT/$1/$2"
	new_op "$1" "$before"
}
bk_gone() { [ ! -e "$(bk_op "$1" "$2")" ]; }
bk_present() { [ -d "$(bk_op "$1" "$2")" ]; }
# witness — an op in site w (2 s retention) that the sweeper must purge
witness() {
	local op
	op=$(delete w "wit$RANDOM")
	check "witness op $op purged: the sweeper ran" wait_until "$WAIT" bk_gone w "$op"
}

faked
gfs_mount "$OPTS"
check "site w retention 2s" setfattr -n user.gracefs.retention -v 2s "$MNT/w/.trash"
check "the daemon's wall clock is faked" test -n "$(tr '\0' '\n' </proc/$GFS_PID/environ | grep -a '^LD_PRELOAD=.*faketime')"
witness

# ---------------------------------------------------------------------------
# a. 3 h ahead from the start

opA=$(delete a tree)
check_eq "op a carries 1h" 1h "$(xa "$(mnt_op a "$opA")" retention)"
check "unmount" gfs_umount
check "the trusted clock was saved" grep -qE '^gracefs-clock 1 [0-9]+ [0-9a-f]{8}$' \
	"$BACKING/.gracefs/clock"
set_clock "+3h"
gfs_mount "$OPTS"
witness
check "a: 3 h ahead at start: the 1 h op stays" bk_present a "$opA"
check_eq "a: and stays in the index" 1 "$(xa "$MNT/a/.trash" ops)"

# ---------------------------------------------------------------------------
# b. creeping: +50 min every 2 s

opB=$(delete b tree)
off=180
for i in 1 2 3 4 5 6; do
	off=$((off + 50))
	set_clock "+${off}m"
	nap 2
done
witness
check "b: after 5 h of creeping jumps the 1 h op stays" bk_present b "$opB"
check "b: the skew is reported" grep -q "wall clock moved .* more than elapsed time" "$GFS_LOG"
st=$(gctl status 2>&1)
skew=$(sed -n 's/^ *clock_skew_s: *\([-0-9]*\).*/\1/p' <<<"$st" | head -n 1)
if [ -n "$skew" ] && [ "$skew" -ge 17000 ]; then
	pass "b: gracectl status shows the skew ($skew s)"
else
	fail "b: gracectl status shows the skew" "$st"
fi

# ---------------------------------------------------------------------------
# c. deleted 2 h behind, then the clock is set right

check "unmount" gfs_umount
set_clock "-2h"
gfs_mount "$OPTS"
opC=$(delete c tree)
check "unmount" gfs_umount
honest
gfs_mount "$OPTS"
witness
check "c: deleted 2 h behind, clock fixed: the 1 h op stays" bk_present c "$opC"
check "c: the a and b ops stay too" eval 'bk_present a "$opA" && bk_present b "$opB"'

# ---------------------------------------------------------------------------
# d. a backward jump of a day while running delays nothing

check "unmount" gfs_umount
faked
set_clock "+0"
gfs_mount "$OPTS"
check "site d retention 3s" setfattr -n user.gracefs.retention -v 3s "$MNT/d/.trash"
t0=$(date +%s.%N)
opD=$(delete d tree)
set_clock "-1d"
check "d: a day back: the 3 s op still goes" wait_until "$WAIT" bk_gone d "$opD"
t1=$(date +%s.%N)
el=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }')
diag "d: purged after $el ms"
check "d: but not before its 3 s" test "$el" -ge 3000
check "d: the 1 h ops stay" eval 'bk_present a "$opA" && bk_present b "$opB" && bk_present c "$opC"'
check "clean unmount" gfs_umount
done_testing
