#!/bin/bash
#
# demo_safety.sh — issue 11 item 11: scripts/demo.sh --stop never stops or
# deletes a demo it did not start.  GRACEFS_DEMO_DIR points it at this
# test's directory, whose backing/ and mnt/ are lib.sh's BACKING and MNT.
#   - a directory without the demo's marker, or a symlink: refused, intact
#   - a gracefs mounted there by someone else (no pid file, or a pid file
#     naming another process): refused, still mounted
#   - the gracefs whose PID the pid file names, serving exactly that
#     backing store at that mountpoint: stopped

. "$(dirname "$0")/lib.sh"
gfs_require flock
DEMO_SH=$GFS_REPO/scripts/demo.sh
[ -x "$DEMO_SH" ] || skip_all "no scripts/demo.sh"

demo_stop() { GRACEFS_DEMO_DIR=$GFS_TMP "$DEMO_SH" --stop; }
gfs_site s1
echo keep >"$BACKING/s1/file"

# no marker: not a demo
out=$(demo_stop 2>&1)
check_eq "no marker: refused (exit 1)" 1 "$(demo_stop >/dev/null 2>&1; echo $?)"
check_match "and says why" "not made by scripts/demo.sh" "$out"
check_eq "nothing deleted" keep "$(cat "$BACKING/s1/file")"

# a symlink to it
ln -s "$GFS_TMP" "$GFS_TMP.link"
check_eq "a symlink: refused" 1 "$(GRACEFS_DEMO_DIR=$GFS_TMP.link "$DEMO_SH" --stop >/dev/null 2>&1; echo $?)"
rm -f "$GFS_TMP.link"

# marker present, but the mount is someone else's
echo "made by a test" >"$GFS_TMP/.gracefs-demo"
gfs_mount
out=$(demo_stop 2>&1)
check_match "a gracefs it did not start: refused" "not by a gracefs this script started" "$out"
check "still mounted" gfs_mounted
sleep_pid=
sleep 300 3>&- & sleep_pid=$!
GFS_BG_PIDS+=("$sleep_pid")
echo "$sleep_pid" >"$GFS_TMP/gracefs.pid"
check_eq "a pid file naming another process: refused" 1 "$(demo_stop >/dev/null 2>&1; echo $?)"
check "still mounted" gfs_mounted
check "and that process was not signalled" kill -0 "$sleep_pid"
kill "$sleep_pid"

# the daemon it started (pid file = this gracefs, same backing and mnt)
echo "$GFS_PID" >"$GFS_TMP/gracefs.pid"
check "its own demo: stopped" demo_stop
check "unmounted" eval '! gfs_mounted'
check "the daemon exited" wait_until 10 eval '! _pid_alive "$GFS_PID"'
wait "$GFS_PID" 2>/dev/null
GFS_PID=
check_eq "--stop deletes nothing" keep "$(cat "$BACKING/s1/file")"
done_testing
