#!/bin/bash
#
# killpriv.sh — setuid/setgid and security.capability on write and
# truncate.  gracefs asks the kernel for FUSE_HANDLE_KILLPRIV_V2
# (fs/daemon/fuseinit.h): the kernel then stops asking for security.capability
# before every write(2) and leaves clearing the bits to the daemon, which
# must do it as the VFS would and keep the kernel's cached mode right.

. "$(dirname "$0")/lib.sh"
gfs_require setpriv getfattr setfattr

gfs_site s1
chmod 777 "$BACKING/s1"
gfs_mount debug
S=$MNT/s1

# mode through the mount (stat asks for the mode alone: a stale cached
# mode would show) and in BACKING
modes() { echo "$(stat -c %a "$S/$1") $(stat -c %a "$BACKING/s1/$1")"; }

as_nobody sh -c "echo a >'$S/f'; chmod 6755 '$S/f'"
check_eq "setuid+setgid set by the owner" "6755 6755" "$(modes f)"
check "a tenant's append" as_nobody sh -c "echo b >>'$S/f'"
check_eq "... cleared setuid and setgid (group execute)" "755 755" "$(modes f)"

as_nobody chmod 4755 "$S/f"
check "a tenant's truncate(2)" et_nobody truncate "$S/f" 1
check_eq "... cleared setuid" "755 755" "$(modes f)"

as_nobody chmod 4755 "$S/f"
check "a tenant's open(O_TRUNC)" et_nobody open "$S/f" w,trunc
check_eq "... cleared setuid" "755 755" "$(modes f)"

as_nobody chmod 4755 "$S/f"
check "a tenant's fallocate" et_nobody fallocate "$S/f" plain 0 8192
check_eq "... cleared setuid" "755 755" "$(modes f)"

as_nobody chmod 2745 "$S/f"
check "a tenant's write to a setgid file without group execute" as_nobody sh -c "echo c >>'$S/f'"
check_eq "... mount and BACKING agree on its mode" \
	"$(stat -c %a "$BACKING/s1/f")" "$(stat -c %a "$S/f")"

echo r >"$S/r"
chmod 6755 "$S/r"
check "root's append" sh -c "echo more >>'$S/r'"
check_eq "... kept setuid and setgid (CAP_FSETID)" "6755 6755" "$(modes r)"
check "root's truncate" et truncate "$S/r" 0
check_eq "... kept them too" "6755 6755" "$(modes r)"

# security.capability goes at any write, root's too
echo c >"$S/cap"
check "setcap (security.capability) as root" \
	setfattr -n security.capability -v 0sAQAAAgAgAAAAAAAAAAAAAAAAAAA= "$S/cap"
check "... readable" sh -c "getfattr -n security.capability '$S/cap' >/dev/null 2>&1"
check "root's append to it" sh -c "echo x >>'$S/cap'"
check_not "... removed security.capability (mount)" sh -c "getfattr -n security.capability '$S/cap' >/dev/null 2>&1"
check_not "... and in BACKING" sh -c "getfattr -n security.capability '$BACKING/s1/cap' >/dev/null 2>&1"

# what the flag buys: one security.capability question per inode, not
# one per write(2) (libfuse's debug log counts the requests)
getx() { grep -c 'opcode: GETXATTR' "$GFS_LOG"; }
echo >"$S/w"
before=$(getx)
steps=()
for i in $(seq 20); do steps+=("write:$i"); done
check "20 write(2)s through one open file" et fd "$S/w" w,append "${steps[@]}"
after=$(getx)
check "... asked security.capability at most twice, not 20 times ($((after - before)))" \
	test $((after - before)) -le 2
check_eq "... all written (1 + 9 x 1 + 11 x 2 bytes)" 32 "$(stat -c %s "$BACKING/s1/w")"

check "clean unmount" gfs_umount

# the same through clone_fd: each worker reads its own clone of the FUSE
# device, through the daemon's device I/O (fs/daemon/fuseio.c)
gfs_mount debug clone_fd
echo >"$S/w2"
before=$(getx)
check "clone_fd: 20 write(2)s through one open file" et fd "$S/w2" w,append "${steps[@]}"
check "... asked security.capability at most twice ($(( $(getx) - before )))" \
	test $(( $(getx) - before )) -le 2
check_eq "... all written" 32 "$(stat -c %s "$BACKING/s1/w2")"
check "clean unmount" gfs_umount
done_testing
