#!/usr/bin/env bash
# scripts/bench/bench_inplace.sh — the issue 20 benchmark: what preserving a
# file before an in-place write costs, next to a plain directory and
# (optionally) a gracefs built before issue 20.
#
# usage: scripts/bench/bench_inplace.sh [--gracefs PATH] [--baseline PATH] [--files N]
#                                  [--reps N] [--out FILE] [--no-report] [--keep]
#
#   --gracefs PATH   daemon (default build/fs/gracefs in the repo)
#   --baseline PATH  a gracefs without in-place write protection ("today's
#                    binary" of the issue; default: none, column n/a)
#   --files N        files in the fresh-file and small-file rows (default 10000)
#   --reps N         first-overwrite timings per cell (default 3; median)
#   --out FILE       report (default docs/performance.md); only the part
#                    between <!-- inplace:begin --> and <!-- inplace:end -->
#                    is rewritten
#   --no-report      print the figures, write nothing
#   --keep           keep the work directory
#
# Columns: the workload on the backing directory itself; through gracefs
# (default options: kernel passthrough where the kernel offers it); through
# gracefs with -o passthrough=off (every write seen by the daemon, as
# before passthrough); through the --baseline build.  Rows (each timed in
# python3, process start excluded; each mounts its own daemon over a fresh
# backing directory with op_gap=1s):
#   append      one process appends 128 MiB in 64 KiB writes to a 1 MiB file
#   fresh       one process creates and writes N new 4 KiB files
#   rewrite     one process rewrites N existing 4 KiB files in place (r+b,
#               4 KiB at offset 0): each is preserved (a copy on ext4)
#   sqlite      1,000 small transactions (UPDATE of one row, WAL) on a
#               50 MB SQLite database; once more with the site's
#               nopreserve=*.sqlite,*-wal,*-shm (the operator's opt-out:
#               unpreserved, audited once per handle)
#   first 4K    ms for the first 4 KiB pwrite at offset 0 of a file just
#               written and synced: 48 MiB on ext4 (a copy), 1 GiB on XFS
#               reflink (a clone; target <= 300 ms)
# ext4 is the filesystem of /var/tmp; XFS a 3 GiB sparse image on a loop
# device (skipped without mkfs.xfs or a loop device).
#
# Needs root, /dev/fuse, python3 (sqlite3 module).  Unmounts what it
# mounted, stops only its own daemons (by PID), removes its work directory.
set -euo pipefail
BENCH_TAG=bench_inplace
BENCH_MARK=inplace
BENCH_DIE_STATUS=2
. "$(dirname "$0")/benchlib.sh"
shopt -s inherit_errexit

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)
GRACEFS=$REPO/build/fs/gracefs
BASELINE=
NFILES=10000
REPS=3
OUT=$REPO/docs/performance.md
REPORT=1
KEEP=0
TARGET_MS=300

while (($#)); do
	case $1 in
	--gracefs) (($# >= 2)) || usage 2; GRACEFS=$2; shift ;;
	--baseline) (($# >= 2)) || usage 2; BASELINE=$2; shift ;;
	--files) (($# >= 2)) || usage 2; NFILES=$2; shift ;;
	--reps) (($# >= 2)) || usage 2; REPS=$2; shift ;;
	--out) (($# >= 2)) || usage 2; OUT=$2; shift ;;
	--no-report) REPORT=0 ;;
	--keep) KEEP=1 ;;
	-h|--help) usage 0 ;;
	*) usage 2 ;;
	esac
	shift
done
[[ $NFILES =~ ^[1-9][0-9]*$ ]] || die "bad --files: $NFILES"
[[ $REPS =~ ^[1-9][0-9]?$ ]] || die "bad --reps: $REPS (1-99)"
[[ $(id -u) == 0 ]] || die "needs root (mounting)"
[[ -c /dev/fuse ]] || die "/dev/fuse is missing"
[[ -x $GRACEFS ]] || die "gracefs not found at $GRACEFS (ninja -C build)"
[[ -z $BASELINE || -x $BASELINE ]] || die "baseline gracefs not found at $BASELINE"
python3 -c 'import sqlite3' 2>/dev/null || die "python3 with sqlite3 is needed"
command -v setfattr >/dev/null || die "setfattr is not installed (attr)"

WORK=$(mktemp -d /var/tmp/gracefs-bench-inplace.XXXXXX)
trap bench_cleanup EXIT   # benchlib.sh: gfs_mount/gfs_umount

# py MODE DIR [ARG] — one timed workload in DIR (prints seconds, or ms for
# first4k); its files are prepared in the backing directory by prep.
py() {
	python3 - "$@" <<'EOF'
import os, random, sqlite3, sys, time
mode, d = sys.argv[1], sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 0
data = b"y" * 4096
t = time.perf_counter()
if mode == "append":
    with open(os.path.join(d, "log"), "ab") as f:
        chunk = b"a" * 65536
        for _ in range(128 * 16):
            f.write(chunk)
elif mode == "fresh":
    for i in range(n):
        with open(os.path.join(d, "new%d" % i), "wb") as f:
            f.write(data)
elif mode == "rewrite":
    for i in range(n):
        with open(os.path.join(d, "small%d" % i), "r+b") as f:
            f.write(data)
elif mode == "sqlite":
    db = sqlite3.connect(os.path.join(d, "db.sqlite"))
    db.execute("PRAGMA journal_mode=WAL")
    rnd = random.Random(1)
    for _ in range(1000):
        db.execute("UPDATE t SET v = randomblob(100) WHERE id = ?", (rnd.randrange(1, 200001),))
        db.commit()
    db.close()
elif mode == "first4k":
    fd = os.open(os.path.join(d, "big"), os.O_WRONLY)
    t = time.perf_counter()
    os.pwrite(fd, data, 0)
    ms = (time.perf_counter() - t) * 1000
    os.close(fd)
    print("%.3f" % ms)
    sys.exit(0)
print("%.3f" % (time.perf_counter() - t))
EOF
}

# prep MODE DIR [ARG] — the files MODE works on, written straight into the
# backing directory DIR and synced (the steady state of a file is on disk).
prep() {
	local mode=$1 d=$2
	case $mode in
	append) head -c 1M /dev/urandom >"$d/log" ;;
	fresh) ;;
	rewrite) python3 -c '
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    with open(os.path.join(d, "small%d" % i), "wb") as f: f.write(os.urandom(4096))' "$d" "$NFILES" ;;
	sqlite)
		if [[ ! -e $WORK/db.sqlite ]]; then
			python3 -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1]); db.execute("PRAGMA journal_mode=WAL")
db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
db.executemany("INSERT INTO t VALUES (?, randomblob(200))", ((i,) for i in range(1, 200001)))
db.commit(); db.execute("PRAGMA wal_checkpoint(TRUNCATE)"); db.close()' "$WORK/db.sqlite"
		fi
		cp "$WORK/db.sqlite" "$d/db.sqlite" ;;
	first4k) dd if=/dev/zero of="$d/big" bs=1M count="$3" status=none ;;
	esac
	sync -f "$d"
}

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# cell FS BIN OPTS MODE [ARG] — MODE on a fresh backing dir of FS: straight
# on it (BIN "plain") or through a mount of BIN with OPTS.  Prints the
# figure (first4k: the median of REPS, each a new file).
cell() {
	local fs=$1 bin=$2 opts=$3 mode=$4 arg=${5:-$NFILES} b m i n=1 all=()
	b=$(base_of "$fs")/b m=$WORK/mnt
	[[ $mode != first4k ]] || n=$REPS
	for ((i = 0; i < n; i++)); do
		rm -rf "$b"
		mkdir -p "$b/s" "$m"
		prep "$mode" "$b/s" "$arg"
		if [[ -n $NOPRESERVE ]]; then   # what gracectl site set stores
			mkdir -p "$b/s/.trash"
			setfattr -n trusted.gracefs.nopreserve -v "$NOPRESERVE" "$b/s/.trash"
		fi
		if [[ $bin == plain ]]; then
			all+=("$(py "$mode" "$b/s" "$arg")")
		else
			gfs_mount "$bin" "$b" "$m" "$opts"
			all+=("$(py "$mode" "$m/s" "$arg")")
			gfs_umount "$m"
		fi
	done
	rm -rf "$b"
	log "$fs $mode $bin${opts:+ -o $opts}: ${all[*]}"
	median "${all[@]}"
}
base_of() { if [[ $1 == xfs ]]; then echo "$WORK/xfs.backing"; else echo "$WORK"; fi; }

declare -A R
COLS=(plain gfs nopt)
[[ -n $BASELINE ]] && COLS+=(base)
bin_of() { case $1 in plain) echo plain ;; gfs|nopt) echo "$GRACEFS" ;; base) echo "$BASELINE" ;; esac; }
opts_of() { case $1 in nopt) echo op_gap=1s,passthrough=off ;; *) echo op_gap=1s ;; esac; }

NOPRESERVE=
log "work directory $WORK"
for c in "${COLS[@]}"; do
	for mode in append fresh rewrite sqlite; do
		R[$mode,$c]=$(cell ext4 "$(bin_of "$c")" "$(opts_of "$c")" "$mode")
	done
	R[first4k_ext4,$c]=$(cell ext4 "$(bin_of "$c")" "$(opts_of "$c")" first4k 48)
done
R[sqlite,gfs0]=$(NOPRESERVE='*.sqlite,*-wal,*-shm' cell ext4 "$GRACEFS" op_gap=1s sqlite)
XFS_OK=0
if command -v mkfs.xfs >/dev/null && losetup -f >/dev/null 2>&1; then
	truncate -s 3G "$WORK/xfs.img"
	mkfs.xfs -q -m reflink=1 "$WORK/xfs.img"
	mkdir -p "$WORK/xfs.backing"
	if mount -o loop "$WORK/xfs.img" "$WORK/xfs.backing"; then
		MOUNTS+=("$WORK/xfs.backing")
		XFS_OK=1
		for c in "${COLS[@]}"; do
			R[first4k_xfs,$c]=$(cell xfs "$(bin_of "$c")" "$(opts_of "$c"),preserve_max=0" first4k 1024)
		done
		umount "$WORK/xfs.backing"
		MOUNTS=("${MOUNTS[@]/$WORK\/xfs.backing}")
	fi
fi
((XFS_OK)) || warn "XFS cells skipped (no mkfs.xfs, loop device or XFS mount)"

v() { printf '%s' "${R[$1]:-n/a}"; }
verdict=n/a
if ((XFS_OK)); then
	le "${R[first4k_xfs,gfs]}" "$TARGET_MS" && verdict="PASS (<= $TARGET_MS ms)" ||
		verdict="MISS (> $TARGET_MS ms)"
fi
BLK=$WORK/block.md
{
	echo "<!-- inplace:begin -->"
	echo "Generated by \`scripts/bench/bench_inplace.sh\` on $(date -u +%Y-%m-%d) ($(nproc) cores,"
	echo "$(uname -r); one run per row, first-4K cells the median of $REPS; warm page cache)."
	echo
	echo "| workload | plain directory | gracefs | gracefs, passthrough=off | gracefs before issue 20 |"
	echo "|---|---|---|---|---|"
	echo "| ext4: append 128 MiB in 64 KiB writes, s | $(v append,plain) | $(v append,gfs) | $(v append,nopt) | $(v append,base) |"
	echo "| ext4: create+write $NFILES new 4 KiB files, s | $(v fresh,plain) | $(v fresh,gfs) | $(v fresh,nopt) | $(v fresh,base) |"
	echo "| ext4: rewrite $NFILES 4 KiB files in place, s | $(v rewrite,plain) | $(v rewrite,gfs) | $(v rewrite,nopt) | $(v rewrite,base) |"
	echo "| ext4: SQLite, 1,000 transactions on 50 MB (WAL), s | $(v sqlite,plain) | $(v sqlite,gfs) | $(v sqlite,nopt) | $(v sqlite,base) |"
	echo "| ext4: the same with nopreserve=*.sqlite,*-wal,*-shm (unpreserved, audited), s | | $(v sqlite,gfs0) | | |"
	echo "| ext4: first 4 KiB pwrite into 48 MiB (a copy), ms | $(v first4k_ext4,plain) | $(v first4k_ext4,gfs) | $(v first4k_ext4,nopt) | $(v first4k_ext4,base) |"
	echo "| XFS reflink: first 4 KiB pwrite into 1 GiB (a clone), ms — target $TARGET_MS ms: $verdict | $(v first4k_xfs,plain) | $(v first4k_xfs,gfs) | $(v first4k_xfs,nopt) | $(v first4k_xfs,base) |"
	echo "<!-- inplace:end -->"
} >"$BLK"
cat "$BLK"
((REPORT)) && report_section "$OUT" "In-place overwrite protection (issue 20)" "$BLK"
exit 0
