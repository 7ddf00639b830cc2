# benchlib.sh — what the benchmark scripts share: messages, float helpers,
# and writing one marked section of docs/performance.md.  Sourced, never
# run; the caller sets BENCH_TAG (message prefix and section marker).

log()  { printf '[%s] %s\n' "$BENCH_TAG" "$*" >&2; }
warn() { printf '[%s] WARNING: %s\n' "$BENCH_TAG" "$*" >&2; }
die()  { printf '[%s] ERROR: %s\n' "$BENCH_TAG" "$*" >&2; exit "${BENCH_DIE_STATUS:-1}"; }
loud() {
	local line='!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!'
	printf '%s\n' "$line" "!!! $*" "$line" >&2
}
usage() {   # the script's header comment, up to `set -euo`
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
	exit "${1:-0}"
}

# awk-based float helpers (bash has no floats)
calc()  { awk "BEGIN { printf \"%.6f\", $* }"; }
fmt()   { awk -v v="$1" -v p="${2:-3}" 'BEGIN { printf "%.*f", p, v }'; }
ge()    { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
le()    { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
isnum() { [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ ]]; }

# report_section OUT HEADING BLOCKFILE — put BLOCKFILE (which starts with
# <!-- TAG:begin --> and ends with <!-- TAG:end -->, TAG = BENCH_TAG's
# marker name in BENCH_MARK) into OUT: in place of the old section, or
# before the human-written <!-- analysis --> part, or at the end under
# HEADING.  Nothing outside the markers is ever changed; unbalanced markers
# leave OUT alone (the section goes to OUT.TAG-generated) and return 1.
report_section() {
	local out=$1 heading=$2 blk=$3 tag=${BENCH_MARK:-$BENCH_TAG} tmp nb ne
	mkdir -p "$(dirname "$out")"
	tmp=$(mktemp "$(dirname "$out")/.performance.md.XXXXXX")
	if [[ ! -e $out ]]; then
		{ printf '# gracefs performance\n\n## %s\n\n' "$heading"; cat "$blk"; } >"$tmp"
	else
		nb=$(grep -c "^<!-- $tag:begin -->" "$out" || true)
		ne=$(grep -c "^<!-- $tag:end -->" "$out" || true)
		if ((nb == 1 && ne == 1)); then
			awk -v blk="$blk" -v b="<!-- $tag:begin -->" -v e="<!-- $tag:end -->" '
				$0 == b { while ((getline l < blk) > 0) print l; skip = 1; next }
				skip && $0 == e { skip = 0; next }
				!skip { print }' "$out" >"$tmp"
		elif ((nb == 0 && ne == 0)) && grep -q '^<!-- analysis -->' "$out"; then
			awk -v blk="$blk" -v h="$heading" '
				/^<!-- analysis -->/ && !done {
					print "## " h; print ""
					while ((getline l < blk) > 0) print l
					print ""; done = 1 }
				{ print }' "$out" >"$tmp"
		elif ((nb == 0 && ne == 0)); then
			{ cat "$out"; printf '\n## %s\n\n' "$heading"; cat "$blk"; } >"$tmp"
		else
			rm -f "$tmp"
			cp "$blk" "$out.$tag-generated"
			loud "$out has unbalanced $tag markers ($nb begin, $ne end); not touching it." \
				"The generated part is in $out.$tag-generated instead"
			return 1
		fi
	fi
	chmod 644 "$tmp"
	mv -f "$tmp" "$out"
	log "report written to $out"
}

# remove_workdir DIR — rm -rf DIR, unless something is still mounted below
# it (then say so loudly and leave it: never delete through a live mount).
remove_workdir() {
	local dir=$1 left
	[[ -n $dir && -d $dir ]] || return 0
	left=$(awk -v w="$dir/" 'index($2, w) == 1 { print $2 }' /proc/self/mounts)
	if [[ -n $left ]]; then
		loud "mounts still present, NOT deleting $dir: $left"
	else
		rm -rf --one-file-system "$dir"
	fi
}

# Mounts and daemons a benchmark started, for bench_cleanup.  A script that
# uses gfs_mount sets WORK (its scratch directory, logs go to
# WORK/gracefs.log) and KEEP (1: leave WORK for a look afterwards), then
# `trap bench_cleanup EXIT`.
PIDS=()
MOUNTS=()

# bench_cleanup — unmount what this script mounted (newest first), stop the
# daemons it started (by their PIDs only), remove WORK unless KEEP.
bench_cleanup() {
	local m p
	for m in "${MOUNTS[@]}"; do
		fusermount3 -u "$m" 2>/dev/null || umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		kill -0 "$p" 2>/dev/null && kill "$p" 2>/dev/null || true
	done
	((${KEEP:-0})) || remove_workdir "$WORK"
}

# gfs_mount BIN BACKING MNT OPTS — start a daemon in the foreground, wait
# (bounded) for its mount.  gfs_umount MNT — unmount the newest one and
# wait for its daemon to exit.  One daemon at a time.
gfs_mount() {
	local i
	"$1" -f -o "$4" "$2" "$3" 2>>"$WORK/gracefs.log" &
	PIDS+=($!)
	for ((i = 0; i < 100; i++)); do
		mountpoint -q "$3" && { MOUNTS=("$3" "${MOUNTS[@]}"); return 0; }
		sleep 0.1
	done
	die "gracefs did not mount $3 (see $WORK/gracefs.log)"
}
gfs_umount() {
	local pid=${PIDS[-1]}
	fusermount3 -u "$1"
	wait "$pid" 2>/dev/null || true
	MOUNTS=("${MOUNTS[@]:1}")
}
