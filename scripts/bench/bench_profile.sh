#!/usr/bin/env bash
# scripts/bench/bench_profile.sh — where one bench.sh workload spends its time in
# gracefs: the FUSE requests it costs (libfuse's debug log, counted per
# opcode) and a CPU profile of the daemon (perf, Debian's linux-perf).
#
# usage: [HP_BIN=/path/to/passthrough_hp] scripts/bench/bench_profile.sh
#            [--gracefs PATH] [--gracefs-opts O] [--files N] [--tar FILE]
#            create|rm|tar
#
#   create   N 1 KiB files in N/200 directories (default N = 15000)
#   rm       the same tree created, then rm -rf of it (profiled)
#   tar      tar -x -m of FILE (default: a tarball of /usr/include)
#
# Two passes over a fresh backing directory under /var/tmp: one mounted
# with -o debug, whose log gives the requests per opcode; one without,
# under `perf record -g -p DAEMON`, whose report is split by object
# (kernel, libc, libfuse, gracefs) with the top symbols, and the daemon's
# CPU time.  With HP_BIN set (libfuse 3.14's passthrough_hp, see bench.sh)
# and bindfs installed, their requests for the same workload are counted
# too, side by side, and passthrough_hp is profiled the same way.  Needs root.
# Prints to stdout; nothing in the repository is changed.
set -euo pipefail
BENCH_TAG=profile
. "$(dirname "$0")/benchlib.sh"

REPO=$(cd "$(dirname "$0")/../.." && pwd)
GRACEFS=$REPO/build/fs/gracefs
GOPTS=retention=30d
FILES=15000
TARBALL=
while (($#)); do
	case $1 in
	--gracefs) GRACEFS=$2; shift 2 ;;
	--gracefs-opts) GOPTS=$GOPTS,$2; shift 2 ;;
	--files) FILES=$2; shift 2 ;;
	--tar) TARBALL=$2; shift 2 ;;
	-h|--help) usage ;;
	create|rm|tar) WORK=$1; shift ;;
	*) usage 2 ;;
	esac
done
[[ -n ${WORK:-} ]] || usage 2
((EUID == 0)) || die "needs root (mounting, drop_caches)"
command -v perf >/dev/null || die "perf not found: apt-get install linux-perf"
[[ -x $GRACEFS ]] || die "no gracefs binary at $GRACEFS (build first)"

T=$(mktemp -d /var/tmp/gracefs-profile.XXXXXX)
PID=
cleanup() {
	mountpoint -q "$T/mnt" 2>/dev/null && fusermount3 -u "$T/mnt"
	[[ -n $PID ]] && wait "$PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
gcc -O2 -o "$T/bt" "$REPO/scripts/bench/benchtool.c" || die "building benchtool failed"
if [[ $WORK == tar && -z $TARBALL ]]; then
	TARBALL=$T/include.tar
	tar -C /usr -cf "$TARBALL" include
fi

mount_gfs() {   # mount_gfs EXTRA_OPTS LOG
	rm -rf "$T/b" "$T/mnt"
	mkdir -p "$T/b/site1" "$T/mnt"
	(ulimit -n 20000; exec "$GRACEFS" -f -o "$GOPTS$1" "$T/b" "$T/mnt" >"$2" 2>&1) &
	PID=$!
	for _ in $(seq 100); do mountpoint -q "$T/mnt" && return 0; sleep 0.1; done
	die "gracefs did not mount"
}
umount_gfs() { fusermount3 -u "$T/mnt"; wait "$PID" || true; PID=; }
dirs=$(( (FILES + 199) / 200 ))
prepare() { [[ $WORK == rm ]] && "$T/bt" create "$T/mnt/site1/tree" "$dirs" 200 1024 >/dev/null; true; }
run() {
	case $WORK in
	create) "$T/bt" create "$T/mnt/site1/tree" "$dirs" 200 1024 ;;
	rm) "$T/bt" time rm -rf "$T/mnt/site1/tree" ;;
	tar) "$T/bt" time tar -x -m -f "$TARBALL" -C "$T/mnt/site1" ;;
	esac
}

# count LOG NAME — the requests in LOG after line $before, per opcode
count() {
	echo "## $WORK: FUSE requests of $2 (libfuse debug log)"
	tail -n +"$((before + 1))" <(grep -o 'opcode: [A-Z_]*' "$1") |
		sort | uniq -c | sort -rn | awk '{ n += $1; printf "%8d %s\n", $1, $3 } END { printf "%8d total\n", n }'
}

log "pass 1: requests (-o debug)"
mount_gfs ,debug "$T/debug.log"
prepare
before=$(grep -c 'opcode:' "$T/debug.log" || true)
run >/dev/null
umount_gfs
count "$T/debug.log" gracefs

# the comparators, over a plain directory (workloads use MNT/site1)
other() {   # other NAME CMD... (CMD mounts $T/b on $T/mnt, debug log on stderr)
	local name=$1
	shift
	rm -rf "$T/b" "$T/mnt"
	mkdir -p "$T/b" "$T/mnt"
	(ulimit -n 20000; exec "$@" >"$T/$name.log" 2>&1) &
	PID=$!
	for _ in $(seq 100); do mountpoint -q "$T/mnt" && break; sleep 0.1; done
	mountpoint -q "$T/mnt" || { warn "$name did not mount"; PID=; return 0; }
	mkdir "$T/mnt/site1"
	prepare
	before=$(grep -c 'opcode:' "$T/$name.log" || true)
	run >/dev/null
	umount_gfs
	count "$T/$name.log" "$name"
}
if [[ -n ${HP_BIN:-} ]]; then
	other passthrough_hp "$HP_BIN" --debug-fuse "$T/b" "$T/mnt"
fi
if command -v bindfs >/dev/null; then
	other bindfs bindfs -f -d "$T/b" "$T/mnt"
fi

# cpu_ticks PID — user + system clock ticks of the whole process so far
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TCK=$(getconf CLK_TCK)

# profile NAME — the workload on the mount just made ($PID serving it),
# caches dropped, under `perf record -g -p $PID`: wall time, the daemon's
# CPU time, its CPU by object and its top symbols
profile() {
	local name=$1 secs c0 c1
	prepare
	sync; echo 3 >/proc/sys/vm/drop_caches
	perf record -q -g -o "$T/perf-$name.data" -p "$PID" >/dev/null 2>&1 &
	PERF=$!
	sleep 1   # perf attaches to every thread before the workload starts
	c0=$(cpu_ticks "$PID")
	secs=$(run | tail -n 1)
	c1=$(cpu_ticks "$PID")
	kill -INT "$PERF"; wait "$PERF" || true
	umount_gfs
	echo "## $WORK, $name: ${secs} s; daemon CPU $(awk -v t=$((c1 - c0)) -v h="$TCK" \
		'BEGIN { printf "%.2f", t / h }') s; by object (perf)"
	perf report -i "$T/perf-$name.data" --no-children --sort dso -g none 2>/dev/null |
		grep -v '^#' | grep -v '^$' | head -6 || true   # head's early exit
	echo "## $WORK, $name: top symbols"
	perf report -i "$T/perf-$name.data" --no-children --sort dso,sym -g none 2>/dev/null |
		grep -v '^#' | grep -v '^$' | head -15 || true
}

log "pass 2: perf record of the daemon"
mount_gfs "" "$T/gracefs.log"
profile gracefs
if [[ -n ${HP_BIN:-} ]]; then   # the same for passthrough_hp, over a plain directory
	rm -rf "$T/b" "$T/mnt"
	mkdir -p "$T/b/site1" "$T/mnt"
	(ulimit -n 20000; exec "$HP_BIN" --foreground "$T/b" "$T/mnt" >"$T/hp.log" 2>&1) &
	PID=$!
	for _ in $(seq 100); do mountpoint -q "$T/mnt" && break; sleep 0.1; done
	if mountpoint -q "$T/mnt"; then
		profile passthrough_hp
	else
		warn "passthrough_hp did not mount"; wait "$PID" || true; PID=
	fi
fi
