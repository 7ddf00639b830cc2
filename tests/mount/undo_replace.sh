#!/bin/bash
#
# undo_replace.sh — issue 19, item 5b: undo of a rename-over (sed -i,
# mv new old, rsync's default) puts the original back at its path and the
# replacement into trash (an op of its own, restorable), instead of leaving
# the new version and the original beside it as NAME.restored-OP.
#
#  1. sed -i, mv over, rsync: dry run lists "replace" with counts equal to
#     the execute's; the original bytes are back; the replacement is in a
#     new op and comes back with mv
#  2. the replacement changed since (a second sed -i): the original comes
#     back next to it (NAME.restored-OP), and both the dry run and the
#     execute say "changed"
#  3. the state a kill -9 leaves between the swap and the replacement's
#     move into its op (the original live and still marked, the replacement
#     in the undone op), made in the backing store while unmounted: after
#     remount nothing is lost, and undo finishes the job
#  4. a real kill -9 of the daemon during the undo of one sed -i over 400
#     files: every version survives, and undoing again finishes the job

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gctl_lib.sh"
gfs_require rsync getfattr setfattr
now() { date -u +@%s; }
# since_now — T for undo --since that leaves out every op made so far: the
# clock's second has moved on (ops of the same second would be selected)
since_now() {
	local t0
	t0=$(date -u +%s)
	wait_until 5 eval '[ "$(date -u +%s)" -gt "$t0" ]' && T=$(now)
}
S=$MNT/site1

# undo_check NAME OPID — dry run and execute; "replaced moved renamed" of each
undo_check() {
	local name=$1 dry res token
	dry=$(gctl undo "$2" --json)
	token=$(pyj 'd["token"]' <<<"$dry")
	DRY=$(pyj '[d["replaced"], d["moved"], d["renamed"], d["changed"]]' <<<"$dry")
	DRY_ACTIONS=$(pyj '" ".join(r["action"] for r in d["conflict_list"])' <<<"$dry")
	res=$(gctl undo "$2" --execute "$token" --json)
	EXEC=$(pyj '[d["replaced"], d["moved"], d["renamed"], d["changed"]]' <<<"$res")
	EXEC_EVENTS=$(pyj '" ".join(r["event"] for r in d["events"])' <<<"$res")
	check_eq "$name: the dry run's counts (replaced, moved, renamed, changed) are the execute's" \
		"$DRY" "$EXEC"
}

# op_with NAME — the op in site1's trash holding NAME at its top
op_with() { (cd "$BACKING/site1/.trash" && ls -d -- */"$1" 2>/dev/null | cut -d/ -f1); }

gfs_site site1
gfs_mount op_gap=1s

# ---- 1. sed -i, mv over, rsync ---------------------------------------------
printf 'orig sed\n' >"$S/a.conf"
printf 'orig mv\n' >"$S/b.txt"
printf 'orig rsync\n' >"$S/c.html"
mkdir "$GFS_TMP/src"
printf 'new rsync\n' >"$GFS_TMP/src/c.html"
check "the files are written" wait_until 60 all_closed

for tool in sed mv rsync; do
	case $tool in
	sed) f=a.conf; sed -i 's/orig/new/' "$S/$f"; old='orig sed'; new='new sed' ;;
	mv) f=b.txt; printf 'new mv\n' >"$S/b.txt.tmp"; mv "$S/b.txt.tmp" "$S/$f"
	    old='orig mv'; new='new mv' ;;
	rsync) f=c.html; rsync "$GFS_TMP/src/c.html" "$S/$f"; old='orig rsync'; new='new rsync' ;;
	esac
	check_eq "$tool: the live file is the new version" "$new" "$(cat "$S/$f")"
	check "$tool: the op is closed" wait_until 60 all_closed
	op=$(op_with "$f")
	check_match "$tool: the original is in an op" '^[0-9]{8}T' "$op"
	ino_new=$(ino "$S/$f")
	undo_check "$tool" "op:site1/$op"
	check_eq "$tool: one replaced, counted as moved" '[1, 1, 0, 0]' "$EXEC"
	check_eq "$tool: the dry run lists it as replace" replace "$DRY_ACTIONS"
	check_eq "$tool: the execute reports it replaced" replaced "$EXEC_EVENTS"
	check_eq "$tool: the original bytes are back at the path (mount)" "$old" "$(cat "$S/$f")"
	check_eq "$tool: ... and in the backing store" "$old" "$(cat "$BACKING/site1/$f")"
	check_eq "$tool: no $f.restored-*" "" "$(ls "$S" | grep restored)"
	check "$tool: the undone op is gone" wait_until 30 test ! -e "$S/.trash/$op"
	nop=$(op_with "$f")
	check_match "$tool: the replacement is in an undo op of its own" '-undo-[0-9]+$' "$nop"
	check_eq "$tool: ... with the new bytes" "$new" "$(cat "$S/.trash/$nop/$f")"
	check_eq "$tool: ... the same file (inode)" "$ino_new" "$(ino "$BACKING/site1/.trash/$nop/$f")"
	check_eq "$tool: no marker left on the live file" "" \
		"$(getfattr -d -m trusted.gracefs "$BACKING/site1/$f" 2>/dev/null)"
	check "$tool: the undo op is closed" wait_until 60 all_closed
	mv "$S/.trash/$nop/$f" "$S/$f.again"
	check_eq "$tool: the replacement restores with mv" "$new" "$(cat "$S/$f.again")"
	rm "$S/$f.again"
done

# ---- 2. the replacement changed since ------------------------------------------
printf 'one\n' >"$S/k.conf"
check "changed: written" wait_until 60 all_closed
sed -i 's/one/two/' "$S/k.conf"
check "changed: first op closed" wait_until 60 all_closed
op1=$(op_with k.conf)
sed -i 's/two/three/' "$S/k.conf"
check "changed: second op closed" wait_until 60 all_closed
undo_check "changed" "op:site1/$op1"
check_eq "changed: nothing replaced, one renamed" '[0, 0, 1, 1]' "$EXEC"
check_eq "changed: the dry run says changed" changed "$DRY_ACTIONS"
check_eq "changed: the execute says changed" changed "$EXEC_EVENTS"
check_eq "changed: the live file keeps the newest version" three "$(cat "$S/k.conf")"
check_eq "changed: the original comes back next to it" one "$(cat "$S/k.conf.restored-$op1")"

# ---- 2b. a bulk undo of three sed -i: newest first, back to the first ------
printf 'v1\n' >"$S/n.conf"
check "bulk: written" wait_until 60 all_closed
check "bulk: a new second" since_now
for v in 2 3 4; do
	sed -i "s/v$((v - 1))/v$v/" "$S/n.conf"
	check "bulk: sed $v closed" wait_until 60 all_closed
done
dry=$(gctl undo --since "$T" --json)
res=$(gctl undo --since "$T" --execute "$(pyj 'd["token"]' <<<"$dry")" --json)
check_eq "bulk: the dry run's replaced/moved/renamed are the execute's" \
	"$(pyj '[d["replaced"], d["moved"], d["renamed"]]' <<<"$dry")" \
	"$(pyj '[d["replaced"], d["moved"], d["renamed"]]' <<<"$res")"
check_eq "bulk: three replaced, none renamed" '[3, 0]' "$(pyj '[d["replaced"], d["renamed"]]' <<<"$res")"
check_eq "bulk: the first version is back" v1 "$(cat "$S/n.conf")"
check_eq "bulk: no n.conf.restored-*" "" "$(ls "$S" | grep n.conf.restored)"

# ---- 2c. sed -i, then rm: a bulk undo brings the replacement back, then
# swaps the original in; the dry run sees the file the rm's undo puts back
printf 'first\n' >"$S/p.conf"
check "sed+rm: written" wait_until 60 all_closed
check "sed+rm: a new second" since_now
sed -i 's/first/second/' "$S/p.conf"
check "sed+rm: sed closed" wait_until 60 all_closed
rm "$S/p.conf"
check "sed+rm: rm closed" wait_until 60 all_closed
dry=$(gctl undo --since "$T" --json)
res=$(gctl undo --since "$T" --execute "$(pyj 'd["token"]' <<<"$dry")" --json)
check_eq "sed+rm: the dry run's replaced/moved/renamed are the execute's" \
	"$(pyj '[d["replaced"], d["moved"], d["renamed"]]' <<<"$dry")" \
	"$(pyj '[d["replaced"], d["moved"], d["renamed"]]' <<<"$res")"
check_eq "sed+rm: one moved back, one replaced" '[1, 2, 0]' \
	"$(pyj '[d["replaced"], d["moved"], d["renamed"]]' <<<"$res")"
check_eq "sed+rm: the first version is back" first "$(cat "$S/p.conf")"

# ---- 3. the state of a kill -9 between the swap and the move ---------------
printf 'orig crash\n' >"$S/z.conf"
check "crash: written" wait_until 60 all_closed
sed -i 's/orig/new/' "$S/z.conf"
check "crash: op closed" wait_until 60 all_closed
op=$(op_with z.conf)
gfs_umount
# what step 1 (RENAME_EXCHANGE) leaves: original live (marked), replacement in the op
B=$BACKING/site1
mv "$B/z.conf" "$B/z.conf.swap" && mv "$B/.trash/$op/z.conf" "$B/z.conf" &&
	mv "$B/z.conf.swap" "$B/.trash/$op/z.conf"
check_match "crash: the original is live and still marked" "^$op [0-9]+\$" \
	"$(getfattr --only-values -n trusted.gracefs.replaced "$B/z.conf" 2>/dev/null)"
gfs_mount op_gap=1s
check_eq "crash: after remount the original is live" 'orig crash' "$(cat "$S/z.conf")"
check_eq "crash: the replacement is in the op" 'new crash' "$(cat "$S/.trash/$op/z.conf")"
undo_check "crash" "op:site1/$op"
check_eq "crash: undo finishes: one replaced" '[1, 1, 0, 0]' "$EXEC"
check_eq "crash: the original stays" 'orig crash' "$(cat "$S/z.conf")"
nop=$(op_with z.conf)
check_match "crash: the replacement went to an undo op" '-undo-[0-9]+$' "$nop"
check_eq "crash: ... with its bytes" 'new crash' "$(cat "$S/.trash/$nop/z.conf")"
check_eq "crash: no z.conf.restored-*" "" "$(ls "$S" | grep z.conf.restored)"

# ---- 4. a real kill -9 during the undo of 400 rename-overs -------------------
# One sed -i over 400 files is one op of 400 rename-overs.  The daemon is
# killed as soon as the undo has put back its first original (watched with
# a builtin in a tight loop: a poll that forks would see only the end).
# Wherever the kill lands, every version must be somewhere, exactly once,
# and undoing again must finish the job: originals live, replacements in
# trash, nothing next to anything as .restored-.
NR=400
mkdir "$S/r"
for ((i = 0; i < NR; i++)); do printf 'orig %03d\n' "$i" >"$S/r/f$(printf %03d "$i")"; done
check "kill: written" wait_until 60 all_closed
(cd "$S/r" && sed -i 's/orig/new/' f*)
check "kill: one sed op closed" wait_until 60 all_closed
op=$(op_with r)
token=$(gctl undo "op:site1/$op" --json | pyj 'd["token"]')
gctl undo "op:site1/$op" --execute "$token" >/dev/null 2>&1 3>&- &
UNDO=$!
GFS_BG_PIDS+=("$UNDO")
first_back() {
	local end=$((SECONDS + 60)) line=
	until [ "$line" == "orig 000" ]; do
		((SECONDS < end)) || return 1
		read -r line <"$BACKING/site1/r/f000" 2>/dev/null
	done
}
check "kill: the undo puts back its first original" first_back
check "kill: kill -9 of the daemon during the undo" gfs_kill9
wait "$UNDO" 2>/dev/null
versions() {   # every copy of r/f* in the site, live or in trash: its first line
	find "$BACKING/site1/r" "$BACKING/site1/.trash" -path '*/r/f*' -type f -exec cat {} + |
		LC_ALL=C sort
}
expect=$(for ((i = 0; i < NR; i++)); do printf 'new %03d\norig %03d\n' "$i" "$i"; done |
	LC_ALL=C sort)
diag "at the kill: $(grep -l '^orig' "$BACKING"/site1/r/f* | wc -l) of $NR originals live"
check_same_text "kill: every version is somewhere, exactly once" "$expect" "$(versions)"
gfs_mount op_gap=1s
if [ -d "$S/.trash/$op" ]; then
	token=$(gctl undo "op:site1/$op" --json | pyj 'd["token"]')
	res=$(gctl undo "op:site1/$op" --execute "$token" --json)
	check_eq "kill: undoing again: nothing renamed, nothing failed" "[0, 0]" \
		"$(pyj '[d["renamed"], d["failed"]]' <<<"$res")"
else
	pass "kill: undoing again: nothing renamed, nothing failed (the kill came after the undo)"
fi
check_eq "kill: every original is live" "$NR" "$(grep -l '^orig' "$S"/r/f* | wc -l)"
check_eq "kill: nothing next to anything" "" "$(ls "$S/r" | grep restored)"
check_same_text "kill: every replacement is in trash, none lost" "$expect" "$(versions)"
check "kill: the undone op is gone" wait_until 30 test ! -e "$S/.trash/$op"

done_testing
