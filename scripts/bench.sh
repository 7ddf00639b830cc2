#!/usr/bin/env bash
# scripts/bench.sh — benchmark gracefs against a plain directory and two other
# FUSE filesystems (libfuse's passthrough_ll example and bindfs).
#
# usage: scripts/bench.sh [--quick] [--gracefs PATH] [--gracefs-opts O] [--runs N]
#                         [--tree DxF] [--out FILE]
#
#   --quick         scaled-down smoke run (2k files, 128 MiB instead of 20k / 1 GiB)
#   --gracefs PATH  gracefs binary (default: build/fs/gracefs in the repo)
#   --gracefs-opts O  extra -o options for gracefs (appended to retention=30d)
#   --tree DxF      the small-file tree: D dirs of F files (default 100x200)
#   --runs N        rounds of every workload; the median is reported
#                   (default 3, 1 with --quick)
#   --out FILE      Markdown report (default: docs/performance.md in the repo);
#                   only the part between <!-- bench:begin --> and
#                   <!-- bench:end --> is rewritten, the analysis is kept.
#
# All four configurations run in the same invocation, on the same filesystem
# (a temporary work dir next to the repo), one after the other:
#   plain           a directory
#   passthrough_ll  libfuse example, built here from libfuse3-dev's examples
#   bindfs          bindfs SRC MNT
#   gracefs         gracefs -f -o retention=30d BACKING MNT, workloads in MNT/site1
# Workloads: create a tree of small files, stat it cold, rm -rf it, restore it
# from .trash (gracefs only), tar xf of /usr/include, sequential write (fsync)
# and cold sequential read.  "Cold" = syncfs + drop_caches, and for the FUSE
# configurations a remount first (so the daemon's own caches/fds are gone too).
#
# Needs root (drop_caches, mounting).  If gracefs is missing or does not mount,
# its column shows n/a and the script still finishes with exit status 0.
set -euo pipefail
BENCH_TAG=bench
BENCH_MARK=bench
. "$(dirname "$0")/benchlib.sh"
shopt -s inherit_errexit

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)

QUICK=0
RUNS=""
TREE=""
GRACEFS_OPTS="retention=30d"
ROUND=0
GRACEFS=$REPO/build/fs/gracefs
OUT=$REPO/docs/performance.md
PACKAGES=(fuse3 libfuse3-dev bindfs gcc pkg-config)
EXAMPLES=/usr/share/doc/libfuse3-dev/examples
CONFIGS=(plain passthrough_ll bindfs gracefs)
FUSE_CONFIGS=(passthrough_ll bindfs gracefs)
MOUNT_TIMEOUT=15          # seconds to wait for a FUSE mount to appear
STEP_TIMEOUT=${BENCH_STEP_TIMEOUT:-1800}  # a workload command taking longer is killed (hung daemon)
OP_TIMEOUT=60             # the same for small commands on a mount (ls, test, mkdir)

# ---------------------------------------------------------------- utilities



# awk-based float helpers (bash has no floats)

# Run a command on a mount under a deadline: a hung FUSE daemon must not hang
# the benchmark (processes waiting on FUSE are killable; SIGKILL also reaches
# the children of benchtool time, which share timeout's process group).
tmo() { timeout -s KILL "$@"; }

# Flush dirty data, then drop page, dentry and inode caches.  syncfs(2) of the
# work dir's filesystem (and of our FUSE mount, if given) rather than a global
# sync(1), so a stuck FUSE mount of someone else cannot block us.
flush() {
	if [[ -n ${1:-} ]]; then tmo "$OP_TIMEOUT" sync -f "$1" || warn "sync -f $1 failed"; fi
	sync -f "$WORK"
}
drop_caches() {
	flush "${1:-}"
	echo 3 >/proc/sys/vm/drop_caches
}

# ---------------------------------------------------------------- arguments

parse_args() {
	while (($#)); do
		case $1 in
		--quick) QUICK=1 ;;
		--gracefs) (($# >= 2)) || usage 2; GRACEFS=$2; shift ;;
		--gracefs=*) GRACEFS=${1#*=} ;;
		--out) (($# >= 2)) || usage 2; OUT=$2; shift ;;
		--out=*) OUT=${1#*=} ;;
		--gracefs-opts) (($# >= 2)) || usage 2; GRACEFS_OPTS+=",$2"; shift ;;
		--gracefs-opts=*) GRACEFS_OPTS+=",${1#*=}" ;;
		--tree) (($# >= 2)) || usage 2; TREE=$2; shift ;;
		--tree=*) TREE=${1#*=} ;;
		--runs) (($# >= 2)) || usage 2; RUNS=$2; shift ;;
		--runs=*) RUNS=${1#*=} ;;
		-h|--help) usage 0 ;;
		*) printf 'unknown argument: %s\n\n' "$1" >&2; usage 2 ;;
		esac
		shift
	done
	if ((QUICK)); then
		NDIRS=10 NFILES=200 SEQ_MIB=128
	else
		NDIRS=100 NFILES=200 SEQ_MIB=1024
	fi
	if [[ -n $TREE ]]; then
		[[ $TREE =~ ^([1-9][0-9]*)x([1-9][0-9]*)$ ]] || { printf 'bad --tree: %s\n' "$TREE" >&2; exit 2; }
		NDIRS=${BASH_REMATCH[1]} NFILES=${BASH_REMATCH[2]}
	fi
	: "${RUNS:=$((QUICK ? 1 : 3))}"
	[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { printf 'bad --runs: %s\n' "$RUNS" >&2; exit 2; }
	FILE_SIZE=1024
	NTOTAL=$((NDIRS * NFILES))
}

# ---------------------------------------------------------------- setup

ensure_packages() {
	local missing=() p
	if ! command -v dpkg-query >/dev/null; then
		warn "no dpkg-query: not checking for ${PACKAGES[*]}"
		return 0
	fi
	for p in "${PACKAGES[@]}"; do
		[[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true) == "install ok installed" ]] ||
			missing+=("$p")
	done
	((${#missing[@]})) || return 0
	log "installing missing packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get -qq update >/dev/null
	apt-get -qq install -y --no-install-recommends "${missing[@]}" >/dev/null
}

# passthrough_ll keeps an O_PATH fd open for every inode the kernel knows
# (until FORGET), so it needs more than NTOTAL + NDIRS fds for the tree
# workloads.  Raise the limit for this script and the daemons it starts as
# far as allowed (raising the hard limit needs CAP_SYS_RESOURCE).
NOFILE_SHORT=0
raise_nofile() {
	local want need=$((NTOTAL + NDIRS + 256))
	if [[ $(ulimit -Sn) == unlimited ]]; then
		NOFILE=unlimited
		return 0
	fi
	want=$(cat /proc/sys/fs/nr_open 2>/dev/null || echo 1048576)
	((want <= 1048576)) || want=1048576
	if ((want > $(ulimit -Sn))); then
		ulimit -n "$want" 2>/dev/null || ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
	fi
	NOFILE=$(ulimit -Sn)
	if ((NOFILE < need)); then
		NOFILE_SHORT=1
		loud "open-file limit is $NOFILE (hard $(ulimit -Hn), cannot be raised here): passthrough_ll," \
			"which holds one fd per inode, will run out of fds on the $NTOTAL-file tree" \
			"(expect FAIL in its create/stat/rm cells); needs >= $need"
	fi
}

# A work dir on the same filesystem as the repo, so every configuration
# (and the numbers in the report) refer to the same device.
make_workdir() {
	local dev cand
	dev=$(stat -c %d "$REPO")
	for cand in /var/tmp /tmp "$REPO/build"; do
		mkdir -p "$cand" 2>/dev/null || continue
		if [[ $(stat -c %d "$cand") == "$dev" ]]; then
			WORK=$(mktemp -d "$cand/gracefs-bench.XXXXXX")
			return 0
		fi
	done
	WORK=$(mktemp -d /var/tmp/gracefs-bench.XXXXXX)
	warn "no temp dir on the repo's filesystem; using $WORK"
}

check_space() {
	local need_kib avail_kib
	need_kib=$(((SEQ_MIB + 3 * $(du -sk --apparent-size /usr/include | cut -f1) / 1024 + 256) * 1024))
	avail_kib=$(df --output=avail -k "$WORK" | tail -n1 | tr -d ' ')
	((avail_kib >= need_kib)) ||
		die "need ~$((need_kib / 1024)) MiB free in $WORK, have $((avail_kib / 1024)) MiB"
}

build_tools() {
	BIN=$WORK/bin
	mkdir -p "$BIN"
	local src=$EXAMPLES/passthrough_ll.c
	if [[ ! -f $src && -f $src.gz ]]; then
		cp "$EXAMPLES"/passthrough_helpers.h "$BIN"/ 2>/dev/null || true
		zcat "$src.gz" >"$BIN/passthrough_ll.c"
		src=$BIN/passthrough_ll.c
	fi
	[[ -f $src ]] || die "$EXAMPLES/passthrough_ll.c not found (libfuse3-dev)"
	# shellcheck disable=SC2046  # pkg-config output must be word-split
	gcc -O2 -o "$BIN/passthrough_ll" "$src" $(pkg-config --cflags --libs fuse3) ||
		die "building passthrough_ll failed"
	gcc -O2 -Wall -o "$BIN/benchtool" "$SCRIPT_DIR/benchtool.c" ||
		die "building benchtool failed"
	BT=$BIN/benchtool
}

make_tarball() {
	TARBALL=$WORK/usr-include.tar
	tar cf "$TARBALL" -C /usr include 2>/dev/null ||
		[[ -s $TARBALL ]] || die "tar c of /usr/include failed"
	TAR_MIB=$(( $(stat -c %s "$TARBALL") / 1048576 ))
	TAR_ENTRIES=$(tar tf "$TARBALL" | wc -l)
}

# ---------------------------------------------------------------- configurations
#
# Layout under $WORK/<config>/:
#   plain:           data/                     (workloads run in data/)
#   passthrough_ll:  src/ mnt/                 (workloads run in mnt/)
#   bindfs:          src/ mnt/                 (workloads run in mnt/)
#   gracefs:         backing/site1/ mnt/       (workloads run in mnt/site1/)

declare -A PID=()        # config -> PID of the FUSE daemon this script started
declare -A DEAD=()       # config -> reason it is not (any longer) benchmarked
declare -A R=()          # "config,workload" -> results of all rounds, space-separated
declare -A S=()          # "config,workload" -> summary (median over rounds, fail, n/a)
KEYS=(create stat rm restore tarx write read)
FAILURES=()              # "config/workload[ (why)]", one entry per failed round
STEP_OK=0                # did the last run_step succeed

is_fuse() { [[ $1 != plain ]]; }

# From the mount table, so a dead FUSE daemon's mount still counts.
is_mounted() { awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo; }

# Mounted and (if we know its PID) the daemon still alive.
is_live() {
	is_mounted "$(mnt_of "$1")" && { [[ -z ${PID[$1]:-} ]] || kill -0 "${PID[$1]}" 2>/dev/null; }
}
mnt_of()  { printf '%s' "$WORK/$1/mnt"; }

data_of() {
	case $1 in
	plain) printf '%s' "$WORK/plain/data" ;;
	gracefs) printf '%s' "$WORK/gracefs/mnt/site1" ;;
	*) printf '%s' "$WORK/$1/mnt" ;;
	esac
}

# Start the daemon of a FUSE config in the foreground (-f) in the background,
# remember its PID, and wait for the mount to appear.
start_daemon() {
	local cfg=$1 mnt logf
	mnt=$(mnt_of "$cfg")
	logf=$WORK/$cfg/daemon.log
	case $cfg in
	passthrough_ll)
		"$BIN/passthrough_ll" -f -o source="$WORK/$cfg/src" "$mnt" </dev/null >>"$logf" 2>&1 &
		;;
	bindfs)
		bindfs -f "$WORK/$cfg/src" "$mnt" </dev/null >>"$logf" 2>&1 &
		;;
	gracefs)
		"$GRACEFS" -f -o "$GRACEFS_OPTS" "$WORK/$cfg/backing" "$mnt" </dev/null >>"$logf" 2>&1 &
		;;
	esac
	PID[$cfg]=$!
	wait_mounted "$cfg"
}

wait_mounted() {
	local cfg=$1 mnt pid=${PID[$1]} i
	mnt=$(mnt_of "$cfg")
	for ((i = 0; i < MOUNT_TIMEOUT * 20; i++)); do
		if tmo 5 mountpoint -q "$mnt"; then
			if ! kill -0 "$pid" 2>/dev/null; then
				warn "$cfg detached from its starting process despite -f; its PID is not tracked"
				wait "$pid" 2>/dev/null || true
				unset "PID[$cfg]"
			fi
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid" 2>/dev/null || true
			unset "PID[$cfg]"
			warn "$cfg exited before mounting; log:"
			tail -n 20 "$WORK/$cfg/daemon.log" >&2 || true
			return 1
		fi
		sleep 0.05
	done
	warn "$cfg did not mount within ${MOUNT_TIMEOUT}s; log:"
	tail -n 20 "$WORK/$cfg/daemon.log" >&2 || true
	stop_daemon "$cfg"
	return 1
}

# Unmount (if mounted) and make sure the daemon we started is gone.
# Never fails; only ever signals the PID recorded for this config.
stop_daemon() {
	local cfg=$1 mnt pid=${PID[$1]:-} i
	mnt=$(mnt_of "$cfg")
	if is_mounted "$mnt"; then
		for ((i = 0; i < 25; i++)); do
			fusermount3 -u "$mnt" 2>/dev/null && break
			sleep 0.2
		done
		if is_mounted "$mnt"; then
			warn "$mnt busy; lazy unmount"
			fusermount3 -u -z "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
		fi
	fi
	[[ -n $pid ]] || return 0
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		warn "$cfg (pid $pid) still running after unmount; sending SIGTERM"
		kill -TERM "$pid" 2>/dev/null || true
		sleep 1
		if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
	fi
	wait "$pid" 2>/dev/null || true
	unset "PID[$cfg]"
}

setup_plain() { mkdir -p "$WORK/plain/data"; }

setup_passthrough_ll() {
	mkdir -p "$WORK/passthrough_ll/src" "$WORK/passthrough_ll/mnt"
	start_daemon passthrough_ll
}

setup_bindfs() {
	mkdir -p "$WORK/bindfs/src" "$WORK/bindfs/mnt"
	start_daemon bindfs
}

setup_gracefs() {
	if [[ ! -x $GRACEFS ]]; then
		DEAD[gracefs]="binary $GRACEFS not found or not executable"
		return 1
	fi
	mkdir -p "$WORK/gracefs/backing/site1" "$WORK/gracefs/mnt"
	if ! start_daemon gracefs; then
		DEAD[gracefs]="$GRACEFS failed to mount: $(tail -n 1 "$WORK/gracefs/daemon.log" 2>/dev/null || true)"
		return 1
	fi
	if ! tmo "$OP_TIMEOUT" test -d "$WORK/gracefs/mnt/site1"; then
		DEAD[gracefs]="mounted, but site1 is not visible at MNT/site1"
		return 1
	fi
}

setup_config() {
	local cfg=$1
	mkdir -p "$WORK/$cfg"
	if ! "setup_$cfg"; then
		[[ -n ${DEAD[$cfg]:-} ]] || DEAD[$cfg]="failed to mount (see log above)"
		stop_daemon "$cfg"
		return 1
	fi
}

# Unmount and delete the config's data (through the backing dir, never
# through a mount point that might still be live).
teardown_config() {
	local cfg=$1
	if is_fuse "$cfg"; then stop_daemon "$cfg"; fi
	if is_fuse "$cfg" && is_mounted "$(mnt_of "$cfg")"; then
		warn "$(mnt_of "$cfg") still mounted; leaving its data for the exit cleanup"
		return 0
	fi
	rm -rf --one-file-system "${WORK:?}/$cfg"
}

# Make the next step cold: FUSE configs are remounted (the daemon restarts
# with empty caches and no open fds), then dirty data is synced and the page,
# dentry and inode caches dropped.
make_cold() {
	local cfg=$1
	[[ -z ${DEAD[$cfg]:-} ]] || return 0
	if is_fuse "$cfg"; then
		stop_daemon "$cfg"
		drop_caches
		if ! start_daemon "$cfg"; then
			DEAD[$cfg]="remount (for a cold step) failed"
			loud "$cfg: remount failed; remaining $cfg results are n/a"
			return 0
		fi
	fi
	drop_caches
}

# ---------------------------------------------------------------- workloads
#
# Each wl_* runs in a subshell with set -e, in the config's data dir, and
# prints its result on stdout (seconds, MB/s, or "seconds count").

wl_create() {
	tmo "$STEP_TIMEOUT" "$BT" create "$1/tree" "$NDIRS" "$NFILES" "$FILE_SIZE"
}

wl_stat() {
	local t n out
	out=$(tmo "$STEP_TIMEOUT" "$BT" stat "$1/tree")
	read -r t n <<<"$out"
	[[ $n == "$NTOTAL" ]] || { warn "stat saw $n files, expected $NTOTAL"; return 1; }
	printf '%s\n' "$t"
}

wl_rm() {
	local t
	t=$(tmo "$STEP_TIMEOUT" "$BT" time rm -rf "$1/tree")
	if tmo "$OP_TIMEOUT" test -e "$1/tree"; then
		warn "$1/tree still exists after rm -rf"
		return 1
	fi
	printf '%s\n' "$t"
}

# gracefs only: the rm -rf above moved the tree to .trash/<op>/tree; move it
# back with mv and check every file is there.  Prints "seconds files".
wl_restore() {
	local dir=$1 op ops=() t n out
	if ! tmo "$OP_TIMEOUT" test -d "$dir/.trash"; then
		warn "$dir/.trash is not reachable"
		return 1
	fi
	out=$(tmo "$OP_TIMEOUT" ls -1A "$dir/.trash/")
	while IFS= read -r op; do
		if [[ -n $op ]] && tmo "$OP_TIMEOUT" test -d "$dir/.trash/$op/tree"; then ops+=("$op"); fi
	done <<<"$out"
	if ((${#ops[@]} == 0)); then
		warn "no .trash/<op>/tree in $dir/.trash; it holds: $(tr '\n' ' ' <<<"$out")"
		return 1
	fi
	((${#ops[@]} == 1)) || warn "${#ops[@]} op dirs hold a 'tree' (${ops[*]}); restoring the last"
	op=${ops[-1]}
	log "restoring $dir/.trash/$op/tree"
	t=$(tmo "$STEP_TIMEOUT" "$BT" time mv "$dir/.trash/$op/tree" "$dir/tree")
	out=$(tmo "$STEP_TIMEOUT" "$BT" stat "$dir/tree")
	read -r _ n <<<"$out"
	printf '%s %s\n' "$t" "$n"
}

wl_tarx() {
	tmo "$OP_TIMEOUT" mkdir "$1/tarx"
	cat "$TARBALL" >/dev/null      # the source tarball warm, the target cold
	tmo "$STEP_TIMEOUT" "$BT" time tar xf "$TARBALL" -C "$1/tarx"
}

wl_write() {
	local t bytes out
	out=$(tmo "$STEP_TIMEOUT" "$BT" write "$1/seqfile" "$SEQ_MIB")
	read -r t bytes <<<"$out"
	calc "$bytes / 1e6 / $t"
	echo
}

wl_read() {
	local t bytes out
	out=$(tmo "$STEP_TIMEOUT" "$BT" read "$1/seqfile")
	read -r t bytes <<<"$out"
	((bytes == SEQ_MIB * 1048576)) || { warn "read $bytes bytes, expected $((SEQ_MIB * 1048576))"; return 1; }
	calc "$bytes / 1e6 / $t"
	echo
}

# add_result CONFIG KEY VALUE: results accumulate over rounds, space-separated.
add_result() { R[$1,$2]+="${R[$1,$2]:+ }$3"; }

# Cache state before a step:
#   drop  syncfs + drop_caches (the same cold metadata for every config; creating
#         files on ext4 has to read inode bitmaps/tables, so a warm cache left
#         by the previous config would otherwise skew the numbers)
#   cold  FUSE configs are remounted first (no daemon caches or fds), then drop
#   none  just flush dirty data
prepare() {
	local cfg=$1 mode=$2 mnt=""
	if is_fuse "$cfg"; then mnt=$(mnt_of "$cfg"); fi
	case $mode in
	none) flush "$mnt" ;;
	drop) drop_caches "$mnt" ;;
	cold) make_cold "$cfg" ;;
	esac
}

# run_step CONFIG KEY PREP: run wl_KEY in a set -e subshell; a failure records
# "fail" for this round and does not stop the benchmark.
run_step() {
	local cfg=$1 key=$2 mode=$3 dir out rc errs lines
	STEP_OK=0
	[[ -n ${DEAD[$cfg]:-} ]] || prepare "$cfg" "$mode"
	if [[ -n ${DEAD[$cfg]:-} ]]; then
		add_result "$cfg" "$key" n/a
		return 0
	fi
	dir=$(data_of "$cfg")
	if is_fuse "$cfg" && ! is_live "$cfg"; then
		DEAD[$cfg]="mount or daemon gone before '$key' (daemon crashed?)"
		loud "$cfg: ${DEAD[$cfg]}"
		tail -n 20 "$WORK/$cfg/daemon.log" >&2 || true
		add_result "$cfg" "$key" fail
		FAILURES+=("$cfg/$key (daemon gone)")
		return 0
	fi
	errs=$WORK/step.err
	set +e
	out=$(set -e; "wl_$key" "$dir" 2>"$errs")
	rc=$?
	set -e
	# the workload's stderr (a failing tar can print thousands of lines)
	lines=$(wc -l <"$errs")
	if ((lines > 15)); then
		log "$cfg/$key stderr: $lines lines, the last 15:"
		tail -n 15 "$errs" >&2
	elif ((lines > 0)); then
		cat "$errs" >&2
	fi
	if ((rc != 0)) || [[ -z $out ]]; then
		loud "$cfg: workload '$key' FAILED (status $rc)"
		FAILURES+=("$cfg/$key")
		if ((rc == 137)) && is_fuse "$cfg"; then
			# killed by tmo: the daemon is hung; don't wait for every step
			DEAD[$cfg]="workload '$key' timed out (daemon hung?)"
			loud "$cfg: ${DEAD[$cfg]}; remaining $cfg results are n/a"
		fi
		add_result "$cfg" "$key" fail
		if [[ $key == restore ]]; then add_result "$cfg" restore_n 0; fi
	elif [[ $key == restore ]]; then
		add_result "$cfg" restore "${out% *}"
		add_result "$cfg" restore_n "${out#* }"
		log "$cfg: $key -> ${out% *} s, ${out#* } files back"
	else
		add_result "$cfg" "$key" "$out"
		log "$cfg: $key -> $out"
	fi
	if [[ $out =~ ^[0-9] ]] && ((rc == 0)); then STEP_OK=1; fi
}

run_config() {
	local cfg=$1 key
	log "=== round $ROUND/$RUNS: $cfg ==="
	if [[ -n ${DEAD[$cfg]:-} ]] || ! setup_config "$cfg"; then
		((ROUND > 1)) || loud "$cfg NOT BENCHMARKED: ${DEAD[$cfg]}"
		for key in "${KEYS[@]}"; do add_result "$cfg" "$key" n/a; done
		teardown_config "$cfg"
		return 0
	fi
	run_step "$cfg" create drop
	if ((STEP_OK)); then
		run_step "$cfg" stat cold
		run_step "$cfg" rm none
		if [[ $cfg == gracefs ]]; then
			run_step "$cfg" restore none
		else
			add_result "$cfg" restore n/a
		fi
	else
		# no complete tree: timing stat/rm/restore on part of it would mislead
		skip_steps "$cfg" "create did not complete" stat rm restore
		tmo "$STEP_TIMEOUT" rm -rf "$(data_of "$cfg")/tree" 2>/dev/null || true
	fi
	run_step "$cfg" tarx drop
	run_step "$cfg" write drop
	run_step "$cfg" read cold
	teardown_config "$cfg"
}

# skip_steps CONFIG REASON KEY...: record the steps as failed without running them
skip_steps() {
	local cfg=$1 why=$2 key
	shift 2
	for key; do
		if [[ $key == restore && $cfg != gracefs ]]; then
			add_result "$cfg" restore n/a
		elif [[ -n ${DEAD[$cfg]:-} ]]; then
			add_result "$cfg" "$key" n/a
		else
			add_result "$cfg" "$key" fail
			if [[ $key == restore ]]; then add_result "$cfg" restore_n 0; fi
			FAILURES+=("$cfg/$key (skipped: $why)")
		fi
	done
}

# median of the numeric values; "fail" if any round failed, n/a if none ran
summarize_cell() {
	local vals=$1 nums
	if [[ " $vals " == *" fail "* ]]; then
		printf 'fail'
		return 0
	fi
	nums=$(tr ' ' '\n' <<<"$vals" | grep -E '^[0-9.]+$' || true)
	if [[ -z $nums ]]; then
		printf 'n/a'
		return 0
	fi
	sort -g <<<"$nums" | awk '{ v[NR] = $1 }
		END { if (NR % 2) printf "%.6f", v[(NR + 1) / 2]
		      else printf "%.6f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

summarize() {
	local cfg key
	for cfg in "${CONFIGS[@]}"; do
		for key in "${KEYS[@]}"; do
			S[$cfg,$key]=$(summarize_cell "${R[$cfg,$key]:-n/a}")
		done
		# restore: the worst file count over the rounds
		S[$cfg,restore_n]=$(tr ' ' '\n' <<<"${R[$cfg,restore_n]:-}" | grep -E '^[0-9]+$' | sort -n | head -n1 || true)
	done
}

# ---------------------------------------------------------------- report

# Rows: key|label|kind|target   kind: time (s, lower is better), tput (MB/s),
# ms (absolute, gracefs only).  target: minimum speed relative to plain, or
# "bindfs" (only: ahead of bindfs), or "<=N" (ms).
row_defs() {
	local kib=$((FILE_SIZE / 1024)) sz
	if ((SEQ_MIB % 1024 == 0)); then sz="$((SEQ_MIB / 1024)) GiB"; else sz="$SEQ_MIB MiB"; fi
	cat <<-EOF
	create|create $NTOTAL files ($NDIRS dirs x $NFILES, $kib KiB)|time|0.20
	stat|stat $NTOTAL files, cold|time|0.70
	rm|rm -rf the tree|time|0.20
	restore|restore the tree from .trash (mv)|ms|<=50
	tarx|tar xf /usr/include ($TAR_MIB MiB, $TAR_ENTRIES entries)|time|bindfs
	write|seq write $sz + fsync|tput|0.90
	read|seq read $sz, cold|tput|0.90
	EOF
}


# speed relative to plain (higher is better)
speed_ratio() {
	local kind=$1 plain=$2 val=$3
	if [[ $kind == tput ]]; then calc "$val / $plain"; else calc "$plain / $val"; fi
}

fmt_value() {
	local kind=$1 v=$2
	case $kind in
	time) printf '%s s' "$(fmt "$v" 3)" ;;
	tput) printf '%s MB/s' "$(fmt "$v" 0)" ;;
	ms) printf '%s ms' "$(fmt "$(calc "$v * 1000")" 1)" ;;
	esac
}

# "passthrough_ll/create in 3 of 3 rounds; ..." (order of first failure kept)
failure_summary() {
	printf '%s\n' "${FAILURES[@]}" |
		awk -v runs="$RUNS" '!($0 in n) { order[++k] = $0 } { n[$0]++ }
			END { for (i = 1; i <= k; i++)
				printf "%s%s in %d of %d round(s)", (i > 1 ? "; " : ""), order[i], n[order[i]], runs }'
}

join_cells() { local IFS='|'; printf '%s' "$*"; }

# Fills TABLE (array of "|"-separated rows, first row = header).
build_table() {
	local key label kind target cfg v p cell ratio g b gb verdict n
	TABLE=("workload|plain|passthrough_ll|bindfs|gracefs|gracefs target|gracefs vs bindfs")
	while IFS='|' read -r key label kind target; do
		local cells=("$label")
		p=${S[plain,$key]:-n/a}
		for cfg in "${CONFIGS[@]}"; do
			v=${S[$cfg,$key]:-n/a}
			n=${S[$cfg,restore_n]:-0}
			if ! isnum "$v"; then
				cell=$v
				[[ $v != fail ]] || cell=FAIL
			elif [[ $kind == ms ]]; then
				cell=$(fmt_value ms "$v")
				if [[ $n != "$NTOTAL" ]]; then
					cell+=" ($n/$NTOTAL files) MISS"
				elif ge "$(calc "$v * 1000")" 50.0000001; then
					cell+=" MISS"
				else
					cell+=" PASS"
				fi
			elif [[ $cfg == plain ]]; then
				cell=$(fmt_value "$kind" "$v")
			elif isnum "$p"; then
				ratio=$(speed_ratio "$kind" "$p" "$v")
				cell="$(fmt_value "$kind" "$v") ($(fmt "$ratio" 2)x)"
				if [[ $cfg == gracefs ]]; then
					if [[ $target == bindfs ]]; then
						b=${S[bindfs,$key]:-n/a}
						if ! isnum "$b"; then
							verdict="(no bindfs figure)"
						elif ge "$(speed_ratio "$kind" "$b" "$v")" 1; then
							verdict=PASS
						else
							verdict=MISS
						fi
					else
						if ge "$ratio" "$target"; then verdict=PASS; else verdict=MISS; fi
					fi
					cell+=" $verdict"
				fi
			else
				cell=$(fmt_value "$kind" "$v")
			fi
			cells+=("$cell")
		done
		case $target in
		bindfs) cells+=("ahead of bindfs") ;;
		"<="*) cells+=("<= ${target#<=} ms") ;;
		*) cells+=(">= $target") ;;
		esac
		g=${S[gracefs,$key]:-n/a}; b=${S[bindfs,$key]:-n/a}
		if [[ $kind != ms ]] && isnum "$g" && isnum "$b"; then
			gb=$(speed_ratio "$kind" "$b" "$g")
			if [[ $(fmt "$gb" 2) == 1.00 ]]; then
				cell="1.00x (even)"
			elif ge "$gb" 1; then
				cell="$(fmt "$gb" 2)x ahead"
			else
				cell="$(fmt "$gb" 2)x BEHIND"
			fi
		else
			cell=n/a
		fi
		cells+=("$cell")
		TABLE+=("$(join_cells "${cells[@]}")")
	done < <(row_defs)
}

print_text_table() {
	local -a w=() cells
	local row i
	for row in "${TABLE[@]}"; do
		IFS='|' read -r -a cells <<<"$row"
		for i in "${!cells[@]}"; do
			if ((${#cells[i]} > ${w[i]:-0})); then w[i]=${#cells[i]}; fi
		done
	done
	local first=1
	for row in "${TABLE[@]}"; do
		IFS='|' read -r -a cells <<<"$row"
		for i in "${!cells[@]}"; do
			if ((i == 0)); then printf '%-*s' "${w[i]}" "${cells[i]}"; else printf '  %*s' "${w[i]}" "${cells[i]}"; fi
		done
		printf '\n'
		if ((first)); then
			first=0
			for i in "${!w[@]}"; do printf '%*s' $((w[i] + (i ? 2 : 0))) '' | tr ' ' '-'; done
			printf '\n'
		fi
	done
}

# Per-round raw values (Markdown), so the noise behind the medians is visible.
print_md_raw() {
	local key label kind target cfg v x out
	printf '| workload | %s |\n|---' "$(join_cells "${CONFIGS[@]}" | sed 's/|/ | /g')"
	for cfg in "${CONFIGS[@]}"; do printf '|--:'; done
	printf '|\n'
	while IFS='|' read -r key label kind target; do
		printf '| %s' "$label"
		for cfg in "${CONFIGS[@]}"; do
			out=""
			for x in ${R[$cfg,$key]:-n/a}; do
				if isnum "$x"; then
					case $kind in
					time) v=$(fmt "$x" 3) ;;
					tput) v=$(fmt "$x" 0) ;;
					ms) v=$(fmt "$(calc "$x * 1000")" 1) ;;
					esac
				else
					v=$x
				fi
				out+="${out:+ / }$v"
			done
			[[ $out =~ [0-9] ]] || out=${out%% *}    # "n/a / n/a" -> "n/a"
			printf ' | %s' "$out"
		done
		printf ' |\n'
	done < <(row_defs)
}

print_md_table() {
	local row first=1 i n
	for row in "${TABLE[@]}"; do
		printf '| %s |\n' "${row//|/ | }"
		if ((first)); then
			first=0
			IFS='|' read -r -a cells <<<"$row"
			n=${#cells[@]}
			printf '|---'
			for ((i = 1; i < n; i++)); do printf '|--:'; done
			printf '|\n'
		fi
	done
}

machine_info() {
	CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
	MEM_GIB=$(awk '/^MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
	# stat -f reports ext4 as "ext2/ext3" (shared magic); findmnt knows better
	FSTYPE=$(stat -f -c %T "$WORK")
	local real
	real=$(findmnt -n -o FSTYPE -T "$WORK" 2>/dev/null || true)
	[[ -z $real || $real == "$FSTYPE" ]] || FSTYPE="$real (stat -f: $FSTYPE)"
	FUSE_VER=$(pkg-config --modversion fuse3)
	BINDFS_VER=$(bindfs --version 2>/dev/null | head -n1 || true)
	GRACEFS_VER=""
	if [[ -x $GRACEFS ]]; then
		GRACEFS_VER=$(timeout 5 "$GRACEFS" --version 2>/dev/null </dev/null | grep -m1 -i '^gracefs' || true)
	fi
	GIT_REV=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo "no commit")
	# read-only: --no-optional-locks keeps status from rewriting the index
	if [[ -n $(git -C "$REPO" --no-optional-locks status --porcelain --untracked-files=no 2>/dev/null || true) ]]; then
		GIT_REV+=" (with uncommitted changes)"
	fi
}

# shellcheck disable=SC2016  # the backquotes in printf formats are Markdown
generated_block() {
	local mode=full
	if ((QUICK)); then mode="--quick smoke run, scaled down, not representative"; fi
	cat <<-EOF
	<!-- bench:begin -->
	<!-- Generated by scripts/bench.sh; everything up to bench:end is rewritten on each run. -->

	## Benchmark run $(date -u '+%Y-%m-%d %H:%M UTC') ($mode)

	- Machine: $(nproc) CPUs${CPU_MODEL:+ ($CPU_MODEL)}, $MEM_GIB GiB RAM, Linux $(uname -r)
	- Backing filesystem: $FSTYPE (work dir under $(dirname "$WORK"), same for all configurations)
	- Repo revision: $GIT_REV$( ((${#FAILURES[@]} == 0)) || printf '\n- **Failed workloads:** %s' "$(failure_summary)")
	- gracefs: $(if [[ -n ${DEAD[gracefs]:-} && ${R[gracefs,create]:-} =~ [0-9] ]]; then printf '**INCOMPLETE** — %s' "${DEAD[gracefs]}"; elif [[ -n ${DEAD[gracefs]:-} ]]; then printf '**NOT BENCHMARKED** — %s' "${DEAD[gracefs]}"; else printf '%s, `%s -f -o %s BACKING MNT`, workloads in MNT/site1' "${GRACEFS_VER:-version unknown}" "${GRACEFS#"$REPO"/}" "$GRACEFS_OPTS"; fi)
	- Comparators: libfuse $FUSE_VER \`passthrough_ll -o source=DIR\` (example, default options, multi-threaded); ${BINDFS_VER:-bindfs} \`bindfs DIR MNT\` (default options)
	- Method: $RUNS round$( ((RUNS == 1)) || printf s) of every workload per configuration, all in the same invocation
	  (configuration order rotated per round; the table shows the median); timed
	  with CLOCK_MONOTONIC by scripts/benchtool.c (no fork per file). Cold steps: FUSE
	  configurations are remounted, then \`sync -f WORKDIR; echo 3 > /proc/sys/vm/drop_caches\`; the
	  caches are also dropped (no remount) before create, tar x and write, so every
	  configuration starts them from the same state.
	  Restore = \`mv MNT/site1/.trash/<op>/tree MNT/site1/tree\` after the rm -rf, then a file count.
	  Open-file limit (RLIMIT_NOFILE) for all daemons: $NOFILE.$(if ((NOFILE_SHORT)); then
		printf '\n- **Caveat:** RLIMIT_NOFILE %s (hard limit; raising it needs CAP_SYS_RESOURCE) is below the\n  %s inodes of the tree; passthrough_ll keeps one O_PATH fd per inode the kernel holds,\n  so its create/stat/rm cells FAIL with EMFILE (EBADF at close) here.' "$NOFILE" "$((NTOTAL + NDIRS))"
	fi)
	- Cells: time or throughput, and for FUSE columns (Nx) = speed relative to plain
	  (plain time / time, or MB/s / plain MB/s; higher is better, 1.00x = as fast as plain).
	- Targets for gracefs: create >= 0.20, stat cold >= 0.70, rm -rf >= 0.20,
	  seq write and read >= 0.90 (relative to plain), restore <= 50 ms, and ahead of
	  bindfs on every row. PASS/MISS in the gracefs column is against the row's target;
	  the last column is gracefs speed relative to bindfs.

	$(print_md_table)
	$(if ((RUNS > 1)); then
		printf '\n<details><summary>All %s rounds (s, MB/s, ms; median shown above)</summary>\n\n' "$RUNS"
		print_md_raw
		printf '\n</details>\n'
	fi)

	<!-- bench:end -->
	EOF
}

write_report() {
	local blk
	blk=$(mktemp "$WORK/block.XXXXXX")
	generated_block >"$blk"
	report_section "$1" "FUSE configurations side by side (issue 2)" "$blk" || true
}

# ---------------------------------------------------------------- cleanup

WORK=""
cleanup() {
	local rc=$? cfg
	set +e
	trap - EXIT INT TERM
	if ((rc == 130 || rc == 143)); then log "interrupted; cleaning up"; fi
	for cfg in "${FUSE_CONFIGS[@]}"; do
		[[ -n $WORK ]] || break
		if [[ -n ${PID[$cfg]:-} ]] || is_mounted "$(mnt_of "$cfg")"; then
			stop_daemon "$cfg"
		fi
	done
	remove_workdir "$WORK"
	exit "$rc"
}

# ---------------------------------------------------------------- main

main() {
	parse_args "$@"
	((EUID == 0)) || die "must run as root (drop_caches, mounts)"
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	ensure_packages
	raise_nofile
	make_workdir
	log "work dir: $WORK ($(stat -f -c %T "$WORK")); $NTOTAL files, $SEQ_MIB MiB"
	check_space
	build_tools
	make_tarball
	machine_info

	if [[ ! -x $GRACEFS ]]; then
		loud "gracefs binary $GRACEFS not found: the gracefs column will be n/a"
	fi

	# Rounds; the order of the configurations rotates from round to round so
	# that drift (background writeback, host noise) does not favour one.
	local i n=${#CONFIGS[@]}
	for ((ROUND = 1; ROUND <= RUNS; ROUND++)); do
		for ((i = 0; i < n; i++)); do
			run_config "${CONFIGS[(i + ROUND - 1) % n]}"
		done
	done

	summarize
	build_table
	printf '\n'
	print_text_table
	printf '\n(Nx) = speed relative to plain, higher is better; 1.00x = as fast as plain.\n'
	if [[ -n ${DEAD[gracefs]:-} ]]; then
		printf '\n'
		loud "gracefs was NOT benchmarked (or not completely): ${DEAD[gracefs]}"
	fi
	if ((${#FAILURES[@]})); then
		loud "FAILED workloads: $(failure_summary)"
	fi
	write_report "$OUT"
}

# (sourcing the script defines the functions without running anything)
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	main "$@"
fi
