#!/bin/bash
#
# limits.sh — a tree far larger than the daemon's open-file limit works.
#
# gracefs keeps a file handle, not an fd, per inode the kernel knows, so
# the daemon runs here with RLIMIT_NOFILE 64 while the kernel caches 3,000
# inodes of ours; create, a cold stat walk, rm -rf and restore all work, and
# the daemon never holds more than a handful of fds.

. "$(dirname "$0")/lib.sh"
gfs_require prlimit

N_DIRS=30
PER_DIR=100
N=$((N_DIRS * PER_DIR))
gfs_site site1
gfs_mount
check "RLIMIT_NOFILE of the daemon lowered to 64" prlimit --nofile=64:64 --pid "$GFS_PID"

T=$MNT/site1/tree
mkdir "$T"
ok=1
for ((d = 0; d < N_DIRS; d++)); do
	mkdir "$T/d$d" || ok=0
	for ((i = 0; i < PER_DIR; i++)); do
		printf '%d/%d\n' "$d" "$i" >"$T/d$d/f$i" || { ok=0; break; }
	done
done
check "$N files created through the mount" test "$ok" -eq 1
check_eq "a stat walk sees all of them" "$N" "$(find "$T" -type f | wc -l)"
check_eq "... with their content" "7/42" "$(cat "$T/d7/f42")"
fds=$(ls /proc/"$GFS_PID"/fd | wc -l)
check "the daemon holds few fds ($fds) while the kernel caches $N inodes" test "$fds" -lt 40

check "rm -rf of the whole tree" rm -rf "$T"
check_absent "tree gone (mount)" "$T"
op=$(only_op site1)
check_eq "all $N files in the trash (backing)" "$N" "$(find "$(bk_op site1 "$op")" -type f | wc -l)"
check "restore with one mv" mv "$(mnt_op site1 "$op")/tree" "$T"
check_eq "all $N files back (mount)" "$N" "$(find "$T" -type f | wc -l)"
check_eq "content intact" "29/99" "$(cat "$T/d29/f99")"
check "the daemon is still alive" _pid_alive "$GFS_PID"
check "clean unmount" gfs_umount
done_testing
