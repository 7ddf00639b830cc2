#!/bin/bash
#
# journal.sh — issue 11 item 9: under systemd the daemon's stderr is the
# journal; lines then carry sd-daemon(3) "<N>" priority prefixes so that
# LOG_CRIT stays critical.  Only when JOURNAL_STREAM names stderr's own
# device:inode; otherwise plain lines.
#
# lib.sh sends the daemon's stderr to GFS_LOG, so JOURNAL_STREAM set to
# GFS_LOG's dev:ino makes that file "the journal".

. "$(dirname "$0")/lib.sh"
gfs_require stat
gfs_site s1

export JOURNAL_STREAM=$(stat -c '%d:%i' "$GFS_LOG")
gfs_mount
wait_until 10 grep -q serving "$GFS_LOG"   # logged just after the mount shows
check_match "stderr is the journal: '<6>' (info) before the serving line" \
	'^<6>gracefs: serving ' "$(grep 'serving' "$GFS_LOG")"
gfs_umount
check "no line without a prefix" test -z "$(grep -v -e '^###' -e '^<[0-7]>' "$GFS_LOG")"

: >"$GFS_LOG"
export JOURNAL_STREAM=1:2   # some other stream: a child that kept the variable
gfs_mount
wait_until 10 grep -q serving "$GFS_LOG"
check_match "stderr is not that stream: plain lines" '^gracefs: serving ' \
	"$(grep 'serving' "$GFS_LOG")"
gfs_umount
unset JOURNAL_STREAM
done_testing
