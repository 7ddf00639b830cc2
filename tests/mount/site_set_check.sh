#!/bin/bash
#
# site_set_check.sh — issue 19, item 6: the dry run of `site set` refuses
# what --execute would (the daemon's retention floor included), and a bad
# setting is a usage error (exit 2): an unknown key, a key given twice.
# Nothing is changed by any of them.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gctl_lib.sh"

gfs_site s1
gfs_mount retention=7d,min_retention=1d

# rc_of CMD… — the exit status, output discarded
rc_of() { "$@" >/dev/null 2>&1; echo $?; }
before=$(gctl --json site ls | pyj '[r["retention"] for r in d if r["site"] == "s1"][0]')

out=$(gctl site set site:s1 retention=12h 2>&1)
check_eq "dry run below the floor: exit 2" 2 "$(rc_of gctl site set site:s1 retention=12h)"
check_match "... says why" "below the floor of 1d" "$out"
check_eq "... and not 'would set'" 0 "$(grep -c 'would set' <<<"$out")"
check_eq "--execute below the floor: exit 2" 2 \
	"$(rc_of gctl site set site:s1 retention=12h --execute)"
check_eq "unknown key: exit 2" 2 "$(rc_of gctl site set site:s1 bogus=1)"
check_match "... names it" "unknown setting 'bogus'" "$(gctl site set site:s1 bogus=1 2>&1)"
check_eq "a key given twice: exit 2" 2 \
	"$(rc_of gctl site set site:s1 retention=2d retention=3d --execute)"
check_match "... says so" "given twice" \
	"$(gctl site set site:s1 retention=2d retention=3d --execute 2>&1)"
check_eq "bad hold value in the dry run: exit 2" 2 \
	"$(rc_of gctl site set site:s1 retention=2d hold=maybe)"
check_eq "none of them changed the retention" "$before" \
	"$(gctl --json site ls | pyj '[r["retention"] for r in d if r["site"] == "s1"][0]')"
check_match "a retention above the floor: the dry run says it would set it" "would set" \
	"$(gctl site set site:s1 retention=2d)"
check "... and --execute sets it" gctl site set site:s1 retention=2d --execute

gfs_umount
done_testing
