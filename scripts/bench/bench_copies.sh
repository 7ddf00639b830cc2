#!/usr/bin/env bash
# scripts/bench/bench_copies.sh — the issue 21 (item 4) benchmark: another
# tenant's unlink latency while one tenant truncates 12 large files at once
# (each truncation first copies the file into trash: ext4, no reflink).
#
# usage: scripts/bench/bench_copies.sh [--files N] [--size MB] [--rounds R]
#                                [--secs S] [--gracefs PATH] [--label TEXT]
#                                [--out FILE] [--no-report]
#
#   --files N       parallel truncations per round (default 12)
#   --size MB       size of each file (default 60; preserve_max is 64M)
#   --rounds R      rounds of N truncations (default 2; files are made first)
#   --secs S        length of the baseline phase (default 10)
#   --gracefs PATH  daemon (default build/fs/gracefs in the repo)
#   --label TEXT    what the daemon is, for the report (default: git describe)
#   --out FILE      report (default docs/performance.md); only the part
#                   between <!-- copies:begin --> and <!-- copies:end --> is
#                   rewritten
#   --no-report     print the figures, write nothing
#
# Steps (one mount, gracefs -f -o op_gap=1s, BACKING on the work dir's
# filesystem — must not clone, or there is nothing to copy):
#   1. before mounting: R*N files of MB each owned by uid 2002 (tenant a),
#      40000 empty files owned by uid 2003 (tenant b), in their own sites;
#   2. baseline: tenant b unlinks its files one at a time (a 5 ms pause
#      between calls), timing each unlink, for S seconds;
#   3. R rounds: tenant a starts N `truncate -s 0` at once (each its own
#      process: each copies its file into trash first) while tenant b
#      unlinks as in 2, until the round's truncations all returned;
#   4. p50 / p99 / max of each phase, and the daemon's copy counters
#      (gracectl status "copies"); the target is p99 <= 20 ms in phase 3.
# Benchmarks print figures; they are not tests (the exit status is 0 unless
# something broke).  Needs about R*N*MB*2 of free space in the work dir.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)
BENCH_TAG=copies
. "$SCRIPT_DIR/benchlib.sh"

FILES=12 SIZE=60 ROUNDS=2 SECS=10 GRACEFS=$REPO/build/fs/gracefs OUT=$REPO/docs/performance.md
REPORT=1 LABEL=
while (($#)); do
	case $1 in
	--files) FILES=$2; shift 2 ;;
	--size) SIZE=$2; shift 2 ;;
	--rounds) ROUNDS=$2; shift 2 ;;
	--secs) SECS=$2; shift 2 ;;
	--gracefs) GRACEFS=$2; shift 2 ;;
	--label) LABEL=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--no-report) REPORT=0; shift ;;
	-h|--help) usage 0 ;;
	*) usage 2 ;;
	esac
done
[[ $(id -u) -eq 0 ]] || die "needs root (FUSE mount, tenant uids)"
[[ -x $GRACEFS ]] || die "no daemon at $GRACEFS (ninja -C build)"
GRACECTL=$(dirname "$GRACEFS")/gracectl
for c in perl setpriv truncate; do command -v "$c" >/dev/null || die "needs $c"; done
[[ -n $LABEL ]] || LABEL=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?')
A=2002 B=2003

WORK=$(mktemp -d /var/tmp/gracefs-copies.XXXXXX)
chmod 0755 "$WORK"
BK=$WORK/backing M=$WORK/mnt PID=
cleanup() {
	[[ -n $PID ]] && { fusermount3 -u "$M" 2>/dev/null || fusermount3 -u -z "$M"; wait "$PID" 2>/dev/null || true; }
	remove_workdir "$WORK"
}
trap cleanup EXIT
mkdir -p "$BK/a" "$BK/b" "$M"
log "writing $((ROUNDS * FILES)) files of $SIZE MB (tenant a) and 40000 empty ones (tenant b)"
for ((i = 0; i < ROUNDS * FILES; i++)); do
	head -c "${SIZE}M" /dev/urandom >"$BK/a/f$i"
done
perl -e 'my ($d) = @ARGV; for my $i (0 .. 39999) { open(my $f, ">", "$d/u$i") or die; close $f }' "$BK/b"
chown -R "$A:$A" "$BK/a"
chown -R "$B:$B" "$BK/b"
sync
"$GRACEFS" -f -o op_gap=1s "$BK" "$M" 2>"$WORK/gracefs.log" &
PID=$!
for ((i = 0; i < 100; i++)); do mountpoint -q "$M" && break; sleep 0.1; done
mountpoint -q "$M" || die "mount failed: $(cat "$WORK/gracefs.log")"

# unlink_lat START STOPFILE SECS — tenant b unlinks MNT/b/uSTART.. one at a
# time until STOPFILE exists (or SECS s passed); "n p50 p99 max next" (ms)
unlink_lat() {
	setpriv --reuid=$B --regid=$B --clear-groups -- perl -MTime::HiRes=time,sleep -e '
		my ($dir, $i, $stop, $secs) = @ARGV; my @l; my $end = time + $secs;
		while (time < $end && !-e $stop) { my $t = time; unlink("$dir/u$i") or die "u$i: $!"; push @l, time - $t; $i++; sleep 0.005 }
		@l = sort { $a <=> $b } @l; my $n = @l; die "no samples\n" unless $n;
		printf "%d %.2f %.2f %.2f %d\n", $n, 1000 * $l[int($n * 0.5)], 1000 * $l[int($n * 0.99)], 1000 * $l[-1], $i;
	' "$M/b" "$1" "$2" "$3"
}

log "phase 1: tenant b's unlinks, nothing else running ($SECS s)"
read -r n1 p50a p99a maxa next < <(unlink_lat 0 "$WORK/never" "$SECS")

log "phase 2: the same during $ROUNDS rounds of $FILES parallel truncations of $SIZE MB files"
all=$WORK/lat2 t_copy=0
: >"$all"
for ((r = 0; r < ROUNDS; r++)); do
	rm -f "$WORK/stop"
	( unlink_lat "$next" "$WORK/stop" 600 >"$WORK/round$r" ) &
	LPID=$!
	sleep 0.5   # the unlinker runs before the copies start
	t0=$(date +%s.%N)
	pids=()
	for ((i = r * FILES; i < (r + 1) * FILES; i++)); do
		setpriv --reuid=$A --regid=$A --clear-groups -- truncate -s 0 "$M/a/f$i" & pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || die "a truncation failed: $(tail -n 5 "$WORK/gracefs.log")"; done
	t_copy=$(calc "$t_copy + $(date +%s.%N) - $t0")
	touch "$WORK/stop"
	wait "$LPID"
	read -r n p50 p99 mx next <"$WORK/round$r"
	log "  round $((r + 1)): copies took $(fmt "$(calc "$(date +%s.%N) - $t0")" 1) s; $n unlinks, p99 $p99 ms, max $mx ms"
	next=$((next + 1))
done
# the rounds' samples were summarised per round; the phase figures are the
# worst round's p50/p99 and the max over all (a conservative merge)
read -r n2 p50b p99b maxb < <(for ((r = 0; r < ROUNDS; r++)); do cat "$WORK/round$r"; done |
	awk '{ n += $1; if ($2 > p50) p50 = $2; if ($3 > p99) p99 = $3; if ($4 > mx) mx = $4 }
	     END { printf "%d %.2f %.2f %.2f\n", n, p50, p99, mx }')
status=$("$GRACECTL" -b "$BK" status 2>/dev/null | sed -n 's/^copies:* *//p' || true)
preserved=$(find "$BK/a/.trash" -type f -name 'f*' | wc -l)
verdict=MISS
le "$p99b" 20 && verdict=PASS
printf '%-58s %8s %8s %8s %8s\n' "phase" "unlinks" "p50 ms" "p99 ms" "max ms"
printf '%-58s %8s %8s %8s %8s\n' "baseline (no copies)" "$n1" "$p50a" "$p99a" "$maxa"
printf '%-58s %8s %8s %8s %8s\n' "during $FILES parallel $SIZE MB truncation copies" "$n2" "$p50b" "$p99b" "$maxb"
log "copies: $status"
log "$preserved files preserved; copying took $(fmt "$t_copy" 1) s in all; p99 target <= 20 ms: $verdict"

if ((REPORT)); then
	blk=$WORK/block
	{
		echo "<!-- copies:begin -->"
		echo "Generated by \`scripts/bench/bench_copies.sh\` on $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
		echo "(shared with other work: figures are noisy), daemon $LABEL, BACKING on"
		echo "$(df -T "$WORK" | awk 'NR == 2 { print $2 }') (no reflink: every truncation copies). Tenant b (uid $B) unlinks its own"
		echo "files one at a time with a 5 ms pause; tenant a (uid $A) runs $ROUNDS rounds of $FILES"
		echo "parallel \`truncate -s 0\` of $SIZE MB files in its own site."
		echo
		echo "| phase | unlinks | p50 ms | p99 ms | max ms |"
		echo "|---|---:|---:|---:|---:|"
		echo "| baseline (no copies, ${SECS} s) | $n1 | $p50a | $p99a | $maxa |"
		echo "| during $FILES parallel $SIZE MB truncation copies (worst round) | $n2 | $p50b | $p99b | $maxb |"
		echo
		echo "$preserved files preserved, copying took $(fmt "$t_copy" 1) s in all. The daemon's copy"
		echo "counters afterwards: \`copies: $status\`. Target p99 <= 20 ms: **$verdict**."
		echo "<!-- copies:end -->"
	} >"$blk"
	report_section "$OUT" "Fairness: one tenant's truncation copies, another's unlink (issue 21)" "$blk" && log "wrote $OUT"
fi
