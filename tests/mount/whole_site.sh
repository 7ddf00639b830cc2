#!/bin/bash
#
# whole_site.sh — issue 19, item 1: a site deleted whole is that site's in
# every per-site view and command.  After `rm -rf MNT/acme`, its root-trash
# op is acme's for ls, show, find, hold, release, undo, purge, log and
# metrics; and the expiry of a deleted site that nobody held is filed
# under its name.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gctl_lib.sh"

gfs_site acme
gfs_site gone
gfs_site other
PROM=$GFS_TMP/gracefs.prom
# retention 15s: long enough that the root ops do not expire while the
# hold/release/purge checks run on a loaded machine (gone expires at the end)
gfs_mount "metrics=$PROM" retention=15s,min_retention=2s,sweep_interval=1s,op_gap=1s
check "acme keeps its trash a day" gctl site set site:acme retention=1d --execute

mkdir -p "$MNT/acme/shop" "$MNT/gone/www" "$MNT/other/www"
echo cart >"$MNT/acme/shop/cart.php"
echo old >"$MNT/gone/www/index.html"
echo keep >"$MNT/other/www/index.html"
rm -rf "$MNT/acme"
rm -rf "$MNT/gone"
rm "$MNT/other/www/index.html"
check "the ops are closed" wait_until 30 all_closed

# ---- ls and show ------------------------------------------------------------
out=$(gctl --json ls acme)
check_eq "ls acme: exactly the root op holding acme" 1 "$(pyj 'len(d)' <<<"$out")"
op=$(pyj 'd[0]["op"]' <<<"$out")
check_match "ls acme: the op is a root-trash op" '^op:/' "$op"
check_eq "ls acme: its site column says acme" acme "$(pyj 'd[0]["site"]' <<<"$out")"
check_eq "ls site:acme: the same" "$op" "$(gctl --json ls site:acme | pyj 'd[0]["op"]')"
check_eq "ls other: not acme's op" "[]" \
	"$(gctl --json ls other | pyj '[o["op"] for o in d if o["op"].startswith("op:/")]')"
check_eq "show: site acme, not /" acme "$(gctl --json show "$op" | pyj 'd["op"]["site"]')"
check_match "find --site acme finds its files" "$op +acme +acme/shop/cart.php" \
	"$(gctl find --site acme cart.php)"

# ---- metrics: the deleted site's own series, no "/" ---------------------------
acme_metric() { grep -qx 'gracefs_trash_ops{site="acme"} 1' "$PROM"; }
check "metrics: gracefs_trash_ops{site=acme} counts its root op" wait_until 10 acme_metric
check_match "metrics: acme's bytes are there too" '^gracefs_trash_bytes\{site="acme"\} [1-9]' \
	"$(grep '^gracefs_trash_bytes{site="acme"}' "$PROM")"
check_eq "metrics: no site=/ series (each root op holds one site)" "" \
	"$(grep -v '^#' "$PROM" | grep 'site="/"')"

# ---- hold and release through the deleted site --------------------------------
out=$(gctl hold site:acme 2>&1)
ok_if "hold site:acme of a deleted site succeeds" $?
check_match "hold names the op that holds it" "op:/" "$out"
check_eq "the root op is held" true "$(gctl --json show "$op" | pyj 'd["op"]["hold"]')"
check_match "hold again: unchanged" "unchanged" "$(gctl hold site:acme)"
out=$(gctl undo --since -1h --site acme --execute 000000000000 2>&1)
check_match "undo of the held site: refused" "legal hold|plan" "$out"
check "release site:acme" gctl release site:acme
check_eq "the root op is released" false "$(gctl --json show "$op" | pyj 'd["op"]["hold"]')"
check_not "hold site:nosuch is still an unknown site" gctl hold site:nosuch
gctl hold site:nosuch 2>/dev/null
check_eq "... with rc 2" 2 "$?"

# ---- purge, and the log of acme ---------------------------------------------------
dry=$(gctl --json purge "$op" --reason "test")
token=$(pyj 'd["token"]' <<<"$dry")
check "purge the deleted site's op" gctl purge "$op" --reason "test" --execute "$token"
acme_purged() { [ "$(gctl --json log --site acme --event purge | pyj 'len(d)')" = 1 ]; }
check "log --site acme shows the purge (the audit writer batches)" wait_until 10 acme_purged
log=$(gctl --json log --site acme)
check_eq "log --site acme: its delete, hold, release and purge rows" \
	'["delete", "hold", "release", "purge"]' \
	"$(pyj '[r["event"] for r in d if r["op"]]' <<<"$log")"
check_eq "every one of them names site acme" '["acme"]' \
	"$(pyj 'sorted(set(r["site"] for r in d if r["op"]))' <<<"$log")"

# ---- a deleted site that expires ------------------------------------------------
gone_expired() { [ "$(gctl --json log --site gone --event expire | pyj 'len(d)')" = 1 ]; }
check "the expiry of gone's root op is in log --site gone" wait_until 60 gone_expired
check_eq "log --event evict before any eviction: empty, rc 0" "[]" \
	"$(gctl --json log --event evict)"

done_testing
