#!/bin/bash
#
# audit_archive.sh — issue 19, item 9: the append-only audit log can be
# archived, by a supported command that keeps the guarantee.  gracectl
# audit archive --before T --to FILE is a dry run with a token; --execute
# TOKEN writes the oldest rows to FILE (JSON lines, SHA-256 chain), reads
# it back, and only then are the rows removed, under an "archive" row that
# names their range, count and the file's sha256 and itself stays.  A
# DELETE by hand is still refused; audit verify finds an altered file; the
# next archive links to the last; without a daemon it works the same.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gctl_lib.sh"

gfs_site s1
gfs_mount op_gap=1s
rc_of() { "$@" >/dev/null 2>&1; echo $?; }
nrows() { gctl --json log | pyj 'len([r for r in d if r["event"] != "archive"])'; }
A=$GFS_TMP/audit-1.jsonl

for i in 1 2 3; do echo "$i" >"$MNT/s1/old$i"; rm "$MNT/s1/old$i"; done
check "three delete rows" wait_until 30 eval '[ "$(gctl --json log --event delete | pyj "len(d)")" == 3 ]'
LAST_OLD=$(gctl --json log | pyj 'd[-1]["time"]')
# the rows so far are all before T; the next ones are at T or after
wait_until 5 eval '[ "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \> "$LAST_OLD" ]'
T=$(date -u +%Y-%m-%dT%H:%M:%SZ)
wait_until 5 eval '[ "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \> "$T" ]'
echo new >"$MNT/s1/new"; rm "$MNT/s1/new"
check "a newer row" wait_until 30 eval '[ "$(gctl --json log --event delete | pyj "len(d)")" == 4 ]'
BEFORE=$(nrows)

# ---------------------------------------------------------------------------
# The dry run: what would go, a token, nothing changed.
DRY=$(gctl --json audit archive --before "$T" --to "$A")
check_eq "dry run: the rows before T" 3 "$(pyj 'd["rows"]' <<<"$DRY")"
check_eq "dry run: from the oldest row" 1 "$(pyj 'd["first_seq"]' <<<"$DRY")"
check_eq "dry run: names the file" "$A" "$(pyj 'd["to"]' <<<"$DRY")"
check_eq "dry run: no earlier archive" null "$(pyj 'd["prev_sha256"]' <<<"$DRY")"
TOKEN=$(pyj 'd["token"]' <<<"$DRY")
check_match "dry run (text): says what it would do" "would archive 3 audit row\(s\), seq 1\.\.3 .*plan token: $TOKEN" \
	"$(gctl audit archive --before "$T" --to "$A")"
check_eq "dry run: nothing removed" "$BEFORE" "$(nrows)"
check_not "dry run: no file written" test -e "$A"
check_eq "--execute without the token: rc 2" 2 "$(rc_of gctl audit archive --before "$T" --to "$A" --execute)"
check_eq "--execute with another token: rc 1" 1 "$(rc_of gctl audit archive --before "$T" --to "$A" --execute 0123456789ab)"
touch "$GFS_TMP/taken"
check_eq "--to an existing file: rc 2" 2 "$(rc_of gctl audit archive --before "$T" --to "$GFS_TMP/taken")"
check_eq "audit archive --bogus: rc 2" 2 "$(rc_of gctl audit archive --bogus)"
check_eq "still nothing removed" "$BEFORE" "$(nrows)"

# ---------------------------------------------------------------------------
# The execute: the file first, then the rows leave under an archive row.
check "archive with the token" gctl audit archive --before "$T" --to "$A" --execute "$TOKEN"
check "the file is there" test -s "$A"
check_eq "the file holds the 3 rows (header, rows, end line)" 5 "$(wc -l <"$A")"
check_eq "they left the log; the newer row stays" $((BEFORE - 3)) "$(nrows)"
check_eq "the oldest row left now is the newer one" 4 "$(gctl --json log | pyj 'd[0]["seq"]')"
ROW=$(gctl --json log --event archive | pyj 'd[0]')
SHA=$(sha256sum "$A" | cut -d' ' -f1)
check_eq "the archive row names the file" "$A" "$(pyj 'd["path"]' <<<"$ROW")"
check_match "the archive row: range, count, the file's sha256" "first=1 last=3 rows=3 sha256=$SHA " \
	"$(pyj 'd["detail"]' <<<"$ROW")"
check_match "the archive row: the operator's command" "gracectl .*audit archive" \
	"$(pyj 'd["command"]' <<<"$ROW")"
check_match "audit verify: ok, and recorded by the archive row" \
	"ok: 3 row\(s\), seq 1\.\.3, sha256 $SHA.*recorded by archive row seq" "$(gctl audit verify "$A")"
check_eq "the rows in the file are the log's rows" "1 2 3" \
	"$(python3 -c 'import json,sys; print(" ".join(str(json.loads(l)["seq"]) for l in open(sys.argv[1]) if l.startswith("{\"seq\"")))' "$A")"

# The guarantee still holds for anything but an archive.
if command -v sqlite3 >/dev/null; then
	check_not "a DELETE by hand is refused" sqlite3 "$BACKING/.gracefs/catalog.db" \
		"DELETE FROM audit WHERE seq = 4"
	check_not "the archive row cannot be deleted either" sqlite3 "$BACKING/.gracefs/catalog.db" \
		"DELETE FROM audit WHERE event = 'archive'"
else
	skip "a DELETE by hand is refused" "no sqlite3 command"
	skip "the archive row cannot be deleted either" "no sqlite3 command"
fi

# An altered archive is found out.
sed 's/"rm /"mv /' "$A" >"$GFS_TMP/altered.jsonl"
check_eq "audit verify of an altered copy: rc 1" 1 "$(rc_of gctl audit verify "$GFS_TMP/altered.jsonl")"
check_match "... and it says which line" "BAD: line [0-9]+ \(seq [0-9]+\): altered" \
	"$(gctl audit verify "$GFS_TMP/altered.jsonl")"

# ---------------------------------------------------------------------------
# The next archive, with the daemon stopped: in-process, linked to the last.
gfs_umount
B=$GFS_TMP/audit-2.jsonl
LAST=$(gctl --json log | pyj 'd[-1]["time"]')
wait_until 5 eval '[ "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \> "$LAST" ]'
DRY=$(gctl --json audit archive --before now --to "$B")
check_eq "second archive: links to the first file" "$SHA" "$(pyj 'd["prev_sha256"]' <<<"$DRY")"
check "second archive without a daemon" gctl audit archive --before now --to "$B" \
	--execute "$(pyj 'd["token"]' <<<"$DRY")"
check_eq "only the archive rows are left" 0 "$(nrows)"
check_eq "two archive rows" 2 "$(gctl --json log --event archive | pyj 'len(d)')"
check_match "audit verify of the second file" "ok: .*recorded by archive row" "$(gctl audit verify "$B")"
check_eq "nothing left to archive" 0 "$(gctl --json audit archive --before now --to "$GFS_TMP/x" | pyj 'd["rows"]')"

# A crash after the archive row, before its rows were removed (step 3 of
# 4), made by hand: the next audit archive finishes the removal.
if command -v sqlite3 >/dev/null; then
	gctl site set site:s1 kind=one --execute >/dev/null
	gctl site set site:s1 kind=two --execute >/dev/null
	DB=$BACKING/.gracefs/catalog.db
	F=$(sqlite3 "$DB" "SELECT min(seq) FROM audit WHERE event != 'archive'")
	L=$(sqlite3 "$DB" "SELECT max(seq) FROM audit WHERE event != 'archive'")
	check "an archive row without its removal (the crash case)" sqlite3 "$DB" \
		"INSERT INTO audit(ts_ns, event, archive_first, archive_last, archive_rows, archive_sha256) VALUES (1, 'archive', $F, $L, 2, '$SHA')"
	DRY=$(gctl --json audit archive --before now --to "$GFS_TMP/y")
	check_eq "dry run: the 2 rows left over, nothing new" '[2, 0]' "$(pyj '[d["leftover"], d["rows"]]' <<<"$DRY")"
	check_match "dry run (text): says an archive was interrupted" "interrupted: 2 row" \
		"$(gctl audit archive --before now --to "$GFS_TMP/y")"
	check_eq "still there after the dry run" 2 "$(nrows)"
	check "--execute finishes it" gctl audit archive --before now --to "$GFS_TMP/y" \
		--execute "$(pyj 'd["token"]' <<<"$DRY")"
	check_eq "the covered rows are gone" 0 "$(nrows)"
else
	skip "an interrupted archive is finished" "no sqlite3 command"
fi

# bash completion knows the command
. "$GFS_REPO/scripts/completion/gracectl"
comp() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _gracectl; printf '%s\n' "${COMPREPLY[@]}" | sort | xargs; }
check_eq "completion: audit's subcommands" "archive verify" "$(comp "$GRACECTL" -b "$BACKING" audit '')"
check_eq "completion: archive's options" "--before" "$(comp "$GRACECTL" -b "$BACKING" audit archive --be)"

done_testing
