#!/bin/bash
#
# runs_created.sh — `undo run:ID --created`: a script run rolled back
# whole, what it created included (issue 23).
#
#  1. A script started with `setsid` writes "encrypted copies" next to the
#     originals in 3 sites (and a new directory with a file in one),
#     rewrites a config file with `sed -i` (a new file renamed over the
#     old), then rm's the originals.  Meanwhile another job (its own process group)
#     creates a file in one of those sites and in the script's new
#     directory, and appends to one of the script's copies.
#  2. The dry run lists what the script created: its untouched copies to
#     move, the appended one "changed", the directory "kept" (it holds the
#     other job's file); none of the other job's files; the token covers
#     them.  --execute restores the originals, moves exactly the untouched
#     copies into a new op of gracectl's own, leaves the other job's files
#     and the changed copy, and reports them (--json too).  That new op is
#     itself undone with `undo op:`.
#  3. kill -9 of the daemon while a second run's 400 created files move
#     into trash: after the remount every file is live or in the new op
#     (nothing lost), the op is in the index, and the next undo --created
#     moves the rest and reports the moved ones gone.
#
# Every wait is a bounded poll.

. "$(dirname "$0")/lib.sh"
gfs_require getfattr setsid python3
. "$(dirname "$0")/gctl_lib.sh"

xa() { getfattr --only-values --absolute-names -n "user.gracefs.$2" -- "$1" 2>/dev/null; }
op_of() { local d; for d in "$MNT/$1/.trash/"*/; do [ -e "$d$2" ] && { basename "$d"; return; }; done; }

for s in s1 s2 s3 s4; do
	gfs_site "$s"
	mkdir -p "$BACKING/$s/data"
	echo "orig1 $s" >"$BACKING/$s/data/orig1"
	echo "orig2 $s" >"$BACKING/$s/data/orig2"
done
echo "listen 80" >"$BACKING/s1/data/conf"
gfs_mount op_gap=1s

cat >"$GFS_TMP/encrypt.sh" <<SH
#!/bin/sh
for s in s1 s2 s3; do
	for f in "$MNT/\$s/data/orig1" "$MNT/\$s/data/orig2"; do tr a-z n-za-m <"\$f" >"\$f.enc"; done
done
mkdir "$MNT/s3/newdir" && echo "pay up" >"$MNT/s3/newdir/readme.txt"
sed -i s/80/6666/ "$MNT/s1/data/conf"
: >"$GFS_TMP/phase1"
while [ ! -e "$GFS_TMP/go" ]; do sleep 0.1; done
for s in s1 s2 s3; do rm "$MNT/\$s/data/orig1" "$MNT/\$s/data/orig2"; done
SH
chmod +x "$GFS_TMP/encrypt.sh"
setsid "$GFS_TMP/encrypt.sh" 3>&- </dev/null &
SCRIPT=$!
GFS_BG_PIDS+=("$SCRIPT")
check "the script wrote its copies" wait_until 20 test -e "$GFS_TMP/phase1"
# the other job, its own process group
setsid sh -c "echo mine >'$MNT/s2/data/other.txt'; echo theirs >'$MNT/s3/newdir/theirs.txt';
	echo appended >>'$MNT/s1/data/orig1.enc'" 3>&- </dev/null
: >"$GFS_TMP/go"
wait_until 30 eval '! _pid_alive "$SCRIPT"'
wait "$SCRIPT"
check_eq "the script finished" 0 "$?"
RUN=$(xa "$MNT/s1/.trash/$(op_of s1 data/orig1)" run)
check_match "the script's deletions carry its run" "^run:.*-encrypt\.sh-$SCRIPT\$" "$RUN"
wait_until 20 all_closed

check_match "status counts what runs created, none unrecorded" "noted=[1-9][0-9]* unrecorded=0 " \
	"$(gctl status)"

# ---- the dry run ----
dry=$(gctl --json undo "$RUN" --created)
verdicts() { pyj '" ".join(sorted("%s/%s:%s" % (i["site"], i["path"], i["verdict"]) for i in d["created"]["list"]))'; }
check_eq "the dry run lists what the script created, with what would happen to each" \
	"s1/data/conf:move s1/data/orig1.enc:changed s1/data/orig2.enc:move s2/data/orig1.enc:move s2/data/orig2.enc:move s3/data/orig1.enc:move s3/data/orig2.enc:move s3/newdir/readme.txt:move s3/newdir:kept" \
	"$(verdicts <<<"$dry")"
check_eq "the dry run counts them: 7 move, 1 changed, 1 kept" "7 1 1 0" \
	"$(pyj '"%d %d %d %d" % (d["created"]["move"], d["created"]["changed"], d["created"]["kept"], d["created"]["gone"])' <<<"$dry")"
check_eq "the dry run restores the script's 4 ops (3 rm, 1 sed)" 4 "$(pyj 'd["ops"]' <<<"$dry")"
TOK=$(pyj 'd["token"]' <<<"$dry")
check_match "the plan's text names the changed copy and why" \
	"s1 +data/orig1.enc +file +changed +changed by a process of another run" \
	"$(gctl undo "$RUN" --created)"
check_eq "without --created the token differs (it covers the created items)" 1 \
	"$([ "$(gctl --json undo "$RUN" | pyj 'd["token"]')" != "$TOK" ] && echo 1)"
check "nothing moved in a dry run" test -e "$MNT/s2/data/orig1.enc"
out=$(gctl undo "$RUN" --created --site s1 2>&1)
check_match "--created with other filters is refused" "--created goes with run:ID alone" "$out"

# ---- --execute ----
exe=$(gctl --json undo "$RUN" --created --execute "$TOK")
check_eq "--execute: 7 created items moved, 1 changed and 1 kept left, 4 ops restored" \
	"7 1 1 4" "$(pyj '"%d %d %d %d" % (d["created"]["moved"], d["created"]["changed"], d["created"]["kept"], d["ops"])' <<<"$exe")"
back=0
for s in s1 s2 s3; do
	[ "$(cat "$MNT/$s/data/orig1")" == "orig1 $s" ] && [ "$(cat "$MNT/$s/data/orig2")" == "orig2 $s" ] &&
		back=$((back + 1))
done
check_eq "the originals are back in the 3 sites" 3 "$back"
check_eq "the config sed -i rewrote is back as it was (its replacement in trash)" "listen 80" \
	"$(cat "$MNT/s1/data/conf")"
gone=0
for f in s1/data/orig2.enc s2/data/orig1.enc s2/data/orig2.enc s3/data/orig1.enc s3/data/orig2.enc \
	s3/newdir/readme.txt; do
	[ ! -e "$MNT/$f" ] && [ ! -e "$BACKING/$f" ] && gone=$((gone + 1))
done
check_eq "the script's 6 untouched creations left the live tree" 6 "$gone"
check_eq "the copy another job changed stays" "$(printf 'bevt1 f1\nappended')" "$(cat "$MNT/s1/data/orig1.enc")"
check_eq "the other job's file in the shared site stays" mine "$(cat "$MNT/s2/data/other.txt")"
check_eq "the other job's file in the script's directory stays, with it" theirs \
	"$(cat "$MNT/s3/newdir/theirs.txt")"
NEWOP=$(op_of s2 data/orig1.enc)
check_match "the copies went into a new op of gracectl's own" "^[0-9]{8}T[0-9]{6}Z-gracectl-[0-9]+\$" "$NEWOP"
check_eq "the new op holds the copy as the script wrote it" "bevt1 f2" \
	"$(cat "$MNT/s2/.trash/$NEWOP/data/orig1.enc")"
check_eq "--execute --json names the op each moved item went to, with its type" \
	"op:s2/$NEWOP file" "$(pyj '" ".join("%s %s" % (i["op"], i["type"]) for i in d["created"]["list"] if i["path"] == "data/orig1.enc" and i["site"] == "s2")' <<<"$exe")"
check_eq "the new op is not the run's" 1 "$([ "$(xa "$MNT/s2/.trash/$NEWOP" run)" != "$RUN" ] && echo 1)"
again=$(gctl --json undo "$RUN" --created 2>&1)
check_eq "a second dry run: the run's ops are restored, nothing left to move" \
	"0 0" "$(pyj '"%d %d" % (d.get("ops", 0), d["created"]["move"])' <<<"$again" 2>/dev/null || echo "$again")"

# the new op is itself restorable
wait_until 20 all_closed
udry=$(gctl --json undo "op:s2/$NEWOP")
check "undo op: of the new op" gctl undo "op:s2/$NEWOP" --execute "$(pyj 'd["token"]' <<<"$udry")"
check_eq "the copies it held are back" "bevt1 f2 bevt2 f2" \
	"$(cat "$MNT/s2/data/orig1.enc") $(cat "$MNT/s2/data/orig2.enc")"

# ---- kill -9 while created items move ----
N=3000
cat >"$GFS_TMP/mass.sh" <<SH
#!/bin/sh
mkdir "$MNT/s4/junk" && cd "$MNT/s4/junk" && seq 1 $N | xargs touch
rm "$MNT/s4/data/orig1"
SH
chmod +x "$GFS_TMP/mass.sh"
setsid "$GFS_TMP/mass.sh" 3>&- </dev/null
RUN2=$(xa "$MNT/s4/.trash/$(op_of s4 data/orig1)" run)
wait_until 20 all_closed
dry2=$(gctl --json undo "$RUN2" --created)
check_eq "the second run's $N files and their directory would move" "$((N + 1))" \
	"$(pyj 'd["created"]["move"]' <<<"$dry2")"
gctl undo "$RUN2" --created --execute "$(pyj 'd["token"]' <<<"$dry2")" >/dev/null 2>&1 &
UNDO=$!
# poll without forking: the kill should land while the files move
newop() { compgen -G "$BACKING/s4/.trash/*-gracectl-*" >/dev/null; }
for ((i = 0; i < 2000; i++)); do newop && break; nap 0.01; done
check "kill -9 of the daemon while the created files move" gfs_kill9
wait "$UNDO"
OP2=$(ls "$BACKING/s4/.trash" | grep -- -gracectl-)
moved=$(find "$BACKING/s4/.trash/$OP2" -type f 2>/dev/null | wc -l)
live=$(find "$BACKING/s4/junk" -type f 2>/dev/null | wc -l)
diag "at the kill: $moved of $N files moved, $live live"
check_eq "nothing lost: each file is live or in the new op" "$N" "$((moved + live))"
gfs_mount op_gap=1s
check_match "the new op is in the index after the remount (reconciled)" "$OP2" \
	"$(gctl --json ls s4 | pyj '" ".join(o["op"] for o in d)')"
dirlive=0
[ -d "$BACKING/s4/junk" ] && dirlive=1
# a moved item's record goes after the move: at most the one in flight
# at the kill is reported gone.  (If the kill came after everything was
# done, there is nothing left to plan.)
dry3=$(gctl --json undo "$RUN2" --created 2>/dev/null)
check_eq "the next plan moves what is still live (and the directory), at most 1 gone" \
	"$((live + dirlive)) 1" \
	"$( { [ -n "$dry3" ] && pyj '"%d %d" % (d["created"]["move"], d["created"]["gone"] <= 1)' <<<"$dry3"; } || echo "0 1")"
[ -n "$dry3" ] && gctl undo "$RUN2" --created --execute "$(pyj 'd["token"]' <<<"$dry3")" >/dev/null 2>&1
intrash=$(find "$BACKING/s4/.trash" -path '*junk/*' -type f | wc -l)
check_eq "after it, all $N files are in trash and none live" "$N 0" \
	"$intrash $(find "$BACKING/s4/junk" -type f 2>/dev/null | wc -l)"
check_eq "the original came back" "orig1 s4" "$(cat "$MNT/s4/data/orig1")"

done_testing
