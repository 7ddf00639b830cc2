# shellcheck shell=bash
#
# gctl_lib.sh — what the gracectl mount tests share.  Source it after
# lib.sh: skips unless python3 and the gracectl binary are there.
#
#   gctl ARGS...      gracectl -b BACKING ARGS...
#   pyj EXPR          EXPR on the JSON document on stdin (as d): strings as
#                     they are, anything else as JSON
#   all_closed        no op is still collecting deletions (mount with a
#                     short op_gap, and wait_until it)
#   tree DIR          "path sha256" of every file below DIR and "path/" of
#                     every directory, sorted: compare trees by content

: "${GRACECTL:=$GFS_REPO/build/fs/gracectl}"
gfs_require python3
[ -x "$GRACECTL" ] || skip_all "gracectl binary not found at $GRACECTL"

gctl() { "$GRACECTL" -b "$BACKING" "$@"; }
pyj() {
	python3 -c 'import json,sys; d=json.load(sys.stdin); r=eval(sys.argv[1]); print(r if isinstance(r,str) else json.dumps(r))' "$1"
}
all_closed() { [ "$(gctl --json ls | pyj 'all(o["state"] == "closed" for o in d)')" == true ]; }
tree() {
	python3 - "$1" <<'PY'
import hashlib, os, sys
root = sys.argv[1]
out = []
for d, dirs, files in os.walk(root):
    rel = os.path.relpath(d, root)
    for n in dirs:
        out.append(os.path.normpath(os.path.join(rel, n)) + "/")
    for n in files:
        with open(os.path.join(d, n), "rb") as f:
            h = hashlib.sha256(f.read()).hexdigest()[:16]
        out.append(os.path.normpath(os.path.join(rel, n)) + " " + h)
print("\n".join(sorted(out)))
PY
}
