#!/bin/bash
#
# quota.sh — a tenant writing through the mount cannot use the backing
# filesystem's reserved blocks (issue 10, item 6; docs/isolation.md).
#
# BACKING is a small ext4 image made here (mkfs.ext4 -m 5) on a loop
# device.  The daemon keeps no CAP_SYS_RESOURCE after start-up and writes a
# tenant's data with the tenant's fsuid (ext4 gives its reserve to fsuid 0
# as well as to CAP_SYS_RESOURCE), so a tenant filling the disk gets ENOSPC
# with the reserve intact, while root through the mount still has it.

. "$(dirname "$0")/lib.sh"
gfs_require setpriv mkfs.ext4 losetup tune2fs dd

BOB=2002
[ -e /dev/loop-control ] || skip_all "no loop devices (/dev/loop-control missing)"
truncate -s 48M "$GFS_TMP/ext4.img" || skip_all "cannot create an image file"
mkfs.ext4 -q -F -m 5 "$GFS_TMP/ext4.img" || skip_all "mkfs.ext4 failed"
mount -o loop "$GFS_TMP/ext4.img" "$BACKING" 2>/dev/null ||
	skip_all "cannot mount a loop device here"
loop_cleanup() {
	local rc=$?
	[ -n "$GFS_PID" ] && gfs_umount
	mountpoint -q "$BACKING" && umount "$BACKING"
	(exit "$rc")
	_gfs_cleanup
}
trap loop_cleanup EXIT

reserved=$(tune2fs -l "$GFS_TMP/ext4.img" | awk -F: '/^Reserved block count/ { print $2 + 0 }')
bsize=$(tune2fs -l "$GFS_TMP/ext4.img" | awk -F: '/^Block size/ { print $2 + 0 }')
check "the image reserves blocks for root ($reserved of $bsize bytes)" test "${reserved:-0}" -gt 100

# fill NAME DESC — bob's dd into site1/NAME until the disk is full: it must
# end with ENOSPC, having written most of the 48M disk.
fill() {
	local out
	out=$(setpriv --reuid=$BOB --regid=$BOB --clear-groups -- \
		timeout 300 dd if=/dev/zero of="$MNT/site1/$1" bs=64k 2>&1)
	check_match "$2: ENOSPC" 'No space left on device' "$out"
	check "$2: after writing most of the disk (> 20 MiB)" \
		test "$(stat -c %s "$BACKING/site1/$1")" -gt 20971520
}

gfs_site site1
chown "$BOB:$BOB" "$BACKING/site1"
gfs_mount
caps=$(awk '/^CapEff/ { print $2 }' "/proc/$GFS_PID/status")
bnd=$(awk '/^CapBnd/ { print $2 }' "/proc/$GFS_PID/status")
check "the daemon has no CAP_SYS_RESOURCE (CapEff $caps)" test $(( 0x$caps >> 24 & 1 )) -eq 0
check "... nor can it get it back (CapBnd $bnd)" test $(( 0x$bnd >> 24 & 1 )) -eq 0
check "... nor CAP_SYS_PTRACE, CAP_NET_ADMIN, CAP_SYS_MODULE" \
	test $(( 0x$bnd >> 19 & 1 )) -eq 0 -a $(( 0x$bnd >> 12 & 1 )) -eq 0 -a $(( 0x$bnd >> 16 & 1 )) -eq 0

# Without the writeback cache (the default) the write(2) that does not fit
# fails.
fill fill "bob writes until the disk is full"
sync
free=$(stat -f -c %f "$BACKING")
avail=$(stat -f -c %a "$BACKING")
diag "after bob's fill: $free blocks free, $avail available to users, $reserved reserved"
check "next to nothing left for users ($avail blocks: ext4's own slack)" test "$avail" -lt $((reserved / 10))
check "the reserve is intact (free $free >= 95% of $reserved)" test $((free * 100)) -ge $((reserved * 95))
check "root through the mount can still write into the reserve" \
	dd if=/dev/zero of="$MNT/site1/root-emergency" bs=64k count=4 status=none
check_eq "... and it is there" 262144 "$(stat -c %s "$BACKING/site1/root-emergency")"

# The same fill with the writeback cache: dd's write(2)s return from the
# page cache; the background WRITE that finds the disk full fails the next
# one (fs/daemon/wberr.c), so dd ends rather than writing forever.
check "unmount" gfs_umount
rm -rf "$BACKING/site1/fill" "$BACKING/site1/root-emergency" "$BACKING/site1/.trash"/*
check "mount with -o writeback" gfs_mount writeback
fill fill2 "writeback: bob's dd ends so too"
sync
free=$(stat -f -c %f "$BACKING")
check "writeback: the reserve is intact" test $((free * 100)) -ge $((reserved * 95))
check "clean unmount" gfs_umount
done_testing
