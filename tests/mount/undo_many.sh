#!/bin/bash
#
# undo_many.sh — issue 19, "Speed": a script that ran `rm` once per file
# left one op per file.  A bulk undo sends a site's ops to the daemon in
# batches (undo-ops: one request, one hold of the trash lock, one audit
# flush per batch) instead of one request per op, and the emptied op
# directories leave the index in batches after their rmdirs.
#  1. NFILES one-file ops in one site, one name re-created by a tenant
#     before the undo: the dry run (planned from the index's hints, one
#     per one-file op) and the execute agree, the re-created name is a
#     rename in both, every file is back with its content, every op had its undo audit
#     row, the trash empties, and the daemon undid them in batches (its
#     log: "undo of N ops of site S in one batch"), not one request each.
#  2. The same deletion again, then kill -9 of the daemon as soon as the
#     undo has put back its first file (mid-undo, or while the emptied ops
#     are settled): after the remount every file is live or in the trash
#     (never both, never lost, content intact), the index lists exactly
#     the op directories left, and undoing again brings back the rest.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gctl_lib.sh"
gfs_require sha256sum

NFILES=600
S=many
gfs_site "$S"
for ((d = 0; d < 3; d++)); do
	mkdir -p "$BACKING/$S/d$d"
	for ((j = d; j < NFILES; j += 3)); do
		printf 'file %d\n' "$j" >"$BACKING/$S/d$d/f$j"
	done
done
gfs_mount op_gap=1s

# contents of every live file of the site (path and hash), sorted
live_sums() { (cd "$BACKING/$S" && find d* -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); }
before=$(live_sums)
n_live() { find "$BACKING/$S" -path "*/.trash" -prune -o -type f -print | wc -l; }
n_trashed() { find "$BACKING/$S/.trash" -type f 2>/dev/null | wc -l; }
n_opdirs() { find "$BACKING/$S/.trash" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l; }
n_index() { gctl --json ls "$S" | pyj 'len(d)'; }
ops_gone() { [ "$(n_index)" == 0 ] && [ "$(n_opdirs)" == 0 ]; }

# rm_each — one rm process per file, as `for f in …; do rm "$f"; done`
rm_each() { (cd "$MNT/$S" && for f in d*/f*; do rm "$f" || exit 1; done); }

# ---- 1. one op per file, undone in batches ---------------------------------
T=$(date -u +@%s)
check "one rm per file through the mount" rm_each
check_eq "every file left" 0 "$(n_live)"
check "the ops are closed" wait_until 60 all_closed
check_eq "one op per file" "$NFILES" "$(n_index)"

# a tenant writes a new d0/f0 meanwhile: the dry run plans one-file ops
# from the index's hint, and must still see the name taken (a rename)
echo "tenant's new f0" >"$MNT/$S/d0/f0"
dry=$(gctl --json undo --since "$T")
token=$(pyj 'd["token"]' <<<"$dry")
check_match "the dry run gives a token" '^[0-9a-f]{12}$' "$token"
check_eq "the dry run plans every op, the re-created name as a rename" \
	"$NFILES $((NFILES - 1)) 1 d0/f0" \
	"$(pyj '"%d %d %d %s" % (d["ops"], d["moved"], d["renamed"], d["conflict_list"][0]["from"] if d["conflict_list"] else "-")' <<<"$dry")"
batches0=$(grep -c "ops of site $S in one batch" "$GFS_LOG")
res=$(gctl --json undo --since "$T" --execute "$token")
check_eq "undo --execute succeeds" 0 "$?"
check_eq "the execute restores what the dry run said" "$NFILES 0 $((NFILES - 1)) 1 0" \
	"$(pyj '"%d %d %d %d %d" % (d["ops"], d["failed_ops"], d["moved"], d["renamed"], d["failed"])' <<<"$res")"
check_eq "the tenant's f0 stays" "tenant's new f0" "$(cat "$BACKING/$S/d0/f0")"
check_eq "the deleted f0 is next to it" "file 0" "$(cat "$BACKING/$S/d0/f0.restored-"*)"
mv "$BACKING/$S/d0/f0.restored-"* "$BACKING/$S/d0/f0"
check_same_text "every file is back with its content" "$before" "$(live_sums)"
check_eq "ls lists none of the restored ops right after the execute" 0 "$(n_index)"
batches=$(($(grep -c "ops of site $S in one batch" "$GFS_LOG") - batches0))
check "the daemon undid the ops in batches (not one request each): $batches batch(es)" \
	test "$batches" -ge 1 -a "$batches" -le $(((NFILES + 199) / 200 + 1))
check "the op directories go too (the emptied ops settle after the undo)" wait_until 120 ops_gone
check_eq "no op directory is left" 0 "$(n_opdirs)"
check_eq "one undo audit row per op" "$NFILES" \
	"$(gctl --json log --event undo --site "$S" | pyj 'len(d)')"

# ---- 2. kill -9 mid-undo ---------------------------------------------------
T=$(date -u +@%s)   # part 1's ops are gone: none can fall in the selection
check "the same deletion again" rm_each
check "the ops are closed" wait_until 60 all_closed
token=$(gctl --json undo --since "$T" | pyj 'd["token"]')
gctl --json undo --since "$T" --execute "$token" >"$GFS_TMP/undo2.json" 2>&1 3>&- &
UNDO=$!
GFS_BG_PIDS+=("$UNDO")
# The newest op (the last file rm_each removed) is undone first.  Watched
# with a builtin test in a tight loop (bounded): a poll that forks would
# see the undo of a few hundred ops only once it is over.
first=$(cd "$BACKING/$S/.trash" && find . -mindepth 2 -type f | cut -d/ -f3- | LC_ALL=C sort | tail -1)
first_back() {
	local end=$((SECONDS + 60))
	until [ -e "$BACKING/$S/$first" ]; do
		((SECONDS < end)) || return 1
	done
}
check "the undo puts back its first file ($first)" first_back
check "kill -9 of the daemon during the undo" gfs_kill9
wait "$UNDO" 2>/dev/null
live=$(n_live)
diag "at the kill: $live of $NFILES files live, $(n_opdirs) op directories left"
gfs_mount op_gap=1s
check_eq "after the remount: every file is live or in the trash, exactly once" "$NFILES" \
	"$(($(n_live) + $(n_trashed)))"
dups=$(comm -12 <(cd "$BACKING/$S" && find d* -type f | LC_ALL=C sort) \
	<(cd "$BACKING/$S/.trash" 2>/dev/null && find . -mindepth 2 -type f | cut -d/ -f3- | LC_ALL=C sort))
check_eq "no file is both live and in the trash" "" "$dups"
check "the index lists exactly the op directories left (reconciled)" \
	wait_until 30 eval '[ "$(n_index)" == "$(n_opdirs)" ]'
if [ "$(n_index)" -gt 0 ]; then
	token=$(gctl --json undo --since "$T" | pyj 'd["token"]')
	res=$(gctl --json undo --since "$T" --execute "$token")
	check_eq "undoing again restores the rest" 0 "$?"
	check_eq "nothing failed in the second undo" "0 0" \
		"$(pyj '"%d %d" % (d["failed_ops"], d["failed"])' <<<"$res")"
else
	pass "undoing again restores the rest (nothing was left: the kill came after the undo)"
	pass "nothing failed in the second undo"
fi
check_same_text "every file is back with its content, as before the deletions" "$before" \
	"$(live_sums)"
check "the trash empties" wait_until 120 ops_gone
check_eq "no op directory is left" 0 "$(n_opdirs)"

check "clean unmount" gfs_umount
done_testing
