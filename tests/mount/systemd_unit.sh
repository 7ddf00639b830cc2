#!/bin/bash
#
# systemd_unit.sh — scripts/systemd/gracefs@.service.
#
#  1. `systemd-analyze verify` accepts it without a single warning (skipped
#     where systemd-analyze is not installed); and the fstab line that
#     docs/operations.md recommends becomes, through systemd-fstab-generator,
#     a mount unit without ordering cycles.
#  2. Without a running systemd (CI has none), its commands are run the way
#     systemd runs them, with an instance config file: ExecStartPre,
#     ExecStart in the background, ExecStartPost (the readiness wait), then
#     KillSignal to the main PID as `systemctl stop` does with
#     KillMode=mixed.  Then a crash: SIGKILL leaves a dead mount, which
#     ExecStartPre must clear (and must leave a live mount alone) so that
#     Restart=on-failure can mount again.  Needs root and /dev/fuse.

. "$(dirname "$0")/lib.sh"

UNIT=$GFS_REPO/scripts/systemd/gracefs@.service
[ -f "$UNIT" ] || skip_all "unit file not found at $UNIT"

# key KEY — the value of the (last) KEY= line of the unit.
key() { sed -n "s/^$1=//p" "$UNIT" | tail -n 1; }

check_eq "LimitNOFILE raised" 1048576 "$(key LimitNOFILE)"
check_eq "Restart=on-failure" on-failure "$(key Restart)"
check_eq "KillMode=mixed (SIGTERM to the daemon only)" mixed "$(key KillMode)"
check_eq "reads /etc/gracefs/<instance>.conf" /etc/gracefs/%i.conf "$(key EnvironmentFile)"
check_match "ExecStart runs gracefs in the foreground" \
	'^gracefs -f -o \$\{OPTIONS\} \$\{BACKING\} \$\{MOUNTPOINT\}$' "$(key ExecStart)"

# ---------------------------------------------------------------------------
# 1. systemd-analyze verify (with the binary of this build in ExecStart, so
#    that verify's "is it executable" check looks at something that exists)

if command -v systemd-analyze >/dev/null; then
	mkdir -m 0755 "$GFS_TMP/units"
	sed "s|^ExecStart=gracefs |ExecStart=$GRACEFS |" "$UNIT" >"$GFS_TMP/units/gracefs@.service"
	out=$(systemd-analyze verify --man=no "$GFS_TMP/units/gracefs@test.service" 2>&1)
	rc=$?
	check_eq "systemd-analyze verify gracefs@test.service: exit status 0" 0 "$rc"
	check_eq "systemd-analyze verify: no warnings about the unit" "" \
		"$(grep -F 'gracefs@' <<<"$out")"
else
	skip "systemd-analyze verify" "systemd-analyze is not installed"
fi

# 1b. fstab lines: what systemd-fstab-generator makes of the line that
#     docs/operations.md recommends, and of one with
#     x-systemd.requires=local-fs.target (fine with nofail only), must verify
#     without an ordering cycle.

GEN=
for g in /usr/lib/systemd/system-generators/systemd-fstab-generator \
	/lib/systemd/system-generators/systemd-fstab-generator; do
	[ -x "$g" ] && { GEN=$g; break; }
done
doc_line=$(grep -E '^ +/srv/backing +/srv/sites +fuse\.gracefs ' \
	"$GFS_REPO/docs/operations.md" | head -n 1 | sed 's/^ *//')
check_match "docs/operations.md has an fstab line" 'fuse\.gracefs' "$doc_line"
n=0
for line in "$doc_line" \
	'/srv/backing /srv/sites fuse.gracefs retention=1d,nofail,x-systemd.requires=local-fs.target 0 0'; do
	n=$((n + 1))
	if [ -z "$GEN" ] || ! command -v systemd-analyze >/dev/null; then
		skip "fstab line $n gives a mount unit without cycles" \
			"systemd-fstab-generator or systemd-analyze is not installed"
		continue
	fi
	d=$GFS_TMP/gen$n
	mkdir -p "$d/out" "$d/units"
	printf '%s\n' "$line" >"$d/fstab"
	SYSTEMD_FSTAB=$d/fstab SYSTEMD_PROC_CMDLINE= "$GEN" "$d/out" "$d/out" "$d/out" 2>>"$GFS_LOG"
	if cp "$d/out/srv-sites.mount" "$d/units/" 2>>"$GFS_LOG"; then
		out=$(systemd-analyze verify --man=no "$d/units/srv-sites.mount" 2>&1)
		rc=$?
		if [ "$rc" -eq 0 ] && ! grep -qi cycle <<<"$out"; then
			pass "fstab line $n gives a mount unit without cycles"
		else
			fail "fstab line $n gives a mount unit without cycles" "$line" "$out"
		fi
	else
		fail "fstab line $n gives a mount unit without cycles" "generator made no unit for: $line"
	fi
done

# ---------------------------------------------------------------------------
# 2. The unit's commands, run as systemd would run them

if [ "$(id -u)" -ne 0 ] || ! { : <>/dev/fuse; } 2>/dev/null || [ ! -x "$GRACEFS" ] ||
	! command -v fusermount3 >/dev/null || ! command -v findmnt >/dev/null; then
	skip "the unit's commands start, stop and recover a mount" \
		"needs root, /dev/fuse, fusermount3, findmnt and the gracefs binary"
	done_testing
fi

cat >"$GFS_TMP/test.conf" <<EOF
BACKING=$BACKING
MOUNTPOINT=$MNT
OPTIONS=retention=2d
EOF
set -a
. "$GFS_TMP/test.conf"
set +a
mkdir -p "$BACKING/wiki/2024"
printf 'start page\n' >"$BACKING/wiki/2024/start.md"

# unit_cmd KEY — print the command of KEY as a bash word list: systemd's
# "-" prefix dropped, "$$" (a literal $ for the shell) made "$", and the
# program "gracefs" pointed at this build.  ${VAR} is then expanded by eval
# from the config, as systemd expands it from EnvironmentFile.
unit_cmd() {
	local c
	c=$(key "$1")
	c=${c#-}
	c=${c//\$\$/\$}
	[[ $c == "gracefs "* ]] && c="$(printf '%q' "$GRACEFS") ${c#gracefs }"
	printf '%s' "$c"
}

# run_unit KEY — run that command in the foreground (what ExecStartPre,
# ExecStartPost do); its exit status.
run_unit() {
	local cmd
	cmd=$(unit_cmd "$1")
	eval "set -- $cmd"
	timeout 60 "$@" 3>&- </dev/null
}

# start — ExecStartPre, ExecStart (background, its PID is $MAINPID),
# ExecStartPost.
start() {
	local cmd
	run_unit ExecStartPre
	cmd=$(unit_cmd ExecStart)
	eval "set -- $cmd"
	echo "### $(date +%T.%N) ExecStart: $*" >>"$GFS_LOG"
	"$@" >>"$GFS_LOG" 2>&1 3>&- </dev/null &
	GFS_PID=$!
	export MAINPID=$GFS_PID
	run_unit ExecStartPost
}

check "start: ExecStartPre, ExecStart, ExecStartPost succeed" start
check "ready means mounted" timeout 5 mountpoint -q "$MNT"
check_eq "serves the sites" "start page" "$(cat "$MNT/wiki/2024/start.md" 2>&1)"
before=$(trash_op_dirs wiki)
check "rm -rf through the mount" rm -rf "$MNT/wiki/2024"
op=$(new_op wiki "$before")
check_match "options from the config file reach gracefs (retention=2d)" \
	'user\.gracefs\.retention="2d"' "$(getfattr -d --absolute-names "$(mnt_op wiki "$op")" 2>&1)"

# systemctl stop: KillSignal to the main process only (KillMode=mixed)
kill -"$(key KillSignal | sed 's/^SIG//')" "$GFS_PID"
if wait_until 10 eval '! _pid_alive "$GFS_PID"'; then
	pass "stop: the daemon exits on KillSignal"
else
	fail "stop: the daemon exits on KillSignal"
	kill -KILL "$GFS_PID"
fi
wait "$GFS_PID" 2>/dev/null
st=$?
GFS_PID=
check_eq "stop: exit status 0 (the unit ends inactive, not failed)" 0 "$st"
check_not "stop: unmounted" gfs_mounted

# A crash, and what Restart=on-failure does next
check "restart after a clean stop" start
GFS_PID_CRASHED=$GFS_PID
check "ExecStartPre leaves a live mount alone" run_unit ExecStartPre
check "still mounted and usable" test -d "$MNT/wiki/.trash/$op"
gfs_kill9_keep() {   # SIGKILL, leaving the dead mount in place
	kill -KILL "$GFS_PID_CRASHED"
	wait_until 10 eval '! _pid_alive "$GFS_PID_CRASHED"'
	wait "$GFS_PID_CRASHED" 2>/dev/null
	GFS_PID=
	return 0
}
gfs_kill9_keep
check "the crash left a dead mount" gfs_mounted
check_not "  (statfs fails on it)" stat -f "$MNT"
check "ExecStartPre clears the dead mount" run_unit ExecStartPre
check_not "  no mount left" gfs_mounted
check "ExecStartPre with nothing mounted is harmless" run_unit ExecStartPre
check "restart mounts again" start
check "the op deleted before the crash is there" test -d "$MNT/wiki/.trash/$op"
check "and restores with mv" mv "$MNT/wiki/.trash/$op/2024" "$MNT/wiki/"
check_eq "restored content" "start page" "$(cat "$MNT/wiki/2024/start.md" 2>&1)"
check "final stop is clean" gfs_umount

done_testing
