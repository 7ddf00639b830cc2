#!/bin/bash
#
# alerts.sh — the metrics the shipped alert rules read, from a real mount:
# site-level deletions counted per site (a directory directly under a site
# root, a whole site; deeper deletions not), their series at 0 before the
# first deletion, a site's trash_max, the sweeper's last pass, the
# configured thresholds and the write time; `promtool check metrics`
# accepts the textfile; every gracefs_ series the rules name is in it.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gctl_lib.sh"
gfs_require python3
command -v promtool >/dev/null || skip_all "promtool missing (Debian: prometheus; scripts/deps.sh)"
RULES=$(cd "$(dirname "$0")/../../scripts/prometheus" && pwd)/gracefs.rules.yml

PROM=$(dirname "$BACKING")/gracefs.prom
gfs_site s1 s2 s3 capped
mkdir -p "$BACKING/s1/top/sub" "$BACKING/s2/a/b" "$BACKING/s3/x" "$BACKING/s3/y" "$BACKING/capped/c"
for d in s1/top/sub s2/a/b s3/x s3/y capped/c; do echo data >"$BACKING/$d/f"; done
gfs_mount "metrics=$PROM" sweep_interval=2s clock_jump=90s op_gap=1s
check "cap the trash of 'capped' at 5M" gctl site set site:capped trash_max=5M --execute

# value NAME [SITE] — one sample of the file, or "absent"
value() {
	python3 - "$PROM" "$@" <<'PY'
import re, sys
path, name = sys.argv[1], sys.argv[2]
site = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else None
for line in open(path):
    m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{site="((?:[^"\\]|\\.)*)"\})? (-?[0-9.e+]+)\n', line)
    if m and m.group(1) == name and m.group(3) == site:
        print(m.group(4)); break
else:
    print("absent")
PY
}
wait_metric() {   # DESC NAME SITE EXPECTED
	wait_until 15 eval '[ "$(value "'"$2"'" "'"$3"'")" == "'"$4"'" ]'
	check_eq "$1" "$4" "$(value "$2" "$3")"
}

check "metrics file written at mount" wait_until 10 test -s "$PROM"
for s in s1 s2 s3 capped; do
	check_eq "site $s: whole-site counter at 0 before any deletion" 0 \
		"$(value gracefs_site_deletions_total $s)"
	check_eq "site $s: site-level tree counter at 0" 0 \
		"$(value gracefs_site_tree_deletions_total $s)"
done
check_eq "sweep_interval exported" 2 "$(value gracefs_sweeper_interval_seconds)"
check_eq "clock_jump exported" 90 "$(value gracefs_clock_jump_seconds)"
now=$(date +%s)
w=$(value gracefs_metrics_written_timestamp_seconds)
check "write time is now (within 60 s): $w vs $now" test "$((now - w))" -lt 60 -a "$((w - now))" -lt 5
wait_until 15 eval '[ "$(value gracefs_sweeper_last_pass_timestamp_seconds)" != absent ]'
p=$(value gracefs_sweeper_last_pass_timestamp_seconds)
check "the sweeper's last pass is recent: $p vs $now" test "$((now - p))" -lt 60
sleep_until=$((p + 3))
wait_until 20 eval '[ "$(value gracefs_sweeper_last_pass_timestamp_seconds)" -ge '"$sleep_until"' ]'
check "... and moves on with each pass (sweep_interval=2s)" \
	test "$(value gracefs_sweeper_last_pass_timestamp_seconds)" -ge "$sleep_until"

diag "$(date +%T) deleting"
rm -rf "$MNT/s1/top"
wait_metric "rm -rf SITE/DIR counts one site-level tree" gracefs_site_tree_deletions_total s1 1
rm -rf "$MNT/s2/a/b"
rm -f "$MNT/capped/c/f"
wait_metric "deletions count as ops meanwhile" gracefs_ops_created_total "" 3
check_eq "a deeper tree (SITE/a/b) is not site-level" 0 "$(value gracefs_site_tree_deletions_total s2)"
check_eq "... nor a file in a site's directory" 0 "$(value gracefs_site_tree_deletions_total capped)"
rm -rf "$MNT/s3"
wait_metric "rm -rf SITE counts the whole site" gracefs_site_deletions_total s3 1
check_eq "... after its two top-level directories" 2 "$(value gracefs_site_tree_deletions_total s3)"
check_eq "s1 was not deleted whole" 0 "$(value gracefs_site_deletions_total s1)"

wait_metric "a capped site with trash exports its trash_max" gracefs_trash_max_bytes capped 5242880
check_eq "an uncapped site has no trash_max series" absent "$(value gracefs_trash_max_bytes s1)"

diag "$(date +%T) promtool"
out=$(promtool check metrics <"$PROM" 2>&1)
ok_if "promtool check metrics accepts the textfile" $?
[ -z "$out" ] || diag "$out"
check_eq "... without a single lint complaint" "" "$out"

missing=$(python3 - "$RULES" "$PROM" <<'PY'
import re, sys
rules = open(sys.argv[1]).read()
have = {l.split("{")[0].split()[0] for l in open(sys.argv[2]) if l[0] != "#"}
named = set(re.findall(r'\bgracefs_[a-z_]+\b', rules)) - {"gracefs_backing_free_bytes",
    "gracefs_space_floor_bytes"}   # only once space is measured (checked below)
print(" ".join(sorted(named - have)))
PY
)
check_eq "every series the rules read is in the textfile" "" "$missing"
wait_until 20 eval '[ "$(value gracefs_backing_free_bytes)" != absent ]'
check_match "... and the space gauges once measured" "^[0-9]+ [0-9]+$" \
	"$(value gracefs_backing_free_bytes) $(value gracefs_space_floor_bytes)" 
check "clean unmount" gfs_umount
done_testing
