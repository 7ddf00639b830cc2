#!/bin/bash
#
# copies.sh — preservation copies run at a bounded concurrency per uid
# (issue 21, item 4; docs/overwrite.md "Copies and fairness"): one tenant's
# parallel truncations copy at most preserve_per_uid files at once (the
# others wait in that uid's own queue, on the copy pool, not in a FUSE
# worker), every one of them is preserved whole, and another tenant's rm
# meanwhile works.  Functional, not timing: the daemon's own counters
# (gracectl status "copies", the metrics) say how many copies of one uid
# ever ran at once.  The latency figures are scripts/bench/bench_copies.sh's.
# Tenants: numeric uids (setpriv), bob 2002, carol 2003.

. "$(dirname "$0")/lib.sh"
: "${GRACECTL:=$GFS_REPO/build/fs/gracectl}"
gfs_require setpriv truncate cmp dd
[ -x /usr/bin/python3 ] || skip_all "/usr/bin/python3 is not installed"
[ -x "$GRACECTL" ] || skip_all "gracectl binary not found at $GRACECTL"

BOB=2002 CAROL=2003
gctl() { "$GRACECTL" -b "$BACKING" "$@"; }
copies() { gctl status | sed -n 's/^copies:* *//p'; }
field() { copies | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# bad values are refused before mounting
for bad in 0 65 x 1.5; do
	out=$("$GRACEFS" -f -o "preserve_per_uid=$bad" "$BACKING" "$MNT" 2>&1)
	rc=$?
	check_eq "preserve_per_uid=$bad is refused (usage error)" 2 "$rc"
	check_match "... with a one-line error" "invalid preserve_per_uid" "$out"
done

PROM=$GFS_TMP/gracefs.prom
gfs_site t1 t2
chmod 0777 "$BACKING/t1" "$BACKING/t2"
N=6
for ((i = 0; i < N; i++)); do
	head -c 6M /dev/urandom >"$GFS_TMP/ref$i"
	cp "$GFS_TMP/ref$i" "$BACKING/t1/f$i"
done
chown "$BOB:$BOB" "$BACKING"/t1/f*
echo carol >"$BACKING/t2/c1" && chown "$CAROL:$CAROL" "$BACKING/t2/c1"
gfs_mount "metrics=$PROM" op_gap=1s

# ---- six parallel truncations by bob, carol deletes meanwhile ------------
pids=()
for ((i = 0; i < N; i++)); do
	as_uid $BOB truncate -s 0 "$MNT/t1/f$i" & pids+=($!)
done
check "carol's rm in another site works meanwhile" as_uid $CAROL rm "$MNT/t2/c1"
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
check_eq "all $N truncations succeeded" 0 "$failed"
if [ "$(field copied)" = 0 ] && grep -q '^gracefs_overwrite_cloned_total [1-9]' "$PROM" 2>/dev/null; then
	skip_all "the backing filesystem clones: no copies to bound"
fi
kept=0
for ((i = 0; i < N; i++)); do
	[ "$(stat -c %s "$MNT/t1/f$i")" = 0 ] || fail "f$i is not empty after truncate -s 0"
	t=$(find "$BACKING/t1/.trash" -name "f$i" -type f | head -n1)
	[ -n "$t" ] && cmp -s "$t" "$GFS_TMP/ref$i" && kept=$((kept + 1))
done
check_eq "every truncated file is preserved whole in trash" "$N" "$kept"
check_eq "carol's file is in t2's trash" carol "$(cat "$(find "$BACKING/t2/.trash" -name c1 -type f)")"

diag "copies: $(copies)"
check_eq "status: $N files copied" "$N" "$(field copied)"
check_eq "status: the limit per uid is 2 (the default)" 2 "$(field per_uid)"
peak=$(field peak_per_uid)
check "status: at most 2 of bob's copies ever ran at once (peak $peak)" test "${peak:-9}" -le 2 -a "${peak:-0}" -ge 1
check_eq "status: none running or waiting now" "0 0" "$(field running) $(field waiting)"
handed=$(field handed)
check "status: the truncations ran on the copy pool, not in FUSE workers ($handed)" test "${handed:-0}" -ge "$N"
prom_peak() { sed -n 's/^gracefs_overwrite_copies_peak_per_uid //p' "$PROM" 2>/dev/null; }
peak_written() { [ -n "$(prom_peak)" ] && [ "$(prom_peak)" -ge 1 ]; }
wait_until 40 peak_written
check "metrics: gracefs_overwrite_copies_peak_per_uid within the bound ($(prom_peak))" \
	test "$(prom_peak)" -le 2 -a "$(prom_peak)" -ge 1
# (a file written while copies still ran says so: wait for a later one)
check "metrics: the running gauge falls back to 0" \
	wait_until 40 grep -qx 'gracefs_overwrite_copies_running 0' "$PROM"
gfs_umount || fail "unmount failed"

# ---- preserve_per_uid=1: open(O_TRUNC) and in-place writes, one at a time --
for ((i = 0; i < 4; i++)); do
	cp "$GFS_TMP/ref$i" "$BACKING/t1/g$i" && chown "$BOB:$BOB" "$BACKING/t1/g$i"
	cp "$GFS_TMP/ref$i" "$BACKING/t1/h$i" && chown "$BOB:$BOB" "$BACKING/t1/h$i"
done
cp "$GFS_TMP/ref0" "$BACKING/t1/k0" && chown "$BOB:$BOB" "$BACKING/t1/k0"
head -c 4096 /dev/zero >"$BACKING/t1/zeros" && chown "$BOB:$BOB" "$BACKING/t1/zeros"
gfs_mount "metrics=$PROM" op_gap=1s preserve_per_uid=1
pids=()
for ((i = 0; i < 4; i++)); do
	as_uid $BOB sh -c ": > '$MNT/t1/g$i'" & pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
check_eq "all 4 truncating opens succeeded" 0 "$failed"
diag "copies: $(copies)"
check_eq "status: 4 copied, limit 1, peak 1" "4 1 1" \
	"$(field copied) $(field per_uid) $(field peak_per_uid)"
check "status: the opens ran on the copy pool" test "$(field handed)" -ge 4
kept=0
for ((i = 0; i < 4; i++)); do
	t=$(find "$BACKING/t1/.trash" -name "g$i" -type f | head -n1)
	[ -n "$t" ] && cmp -s "$t" "$GFS_TMP/ref$i" && kept=$((kept + 1))
done
check_eq "every one preserved whole" 4 "$kept"

pids=()
for ((i = 0; i < 4; i++)); do
	as_uid $BOB dd if=/dev/zero of="$MNT/t1/h$i" bs=4k count=1 conv=notrunc status=none &
	pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
check_eq "all 4 in-place writes succeeded" 0 "$failed"
diag "copies: $(copies)"
check_eq "status: 8 copied, peak still 1" "8 1" "$(field copied) $(field peak_per_uid)"
check "status: the writes ran on the copy pool too" test "$(field handed)" -ge 8
kept=0
for ((i = 0; i < 4; i++)); do
	t=$(find "$BACKING/t1/.trash" -name "h$i" -type f | head -n1)
	[ -n "$t" ] && cmp -s "$t" "$GFS_TMP/ref$i" && kept=$((kept + 1))
	cmp -s -n 4096 "$MNT/t1/h$i" /dev/zero || fail "h$i does not start with the written zeros"
	cmp -s -i 4096 "$MNT/t1/h$i" "$GFS_TMP/ref$i" || fail "h$i lost bytes past the write"
done
check_eq "every written file preserved whole" 4 "$kept"

# copy_file_range over existing bytes: preserved first, on the pool too
# (the system's python3: a tenant uid cannot run one in root's home)
check "copy_file_range over k0's first 4 KiB" as_uid $BOB /usr/bin/python3 -c '
import os, sys
s = os.open(sys.argv[1], os.O_RDONLY); d = os.open(sys.argv[2], os.O_WRONLY)
assert os.copy_file_range(s, d, 4096, 0, 0) == 4096' "$MNT/t1/zeros" "$MNT/t1/k0"
diag "copies: $(copies)"
check_eq "status: 9 copied" 9 "$(field copied)"
check "status: the copy_file_range ran on the copy pool" test "$(field handed)" -ge 9
t=$(find "$BACKING/t1/.trash" -name k0 -type f | head -n1)
check "k0 preserved whole" cmp -s "$t" "$GFS_TMP/ref0"
check "k0 now starts with the copied zeros" cmp -s -n 4096 "$MNT/t1/k0" /dev/zero
check "unmount" gfs_umount

done_testing
