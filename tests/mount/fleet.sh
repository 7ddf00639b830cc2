#!/bin/bash
#
# fleet.sh — issue 14 end to end: three gracefs mounts on this machine are
# three storage "nodes" of an Ansible inventory (ansible_connection=local,
# per-host gracefs_backing and gracectl_bin).  One bad `rm -rf` run per node
# deletes content in 12 sites and 3 whole sites (15 sites).  Then, through
# scripts/ansible/gracefs-undo.yml:
#   - the dry run changes nothing on any node and writes a plan file whose
#     per-node token, ops and items are what gracectl says on that node;
#   - after one more deletion on node2, the execute restores node1 and node3
#     byte for byte (a name the tenant took again comes back next to it)
#     and refuses node2, leaving it exactly as it was;
#   - a new dry run finds nothing left on node1 and node3 and node2's ops;
#     executed, node1 and node3 report nothing to do and do not change,
#     and node2 comes back byte for byte;
#   - deletions outside the selection (before since, another command) stay
#     in trash.
# And through scripts/ansible/gracefs-hold.yml: a time window of ops held
# and released on every node by typed ID, a live site, a site deleted
# whole (its op is held), a site no node has (refused).  A bad request
# fails with a one-line message and changes nothing.
#
# Runs fully offline: local connections, /usr/bin/python3, no facts, an
# empty ansible configuration and its own ANSIBLE_HOME.

. "$(dirname "$0")/lib.sh"
: "${GRACECTL:=$GFS_REPO/build/fs/gracectl}"
command -v ansible-playbook >/dev/null ||
	skip_all "ansible-playbook is not installed (Debian: ansible-core)"
gfs_require python3 sha256sum unlink
[ -x "$GRACECTL" ] || skip_all "gracectl binary not found at $GRACECTL"

PLAYS=$GFS_REPO/scripts/ansible
CTL=$GFS_TMP/ctl                 # where ansible-playbook runs (plan files)
NODES=(node1 node2 node3)
declare -A NODE_PID NODE_SITES WHOLE
NODE_SITES[node1]="site01 site02 site03 site04 site05"
NODE_SITES[node2]="site06 site07 site08 site09 site10"
NODE_SITES[node3]="site11 site12 site13 site14 site15"
WHOLE[node1]=site05 WHOLE[node2]=site10 WHOLE[node3]=site15

# ---------------------------------------------------------------------------
# Three nodes.  lib.sh handles one mount (BACKING, MNT, GFS_PID); node_use
# points those at one node, so gfs_mount/gfs_umount serve all three.

node_use() {
	BACKING=$GFS_TMP/$1/backing
	MNT=$GFS_TMP/$1/mnt
	GFS_PID=${NODE_PID[$1]}
}
node_mount() {
	node_use "$1"
	mkdir -p "$BACKING" "$MNT"
	gfs_mount op_gap=1s
	NODE_PID[$1]=$GFS_PID
}
_fleet_cleanup() {
	local rc=$? n
	for n in "${NODES[@]}"; do
		node_use "$n"
		[ -n "$GFS_PID" ] && gfs_umount
		NODE_PID[$n]=
	done
	node_use node1
	(exit "$rc")
	_gfs_cleanup
}
trap _fleet_cleanup EXIT

gctl() { local n=$1; shift; "$GRACECTL" -b "$GFS_TMP/$n/backing" "$@"; }

# node_manifest NODE [mnt|backing] — every site of NODE, one sorted line
# per entry (each site's .trash left out): path, mode, owner, and size,
# mtime (ns) and sha256 of files, targets of symlinks.  One python3 per
# call: tree_manifest's forks per entry are slow on a loaded machine.
cat >"$GFS_TMP/manifest.py" <<'EOF'
import hashlib, os, stat, sys
root, sites = sys.argv[1], sys.argv[2:]
out = []
for site in sites:
    top = os.path.join(root, site)
    if not os.path.isdir(top):
        continue
    for d, dirs, files in os.walk(top):
        if d == top and '.trash' in dirs:
            dirs.remove('.trash')
        for name in dirs + files:
            p = os.path.join(d, name)
            st = os.lstat(p)
            line = '%s %o %d:%d' % (os.path.relpath(p, root), stat.S_IMODE(st.st_mode),
                                    st.st_uid, st.st_gid)
            if stat.S_ISDIR(st.st_mode):
                line += ' dir'
            elif stat.S_ISLNK(st.st_mode):
                line += ' lnk -> ' + os.readlink(p)
            else:
                with open(p, 'rb') as f:
                    h = hashlib.sha256(f.read()).hexdigest()
                line += ' reg %d %d %s' % (st.st_size, st.st_mtime_ns, h)
            out.append(repr(line)[1:-1])
print('\n'.join(sorted(out)))
EOF
node_manifest() {
	python3 "$GFS_TMP/manifest.py" "$GFS_TMP/$1/${2:-mnt}" ${NODE_SITES[$1]}
}

# trash_state NODE — the ops in NODE's trash: op, items, bytes, hold, state.
trash_state() {
	gctl "$1" --json ls |
		pyj '"\n".join(sorted("%s %s %s %s %s" % (o["op"], o["items"], o["bytes"], o["hold"], o["state"]) for o in d))'
}

# node_state NODE — what must not change when nothing is to change.
node_state() { node_manifest "$1"; echo ---; trash_state "$1"; }

# settled NODE — every op of NODE is closed (its counts final).
settled() {
	gctl "$1" --json ls | pyj 'all(o["state"] == "closed" for o in d) or sys.exit(1)' >/dev/null
}

# ops_are NODE OPS — NODE's trash holds exactly OPS (sorted, one a line).
ops_are() {
	[ "$(gctl "$1" --json ls | pyj '"\n".join(sorted(o["op"] for o in d))')" == "$2" ]
}

# wait_for SECONDS CMD... — poll CMD until it succeeds, at most SECONDS of
# wall time (wait_until counts polls, and each of these costs a gracectl).
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -ge "$end" ] && return 1
		nap 0.2
	done
	return 0
}

# after_second EPOCH — wait until the wall clock is past EPOCH's second.
after_second() { wait_until 5 eval '[ "$(date +%s)" -gt '"$1"' ]'; }

# ---------------------------------------------------------------------------
# Ansible: an inventory of the three nodes, run offline in $CTL.

mkdir -p "$CTL" "$GFS_TMP/ansible-home"
: >"$GFS_TMP/ansible.cfg"
{
	echo "[storage]"
	for n in "${NODES[@]}"; do
		echo "$n gracefs_backing=$GFS_TMP/$n/backing"
	done
	echo "[storage:vars]"
	echo "ansible_connection=local"
	echo "ansible_python_interpreter=/usr/bin/python3"
	echo "gracectl_bin=$GRACECTL"
} >"$GFS_TMP/inventory"

export ANSIBLE_CONFIG=$GFS_TMP/ansible.cfg ANSIBLE_HOME=$GFS_TMP/ansible-home \
	ANSIBLE_LOCAL_TEMP=$GFS_TMP/ansible-home/tmp ANSIBLE_REMOTE_TEMP=$GFS_TMP/ansible-home/tmp \
	ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_DISPLAY_SKIPPED_HOSTS=0 \
	ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 ANSIBLE_LOCALHOST_WARNING=0 ANSIBLE_PIPELINING=1

# play LOG PLAYBOOK ARGS... — ansible-playbook in $CTL, output in
# $GFS_TMP/LOG.log (its summary echoed to the test log); its exit status.
# Ansible insists on a UTF-8 locale (lib.sh sets C).
play() {
	local log=$GFS_TMP/$1.log pb=$2 rc
	shift 2
	(cd "$CTL" && LC_ALL=C.UTF-8 timeout 600 ansible-playbook -i "$GFS_TMP/inventory" "$PLAYS/$pb" "$@") \
		>"$log" 2>&1
	rc=$?
	echo "### $(date +%T) ansible-playbook $pb $* -> $rc"
	sed -n '/Fleet summary/,/^$/p;/fatal:/p' "$log"
	return $rc
}

# summary LOG — the fleet summary lines a play printed.
summary() {
	sed -n 's/^ *"\(\(node[0-9]\|fleet\|plan\):.*\)",\?$/\1/p' "$GFS_TMP/$1.log"
}

# ---------------------------------------------------------------------------
# Fifteen sites on three nodes, each with a small tree.

cat >"$GFS_TMP/tree.py" <<'EOF'
# tree.py MNT SITE... — each site from one table: distinct contents, nested
# directories, a symlink, modes, owners, mtimes.
import os, random, sys
mnt = sys.argv[1]
for site in sys.argv[2:]:
    rnd, s = random.Random(site), site.encode()
    # path, mode, owner (None: root), content (None: a directory)
    table = [
        ("conf", 0o755, None, None),
        ("conf/app.ini", 0o640, (1000, 1000), b"[app]\nname=%s\n" % s),
        ("keep.txt", 0o644, None, b"%s keeps this\n" % s),
        ("htdocs", 0o755, None, None),
        ("htdocs/index.php", 0o644, None, b"<?php echo '%s';\n" % s),
        ("htdocs/img", 0o755, None, None),
        ("htdocs/img/logo.bin", 0o644, None, rnd.randbytes(rnd.randrange(3000, 30000))),
        ("htdocs/cache", 0o750, None, None),
        ("htdocs/private", 0o700, (1234, 2345), None),
        ("htdocs/private/key", 0o600, (1234, 2345), rnd.randbytes(64)),
    ]
    for rel, mode, owner, data in table:
        path = os.path.join(mnt, site, rel)
        if data is None:
            os.mkdir(path)
        else:
            with open(path, "wb") as f:
                f.write(data)
            t = 1700000000_000000000 + rnd.randrange(10**15)
            os.utime(path, ns=(t, t))
        os.chmod(path, mode)
        if owner:
            os.chown(path, *owner)
    os.symlink("index.php", os.path.join(mnt, site, "htdocs/latest"))
EOF

for n in "${NODES[@]}"; do
	node_mount "$n"
	for s in ${NODE_SITES[$n]}; do
		mkdir "$MNT/$s" || bail_out "cannot create site $s on $n"
	done
	python3 "$GFS_TMP/tree.py" "$MNT" ${NODE_SITES[$n]} || bail_out "cannot build the sites of $n"
done
pass "three nodes mounted, 15 sites built"

# Deletions the undo must leave alone: one before since (node1), one in
# the window by another command (node3, `unlink`).
rm "$GFS_TMP/node1/mnt/site01/keep.txt"
before=$(date +%s)
after_second "$before" || bail_out "the clock does not move"
SINCE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
unlink "$GFS_TMP/node3/mnt/site11/conf/app.ini"
for n in "${NODES[@]}"; do
	wait_for 30 settled "$n" || bail_out "ops of $n did not close within 30 s"
done
OLD_OP=$(gctl node1 --json ls | pyj 'd[0]["op"]')
UNLINK_OP=$(gctl node3 --json ls | pyj 'd[0]["op"]')
check_match "the early deletion is an rm op in site01" '^op:site01/.*-rm-[0-9]+$' "$OLD_OP"
check_match "the deletion by another command is an unlink op in site11" \
	'^op:site11/.*-unlink-[0-9]+$' "$UNLINK_OP"

declare -A EXPECTED DELETED
for n in "${NODES[@]}"; do
	EXPECTED[$n]=$(node_manifest "$n")
done
SITE02_HTDOCS=$(grep '^site02/htdocs' <<<"${EXPECTED[node1]}")

# The bad run: on every node one rm removes htdocs of four sites and a
# fifth site whole.  Then the tenant of site02 makes a new htdocs.
for n in "${NODES[@]}"; do
	args=()
	for s in ${NODE_SITES[$n]}; do
		if [ "$s" == "${WHOLE[$n]}" ]; then
			args+=("$GFS_TMP/$n/mnt/$s")
		else
			args+=("$GFS_TMP/$n/mnt/$s/htdocs")
		fi
	done
	check "the bad run on $n" rm -rf "${args[@]}"
done
mkdir "$GFS_TMP/node1/mnt/site02/htdocs" && echo "tenant's new page" >"$GFS_TMP/node1/mnt/site02/htdocs/new.html"
for n in "${NODES[@]}"; do
	wait_for 30 settled "$n" || bail_out "ops of $n did not close within 30 s"
	DELETED[$n]=$(node_state "$n")
done
check_not "the bad run removed content" [ "$(node_manifest node2)" == "${EXPECTED[node2]}" ]

# ---------------------------------------------------------------------------
# Dry run: nothing changes, the plan is gracectl's, per node.

play dry gracefs-undo.yml -e since="$SINCE" -e command=rm
check_eq "dry run: exit status 0" 0 $?
for n in "${NODES[@]}"; do
	check_same_text "dry run changed nothing on $n" "${DELETED[$n]}" "$(node_state "$n")"
done
PLAN=$CTL/gracefs-plan.json
check "dry run wrote gracefs-plan.json in the working directory" test -s "$PLAN"
check_eq "the plan has the three nodes" '["node1", "node2", "node3"]' \
	"$(pyj 'sorted(d)' <"$PLAN")"
for n in "${NODES[@]}"; do
	direct=$(gctl "$n" --json undo --since "$SINCE" --command rm)
	check_eq "plan of $n: token, ops, items as gracectl's own dry run" \
		"$(pyj '[d["token"], d["ops"], d["items"]]' <<<"$direct")" \
		"$(pyj '[d["'"$n"'"][k] for k in ("token", "ops", "items")]' <"$PLAN")"
	check_eq "plan of $n: 5 ops (4 sites, 1 whole site), args as given" \
		"5 [\"--since\", \"$SINCE\", \"--command\", \"rm\"]" \
		"$(pyj 'str(d["'"$n"'"]["ops"]) + " " + json.dumps(d["'"$n"'"]["args"])' <"$PLAN")"
done
check_eq "plan of node1: the taken name is listed" 1 "$(pyj 'd["node1"]["conflicts"]' <"$PLAN")"
check_match "dry run summary: the fleet totals" \
	'fleet: 3 node\(s\), 15 op\(s\), 15 site\(s\), [0-9]+ item\(s\), [0-9]+ byte\(s\), 1 conflict\(s\), 0 node\(s\) failed' \
	"$(summary dry)"
items=$(pyj 'sum(d[n]["items"] for n in d)' <"$PLAN")
check_match "dry run summary: items add up" "15 site\(s\), $items item\(s\)" "$(summary dry)"

# ---------------------------------------------------------------------------
# node2 changes after the review: one more rm in the window.

tok2=$(pyj 'd["node2"]["token"]' <"$PLAN")
rm "$GFS_TMP/node2/mnt/site07/keep.txt"
wait_for 30 settled node2 || bail_out "ops of node2 did not close within 30 s"
check_not "node2's plan changed" [ "$(gctl node2 --json undo --since "$SINCE" --command rm | pyj 'd["token"]')" == "$tok2" ]
NODE2_CHANGED=$(node_state node2)

# ---------------------------------------------------------------------------
# Execute: node1 and node3 restored, node2 refused and untouched.

play exec gracefs-undo.yml -e plan=gracefs-plan.json
rc=$?
check_not "execute: exit status non-zero while node2 is not done" [ "$rc" -eq 0 ]
check_match "execute: node1 restored" 'node1: RESTORED 5 op\(s\) in site01, site02, site03, site04, site05' "$(summary exec)"
check_match "execute: node3 restored" 'node3: RESTORED 5 op\(s\) in site11, site12, site13, site14, site15' "$(summary exec)"
check_match "execute: node2 refused" 'node2: REFUSED plan changed since the dry run' "$(summary exec)"
check_match "execute: fleet line" 'fleet: 3 node\(s\): 2 restored .* 1 refused' "$(summary exec)"
check_same_text "node2 left exactly as it was" "$NODE2_CHANGED" "$(node_state node2)"

op02=$(pyj '[o for o in d["node1"]["op_ids"] if o.startswith("op:site02/")][0]' <"$PLAN")
want1=$( { grep -v '^site02/htdocs' <<<"${EXPECTED[node1]}"
	   sed "s|^site02/htdocs|site02/htdocs.restored-${op02#op:site02/}|" <<<"$SITE02_HTDOCS"
	   grep '^site02/htdocs' <<<"${DELETED[node1]}"; } | sort)
check_same_text "node1 byte for byte (site02's htdocs next to the tenant's new one)" \
	"$want1" "$(node_manifest node1)"
check_same_text "node3 byte for byte" "${EXPECTED[node3]}" "$(node_manifest node3)"
for n in node1 node3; do
	check_same_text "$n: the backing store says the same" "$(node_manifest "$n")" \
		"$(node_manifest "$n" backing)"
done
check "node1: only the deletion before since is left in trash" wait_for 30 ops_are node1 "$OLD_OP"
check "node3: only the unlink deletion is left in trash" wait_for 30 ops_are node3 "$UNLINK_OP"

# A new dry run of the whole fleet: node1 and node3 have nothing left to
# undo, node2 its six ops; executed, node2 comes back and the others
# report nothing to do (an execute run again is safe).
S1=$(node_state node1) S3=$(node_state node3)
play dry2 gracefs-undo.yml -e since="$SINCE" -e command=rm -e plan_out=plan2.json
check_eq "second dry run: exit status 0" 0 $?
check_eq "second dry run: nothing on node1 and node3, node2's 6 ops" '[null, 6, null]' \
	"$(pyj '[d["node1"]["token"], d["node2"]["ops"], d["node3"]["token"]]' <"$CTL/plan2.json")"
play exec2 gracefs-undo.yml -e plan=plan2.json
check_eq "second execute: exit status 0" 0 $?
check_match "second execute: node1 and node3 have nothing to do, node2 restored" \
	'node1: nothing to do.*node2: RESTORED 6 op\(s\).*node3: nothing to do' "$(echo $(summary exec2))"
check_same_text "second execute: node1 unchanged" "$S1" "$(node_state node1)"
check_same_text "second execute: node3 unchanged" "$S3" "$(node_state node3)"
check_same_text "node2 byte for byte" "${EXPECTED[node2]}" "$(node_manifest node2)"
check_same_text "node2: the backing store says the same" "$(node_manifest node2)" \
	"$(node_manifest node2 backing)"
check "node2: trash empty" wait_for 30 ops_are node2 ""

# ---------------------------------------------------------------------------
# A bad request: one-line error, non-zero exit, nothing changed anywhere
# (the other checks of the request: tests/unit/test_fleet_filters.py).

declare -A S
for n in "${NODES[@]}"; do S[$n]=$(node_state "$n"); done
play bad1 gracefs-undo.yml -e since=yesterday
rc=$?
check_not "undo since=yesterday refused" [ "$rc" -eq 0 ]
check "  with a clear message" grep -q "bad since 'yesterday'" "$GFS_TMP/bad1.log"
for n in "${NODES[@]}"; do
	check_same_text "a bad request changed nothing on $n" "${S[$n]}" "$(node_state "$n")"
done

# ---------------------------------------------------------------------------
# Freeze: a window of ops, a live site, a site deleted whole.

before=$(date +%s)
after_second "$before" || bail_out "the clock does not move"
T1=$(date -u +%Y-%m-%dT%H:%M:%SZ)
rm "$GFS_TMP/node1/mnt/site03/keep.txt" "$GFS_TMP/node2/mnt/site09/keep.txt"
rm -rf "$GFS_TMP/node3/mnt/site15"
for n in "${NODES[@]}"; do
	wait_for 30 settled "$n" || bail_out "ops of $n did not close within 30 s"
done
# held_ops NODE — the typed IDs of NODE's held ops, sorted, on one line.
held_ops() { gctl "$1" --json ls | pyj '" ".join(sorted(o["op"] for o in d if o["hold"]))'; }
# window_ops NODE — the IDs of NODE's ops deleted at or after T1.
window_ops() { gctl "$1" --json ls | pyj '" ".join(sorted(o["op"] for o in d if o["deleted"] >= "'"$T1"'"))'; }

play hold1 gracefs-hold.yml -e since="$T1"
check_eq "hold window: exit status 0" 0 $?
for n in "${NODES[@]}"; do
	w=$(window_ops "$n")
	check_match "hold window: $n has one new op" '^op:[^ ]+$' "$w"
	check_eq "hold window: on $n exactly the ops of the window are held" "$w" "$(held_ops "$n")"
done
check_match "hold window: summary" 'fleet: 3 node\(s\): held 3 ID\(s\) on 3 node\(s\)' "$(summary hold1)"
play rel1 gracefs-hold.yml -e since="$T1" -e action=release
check_eq "release window: exit status 0" 0 $?
for n in "${NODES[@]}"; do
	check_eq "release window: nothing held on $n" "" "$(held_ops "$n")"
done

site_hold() { gctl "$1" --json site ls | pyj '[s["hold"] for s in d if s["site"] == "'"$2"'"]'; }
play hold3 gracefs-hold.yml -e site=site08
check_eq "hold site08: exit status 0" 0 $?
check_eq "hold site08: held on node2" "[true]" "$(site_hold node2 site08)"
check_match "hold site08: the other nodes do not have it" \
	'node1: site site08 is not on this node.*node3: site site08 is not on this node' "$(echo $(summary hold3))"

# Issue 19, item 10: a window hold holds an op by its own flag even where
# its site's hold already freezes it (it used to be skipped as "already
# held", and the site's release then unfroze it), and the summary counts
# what really changed.
before=$(date +%s)
after_second "$before" || bail_out "the clock does not move"
T2=$(date -u +%Y-%m-%dT%H:%M:%SZ)
rm "$GFS_TMP/node2/mnt/site08/conf/app.ini"
wait_for 30 settled node2 || bail_out "ops of node2 did not close within 30 s"
own_held() { gctl "$1" --json ls | pyj '" ".join(sorted(o["op"] for o in d if o["own_hold"]))'; }
new08=$(gctl node2 --json ls site08 | pyj '" ".join(o["op"] for o in d if o["deleted"] >= "'"$T2"'")')
check_match "site08 (held) has one new op" '^op:site08/[^ ]+$' "$new08"
play hold6 gracefs-hold.yml -e since="$T2"
check_eq "hold window in a held site: exit status 0" 0 $?
check_eq "hold window in a held site: the op is held by its own flag" "$new08" "$(own_held node2)"
check_match "hold window in a held site: summary counts it" 'held 1 ID\(s\) on 1 node\(s\)' "$(summary hold6)"
play rel6 gracefs-hold.yml -e site=site08 -e action=release
check_eq "release site08: exit status 0" 0 $?
check_eq "release site08: the window's op stays held" "$new08" "$(held_ops node2)"
play rel7 gracefs-hold.yml -e since="$T2" -e action=release
check_match "release window: 1 ID released" 'released 1 ID\(s\) on 1 node\(s\)' "$(summary rel7)"
check_eq "release window: nothing held on node2" "" "$(held_ops node2)"
play rel8 gracefs-hold.yml -e since="$T2" -e action=release
check_match "release again: nothing released, reported as such" 'released 0 ID\(s\) on 0 node\(s\)' \
	"$(summary rel8)"

root15=$(gctl node3 --json ls | pyj '" ".join(o["op"] for o in d if o["op"].startswith("op:/"))')
check_match "site15 deleted whole: one root op on node3" '^op:/[^ ]+$' "$root15"
play hold4 gracefs-hold.yml -e site=site15
check_eq "hold site15 (deleted whole): exit status 0" 0 $?
check_eq "hold site15: the op holding it is held" "$root15" "$(held_ops node3)"
play hold5 gracefs-hold.yml -e site=nosuch
rc=$?
check_not "hold a site no node has: non-zero exit" [ "$rc" -eq 0 ]
check "  with a clear message" grep -q "site nosuch is on none of the nodes" "$GFS_TMP/hold5.log"

for n in "${NODES[@]}"; do
	node_use "$n"
	check "$n unmounts cleanly" gfs_umount
	NODE_PID[$n]=
done
done_testing
