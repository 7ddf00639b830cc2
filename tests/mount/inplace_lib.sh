# shellcheck shell=bash
#
# inplace_lib.sh — what the in-place overwrite tests share (issue 20:
# overwrite_inplace.sh on ext4, overwrite_inplace_xfs.sh on XFS reflink).
# Source it after lib.sh; it skips without python3, dd, shred, rsync,
# fallocate or the gracectl binary.
#
#   inplace_run MODE  on the current mount (site s1, op_gap=1s): each of
#                     dd conv=notrunc, pwrite at offset 0, a shared
#                     writable mmap, shred -n1, rsync --inplace, fallocate
#                     --punch-hole in the middle and an in-place XOR of a
#                     tree, each in its own process, preserves the file's
#                     bytes from before in that process's op, once; >>, a
#                     same-bytes rewrite and a file the writer made keep
#                     nothing; `gracectl undo` (one op, then --since) gives
#                     back the exact bytes.
#   gctl ARGS...      gracectl -b BACKING ARGS...
#   all_closed        no op of s1 is still collecting
#   h FILE            the sha256 of FILE

: "${GRACECTL:=$GFS_REPO/build/fs/gracectl}"
gfs_require python3 dd shred rsync sha256sum fallocate getfattr
[ -x "$GRACECTL" ] || skip_all "gracectl binary not found at $GRACECTL"

gctl() { "$GRACECTL" -b "$BACKING" "$@"; }
all_closed() { ! gctl --json ls s1 | pyj '" ".join(r["state"] for r in d)' | grep -qw open; }
h() { sha256sum <"$1" | cut -c1-64; }

cat >"$GFS_TMP/pwrite.py" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
os.pwrite(fd, b"PWRITE", 0)
os.pwrite(fd, b"again", 100)   # a second write in the same op: nothing more kept
os.close(fd)
EOF
cat >"$GFS_TMP/mmapw.py" <<'EOF'
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
m[0:5] = b"MMAP!"
m.flush()
m.close()
os.close(fd)
EOF
cat >"$GFS_TMP/xor.py" <<'EOF'
import os, sys
for root, dirs, files in os.walk(sys.argv[1]):
    for f in files:
        with open(os.path.join(root, f), "r+b") as fh:
            data = fh.read()
            fh.seek(0)
            fh.write(bytes(b ^ 0x5a for b in data))
EOF
cat >"$GFS_TMP/same.py" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
data = os.pread(fd, 1 << 20, 0)
os.pwrite(fd, data, 0)   # the bytes it holds: nothing changes
os.close(fd)
EOF

# undo_since T — gracectl undo --since T: the dry run, then --execute with
# its token; both again (bounded) when the plan changed in between: an op
# that an undo just took items from is recounted on the engine's next tick.
undo_since() {
	local out token i
	for ((i = 0; i < 5; i++)); do
		out=$(gctl undo --since "$1" 2>&1)
		token=$(printf '%s\n' "$out" | sed -n 's/^plan token: //p')
		out=$(gctl undo --since "$1" --execute "$token" 2>&1) && return 0
		[[ $out == *"the plan changed"* ]] || break
	done
	printf '%s\n' "$out"
	return 1
}

# inplace_run MODE — the whole check on the current mount (files named
# MODE-* in site s1; every op of s1 from now on is undone at its end)
inplace_run() {
	local m=$1 S=$MNT/s1 f before op T s0 out token
	local -A orig
	mkdir -p "$S/$m-tree/a/b"
	for f in dd pw mm sh rs fp; do
		head -c 200000 /dev/urandom >"$GFS_TMP/src"
		cp "$GFS_TMP/src" "$S/$m-$f"
		orig[$f]=$(h "$S/$m-$f")
	done
	for f in a/one a/b/two three; do
		head -c 50000 /dev/urandom >"$GFS_TMP/src"
		cp "$GFS_TMP/src" "$S/$m-tree/$f"
	done
	orig[tree]=$(cd "$S/$m-tree" && find . -type f | sort | xargs sha256sum)
	head -c 300000 /dev/urandom >"$GFS_TMP/rsync-src"
	check "$m: the files' ops close" wait_until 30 all_closed
	s0=$(date +%s)
	wait_until 3 eval '[ "$(date +%s)" != "$s0" ]'
	T=$(date -u +%Y-%m-%dT%H:%M:%SZ)

	# writes: each in its own process (its own op)
	declare -A ops
	for f in dd pw mm sh rs fp tree; do
		before=$(trash_op_dirs s1)
		case $f in
		dd) printf 'XY' | dd of="$S/$m-dd" bs=1 seek=10 conv=notrunc status=none ;;
		pw) python3 "$GFS_TMP/pwrite.py" "$S/$m-pw" ;;
		mm) python3 "$GFS_TMP/mmapw.py" "$S/$m-mm" ;;
		sh) shred -n1 "$S/$m-sh" ;;
		rs) rsync --inplace --no-whole-file "$GFS_TMP/rsync-src" "$S/$m-rs" ;;
		fp) fallocate -p -o 8192 -l 16384 "$S/$m-fp" ;;
		tree) python3 "$GFS_TMP/xor.py" "$S/$m-tree" ;;
		esac
		check "$m $f: the writer succeeded" test $? -eq 0
		ops[$f]=$(new_op s1 "$before")
	done
	for f in dd pw mm sh rs fp; do
		check_not "$m $f: the live file changed" test "$(h "$S/$m-$f")" == "${orig[$f]}"
		check_eq "$m $f: its op holds the bytes from before" "${orig[$f]}" \
			"$(h "$(bk_op s1 "${ops[$f]}")/$m-$f" 2>&1)"
		check_eq "$m $f: marked preserved" "${ops[$f]}" "$(getfattr --only-values \
			-n trusted.gracefs.preserved "$(bk_op s1 "${ops[$f]}")/$m-$f" 2>/dev/null)"
	done
	check_eq "$m tree: the XOR run's op holds the whole tree as it was" "${orig[tree]}" \
		"$(cd "$(bk_op s1 "${ops[tree]}")/$m-tree" && find . -type f | sort | xargs sha256sum)"
	check_eq "$m pw: two writes in one op, one item" 1 \
		"$(getfattr --absolute-names --only-values -n user.gracefs.items "$(mnt_op s1 "${ops[pw]}")")"

	# appends and identical rewrites keep nothing
	before=$(trash_op_dirs s1)
	sh -c 'echo more >>"$1"' _ "$S/$m-dd"
	sh -c 'head -c 10000 /dev/urandom >>"$1"' _ "$S/$m-pw"
	python3 "$GFS_TMP/same.py" "$S/$m-mm"
	python3 -c 'import os, sys
open(sys.argv[1], "w").write("new")
fd = os.open(sys.argv[1], os.O_WRONLY)
os.pwrite(fd, b"XX", 0)' "$S/$m-fresh"
	check_eq "$m: >>, same-bytes rewrite, a file the op made: no op" "$before" "$(trash_op_dirs s1)"
	check_eq "$m: the op's own file was written" "XXw" "$(cat "$S/$m-fresh")"

	check "$m: the ops close" wait_until 30 all_closed
	out=$(gctl undo "op:s1/${ops[dd]}" 2>&1)
	check_match "$m: undo dry run replaces the overwritten file" "replace" "$out"
	token=$(printf '%s\n' "$out" | sed -n 's/^plan token: //p')
	check "$m: undo of the dd op" gctl undo "op:s1/${ops[dd]}" --execute "$token"
	check_eq "$m dd: undo gives back the exact bytes" "${orig[dd]}" "$(h "$S/$m-dd")"
	check "$m: bulk undo --since" undo_since "$T"
	for f in pw mm sh rs fp; do
		check_eq "$m $f: undo gives back the exact bytes" "${orig[$f]}" "$(h "$S/$m-$f")"
	done
	check_eq "$m tree: undo gives back the whole tree" "${orig[tree]}" \
		"$(cd "$S/$m-tree" && find . -type f | sort | xargs sha256sum)"
}
