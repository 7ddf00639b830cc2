#!/bin/bash
#
# metrics.sh — the Prometheus textfile (-o metrics=PATH) is well-formed and
# follows deletes, restores and purges.

. "$(dirname "$0")/lib.sh"
gfs_require python3

PROM=$(dirname "$BACKING")/gracefs.prom
gfs_site site1 site2
mkdir -p "$BACKING/site1/d" "$BACKING/site2/e"
for i in 1 2 3; do echo "$i" >"$BACKING/site1/d/f$i"; echo "$i" >"$BACKING/site2/e/g$i"; done
gfs_mount "metrics=$PROM" retention=3s min_retention=1s sweep_interval=1s op_gap=1s

# value NAME [SITE] — one sample of the file, or "absent"
value() {
	python3 - "$PROM" "$@" <<'PY'
import re, sys
path, name = sys.argv[1], sys.argv[2]
site = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else None
samples = {}
help_seen, type_seen = set(), set()
for line in open(path):
    line = line.rstrip("\n")
    if line.startswith("# HELP "):
        help_seen.add(line.split()[2]); continue
    if line.startswith("# TYPE "):
        type_seen.add(line.split()[2]); continue
    m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:site|version)="((?:[^"\\]|\\.)*)"\})? (-?[0-9.e+]+)', line)
    if not m:
        sys.exit("malformed line: %r" % line)
    if m.group(1) not in type_seen:
        sys.exit("sample before its TYPE: %r" % line)
    samples[(m.group(1), m.group(3))] = m.group(4)
print(samples.get((name, site), "absent"))
PY
}

wait_metric() {   # DESC NAME SITE EXPECTED
	local desc=$1 got
	shift
	wait_until 10 eval '[ "$(value "'"$1"'" "'"$2"'")" == "'"$3"'" ]'
	got=$(value "$1" "$2")
	check_eq "$desc" "$3" "$got"
}

check "metrics file written at mount" wait_until 10 test -s "$PROM"
check "site1 keeps ops 1h (its op must wait for the restore; a hold would forbid it)" \
	setfattr -n user.gracefs.retention -v 1h "$MNT/site1/.trash"
check_eq "well-formed, counters start at 0" "0" "$(value gracefs_ops_created_total)"
check_eq "clock skew gauge present" "0" "$(value gracefs_clock_skew_seconds)"

rm -rf "$MNT/site1/d"
wait_metric "a delete shows up as an op" gracefs_ops_created_total "" 1
wait_metric "... with its items for site1" gracefs_trash_items site1 4
check_match "... and its bytes" '^[1-9][0-9]*$' "$(value gracefs_trash_bytes site1)"
check_eq "site2 has no trash yet" "absent" "$(value gracefs_trash_items site2)"

op=$(only_op site1)
mv "$(mnt_op site1 "$op")/d" "$MNT/site1/d"
wait_metric "a restore is counted" gracefs_ops_restored_total "" 1
wait_metric "... and site1's trash is empty again" gracefs_trash_items site1 absent

rm -rf "$MNT/site2/e"
wait_metric "the sweeper's purge is counted" gracefs_ops_purged_total "" 1
wait_metric "... and site2's trash is empty" gracefs_trash_items site2 absent
check "clean unmount" gfs_umount
done_testing
