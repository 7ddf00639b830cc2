#!/bin/bash
#
# gracectl_cli.sh — issue 11 items 4-8 and issue 14 item 4: gracectl
# behaves like the tools operators know.
#   options after the verb; -b MOUNTPOINT; no -b: the only mount or the
#   only /etc/gracefs/*.conf, else a usage error listing the candidates
#   exit codes: 0 done (also when nothing needed doing), 1 failure,
#   2 usage or unknown ID — and nothing changes on 2
#   JSON with real types; hold/release/site print JSON objects
#   times: RFC 3339 with offsets, local, @EPOCH, relative; --uid NAME
#   one truth for held ops: ls, show, status, site ls, xattr
#   log --json --follow streams rows written while it runs; --after SEQ

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gctl_lib.sh"
gfs_require getfattr

# exit_is DESC CODE CMD... — CMD exits with CODE (stdout and stderr kept)
exit_is() {
	local desc=$1 want=$2 rc
	shift 2
	"$@" >"$GFS_TMP/out" 2>"$GFS_TMP/err"
	rc=$?
	if [ "$rc" -eq "$want" ]; then
		pass "$desc"
	else
		fail "$desc" "command: $(_q "$@")" "exit status: $rc, wanted $want" \
			"stderr: $(cat "$GFS_TMP/err")"
	fi
}

gfs_site s1 s2
gfs_mount op_gap=1s
mkdir -p "$MNT/s1/a" "$MNT/s2/b"
echo x >"$MNT/s1/a/f"
echo y >"$MNT/s2/b/g"
rm -rf "$MNT/s1/a"
check "the op closed" wait_until 60 all_closed

# ---- 4. options after the verb; -b MOUNTPOINT; discovery ---------------
check_eq "ls --json (option after the verb) is JSON" 1 "$(gctl ls --json | pyj 'len(d)')"
check_eq "status --json after the verb" 1 "$("$GRACECTL" status --json -b "$BACKING" | pyj 'd["totals"]["trash_ops"]')"
check_eq "-b MOUNTPOINT finds the backing store" "$BACKING" \
	"$("$GRACECTL" -b "$MNT" status --json | pyj 'd["totals"]["backing"]')"
printf '%s %s fuse.gracefs rw,nosuid 0 0\n' "$BACKING" "$MNT" >"$GFS_TMP/mounts1"
check_eq "no -b, one gracefs mount: it is used" "$BACKING" \
	"$(GRACECTL_MOUNTS=$GFS_TMP/mounts1 "$GRACECTL" status --json | pyj 'd["totals"]["backing"]')"
printf '%s %s fuse.gracefs rw 0 0\n/srv/other\\040b /srv/sites2 fuse.gracefs rw 0 0\n' \
	"$BACKING" "$MNT" >"$GFS_TMP/mounts2"
exit_is "no -b, two mounts: a usage error" 2 env GRACECTL_MOUNTS="$GFS_TMP/mounts2" "$GRACECTL" ls
check_match "that lists both (unescaped)" "-b $BACKING .*-b /srv/other b " "$(tr '\n' ' ' <"$GFS_TMP/err")"
: >"$GFS_TMP/mounts0"
mkdir -p "$GFS_TMP/conf"
printf 'BACKING=%s\nMOUNTPOINT=/x\n' "$BACKING" >"$GFS_TMP/conf/tenants.conf"
check_eq "no mount, one /etc/gracefs/*.conf: its BACKING" "$BACKING" \
	"$(GRACECTL_MOUNTS=$GFS_TMP/mounts0 GRACECTL_CONF_DIR=$GFS_TMP/conf "$GRACECTL" status --json | pyj 'd["totals"]["backing"]')"
printf 'BACKING=/srv/b2\n' >"$GFS_TMP/conf/other.conf"
exit_is "no mount, two configs: a usage error" 2 \
	env GRACECTL_MOUNTS="$GFS_TMP/mounts0" GRACECTL_CONF_DIR="$GFS_TMP/conf" "$GRACECTL" ls
check_match "naming both" "-b /srv/b2 .*other.conf" "$(tr '\n' ' ' <"$GFS_TMP/err")"

# ---- 5. exit codes -------------------------------------------------------
snap=$(gctl --json site ls)
exit_is "ls site:nosuch: 2" 2 gctl ls site:nosuch
check_match "unknown site, with what ls takes" "^gracectl: error: unknown site 'site:nosuch' \\(ls takes one site .*\\)$" "$(cat "$GFS_TMP/err")"
check_eq "... on one line" 1 "$(wc -l <"$GFS_TMP/err")"
exit_is "find --site nosuch: 2" 2 gctl find --site nosuch '*'
exit_is "log --event nosuch: 2" 2 gctl log --event nosuch
exit_is "log --limit 0: 2" 2 gctl log --limit 0
exit_is "log --limit -5: 2" 2 gctl log --limit -5
exit_is "log --limit abc: 2" 2 gctl log --limit abc
exit_is "undo --since garbage: 2" 2 gctl undo --since yesterday-ish
exit_is "an unknown verb: 2" 2 gctl frobnicate
exit_is "hold op:nosuch: 2" 2 gctl hold op:nosuch
check_eq "nothing changed by the refused commands" "$snap" "$(gctl --json site ls)"
exit_is "ls s1: 0" 0 gctl ls s1
exit_is "log --event delete: 0" 0 gctl log --event delete
exit_is "hold site:s2: 0" 0 gctl hold site:s2
exit_is "hold site:s2 again: 0 (nothing to do is done)" 0 gctl hold site:s2
check_match "and says so" "unchanged" "$(cat "$GFS_TMP/out")"
check_eq "one hold row in the audit log, not two" 1 "$(gctl --json log --event hold | pyj 'len(d)')"
exit_is "site protect twice: 0" 0 gctl site protect site:s1 keep
exit_is "site protect again: 0" 0 gctl site protect site:s1 keep
exit_is "site add of an existing site: 0" 0 gctl site add site:s1
exit_is "site add again: 0" 0 gctl site add site:s1
exit_is "purge of a held site's op is a failure: 1" 0 gctl purge "$(gctl --json ls s1 | pyj 'd[0]["op"]')" --reason test
# (the dry run itself succeeds; the execute is refused)

# ---- 6. JSON with real types ---------------------------------------------
ls1=$(gctl --json ls s1)
check_eq "ls: numbers are numbers, hold a boolean" '["int", "int", "int", "bool"]' \
	"$(pyj '[type(d[0][k]).__name__ for k in ("uid", "items", "bytes")] + [type(d[0]["hold"]).__name__]' <<<"$ls1")"
check_eq "site ls: protected is an array, absent values null" '[["/keep"], null]' \
	"$(gctl --json site ls | pyj '[[r["protected"] for r in d if r["site"] == "s1"][0], [r["oldest"] for r in d if r["site"] == "s2"][0]]')"
out=$(gctl --json release site:s2)
check_eq "release --json: one object" '["release", true, "site:s2", true]' \
	"$(pyj '[d["command"], d["ok"], d["results"][0]["id"], d["results"][0]["changed"]]' <<<"$out")"
out=$(gctl --json site set site:s2 kind=blog)
check_eq "site set --json: one object" '["site set", true]' "$(pyj '[d["command"], d["ok"]]' <<<"$out")"
check_eq "log --json: seq a number, time ISO" '["int", true]' \
	"$(gctl --json log --limit 1 | pyj '[type(d[0]["seq"]).__name__, bool(__import__("re").match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", d[0]["time"]))]')"

# ---- 7. times and --uid ----------------------------------------------------
for t in "$(date -u +%Y-%m-%dT%H:%M:%S+00:00 -d '-1 hour')" "$(date +%Y-%m-%d\ %H:%M -d '-1 hour')" \
	 "@$(( $(date +%s) - 3600 ))" -1h 1h "$(date -u +%Y-%m-%dT%H:%M:%S.5Z -d '-1 hour')"; do
	check_eq "undo --since '$t' selects the op" 1 "$(gctl --json undo --since "$t" --site s1 | pyj 'd["ops"]')"
done
t1=$(date -u +%Y-%m-%dT%H:%M:%S -d '-1 hour')
check_eq "an offset is honoured: an hour ago at -02:00 is an hour ahead (nothing matches: 1)" 1 \
	"$(gctl undo --since "$t1-02:00" >/dev/null 2>&1; echo $?)"
check_eq "--uid root (a name) selects root's op" 1 "$(gctl --json undo --since -1h --uid root | pyj 'd["ops"]')"
exit_is "--uid nosuchuser: 2" 2 gctl undo --since -1h --uid nosuchuser-xyz

# ---- 8. one truth for a held op -------------------------------------------
op=$(gctl --json ls s1 | pyj 'd[0]["op"]')
gctl hold "$op" >/dev/null
check_eq "ls: held, expires null" '[true, null]' "$(gctl --json ls s1 | pyj '[d[0]["hold"], d[0]["expires"]]')"
check_match "ls (text): never (held)" 'never \(held\)' "$(gctl ls s1)"
check_eq "show: expires null" null "$(gctl --json show "$op" | pyj 'd["op"]["expires"]')"
check_eq "site ls: s1 next_expiry null (all held)" null "$(gctl --json site ls | pyj '[r["next_expiry"] for r in d if r["site"] == "s1"][0]')"
opdir=$MNT/s1/.trash/${op##*/}
check_eq "xattr: hold is 1" 1 "$(getfattr --only-values -n user.gracefs.hold "$opdir")"
gctl release "$op" >/dev/null
check_match "released: expires is a time again" '^[0-9]{4}-' "$(gctl --json ls s1 | pyj 'd[0]["expires"]')"

# ---- issue 14.4: log --json --follow --------------------------------------
last=$(gctl --json log | pyj 'd[-1]["seq"]')
gfs_bg "$GRACECTL" -b "$BACKING" log --json --follow --after "$last" >"$GFS_TMP/follow" 2>&1
fpid=$GFS_BG_PID
gctl hold site:s1 >/dev/null
gctl release site:s1 >/dev/null
check "follow: two rows written while it runs arrive" \
	wait_until 30 eval '[ "$(wc -l <"$GFS_TMP/follow")" -ge 2 ]'
check_eq "follow: one JSON object per line, in order, after --after" \
	"[[\"hold\", \"s1\"], [\"release\", \"s1\"]]" \
	"$(python3 -c 'import json,sys; print(json.dumps([[r["event"], r["site"]] for r in map(json.loads, open(sys.argv[1]))]))' "$GFS_TMP/follow")"
check_eq "follow: seqs continue from --after" "$((last + 1))" "$(head -1 "$GFS_TMP/follow" | pyj 'd["seq"]')"
kill -TERM "$fpid"
check "follow: ends on SIGTERM" wait_until 10 eval '! _pid_alive "$fpid"'

# ---- 10. bash completion ---------------------------------------------------
. "$GFS_REPO/scripts/completion/gracectl"
comp() {   # comp WORD... — the completions of the last word
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_gracectl
	printf '%s\n' "${COMPREPLY[@]}" | sort | xargs
}
check_eq "completion: verbs" "ls" "$(comp "$GRACECTL" l | tr ' ' '\n' | grep -x ls)"
check_match "completion: site subverbs" "add ls protect set unprotect" "$(comp "$GRACECTL" site "")"
check_eq "completion: site IDs from the store (-b on the line)" "site:s1 site:s2" \
	"$(comp "$GRACECTL" -b "$BACKING" hold site:)"
check_eq "completion: op IDs from the index" "$op" "$(comp "$GRACECTL" -b "$BACKING" show op:)"
check_match "completion: log options" "--after .*--follow" "$(comp "$GRACECTL" log --)"
check_eq "completion: --event names" "delete denied" "$(comp "$GRACECTL" log --event de)"
builddir=$(cd "$(dirname "$GRACECTL")/.." && pwd)   # GRACECTL is BUILD/fs/gracectl
if [ -f "$builddir/meson-info/intro-installed.json" ]; then
	check_match "installed by meson" "share/bash-completion/completions/gracectl" \
		"$(cat "$builddir/meson-info/intro-installed.json")"
else
	skip "installed by meson" "no meson-info in $builddir"
fi

# ---- 11. a plan counts an rm at once; purge shows its progress -----------
# The daemon stores its open ops' records when gracectl reads the index:
# a dry run right after an rm counts it, so its token still names the plan
# when --execute comes (the next tick stores the same counts).  A slow tick
# (3 s) keeps the records unstored by the tick while the dry run reads them.
gfs_umount
gfs_mount op_gap=1s tick_ms=3000
touch "$MNT/s2/n1" "$MNT/s2/n2" "$MNT/s2/n3"
rm "$MNT/s2/n1" "$MNT/s2/n2" "$MNT/s2/n3"
nop=$(gctl --json ls s2 | pyj '[o["op"] for o in d if o["state"] == "open"][0]')
check_eq "right after rm, the open op counts its 3 items" 3 \
	"$(gctl --json show "$nop" | pyj 'd["op"]["items"]')"
ntok=$(gctl --json undo "$nop" | pyj 'd["token"]')
check "undo --execute of the dry run's token, at once" gctl undo "$nop" --execute "$ntok"
check "n1..n3 are back" test -f "$MNT/s2/n1" -a -f "$MNT/s2/n2" -a -f "$MNT/s2/n3"

# a purge of more than one step's worth (1024 entries): progress on stderr,
# only the result on stdout
mkdir "$BACKING/s2/many"
(cd "$BACKING/s2/many" && seq 1 1500 | xargs touch)
check "rm -r of 1500 files" rm -r "$MNT/s2/many"
check "its op closes" wait_until 60 all_closed
pop=$(gctl --json ls s2 | pyj '[o["op"] for o in d if o["items"] > 1500][0]')
ptok=$(gctl --json purge "$pop" --reason "progress test" | pyj 'd["token"]')
exit_is "purge --execute --progress" 0 gctl purge "$pop" --reason "progress test" \
	--execute "$ptok" --progress
check_match "stdout: the result alone" '^purged 150[0-9] [0-9]+$' "$(cat "$GFS_TMP/out")"
check_match "stderr: items done/total, rate, ETA" \
	'^purge: 150[0-9]/150[0-9] items \(100%\), [0-9]+/s, ETA ' "$(tail -n 1 "$GFS_TMP/err")"
check_absent "the op is gone" "$BACKING/s2/.trash/${pop##*/}"

gfs_umount
done_testing
