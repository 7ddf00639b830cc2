#!/bin/bash
#
# undo_tree.sh — issue 11, items 1 and 2: a bulk undo gives back the tree
# exactly as it was before the first op of the run, and its dry run
# predicts exactly what --execute then does.
#
#  1. rm -rf blog/2024; rm -rf blog  → one blog tree with 2024 and 2025
#  2. rm -rf x; mkdir x; echo new >x/new; rm -rf x → x/{old,new}: the
#     older op merges into the directory the newer op's undo restored
#  3. a name taken by a newer live file still gets NAME.restored-<op>
#  4. kill -9 of the daemon during rm -rf of 1,000 files, remount, rm -rf
#     again: one directory with all 1,000 files
# Each time: the dry run's restored / renamed / merged / mkdirs equal the
# execute's, and the trees are compared file by file (mount and backing).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gctl_lib.sh"
gfs_require sha256sum
now() { date -u +@%s; }


# undo_all NAME SINCE — dry run, execute, compare the counts.
undo_all() {
	local name=$1 since=$2 dry res token counts_dry counts_exec
	check "$name: the ops are closed" wait_until 60 all_closed
	dry=$(gctl undo --since "$since" --json)
	token=$(pyj 'd["token"]' <<<"$dry")
	check_match "$name: dry run gives a token" '^[0-9a-f]{12}$' "$token"
	counts_dry=$(pyj '[d["moved"], d["renamed"], d["merged"], d["mkdirs"]]' <<<"$dry")
	res=$(gctl undo --since "$since" --execute "$token" --json --progress 2>"$GFS_TMP/progress")
	check_match "$name: --progress: items done/total, rate, ETA on stderr" \
		'^undo: [0-9]+/[0-9]+ items \(100%\), [0-9]+/s, ETA ' "$(tail -n 1 "$GFS_TMP/progress")"
	counts_exec=$(pyj '[d["moved"], d["renamed"], d["merged"], d["mkdirs"]]' <<<"$res")
	check_eq "$name: the dry run's counts (moved, renamed, merged, mkdirs) are the execute's" \
		"$counts_dry" "$counts_exec"
	check_eq "$name: nothing failed" "[0, 0]" "$(pyj '[d["failed"], d["failed_ops"]]' <<<"$res")"
	UNDO_COUNTS=$counts_exec
}

gfs_site site1
gfs_mount op_gap=1s

# ---- 1. two passes of one bad run --------------------------------------
mkdir -p "$MNT/site1/blog/2024" "$MNT/site1/blog/2025"
echo a >"$MNT/site1/blog/2024/a.md"
echo b >"$MNT/site1/blog/2025/b.md"
echo i >"$MNT/site1/blog/index.md"
before=$(tree "$MNT/site1")
T=$(now)
rm -rf "$MNT/site1/blog/2024"
rm -rf "$MNT/site1/blog"
check_eq "two ops in the trash" 2 "$(ls "$MNT/site1/.trash" | wc -l)"
undo_all "blog" "$T"
check_eq "blog: 2 items back, none renamed, no merge, no parent made" "[2, 0, 0, 0]" "$UNDO_COUNTS"
check_eq "blog: the tree is as it was (mount)" "$before" "$(tree "$MNT/site1")"
check_eq "blog: the tree is as it was (backing)" "$before" \
	"$(tree "$BACKING/site1" | grep -v '^\.trash')"
check_eq "blog: no blog.restored-*" "" "$(ls "$MNT/site1" | grep restored)"

# ---- 2. a directory deleted, recreated, deleted again -----------------
mkdir "$MNT/site1/x"
echo old >"$MNT/site1/x/old.txt"
T=$(now)
rm -rf "$MNT/site1/x"
mkdir "$MNT/site1/x"
echo new >"$MNT/site1/x/new.txt"
rm -rf "$MNT/site1/x"
undo_all "merge" "$T"
check_eq "merge: 1 dir moved + 1 file merged in, 1 merge" "[2, 0, 1, 0]" "$UNDO_COUNTS"
check_eq "merge: x holds both files" "new.txt old.txt" "$(ls "$MNT/site1/x" | xargs)"
check_eq "merge: no x.restored-*" "" "$(ls "$MNT/site1" | grep restored)"
check_eq "merge: gracectl lists no op" "[]" "$(gctl --json ls site1 | pyj 'd')"
# the emptied op directories settle after the undo (docs/performance.md)
trash_empty() { [ -z "$(ls "$MNT/site1/.trash")" ]; }
check "merge: the trash empties" wait_until 30 trash_empty

# ---- 3. a name really taken by a newer live file ------------------------
echo v1 >"$MNT/site1/c.txt"
T=$(now)
rm "$MNT/site1/c.txt"
echo live >"$MNT/site1/c.txt"
undo_all "conflict" "$T"
check_eq "conflict: 0 moved, 1 renamed" "[0, 1, 0, 0]" "$UNDO_COUNTS"
check_eq "conflict: the live file is untouched" live "$(cat "$MNT/site1/c.txt")"
check_eq "conflict: the old one is next to it" v1 "$(cat "$MNT"/site1/c.txt.restored-*)"

# ---- 4. kill -9 during the deleting run --------------------------------
N=2000
mkdir -p "$BACKING/site1/big"
gfs_umount
for ((i = 0; i < N; i++)); do echo "file $i" >"$BACKING/site1/big/f$i"; done
gfs_mount op_gap=1s
before=$(tree "$MNT/site1")
T=$(now)
gfs_bg rm -rf "$MNT/site1/big"
rm_pid=$GFS_BG_PID
live() { local f=("$BACKING"/site1/big/f*); echo "${#f[@]}"; }
killed=
deadline=$((SECONDS + 120))
while [ "$SECONDS" -lt "$deadline" ] && _pid_alive "$rm_pid"; do
	if [ "$(live)" -le $((N * 9 / 10)) ]; then
		gfs_kill9
		killed=$(live)
		break
	fi
	nap 0.002
done
if [ -n "$killed" ]; then
	pass "daemon killed with $killed of $N files still live"
else
	skip "daemon killed in the middle of rm -rf" "rm finished first"
	gfs_kill9
fi
wait_until 30 eval '! _pid_alive "$rm_pid"'
gfs_mount op_gap=1s
rm -rf "$MNT/site1/big"
check "big is gone" test ! -e "$MNT/site1/big"
undo_all "kill -9" "$T"
check_eq "kill -9: the tree is as it was: one big with $N files (mount)" "$before" "$(tree "$MNT/site1")"
check_eq "kill -9: no big.restored-*" "" "$(ls "$MNT/site1" | grep big.restored)"

# ---- the daemon logs one line per undo ---------------------------------
check_match "the daemon logged the undo" 'undo of op site1/[^ ]+: [0-9]+ restored' "$(cat "$GFS_LOG")"

gfs_umount
done_testing
