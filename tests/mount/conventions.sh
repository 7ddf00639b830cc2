#!/bin/bash
#
# conventions.sh — issue 19, item 7 (the parts built): gracectl -V,
# per-verb --help, --execute=TOKEN, options after positionals (find PAT
# --site S), ls --bogus is an unknown option, status exits 3 when the
# daemon is not running, the daemon logs a line when it stops (and its
# metrics say gracefs_up 0; gracefs_build_info names the version), and
# BACKING/lost+found is not a site.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gctl_lib.sh"

gfs_site s1
mkdir -m 0700 "$BACKING/lost+found"
PROM=$GFS_TMP/gracefs.prom
gfs_mount op_gap=1s,"metrics=$PROM"
rc_of() { "$@" >/dev/null 2>&1; echo $?; }

check_match "-V prints the version" '^gracectl [0-9]' "$(gctl -V)"
check_eq "-V: rc 0" 0 "$(rc_of gctl -V)"
check_match "undo --help: undo's usage" '^usage: gracectl undo ' "$(gctl undo --help)"
check_eq "undo --help: one usage, not the whole list" 0 "$(gctl undo --help | grep -c '^  ls')"
check_eq "ls --bogus: rc 2" 2 "$(rc_of gctl ls --bogus)"
check_match "ls --bogus: an unknown option, not an unknown site" "unknown option '--bogus'" \
	"$(gctl ls --bogus 2>&1)"
check_eq "lost+found is not a site" '["s1"]' "$(gctl --json site ls | pyj '[r["site"] for r in d]')"

echo hello >"$MNT/s1/page.html"
T=$(date -u +@%s)
rm "$MNT/s1/page.html"
check "the op is closed" wait_until 30 all_closed
check_match "find PAT --site S (option after the pattern)" "s1 +page.html" \
	"$(gctl find page.html --site s1)"
token=$(gctl --json undo --since "$T" | pyj 'd["token"]')
check "undo --execute=TOKEN" gctl undo --since "$T" --execute="$token"
check_eq "the file is back" hello "$(cat "$MNT/s1/page.html")"

check_eq "status with the daemon running: rc 0" 0 "$(rc_of gctl status)"
check "metrics: gracefs_up 1 while it serves" wait_until 10 grep -qx 'gracefs_up 1' "$PROM"
check_match "metrics: gracefs_build_info names the version" '^gracefs_build_info\{version="[0-9]' \
	"$(grep '^gracefs_build_info' "$PROM")"
gfs_umount
check_eq "status with the daemon stopped: rc 3 (as systemctl status)" 3 "$(rc_of gctl status)"
check_match "... and still reports" "not running" "$(gctl status 2>&1)"
check_match "the daemon logged that it stopped" "stopped serving .* unmounted" "$(cat "$GFS_LOG")"
check_eq "metrics: its last write says gracefs_up 0" "gracefs_up 0" "$(grep '^gracefs_up' "$PROM")"

done_testing
