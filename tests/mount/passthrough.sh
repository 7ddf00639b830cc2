#!/bin/bash
#
# passthrough.sh — issue 22: kernel FUSE passthrough (docs/design.md,
# "Data path").  Opens that cannot change existing bytes are served by the
# kernel from the backing file, with no READ or WRITE request to the
# daemon (libfuse's debug log counts the requests); everything that must
# be seen still reaches the daemon:
#
#   1  status and metrics say passthrough is on; a new file's writes and
#      every read of it (read(2), mmap) send no READ/WRITE
#   2  a write to a file with content goes through the daemon; one that
#      meets a passthrough reader is preserved first (the old bytes in
#      trash), and so is a truncation while readers hold the file
#   3  rm and restore with a passthrough fd held: it keeps reading, the
#      trash name reads and stays read-only, mv restores the data
#   4  setuid: a tenant's write clears it as on ext4 (daemon path)
#   5  -o writeback: SEEK_DATA/SEEK_HOLE see unwritten-back data
#   6  -o passthrough=off: status says why, reads reach the daemon
#   7  unmount and kill -9 with passthrough files open; remount
#
# Skips when the kernel offers no passthrough (Linux < 6.9).

. "$(dirname "$0")/lib.sh"
gfs_require setpriv python3
: "${GRACECTL:=$GFS_REPO/build/fs/gracectl}"
[ -x "$GRACECTL" ] || skip_all "gracectl binary not found at $GRACECTL"
gctl() { "$GRACECTL" -b "$BACKING" "$@"; }

gfs_site s1
chmod 0777 "$BACKING/s1"
gfs_mount debug,op_gap=1s,metrics=$GFS_TMP/metrics.prom
S=$MNT/s1
B=$BACKING/s1

# requests of one opcode the daemon has answered so far
req() { grep -c "opcode: $1 (" "$GFS_LOG"; }
status() { gctl status | sed -n "s/^$1: *//p"; }
md5() { md5sum <"$1" | cut -d' ' -f1; }

wait_until 10 eval '[ -n "$(status passthrough)" ]'
st=$(status passthrough)
if [[ $st == *"does not offer"* ]]; then
	skip_all "the kernel does not offer FUSE passthrough ($(uname -r))"
fi

# --- 1: status, metrics, requests ---------------------------------------
check_eq "status: passthrough on" "on" "$st"
wait_until 10 grep -q '^gracefs_passthrough 1$' "$GFS_TMP/metrics.prom"
check "metrics: gracefs_passthrough 1" grep -q '^gracefs_passthrough 1$' "$GFS_TMP/metrics.prom"

w0=$(req WRITE) r0=$(req READ)
check "a tenant writes a new 8 MiB file" \
	as_nobody dd if=/dev/urandom of="$S/new" bs=1M count=8 conv=fsync status=none
check_eq "... no WRITE reached the daemon" "$w0" "$(req WRITE)"
check_eq "... BACKING has its bytes" "$(md5 "$B/new")" "$(md5 "$S/new")"
echo 3 >/proc/sys/vm/drop_caches
check "a cold read of it" sh -c "cat '$S/new' >/dev/null"
check "an mmap read of it" python3 -c "
import mmap, sys
with open(sys.argv[1], 'rb') as f:
    m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
    sys.exit(0 if len(m[:]) == 8 << 20 else 1)" "$S/new"
check_eq "... no READ reached the daemon" "$r0" "$(req READ)"
check_match "status counts the passthrough opens" 'passthrough=[1-9]' "$(status opens)"

# --- 2: writes to content stay seen --------------------------------------
printf 'old content\n' >"$B/c"
w0=$(req WRITE)
check "a write into a file with content (no truncation)" \
	sh -c "printf NEW | dd of='$S/c' conv=notrunc status=none"
check "... reached the daemon" test "$(req WRITE)" -gt "$w0"
check_eq "... landed" "NEW content" "$(cat "$S/c")"

printf 'held content\n' >"$B/h"
exec 7<"$S/h"                      # a passthrough reader
before=$(trash_op_dirs s1)
check "an overwrite while a passthrough reader holds the file" \
	sh -c "printf XXXX | dd of='$S/h' conv=notrunc status=none"
op=$(new_op s1 "$before")
check_eq "... the old bytes were preserved first" "held content" "$(cat "$(bk_op s1 "$op")/h")"
check_eq "... the reader sees the new bytes" "XXXX content" "$(cat <&7)"
before=$(trash_op_dirs s1)
check "a truncation while it is held" sh -c ": >'$S/h'"
op=$(new_op s1 "$before")
check_eq "... preserved" "XXXX content" "$(cat "$(bk_op s1 "$op")/h")"
exec 7<&-

# --- 3: rm and restore with a passthrough fd held ------------------------
as_nobody sh -c "printf 'keep me\\n' >'$S/k'"
exec 8<"$S/k"
before=$(trash_op_dirs s1)
check "rm of a file held open passthrough" rm "$S/k"
op=$(new_op s1 "$before")
check_eq "... the held fd still reads it" "keep me" "$(cat <&8)"
check_eq "... its trash name reads" "keep me" "$(cat "$(mnt_op s1 "$op")/k")"
check_errno "... and is read-only (O_WRONLY)" EPERM et_nobody open "$(mnt_op s1 "$op")/k" w
check_errno "... (O_RDWR as root)" EPERM et open "$(mnt_op s1 "$op")/k" rw
check "mv restores it" mv "$(mnt_op s1 "$op")/k" "$S/k"
check_eq "... with its data" "keep me" "$(cat "$S/k")"
exec 8<&-

# --- 4: setuid clearing stays the daemon's --------------------------------
as_nobody sh -c "echo a >'$S/su'; chmod 4755 '$S/su'"
check "a tenant appends to its setuid file" as_nobody sh -c "echo b >>'$S/su'"
check_eq "... setuid cleared (mount, BACKING)" "755 755" \
	"$(stat -c %a "$S/su") $(stat -c %a "$B/su")"

# --- 7a: unmount with passthrough files open -------------------------------
gfs_bg sh -c 'exec 5<"$1"; exec sleep 1000' _ "$S/new"
wait_until 10 eval '[ -e /proc/$GFS_BG_PID/fd/5 ]'
check_not "fusermount -u refuses while a passthrough file is open" fusermount3 -u "$MNT"
kill "${GFS_BG_PIDS[-1]}"; wait "${GFS_BG_PIDS[-1]}" 2>/dev/null
check "... and unmounts once it is closed" gfs_umount

# --- 6: -o passthrough=off ------------------------------------------------
gfs_mount debug,passthrough=off
wait_until 10 eval '[ -n "$(status passthrough)" ]'
check_eq "passthrough=off: status says why" "off (-o passthrough=off)" "$(status passthrough)"
r0=$(req READ)
echo 3 >/proc/sys/vm/drop_caches
check "a read" sh -c "cat '$S/new' >/dev/null"
check "... reached the daemon" test "$(req READ)" -gt "$r0"
check_not "a bad passthrough= value is refused" "$GRACEFS" -f -o passthrough=maybe "$BACKING" "$MNT"
check "unmount" gfs_umount

# --- 5: lseek with the writeback cache ------------------------------------
gfs_mount writeback
wait_until 10 eval '[ -n "$(status passthrough)" ]'
check_match "-o writeback: passthrough off, with the reason" '^off \(.*writeback' "$(status passthrough)"
check_eq "SEEK_DATA/SEEK_HOLE on data still in the page cache" "0 8192" "$(python3 -c "
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
os.write(fd, b'x' * 8192)
try:
    print(os.lseek(fd, 0, os.SEEK_DATA), os.lseek(fd, 0, os.SEEK_HOLE))
except OSError as e:
    print(e.strerror)" "$S/seek")"
check "unmount" gfs_umount

# --- 7b: kill -9 with passthrough files open, then remount -----------------
gfs_mount
exec 9<"$S/new"
printf 'fresh\n' >"$S/w"       # closed: in BACKING now
exec 6>>"$S/w2"                # a passthrough writer, open
printf 'partial\n' >&6
check "kill -9 of the daemon with passthrough files open" gfs_kill9
# the kernel may keep serving a passthrough fd of a dead connection, or
# fail it: either way it must not hang
check "... a read of a held fd returns (no hang)" timeout 10 sh -c "cat <&9 >/dev/null; true"
exec 9<&- 6>&-
gfs_mount
check_eq "remount: written files are intact" "fresh" "$(cat "$S/w")"
check_eq "... the killed writer's bytes are there" "partial" "$(cat "$S/w2")"
check_eq "... and the big one" "$(md5 "$B/new")" "$(md5 "$S/new")"
check_eq "... passthrough on again" "on" "$(status passthrough)"
check "unmount" gfs_umount

done_testing
