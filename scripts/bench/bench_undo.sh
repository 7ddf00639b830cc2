#!/usr/bin/env bash
# scripts/bench/bench_undo.sh — the issue 4 benchmark: `gracectl undo` of a run that
# deleted 100 sites of 1,000 files each, next to the time the deletion took.
#
# usage: scripts/bench/bench_undo.sh [--sites N] [--files N] [--ops N]
#                              [--variant dir|files|ops|both|all]
#                              [--gracefs PATH] [--gracectl PATH] [--warm]
#                              [--out FILE] [--no-report] [--keep]
#
#   --sites N       sites (default 100)
#   --files N       files per site (default 1000), in 10 subdirectories of data/
#   --ops N         files of the ops variant (default 20000), in directories of 1,000
#   --variant V     dir:   one `rm -rf MNT/s*/data` deletes every site's data dir
#                   files: one `find MNT/s*/data -type f -delete` removes the files
#                          one by one (the directories stay)
#                   ops:   one process per file (a script running `rm FILE` in a
#                          loop) in one site `ops`: one op per file (issue 19);
#                          also times `ls .trash` through the mount next to the
#                          same listing of the backing directory, cold and warm
#                   both:  dir, then files
#                   all:   dir, files, then ops (default)
#   --gracefs PATH  daemon (default build/fs/gracefs in the repo)
#   --gracectl PATH CLI (default build/fs/gracectl in the repo)
#   --warm          do not drop the page/dentry caches before the timed steps
#   --out FILE      report (default docs/performance.md in the repo); only the
#                   part between <!-- undo:begin --> and <!-- undo:end --> is
#                   rewritten; the section is appended when missing
#   --no-report     print the figures, write nothing
#   --keep          keep the work directory (it is unmounted all the same)
#
# One run per variant, on one mount (gracefs -f -o op_gap=1s,brake=off BACKING MNT):
#   1. the tree is written into BACKING before mounting (not timed);
#   2. one process deletes through the mount: timed (wall clock);
#   3. wait until every op closed (op_gap), then `gracectl undo --since T`,
#      the dry run that prints the plan token: timed separately;
#   4. `gracectl undo --since T --execute TOKEN`: timed — the figure the
#      target (undo <= 1 s) is about;
#   5. check: every file back at its original path with its content
#      (a listing of names, sizes, modes and a hash of all contents, before
#      vs after), no op left in the trash, no op failed.
# The ops variant deletes with a perl loop that forks one child per file;
# the child names itself `rm` (comm and command line, as an exec of rm
# would) and unlinks its file: one process, so one op, per file, without
# 20,000 execs.  Its target: undo --execute <= 2 s, dry run <= 0.5 s, and
# `ls .trash` within 1.5x of the backing directory's (cold and warm).
# The files variant also times the floor under its undo: the same number of
# rename(2)s between two plain directories of the same filesystem, one
# process (python3; skipped without it).
# Before each timed step: sync and drop_caches (unless --warm), so the step
# starts cold.  Every variant is shown PASS or MISS against the target
# (undo <= 1 s); the target is the issue's benchmark, the dir variant.
# Exit status: 0 when every variant restored everything and the dir variant
# (if run) met the target, 1 otherwise, 2 on bad usage or setup.
#
# Needs root and /dev/fuse.  Cleans up after itself: unmounts its mount,
# stops only the daemon it started (by PID), removes its work directory.
set -euo pipefail
BENCH_TAG=bench_undo
BENCH_MARK=undo
BENCH_DIE_STATUS=2
. "$(dirname "$0")/benchlib.sh"
shopt -s inherit_errexit

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)

NSITES=100
NFILES=1000
NSUB=10
NOPS=20000
OPS_PER_DIR=1000
VARIANTS=(dir files ops)
GRACEFS=$REPO/build/fs/gracefs
GRACECTL=$REPO/build/fs/gracectl
OUT=$REPO/docs/performance.md
REPORT=1
KEEP=0
COLD=1
TARGET_S=1                # dir variant: undo --execute
OPS_UNDO_S=2              # ops variant: undo --execute
OPS_DRY_S=0.5             # ops variant: its dry run
LS_RATIO=1.5              # ops variant: ls .trash, mount vs backing directory
OP_TIMEOUT=60             # seconds for one step on the mount before it counts as hung


while (($#)); do
	case $1 in
	--sites) (($# >= 2)) || usage 2; NSITES=$2; shift ;;
	--files) (($# >= 2)) || usage 2; NFILES=$2; shift ;;
	--ops) (($# >= 2)) || usage 2; NOPS=$2; shift ;;
	--variant)
		(($# >= 2)) || usage 2
		case $2 in
		dir|files|ops) VARIANTS=("$2") ;;
		both) VARIANTS=(dir files) ;;
		all) VARIANTS=(dir files ops) ;;
		*) die "bad --variant: $2 (dir, files, ops, both or all)" ;;
		esac
		shift ;;
	--gracefs) (($# >= 2)) || usage 2; GRACEFS=$2; shift ;;
	--gracectl) (($# >= 2)) || usage 2; GRACECTL=$2; shift ;;
	--warm) COLD=0 ;;
	--out) (($# >= 2)) || usage 2; OUT=$2; shift ;;
	--no-report) REPORT=0 ;;
	--keep) KEEP=1 ;;
	-h|--help) usage 0 ;;
	*) printf 'unknown argument: %s\n\n' "$1" >&2; usage 2 ;;
	esac
	shift
done
[[ $NSITES =~ ^[1-9][0-9]*$ ]] || die "bad --sites: $NSITES"
[[ $NFILES =~ ^[1-9][0-9]*$ ]] || die "bad --files: $NFILES"
[[ $NOPS =~ ^[1-9][0-9]*$ ]] || die "bad --ops: $NOPS"
((NFILES >= NSUB)) || NSUB=1
[[ $(id -u) == 0 ]] || die "needs root (mounting, drop_caches)"
[[ -c /dev/fuse ]] || die "/dev/fuse is missing"
[[ -x $GRACEFS ]] || die "gracefs not found at $GRACEFS (ninja -C build)"
[[ -x $GRACECTL ]] || die "gracectl not found at $GRACECTL (ninja -C build)"
command -v fusermount3 >/dev/null || die "fusermount3 is not installed"

# ---------------------------------------------------------------- mount and cleanup

WORK=$(mktemp -d /var/tmp/gracefs-bench-undo.XXXXXX)
BACKING=$WORK/backing
MNT=$WORK/mnt
DLOG=$WORK/gracefs.log
DAEMON=          # PID of the gracefs this script started
mkdir -p "$BACKING" "$MNT"

is_mounted() { awk -v m="$MNT" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo; }

cleanup() {
	local rc=$? i
	set +e
	trap - EXIT INT TERM
	if is_mounted; then
		for ((i = 0; i < 50; i++)); do
			fusermount3 -u "$MNT" 2>/dev/null && break
			sleep 0.1
		done
		is_mounted && { log "$MNT busy: lazy unmount"; fusermount3 -u -z "$MNT" 2>/dev/null || umount -l "$MNT"; }
	fi
	if [[ -n $DAEMON ]]; then
		for ((i = 0; i < 100; i++)); do kill -0 "$DAEMON" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$DAEMON" 2>/dev/null; then
			log "gracefs (pid $DAEMON) still running after unmount: SIGTERM"
			kill -TERM "$DAEMON" 2>/dev/null
			sleep 2
			kill -0 "$DAEMON" 2>/dev/null && kill -KILL "$DAEMON" 2>/dev/null
		fi
		wait "$DAEMON" 2>/dev/null
	fi
	if is_mounted; then
		log "$MNT is still mounted; leaving $WORK in place"
	elif ((KEEP)); then
		log "kept $WORK"
	else
		rm -rf --one-file-system "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mount_gracefs() {
	local i
	# brake=off: the mass-deletion brake would hold the rm -rf of 100 sites
	"$GRACEFS" -f -o op_gap=1s,brake=off "$BACKING" "$MNT" >>"$DLOG" 2>&1 </dev/null &
	DAEMON=$!
	for ((i = 0; i < 150; i++)); do
		timeout 2 mountpoint -q "$MNT" && return 0
		kill -0 "$DAEMON" 2>/dev/null || { tail -5 "$DLOG" >&2; die "gracefs exited before mounting"; }
		sleep 0.1
	done
	die "gracefs did not mount $MNT within 15 s"
}

gctl() { timeout "$OP_TIMEOUT" "$GRACECTL" -b "$BACKING" "$@"; }

cold() {
	sync -f "$BACKING"
	((COLD)) || return 0
	echo 3 >/proc/sys/vm/drop_caches
}

now() { printf '%s' "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# ---------------------------------------------------------------- the tree

# make_tree BASE — BASE/s<i>/index.html and BASE/s<i>/data/d<k>/f<j>:
# NFILES small files of distinct contents per site (bash builtins only: no
# fork per file).
make_tree() {
	local i k j per=$((NFILES / NSUB)) extra=$((NFILES % NSUB)) n d
	for ((i = 1; i <= NSITES; i++)); do
		for ((k = 0; k < NSUB; k++)); do
			d=$1/s$i/data/d$k
			mkdir -p "$d"
			n=$((per + (k < extra ? 1 : 0)))
			for ((j = 0; j < n; j++)); do
				printf 'site %d dir %d file %d\n' "$i" "$k" "$j" >"$d/f$j"
			done
		done
		printf 'site %d\n' "$i" >"$1/s$i/index.html"
	done
}

# make_ops_tree BASE — BASE/ops/d<k>/f<j>: NOPS small files of distinct
# contents, OPS_PER_DIR per directory (the ops variant's site).
make_ops_tree() {
	local j d
	for ((j = 0; j < NOPS; j++)); do
		d=$1/ops/d$((j / OPS_PER_DIR))
		((j % OPS_PER_DIR)) || mkdir -p "$d"
		printf 'ops file %d\n' "$j" >"$d/f$j"
	done
}

# rename_floor TREE FILTER — seconds for the renames of a file-by-file
# undo done directly: every file of a tree like the variant's (make_TREE)
# whose directory path has FILTER in it, into a twin directory.
rename_floor() {
	local raw=$WORK/raw
	command -v python3 >/dev/null || { printf 'n/a'; return 0; }
	"make_$1" "$raw/a"
	(cd "$raw/a" && find . -type d -exec mkdir -p "../b/{}" \;)
	cold
	python3 - "$raw" "$2" <<-'EOF' || printf 'n/a'
	import os, sys, time
	os.chdir(sys.argv[1])
	moves = [os.path.join(d, f) for d, _, fs in os.walk("a") if sys.argv[2] in d + "/" for f in fs]
	t = time.monotonic()
	for p in moves:
	    os.rename(p, "b" + p[1:])
	print("%.3f" % (time.monotonic() - t), len(moves))
	EOF
	rm -rf "$raw"
}

# The sites a variant works on (a glob below BACKING).
SITES_GLOB='s*'

# What must come back: names, types, sizes, modes (listing), and contents.
fingerprint() {
	(
		cd "$BACKING"
		# shellcheck disable=SC2086  # the glob is meant
		find $SITES_GLOB -name .trash -prune -o -printf '%p %y %s %m\n' | LC_ALL=C sort |
			sha256sum | cut -c1-16
		# shellcheck disable=SC2086
		find $SITES_GLOB -name .trash -prune -o -type f -print0 | LC_ALL=C sort -z |
			xargs -0 cat | sha256sum | cut -c1-16
	) | paste -sd' '
}

# shellcheck disable=SC2086
nfiles_live() { (cd "$BACKING" && find $SITES_GLOB -name .trash -prune -o -type f -print | wc -l); }

# delete_one_by_one — one process per file of the ops site, as a script's
# `for f in ...; do rm "$f"; done` would run: a forked child that names
# itself rm ($0 sets comm and the command line) unlinks one file through
# the mount.  Forks, never execs: 20,000 execs of rm would cost the shared
# machine far more than the deletion being measured.
delete_one_by_one() {
	(cd "$BACKING/ops" && find . -type f -printf '%P\n') |
	timeout 1800 perl -e '
		use POSIX ();
		chdir $ARGV[0] or die "chdir $ARGV[0]: $!\n";
		while (my $f = <STDIN>) {
			chomp $f;
			my $pid = fork() // die "fork: $!\n";
			if (!$pid) {
				$0 = "rm";
				POSIX::_exit(unlink($f) ? 0 : 1);
			}
			waitpid($pid, 0);
			die "rm $f failed\n" if $?;
		}' "$MNT/ops"
}

# ls_time DIR — seconds of one `ls DIR` (names only, sorted, as an operator
# types it; output discarded).
ls_time() {
	local t0 t1
	t0=$(now)
	ls "$1" >/dev/null
	t1=$(now)
	elapsed "$t0" "$t1"
}

# ls_warm DIR — the best of three warm listings.
ls_warm() {
	local i t best=
	for ((i = 0; i < 3; i++)); do
		t=$(ls_time "$1")
		[[ -z $best ]] || ! ge "$t" "$best" && best=$t
	done
	printf '%s' "$best"
}

# ls .trash of the ops site: the backing directory, then the mount, each
# cold then warm.
ls_trash() {
	local v=$1
	cold
	RES[$v,ls_bcold]=$(ls_time "$BACKING/ops/.trash")
	RES[$v,ls_bwarm]=$(ls_warm "$BACKING/ops/.trash")
	cold
	RES[$v,ls_mcold]=$(ls_time "$MNT/ops/.trash")
	RES[$v,ls_mwarm]=$(ls_warm "$MNT/ops/.trash")
	log "  ls .trash: backing ${RES[$v,ls_bcold]} s cold, ${RES[$v,ls_bwarm]} s warm;" \
		"mount ${RES[$v,ls_mcold]} s cold, ${RES[$v,ls_mwarm]} s warm"
}

# n_ops STATE — ops in the index ("" = any state)
n_ops() {
	gctl --json ls | grep -o '"state":"[a-z]*"' | grep -c "${1:-.}" || true
}

wait_for() {   # wait_for SECONDS CMD...
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < end)) || return 1
		sleep 0.2
	done
}
all_closed() { [[ $(n_ops) -gt 0 && $(n_ops) == "$(n_ops closed)" ]]; }
none_left() { [[ $(n_ops) == 0 ]]; }

# ---------------------------------------------------------------- one variant

declare -A RES=()

run_variant() {
	local v=$1 t0 t1 T fp0 fp1 ops dry token out rc nleft nlive
	if [[ $v == ops ]]; then
		SITES_GLOB=ops
		nleft=0
		nlive=$NOPS
		log "variant $v: one site, $NOPS files, one process per file"
	else
		SITES_GLOB='s*'
		nleft=$NSITES
		nlive=$((NSITES * (NFILES + 1)))
		log "variant $v: $NSITES sites x $NFILES files"
	fi
	fp0=$(fingerprint)
	sleep 1   # T below is in whole seconds: no earlier op may fall in it
	T=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	cold
	t0=$(now)
	case $v in
	dir)   timeout 600 rm -rf "$MNT"/s*/data ;;
	files) timeout 600 find "$MNT"/s*/data -type f -delete ;;
	ops)   delete_one_by_one ;;
	esac
	t1=$(now)
	RES[$v,delete]=$(elapsed "$t0" "$t1")
	log "  deletion: ${RES[$v,delete]} s"
	[[ $(nfiles_live) == "$nleft" ]] || { log "  deletion left files behind"; return 1; }

	wait_for 60 all_closed || { log "  the ops did not close"; return 1; }
	ops=$(n_ops closed)
	RES[$v,ops]=$ops
	RES[$v,items]=$(gctl --json ls | grep -o '"items":[0-9]*' | awk -F: '{ s += $2 } END { print s }')
	log "  $ops ops, ${RES[$v,items]} items in trash"
	[[ $v != ops ]] || ls_trash "$v"

	cold
	t0=$(now)
	dry=$(gctl --json undo --since "$T")
	t1=$(now)
	RES[$v,dry]=$(elapsed "$t0" "$t1")
	token=$(printf '%s' "$dry" | sed -n 's/.*"token":"\([0-9a-f]*\)".*/\1/p')
	[[ -n $token ]] || { log "  no plan token in the dry run: $dry"; return 1; }
	log "  dry run: ${RES[$v,dry]} s, token $token"
	if [[ $v == ops ]]; then   # and again, warm: what a second look costs
		t0=$(now)
		gctl --json undo --since "$T" >/dev/null
		t1=$(now)
		RES[$v,drywarm]=$(elapsed "$t0" "$t1")
		log "  dry run again (warm): ${RES[$v,drywarm]} s"
	fi

	cold
	rc=0
	t0=$(now)
	out=$(gctl --json undo --since "$T" --execute "$token") || rc=$?
	t1=$(now)
	RES[$v,undo]=$(elapsed "$t0" "$t1")
	log "  undo --execute: ${RES[$v,undo]} s (exit $rc)"
	printf '%s\n' "$out" >"$WORK/undo-$v.json"
	RES[$v,check]=ok
	# every parent directory is live: nothing to recreate, nothing renamed
	if ((rc != 0)) || ! grep -q "\"ops\":$ops,\"failed_ops\":0," <<<"$out" ||
	   ! grep -q '"renamed":0,' <<<"$out" || ! grep -q '"mkdirs":0,' <<<"$out" ||
	   ! grep -q '"failed":0,' <<<"$out"; then
		RES[$v,check]="undo failed (exit $rc): $(head -c 300 <<<"$out")"
	fi
	fp1=$(fingerprint)
	if [[ $fp1 != "$fp0" ]]; then
		RES[$v,check]="tree differs after the undo ($fp0 before, $fp1 after)"
	elif [[ $(nfiles_live) != "$nlive" ]]; then
		RES[$v,check]="$(nfiles_live) files live, expected $nlive"
	elif ! wait_for 30 none_left; then
		RES[$v,check]="$(n_ops) ops still in the trash after the undo"
	fi
	RES[$v,verdict]=PASS
	if [[ $v == ops ]]; then
		le "${RES[$v,undo]}" "$OPS_UNDO_S" && le "${RES[$v,dry]}" "$OPS_DRY_S" &&
			le "${RES[$v,ls_mcold]}" "$(calc "${RES[$v,ls_bcold]} * $LS_RATIO")" &&
			le "${RES[$v,ls_mwarm]}" "$(calc "${RES[$v,ls_bwarm]} * $LS_RATIO")" ||
			RES[$v,verdict]=MISS
	else
		le "${RES[$v,undo]}" "$TARGET_S" || RES[$v,verdict]=MISS
	fi
	[[ ${RES[$v,check]} == ok ]] || RES[$v,verdict]=FAIL
	log "  check: ${RES[$v,check]}"
	if [[ $v == files || $v == ops ]]; then
		local n=$NOPS
		if [[ $v == files ]]; then
			n=$((NSITES * NFILES))
			RES[$v,floor]=$(rename_floor tree /data/)
		else
			RES[$v,floor]=$(rename_floor ops_tree /)
		fi
		log "  renames in a plain directory (seconds, count): ${RES[$v,floor]}"
		[[ ${RES[$v,floor]} == *" $n" ]] && RES[$v,floor]=${RES[$v,floor]% *} ||
			RES[$v,floor]=n/a
	fi
}

# ---------------------------------------------------------------- report

describe() {
	case $1 in
	dir)   printf '`rm -rf MNT/s*/data` (one process)' ;;
	files) printf '`find MNT/s*/data -type f -delete` (one process, file by file)' ;;
	ops)   printf '`rm FILE`, one process per file, in one site' ;;
	esac
}

sec() { if [[ $1 =~ ^[0-9.]+$ ]]; then printf '%s s' "$1"; else printf '%s' "${1:-—}"; fi; }

table() {
	local v
	printf '| deletion | ops | items | delete | undo dry run | **undo --execute** | rename floor | target | result |\n'
	printf '|---|---:|---:|---:|---:|---:|---:|---|---|\n'
	for v in "${VARIANTS[@]}"; do
		printf '| %s | %s | %s | %s | %s | **%s** | %s | %s | %s |\n' \
			"$(describe "$v")" "${RES[$v,ops]:-?}" "${RES[$v,items]:-?}" \
			"$(sec "${RES[$v,delete]:-n/a}")" "$(sec "${RES[$v,dry]:-n/a}")" "$(sec "${RES[$v,undo]:-n/a}")" \
			"$(sec "${RES[$v,floor]:-}")" "$(target "$v")" "${RES[$v,verdict]:-FAIL}"
	done
}

target() {
	case $1 in
	ops) printf 'undo <= %s s, dry run <= %s s, ls <= %sx' "$OPS_UNDO_S" "$OPS_DRY_S" "$LS_RATIO" ;;
	*)   printf 'undo <= %s s' "$TARGET_S" ;;
	esac
}

ratio() { if isnum "${1:-}" && isnum "${2:-}" && ge "$2" 0.0005; then fmt "$(calc "$1 / $2")" 2; else printf 'n/a'; fi; }

# ls .trash of the ops variant: the mount next to the backing directory.
ls_table() {
	local v=ops
	printf '| `ls SITE/.trash` (%s op dirs) | backing dir | through the mount | mount / backing |\n' \
		"${RES[$v,ops]:-?}"
	printf '|---|---:|---:|---:|\n'
	printf '| cold | %s | %s | %s |\n' "$(sec "${RES[$v,ls_bcold]:-n/a}")" \
		"$(sec "${RES[$v,ls_mcold]:-n/a}")" "$(ratio "${RES[$v,ls_mcold]:-}" "${RES[$v,ls_bcold]:-}")"
	printf '| warm (best of 3) | %s | %s | %s |\n' "$(sec "${RES[$v,ls_bwarm]:-n/a}")" \
		"$(sec "${RES[$v,ls_mwarm]:-n/a}")" "$(ratio "${RES[$v,ls_mwarm]:-}" "${RES[$v,ls_bwarm]:-}")"
}

# shellcheck disable=SC2016  # the backquotes are Markdown
block() {
	local rev fstype cpu
	rev=$(git -C "$REPO" --no-optional-locks rev-parse --short HEAD 2>/dev/null || echo unknown)
	[[ -z $(git -C "$REPO" --no-optional-locks status --porcelain --untracked-files=no 2>/dev/null) ]] ||
		rev+=" (with uncommitted changes)"
	fstype=$(findmnt -n -o FSTYPE,SOURCE --target "$WORK" 2>/dev/null | awk '{ print $1 " on " $2 }')
	[[ -n $fstype ]] || fstype=$(stat -f -c %T "$WORK")
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	cat <<-EOF
	<!-- undo:begin -->
	<!-- Generated by scripts/bench/bench_undo.sh; everything up to undo:end is rewritten on each run. -->

	Run $(date -u '+%Y-%m-%d %H:%M UTC'): $NSITES sites x $NFILES files ($NSUB directories
	per site's \`data/\`) for the first two rows, one site of $NOPS files
	($OPS_PER_DIR per directory) for the one-process-per-file row; one run per
	row, wall clock.

	$(table)
	$(has_variant ops && printf '\n%s\n' "$(ls_table)")

	- Machine: $(nproc) CPUs${cpu:+ ($cpu)}, Linux $(uname -r); load average at the start
	  $LOAD0; backing store on $fstype (\`$(dirname "$WORK")\`); repo $rev;
	  \`${GRACEFS#"$REPO"/} -f -o op_gap=1s,brake=off BACKING MNT\` (the
	  mass-deletion brake would hold the rm -rf of 100 sites).
	- delete: the one deleting process, through the mount.  undo dry run:
	  \`gracectl undo --since T\` (plans every op, prints the token; not part of the
	  target).  undo --execute: \`gracectl undo --since T --execute TOKEN\`, the
	  whole command, from start to exit.$( ((COLD)) && printf '\n  Page, dentry and inode caches dropped before each of the three steps.')
	- Checked after each undo: every file back at its path (listing of names, types,
	  sizes and modes, and a hash of all contents, equal to before the deletion),
	  no op failed, the trash empty.
	- rm -rf moves each file into the trash on its own (the delete column), but the
	  trash merges the emptied directories back into the op, so its undo is one
	  rename per site.  The file-by-file deletion leaves the directories live: its
	  undo is one rename per file.  rename floor: the same number of rename(2)s
	  between two plain directories of the same filesystem, one process, cold —
	  what that undo costs the kernel, before gracefs does anything.  The target
	  is set on the issue's benchmark (rm -rf of a data directory per site); the
	  file-by-file row is shown against it for information.
	- One process per file (issue 19): a perl loop forks a child per file that
	  names itself \`rm\` and unlinks it through the mount, so every file is an
	  op of its own (ops are per process).  Its undo is one op per file.  Its
	  \`ls SITE/.trash\` lists one op directory per file: plain \`ls\` (names,
	  sorted, to /dev/null) of the same directory through the mount and in the
	  backing store, cold (caches dropped) and warm (best of three).  The same
	  dry run run again right after the cold one (warm caches) took
	  ${RES[ops,drywarm]:-n/a} s.
	<!-- undo:end -->
	EOF
}

write_report() {
	local blk
	blk=$(mktemp "$WORK/block.XXXXXX")
	block >"$blk"
	report_section "$1" "gracectl undo (issue 4)" "$blk"
}

# ---------------------------------------------------------------- main

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
log "work dir $WORK (load average $LOAD0)"
has_variant() { [[ " ${VARIANTS[*]} " == *" $1 "* ]]; }
if has_variant dir || has_variant files; then
	log "writing $NSITES x $NFILES files into the backing store"
	make_tree "$BACKING"
fi
if has_variant ops; then
	log "writing $NOPS files into the backing store's site ops"
	make_ops_tree "$BACKING"
fi
mount_gracefs
status=0
for v in "${VARIANTS[@]}"; do
	run_variant "$v" || { RES[$v,verdict]=FAIL; RES[$v,check]=${RES[$v,check]:-failed}; }
	[[ ${RES[$v,verdict]} == FAIL || ($v != files && ${RES[$v,verdict]} != PASS) ]] && status=1
done

printf '\n'
printf '%-10s %8s %8s %10s %10s %10s %10s  %s\n' variant ops items delete_s dry_run_s undo_s floor_s \
	"result (target)"
for v in "${VARIANTS[@]}"; do
	printf '%-10s %8s %8s %10s %10s %10s %10s  %s\n' "$v" "${RES[$v,ops]:-?}" "${RES[$v,items]:-?}" \
		"${RES[$v,delete]:-n/a}" "${RES[$v,dry]:-n/a}" "${RES[$v,undo]:-n/a}" "${RES[$v,floor]:--}" \
		"${RES[$v,verdict]} ($(target "$v"))"
	[[ ${RES[$v,check]:-ok} == ok ]] || printf '           %s\n' "${RES[$v,check]}"
done
if has_variant ops; then
	printf '\n%-22s %10s %10s %8s\n' 'ls ops/.trash' backing_s mount_s ratio
	printf '%-22s %10s %10s %8s\n' cold "${RES[ops,ls_bcold]:-n/a}" "${RES[ops,ls_mcold]:-n/a}" \
		"$(ratio "${RES[ops,ls_mcold]:-}" "${RES[ops,ls_bcold]:-}")"
	printf '%-22s %10s %10s %8s\n' 'warm (best of 3)' "${RES[ops,ls_bwarm]:-n/a}" \
		"${RES[ops,ls_mwarm]:-n/a}" "$(ratio "${RES[ops,ls_mwarm]:-}" "${RES[ops,ls_bwarm]:-}")"
fi
((REPORT)) && { write_report "$OUT" || status=1; }
exit "$status"
