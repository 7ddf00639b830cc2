#!/usr/bin/env bash
# scripts/bench/bench_sweep.sh — the issue 3 benchmark: how fast the sweeper purges an
# expired op compared with plain `rm -rf` of the same tree, and what the purge
# does to the latency of stat() on live files through the mount.
#
# usage: scripts/bench/bench_sweep.sh [--quick] [--out FILE] [--runs N] [--tree DxF]
#                               [--idle-secs S] [--gracefs PATH] [--no-report]
#
#   --quick         scaled-down smoke run (10k files instead of 100k, 3 s idle
#                   sampling, 1 round unless --runs)
#   --out FILE      Markdown report (default: docs/performance.md in the repo);
#                   only the part between <!-- sweep:begin --> and
#                   <!-- sweep:end --> is rewritten; the section is appended at
#                   the end when missing
#   --runs N        rounds (default 3, 1 with --quick); medians are reported
#   --tree DxF      the purged trees: D dirs of F files of 1 KiB (default 100x1000)
#   --idle-secs S   how long stat() latency is sampled while idle (default 10)
#   --gracefs PATH  daemon (default build/fs/gracefs in the repo)
#   --no-report     print the figures, write nothing
#
# Every round, on one filesystem (a work dir under /var/tmp, same fs as the repo):
#   1. benchtool writes the tree A into WORK/plain/, and into BACKING two more
#      copies, s1/tree and s2/tree, plus a live tree of 2,000 files, live/tree
#      (not timed).  gracefs is mounted with
#      -o retention=1s,min_retention=1s,sweep_interval=1s,op_gap=1s,cache_timeout=0.
#   2. Sites s1 and s2 are held (setfattr user.gracefs.hold=1 on MNT/sN/.trash),
#      then `rm -rf MNT/s1/tree` and `rm -rf MNT/s2/tree` through the mount (not
#      part of any figure); wait until both ops are closed and expired.
#   3. Purge rate, in an order alternating between rounds:
#        plain:   sync + drop_caches, then `rm -rf WORK/plain/tree` timed;
#        gracefs: sync + drop_caches, release s1's hold; the purge duration is
#                 the daemon's own figure from its log line "purged op ...: N
#                 entries in X s" (from the start of the purge to the removal
#                 of the op dir); the wall time from the release to the op dir
#                 disappearing from BACKING is recorded as a cross-check (it
#                 also contains the wait for the next sweeper pass, <= 1 s).
#   4. stat latency: sync + drop_caches, one untimed walk of MNT/live/tree, then
#      scripts/bench/latency.c lstat()s random live files, one call at a time,
#      (a) for --idle-secs seconds with nothing else going on, (b) from the
#      release of s2's hold until s2's op dir is gone from BACKING.  "During
#      purge" is the samples taken inside the daemon's purge window (its
#      duration, ending when the op dir vanished); the whole release..gone
#      period is reported too.  cache_timeout=0 makes every lstat() reach the
#      daemon (LOOKUPs of the path's components, GETATTR), so the figures are
#      the daemon's latency, not the kernel's attribute cache.
#   5. Checks: each op purged completely (entry count), the live tree and the
#      other held op untouched.
#
# Needs root (drop_caches, mounting).  Cleans up after itself: unmounts its
# mount, signals only the daemon it started (by PID), removes its work dir.
# Exit status 0 when every round completed (whether targets are met or not),
# 1 when a round failed, 2 on bad usage or setup.
set -euo pipefail
BENCH_TAG=bench_sweep
BENCH_MARK=sweep
BENCH_DIE_STATUS=2
. "$(dirname "$0")/benchlib.sh"
shopt -s inherit_errexit

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)

QUICK=0
RUNS=""
TREE=""
IDLE_SECS=""
REPORT=1
GRACEFS=$REPO/build/fs/gracefs
OUT=$REPO/docs/performance.md
GRACEFS_OPTS="retention=1s,min_retention=1s,sweep_interval=1s,op_gap=1s,cache_timeout=0"
LIVE_DIRS=20 LIVE_FILES=100      # the live tree: 2,000 files
FILE_SIZE=1024
TARGET_RATE=0.8                  # purge rate >= 0.8 x plain rm -rf
TARGET_LAT=2                     # p99 during purge <= 2 x p99 idle
MOUNT_TIMEOUT=15
STEP_TIMEOUT=${BENCH_STEP_TIMEOUT:-1800}
OP_TIMEOUT=60

# ---------------------------------------------------------------- utilities


tmo()  { timeout -s KILL "$@"; }

# ---------------------------------------------------------------- arguments

while (($#)); do
	case $1 in
	--quick) QUICK=1 ;;
	--out) (($# >= 2)) || usage 2; OUT=$2; shift ;;
	--out=*) OUT=${1#*=} ;;
	--runs) (($# >= 2)) || usage 2; RUNS=$2; shift ;;
	--runs=*) RUNS=${1#*=} ;;
	--tree) (($# >= 2)) || usage 2; TREE=$2; shift ;;
	--tree=*) TREE=${1#*=} ;;
	--idle-secs) (($# >= 2)) || usage 2; IDLE_SECS=$2; shift ;;
	--idle-secs=*) IDLE_SECS=${1#*=} ;;
	--gracefs) (($# >= 2)) || usage 2; GRACEFS=$2; shift ;;
	--gracefs=*) GRACEFS=${1#*=} ;;
	--no-report) REPORT=0 ;;
	-h|--help) usage 0 ;;
	*) printf 'unknown argument: %s\n\n' "$1" >&2; usage 2 ;;
	esac
	shift
done
if ((QUICK)); then NDIRS=10 NFILES=1000; else NDIRS=100 NFILES=1000; fi
if [[ -n $TREE ]]; then
	[[ $TREE =~ ^([1-9][0-9]*)x([1-9][0-9]*)$ ]] || die "bad --tree: $TREE"
	NDIRS=${BASH_REMATCH[1]} NFILES=${BASH_REMATCH[2]}
fi
: "${RUNS:=$((QUICK ? 1 : 3))}"
: "${IDLE_SECS:=$((QUICK ? 3 : 10))}"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "bad --runs: $RUNS"
{ isnum "$IDLE_SECS" && ge "$IDLE_SECS" 0.5; } || die "bad --idle-secs: $IDLE_SECS"
NTOTAL=$((NDIRS * NFILES))
NENTRIES=$((NTOTAL + NDIRS + 1))   # files, dirs and tree/ itself
LIVE_TOTAL=$((LIVE_DIRS * LIVE_FILES))

((EUID == 0)) || die "must run as root (drop_caches, mounts)"
[[ -c /dev/fuse ]] || die "/dev/fuse is missing"
[[ -x $GRACEFS ]] || die "gracefs not found at $GRACEFS (ninja -C build)"
for c in fusermount3 setfattr getfattr gcc findmnt; do
	command -v "$c" >/dev/null || die "$c is not installed"
done

# ---------------------------------------------------------------- work dir, mount, cleanup

# A work dir on the same filesystem as the repo (like scripts/bench/bench.sh).
make_workdir() {
	local dev cand
	dev=$(stat -c %d "$REPO")
	for cand in /var/tmp /tmp "$REPO/build"; do
		mkdir -p "$cand" 2>/dev/null || continue
		if [[ $(stat -c %d "$cand") == "$dev" ]]; then
			WORK=$(mktemp -d "$cand/gracefs-bench-sweep.XXXXXX")
			return 0
		fi
	done
	WORK=$(mktemp -d /var/tmp/gracefs-bench-sweep.XXXXXX)
	warn "no temp dir on the repo's filesystem; using $WORK"
}

WORK=""
DAEMON=""        # PID of the gracefs this script started (never any other)
is_mounted() { awk -v m="$MNT" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo; }

start_daemon() {
	local i
	"$GRACEFS" -f -o "$GRACEFS_OPTS" "$BACKING" "$MNT" </dev/null >>"$DLOG" 2>&1 &
	DAEMON=$!
	for ((i = 0; i < MOUNT_TIMEOUT * 20; i++)); do
		if tmo 5 mountpoint -q "$MNT"; then return 0; fi
		if ! kill -0 "$DAEMON" 2>/dev/null; then
			wait "$DAEMON" 2>/dev/null || true
			DAEMON=""
			warn "gracefs exited before mounting; log:"
			tail -n 20 "$DLOG" >&2 || true
			return 1
		fi
		sleep 0.05
	done
	warn "gracefs did not mount within ${MOUNT_TIMEOUT}s"
	stop_daemon
	return 1
}

# Unmount (if mounted) and make sure the daemon we started is gone.  Never
# fails; only ever signals $DAEMON.
stop_daemon() {
	local i
	if is_mounted; then
		for ((i = 0; i < 25; i++)); do
			fusermount3 -u "$MNT" 2>/dev/null && break
			sleep 0.2
		done
		if is_mounted; then
			warn "$MNT busy; lazy unmount"
			fusermount3 -u -z "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
		fi
	fi
	[[ -n $DAEMON ]] || return 0
	# it syncs its index on the way out, which can take a while on a busy disk
	for ((i = 0; i < 300; i++)); do
		kill -0 "$DAEMON" 2>/dev/null || break
		sleep 0.1
	done
	if ((i >= 20)); then warn "gracefs (pid $DAEMON) took $((i / 10)).$((i % 10)) s to exit after the unmount"; fi
	if kill -0 "$DAEMON" 2>/dev/null; then
		warn "gracefs (pid $DAEMON) still running 30 s after the unmount; SIGTERM"
		kill -TERM "$DAEMON" 2>/dev/null || true
		sleep 2
		if kill -0 "$DAEMON" 2>/dev/null; then
			warn "gracefs (pid $DAEMON) ignored SIGTERM; SIGKILL"
			kill -KILL "$DAEMON" 2>/dev/null || true
		fi
	fi
	wait "$DAEMON" 2>/dev/null || true
	DAEMON=""
}

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	if ((rc == 130 || rc == 143)); then log "interrupted; cleaning up"; fi
	# a latency/rm child killed by the signal may still be around: ours only
	for p in $(jobs -p); do [[ $p == "$DAEMON" ]] || kill -KILL "$p" 2>/dev/null; done
	if [[ -n $WORK ]]; then stop_daemon; fi
	remove_workdir "$WORK"
	exit "$rc"
}

# syncfs of the work dir's filesystem (and of the mount, if up), then drop
# page, dentry and inode caches: the next step starts cold.
drop_caches() {
	if [[ -n $DAEMON ]] && is_mounted; then tmo "$OP_TIMEOUT" sync -f "$MNT" || warn "sync -f $MNT failed"; fi
	sync -f "$WORK"
	echo 3 >/proc/sys/vm/drop_caches
}

build_tools() {
	BIN=$WORK/bin
	mkdir -p "$BIN"
	gcc -O2 -Wall -o "$BIN/benchtool" "$SCRIPT_DIR/benchtool.c" || die "building benchtool failed"
	gcc -O2 -Wall -o "$BIN/latency" "$SCRIPT_DIR/latency.c" || die "building latency failed"
	BT=$BIN/benchtool
	LAT=$BIN/latency
}

check_space() {
	# 3 trees + the live one; a 1 KiB file takes one 4 KiB block, plus dirs
	local need_kib avail_kib
	need_kib=$(((3 * NTOTAL + LIVE_TOTAL) * 5 + 262144))
	avail_kib=$(df --output=avail -k "$WORK" | tail -n1 | tr -d ' ')
	((avail_kib >= need_kib)) ||
		die "need ~$((need_kib / 1024)) MiB free in $WORK, have $((avail_kib / 1024)) MiB"
}

machine_info() {
	local src dev
	CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
	MEM_GIB=$(awk '/^MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
	FSTYPE=$(findmnt -n -o FSTYPE -T "$WORK" 2>/dev/null || stat -f -c %T "$WORK")
	src=$(findmnt -n -o SOURCE -T "$WORK" 2>/dev/null || true)
	DEVICE=${src:-unknown}
	IOSCHED=""
	dev=$(basename "$src" 2>/dev/null || true)
	if [[ -n $dev && -r /sys/class/block/$dev/queue/scheduler ]]; then
		IOSCHED=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "/sys/class/block/$dev/queue/scheduler")
	elif [[ -n $dev && -r /sys/class/block/$dev/../queue/scheduler ]]; then
		IOSCHED=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "/sys/class/block/$dev/../queue/scheduler")
	fi
	GRACEFS_VER=$(timeout 5 "$GRACEFS" --version 2>/dev/null </dev/null | grep -m1 -i '^gracefs' || true)
	GIT_REV=$(git -C "$REPO" --no-optional-locks rev-parse --short HEAD 2>/dev/null || echo "no commit")
	if [[ -n $(git -C "$REPO" --no-optional-locks status --porcelain --untracked-files=no 2>/dev/null || true) ]]; then
		GIT_REV+=" (with uncommitted changes)"
	fi
	LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
}

# ---------------------------------------------------------------- steps

declare -A R=()          # "key" -> per-round values, space-separated
add() { R[$1]+="${R[$1]:+ }$2"; }
FAILURES=()

# user+system CPU seconds of the daemon so far
daemon_cpu() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$DAEMON/stat"
}

set_hold() { tmo "$OP_TIMEOUT" setfattr -n user.gracefs.hold -v "$2" "$MNT/$1/.trash"; }
op_attr()  { tmo "$OP_TIMEOUT" getfattr --only-values -n "user.gracefs.$3" "$MNT/$1/.trash/$2" 2>/dev/null; }

# the one op dir of a site in BACKING
op_of() {
	local site=$1 ops
	ops=$(find "$BACKING/$site/.trash" -mindepth 1 -maxdepth 1 -type d -printf '%f\n')
	[[ -n $ops && $(wc -l <<<"$ops") == 1 ]] || { warn "$site: expected one op in .trash, found: ${ops:-none}"; return 1; }
	printf '%s' "$ops"
}

# wait until the op is closed (op_gap) and past its expiry
wait_expired() {
	local site=$1 op=$2 i st exp now
	for ((i = 0; i < 600; i++)); do
		st=$(op_attr "$site" "$op" state || true)
		exp=$(op_attr "$site" "$op" expires || true)
		now=$(date -u '+%Y-%m-%dT%H:%M:%SZ')
		if [[ $st == closed && -n $exp && $now > $exp ]]; then return 0; fi
		sleep 0.2
	done
	warn "$site/$op: not closed and expired after 120 s (state '$st', expires '$exp')"
	return 1
}

# the daemon's "purged op SITE/OP: N entries in X s" line -> "N X"
purge_line() {
	local site=$1 op=$2 i line
	for ((i = 0; i < 100; i++)); do
		line=$(grep -F "purged op $site/$op:" "$DLOG" | tail -n1 || true)
		if [[ $line =~ :\ ([0-9]+)\ entries\ in\ ([0-9.]+)\ s ]]; then
			printf '%s %s' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
			return 0
		fi
		sleep 0.1
	done
	warn "no 'purged op $site/$op' line in the daemon's log"
	return 1
}

count_entries() { find "$1" -mindepth 1 | wc -l; }

daemon_alive() {
	if [[ -n $DAEMON ]] && kill -0 "$DAEMON" 2>/dev/null && is_mounted; then return 0; fi
	warn "gracefs is gone (crashed?); log:"
	tail -n 20 "$DLOG" >&2 || true
	return 1
}

step_plain() {
	local t
	drop_caches
	t=$(tmo "$STEP_TIMEOUT" "$BT" time rm -rf "$WORK/plain/tree") || { warn "rm -rf failed"; return 1; }
	[[ ! -e $WORK/plain/tree ]] || { warn "$WORK/plain/tree still there after rm -rf"; return 1; }
	sync -f "$WORK"
	add plain_s "$t"
	log "plain rm -rf: $t s ($(fmt "$(calc "$NTOTAL / $t")" 0) files/s)"
}

step_purge() {
	local op=$OP1 wall cpu0 cpu1 n d pl
	drop_caches
	cpu0=$(daemon_cpu)
	wall=$(tmo "$STEP_TIMEOUT" "$LAT" wait --release "$MNT/s1/.trash" "$BACKING/s1/.trash/$op" "$STEP_TIMEOUT") ||
		{ warn "s1's op was not purged"; return 1; }
	pl=$(purge_line s1 "$op") || return 1
	read -r n d <<<"$pl"
	cpu1=$(daemon_cpu)
	[[ $n == "$NENTRIES" ]] || { warn "purge of s1 removed $n entries, expected $NENTRIES"; return 1; }
	[[ -d $BACKING/s2/.trash/$OP2 ]] || { warn "s2's held op vanished during s1's purge"; return 1; }
	{ isnum "$d" && ge "$d" 0.000001; } || { warn "bad purge duration '$d'"; return 1; }
	sync -f "$WORK"
	add purge_s "$d"
	add wall_s "$wall"
	add purge_cpu "$(calc "($cpu1 - $cpu0) / $d * 100")"
	log "gracefs purge: $d s in the daemon ($(fmt "$(calc "$NTOTAL / $d")" 0) files/s), release -> gone $wall s, daemon CPU $(calc "$cpu1 - $cpu0") s"
}

# idle, then during the purge of s2's op
step_latency() {
	local out idle during n d pl gone from ls=$MNT/live/tree
	local -a I D W
	drop_caches
	out=$(tmo "$STEP_TIMEOUT" "$BT" stat "$ls") || { warn "walk of the live tree failed"; return 1; }
	[[ ${out#* } == "$LIVE_TOTAL" ]] || { warn "live tree: ${out#* } files, expected $LIVE_TOTAL"; return 1; }

	idle=$(tmo $((${IDLE_SECS%.*} + OP_TIMEOUT)) "$LAT" stat "$ls" "$LIVE_DIRS" "$LIVE_FILES" "$IDLE_SECS") ||
		{ warn "idle sampling failed"; return 1; }
	read -r -a I <<<"$idle"
	log "stat idle: ${I[0]} samples, p50 ${I[1]} us, p99 ${I[2]} us, p99.9 ${I[3]} us, max ${I[4]} us"

	during=$(tmo "$STEP_TIMEOUT" "$LAT" stat --release "$MNT/s2/.trash" --until-gone "$BACKING/s2/.trash/$OP2" \
		--raw "$WORK/during.raw" "$ls" "$LIVE_DIRS" "$LIVE_FILES" "$STEP_TIMEOUT") ||
		{ warn "sampling during the purge failed"; return 1; }
	read -r -a D <<<"$during"
	gone=${D[7]}
	pl=$(purge_line s2 "$OP2") || return 1
	read -r n d <<<"$pl"
	[[ $n == "$NENTRIES" ]] || { warn "purge of s2 removed $n entries, expected $NENTRIES"; return 1; }
	from=$(calc "$gone - $d")
	if ! ge "$from" 0; then from=0; fi
	read -r -a W <<<"$("$LAT" pct "$WORK/during.raw" "$from" "$gone")"
	rm -f "$WORK/during.raw"
	((W[0] > 0)) || { warn "no samples inside the purge window"; return 1; }
	out=$(tmo "$STEP_TIMEOUT" "$BT" stat "$ls") || { warn "walk of the live tree failed after the purge"; return 1; }
	[[ ${out#* } == "$LIVE_TOTAL" ]] || { warn "live tree: ${out#* } files after the purge, expected $LIVE_TOTAL"; return 1; }

	add idle_n "${I[0]}"; add idle_p50 "${I[1]}"; add idle_p99 "${I[2]}"; add idle_p999 "${I[3]}"; add idle_max "${I[4]}"
	add dur_n "${W[0]}"; add dur_p50 "${W[1]}"; add dur_p99 "${W[2]}"; add dur_p999 "${W[3]}"; add dur_max "${W[4]}"
	add all_p50 "${D[1]}"; add all_p99 "${D[2]}"; add all_s "$gone"
	add purge2_s "$d"
	add lat_ratio "$(calc "${W[2]} / ${I[2]}")"
	log "stat during purge ($d s window of $gone s sampled): ${W[0]} samples, p50 ${W[1]} us, p99 ${W[2]} us, p99.9 ${W[3]} us, max ${W[4]} us"
	log "  whole release..gone period: ${D[0]} samples, p50 ${D[1]} us, p99 ${D[2]} us"
}

run_round() {
	local round=$1 t s op n
	log "=== round $round/$RUNS ==="
	rm -rf --one-file-system "$WORK/plain" "$BACKING"
	mkdir -p "$WORK/plain" "$BACKING/s1" "$BACKING/s2" "$BACKING/live" "$MNT"
	: >"$DLOG"
	log "writing 3 x $NTOTAL files ($NDIRS dirs x $NFILES, 1 KiB) and the live tree of $LIVE_TOTAL"
	tmo "$STEP_TIMEOUT" "$BT" create "$WORK/plain/tree" "$NDIRS" "$NFILES" "$FILE_SIZE" >/dev/null
	tmo "$STEP_TIMEOUT" "$BT" create "$BACKING/s1/tree" "$NDIRS" "$NFILES" "$FILE_SIZE" >/dev/null
	tmo "$STEP_TIMEOUT" "$BT" create "$BACKING/s2/tree" "$NDIRS" "$NFILES" "$FILE_SIZE" >/dev/null
	tmo "$STEP_TIMEOUT" "$BT" create "$BACKING/live/tree" "$LIVE_DIRS" "$LIVE_FILES" "$FILE_SIZE" >/dev/null
	sync -f "$WORK"
	start_daemon || return 1
	{ set_hold s1 1 && set_hold s2 1; } || { warn "cannot hold sites s1, s2"; return 1; }
	t=$(tmo "$STEP_TIMEOUT" "$BT" time rm -rf "$MNT/s1/tree") || { warn "rm -rf MNT/s1/tree failed"; return 1; }
	log "rm -rf MNT/s1/tree (through the mount, not a figure here): $t s"
	tmo "$STEP_TIMEOUT" rm -rf "$MNT/s2/tree" || { warn "rm -rf MNT/s2/tree failed"; return 1; }
	{ OP1=$(op_of s1) && OP2=$(op_of s2); } || return 1
	{ wait_expired s1 "$OP1" && wait_expired s2 "$OP2"; } || return 1
	for s in s1 s2; do
		op=$OP1
		[[ $s == s1 ]] || op=$OP2
		n=$(count_entries "$BACKING/$s/.trash/$op")
		((n == NENTRIES)) || { warn "$s/$op holds $n entries, expected $NENTRIES"; return 1; }
	done
	daemon_alive || return 1
	if ((round % 2)); then
		step_plain || return 1
		step_purge || return 1
	else
		step_purge || return 1
		step_plain || return 1
	fi
	daemon_alive || return 1
	step_latency || return 1
	daemon_alive || return 1
	stop_daemon
	rm -rf --one-file-system "$BACKING" "$WORK/plain"
}

# ---------------------------------------------------------------- summary and report

median() {
	tr ' ' '\n' <<<"$1" | grep -E '^[0-9.]+$' | sort -g | awk '{ v[NR] = $1 }
		END { if (!NR) print "n/a"; else if (NR % 2) printf "%.6f", v[(NR + 1) / 2]
		      else printf "%.6f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

summarize() {
	local k
	declare -gA M=()
	for k in "${!R[@]}"; do M[$k]=$(median "${R[$k]}"); done
	# per-round rate ratios (gracefs purge files/s / plain rm -rf files/s = plain s / purge s)
	local -a p g
	read -r -a p <<<"${R[plain_s]:-}"
	read -r -a g <<<"${R[purge_s]:-}"
	local i
	for ((i = 0; i < ${#p[@]} && i < ${#g[@]}; i++)); do add rate_ratio "$(calc "${p[i]} / ${g[i]}")"; done
	M[rate_ratio]=$(median "${R[rate_ratio]:-}")
	M[lat_ratio]=$(median "${R[lat_ratio]:-}")
	VERDICT_RATE="n/a" VERDICT_LAT="n/a"
	if isnum "${M[rate_ratio]}"; then
		if ge "${M[rate_ratio]}" "$TARGET_RATE"; then VERDICT_RATE=PASS; else VERDICT_RATE=MISS; fi
	fi
	if isnum "${M[lat_ratio]}"; then
		if le "${M[lat_ratio]}" "$TARGET_LAT"; then VERDICT_LAT=PASS; else VERDICT_LAT=MISS; fi
	fi
}

rate() { if isnum "$1"; then fmt "$(calc "$NTOTAL / $1")" 0; else printf 'n/a'; fi; }
num()  { if isnum "$1"; then fmt "$1" "${2:-3}"; else printf 'n/a'; fi; }
# "label|value|target|result" rows
table_rows() {
	local nk=$((NTOTAL / 1000))
	cat <<-EOF
	plain \`rm -rf\`, ${nk}k files, cold|$(num "${M[plain_s]:-}") s = $(rate "${M[plain_s]:-}") files/s||
	gracefs sweeper purge, same tree, cold (daemon's figure)|$(num "${M[purge_s]:-}") s = $(rate "${M[purge_s]:-}") files/s||
	**purge rate / \`rm -rf\` rate**|**$(num "${M[rate_ratio]:-}" 2)**|>= $TARGET_RATE|$VERDICT_RATE
	release of the hold -> op dir gone (wall, incl. wait for the next pass)|$(num "${M[wall_s]:-}") s||
	daemon CPU during the purge (user+sys / purge time)|$(num "${M[purge_cpu]:-}" 0) %||
	\`stat\` p50 / p99, idle|$(num "${M[idle_p50]:-}" 1) / $(num "${M[idle_p99]:-}" 1) µs||
	\`stat\` p50 / p99, during purge|$(num "${M[dur_p50]:-}" 1) / $(num "${M[dur_p99]:-}" 1) µs||
	**p99 during / p99 idle**|**$(num "${M[lat_ratio]:-}" 2)**|<= $TARGET_LAT|$VERDICT_LAT
	\`stat\` p50 / p99, whole release..gone period|$(num "${M[all_p50]:-}" 1) / $(num "${M[all_p99]:-}" 1) µs||
	purge time while \`stat\` is sampled (daemon's figure)|$(num "${M[purge2_s]:-}") s = $(rate "${M[purge2_s]:-}") files/s||
	EOF
}

print_text_table() {
	local label value target result
	printf '%-72s  %-28s  %-7s  %s\n' measure "value (median)" target result
	printf '%s\n' "$(printf '%0.s-' {1..118})"
	while IFS='|' read -r label value target result; do
		label=${label//\*\*/}; label=${label//\`/}; value=${value//\*\*/}; value=${value//µs/us}
		printf '%-72s  %-28s  %-7s  %s\n' "$label" "$value" "$target" "$result"
	done < <(table_rows)
}

print_md_table() {
	local label value target result
	printf '| measure | value (median of %s) | target | result |\n|---|--:|---|---|\n' \
		"$RUNS round$( ((RUNS == 1)) || printf s)"
	while IFS='|' read -r label value target result; do
		printf '| %s | %s | %s | %s |\n' "$label" "$value" "$target" "$result"
	done < <(table_rows)
}

# one row per value, one column per round
print_md_raw() {
	local key label digits x r
	printf '| per round |'
	for ((r = 1; r <= RUNS; r++)); do printf ' %s |' "$r"; done
	printf '\n|---|'
	for ((r = 1; r <= RUNS; r++)); do printf -- '--:|'; done
	printf '\n'
	while IFS='|' read -r key label digits; do
		printf '| %s |' "$label"
		local -a v=()
		read -r -a v <<<"${R[$key]:-}"
		for ((r = 0; r < RUNS; r++)); do
			x=${v[r]:-n/a}
			printf ' %s |' "$(num "$x" "$digits")"
		done
		printf '\n'
	done <<-EOF
	plain_s|plain \`rm -rf\` (s)|3
	purge_s|gracefs purge (s, daemon's figure)|3
	rate_ratio|purge rate / \`rm -rf\` rate|2
	wall_s|release -> op dir gone (s, wall)|3
	purge_cpu|daemon CPU during the purge (%)|0
	idle_n|stat idle: samples|0
	idle_p50|stat idle p50 (µs)|1
	idle_p99|stat idle p99 (µs)|1
	idle_p999|stat idle p99.9 (µs)|1
	idle_max|stat idle max (µs)|0
	dur_n|stat during purge: samples|0
	dur_p50|stat during purge p50 (µs)|1
	dur_p99|stat during purge p99 (µs)|1
	dur_p999|stat during purge p99.9 (µs)|1
	dur_max|stat during purge max (µs)|0
	lat_ratio|p99 during / p99 idle|2
	all_s|release..gone sampled (s)|3
	purge2_s|purge while sampled (s, daemon's figure)|3
	EOF
}

# shellcheck disable=SC2016  # the backquotes are Markdown
block() {
	local mode="full size" fail=""
	((QUICK)) && mode="--quick smoke run, scaled down, not representative"
	((${#FAILURES[@]} == 0)) || fail=$'\n'"- **Failed rounds:** ${FAILURES[*]}"
	cat <<-EOF
	<!-- sweep:begin -->
	<!-- Generated by scripts/bench/bench_sweep.sh; everything up to sweep:end is rewritten on each run. -->

	Run $(date -u '+%Y-%m-%d %H:%M UTC') ($mode): $NTOTAL files ($NDIRS dirs x $NFILES, 1 KiB) per purged tree,
	live tree of $LIVE_TOTAL files; $RUNS round$( ((RUNS == 1)) || printf s), medians.

	$(print_md_table)

	- Machine: $(nproc) CPUs${CPU_MODEL:+ ($CPU_MODEL)}, $MEM_GIB GiB RAM, Linux $(uname -r); load average
	  at the start $LOAD_START (shared machine).  Backing store: $FSTYPE on $DEVICE${IOSCHED:+ (I/O scheduler $IOSCHED)},
	  work dir under \`$(dirname "$WORK")\`, the same filesystem for both copies of the tree.
	- ${GRACEFS_VER:-gracefs (version unknown)}, repo $GIT_REV:
	  \`${GRACEFS#"$REPO"/} -f -o $GRACEFS_OPTS BACKING MNT\`.
	- Purge rate: the tree is written twice on the same filesystem (benchtool), once in a plain
	  directory, once in site s1 of BACKING; s1 is held (\`user.gracefs.hold=1\` on \`MNT/s1/.trash\`)
	  and the tree deleted with \`rm -rf\` through the mount, then the op left to close and expire.
	  Plain: \`sync -f; echo 3 > drop_caches\`, then \`rm -rf\` of the plain copy, timed (CLOCK_MONOTONIC).
	  gracefs: the same cache drop, then the hold is released; the figure is the daemon's own
	  purge duration (log line \`purged op ...: N entries in X s\`, from the start of the purge to
	  the op dir's removal; sweeper at nice 10, idle I/O class, 1024 entries per locked step).
	  Rate = files / time; the ratio is taken per round (plain and purge run back to back), then
	  the median; plain and gracefs alternate which goes first.  "Release -> gone" is the wall time
	  from \`setfattr ... hold=0\` to the op dir vanishing from BACKING, a cross-check that also
	  contains the wait for the next sweeper pass (sweep_interval=1s).
	- stat latency: \`scripts/bench/latency.c\` calls \`lstat()\` on random files of MNT/live/tree, one call
	  at a time, timing each with CLOCK_MONOTONIC.  Mounted with \`cache_timeout=0\`, so the kernel
	  keeps no entry/attribute cache and every call reaches the daemon (a LOOKUP per path
	  component and a GETATTR) — these are daemon round trips, not cached stats.  Caches dropped
	  and the live tree walked once first.  Idle: $IDLE_SECS s of sampling, the second held op
	  waiting in s2.  During purge: sampling starts at the release of s2's hold and runs until
	  s2's op dir is gone; the "during" figures are the samples inside the purge itself (the
	  daemon's duration, ending when the op dir vanished), the whole release..gone period is
	  shown for reference.  The ratio is per round, then the median.
	- Checked each round: every purge removed exactly $NENTRIES entries (files, dirs, \`tree/\`), the
	  other held op and all $LIVE_TOTAL live files untouched.$fail

	<details><summary>Per-round values</summary>

	$(print_md_raw)

	</details>
	<!-- sweep:end -->
	EOF
}

write_report() {
	local blk
	blk=$(mktemp "$WORK/block.XXXXXX")
	block >"$blk"
	report_section "$1" "Sweeper: purge rate and stat latency (issue 3)" "$blk"
}

# ---------------------------------------------------------------- main

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

make_workdir
BACKING=$WORK/backing
MNT=$WORK/mnt
DLOG=$WORK/gracefs.log
log "work dir: $WORK ($(stat -f -c %T "$WORK")); $NTOTAL files per tree, $RUNS round(s)"
check_space
build_tools
machine_info

status=0
for ((r = 1; r <= RUNS; r++)); do
	if ! run_round "$r"; then
		loud "round $r FAILED; daemon log tail:"
		tail -n 10 "$DLOG" >&2 || true
		FAILURES+=("round $r")
		status=1
		stop_daemon
	fi
done

summarize
printf '\n'
print_text_table
printf '\n(stat through the mount with cache_timeout=0: every call reaches the daemon)\n'
((${#FAILURES[@]} == 0)) || loud "FAILED: ${FAILURES[*]}"
if ((REPORT)); then write_report "$OUT" || status=1; fi
exit "$status"
