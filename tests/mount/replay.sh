#!/bin/bash
#
# replay.sh — issue 19's "Done when" replay, small: a bad script deletes
# 12 whole sites and makes two passes over parts of 5 more, tenants write
# meanwhile, one tenant re-creates a deleted directory, and one op is put
# on legal hold.  One bulk undo (dry run, token, execute) must give back a
# tree equal to the before-state except: the tenants' new files (kept),
# the re-created directory (the tenant's; the old one comes back whole
# next to it as NAME.restored-OP, its nested op following it), and the
# held op (still in trash, listed by the dry run and the execute).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gctl_lib.sh"

SITES=()
for i in $(seq -w 1 20); do SITES+=("s$i"); gfs_site "s$i"; done
gfs_mount op_gap=1s
for s in "${SITES[@]}"; do
	mkdir -p "$MNT/$s/www/blog/2024" "$MNT/$s/www/img"
	for f in a b c; do
		echo "$s $f" >"$MNT/$s/www/blog/2024/$f.md"
		echo "$s img $f" >"$MNT/$s/www/img/$f.png"
	done
	echo "$s index" >"$MNT/$s/www/index.html"
	touch -d '2020-01-02 03:04:05' "$MNT/$s/www/index.html"
done
before=$(tree "$MNT")
T=$(date -u +@%s)

# ---- the bad run: 12 whole sites, then two passes over parts of 5 more --
(
	for s in "${SITES[@]:0:12}"; do rm -rf "${MNT:?}/$s"; done
	for s in "${SITES[@]:12:5}"; do rm -rf "$MNT/$s/www/blog/2024"; done
	for s in "${SITES[@]:12:5}"; do rm -rf "$MNT/$s/www/blog" "$MNT/$s/www/img/a.png"; done
) &
bad=$!
# tenants write meanwhile, in sites the run does not delete whole
for i in 1 2 3; do echo "new $i" >"$MNT/s18/www/new$i.txt"; echo "new $i" >"$MNT/s13/www/new$i.txt"; done
wait "$bad"
# a tenant re-creates s14's blog with new content
mkdir "$MNT/s14/www/blog"
echo "tenant's new post" >"$MNT/s14/www/blog/new.md"
check "the ops are closed" wait_until 60 all_closed

# one op on legal hold: s16's second pass
HELD=$(gctl --json ls s16 | pyj '[o["op"] for o in d if o["command"].endswith("/www/img/a.png")][0]')
check "hold s16's second pass" gctl hold "$HELD"

# ---- the undo -----------------------------------------------------------
dry=$(gctl undo --since "$T" --json)
check_eq "dry run: exit 0" 0 "$?"
check_eq "dry run: 12 root ops + 5 first passes + 4 second passes; the held one left out" \
	"[21, 1]" "$(pyj '[d["ops"], d["skipped_held"]]' <<<"$dry")"
check_eq "dry run: the held op, with its reason" "[[\"$HELD\", \"op held\"]]" \
	"$(pyj '[[o["op"], o["reason"]] for o in d["held_list"]]' <<<"$dry")"
check_eq "dry run: s14's blog is renamed and its older pass follows it" '["rename", "follow"]' \
	"$(pyj '[c["action"] for c in d["conflict_list"] if c["from"].startswith("www/blog")]' <<<"$dry")"
res=$(gctl undo --since "$T" --execute "$(pyj 'd["token"]' <<<"$dry")" --json)
check_eq "execute: exit 0" 0 "$?"
check_eq "execute: the dry run's counts, nothing failed" \
	"$(pyj '[d["ops"], d["moved"], d["renamed"], d["followed"], d["merged"], d["mkdirs"], 0]' <<<"$dry")" \
	"$(pyj '[d["ops"], d["moved"], d["renamed"], d["followed"], d["merged"], d["mkdirs"], d["failed"]]' <<<"$res")"

# ---- the tree: the before-state, but for the three exceptions --------------
ren=$(cd "$MNT/s14/www" && echo blog.restored-*)
after=$(tree "$MNT" |
	grep -v -e '^s18/www/new[123]\.txt ' -e '^s13/www/new[123]\.txt ' |
	grep -v -e '^s14/www/blog/' -e '^s14/www/blog/new\.md ' |
	sed "s#^s14/www/$ren/#s14/www/blog/#; s#^s14/www/$ren/\$#s14/www/blog/#" |
	grep -v '/\.trash' | sort)
expect=$(grep -v '^s16/www/img/a\.png ' <<<"$before" | sort)
check_eq "the before-state is the whole tree (20 sites x 4 dirs and 7 files, + 20)" 240 \
	"$(wc -l <<<"$before")"
check_eq "the tree is the before-state (less the held file; tenants' files and the re-created blog aside)" \
	"$expect" "$after"
check_eq "the tenants' new files are there" "6" "$(cat "$MNT"/s1[38]/www/new*.txt | wc -l)"
check_eq "the re-created blog is the tenant's alone" "new.md" "$(ls "$MNT/s14/www/blog" | xargs)"
check "the held file is still in trash, not back" test ! -e "$MNT/s16/www/img/a.png"
# the emptied ops leave the index at the daemon's next tick after the undo
only_held() { [ "$(gctl --json ls | pyj '[o["op"] for o in d]')" == "[\"$HELD\"]" ]; }
wait_until 10 only_held
check_eq "only the held op is left" "[\"$HELD\"]" "$(gctl --json ls | pyj '[o["op"] for o in d]')"
check_eq "a restored file keeps its mtime" "2020-01-02 03:04:05" \
	"$(date -u -d @"$(stat -c %Y "$MNT/s01/www/index.html")" '+%F %T')"

gfs_umount
done_testing
