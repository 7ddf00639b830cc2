#!/bin/bash
#
# undo_select.sh — issue 19, items 3 and 4: what a bulk undo selects.
#  - --site A --site B and --site A,B are the union (not "only B", not
#    "unknown site"); --exclude-site and --exclude-op drop items from a
#    reviewed plan.
#  - A held op inside the selection (held itself, or through its site) is
#    listed by the dry run as left out with the reason; the token covers
#    the rest, and --execute restores the rest (rc 0) and reports the held
#    ones.
#  - log --event evict|exclude|overwrite|unpreserved: empty, rc 0, before
#    any such row exists.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gctl_lib.sh"

for s in a b c d; do gfs_site "$s"; done
gfs_mount op_gap=1s

T=$(date -u +@%s)
for s in a b c d; do echo "$s" >"$MNT/$s/f.txt"; done
echo c2 >"$MNT/c/g.txt"
rm "$MNT/a/f.txt"
rm "$MNT/b/f.txt"
rm "$MNT/c/f.txt"
check "the first ops are closed" wait_until 30 all_closed
rm "$MNT/c/g.txt"      # a later op of c, held below
rm "$MNT/d/f.txt"
check "the ops are closed" wait_until 30 all_closed
op_of() { gctl --json ls "$1" | pyj "[o['op'] for o in d if '$2' in o['command']][0]"; }
A=$(op_of a f.txt); B=$(op_of b f.txt); C1=$(op_of c f.txt); C2=$(op_of c g.txt)
D=$(op_of d f.txt)
check "hold one op of c" gctl hold "$C2"
check "hold site d" gctl hold site:d

# plan_ops ARGS… — the ops a dry run would restore, sorted
plan_ops() { gctl undo --since "$T" "$@" --json | pyj 'sorted(o["op"] for o in d["plan"])'; }
ops() { python3 -c 'import json,sys; print(json.dumps(sorted(sys.argv[1:])))' "$@"; }

# ---- item 4: selection ----------------------------------------------------
check_eq "--site a --site b: the union" "$(ops "$A" "$B")" "$(plan_ops --site a --site b)"
check_eq "--site a,b: the same" "$(ops "$A" "$B")" "$(plan_ops --site a,b)"
check_eq "--site site:a,site:b: the same" "$(ops "$A" "$B")" "$(plan_ops --site site:a,site:b)"
gctl undo --since "$T" --site a,nosuch >/dev/null 2>&1
check_eq "--site a,nosuch: unknown site, rc 2" 2 "$?"
check_eq "--exclude-site b: a and c's unheld op" "$(ops "$A" "$C1")" \
	"$(plan_ops --exclude-site b)"
check_eq "--exclude-site b --exclude-op C1: only a" "$(ops "$A")" \
	"$(plan_ops --exclude-site b --exclude-op "$C1")"
check_eq "--exclude-op A,B (a list)" "$(ops "$C1")" "$(plan_ops --exclude-op "$A,$B")"
gctl undo --since "$T" --exclude-op op:nosuch/x >/dev/null 2>&1
check_eq "--exclude-op of an unknown op: rc 2" 2 "$?"

# ---- item 3: held ops in a bulk selection ----------------------------------
dry=$(gctl undo --since "$T" --json)
check_eq "dry run: the plan is the unheld ops" "$(ops "$A" "$B" "$C1")" \
	"$(pyj 'sorted(o["op"] for o in d["plan"])' <<<"$dry")"
check_eq "dry run: the held ones are listed as left out, with the reason" \
	"[[\"$C2\", \"op held\"], [\"$D\", \"site d held\"]]" \
	"$(pyj 'sorted([o["op"], o["reason"]] for o in d["held_list"])' <<<"$dry")"
check_eq "dry run: skipped_held 2" 2 "$(pyj 'd["skipped_held"]' <<<"$dry")"
check_match "the text dry run says so" "under legal hold.*$C2.*op held" \
	"$(gctl undo --since "$T" | tr '\n' ' ')"
token=$(pyj 'd["token"]' <<<"$dry")
res=$(gctl undo --since "$T" --execute "$token" --json)
check_eq "execute: rc 0" 0 "$?"
check_eq "execute: 3 ops, 3 restored, 2 held reported" "[3, 3, 2]" \
	"$(pyj '[d["ops"], d["restored"], d["skipped_held"]]' <<<"$res")"
check_eq "a, b and c's first op are back" "a b c" \
	"$(cat "$MNT/a/f.txt" "$MNT/b/f.txt" "$MNT/c/f.txt" | xargs)"
check "the held ones stay in trash (op)" test ! -e "$MNT/c/g.txt"
check "the held ones stay in trash (site)" test ! -e "$MNT/d/f.txt"
check_eq "their ops are still listed" "$(ops "$C2" "$D")" \
	"$(gctl --json ls | pyj 'sorted(o["op"] for o in d)')"
gctl undo --since "$T" >/dev/null 2>&1
check_eq "only held ops left: rc 1, nothing to restore" 1 "$?"

# ---- item 4: log --event of events not yet written ------------------------
for ev in evict exclude overwrite unpreserved; do
	out=$(gctl --json log --event "$ev")
	check_eq "log --event $ev before any such row: empty, rc 0" "0 []" "$? $out"
done

gfs_umount
done_testing
