#!/bin/bash
#
# dir_times.sh — issue 19, item 5a: directories come back with the times
# they had before the op touched them, not the time of the rm (deleting a
# directory's children changes its mtime).
#
#  1. a tree of 51 directories with distinct old mtimes, rm -rf through the
#     mount, gracectl undo: every directory's mtime as before
#  2. the same, restored by a tenant's mv out of .trash
#  3. rm -rf tree/d2/e1, then rm -rf tree: a bulk undo of both (tree/d2
#     takes the times from before the first op)
#  3b. rm -rf x, mkdir x again, rm -rf x: a bulk undo merges the old x
#     into the new one and gives both levels the old x's times
#  4. rm -rf of a whole site, undo: the site root and its tree as before
# Each time compared through the mount and in the backing store.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gctl_lib.sh"
gfs_require getfattr
now() { date -u +@%s; }

# mtimes DIR — "path mtime" of DIR and every directory below it
mtimes() { (cd "$1" && find . -path ./.trash -prune -o -type d -printf '%p %T@\n' | sort); }

# make_tree DIR — 1 + 5 + 45 directories, a file in each, distinct mtimes
make_tree() {
	local d=$1 i=0 a b
	for a in 1 2 3 4 5; do
		for b in 1 2 3 4 5 6 7 8 9; do
			mkdir -p "$d/d$a/e$b"
			echo "$a$b" >"$d/d$a/e$b/f"
		done
		echo "$a" >"$d/d$a/f"
	done
	echo top >"$d/f"
	for a in 1 2 3 4 5; do
		for b in 1 2 3 4 5 6 7 8 9; do
			i=$((i + 1))
			touch -d "@$((1000000000 + i * 3607)).$((100000000 + i))" "$d/d$a/e$b"
		done
		i=$((i + 1))
		touch -d "@$((1000000000 + i * 3607)).$((100000000 + i))" "$d/d$a"
	done
	touch -d "@999000000.5" "$d"
}

undo_op() {   # undo_op OPID — dry run, then execute its token
	local out tok
	out=$(gctl undo "$1")
	tok=$(sed -n 's/^plan token: \([0-9a-f]\{12\}\)$/\1/p' <<<"$out")
	gctl undo "$1" --execute "$tok" >/dev/null
}

undo_since() {   # undo_since T
	local tok
	tok=$(gctl undo --since "$1" --json | pyj 'd["token"]')
	gctl undo --since "$1" --execute "$tok" >/dev/null
}

gfs_site site1
gfs_site site2
gfs_mount op_gap=1s

make_tree "$MNT/site1/tree"
before=$(mtimes "$MNT/site1/tree")
check_eq "51 directories made" 51 "$(wc -l <<<"$before")"

# ---- 1. rm -rf, gracectl undo ------------------------------------------
rm -rf "$MNT/site1/tree"
check "1: the op is closed" wait_until 60 all_closed
op=$(ls "$MNT/site1/.trash")
check_same_text "1: in trash, every directory has its old mtime" "$before" \
	"$(mtimes "$MNT/site1/.trash/$op/tree")"
check "1: undo" undo_op "op:site1/$op"
check_same_text "1: after undo, every directory's mtime as before (mount)" "$before" \
	"$(mtimes "$MNT/site1/tree")"
check_same_text "1: ... and in the backing store" "$before" "$(mtimes "$BACKING/site1/tree")"
check_eq "1: no gracefs xattr left on the restored tree" "" \
	"$(getfattr -R -d -m trusted.gracefs "$BACKING/site1/tree" 2>/dev/null)"

# ---- 2. rm -rf, mv out of .trash ---------------------------------------
rm -rf "$MNT/site1/tree"
check "2: the op is closed" wait_until 60 all_closed
op=$(ls "$MNT/site1/.trash")
check "2: mv .trash/OP/tree back" mv "$MNT/site1/.trash/$op/tree" "$MNT/site1/tree"
check_same_text "2: after mv, every directory's mtime as before (mount)" "$before" \
	"$(mtimes "$MNT/site1/tree")"
check_same_text "2: ... and in the backing store" "$before" "$(mtimes "$BACKING/site1/tree")"

# ---- 3. two ops, one bulk undo ------------------------------------------
trash_empty() { [ -z "$(ls "$MNT/site1/.trash")" ]; }
check "3: the trash is empty again" wait_until 30 trash_empty
T=$(now)
rm -rf "$MNT/site1/tree/d2/e1"
check "3: the first op is closed" wait_until 60 all_closed   # the next rm is a new op
rm -rf "$MNT/site1/tree"
check "3: the ops are closed" wait_until 60 all_closed
check_eq "3: two ops" 2 "$(ls "$MNT/site1/.trash" | wc -l)"
check "3: bulk undo" undo_since "$T"
check_same_text "3: every directory's mtime as before both ops (mount)" "$before" \
	"$(mtimes "$MNT/site1/tree")"
check_same_text "3: ... and in the backing store" "$before" "$(mtimes "$BACKING/site1/tree")"

# ---- 3b. a directory deleted, recreated, deleted again: merged back ----------
mkdir -p "$MNT/site1/x/sub"
echo old >"$MNT/site1/x/sub/old"
touch -d @990000000.125 "$MNT/site1/x/sub"
touch -d @990000001.25 "$MNT/site1/x"
xbefore=$(mtimes "$MNT/site1/x")
T=$(now)
rm -rf "$MNT/site1/x"
check "3b: the first op is closed" wait_until 60 all_closed
mkdir -p "$MNT/site1/x/sub"
echo new >"$MNT/site1/x/sub/new"
rm -rf "$MNT/site1/x"
check "3b: the ops are closed" wait_until 60 all_closed
check "3b: bulk undo" undo_since "$T"
check_eq "3b: both files are back, merged" "new old" "$(ls "$MNT/site1/x/sub" | xargs)"
check_same_text "3b: the merged directories have the times from before the first op" \
	"$xbefore" "$(mtimes "$MNT/site1/x")"

# ---- 4. a whole site --------------------------------------------------
make_tree "$MNT/site2/tree"
touch -d "@998000000.25" "$MNT/site2"
before2=$(mtimes "$MNT/site2")
rm -rf "$MNT/site2"
check "4: the site is gone" test ! -e "$MNT/site2"
check "4: the ops are closed" wait_until 60 all_closed
rop=$(ls "$MNT/.trash")
check_same_text "4: in the root trash, the site and its tree have their old mtimes" "$before2" \
	"$(mtimes "$MNT/.trash/$rop/site2")"
check "4: undo" undo_op "op:/$rop"
check_same_text "4: after undo, the site root and its tree as before (mount)" "$before2" \
	"$(mtimes "$MNT/site2")"
check_same_text "4: ... and in the backing store" "$before2" "$(mtimes "$BACKING/site2")"

done_testing
