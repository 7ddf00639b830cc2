#!/bin/bash
#
# edges.sh — regressions from the code review: hard links and trash,
# umask of .trash, swaps with RENAME_EXCHANGE, setuid bits of a non-root
# creator, a corrupt index at startup, many short-lived deleting processes.

. "$(dirname "$0")/lib.sh"
gfs_require setpriv

gfs_site s1 s2
chmod 777 "$BACKING/s1"
gfs_mount op_gap=1s
S=$MNT/s1

# every name of a file in trash: nothing may change it through the trash
echo precious >"$S/p1"
ln "$S/p1" "$S/p2"
rm "$S/p1" "$S/p2"
op=$(ls "$S/.trash" | tail -n 1)
check_errno "write-open of a trashed hard link" EPERM et open "$(mnt_op s1 "$op")/p1" w,trunc
check_errno "chmod of the other trashed link" EPERM et chmod "$(mnt_op s1 "$op")/p2" 0
check_eq "its content is intact" precious "$(cat "$BACKING/s1/.trash/$op/p2")"

# one link removed, the other live: it still works as on ext4
echo a >"$S/a"
ln "$S/a" "$S/b"
rm "$S/b"
check "ln of the surviving name" ln "$S/a" "$S/c"
check "append through the surviving name" sh -c "echo more >>'$S/a'"
check_eq "the appended content" "a more" "$(tr '\n' ' ' <"$S/c" | sed 's/ $//')"

# .trash is 0755 whatever umask the request thread last used
(umask 077; touch "$S/x")
mkdir "$MNT/s3"
ls "$MNT/s3/.trash" >/dev/null
check_eq ".trash mode of a new site" 755 "$(stat -c %a "$BACKING/s3/.trash")"

# swaps
mkdir "$S/dd"
check_errno "RENAME_EXCHANGE of a dir with a site" EPERM et rename_exchange "$S/dd" "$MNT/s2"
check "nothing moved: s2 at the root, dd in s1" test -d "$BACKING/s2" -a -d "$BACKING/s1/dd"

# setuid asked for by a non-root creator survives the chown
mode=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
	sh -c "umask 022; $ERRNOTOOL open '$S/suid' creat,w 4755 >/dev/null; stat -c %a '$S/suid'")
check_eq "setuid bit of a file nobody created" 4755 "$mode"
check_eq "... owned by nobody" 65534 "$(stat -c %u "$BACKING/s1/suid")"

# many deleting processes, one file each: bounded fds in the daemon
mkdir "$S/many"
for i in $(seq 300); do : >"$S/many/f$i"; done
check "300 rm processes, one file each" sh -c "for f in '$S'/many/*; do rm \"\$f\" || exit 1; done"
fds=$(ls /proc/"$GFS_PID"/fd | wc -l)
check "the daemon holds a bounded number of fds ($fds)" test "$fds" -lt 300
check "clean unmount" gfs_umount

# a corrupt index is moved aside and rebuilt from the backing store
head -c 65536 /dev/urandom >"$BACKING/.gracefs/index/data.mdb"
check "mount with a corrupt index" gfs_mount op_gap=1s
check "the damaged index kept aside" sh -c "ls -d '$BACKING'/.gracefs/index.corrupt-* >/dev/null"
check_eq "the ops are all there again" "$(ls "$BACKING/s1/.trash" | wc -l)" \
	"$(getfattr --only-values -n user.gracefs.ops "$S/.trash")"
check "clean unmount" gfs_umount
done_testing
