#!/bin/bash
#
# undo_recreated.sh — issue 19, item 2: a bulk undo never mixes old data
# into a tree a tenant re-created.  After rm -rf blog/2024/jan; rm -rf
# blog/2024; rm -rf blog and a tenant's new blog/, the undo puts the old
# blog back as blog.restored-OP and the older ops follow it there
# (blog.restored-OP/2024, …/2024/jan), never into the tenant's blog/.  The
# dry run lists every such item (action "follow") with the same counts as
# the execute.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gctl_lib.sh"

gfs_site site1
gfs_mount op_gap=1s

S=$MNT/site1
mkdir -p "$S/blog/2024/jan" "$S/blog/2025"
echo jan >"$S/blog/2024/jan/post.md"
echo a >"$S/blog/2024/a.md"
echo b >"$S/blog/2025/b.md"
echo i >"$S/blog/index.md"
old=$(tree "$S/blog")
T=$(date -u +@%s)
rm -rf "$S/blog/2024/jan"
rm -rf "$S/blog/2024"
rm -rf "$S/blog"
# the tenant re-creates blog/ with new content
mkdir "$S/blog"
echo new >"$S/blog/new.md"
new=$(tree "$S/blog")
check "the ops are closed" wait_until 30 all_closed
check_eq "three ops in the trash" 3 "$(gctl --json ls site1 | pyj 'len(d)')"

# ---- the dry run --------------------------------------------------------
dry=$(gctl undo --since "$T" --json)
token=$(pyj 'd["token"]' <<<"$dry")
check_match "dry run gives a token" '^[0-9a-f]{12}$' "$token"
check_eq "dry run: blog is renamed, 2024 and jan follow it" \
	'[["rename", "blog"], ["follow", "blog/2024"], ["follow", "blog/2024/jan"]]' \
	"$(pyj '[[c["action"], c["from"]] for c in d["conflict_list"]]' <<<"$dry")"
ren=$(pyj '[c["to"] for c in d["conflict_list"] if c["action"] == "rename"][0]' <<<"$dry")
check_match "blog goes to blog.restored-<op>" '^blog\.restored-' "$ren"
check_eq "the followers go below it, not into the tenant's blog" \
	"[\"$ren/2024\", \"$ren/2024/jan\"]" \
	"$(pyj '[c["to"] for c in d["conflict_list"] if c["action"] == "follow"]' <<<"$dry")"
check_eq "dry run counts: 2 followed of 2 moved, 1 renamed, 3 conflicts" "[2, 2, 1, 3]" \
	"$(pyj '[d["moved"], d["followed"], d["renamed"], d["conflicts"]]' <<<"$dry")"
check_match "the text dry run says so" '0 to their original paths, 1 under a new name, 2 following a parent restored under a new name' \
	"$(gctl undo --since "$T" | tr '\n' ' ')"

# ---- the execute --------------------------------------------------------
res=$(gctl undo --since "$T" --execute "$token" --json)
check_eq "execute: nothing failed" "[0, 0]" "$(pyj '[d["failed"], d["failed_ops"]]' <<<"$res")"
check_eq "execute counts (moved, followed, renamed, merged, mkdirs) are the dry run's" \
	"$(pyj '[d["moved"], d["followed"], d["renamed"], d["merged"], d["mkdirs"]]' <<<"$dry")" \
	"$(pyj '[d["moved"], d["followed"], d["renamed"], d["merged"], d["mkdirs"]]' <<<"$res")"
check_eq "the tenant's blog is untouched: nothing old written into it" "$new" "$(tree "$S/blog")"
check_eq "the old blog is whole under its new name (mount)" "$old" "$(tree "$S/$ren")"
check_eq "the old blog is whole under its new name (backing)" "$old" \
	"$(tree "$BACKING/site1/$ren")"
check_eq "the trash is empty" "" "$(ls "$S/.trash")"
rows=$(gctl --json log --site site1 --event restore | pyj '[r["detail"] for r in d]')
check_match "the audit log says where the followers went" "to=$ren/2024/jan \\(follows its parent" "$rows"

gfs_umount
done_testing
