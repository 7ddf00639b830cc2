#!/bin/bash
#
# tenants.sh — issue 21: one tenant cannot cut another tenant's retention
# or stop it deleting, through a real mount on a small ext4 image made here.
#   - fair eviction: tenant a's write+rm churn below the free-space floor
#     evicts a's own ops (a is over its share); b's op, past min_retention
#     and older than all of a's, stays; each eviction is audited with both
#     sites' figures.

. "$(dirname "$0")/lib.sh"
: "${GRACECTL:=$GFS_REPO/build/fs/gracectl}"
gfs_require python3 mkfs.ext4 losetup setpriv
[ -x "$GRACECTL" ] || skip_all "gracectl binary not found at $GRACECTL"

gctl() { "$GRACECTL" -b "$BACKING" "$@"; }
MiB=$((1 << 20))
A=2101 B=2102

gfs_loop_backing 64M -m 0 -N 2048

status() {
	gctl --json status |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["daemon"].get(sys.argv[1], "absent"))' "$1"
}
audit_rows() {   # EVENT SITE — "op detail" lines of the audit log
	gctl --json log --event "$1" --site "$2" |
		python3 -c 'import json, sys; [print(r.get("op") or "", r.get("detail") or "") for r in json.load(sys.stdin)]'
}
op_there() { [ -d "$(bk_op "$1" "$2")" ]; }

gfs_site a b
chown $A:$A "$BACKING/a"
chown $B:$B "$BACKING/b"
gfs_mount min_free=50% min_retention=2s op_gap=1s sweep_interval=1s

# ---------------------------------------------------------------------------
diag "$(date +%T) fair eviction"

as_uid $B head -c $((8 * MiB)) /dev/urandom >"$MNT/b/keep.dat" || bail_out "b cannot write"
before=$(trash_op_dirs b)
check "b deletes its 8 MiB file" as_uid $B rm "$MNT/b/keep.dat"
BOP=$(new_op b "$before")
# a churns 4 MiB files, well past the floor (32 MiB free on a ~60 MiB
# disk): write, rm, each its own op, each soon past min_retention
for i in $(seq 1 16); do
	as_uid $A sh -c "head -c $((4 * MiB)) /dev/zero >'$MNT/a/f$i' && rm '$MNT/a/f$i'" 2>/dev/null
	wait_until 20 eval '[ "$(status evicted_ops)" != unknown ]'
	[ "$i" -ge 8 ] && wait_until 20 eval '[ "$(status evicted_ops)" -ge $((i - 8)) ]'
done
wait_until 30 eval '[ "$(status space_pressure)" == 0 ] && [ "$(status space_free_bytes)" -ge "$(status space_floor_bytes)" ]'
check "a's churn evicted a's ops ($(status evicted_ops))" test "$(status evicted_ops)" -ge 4
check "b's op, older than all of a's and past min_retention, stays" op_there b "$BOP"
check_eq "no eviction in b" "" "$(audit_rows evict b)"
check_match "a's evictions are audited with both sites' figures" \
	"reason=space free=[0-9]+ floor=[0-9]+ site=a trash=[0-9]+ share=[0-9]+ next=b next_trash=$((8 * MiB)) next_share=[0-9]+" \
	"$(audit_rows evict a)"
check_eq "status names the site with the most trash against its share" a "$(status space_top_site)"

gfs_umount
done_testing
