#!/usr/bin/env bash
# scripts/bench/bench_replay.sh — issue 19's speed line: the incident
# replay's whole operator cycle (look, find, dry run, execute) in command
# time, next to restoring the same data from a local copy.
#
# usage: scripts/bench/bench_replay.sh [--files N] [--gracefs PATH]
#                                     [--gracectl PATH] [--out FILE]
#                                     [--no-report] [--keep]
#
#   --files N       files per site (default 300: 20 sites, 6,000 files,
#                   the size of the replayed incident's node)
#   --gracefs PATH  daemon (default build/fs/gracefs in the repo)
#   --gracectl PATH CLI (default build/fs/gracectl in the repo)
#   --out FILE      report (default docs/performance.md); only the part
#                   between <!-- replay:begin --> and <!-- replay:end -->
#                   is rewritten, appended when missing
#   --no-report     print the figures, write nothing
#   --keep          keep the work directory
#
# The node: 20 sites s01..s20, each www/index.html, www/blog/2024/*.md,
# www/blog/2023/*.md, www/img/*.png, www/css/*.css (N files in all).  The
# bad run (one shell, one rm process per command, through the mount):
# rm -rf of 12 whole sites, then two passes over 5 more (www/blog/2024,
# then www/blog and one image); meanwhile tenants write files in s18-s20.
# Then, caches dropped before each command (cold) and once more without
# (warm), the operator's cycle, each command timed from start to exit:
#   1. gracectl ls                       what was deleted, by whom
#   2. gracectl find 'p1.md'             where a known file is now
#   3. gracectl undo --since T           the dry run: plan and token
#   4. gracectl undo --since T --execute TOKEN
# Target: the four together <= 1 s (the replay measured < 1 s; keep it).
# Baseline, same run, same filesystem: the same deleted data put back by
# `cp -a` from a plain copy taken before the run (a local backup: the
# best case without gracefs), cold.  Checked: s01..s17 equal to before
# (names, types, sizes, modes, contents) after each execute; the warm
# cycle is run on a second deletion by the same script.
#
# Needs root and /dev/fuse; cleans up after itself (its own mount and
# daemon only, by PID).  Exit 0 when both cycles restored everything and
# met the target, 1 otherwise, 2 on bad usage or setup.
set -euo pipefail
BENCH_TAG=bench_replay
BENCH_MARK=replay
BENCH_DIE_STATUS=2
. "$(dirname "$0")/benchlib.sh"
shopt -s inherit_errexit

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NFILES=300
GRACEFS=$REPO/build/fs/gracefs
GRACECTL=$REPO/build/fs/gracectl
OUT=$REPO/docs/performance.md
REPORT=1
KEEP=0
TARGET_S=1

while (($#)); do
	case $1 in
	--files) (($# >= 2)) || usage 2; NFILES=$2; shift ;;
	--gracefs) (($# >= 2)) || usage 2; GRACEFS=$2; shift ;;
	--gracectl) (($# >= 2)) || usage 2; GRACECTL=$2; shift ;;
	--out) (($# >= 2)) || usage 2; OUT=$2; shift ;;
	--no-report) REPORT=0 ;;
	--keep) KEEP=1 ;;
	-h|--help) usage 0 ;;
	*) printf 'unknown argument: %s\n\n' "$1" >&2; usage 2 ;;
	esac
	shift
done
[[ $NFILES =~ ^[1-9][0-9]*$ ]] && ((NFILES >= 10)) || die "bad --files: $NFILES (10 or more)"
[[ $(id -u) == 0 ]] || die "needs root (mounting, drop_caches)"
[[ -c /dev/fuse ]] || die "/dev/fuse is missing"
[[ -x $GRACEFS && -x $GRACECTL ]] || die "build first (ninja -C build): $GRACEFS, $GRACECTL"

WORK=$(mktemp -d /var/tmp/gracefs-bench-replay.XXXXXX)
B=$WORK/backing
M=$WORK/mnt
mkdir -p "$B" "$M" "$WORK/copy"
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

SITES=()
for i in $(seq -w 1 20); do SITES+=("s$i"); done
AFFECTED=("${SITES[@]:0:17}")

# make_site DIR — NFILES small files of distinct contents (builtins only)
make_site() {
	local n=$((NFILES - 1)) k
	mkdir -p "$1/www/blog/2024" "$1/www/blog/2023" "$1/www/img" "$1/www/css"
	printf '%s index\n' "$1" >"$1/www/index.html"
	for ((k = 1; k <= n; k++)); do
		case $((k % 4)) in
		0) printf '%s post %d\n' "$1" "$k" >"$1/www/blog/2024/p$k.md" ;;
		1) printf '%s old %d\n' "$1" "$k" >"$1/www/blog/2023/p$k.md" ;;
		2) printf '%s img %d\n' "$1" "$k" >"$1/www/img/i$k.png" ;;
		3) printf '%s css %d\n' "$1" "$k" >"$1/www/css/c$k.css" ;;
		esac
	done
}

fingerprint() {
	(cd "$B" && find "${AFFECTED[@]}" -name .trash -prune -o -printf '%p %y %s %m\n' |
		LC_ALL=C sort | sha256sum | cut -c1-16
	 cd "$B" && find "${AFFECTED[@]}" -name .trash -prune -o -type f -print0 |
		LC_ALL=C sort -z | xargs -0 cat | sha256sum | cut -c1-16) | paste -sd' '
}

cold() { sync -f "$B"; echo 3 >/proc/sys/vm/drop_caches; }
now() { printf '%s' "$EPOCHREALTIME"; }
gctl() { timeout 120 "$GRACECTL" -b "$B" "$@"; }
n_ops() { gctl --json ls | grep -o '"state":"[a-z]*"' | grep -c "${1:-.}" || true; }

# the bad run: one rm per command, as the incident's script
bad_run() {
	local s
	for s in "${SITES[@]:0:12}"; do rm -rf "${M:?}/$s"; done
	for s in "${SITES[@]:12:5}"; do rm -rf "$M/$s/www/blog/2024"; done
	for s in "${SITES[@]:12:5}"; do rm -rf "$M/$s/www/blog" "$M/$s/www/img/i2.png"; done
}

declare -A RES=()

# cycle NAME COLD — delete, then the four timed commands; RES[NAME,*]
cycle() {
	local name=$1 c=$2 T t0 t1 dry token out k i s
	sleep 1
	T=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	(bad_run) &
	local bad=$!
	for ((i = 0; i < 20; i++)); do   # tenants write meanwhile
		for s in s18 s19 s20; do printf 'new %d\n' "$i" >"$M/$s/www/new-$name-$i.txt"; done
	done
	wait "$bad"
	for ((i = 0; i < 600; i++)); do
		[[ $(n_ops) -gt 0 && $(n_ops) == "$(n_ops closed)" ]] && break
		sleep 0.1
	done
	for k in ls find dry exec; do
		((c)) && cold
		t0=$(now)
		case $k in
		ls)   gctl ls >/dev/null ;;
		find) RES[$name,found]=$(gctl find 'p1.md' | grep -c 'p1\.md' || true) ;;
		dry)  dry=$(gctl --json undo --since "$T") ;;
		exec) out=$(gctl --json undo --since "$T" --execute "$token") ;;
		esac
		t1=$(now)
		RES[$name,$k]=$(calc "$t1 - $t0")
		[[ $k != dry ]] || token=$(sed -n 's/.*"token":"\([0-9a-f]*\)".*/\1/p' <<<"$dry")
	done
	# the dry run's head: {"dry_run":true,"token":…,"ops":N,"sites":N,"items":N,…
	RES[$name,ops]=$(sed -n 's/^{"dry_run":true,"token":"[0-9a-f]*","ops":\([0-9]*\),.*/\1/p' <<<"$dry")
	RES[$name,items]=$(sed -n 's/^{"dry_run":true,[^}]*"sites":[0-9]*,"items":\([0-9]*\),.*/\1/p' <<<"$dry")
	RES[$name,total]=$(calc "${RES[$name,ls]} + ${RES[$name,find]} + ${RES[$name,dry]} + ${RES[$name,exec]}")
	# find must have found the 17 p1.md (12 whole sites, 5 blogs)
	((RES[$name,found] >= 17)) && grep -q '"failed_ops":0,' <<<"$out" &&
		grep -q '"failed":0,' <<<"$out" &&
		[[ $(fingerprint) == "$FP" ]] && RES[$name,check]=ok || RES[$name,check]=FAILED
	log "$name: ${RES[$name,ops]} ops, ${RES[$name,items]} items; ls ${RES[$name,ls]} s," \
		"find ${RES[$name,find]} s (${RES[$name,found]} lines), dry run ${RES[$name,dry]} s, execute ${RES[$name,exec]} s;" \
		"check ${RES[$name,check]}"
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
log "work dir $WORK (load average $LOAD0)"
for s in "${SITES[@]}"; do make_site "$B/$s"; done
cp -a "$B"/s0[1-9] "$B"/s1[0-7] "$WORK/copy/"
FP=$(fingerprint)
gfs_mount "$GRACEFS" "$B" "$M" op_gap=1s,brake=off
cycle cold 1
cycle warm 0
gfs_umount "$M"

# baseline: the same deleted data back from the plain copy, cold
mkdir -p "$WORK/restore"
cold
t0=$(now)
cp -a "$WORK/copy"/s0[1-9] "$WORK/copy"/s10 "$WORK/copy"/s11 "$WORK/copy"/s12 "$WORK/restore/"
for s in "${SITES[@]:12:5}"; do
	mkdir -p "$WORK/restore/$s/www/img"
	cp -a "$WORK/copy/$s/www/blog" "$WORK/restore/$s/www/"
	cp -a "$WORK/copy/$s/www/img/i2.png" "$WORK/restore/$s/www/img/"
done
t1=$(now)
RES[cp]=$(calc "$t1 - $t0")
log "baseline: cp -a of the same data from a plain copy, cold: ${RES[cp]} s"

rc=0
result() {
	if [[ ${RES[$1,check]} == ok ]] && le "${RES[$1,total]}" "$TARGET_S"; then
		echo PASS
	else
		rc=1
		echo MISS
	fi
}
rcold=$(result cold)
rwarm=$(result warm)
printf '\n%-6s %5s %6s %8s %8s %8s %8s %8s %10s  %s\n' cycle ops items ls_s find_s dry_s exec_s total_s cp_a_s "result (<= $TARGET_S s)"
for n in cold warm; do
	printf '%-6s %5s %6s %8s %8s %8s %8s %8s %10s  %s\n' "$n" "${RES[$n,ops]}" "${RES[$n,items]}" \
		"$(fmt "${RES[$n,ls]}")" "$(fmt "${RES[$n,find]}")" "$(fmt "${RES[$n,dry]}")" \
		"$(fmt "${RES[$n,exec]}")" "$(fmt "${RES[$n,total]}")" "$(fmt "${RES[cp]}")" \
		"$([[ $n == cold ]] && echo "$rcold" || echo "$rwarm") (check ${RES[$n,check]})"
done

if ((REPORT)); then
	blk=$WORK/section.md
	rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
	[[ -z $(git -C "$REPO" status --porcelain 2>/dev/null) ]] || rev="$rev (with uncommitted changes)"
	{
		echo '<!-- replay:begin -->'
		echo '<!-- Generated by scripts/bench/bench_replay.sh; everything up to replay:end is rewritten on each run. -->'
		echo
		printf 'Run %s: 20 sites x %d files; the bad run removes 12 whole sites and makes two\n' \
			"$(date -u '+%F %H:%M UTC')" "$NFILES"
		echo 'passes over parts of 5 more while tenants write; then the operator'"'"'s cycle.'
		echo
		echo '| cycle | ops | items | `ls` | `find` | dry run | execute | **cycle** | `cp -a` from a copy | target | result |'
		echo '|---|--:|--:|--:|--:|--:|--:|--:|--:|---|---|'
		for n in cold warm; do
			printf '| %s | %s | %s | %s s | %s s | %s s | %s s | **%s s** | %s s | <= %s s | %s |\n' "$n" \
				"${RES[$n,ops]}" "${RES[$n,items]}" "$(fmt "${RES[$n,ls]}")" \
				"$(fmt "${RES[$n,find]}")" "$(fmt "${RES[$n,dry]}")" "$(fmt "${RES[$n,exec]}")" \
				"$(fmt "${RES[$n,total]}")" "$(fmt "${RES[cp]}")" "$TARGET_S" \
				"$([[ $n == cold ]] && echo "$rcold" || echo "$rwarm")"
		done
		echo
		printf -- '- Machine: %s CPUs, %s; load average at the start %s; backing store on %s (`/var/tmp`); repo %s.\n' \
			"$(nproc)" "$(uname -r)" "$LOAD0" "$(findmnt -no FSTYPE -T "$WORK")" "$rev"
		echo '- Each command timed from start to exit; cold: `sync; echo 3 > drop_caches` before each'
		echo '  of the four.  Checked after each execute: s01..s17 equal to before (listing and contents).'
		echo '- `cp -a` baseline: the same deleted data (12 sites, 5 blogs, 5 images) copied back'
		echo '  from a plain copy on the same filesystem, cold: what a restore from a local backup'
		echo '  costs at best, before finding which data to take.'
		echo '<!-- replay:end -->'
	} >"$blk"
	report_section "$OUT" "The incident replay cycle (issue 19)" "$blk" || rc=1
fi
exit "$rc"
