#!/bin/bash
#
# crash.sh — kill -9 of the daemon in the middle of `rm -rf` loses nothing.
#
# A tree of 5,000 files with distinct contents is deleted with rm -rf; when
# about half of them have left the live tree, the daemon gets SIGKILL.
# After clearing the dead mount and remounting, every one of the 5,000
# contents must be found exactly once, either live or in a trash op — in
# the backing store and through the mount — and the op must be visible.
# A second rm -rf then deletes the rest.

. "$(dirname "$0")/lib.sh"
gfs_require sha256sum

N=5000
PER_DIR=100
gfs_site site1

# The tree is written straight into the backing store before the first
# mount (the backing store is the truth; this is just faster).
B=$BACKING/site1/big
for ((d = 0; d < N / PER_DIR; d++)); do
	mkdir -p "$B/d$d"
done
for ((i = 0; i < N; i++)); do
	printf 'file %d of the crash test %s\n' "$i" "$RANDOM$RANDOM" >"$B/d$((i / PER_DIR))/f$i"
done
for ((i = 0; i < N; i += 1000)); do      # a few larger files too
	head -c 300000 /dev/urandom >>"$B/d$((i / PER_DIR))/f$i"
done
expected=$(content_hashes "$B")
check_eq "$N files with distinct contents prepared" "$N" "$(sort -u <<<"$expected" | wc -l)"

# all_hashes ROOT — contents live below ROOT/site1/big plus in every op
# directory of ROOT/site1/.trash (ROOT is BACKING or MNT).
all_hashes() {
	local root=$1 op lister=trash_op_dirs dirs=("$1/site1/big")
	[ "$root" == "$MNT" ] && lister=mnt_op_dirs
	for op in $($lister site1); do
		dirs+=("$root/site1/.trash/$op")
	done
	content_hashes "${dirs[@]}"
}
live_count() { find "$B" -type f 2>/dev/null | wc -l; }

gfs_mount

# rm -rf in the background; kill the daemon once half the files are gone.
# rm empties and removes one dN directory after the other, so the number of
# directories left (a glob: no fork, cheap enough to poll every 2 ms) tells
# how far it got.
gfs_bg timeout -k 5 180 rm -rf "$MNT/site1/big"
rm_pid=$GFS_BG_PID
killed_mid=
deadline=$((SECONDS + 120))
shopt -s nullglob
while [ "$SECONDS" -lt "$deadline" ]; do
	dirs=("$B"/d*)
	if [ "${#dirs[@]}" -le $((N / PER_DIR / 2)) ]; then
		gfs_kill9
		killed_mid=$(live_count)
		break
	fi
	_pid_alive "$rm_pid" || break
	nap 0.002
done
shopt -u nullglob
if [ -n "$killed_mid" ]; then
	pass "daemon killed with $killed_mid of $N files still live"
	check "dead mount cleared" test -z "$(gfs_mounted && echo mounted)"
else
	skip "daemon killed in the middle of rm -rf" \
		"rm finished (or stalled) before half the files were gone; $(live_count) left"
	gfs_kill9
fi
check "rm ends after the daemon died" wait_until 30 eval '! _pid_alive "$rm_pid"'
wait "$rm_pid" 2>/dev/null
rm_status=$?
if [ -n "$killed_mid" ]; then
	check "rm -rf reported the failure" test "$rm_status" -ne 0
fi

# The backing store alone, before any recovery ran.
left=$(live_count)
diag "after the kill: $left files live, $(find "$(bk_trash site1)" -type f | wc -l) in trash"
check_same_set "before remount: every file live or in .trash, content intact (backing)" \
	"$expected" "$(content_hashes "$B" "$(bk_trash site1)")"

gfs_remount
ops=$(trash_op_dirs site1)
check "after remount: the backing store has an op" test -n "$ops"
check_eq "after remount: ls MNT/site1/.trash shows the same ops" "$ops" "$(ls "$MNT/site1/.trash")"
check_match "the op is rm's" '-rm-[0-9]+' "$ops"
check_same_set "after remount: every file live or in trash (backing)" \
	"$expected" "$(all_hashes "$BACKING")"
check_same_set "after remount: every file live or in trash (mount)" \
	"$expected" "$(all_hashes "$MNT")"
check_eq "after remount: live files through the mount = backing" \
	"$left" "$(find "$MNT/site1/big" -type f 2>/dev/null | wc -l)"
tmp_left=$(ls -A "$(bk_trash site1)" | grep -v -E "$OP_NAME_RE")
[ -z "$tmp_left" ] || diag "non-op entries in site1/.trash after recovery: $tmp_left"
for op in $ops; do
	n_files=$(find "$(bk_op site1 "$op")" -type f | wc -l)
	items=$(getfattr --only-values -n user.gracefs.items -- "$(mnt_op site1 "$op")" 2>/dev/null)
	if [[ $items =~ ^[0-9]+$ ]] && [ "$items" -ge "$n_files" ]; then
		pass "op $op: record readable, items ($items) >= files in it ($n_files)"
	else
		fail "op $op: record readable, items >= files in it" \
			"items: '$items'" "files: $n_files"
	fi
done

# Finish the job.
check "second rm -rf after remount" timeout -k 5 180 rm -rf "$MNT/site1/big"
check_absent "big is gone (mount)" "$MNT/site1/big"
check_absent "big is gone (backing)" "$B"
new=$(comm -13 <(printf '%s\n' "$ops") <(trash_op_dirs site1))
check "the second rm -rf made a new op" test -n "$new"
check_same_set "now every file is in trash, content intact (backing)" \
	"$expected" "$(all_hashes "$BACKING")"
check_same_set "now every file is in trash, content intact (mount)" \
	"$expected" "$(all_hashes "$MNT")"

check "clean unmount" gfs_umount
done_testing
