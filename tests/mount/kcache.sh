#!/bin/bash
#
# kcache.sh — the kernel caches gracefs turns on for speed (issue 13) never
# show the client something else than BACKING holds:
#
#   times     with -o writeback a file's mtime after
#             close(2) is in BACKING exactly as the client saw it — also
#             when the file is deleted (its trash copy keeps it), deleted
#             while still open, touched to a fixed time, or written in many
#             pieces; the same with -o no_writeback.
#   listings  live directories are listed from the kernel's cache: a name
#             created, deleted or restored with mv through the mount shows
#             at once, .trash (changed behind the kernel's back) is always
#             fresh, and a gracectl undo — which moves names back behind
#             the kernel's back — is visible in the very next listing.

. "$(dirname "$0")/lib.sh"
gfs_require python3
: "${GRACECTL:=$GFS_REPO/build/fs/gracectl}"
[ -x "$GRACECTL" ] || skip_all "gracectl binary not found at $GRACECTL"
gctl() { "$GRACECTL" -b "$BACKING" "$@"; }

mtime() { stat -c %.9Y -- "$1" 2>&1; }

# check_times DESC MNTPATH BKPATH — the mtime through the mount and in BACKING
check_times() {
	check_eq "$1: mtime in BACKING = mtime the client sees" "$(mtime "$2")" "$(mtime "$3")"
}

gfs_site s1 s2
gfs_mount writeback   # the times part needs it (off by default: docs/design.md)

# ---------------------------------------------------------------------------
# times

S=$MNT/s1
B=$BACKING/s1

# many small files, each created and written in one go (the write often
# falls in the clock tick of the create: no SETATTR comes at all)
for i in $(seq 1 60); do printf 'data %s\n' "$i" >"$S/f$i"; done
bad=0
for i in $(seq 1 60); do
	[ "$(mtime "$S/f$i")" == "$(mtime "$B/f$i")" ] || bad=$((bad + 1))
done
check_eq "60 new files: every mtime in BACKING = the client's" 0 "$bad"
check_eq "... and the data reached BACKING by close(2)" "data 60" "$(cat "$B/f60")"

# written in pieces with pauses: the kernel sets its own later times
python3 - "$S/big" <<'EOF'
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
for i in range(8):
    os.write(fd, b"x" * 300000)
    time.sleep(0.02)
os.close(fd)
EOF
check_times "a file written in 8 pieces" "$S/big" "$B/big"
check_eq "... its size in BACKING" 2400000 "$(stat -c %s "$B/big")"

# touched to a fixed time through an open file, then appended to
printf 'a\n' >"$S/fixed"
touch -m -d '2001-02-03 04:05:06.789' "$S/fixed"
check_eq "touch -d: BACKING has the fixed time" "981173106.789000000" "$(mtime "$B/fixed")"
printf 'b\n' >>"$S/fixed"
check_times "touched, then appended" "$S/fixed" "$B/fixed"

# deleted after close: the trash copy keeps the time the client saw
printf 'victim\n' >"$S/victim"
seen=$(mtime "$S/victim")
sleep 0.05    # a pwrite now would stamp a different time
check "rm of a file just written" rm "$S/victim"
op=$(only_op s1)
check_eq "the trash copy (BACKING) keeps the client's mtime" "$seen" "$(mtime "$(bk_op s1 "$op")/victim")"
check_eq "the trash copy (mount) keeps the client's mtime" "$seen" "$(mtime "$(mnt_op s1 "$op")/victim")"

# deleted while still open and dirty: written, stat'ed, unlinked, closed
seen=$(python3 - "$S/open" <<'EOF'
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"first\n")
time.sleep(0.05)
os.write(fd, b"second\n")
st = os.fstat(fd)
os.unlink(sys.argv[1])
time.sleep(0.05)
os.close(fd)
print("%d.%09d" % (st.st_mtime_ns // 10**9, st.st_mtime_ns % 10**9))
EOF
)
tb=$(find "$(bk_trash s1)" -name open -type f | head -n 1)
check "the file deleted while open is in the trash" test -n "$tb"
check_eq "... with the mtime the client saw before the rm" "$seen" "$(mtime "$tb")"
check_eq "... and all its data" "$(printf 'first\nsecond\n')" "$(cat "$tb")"

# ---------------------------------------------------------------------------
# listings

D=$MNT/s2/d
mkdir "$D"
for n in a b c; do printf '%s\n' "$n" >"$D/$n"; done
check_eq "listing of a new directory" "a b c" "$(ls "$D" | xargs)"
check_eq "listed again (from the kernel's cache)" "a b c" "$(ls "$D" | xargs)"
printf 'd\n' >"$D/d"
check_eq "a created name shows at once" "a b c d" "$(ls "$D" | xargs)"
trash_before=$(ls "$MNT/s2/.trash" 2>/dev/null | xargs)
check "rm of one name" rm "$D/a"
check_eq "a deleted name is gone at once" "b c d" "$(ls "$D" | xargs)"
op2=$(new_op s2 "")
check_eq ".trash lists the new op (never served from a stale cache)" \
	"$(echo $trash_before $op2 | xargs -n1 | sort | xargs)" "$(ls "$MNT/s2/.trash" | xargs)"
check "mv out of .trash (restore)" mv "$(mnt_op s2 "$op2")/d/a" "$D/a"
check_eq "a restored name shows at once" "a b c d" "$(ls "$D" | xargs)"

# undo: the names come back behind the kernel's back
ops_before=$(trash_op_dirs s2)
check "rm of two names" rm "$D/b" "$D/c"
check_eq "listing after the rm" "a d" "$(ls "$D" | xargs)"
# listed twice more: the last listing comes from the kernel's cache (the
# first one after a READDIR refreshes the directory's attributes for atime)
ls "$D" >/dev/null
check_eq "listing after the rm, from the cache" "a d" "$(ls "$D" | xargs)"
check_errno "stat of a deleted name" ENOENT et lstat "$D/b"
op3=op:s2/$(new_op s2 "$ops_before")
# the dry run prints the plan token --execute needs
tok=$(gctl undo "$op3" | sed -n 's/^plan token: \([0-9a-f]\{12\}\)$/\1/p')
check "gracectl undo $op3 --execute TOKEN" gctl undo "$op3" --execute "$tok"
check_eq "the undone names show in the very next listing" "a b c d" "$(ls "$D" | xargs)"
check_eq "... and can be read" "b" "$(cat "$D/b")"

# ---------------------------------------------------------------------------
# -o no_writeback: the same times, every write a round trip

gfs_remount no_writeback
printf 'nwb\n' >"$S/nwb"
check_times "no_writeback: a new file" "$S/nwb" "$B/nwb"
printf 'more\n' >>"$S/big"
check_times "no_writeback: an append" "$S/big" "$B/big"

check "clean unmount" gfs_umount
done_testing
