#!/bin/bash
#
# fairness.sh — one tenant cannot starve the others (issue 10, items 4 and
# 7; docs/isolation.md).
#   4 open files are capped per uid (-o max_open_per_uid): the tenant at its
#     cap gets EMFILE for open, create and opendir, nothing is created, and
#     root and other tenants keep working; closing gives the fds back.
#   7 a tree deeper than one relpath (2,048 levels) is deleted with rm -rf
#     and restored with one mv.
# Tenants are numeric uids without passwd entries (setpriv): bob 2002,
# carol 2003.

. "$(dirname "$0")/lib.sh"
gfs_require setpriv perl

BOB=2002 CAROL=2003
CAP=40

gfs_site site1
chmod 0777 "$BACKING/site1"
gfs_mount "max_open_per_uid=$CAP"
check_match "the daemon logs its open-file caps" "open files: $CAP per uid" "$(cat "$GFS_LOG")"

S=$MNT/site1
mkdir "$S/files" "$S/unlisted"
for ((i = 0; i < 100; i++)); do echo "$i" >"$S/files/f$i"; done
check_eq "100 files to open" 100 "$(ls "$S/files" | wc -l)"

# bob opens files until the daemon refuses, then holds them open
cat >"$GFS_TMP/hog.pl" <<'PERL'
my ($dir, $out) = @ARGV;
my (@fh, $n, $err);
for my $i (0 .. 99) {
	if (open(my $f, '<', "$dir/f$i")) { push @fh, $f; $n++; }
	else { $err = $! + 0; last; }
}
open(my $o, '>', "$out.tmp") or die; print $o ($n // 0), " ", ($err // 0), "\n"; close $o;
rename("$out.tmp", $out);
sleep 1 while 1;
PERL
chmod 0644 "$GFS_TMP/hog.pl"
chmod 0777 "$GFS_TMP"
gfs_bg setpriv --reuid=$BOB --regid=$BOB --clear-groups -- perl "$GFS_TMP/hog.pl" "$S/files" "$GFS_TMP/hog.out"
HOG=$GFS_BG_PID
check "bob's loop stops" wait_until 60 test -s "$GFS_TMP/hog.out"
check_eq "bob got exactly $CAP files, then EMFILE (24)" "$CAP 24" "$(cat "$GFS_TMP/hog.out")"
check_errno "bob at his cap: open gives EMFILE" EMFILE et_as $BOB open "$S/files/f99" r
check_errno "bob at his cap: create gives EMFILE" EMFILE et_as $BOB open "$S/bobnew" w,creat
check_absent "... and creates nothing" "$BACKING/site1/bobnew"
# a listing the kernel holds costs no fd (files was listed above); one that
# must be read from the backing store needs one
check_errno "bob at his cap: reading a directory gives EMFILE" EMFILE et_as $BOB ls "$S/unlisted"
check_errno "carol still opens files" OK et_as $CAROL open "$S/files/f1" r
check_errno "carol still creates files" OK et_as $CAROL open "$S/carolnew" w,creat
check_eq "root still lists" 100 "$(ls "$S/files" | wc -l)"
check_eq "root still reads" 42 "$(cat "$S/files/f42")"
kill -KILL "$HOG"
check "bob's fds come back once his files are closed" \
	wait_until 30 eval '[ "$(et_as $BOB open "$S/files/f99" r)" == OK ]'
check_errno "bob creates again" OK et_as $BOB open "$S/bobnew" w,creat

# ---- 7: a tree deeper than one relpath (2,048 levels) ------------------
DEPTH=2100
walk() {   # walk DIR — levels of d/ below DIR, and the content of the bottom file
	perl -e 'my ($top) = @ARGV; chdir $top or die "$top: $!"; my $n = 0;
		while (chdir "d") { $n++ } open(my $f, "<", "bottom") or die "bottom: $!";
		my $c = <$f>; chomp $c; print "$n $c\n"' "$1"
}
before=$(trash_op_dirs site1)
check "bob builds a tree $DEPTH levels deep" as_uid $BOB perl -e '
	my ($top, $n) = @ARGV; mkdir $top or die; chdir $top or die;
	for (1 .. $n) { mkdir "d" or die "mkdir $_: $!"; chdir "d" or die "chdir $_: $!" }
	open(my $f, ">", "bottom") or die; print $f "deep\n"; close $f' "$S/deep" $DEPTH
check "bob deletes it with rm -rf" as_uid $BOB rm -rf "$S/deep"
check_absent "gone from the live tree" "$BACKING/site1/deep"
op=$(new_op site1 "$before")
check_eq "the whole chain is in the op, the file at the bottom" "$DEPTH deep" \
	"$(walk "$(bk_op site1 "$op")/deep")"
check "bob restores it with one mv" as_uid $BOB mv "$(mnt_op site1 "$op")/deep" "$S/deep"
check_eq "back complete" "$DEPTH deep" "$(walk "$BACKING/site1/deep")"

check "clean unmount" gfs_umount
out=$("$GRACEFS" -f -o max_open_per_uid=lots "$BACKING" "$MNT" 2>&1 </dev/null)
check_eq "a bad max_open_per_uid is refused" "2 gracefs: error: invalid max_open_per_uid 'lots' (1 to 1.07374e+09)" "$? $out"
done_testing
