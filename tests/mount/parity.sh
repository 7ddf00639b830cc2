#!/bin/bash
#
# parity.sh — errno parity between gracefs and a plain directory.
#
# Runs parity.script (a sequence of single syscalls via errnotool) once in a
# plain directory and once in MNT/site1, and requires identical results step
# by step, then an identical final tree.  The plain directory lives next to
# BACKING, on the same filesystem, so both runs see the same backing
# filesystem semantics.  Afterwards checks that what the script deleted
# went to the trash (three ways: mount, backing store, .trash).
#
#   parity.sh              the real test (skips without gracefs or /dev/fuse)
#   parity.sh --self-test  runs the script on two plain directories and checks
#                          that the results agree and cover the expected
#                          errors; needs only errnotool.

. "$(dirname "$0")/lib.sh"

SCRIPT=$GFS_LIB_DIR/parity.script

# show ARGS... — the arguments, readable and unambiguous on one line.
show() {
	local a out=
	for a in "$@"; do
		if [[ $a =~ ^[A-Za-z0-9._/,+:=-]+$ ]]; then
			out+=" $a"
		else
			out+=" $(printf '%q' "$a")"
		fi
	done
	printf '%s' "${out# }" | cut -c1-80
}

# run_script ROOT OUT — source the script with ROOT as working directory.
run_script() {
	(
		cd "$1" || exit 1
		umask 022
		e() {
			local line=${BASH_LINENO[0]} out rc
			out=$("$ERRNOTOOL" "$@" 2>&1)
			rc=$?
			[ "$rc" -eq 0 ] || out="USAGE-ERROR(exit $rc): ${out%%$'\n'*}"
			printf '%s %s => %s\n' "$line" "$(show "$@")" "$out"
		}
		# shellcheck source=parity.script
		. "$SCRIPT"
	) >"$2" 2>"$2.stderr"
}

# compare_runs NAME_A OUT_A NAME_B OUT_B — one TAP line per step.
compare_runs() {
	local a=$2 b=$4 la lb i=0
	local -a A B
	mapfile -t A <"$a"
	mapfile -t B <"$b"
	if [ "${#A[@]}" -ne "${#B[@]}" ] || [ "${#A[@]}" -eq 0 ]; then
		fail "same number of steps ($1: ${#A[@]}, $3: ${#B[@]})" \
			"$(diff -u --label "$1" --label "$3" "$a" "$b" | head -80)"
		return
	fi
	for ((i = 0; i < ${#A[@]}; i++)); do
		la=${A[i]}
		lb=${B[i]}
		if [ "$la" == "$lb" ]; then
			pass "step $la"
		else
			fail "step ${la%% => *}" "$1: ${la#* => }" "$3: ${lb#* => }"
		fi
	done
	if [ -s "$a.stderr" ] || [ -s "$b.stderr" ]; then
		diag "stderr while running the script:" \
			"$(cat "$a.stderr" "$b.stderr" | head -20)"
	fi
}

# results OUT — the set of result words (OK and errno names) in a run.
results() {
	sed 's/.* => //; s/ .*//' "$1" | sort -u | tr '\n' ' '
}

self_test() {
	[ -x "$ERRNOTOOL" ] || skip_all "errnotool not found at $ERRNOTOOL"
	mkdir -m 0755 "$GFS_TMP/a" "$GFS_TMP/b"
	run_script "$GFS_TMP/a" "$GFS_TMP/a.out"
	run_script "$GFS_TMP/b" "$GFS_TMP/b.out"
	compare_runs plain-a "$GFS_TMP/a.out" plain-b "$GFS_TMP/b.out"
	check_same_text "final trees identical" \
		"$(tree_manifest "$GFS_TMP/a" notime)" "$(tree_manifest "$GFS_TMP/b" notime)"
	check_eq "no usage errors in the script" "" \
		"$(grep -h USAGE-ERROR "$GFS_TMP/a.out" "$GFS_TMP/b.out")"
	local got want w
	got=$(results "$GFS_TMP/a.out")
	for w in OK ENOENT EEXIST ENOTEMPTY ENOTDIR EISDIR EINVAL ENAMETOOLONG \
	    ENODATA ELOOP EPERM; do
		check_match "the script exercises $w" "(^| )$w( |$)" "$got"
	done
	check "the victim's content exists only where expected (sanity)" \
		test -z "$(grep -rl gracefs-parity-victim "$GFS_TMP/a" "$GFS_TMP/b")"
	done_testing
}

real_test() {
	gfs_require
	gfs_site site1
	gfs_mount
	mkdir -m 0755 "$GFS_TMP/plain"
	run_script "$GFS_TMP/plain" "$GFS_TMP/plain.out"
	run_script "$MNT/site1" "$GFS_TMP/gracefs.out"
	compare_runs plain "$GFS_TMP/plain.out" gracefs "$GFS_TMP/gracefs.out"
	check_same_text "final tree: plain dir = gracefs mount" \
		"$(tree_manifest "$GFS_TMP/plain" notime)" "$(tree_manifest "$MNT/site1" notime)"
	check_same_text "final tree: gracefs mount = backing store" \
		"$(tree_manifest "$MNT/site1")" "$(tree_manifest "$BACKING/site1")"
	check_eq ".trash is hidden from readdir at the site root" "" \
		"$(ls -a "$MNT/site1" | grep -x .trash)"

	# The deletions went to trash: the victim's bytes, and the replaced r2
	# ("two"), are in some op both in the backing store and through the mount.
	local ops
	ops=$(trash_op_dirs site1)
	check "the script's deletions created trash ops" test -n "$ops"
	check_eq "same ops through the mount" "$ops" "$(mnt_op_dirs site1)"
	check "unlinked file is in BACKING/site1/.trash" \
		grep -rqs gracefs-parity-victim "$(bk_trash site1)"
	check "unlinked file is in MNT/site1/.trash" \
		grep -rqs gracefs-parity-victim "$(mnt_trash site1)"
	check_eq "nothing of the trash shows in the live tree" "" \
		"$(grep -rl gracefs-parity-victim "$MNT/site1")"
	check "clean unmount" gfs_umount
	done_testing
}

case $1 in
--self-test) self_test ;;
"") real_test ;;
*) echo "usage: $0 [--self-test]" >&2; GFS_PLAN_DONE=1; exit 2 ;;
esac
