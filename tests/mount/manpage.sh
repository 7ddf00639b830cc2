#!/bin/bash
#
# manpage.sh — docs/man/gracefs.8 and gracectl.8 render without warnings,
# and gracefs.8 and the README list exactly the options `gracefs --help`
# prints.  Needs no mount (the binary only prints its help).

. "$(dirname "$0")/lib.sh"

[ -x "$GRACEFS" ] || skip_all "gracefs binary not found at $GRACEFS"
MAN8=$GFS_REPO/docs/man
README=$GFS_REPO/README.md

# Rendering: groff in its strictest warning mode.
for page in gracefs.8 gracectl.8; do
	if command -v groff >/dev/null; then
		out=$(groff -man -Tutf8 -ww -z "$MAN8/$page" 2>&1)
		check_eq "$page renders without groff warnings" "" "$out"
	else
		skip "$page renders without groff warnings" "groff is not installed"
	fi
done

# -o NAME options (and short options) as each source spells them.
help=$("$GRACEFS" --help 2>&1)
help_o=$(grep -E -- '^ +-' <<<"$help" | grep -oE -- '-o [a-z_]+' | sort -u)
help_short=$(grep -oE -- '^ +-[a-zA-Z]( |$)' <<<"$help" | tr -d ' ' | sort -u)
check_match "--help lists gracefs options" '-o retention' "$help_o"

if command -v groff >/dev/null; then
	man_text=$(groff -man -Tascii -P-cbou "$MAN8/gracefs.8" 2>/dev/null)
	man_o=$(grep -oE -- '-o [a-z_]+' <<<"$man_text" | sort -u)
	check_same_set "gracefs.8 documents exactly the -o options of --help" "$help_o" "$man_o"
	missing=
	for s in $help_short; do
		grep -qE -- "(^| )$s(,| |$)" <<<"$man_text" || missing+=" $s"
	done
	check_eq "gracefs.8 documents the short options of --help" "" "$missing"
else
	skip "gracefs.8 documents the options of --help" "groff is not installed"
fi

# README: the gracefs options of --help (the part before the FUSE ones).
own_o=$(sed -n '/^gracefs options:/,/^$/p' <<<"$help" | grep -oE -- '^ +-o [a-z_]+' |
	sed 's/^ *//' | sort -u)
readme_missing=
while IFS= read -r o; do
	[ -n "$o" ] || continue
	grep -qF -- "\`$o" "$README" || readme_missing+=" [$o]"
done <<<"$own_o"
check_eq "README.md lists every gracefs -o option of --help" "" "$readme_missing"

done_testing
