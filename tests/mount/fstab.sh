#!/bin/bash
#
# fstab.sh — gracefs mounted the way operators mount filesystems: through
# mount(8) and the mount.fuse3 helper, from the command line with
# `-t fuse.gracefs` and from an fstab line.
#
# How a mount reaches the daemon (see docs/operations.md):
#   mount -t fuse.gracefs BACKING MNT -o OPTS
#     -> /sbin/mount.fuse BACKING MNT -o OPTS' -t fuse.gracefs   (libmount)
#     -> /bin/sh -c "'gracefs' 'BACKING' 'MNT' '-o' 'OPTS'''"  (mount.fuse3)
# mount(8) runs its helper with a cleaned environment (no PATH), so the shell
# finds `gracefs` in its built-in default path (/usr/local/sbin:/usr/local/
# bin:/usr/sbin:/usr/bin:/sbin:/bin) — where `meson install` puts it.  To
# test the build tree without installing anything, this script re-runs
# itself in a private mount namespace and bind-mounts a directory holding a
# `gracefs` symlink to $GRACEFS over /usr/local/sbin there; nothing outside
# the namespace sees it.  Without unshare(1) or namespaces, only the direct
# mount.fuse3 cases run.

if [ -z "$GFS_FSTAB_NS" ]; then
	if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null 2>&1 &&
		unshare -m --propagation private true 2>/dev/null; then
		GFS_FSTAB_NS=1 exec unshare -m --propagation private bash "$0" "$@"
	fi
	export GFS_FSTAB_NS=none
fi

. "$(dirname "$0")/lib.sh"
gfs_require getfattr
MOUNT_FUSE3=$(command -v mount.fuse3 || { [ -x /sbin/mount.fuse3 ] && echo /sbin/mount.fuse3; })
[ -n "$MOUNT_FUSE3" ] || skip_all "mount.fuse3 is not installed (Debian package fuse3)"
command -v mount >/dev/null || skip_all "mount(8) is not installed"

BIN=$GFS_TMP/bin
mkdir -m 0755 "$BIN"
ln -s "$GRACEFS" "$BIN/gracefs"

HELPER_DIR=      # a directory of sh's default PATH showing our gracefs
if [ "$GFS_FSTAB_NS" == 1 ]; then
	for d in /usr/local/sbin /usr/local/bin /usr/sbin; do
		if [ -d "$d" ] && mount --bind "$BIN" "$d" 2>>"$GFS_LOG"; then
			HELPER_DIR=$d
			break
		fi
	done
fi

mkdir -p "$BACKING/acme-shop/htdocs/img" "$BACKING/wiki/2024"
printf '<h1>Acme</h1>\n' >"$BACKING/acme-shop/htdocs/index.html"
printf 'GIF89a' >"$BACKING/acme-shop/htdocs/img/logo.gif"
printf 'page\n' >"$BACKING/wiki/2024/start.md"

# mounted_via_helper DESC — MNT is up as fuse.gracefs with BACKING as its
# source; records the daemon's PID (from the lock file) in GFS_PID so that
# the harness cleans up after it whatever happens.
mounted_via_helper() {
	local desc=$1 fields pid
	fields=$(awk -v m="$MNT" '$2 == m { print $1, $3 }' /proc/self/mounts | tail -n 1)
	check_eq "$desc: mounted as fuse.gracefs from BACKING" "$BACKING fuse.gracefs" "$fields"
	pid=$(head -n 1 "$BACKING/.gracefs/lock" 2>/dev/null)
	if [[ $pid =~ ^[0-9]+$ ]] && _pid_alive "$pid"; then
		GFS_PID=$pid
		diag "$desc: daemon command line: $(tr '\0' ' ' <"/proc/$pid/cmdline")"
	else
		GFS_PID=
		fail "$desc: daemon running (pid in BACKING/.gracefs/lock)" "lock: $pid"
	fi
}

# mount_opts — the options column of MNT in the mount table.
mount_opts() {
	awk -v m="$MNT" '$2 == m { print $4 }' /proc/self/mounts | tail -n 1
}

# has_opts OPT... — every OPT is in the options column of MNT.
has_opts() {
	local o all
	all=",$(mount_opts),"
	for o in "$@"; do
		[[ $all == *",$o,"* ]] || { diag "missing $o in $all"; return 1; }
	done
}

# delete_restore DESC RETENTION — rm -rf a directory, check the op in trash
# (with that retention), mv it back.
delete_restore() {
	local desc=$1 ret=$2 before op want
	want=$(tree_manifest "$BACKING/acme-shop")
	before=$(trash_op_dirs acme-shop)
	check "$desc: rm -rf through the mount" rm -rf "$MNT/acme-shop/htdocs"
	op=$(new_op acme-shop "$before")
	check_trashed "$desc: deleted tree" acme-shop "$op" htdocs/index.html
	check_match "$desc: op retention is $ret" "user\\.gracefs\\.retention=\"$ret\"" \
		"$(getfattr -d --absolute-names "$(mnt_op acme-shop "$op")" 2>&1)"
	check "$desc: mv restores it" mv "$(mnt_op acme-shop "$op")/htdocs" "$MNT/acme-shop/"
	check_same_text "$desc: tree back as it was" "$want" "$(tree_manifest "$BACKING/acme-shop")"
}

# unmount_helper DESC CMD... — unmount with CMD; the mount goes and the
# daemon (not our child: mount.fuse3 started it) exits within 10 s.
unmount_helper() {
	local desc=$1
	shift
	check "$desc: $*" "$@"
	if gfs_mounted; then
		fail "$desc: mount gone"
		fusermount3 -u "$MNT" 2>>"$GFS_LOG" || umount -l "$MNT"
	else
		pass "$desc: mount gone"
	fi
	if [ -n "$GFS_PID" ]; then
		if wait_until 10 eval '! _pid_alive "$GFS_PID"'; then
			pass "$desc: daemon exited"
			GFS_PID=
		else
			fail "$desc: daemon exited"
		fi
	fi
}

# ---------------------------------------------------------------------------
# mount -t fuse.gracefs and an fstab line, through mount(8)

if [ -z "$HELPER_DIR" ]; then
	if [ "$GFS_FSTAB_NS" == 1 ]; then
		why="cannot bind-mount a helper directory in the private namespace"
	else
		why="no private mount namespace (unshare -m) to place gracefs on mount's helper PATH"
	fi
	skip "mount -t fuse.gracefs through mount(8)" "$why"
	skip "fstab line through mount(8)" "$why"
else
	found=$(env -i /bin/sh -c 'command -v gracefs')
	check_eq "the helper's shell finds gracefs in its default PATH" \
		"$HELPER_DIR/gracefs" "$found"

	echo "### $(date +%T.%N) mount -t fuse.gracefs" >>"$GFS_LOG"
	check "mount -t fuse.gracefs -o retention=1d,allow_other,nofail" \
		mount -t fuse.gracefs "$BACKING" "$MNT" -o retention=1d,allow_other,nofail
	mounted_via_helper "mount -t"
	check "mount -t: allow_other and default_permissions in effect" \
		has_opts allow_other default_permissions
	delete_restore "mount -t" 1d
	unmount_helper "mount -t" umount "$MNT"

	# The line from the brief, then one with everything an fstab line for
	# a storage node tends to carry.
	FSTAB=$GFS_TMP/fstab
	printf '# test fstab\n%s %s fuse.gracefs %s 0 0\n' "$BACKING" "$MNT" \
		'retention=1d,nofail,x-systemd.requires=local-fs.target' >"$FSTAB"
	echo "### $(date +%T.%N) mount -T $FSTAB $MNT" >>"$GFS_LOG"
	check "fstab line (retention=1d,nofail,x-systemd.requires=...): mount -T FSTAB MNT" \
		mount -T "$FSTAB" "$MNT"
	mounted_via_helper "fstab"
	delete_restore "fstab" 1d
	check_eq "mount(8) kept userspace options out of the kernel's list" "" \
		"$(mount_opts | tr ',' '\n' | grep -E '^(x-|nofail|_netdev|comment=)')"
	unmount_helper "fstab" umount "$MNT"

	opts='defaults,_netdev,nofail,noatime,nosuid,nodev,retention=2d,op_gap=5s'
	opts+=',x-systemd.requires=local-fs.target,x-systemd.mount-timeout=30,comment=gracefs'
	printf '%s %s fuse.gracefs %s 0 0\n' "$BACKING" "$MNT" "$opts" >"$FSTAB"
	check "fstab line with defaults,_netdev,noatime,nosuid,nodev,x-systemd.*,comment=: mount -a" \
		mount -a -T "$FSTAB" -t fuse.gracefs
	mounted_via_helper "fstab mount -a"
	check "fstab mount -a: noatime,nosuid,nodev in effect" has_opts noatime nosuid nodev
	delete_restore "fstab mount -a" 2d
	unmount_helper "fstab mount -a" umount "$MNT"
fi

# ---------------------------------------------------------------------------
# The helper on its own: mount.fuse3 as mount(8) (or systemd's mount unit)
# calls it, gracefs found on PATH.

echo "### $(date +%T.%N) mount.fuse3" >>"$GFS_LOG"
check "mount.fuse3 BACKING MNT -t fuse.gracefs -o rw,retention=1d,allow_other" \
	env PATH="$BIN:$PATH" "$MOUNT_FUSE3" "$BACKING" "$MNT" -t fuse.gracefs \
	-o rw,retention=1d,allow_other
mounted_via_helper "mount.fuse3"
delete_restore "mount.fuse3" 1d
unmount_helper "mount.fuse3" fusermount3 -u "$MNT"

check_not "a bad option fails the mount with an error" \
	env PATH="$BIN:$PATH" "$MOUNT_FUSE3" "$BACKING" "$MNT" -t fuse.gracefs \
	-o retention=forever
check_not "and leaves nothing mounted" gfs_mounted

done_testing
