#!/bin/bash
#
# gracectl.sh — issue 4 end to end: a bad maintenance script deletes
# content in 50 sites and three whole sites; gracectl lists it, refuses
# IDs of the wrong kind and unknown IDs with nothing changed, shows a dry
# run that changes nothing, and `undo --since T --execute TOKEN` brings
# every site back byte for byte, with the audit log showing the delete and
# the restore of each site.  Then: a conflict restored next to the taken
# name, stale and foreign tokens refused, protected paths (EPERM, a
# 'denied' row), hold/release of sites and ops, and an audited purge.
#
# Results are checked through the mount, in the backing store (manifests
# of both) and through gracectl's own listings (--json, parsed by python3).

. "$(dirname "$0")/lib.sh"
: "${GRACECTL:=$GFS_REPO/build/fs/gracectl}"
gfs_require python3 sha256sum
[ -x "$GRACECTL" ] || skip_all "gracectl binary not found at $GRACECTL"

NSITES=50
WHOLE="s48 s49 s50"     # sites the script removes whole
CONFLICT=s7             # a deleted file recreated before the undo

gctl() { "$GRACECTL" -b "$BACKING" "$@"; }

# ---------------------------------------------------------------------------
# Helpers in python: build a site's tree, and manifests.

cat >"$GFS_TMP/tree.py" <<'EOF'
# tree.py MNT SITE... — a small tree per site: distinct contents, nested
# directories, a symlink, modes, owners, a user xattr, fixed mtimes.
import os, random, sys
mnt = sys.argv[1]
for site in sys.argv[2:]:
    rnd = random.Random(site)
    root = os.path.join(mnt, site)
    def put(rel, data, mode=0o644, owner=None, when=None):
        p = os.path.join(root, rel)
        with open(p, "wb") as f:
            f.write(data)
        os.chmod(p, mode)
        if owner:
            os.chown(p, *owner)
        os.utime(p, ns=(when or 1600000000_123456789, when or 1600000000_123456789))
    for d in ("conf", "data/2024/jan", "data/2024/feb", "data/bin", "data/private",
              "data/empty", "logs", "media/img"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    os.chmod(os.path.join(root, "data/private"), 0o700)
    os.chown(os.path.join(root, "data/private"), 1234, 2345)
    os.chmod(os.path.join(root, "data/empty"), 0o750)
    put("index.html", b"<h1>%s home</h1>\n" % site.encode(), when=1700000001_000000001)
    os.setxattr(os.path.join(root, "index.html"), "user.site", site.encode())
    put("conf/app.ini", b"[app]\nname=%s\n" % site.encode(), 0o640, (1000, 1000))
    put("data/2024/jan/a.txt", b"jan %s\n" % site.encode())
    put("data/2024/feb/b.txt", b"feb %s %d\n" % (site.encode(), rnd.randrange(10**9)))
    put("data/2024/feb/blob.bin", rnd.randbytes(rnd.randrange(4000, 20000)))
    put("data/bin/run.sh", b"#!/bin/sh\necho %s\n" % site.encode(), 0o755)
    put("data/private/secret.txt", rnd.randbytes(64), 0o600, (1234, 2345))
    os.symlink("2024/feb/b.txt", os.path.join(root, "data/latest"))
    os.utime(os.path.join(root, "data/latest"), ns=(1650000000_5, 1650000000_5),
             follow_symlinks=False)
    put("logs/old.log", b"old log of %s\n" % site.encode() * 50, 0o600)
    put("logs/new.log", b"new log of %s\n" % site.encode())
    put("media/img/logo.svg", b"<svg>%s</svg>\n" % site.encode())
EOF

cat >"$GFS_TMP/manifest.py" <<'EOF'
# manifest.py DIR tree|state — one sorted line per entry below DIR.
#  tree:  the live trees (.trash and .gracefs left out): type, mode, owner;
#         files: size, mtime (ns), sha256, user.* xattrs; symlinks: target,
#         mtime.  Directories without times (their entries changed).
#  state: everything in a backing store — trash included, every xattr,
#         every mtime — except the daemon's databases, lock, socket and
#         trusted clock (saved each sweeper pass; .gracefs's mtime with it).
import hashlib, os, stat, sys
top, mode = sys.argv[1], sys.argv[2]
skip_state = {".gracefs/catalog.db", ".gracefs/catalog.db-wal", ".gracefs/catalog.db-shm",
              ".gracefs/index", ".gracefs/lock", ".gracefs/ctl.sock",
              ".gracefs/clock", ".gracefs/clock.tmp"}
out = []
def xattrs(p, only_user):
    try:
        names = os.listxattr(p, follow_symlinks=False)
    except OSError:
        return ""
    v = []
    for n in sorted(names):
        if only_user and not n.startswith("user."):
            continue
        val = os.getxattr(p, n, follow_symlinks=False)
        v.append("%s=%s" % (n, hashlib.sha256(val).hexdigest()[:16]))
    return " ".join(v)
def walk(rel):
    p = os.path.join(top, rel) if rel else top
    for n in sorted(os.listdir(p)):
        r = os.path.join(rel, n) if rel else n
        if mode == "tree" and n in (".trash", ".gracefs"):
            continue
        if mode == "state" and r in skip_state:
            continue
        q = os.path.join(top, r)
        st = os.lstat(q)
        line = "%r %o %d:%d" % (r, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
        if stat.S_ISDIR(st.st_mode):
            line += " dir"
            if mode == "state" and r != ".gracefs":
                line += " %d" % st.st_mtime_ns
        elif stat.S_ISLNK(st.st_mode):
            line += " lnk -> %r %d" % (os.readlink(q), st.st_mtime_ns)
        elif stat.S_ISREG(st.st_mode):
            with open(q, "rb") as f:
                h = hashlib.sha256(f.read()).hexdigest()
            line += " reg %d %d %s" % (st.st_size, st.st_mtime_ns, h)
        else:
            line += " other %o" % stat.S_IFMT(st.st_mode)
        line += " " + xattrs(q, mode == "tree")
        out.append(line.rstrip())
        if stat.S_ISDIR(st.st_mode):
            walk(r)
walk("")
print("\n".join(out))
EOF

manifest() { python3 "$GFS_TMP/manifest.py" "$1" "$2"; }

# snapshot — everything gracectl could change: the backing store (trash
# and xattrs included), the op index, the site catalog and the audit log.
snapshot() {
	manifest "$BACKING" state
	echo "== ls"; gctl --json ls
	echo "== site ls"; gctl --json site ls
	echo "== log"; gctl --json log
}

# refused DESC ERE ARGS... — gracectl ARGS exits 2 with one line on stderr
# matching ERE, and prints nothing on stdout.
refused() {
	local desc=$1 re=$2 out err rc
	shift 2
	out=$(gctl "$@" 2>"$GFS_TMP/err")
	rc=$?
	err=$(<"$GFS_TMP/err")
	if [ "$rc" -eq 2 ] && [ -z "$out" ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] &&
	   [[ $err =~ ^gracectl:\ error:\ .*($re) ]]; then
		pass "$desc: exit 2, one line"
	else
		fail "$desc: exit 2, one line" "command: gracectl $(_q "$@")" "exit status: $rc" \
			"stdout: $out" "stderr: $err" "expected stderr to match: $re"
	fi
}

# ops_closed N — the index lists N ops, none still collecting deletions.
ops_closed() {
	[ "$(gctl --json ls | pyj 'len(d) if all(o["state"] == "closed" for o in d) else -1')" == "$1" ]
}

# ---------------------------------------------------------------------------
# 50 sites, made through the mount

# brake=off: this script's one run deletes in 50 sites on purpose; with
# the mass-deletion brake on, every op would be held (brake.sh tests that)
# and a bulk undo would leave them all out.
gfs_mount op_gap=1s,brake=off
sites=()
for ((i = 1; i <= NSITES; i++)); do sites+=("s$i"); done
for s in "${sites[@]}"; do mkdir "$MNT/$s" || bail_out "mkdir $MNT/$s"; done
python3 "$GFS_TMP/tree.py" "$MNT" "${sites[@]}" || bail_out "cannot build the site trees"

before=$(manifest "$MNT" tree)
check_eq "the 50 sites hold $((NSITES * 23)) entries" $((NSITES * 23)) \
	"$(printf '%s\n' "$before" | wc -l)"
check_same_text "the trees: mount and backing store agree" "$before" "$(manifest "$BACKING" tree)"
check_eq "the site catalog lists the 50 sites, active" \
	"$(printf '%s\n' "${sites[@]}" | sort | paste -sd' ')" \
	"$(gctl --json site ls | pyj '" ".join(sorted(r["site"] for r in d if r["state"] == "active"))')"
check_eq "no ops in trash yet" "[]" "$(gctl --json ls)"

# ---------------------------------------------------------------------------
# The bad maintenance script: one bash process; every site loses its data
# directory and two files, three sites go whole.

T=$(date -u +%Y-%m-%dT%H:%M:%SZ)
cat >"$GFS_TMP/cleanup.sh" <<'EOF'
# cleanup.sh MNT "WHOLE SITES" SITE...
mnt=$1 whole=$2
shift 2
for s in "$@"; do
	rm -rf "$mnt/$s/data" || exit 1
	rm "$mnt/$s/logs/old.log" "$mnt/$s/index.html" || exit 1
done
cd "$mnt" && rm -rf $whole
EOF
check "the script deletes content in 50 sites and 3 whole sites" \
	bash "$GFS_TMP/cleanup.sh" "$MNT" "$WHOLE" "${sites[@]}"
check_eq "data/, logs/old.log and index.html are gone from every site left" "" \
	"$(cd "$MNT" && ls -d s*/data s*/logs/old.log s*/index.html 2>/dev/null)"
# shellcheck disable=SC2010  # the listing itself (readdir) is what is checked
check_eq "the three sites are gone from the mount root" "" \
	"$(ls "$MNT" | grep -x -e s48 -e s49 -e s50)"
# shellcheck disable=SC2010
check_eq "and from the backing store" "" "$(ls "$BACKING" | grep -x -e s48 -e s49 -e s50)"

# 47 sites x 2 ops (rm -rf data; rm of the files), and one root op (one
# rm -rf of the three sites); the ops of those sites (2 each) went into
# the trash with them, out of the index.
NOPS=$(( (NSITES - 3) * 2 + 1 ))
NNESTED=6
check "the ops close after op_gap (1 s): $NOPS ops listed" wait_until 15 ops_closed "$NOPS"
ls_json=$(gctl --json ls)
# the root op is filed under the sites it holds (issue 19), not "/"
ROOT_SITES="s$((NSITES - 2)),s$((NSITES - 1)),s$NSITES"
check_eq "ls --json: ops per site" \
	"$(for ((i = 1; i <= NSITES - 3; i++)); do echo "s$i"; echo "s$i"; done; echo "$ROOT_SITES")" \
	"$(pyj '"\n".join(sorted((o["site"] for o in d), key=lambda s: (s != "/", len(s), s)))' <<<"$ls_json")"
check_eq "ls --json: every op by uid 0, through rm, not held, with items and bytes" "$NOPS" \
	"$(pyj 'sum(1 for o in d if o["uid"] == 0 and o["command"].startswith("rm ") and not o["hold"] and o["items"] > 0 and o["bytes"] > 0)' <<<"$ls_json")"
check_eq "ls --json: op IDs are typed op:SITE/NAME" "$NOPS" \
	"$(pyj 'sum(1 for o in d if o["op"] == "op:%s/%s" % ("" if "," in o["site"] else o["site"], o["op"].split("/")[-1]))' <<<"$ls_json")"
check_eq "ls --json: the root ops are the rm -rf of the three sites" "rm -rf s48 s49 s50" \
	"$(pyj '" ".join(sorted(set(o["command"] for o in d if o["op"].startswith("op:/"))))' <<<"$ls_json")"
check_match "ls (plain) is a table with a header" '^OP +SITE +DELETED +EXPIRES' "$(gctl ls | head -1)"
check_eq "ls s1 lists the two ops of s1" 2 "$(gctl --json ls s1 | pyj 'len(d)')"
n_events() { gctl --json log --event "$1" ${2:+--site "$2"} | pyj 'len(d)'; }
check "every op's delete is in the audit log" wait_until 10 eval \
	'[ "$(n_events delete)" -eq $((NOPS + NNESTED)) ]'

op_s1=$(pyj '[o["op"] for o in d if o["site"] == "s1" and "data" in o["command"]][0]' <<<"$ls_json")
op_s2=$(pyj '[o["op"] for o in d if o["site"] == "s2" and "data" in o["command"]][0]' <<<"$ls_json")
check_match "an op ID of s1" '^op:s1/[0-9]{8}T[0-9]{6}Z-rm-[0-9]+$' "$op_s1"
check_eq "show op:ID --json: the op and its restore plan" '["s1", [["move", "data"]]]' \
	"$(gctl --json show "$op_s1" | pyj '[d["op"]["site"], [(s["action"], s["to"]) for s in d["restore_plan"]]]')"

# ---------------------------------------------------------------------------
# IDs of the wrong kind and unknown IDs: refused, nothing changed

snap0=$(snapshot)
bogus_op=op:s1/20000101T000000Z-rm-1
refused "show site:" 'site ID' show site:s1
refused "purge site: (dry run)" 'site ID' purge site:s1 --reason test
refused "purge site: --execute" 'site ID' purge site:s1 --reason test --execute
refused "undo site: --execute" 'site ID' undo site:s1 --execute
refused "site set op:" 'op ID' site set "$op_s1" hold=on
refused "site protect op:" 'op ID' site protect "$op_s1" data
refused "site add op:" 'op ID' site add "$op_s1"
refused "show of an unknown op" 'unknown op' show "$bogus_op"
refused "purge of an unknown op" 'unknown op' purge "$bogus_op" --reason test --execute
refused "undo of a known and an unknown op" 'unknown op' undo "$op_s1" "$bogus_op" --execute
refused "undo of a known op and a site" 'site ID' undo "$op_s1" site:s1 --execute
refused "hold of a known op and an unknown site" 'unknown site' hold "$op_s2" site:nosuch
refused "release of a known site and an unknown op" 'unknown op' release site:s2 "$bogus_op"
refused "hold of an untyped ID" 'untyped' hold s2
refused "site set of an unknown site" 'unknown site' site set site:nosuch hold=on
refused "site protect of an unknown site" 'unknown site' site protect site:nosuch data
refused "undo --site of a deleted kind" 'op ID' undo --since "$T" --site "$op_s1"
check_same_text "nothing changed: backing store, index, catalog, audit log" "$snap0" "$(snapshot)"
check_eq "the known op given with the unknown one is still in trash" 1 \
	"$(gctl --json ls s1 | pyj "sum(1 for o in d if o['op'] == '$op_s1')")"

# ---------------------------------------------------------------------------
# A conflict: one deleted path recreated before the undo

printf 'recreated\n' >"$MNT/$CONFLICT/index.html"
conflict_op=$(gctl --json ls "$CONFLICT" | pyj '[o["op"] for o in d if "index.html" in o["command"]][0]')
conflict_name=index.html.restored-${conflict_op##*/}

# ---------------------------------------------------------------------------
# The dry run changes nothing and prints a token

snap1=$(snapshot)
dry=$(gctl undo --since "$T")
check_eq "undo --since T (dry run) succeeds" 0 "$?"
diag "$(head -3 <<<"$dry")" "..." "$(tail -6 <<<"$dry")"
token1=$(sed -n 's/^plan token: \([0-9a-f]\{12\}\)$/\1/p' <<<"$dry")
check_match "the dry run prints a plan token" '^[0-9a-f]{12}$' "$token1"
check_match "the dry run says what it would do" \
	"would restore $((NOPS + NNESTED)) operation\\(s\\) in 50 site\\(s\\)" "$dry"
check_match "the dry run reports the conflict" "index.html +$conflict_name" "$dry"
dryj=$(gctl --json undo --since "$T")
check_eq "dry run --json: same token" "$token1" "$(pyj 'd["token"]' <<<"$dryj")"
check_eq "dry run --json: ops, sites, renamed, parents to recreate" "[$((NOPS + NNESTED)), 50, 1, 0]" \
	"$(pyj '[d["ops"], d["sites"], d["renamed"], d["mkdirs"]]' <<<"$dryj")"
check_eq "dry run --json: the conflict" "[\"$conflict_op\", \"rename\", \"index.html\", \"$conflict_name\"]" \
	"$(pyj '[[c["op"], c["action"], c["from"], c["to"]] for c in d["conflict_list"]][0]' <<<"$dryj")"
check_eq "dry run --json: the ops inside the deleted sites are planned too" \
	'["s48", "s48", "s49", "s49", "s50", "s50"]' \
	"$(pyj 'sorted(p["site"] for p in d["plan"] if not p["op"].startswith("op:/") and p["site"] in ("s48", "s49", "s50"))' <<<"$dryj")"
check_same_text "the dry run changed nothing" "$snap1" "$(snapshot)"

# ---------------------------------------------------------------------------
# Tokens: none, foreign, stale

refused "a bulk --execute without a token" 'TOKEN' undo --since "$T" --execute
out=$(gctl undo --since "$T" --execute 0123456789ab 2>&1)
check_eq "a foreign token is refused (exit 1)" "1" "$?"
check_match "and says the plan changed" 'plan changed since the dry run' "$out"
check_same_text "nothing changed" "$snap1" "$(snapshot)"

# one more deletion after the review: the reviewed plan is stale
check "a late deletion" rm "$MNT/s5/conf/app.ini"
check "it closes" wait_until 10 ops_closed $((NOPS + 1))
check "and is audited" wait_until 10 eval '[ "$(n_events delete s5)" -eq 3 ]'
snap2=$(snapshot)
out=$(gctl undo --since "$T" --execute "$token1" 2>&1)
check_eq "the stale token is refused (exit 1)" 1 "$?"
check_match "because the plan changed" "token $token1 is not its token now" "$out"
check_eq "and it does not reveal the current token" "" \
	"$(grep -oE '[0-9a-f]{12}' <<<"$out" | grep -v "^$token1\$")"
check_same_text "nothing changed" "$snap2" "$(snapshot)"

# ---------------------------------------------------------------------------
# The undo

token2=$(gctl --json undo --since "$T" | pyj 'd["token"]')
check_match "a new dry run, a new token" '^[0-9a-f]{12}$' "$token2"
check "it differs from the stale one" test "$token2" != "$token1"
res=$(gctl --json undo --since "$T" --execute "$token2")
check_eq "undo --since T --execute TOKEN succeeds" 0 "$?"
check_eq "every op restored, nothing failed, no parent recreated" "[$((NOPS + NNESTED + 1)), 0, 0, 1, 0]" \
	"$(pyj '[d["ops"], d["failed_ops"], d["failed"], d["renamed"], d["mkdirs"]]' <<<"$res")"
check_eq "the conflict is reported" "[[\"$conflict_op\", \"renamed\", \"index.html\", \"$conflict_name\"]]" \
	"$(pyj '[[e["op"], e["event"], e["from"], e["to"]] for e in d["events"]]' <<<"$res")"

after=$(manifest "$MNT" tree)
strip_conflict() { grep -v -e "^'$CONFLICT/index.html" -e "^'$CONFLICT/$conflict_name'"; }
check_same_text "every site is back byte for byte (the whole sites too)" \
	"$(strip_conflict <<<"$before")" "$(strip_conflict <<<"$after")"
check_eq "the conflicting item is next to the taken name, intact" \
	"$(grep "^'$CONFLICT/index.html'" <<<"$before" | sed "s|index.html|$conflict_name|")" \
	"$(grep "^'$CONFLICT/$conflict_name'" <<<"$after")"
check_eq "the recreated file was not overwritten" recreated "$(cat "$MNT/$CONFLICT/index.html")"
check_same_text "the backing store agrees with the mount" "$after" "$(manifest "$BACKING" tree)"
check "the trash empties: no op left in the index" wait_until 10 ops_closed 0
check_eq "no op directory left in any trash" "" \
	"$(cd "$BACKING" && for s in .gracefs/trash */.trash; do ls -A "$s"; done 2>/dev/null)"

# ---------------------------------------------------------------------------
# The audit log: a delete and a restore for each site

check "the undo is audited: one row per op" wait_until 10 eval \
	'[ "$(n_events undo)" -eq $((NOPS + NNESTED + 1)) ]'
log_json=$(gctl --json log)
check_eq "every site has a delete row and a restore/undo row" "[]" "$(pyj '
[s for s in ["s%d" % i for i in range(1, 51)]
 if not any(r["site"] == s and r["event"] in ("delete", "site-trash") for r in d)
 or not any(r["site"] == s and r["event"] in ("undo", "restore") for r in d)]' <<<"$log_json")"
check_eq "delete rows: uid, pid and command line of the deleter" "[]" "$(pyj '
[r["seq"] for r in d if r["event"] == "delete" and not (r["uid"] == 0 and r["pid"] and r["command"].startswith("rm ") and "items=" in r["detail"])]' <<<"$log_json")"
check_eq "undo rows: by gracectl, with the token run" "[]" "$(pyj '
[r["seq"] for r in d if r["event"] == "undo" and not ("gracectl" in r["command"] and "'"$token2"'" in r["command"] and "failed=0" in r["detail"])]' <<<"$log_json")"
check_eq "each whole site: site-trash, then restore of the whole site" "[]" "$(pyj '
[s for s in ("s48", "s49", "s50")
 if not any(r["site"] == s and r["event"] == "site-trash" for r in d)
 or not any(r["site"] == s and r["event"] == "restore" and r["detail"] == "whole site" for r in d)]' <<<"$log_json")"
check_eq "the conflict's restore row names where it went" "to=$conflict_name (original name taken)" \
	"$(pyj '[r["detail"] for r in d if r["event"] == "restore" and r["site"] == "'"$CONFLICT"'"][0]' <<<"$log_json")"
check_eq "the site catalog: all 50 sites active again" 50 \
	"$(gctl --json site ls | pyj 'sum(1 for r in d if r["state"] == "active")')"

# ---------------------------------------------------------------------------
# Protected paths

mkdir -p "$MNT/s1/keep/sub"
printf 'precious\n' >"$MNT/s1/keep/sub/file"
check "site protect site:s1 keep" gctl site protect site:s1 keep
check_eq "site ls shows it (a list)" '["/keep"]' "$(gctl --json site ls | pyj '[r["protected"] for r in d if r["site"] == "s1"][0]')"
snap3=$(manifest "$BACKING/s1" state)
out=$(rm -rf "$MNT/s1/keep" 2>&1)
check_eq "rm -rf MNT/s1/keep fails" 1 "$?"
check_match "with EPERM" 'Operation not permitted' "$out"
check_errno "unlink of a file below it: EPERM" EPERM et unlink "$MNT/s1/keep/sub/file"
check_errno "rmdir of it: EPERM" EPERM et rmdir "$MNT/s1/keep"
check_errno "rename of it: EPERM" EPERM et rename "$MNT/s1/keep" "$MNT/s1/kept"
check_errno "rename of another file over a file in it: EPERM" EPERM \
	et rename "$MNT/s1/conf/app.ini" "$MNT/s1/keep/sub/file"
check_same_text "nothing moved (site s1 and its trash)" "$snap3" "$(manifest "$BACKING/s1" state)"
check "'denied' rows are in the log" wait_until 10 eval '[ "$(n_events denied s1)" -ge 5 ]'
check_match "it names the path and the process" 'keep.*rm -rf' \
	"$(gctl --json log --event denied --site s1 | pyj '" ".join(r["path"] + " " + r["command"] for r in d)')"
check "site unprotect site:s1 keep" gctl site unprotect site:s1 keep
check "then rm -rf MNT/s1/keep works" rm -rf "$MNT/s1/keep"
check_absent "keep is gone" "$MNT/s1/keep"
check "and in trash once its op closes" wait_until 10 ops_closed 1
keep_op=$(gctl --json ls s1 | pyj 'd[0]["op"]')
check "the trash has keep/sub/file" test -f "$BACKING/s1/.trash/${keep_op##*/}/keep/sub/file"

# ---------------------------------------------------------------------------
# Hold and release: site: and op:

check "hold site:s2" gctl hold site:s2
check_eq "site s2 held" true "$(gctl --json site ls | pyj '[r["hold"] for r in d if r["site"] == "s2"][0]')"
check "release site:s2" gctl release site:s2
check_eq "site s2 released" false "$(gctl --json site ls | pyj '[r["hold"] for r in d if r["site"] == "s2"][0]')"
check "hold $keep_op" gctl hold "$keep_op"
check_eq "the op is held" true "$(gctl --json ls s1 | pyj 'd[0]["hold"]')"
tokH=$(gctl purge "$keep_op" --reason test | sed -n 's/^plan token: //p')
out=$(gctl purge "$keep_op" --reason test --execute "$tokH" 2>&1)
check_eq "a held op cannot be purged (exit 1)" 1 "$?"
check_match "and the refusal says why" 'legal hold' "$out"
check "it is still in trash" test -d "$BACKING/s1/.trash/${keep_op##*/}"
check "release $keep_op" gctl release "$keep_op"
check_eq "the op is released" false "$(gctl --json ls s1 | pyj 'd[0]["hold"]')"
# "site:op" of each row of EVENT ("-" for no op)
hold_rows() { gctl --json log --event "$1" | pyj '" ".join(r["site"] + ":" + (r["op"] or "-") for r in d)'; }
check_eq "hold rows: site s2, then the op" "s2:- s1:${keep_op##*/}" "$(hold_rows hold)"
check_eq "release rows: site s2, then the op" "s2:- s1:${keep_op##*/}" "$(hold_rows release)"

# ---------------------------------------------------------------------------
# Purge: dry run, then --execute; gone from the backing store and the index

snap4=$(snapshot)
out=$(gctl purge "$keep_op" --reason "erasure request 42")
check_eq "purge dry run succeeds" 0 "$?"
check_match "it says what it would delete" 'would permanently delete .*keep|would permanently delete' "$out"
check_match "and prints a token" 'plan token: [0-9a-f]{12}' "$out"
check_same_text "the dry run changed nothing" "$snap4" "$(snapshot)"
tok4=$(sed -n 's/^plan token: //p' <<<"$out")
refused "purge with a bare --execute (no token)" 'TOKEN' \
	purge "$keep_op" --reason "erasure request 42" --execute
out=$(gctl purge "$keep_op" --reason "erasure request 42" --execute 0123456789ab 2>&1)
check_eq "purge with a wrong token is refused (exit 1)" 1 "$?"
check_match "saying the plan changed" 'plan changed since the dry run' "$out"
check_not "without revealing the token" grep -q "$tok4" <<<"$out"
check_same_text "the refusals changed nothing" "$snap4" "$(snapshot)"
check "purge --execute TOKEN" gctl purge "$keep_op" --reason "erasure request 42" --execute "$tok4"
check_absent "the op is gone from the backing store" "$BACKING/s1/.trash/${keep_op##*/}"
check_absent "and from the mount" "$MNT/s1/.trash/${keep_op##*/}"
check_eq "and from the index" "[]" "$(gctl --json ls s1)"
check "the purge is audited" wait_until 10 eval '[ "$(n_events purge s1)" -eq 1 ]'
check_match "with its reason, the op and what it held" "^${keep_op##*/} items=[1-9][0-9]* bytes=[0-9]+ .*reason=erasure request 42\$" \
	"$(gctl --json log --event purge | pyj 'd[0]["op"] + " " + d[0]["detail"]')"
check_eq "the rest of s1 is untouched" "$(grep "^'s1/" <<<"$before")" \
	"$(manifest "$MNT" tree | grep "^'s1/")"

check "clean unmount" gfs_umount
done_testing
