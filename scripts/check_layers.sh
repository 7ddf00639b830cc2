#!/usr/bin/env bash
# scripts/check_layers.sh — every #include in fs/ points down or sideways,
# never up.  The layers, lowest first:
#     lib  store  engine  ctl  {daemon, cli}
# A file in fs/L/ may include "M/x.h" only where M is L or below it; daemon
# and cli never include each other; an include must name its layer ("x.h"
# alone is refused: only fs/ is on the include path); only daemon includes
# FUSE headers.  Speaks TAP (one test per file), so the summary counts it.
#
# usage: scripts/check_layers.sh [FS_DIR]   (default: the fs/ beside scripts/)
set -uo pipefail
fs=${1:-$(cd "$(dirname "$0")/../fs" && pwd)}

rank() {   # LAYER -> its height; empty for an unknown layer
	case $1 in
	lib) echo 0 ;; store) echo 1 ;; engine) echo 2 ;; ctl) echo 3 ;;
	daemon|cli) echo 4 ;;
	esac
}

mapfile -t files < <(cd "$fs" && find . -name '*.[ch]' | sed 's|^\./||' | sort)
if [ ${#files[@]} -eq 0 ]; then
	echo "1..0 # SKIP no sources under $fs"
	exit 0
fi
echo "1..${#files[@]}"
n=0 bad=0
for f in "${files[@]}"; do
	n=$((n + 1))
	layer=${f%%/*}
	mine=$(rank "$layer")
	why=
	if [ "$layer" = "$f" ] || [ -z "$mine" ]; then
		why="not in a layer folder (lib, store, engine, ctl, daemon, cli)"
	else
		while IFS= read -r inc; do
			[ -n "$inc" ] || continue
			case $inc in
			*/*) ;;
			*) why="includes \"$inc\" without its layer"; break ;;
			esac
			theirs=$(rank "${inc%%/*}")
			if [ -z "$theirs" ]; then
				why="includes \"$inc\": no such layer"; break
			elif [ "$theirs" -gt "$mine" ]; then
				why="includes \"$inc\" from a layer above $layer"; break
			elif [ "$theirs" -eq "$mine" ] && [ "${inc%%/*}" != "$layer" ]; then
				why="includes \"$inc\": $layer and ${inc%%/*} never include each other"; break
			fi
		done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$fs/$f")
		if [ -z "$why" ] && [ "$layer" != daemon ] &&
			grep -Eq '^[[:space:]]*#[[:space:]]*include[[:space:]]*<fuse' "$fs/$f"; then
			why="includes a FUSE header outside daemon/"
		fi
	fi
	if [ -n "$why" ]; then
		echo "not ok $n - $f: $why"
		bad=$((bad + 1))
	else
		echo "ok $n - $f"
	fi
done
[ "$bad" -eq 0 ]
