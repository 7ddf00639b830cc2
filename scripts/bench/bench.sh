#!/usr/bin/env bash
# scripts/bench/bench.sh — benchmark gracefs against a plain directory and two other
# FUSE filesystems (libfuse 3.14's passthrough_hp example and bindfs).
#
# usage: [HP_BIN=/path/to/passthrough_hp] scripts/bench/bench.sh [--quick]
#            [--gracefs PATH] [--gracefs-opts O] [--runs N] [--tree DxF]
#            [--seq-mib N] [--store DIR] [--halt-poll NS] [--out FILE]
#
#   HP_BIN          libfuse's passthrough_hp (example/passthrough_hp.cc of
#                   fuse-3.14.0, built by you, out of tree: it is not in
#                   Debian's libfuse3-dev).  Unset: its column is skipped,
#                   and the output says so.
#   HP_SRC          instead of HP_BIN: a libfuse source tree at tag
#                   fuse-3.14.0 (git clone -b fuse-3.14.0
#                   https://github.com/libfuse/libfuse), or a directory with
#                   its passthrough_hp.cc and cxxopts.hpp; built with g++
#                   into the work dir, never into the repo.
#   --quick         scaled-down smoke run (2k files, 128 MiB instead of 15k / 1 GiB)
#   --gracefs PATH  gracefs binary (default: build/fs/gracefs in the repo)
#   --gracefs-opts O  extra -o options for gracefs (appended to retention=30d)
#   --gracefs-args A  extra arguments for gracefs, split on spaces (e.g. -s)
#   --tree DxF      the small-file tree: D dirs of F files (default 75x200)
#   --seq-mib N     size of the sequential write/read file (default 1024)
#   --store DIR     where the loop device's image lives (default: the work
#                   dir in /var/tmp).  /dev/shm puts it in RAM: the host's
#                   disk (shared, its speed swings from run to run) is then
#                   out of the data rows, which measure the FUSE path alone
#   --halt-poll NS  set the guest's cpuidle haltpoll window
#                   (/sys/module/haltpoll/parameters/guest_halt_poll_ns) to
#                   NS for the run and put the old value back after.  On a
#                   VM whose window is 0 every FUSE round trip that finds the
#                   other vCPU idle pays a halt exit; the kernel's default is
#                   200000 (docs/performance.md, "Idle vCPUs")
#   --runs N        rounds of every workload; the median is reported
#                   (default 3, 1 with --quick; use >= 3 for figures)
#   --out FILE      Markdown report (default: docs/performance.md in the repo);
#                   only the part between <!-- bench:begin --> and
#                   <!-- bench:end --> is rewritten, the analysis is kept.
#
# All four configurations run in the same invocation, on the same backing
# store: a fresh ext4 filesystem on a loop device (an image file in /var/tmp,
# loop direct I/O), mounted under the temporary work dir, interleaved: each
# round runs a phase (the tree, tar -x, the data rows) for every
# configuration back to back, so drift hits every column alike; the report
# gives medians, the spread of the rounds and per-round ratios:
#   plain           a directory
#   passthrough_hp  $HP_BIN SRC MNT (default options: caching, writeback, splice)
#   bindfs          bindfs SRC MNT
#   gracefs         gracefs -f -o retention=30d BACKING MNT, workloads in MNT/site1
# Workloads: create a tree of small files, stat it cold, stat it again warm,
# rm -rf it, restore it from .trash (gracefs only), tar xf of /usr/include,
# sequential write (fsync), cold sequential read, and fio 4 KiB random
# reads of that file (warm).  "Cold" = syncfs +
# drop_caches, and for the FUSE configurations a remount first (so the
# daemon's own caches/fds are gone too).
#
# Needs root (drop_caches, mounting, losetup).  If gracefs is missing or does
# not mount, its column shows n/a and the script still finishes with exit
# status 0.
set -euo pipefail
BENCH_TAG=bench
BENCH_MARK=bench
. "$(dirname "$0")/benchlib.sh"
shopt -s inherit_errexit

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)

QUICK=0
RUNS=""
TREE=""
GRACEFS_OPTS="retention=30d"
GRACEFS_ARGS=()
STORE=""
HALT_POLL=""              # --halt-poll NS; HALT_POLL_OLD: the value to put back
HALT_POLL_OLD=""
HALT_POLL_FILE=/sys/module/haltpoll/parameters/guest_halt_poll_ns
ROUND=0
GRACEFS=$REPO/build/fs/gracefs
OUT=$REPO/docs/performance.md
SEQ_OPT=""
PACKAGES=(fuse3 libfuse3-dev bindfs gcc pkg-config e2fsprogs mount fio)
HP_BIN=${HP_BIN:-}
HP_SRC=${HP_SRC:-}
CONFIGS=(plain passthrough_hp bindfs gracefs)   # the table's columns
ORDER=(plain gracefs passthrough_hp bindfs)      # the order within a round
FUSE_CONFIGS=(passthrough_hp bindfs gracefs)
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
	sync -f "$DATA"
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
		--gracefs-args) (($# >= 2)) || usage 2; read -r -a GRACEFS_ARGS <<<"$2"; shift ;;
		--gracefs-args=*) read -r -a GRACEFS_ARGS <<<"${1#*=}" ;;
		--tree) (($# >= 2)) || usage 2; TREE=$2; shift ;;
		--tree=*) TREE=${1#*=} ;;
		--store) (($# >= 2)) || usage 2; STORE=$2; shift ;;
		--store=*) STORE=${1#*=} ;;
		--seq-mib) (($# >= 2)) || usage 2; SEQ_OPT=$2; shift ;;
		--seq-mib=*) SEQ_OPT=${1#*=} ;;
		--halt-poll) (($# >= 2)) || usage 2; HALT_POLL=$2; shift ;;
		--halt-poll=*) HALT_POLL=${1#*=} ;;
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
		NDIRS=75 NFILES=200 SEQ_MIB=1024
	fi
	if [[ -n $TREE ]]; then
		[[ $TREE =~ ^([1-9][0-9]*)x([1-9][0-9]*)$ ]] || { printf 'bad --tree: %s\n' "$TREE" >&2; exit 2; }
		NDIRS=${BASH_REMATCH[1]} NFILES=${BASH_REMATCH[2]}
	fi
	if [[ -n $SEQ_OPT ]]; then
		[[ $SEQ_OPT =~ ^[1-9][0-9]*$ ]] || { printf 'bad --seq-mib: %s\n' "$SEQ_OPT" >&2; exit 2; }
		SEQ_MIB=$SEQ_OPT
	fi
	: "${RUNS:=$((QUICK ? 1 : 3))}"
	[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { printf 'bad --runs: %s\n' "$RUNS" >&2; exit 2; }
	FILE_SIZE=1024
	RREAD_S=$((QUICK ? 2 : 5))
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

# passthrough_hp keeps an O_PATH fd open for every inode the kernel knows
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
		loud "open-file limit is $NOFILE (hard $(ulimit -Hn), cannot be raised here): passthrough_hp," \
			"which holds one fd per inode, will run out of fds on the $NTOTAL-file tree" \
			"(expect FAIL in its create/stat/rm cells); needs >= $need"
	fi
}

# The work dir next to the repo; every configuration's data lives on one
# fresh ext4 filesystem on a loop device (LOOPDEV, mounted at $WORK/fs), so
# the backing store is the same for all of them and independent of what
# else happens to the host's disk.
LOOPDEV=""
make_workdir() {
	local cand img_mib
	for cand in /var/tmp /tmp "$REPO/build"; do
		if mkdir -p "$cand" 2>/dev/null && WORK=$(mktemp -d "$cand/gracefs-bench.XXXXXX" 2>/dev/null); then
			break
		fi
	done
	[[ -n $WORK ]] || die "no writable temp dir"
	# the tarball, a seq file per configuration (a round keeps them all until
	# its end), the tree (plus 2x for the trash) and slack
	img_mib=$((${#CONFIGS[@]} * SEQ_MIB + 3 * $(du -sk --apparent-size /usr/include | cut -f1) / 1024 +
		NTOTAL * 12 / 1024 + 1024))
	local avail_mib
	if [[ -n $STORE ]]; then
		IMG=$(mktemp "$STORE/gracefs-bench-img.XXXXXX") || die "cannot create the image in $STORE"
	else
		IMG=$WORK/ext4.img
	fi
	avail_mib=$(($(df --output=avail -k "$(dirname "$IMG")" | tail -n1 | tr -d ' ') / 1024))
	((avail_mib >= img_mib)) ||
		die "need ~$img_mib MiB free in $(dirname "$IMG") for the loop image, have $avail_mib MiB"
	truncate -s "${img_mib}M" "$IMG"
	mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$IMG" ||
		die "mkfs.ext4 of the loop image failed"
	# --direct-io: the loop device writes to the image with O_DIRECT, so its
	# data is not cached a second time in the image file's page cache; with
	# buffered loop I/O the plain directory's own 1 GiB write + fsync took
	# 1.8 to 6.7 s from one run to the next (writeback of two page caches),
	# with direct I/O 0.6 to 1.0 s.
	LOOP_DIO=on
	LOOPDEV=$(losetup --find --show --direct-io=on "$IMG" 2>/dev/null) || {
		LOOP_DIO=off
		warn "losetup --direct-io=on failed; the loop device caches in the image's page cache (noisier)"
		LOOPDEV=$(losetup --find --show "$IMG")
	} || die "losetup failed"
	mkdir -p "$WORK/fs"
	mount -t ext4 "$LOOPDEV" "$WORK/fs" || die "mounting $LOOPDEV failed"
	IMG_MIB=$img_mib
	DATA=$WORK/fs
}

# Detach the loop device (never while something is still mounted in it).
remove_loop() {
	[[ -n $LOOPDEV ]] || return 0
	if mountpoint -q "$WORK/fs"; then
		umount "$WORK/fs" 2>/dev/null || { loud "$WORK/fs busy; leaving $LOOPDEV"; return 0; }
	fi
	losetup -d "$LOOPDEV" 2>/dev/null || true
	LOOPDEV=""
}

check_space() { :; }   # make_workdir sized the loop image

build_tools() {
	BIN=$WORK/bin
	mkdir -p "$BIN"
	if [[ -z $HP_BIN && -n $HP_SRC ]]; then
		build_hp
	fi
	if [[ -z $HP_BIN ]]; then
		DEAD[passthrough_hp]="HP_BIN not set (build libfuse 3.14's example/passthrough_hp.cc and pass HP_BIN=...)"
		loud "passthrough_hp column SKIPPED: ${DEAD[passthrough_hp]}"
	elif [[ ! -x $HP_BIN ]]; then
		DEAD[passthrough_hp]="HP_BIN=$HP_BIN is not an executable"
		loud "passthrough_hp column SKIPPED: ${DEAD[passthrough_hp]}"
	fi
	gcc -O2 -Wall -o "$BIN/benchtool" "$SCRIPT_DIR/benchtool.c" ||
		die "building benchtool failed"
	BT=$BIN/benchtool
}

# passthrough_hp from HP_SRC (see the header), into $BIN; HP_BIN on success.
build_hp() {
	local dir=$HP_SRC
	[[ -f $dir/example/passthrough_hp.cc ]] && dir=$dir/example
	if [[ ! -f $dir/passthrough_hp.cc ]]; then
		warn "HP_SRC=$HP_SRC has no passthrough_hp.cc (nor example/passthrough_hp.cc)"
		return 0
	fi
	if ! command -v g++ >/dev/null; then
		warn "no g++: cannot build passthrough_hp from $HP_SRC"
		return 0
	fi
	# shellcheck disable=SC2046  # pkg-config's flags are words
	if g++ -O2 -std=c++17 -I"$dir" -o "$BIN/passthrough_hp" "$dir/passthrough_hp.cc" \
		$(pkg-config --cflags --libs fuse3) 2>"$WORK/hp-build.log"; then
		HP_BIN=$BIN/passthrough_hp
		log "built passthrough_hp from $dir"
	else
		warn "building passthrough_hp from $dir failed:"
		tail -n 5 "$WORK/hp-build.log" >&2 || true
	fi
}

make_tarball() {
	TARBALL=$DATA/usr-include.tar
	tar cf "$TARBALL" -C /usr include 2>/dev/null ||
		[[ -s $TARBALL ]] || die "tar c of /usr/include failed"
	TAR_MIB=$(( $(stat -c %s "$TARBALL") / 1048576 ))
	TAR_ENTRIES=$(tar tf "$TARBALL" | wc -l)
}

# ---------------------------------------------------------------- configurations
#
# Layout under $WORK/<config>/:
#   plain:           data/                     (workloads run in data/)
#   passthrough_hp:  src/ mnt/                 (workloads run in mnt/)
#   bindfs:          src/ mnt/                 (workloads run in mnt/)
#   gracefs:         backing/site1/ mnt/       (workloads run in mnt/site1/)

declare -A PID=()        # config -> PID of the FUSE daemon this script started
declare -A DEAD=()       # config -> reason it is not (any longer) benchmarked
declare -A R=()          # "config,workload" -> results of all rounds, space-separated
declare -A S=()          # "config,workload" -> summary (median over rounds, fail, n/a)
KEYS=(create stat statw rm restore tarx write read rread)
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
# the FUSE config's backing dir, on the loop filesystem
src_of()  { printf '%s' "$DATA/$1/src"; }

data_of() {
	case $1 in
	plain) printf '%s' "$DATA/plain/data" ;;
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
	passthrough_hp)
		"$HP_BIN" --foreground "$(src_of "$cfg")" "$mnt" </dev/null >>"$logf" 2>&1 &
		;;
	bindfs)
		bindfs -f "$(src_of "$cfg")" "$mnt" </dev/null >>"$logf" 2>&1 &
		;;
	gracefs)
		"$GRACEFS" -f "${GRACEFS_ARGS[@]}" -o "$GRACEFS_OPTS" "$(src_of "$cfg")" "$mnt" </dev/null >>"$logf" 2>&1 &
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

setup_plain() { mkdir -p "$DATA/plain/data"; }

setup_passthrough_hp() {
	[[ -z ${DEAD[passthrough_hp]:-} ]] || return 1
	mkdir -p "$(src_of passthrough_hp)" "$WORK/passthrough_hp/mnt"
	start_daemon passthrough_hp
}

setup_bindfs() {
	mkdir -p "$(src_of bindfs)" "$WORK/bindfs/mnt"
	start_daemon bindfs
}

setup_gracefs() {
	if [[ ! -x $GRACEFS ]]; then
		DEAD[gracefs]="binary $GRACEFS not found or not executable"
		return 1
	fi
	mkdir -p "$(src_of gracefs)/site1" "$WORK/gracefs/mnt"
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
	rm -rf --one-file-system "${WORK:?}/$cfg" "${DATA:?}/$cfg"
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

# the same walk again, nothing dropped: what the kernel's caches answer
wl_statw() { wl_stat "$@"; }

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
	tmo "$STEP_TIMEOUT" "$BT" time tar -x -m -f "$TARBALL" -C "$1/tarx"
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

# fio, 4 KiB random reads of the seq file right after its cold read (the
# file is in the page cache: this is the per-read cost of the data path,
# not the disk's).  --invalidate=0: fio's own cache drop (fadvise
# DONTNEED) reaches a FUSE file's page cache, not a passthrough file's
# backing file, and would make the columns read different things.
wl_rread() {
	local out iops
	out=$(tmo "$STEP_TIMEOUT" fio --name=rread --filename="$1/seqfile" --rw=randread --bs=4k \
		--ioengine=psync --size="${SEQ_MIB}M" --invalidate=0 --time_based \
		--runtime="$RREAD_S" --randseed=22 --minimal)
	# terse format: field 8 = read IOPS
	iops=$(awk -F';' 'NR == 1 { print $8 }' <<<"$out")
	if ! [[ $iops =~ ^[0-9]+$ ]] || ((iops == 0)); then
		warn "fio gave no IOPS: $out"
		return 1
	fi
	printf '%s\n' "$iops"
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

# One round, interleaved: every phase runs for all configurations back to
# back (order: ORDER, rotated per round), so host drift in the middle of a
# round hits every column of a row alike and the per-round ratios compare
# like with like.  Phases: the small-file tree (create, stat cold, stat
# warm, rm -rf, restore), tar -x, and the data rows (seq write, cold seq
# read, fio 4 KiB random read of the same file, warm).
run_round() {
	local -a order=("$@")
	local cfg key
	for cfg in "${order[@]}"; do
		log "=== round $ROUND/$RUNS: set up $cfg ==="
		if [[ -n ${DEAD[$cfg]:-} ]] || ! setup_config "$cfg"; then
			((ROUND > 1)) || loud "$cfg NOT BENCHMARKED: ${DEAD[$cfg]}"
		fi
	done
	for cfg in "${order[@]}"; do
		log "=== round $ROUND/$RUNS: tree, $cfg ==="
		run_step "$cfg" create drop
		if ((STEP_OK)); then
			run_step "$cfg" stat cold
			run_step "$cfg" statw none
			run_step "$cfg" rm none
			if [[ $cfg == gracefs ]]; then
				run_step "$cfg" restore none
			else
				add_result "$cfg" restore n/a
			fi
		elif [[ -n ${DEAD[$cfg]:-} ]]; then
			for key in stat statw rm restore; do add_result "$cfg" "$key" n/a; done
		else
			# no complete tree: timing stat/rm/restore on part of it would mislead
			skip_steps "$cfg" "create did not complete" stat statw rm restore
			tmo "$STEP_TIMEOUT" rm -rf "$(data_of "$cfg")/tree" 2>/dev/null || true
		fi
	done
	for cfg in "${order[@]}"; do
		log "=== round $ROUND/$RUNS: tar -x, $cfg ==="
		run_step "$cfg" tarx drop
	done
	for cfg in "${order[@]}"; do
		log "=== round $ROUND/$RUNS: data, $cfg ==="
		run_step "$cfg" write drop
		run_step "$cfg" read cold
		run_step "$cfg" rread none
	done
	for cfg in "${order[@]}"; do teardown_config "$cfg"; done
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

# "median min max" of numbers on stdin (one per line); nothing without any
stats3() {
	sort -g | awk '{ v[NR] = $1 }
		END { if (!NR) exit
		      m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		      printf "%.6f %.6f %.6f", m, v[1], v[NR] }'
}

# Spread of a cell's rounds: half the range, in % of the median ("±7%").
spread_of() {
	local st m lo hi
	st=$(tr ' ' '\n' <<<"${R[$1,$2]:-}" | grep -E '^[0-9.]+$' | stats3 || true)
	[[ -n $st ]] || return 0
	read -r m lo hi <<<"$st"
	awk -v m="$m" -v lo="$lo" -v hi="$hi" 'BEGIN { if (m > 0) printf "±%.0f%%", (hi - lo) / 2 / m * 100 }'
}

# pair_ratio KIND KEY CFG CMP: the speed of CFG relative to CMP round by
# round (both ran in the same round, next to each other), as "median min
# max" over the rounds where both have a figure; nothing if none.
pair_ratio() {
	local kind=$1 key=$2 cfg=$3 cmp=$4 i
	local -a a b
	read -r -a a <<<"${R[$cfg,$key]:-}"
	read -r -a b <<<"${R[$cmp,$key]:-}"
	for i in "${!a[@]}"; do
		if isnum "${a[i]}" && isnum "${b[i]:-}"; then
			speed_ratio "$kind" "${b[i]}" "${a[i]}"
			echo
		fi
	done | stats3
}

# ---------------------------------------------------------------- report

# Rows: key|label|kind|targets   kind: time (s, lower is better), tput
# (MB/s), iops, ms (absolute, gracefs only).  targets: "rel" (gracefs >=
# HP_TARGET x passthrough_hp and >= BINDFS_TARGET x bindfs), "rel+plain"
# (and >= PLAIN_TARGET x plain), or "<=N" (ms).  Issue 22's goals.
HP_TARGET=1.0
BINDFS_TARGET=1.0
PLAIN_TARGET=0.9
row_defs() {
	local kib=$((FILE_SIZE / 1024)) sz
	if ((SEQ_MIB % 1024 == 0)); then sz="$((SEQ_MIB / 1024)) GiB"; else sz="$SEQ_MIB MiB"; fi
	cat <<-EOF
	create|create $NTOTAL files ($NDIRS dirs x $NFILES, $kib KiB)|time|rel
	stat|stat $NTOTAL files, cold|time|rel
	statw|stat $NTOTAL files, warm|time|rel
	rm|rm -rf the tree|time|rel
	restore|restore the tree from .trash (mv)|ms|<=50
	tarx|tar -x -m of /usr/include ($TAR_MIB MiB, $TAR_ENTRIES entries)|time|rel
	write|seq write $sz + fsync|tput|rel+plain
	read|seq read $sz, cold|tput|rel+plain
	rread|fio randread 4 KiB of it, warm, ${RREAD_S} s|iops|rel+plain
	EOF
}

# speed relative to plain (higher is better)
speed_ratio() {
	local kind=$1 plain=$2 val=$3
	if [[ $kind == tput || $kind == iops ]]; then calc "$val / $plain"; else calc "$plain / $val"; fi
}

fmt_value() {
	local kind=$1 v=$2
	case $kind in
	time) printf '%s s' "$(fmt "$v" 3)" ;;
	tput) printf '%s MB/s' "$(fmt "$v" 0)" ;;
	iops) printf '%s IOPS' "$(fmt "$v" 0)" ;;
	ms) printf '%s ms' "$(fmt "$(calc "$v * 1000")" 1)" ;;
	esac
}

# "passthrough_hp/create in 3 of 3 rounds; ..." (order of first failure kept)
failure_summary() {
	printf '%s\n' "${FAILURES[@]}" |
		awk -v runs="$RUNS" '!($0 in n) { order[++k] = $0 } { n[$0]++ }
			END { for (i = 1; i <= k; i++)
				printf "%s%s in %d of %d round(s)", (i > 1 ? "; " : ""), order[i], n[order[i]], runs }'
}

join_cells() { local IFS='|'; printf '%s' "$*"; }

# vs_cell KIND KEY CMP TARGET: gracefs against CMP on a row, as
# "FLAG|1.23x (1.10-1.31)": the median of the per-round ratios and their
# range; FLAG 1 = target met, 0 = missed, - = no figures.  A cell whose
# range straddles the target gets a "~": the rounds disagree.
vs_cell() {
	local kind=$1 key=$2 cmp=$3 target=$4 st m lo hi
	if [[ $kind == ms ]] || ! isnum "${S[gracefs,$key]:-n/a}" || ! isnum "${S[$cmp,$key]:-n/a}"; then
		printf -- '-|'
		return 0
	fi
	st=$(pair_ratio "$kind" "$key" gracefs "$cmp")
	if [[ -z $st ]]; then printf -- '-|'; return 0; fi
	read -r m lo hi <<<"$st"
	if ge "$m" "$target"; then printf '1|'; else printf '0|'; fi
	printf '%sx' "$(fmt "$m" 2)"
	if ((RUNS > 1)); then printf ' (%s-%s)' "$(fmt "$lo" 2)" "$(fmt "$hi" 2)"; fi
	if ! ge "$lo" "$target" && ge "$hi" "$target"; then printf ' ~'; fi
	return 0
}

# Fills TABLE (array of "|"-separated rows, first row = header).
build_table() {
	local key label kind target cfg v cell st n vp vh vb verdict ok miss need
	TABLE=("workload|plain|passthrough_hp|bindfs|gracefs|gracefs vs plain (>= $PLAIN_TARGET, data rows)|gracefs vs hp (>= $HP_TARGET)|gracefs vs bindfs (>= $BINDFS_TARGET)|result")
	while IFS='|' read -r key label kind target; do
		local cells=("$label")
		for cfg in "${CONFIGS[@]}"; do
			v=${S[$cfg,$key]:-n/a}
			n=${S[$cfg,restore_n]:-0}
			if ! isnum "$v"; then
				cell=$v
				[[ $v != fail ]] || cell=FAIL
			elif [[ $kind == ms ]]; then
				cell=$(fmt_value ms "$v")
				[[ $n == "$NTOTAL" ]] || cell+=" ($n/$NTOTAL files)"
			else
				cell=$(fmt_value "$kind" "$v")
				if ((RUNS > 1)); then cell+=" $(spread_of "$cfg" "$key")"; fi
				if [[ $cfg != plain ]] && st=$(pair_ratio "$kind" "$key" "$cfg" plain) && [[ -n $st ]]; then
					cell+=" ($(fmt "${st%% *}" 2)x)"
				fi
			fi
			cells+=("$cell")
		done
		ok=0 miss=0 need=2
		vp="-|" vh="" vb=""
		if [[ $target == rel+plain ]]; then
			need=3
			vp=$(vs_cell "$kind" "$key" plain "$PLAIN_TARGET")
		fi
		vh=$(vs_cell "$kind" "$key" passthrough_hp "$HP_TARGET")
		vb=$(vs_cell "$kind" "$key" bindfs "$BINDFS_TARGET")
		for v in "$vp" "$vh" "$vb"; do
			case ${v%%|*} in 1) ((++ok)) ;; 0) ((++miss)) ;; esac
			cells+=("${v#*|}")
		done
		v=${S[gracefs,$key]:-n/a}
		if ! isnum "$v"; then
			verdict=n/a
		elif [[ $kind == ms ]]; then
			n=${S[gracefs,restore_n]:-0}
			if [[ $n == "$NTOTAL" ]] && le "$(calc "$v * 1000")" "${target#<=}"; then
				verdict="PASS (<= ${target#<=} ms)"
			else
				verdict="MISS (<= ${target#<=} ms)"
			fi
		elif ((miss)); then
			verdict=MISS
		elif ((ok < need)); then
			verdict=incomplete
		else
			verdict=PASS
		fi
		cells+=("$verdict")
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
					tput | iops) v=$(fmt "$x" 0) ;;
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
	<!-- Generated by scripts/bench/bench.sh; everything up to bench:end is rewritten on each run. -->

	## Benchmark run $(date -u '+%Y-%m-%d %H:%M UTC') ($mode)

	- Machine: $(nproc) CPUs${CPU_MODEL:+ ($CPU_MODEL)}, $MEM_GIB GiB RAM, Linux $(uname -r)
	- Repo revision: $GIT_REV$( ((${#FAILURES[@]} == 0)) || printf '\n- **Failed workloads:** %s' "$(failure_summary)")
	- gracefs: $(if [[ -n ${DEAD[gracefs]:-} && ${R[gracefs,create]:-} =~ [0-9] ]]; then printf '**INCOMPLETE** — %s' "${DEAD[gracefs]}"; elif [[ -n ${DEAD[gracefs]:-} ]]; then printf '**NOT BENCHMARKED** — %s' "${DEAD[gracefs]}"; else printf '%s, `%s -f %s-o %s BACKING MNT`, workloads in MNT/site1' "${GRACEFS_VER:-version unknown}" "${GRACEFS#"$REPO"/}" "${GRACEFS_ARGS[*]}${GRACEFS_ARGS[*]:+ }" "$GRACEFS_OPTS"; fi)
	- Backing store: a fresh ext4 on a loop device ($IMG_MIB MiB image in $(dirname "$IMG"), $(findmnt -n -o FSTYPE -T "$(dirname "$IMG")" 2>/dev/null | tail -n1 || echo '?') underneath), the same for all configurations
	- Comparators: $(if [[ -n ${DEAD[passthrough_hp]:-} ]]; then printf 'passthrough_hp **skipped** (%s)' "${DEAD[passthrough_hp]}"; else printf 'libfuse 3.14 example `passthrough_hp SRC MNT` (built out of tree from fuse-3.14.0, default options: timeout 86400 s, writeback cache, splice)'; fi); ${BINDFS_VER:-bindfs} \`bindfs DIR MNT\` (default options); fuse3 library $FUSE_VER
	- Guest idle polling (cpuidle haltpoll, guest_halt_poll_ns): $(if [[ -n $HALT_POLL ]]; then printf '%s for this run (--halt-poll; the machine had %s)' "$HALT_POLL" "$HALT_POLL_OLD"; else cat "$HALT_POLL_FILE" 2>/dev/null || echo 'n/a (no haltpoll)'; fi)
	- Load average at the start: $LOAD_START; at the end: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: other work runs too)
	- Method: $RUNS round$( ((RUNS == 1)) || printf s) of every workload per configuration, all in the same invocation.
	  Each round is interleaved: the tree workloads run for every configuration back to back, then
	  tar -x for each, then the data rows (write, cold read, fio) for each, so drift within a round
	  hits all columns of a row alike (order ${ORDER[*]}, rotated by one each round). Timed
	  with CLOCK_MONOTONIC by scripts/bench/benchtool.c (no fork per file); fio for the random reads. Cold steps: FUSE
	  configurations are remounted, then \`sync -f WORKDIR; echo 3 > /proc/sys/vm/drop_caches\`; the
	  caches are also dropped (no remount) before create, tar x and write, so every
	  configuration starts them from the same state.  The loop device does direct I/O to its
	  image (\`losetup --direct-io=$LOOP_DIO\`): its data is not cached twice.
	  Seq write: $SEQ_MIB MiB in 1 MiB write(2)s to a new file, then fsync, for every column.
	  fio: \`--rw=randread --bs=4k --ioengine=psync --invalidate=0\`, $RREAD_S s on that file right after its cold read.
	  Stat warm = the same walk right after stat cold, nothing dropped.
	  Restore = \`mv MNT/site1/.trash/<op>/tree MNT/site1/tree\` after the rm -rf, then a file count.
	  Open-file limit (RLIMIT_NOFILE) for all daemons: $NOFILE.$(if ((NOFILE_SHORT)); then
		printf '\n- **Caveat:** RLIMIT_NOFILE %s (hard limit; raising it needs CAP_SYS_RESOURCE) is below the\n  %s inodes of the tree; passthrough_hp keeps one O_PATH fd per inode the kernel holds,\n  so its create/stat/rm cells may FAIL with EMFILE here.' "$NOFILE" "$((NTOTAL + NDIRS))"
	fi)
	- Cells: the median over the rounds, ±N% = half the range of the rounds in % of the median
	  (the spread), and for FUSE columns (Nx) = speed relative to plain (plain time / time, or
	  MB/s / plain MB/s; higher is better, 1.00x = as fast as plain).
	- Ratio columns: the median of the per-round ratios (each round's two figures were taken
	  next to each other) and their range; "~" = the range straddles the target.
	- Targets for gracefs (issue 22): on every row >= $HP_TARGET x passthrough_hp and
	  >= $BINDFS_TARGET x bindfs; seq write, cold seq read and random read >= $PLAIN_TARGET x plain;
	  restore <= 50 ms.

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
IMG=""
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
	if [[ -n $WORK ]]; then remove_loop; fi
	if [[ -n $HALT_POLL_OLD ]]; then echo "$HALT_POLL_OLD" >"$HALT_POLL_FILE"; fi
	# an image outside WORK (--store), once its loop device is gone
	if [[ -n $IMG && $IMG != "$WORK"/* && -z $LOOPDEV ]]; then rm -f "$IMG"; fi
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

	if [[ -n $HALT_POLL ]]; then
		[[ $HALT_POLL =~ ^[0-9]+$ ]] || die "--halt-poll: a number of ns, not '$HALT_POLL'"
		[[ -w $HALT_POLL_FILE ]] || die "--halt-poll: no $HALT_POLL_FILE (not a guest with cpuidle-haltpoll)"
		HALT_POLL_OLD=$(<"$HALT_POLL_FILE")
		echo "$HALT_POLL" >"$HALT_POLL_FILE" || die "--halt-poll: cannot write $HALT_POLL_FILE"
		log "guest_halt_poll_ns $HALT_POLL_OLD -> $HALT_POLL for this run"
	fi
	LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
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

	# Rounds, each interleaved (run_round); the order rotates from round to
	# round so that a place in the order (first after the set-up, right
	# after another one's deletes) does not favour one configuration.
	local i n=${#ORDER[@]} order
	for ((ROUND = 1; ROUND <= RUNS; ROUND++)); do
		order=()
		for ((i = 0; i < n; i++)); do order+=("${ORDER[(i + ROUND - 1) % n]}"); done
		run_round "${order[@]}"
	done

	summarize
	build_table
	printf '\n'
	print_text_table
	printf '\n(Nx) = speed relative to plain, higher is better; 1.00x = as fast as plain.\n'
	printf '±N%% = half the range of the rounds; ratio columns: median (range) of the per-round ratios.\n'
	if ((RUNS > 1)); then printf '\nAll rounds:\n\n'; print_md_raw; fi
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
