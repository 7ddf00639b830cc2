#!/bin/bash
#
# signals.sh — how the daemon answers the signals an init system and an
# operator send it.
#
#  * SIGTERM (systemctl stop, plain kill) and SIGINT (^C in the foreground)
#    unmount cleanly: the mount is gone, the daemon exits with status 0, and
#    nothing is lost — a deletion made just before the signal is in the
#    trash in the backing store with its op record (the trusted.gracefs.op
#    xattr), and the next mount finds the index already in step (it has to
#    reconcile nothing).
#  * SIGTERM while a file under the mount is still open also unmounts (the
#    kernel detaches the busy mount).
#  * SIGHUP does not end the daemon (it is the "reopen logs / reread
#    configuration" signal): the mount stays up and keeps soft-deleting.

. "$(dirname "$0")/lib.sh"
gfs_require getfattr

gfs_site site1

# exits_cleanly DESC SIG — send SIG to the daemon (the PID we started) and
# check it unmounts and exits 0 within 10 s.  Leaves GFS_PID empty.
exits_cleanly() {
	local desc=$1 sig=$2 st
	echo "### $(date +%T.%N) kill -$sig $GFS_PID" >>"$GFS_LOG"
	kill -"$sig" "$GFS_PID"
	if wait_until 10 eval '! _pid_alive "$GFS_PID"'; then
		pass "$desc: daemon exits within 10 s"
	else
		fail "$desc: daemon exits within 10 s"
		kill -KILL "$GFS_PID" 2>/dev/null
		wait_until 5 eval '! _pid_alive "$GFS_PID"'
	fi
	wait "$GFS_PID" 2>/dev/null
	st=$?
	GFS_PID=
	check_eq "$desc: exit status 0" 0 "$st"
	if gfs_mounted; then
		fail "$desc: mount gone from the mount table"
		fusermount3 -u "$MNT" 2>>"$GFS_LOG" || umount -l "$MNT"
	else
		pass "$desc: mount gone from the mount table"
	fi
}

# op_record_ok SITE OP — the op directory in the backing store carries a
# non-empty record.
op_record_ok() {
	local v
	v=$(getfattr --absolute-names --only-values -n trusted.gracefs.op \
		-- "$(bk_op "$1" "$2")" 2>/dev/null | head -c 4096 | wc -c)
	[ "$v" -gt 0 ]
}

# remounts_without_reconcile DESC — mount again; the log of this mount must
# not say the index needed reconciling (a clean stop synced it).
remounts_without_reconcile() {
	local mark
	mark=$(wc -l <"$GFS_LOG")
	gfs_mount
	if tail -n +"$((mark + 1))" "$GFS_LOG" | grep -q 'index reconciled'; then
		fail "$1: next mount finds the index in step" \
			"$(tail -n +"$((mark + 1))" "$GFS_LOG" | grep 'index reconciled')"
	else
		pass "$1: next mount finds the index in step"
	fi
}

# ---------------------------------------------------------------------------
# SIGTERM right after a deletion

gfs_mount
printf 'invoice 1001\n' >"$MNT/site1/invoice.txt"
mkdir -p "$MNT/site1/uploads/2025"
for i in 1 2 3; do printf 'photo %s\n' "$i" >"$MNT/site1/uploads/2025/p$i.jpg"; done
s_inv=$(sig "$BACKING/site1/invoice.txt")
before=$(trash_op_dirs site1)
rm -rf "$MNT/site1/uploads" "$MNT/site1/invoice.txt"
exits_cleanly "SIGTERM" TERM

op=$(new_op site1 "$before")
check "file deleted just before SIGTERM is in the backing trash" \
	test -f "$(bk_op site1 "$op")/invoice.txt"
check "tree deleted just before SIGTERM is in the backing trash" \
	test -f "$(bk_op site1 "$op")/uploads/2025/p3.jpg"
check "its op directory carries its record (trusted.gracefs.op)" op_record_ok site1 "$op"

remounts_without_reconcile "after SIGTERM"
check_trashed "file deleted just before SIGTERM" site1 "$op" invoice.txt "$s_inv"
check_eq "the op is listed through the mount after remount" "$op" "$(mnt_op_dirs site1)"
# uploads, uploads/2025, three photos and the invoice
check_match "its metadata reads back with getfattr" 'user\.gracefs\.items="6"' \
	"$(getfattr -d --absolute-names "$(mnt_op site1 "$op")" 2>&1)"
check "the file restores with mv" mv "$(mnt_op site1 "$op")/invoice.txt" "$MNT/site1/"
check_live "restored after SIGTERM" site1 invoice.txt "$s_inv"

# ---------------------------------------------------------------------------
# SIGHUP: the daemon stays

echo "### $(date +%T.%N) kill -HUP $GFS_PID" >>"$GFS_LOG"
kill -HUP "$GFS_PID"
# delivered: no longer pending for the process (ShdPnd bit 0 is SIGHUP); a
# daemon that left its loop on it fails the requests below
hup_pending() { (( 0x$(awk '/^ShdPnd/ { print $2 }' "/proc/$GFS_PID/status" 2>/dev/null || echo 0) & 1 )); }
check "SIGHUP: delivered" wait_until 10 eval '! hup_pending'
if _pid_alive "$GFS_PID"; then
	pass "SIGHUP: daemon still running"
else
	fail "SIGHUP: daemon still running"
	wait "$GFS_PID" 2>/dev/null
	GFS_PID=
fi
check "SIGHUP: still mounted" timeout 5 mountpoint -q "$MNT"
if [ -n "$GFS_PID" ]; then
	printf 'draft\n' >"$MNT/site1/after-hup.txt"
	before=$(trash_op_dirs site1)
	check "SIGHUP: the mount still serves deletes" rm "$MNT/site1/after-hup.txt"
	op=$(new_op site1 "$before")
	check "SIGHUP: that delete went to trash" test -f "$(bk_op site1 "$op")/after-hup.txt"
else
	gfs_mounted && { fusermount3 -u "$MNT" 2>>"$GFS_LOG" || umount -l "$MNT"; }
	gfs_mount
fi

# ---------------------------------------------------------------------------
# SIGINT (^C of a foreground daemon) is a clean stop as well.  A background
# job of a non-interactive shell starts with SIGINT ignored (and libfuse
# leaves an ignored signal alone), so this daemon is started through
# `env --default-signal=INT`, as it would be from a terminal.

gfs_umount || fail "unmount before the SIGINT case was clean"
real_gracefs=$GRACEFS
mkdir -p -m 0755 "$GFS_TMP/bin"
printf '#!/bin/sh\nexec env --default-signal=INT %q "$@"\n' "$real_gracefs" \
	>"$GFS_TMP/bin/gracefs"
chmod 0755 "$GFS_TMP/bin/gracefs"
GRACEFS=$GFS_TMP/bin/gracefs
gfs_mount
GRACEFS=$real_gracefs
printf 'x\n' >"$MNT/site1/int.txt"
before=$(trash_op_dirs site1)
rm "$MNT/site1/int.txt"
exits_cleanly "SIGINT" INT
op=$(new_op site1 "$before")
check "SIGINT: the delete is in the backing trash" test -f "$(bk_op site1 "$op")/int.txt"
check "SIGINT: its op carries its record" op_record_ok site1 "$op"
remounts_without_reconcile "after SIGINT"

# ---------------------------------------------------------------------------
# SIGTERM with a file still open under the mount

printf 'held open\n' >"$MNT/site1/busy.txt"
exec {held}<"$MNT/site1/busy.txt"
exits_cleanly "SIGTERM with a file open" TERM
exec {held}<&-
check_live_bk() { [ "$(cat "$BACKING/site1/busy.txt")" == "held open" ]; }
check "the open file is intact in the backing store" check_live_bk

done_testing
