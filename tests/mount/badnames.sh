#!/bin/bash
#
# badnames.sh — names and paths at the limits survive delete and restore.
#
#   - 255-byte names: create, delete to trash, restore; 256 bytes: ENAMETOOLONG
#     and nothing is created
#   - names with a newline and with non-UTF-8 bytes: delete and restore
#   - ".trash" below the site root is an ordinary directory
#   - a directory chain whose deepest file sits ~4080 bytes deep through the
#     mount: its trash path is longer than PATH_MAX, yet delete and restore
#     work (the tests walk it with relative cd steps)

. "$(dirname "$0")/lib.sh"
gfs_require

gfs_site site1
gfs_mount
S=$MNT/site1

# ---------------------------------------------------------------------------
# 255 and 256 bytes

N255=$(printf 'x%.0s' {1..255})
N256=${N255}y
printf 'long name\n' >"$S/$N255"
mkdir "$S/${N255:0:254}D"
printf 'inside\n' >"$S/${N255:0:254}D/$N255"
check_live "255-byte file name" site1 "$N255"
s255=$(sig "$S/$N255")
dir_before=$(tree_manifest "$S/${N255:0:254}D")

ops=$(trash_op_dirs site1)
check "rm of a 255-byte name" rm "$S/$N255"
op=$(new_op site1 "$ops")
check_trashed "255-byte name" site1 "$op" "$N255" "$s255"
check "restore a 255-byte name" mv "$(mnt_op site1 "$op")/$N255" "$S/$N255"
check_live "restored 255-byte name" site1 "$N255" "$s255"
check_eq "restored content" "long name" "$(cat "$S/$N255")"

ops=$(trash_op_dirs site1)
check "rm -rf of a 255-byte directory holding a 255-byte name" rm -rf "$S/${N255:0:254}D"
op=$(new_op site1 "$ops")
check_same_text "255-byte tree in trash (backing)" "$dir_before" \
	"$(tree_manifest "$(bk_op site1 "$op")/${N255:0:254}D")"
check "restore it" mv "$(mnt_op site1 "$op")/${N255:0:254}D" "$S/${N255:0:254}D"
check_same_text "255-byte tree restored" "$dir_before" "$(tree_manifest "$S/${N255:0:254}D")"

# a restore empties its op; the maintenance tick removes it
wait_until 30 eval '[ ! -e "$BACKING/site1/.trash/$op" ]'
listing=$(ls -A "$BACKING/site1")
ops=$(trash_op_dirs site1)
check_errno "create with a 256-byte name" ENAMETOOLONG et open "$S/$N256" creat,w
check_errno "mkdir with a 256-byte name" ENAMETOOLONG et mkdir "$S/$N256" 0755
check_errno "symlink with a 256-byte name" ENAMETOOLONG et symlink x "$S/$N256"
check_errno "link to a 256-byte name" ENAMETOOLONG et link "$S/$N255" "$S/$N256"
check_errno "rename to a 256-byte name" ENAMETOOLONG et rename "$S/$N255" "$S/$N256"
check_errno "mknod with a 256-byte name" ENAMETOOLONG et mknod "$S/$N256" fifo
check_errno "lookup of a 256-byte name" ENAMETOOLONG et lstat "$S/$N256"
check_errno "unlink of a 256-byte name" ENAMETOOLONG et unlink "$S/$N256"
check_errno "mkdir of a 256-byte site" ENAMETOOLONG et mkdir "$MNT/$N256" 0755
check_eq "256-byte names changed nothing in the backing store" "$listing" "$(ls -A "$BACKING/site1")"
check_eq "... and created no trash op" "$ops" "$(trash_op_dirs site1)"

# ---------------------------------------------------------------------------
# newline and non-UTF-8 bytes

NL=$'new\nline'
BAD=$'\xff\xfe'
MIX=$'d\xff\nx'
mkdir "$S/$MIX"
printf 'one\n' >"$S/$MIX/$NL"
printf 'two\n' >"$S/$MIX/$BAD"
printf 'three\n' >"$S/$BAD"
printf 'four\n' >"$S/$NL"
odd_before=$(tree_manifest "$S")
check_match "readdir returns the raw bytes" '(^| )\\xff\\xfe( |$)' "$(et ls "$S")"
check_match "readdir returns the newline" '(^| )new\\x0aline( |$)' "$(et ls "$S")"
check "backing store holds the exact bytes" test -f "$BACKING/site1/$MIX/$BAD"

ops=$(trash_op_dirs site1)
check "rm -rf of odd names" rm -rf "$S/$MIX" "$S/$BAD" "$S/$NL"
op=$(new_op site1 "$ops")
check_trashed "newline name" site1 "$op" "$NL"
check_trashed "non-UTF-8 name" site1 "$op" "$BAD"
check_trashed "newline below non-UTF-8 directory" site1 "$op" "$MIX/$NL"
check_trashed "non-UTF-8 below non-UTF-8 directory" site1 "$op" "$MIX/$BAD"
check_eq "content in trash" two "$(cat "$(mnt_op site1 "$op")/$MIX/$BAD")"
for n in "$MIX" "$BAD" "$NL"; do
	check "restore $(printf %q "$n")" mv "$(mnt_op site1 "$op")/$n" "$S/$n"
done
check_same_text "odd names restored (mount)" "$odd_before" "$(tree_manifest "$S")"
check_same_text "odd names restored (backing)" "$odd_before" "$(tree_manifest "$BACKING/site1")"

# ---------------------------------------------------------------------------
# ".trash" below the site root is an ordinary name

mkdir -p "$S/dir/.trash/sub"
printf 'not trash\n' >"$S/dir/.trash/file"
check_eq "readdir below the site root shows .trash" .trash "$(ls -A "$S/dir")"
check_eq "dir/.trash lists its content" "file sub" "$(echo $(ls "$S/dir/.trash"))"
check "it is an ordinary directory in the backing store" test -f "$BACKING/site1/dir/.trash/file"
check_eq "writes inside it work" OK "$(et write "$S/dir/.trash/file" changed)"
check_eq "renames inside it work" OK "$(et rename "$S/dir/.trash/file" "$S/dir/.trash/file2")"
inner_before=$(tree_manifest "$S/dir/.trash")
ops=$(trash_op_dirs site1)
check "rm -rf dir/.trash" rm -rf "$S/dir/.trash"
op=$(new_op site1 "$ops")
check_trashed "dir/.trash/file2" site1 "$op" dir/.trash/file2
check_trashed "dir/.trash/sub" site1 "$op" dir/.trash/sub
check_absent "dir/.trash is gone" "$S/dir/.trash"
check_eq "dir is empty" "" "$(ls -A "$S/dir")"
check "restore dir/.trash" mv "$(mnt_op site1 "$op")/dir/.trash" "$S/dir/.trash"
check_same_text "dir/.trash restored" "$inner_before" "$(tree_manifest "$S/dir/.trash")"

# ---------------------------------------------------------------------------
# Paths near PATH_MAX

# A path of 4096 bytes is refused by the kernel before gracefs sees it.
check_errno "a 4096-byte relative path" ENAMETOOLONG \
	bash -c 'cd "$1" && "$2" lstat "$(printf "a/%.0s" {1..2048})"' _ "$S" "$ERRNOTOOL"

# Chain of 250-byte directory names; the deepest file's absolute path
# through the mount is exactly 4080 bytes.
TARGET=4080
L0=$(( ${#S} + 1 ))
depth=$(( (TARGET - L0 - 1) / 251 ))
flen=$(( TARGET - L0 - depth * 251 ))
comps=()
for ((i = 0; i < depth; i++)); do
	comps+=("$(printf '%03d' "$i")$(printf 'd%.0s' {1..247})")
done
fname=$(printf 'f%.0s' $(seq 1 "$flen"))
deep_rel=$(IFS=/; printf '%s' "${comps[*]}")/$fname
PAYLOAD="deep payload $RANDOM"

# deep_make BASE — create the chain below BASE with relative steps.
deep_make() {
	(
		cd "$1" || exit 1
		for c in "${comps[@]}"; do
			mkdir "$c" && cd "$c" || exit 1
		done
		printf '%s\n' "$PAYLOAD" >"$fname"
	)
}
# deep_read BASE — the deepest file's content, walking with relative steps.
deep_read() {
	(
		cd "$1" 2>/dev/null || { echo "no $1"; exit 1; }
		for c in "${comps[@]}"; do
			cd "$c" 2>/dev/null || { echo "walk failed"; exit 1; }
		done
		cat "$fname" 2>&1
	)
}

check "create a $depth-level chain (file at $TARGET bytes)" deep_make "$S"
check_eq "absolute path length through the mount" "$TARGET" "$(( ${#S} + 1 + ${#deep_rel} ))"
check_eq "deep file read by absolute path" "$PAYLOAD" "$(cat "$S/$deep_rel")"
check_eq "deep file in the backing store" "$PAYLOAD" "$(deep_read "$BACKING/site1")"

ops=$(trash_op_dirs site1)
check "rm -rf of the chain" rm -rf "$S/${comps[0]}"
op=$(new_op site1 "$ops")
trash_abs="$(mnt_op site1 "$op")/$deep_rel"
check "the trash path is longer than PATH_MAX (${#trash_abs} bytes)" test "${#trash_abs}" -ge 4096
check_absent "chain gone (mount)" "$S/${comps[0]}"
check_absent "chain gone (backing)" "$BACKING/site1/${comps[0]}"
check_eq "deep file in trash (backing)" "$PAYLOAD" "$(deep_read "$(bk_op site1 "$op")")"
check_eq "deep file in trash (mount)" "$PAYLOAD" "$(deep_read "$(mnt_op site1 "$op")")"
check_errno "the kernel refuses the absolute trash path" ENAMETOOLONG et lstat "$trash_abs"
check "restore the chain with one mv" mv "$(mnt_op site1 "$op")/${comps[0]}" "$S/${comps[0]}"
check_eq "deep file restored (mount)" "$PAYLOAD" "$(deep_read "$S")"
check_eq "deep file restored (backing)" "$PAYLOAD" "$(deep_read "$BACKING/site1")"
check_absent "chain left the trash" "$(bk_op site1 "$op")/${comps[0]}"

check "clean unmount" gfs_umount
done_testing
