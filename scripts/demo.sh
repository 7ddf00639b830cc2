#!/usr/bin/env bash
# The first README command: install what is missing, build, create a demo
# backing store with three sites of realistic content under
# /tmp/gracefs-demo, mount it, and print a few commands to try.
#
#   sudo scripts/demo.sh          (re)create and mount the demo
#   sudo scripts/demo.sh --stop   unmount it and stop its daemon
#
# Idempotent: a demo that is still mounted is unmounted first, and the
# backing store is created afresh each time.  It never stops or deletes a
# demo it did not start: the directory must be a real directory (not a
# symlink) owned by root that carries this script's marker file; a mount
# at its mnt/ is only unmounted when it is the gracefs this script started
# (the PID in gracefs.pid is a gracefs serving exactly this backing store
# at exactly this mountpoint); two runs at once are serialized by a lock.
# GRACEFS_DEMO_DIR chooses another directory (default /tmp/gracefs-demo).
set -euo pipefail

DEMO=${GRACEFS_DEMO_DIR:-/tmp/gracefs-demo}
BACKING=$DEMO/backing
MNT=$DEMO/mnt
PIDFILE=$DEMO/gracefs.pid
LOG=$DEMO/gracefs.log
MARKER=$DEMO/.gracefs-demo     # "made by scripts/demo.sh": ours to replace
REPO=$(cd "$(dirname "$0")/.." && pwd)
GRACEFS=$REPO/build/fs/gracefs

say() { printf 'demo: %s\n' "$*"; }
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }

usage() {
	sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
}

is_mounted() {   # in the mount table (true for a dead FUSE mount too)
	awk -v m="$MNT" '$2 == m { f = 1 } END { exit !f }' /proc/self/mounts
}

demo_pid() {     # the PID from our pid file, if it is the gracefs we started
	local pid cmd
	[ -f "$PIDFILE" ] || return 1
	pid=$(head -n 1 "$PIDFILE")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == gracefs ] || return 1
	# a recycled PID, or a gracefs someone else started: not ours
	cmd=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	grep -qxF -- "$BACKING" <<<"$cmd" && grep -qxF -- "$MNT" <<<"$cmd" || return 1
	printf '%s\n' "$pid"
}

mount_source() { # the source (gracefs: the backing store) of the mount at MNT
	awk -v m="$MNT" '$2 == m { s = $1; t = $3 } END { if (s != "") print t " " s }' \
		/proc/self/mounts
}

# own_demo_dir — DEMO is ours: absent, or a real root-owned directory with
# our marker.  Dies otherwise, touching nothing.
own_demo_dir() {
	if [ -L "$DEMO" ] || { [ -e "$DEMO" ] && [ ! -d "$DEMO" ]; }; then
		die "$DEMO is not a directory this script made; set GRACEFS_DEMO_DIR to use another"
	fi
	if [ -d "$DEMO" ]; then
		[ "$(stat -c %u "$DEMO")" -eq 0 ] ||
			die "$DEMO is not owned by root: not a demo this script made (GRACEFS_DEMO_DIR=...)"
		[ -f "$MARKER" ] && [ ! -L "$MARKER" ] ||
			die "$DEMO exists but was not made by scripts/demo.sh; leaving it alone (GRACEFS_DEMO_DIR=...)"
	fi
}

wait_gone() {    # PID SECONDS
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

stop_demo() {
	local pid i lazy=
	pid=$(demo_pid) || pid=
	if is_mounted; then
		# only the mount of the daemon we started: its fsname is BACKING
		if [ -z "$pid" ] || [ "$(mount_source)" != "fuse.gracefs $BACKING" ]; then
			die "$MNT is mounted ($(mount_source)), but not by a gracefs this script started; leaving it alone"
		fi
		for ((i = 0; i < 20; i++)); do
			fusermount3 -u "$MNT" 2>/dev/null && break
			sleep 0.1
		done
		if is_mounted; then
			say "$MNT is busy (a shell or program is inside it); detaching it lazily"
			fusermount3 -u -z "$MNT" 2>/dev/null || umount -l "$MNT"
			lazy=1
		fi
		say "unmounted $MNT"
	fi
	# A lazily detached mount keeps its daemon busy until the last user
	# leaves; SIGTERM ends it cleanly now (the users then get ENOTCONN).
	if [ -n "$pid" ] && { [ -n "$lazy" ] || ! wait_gone "$pid" 10; }; then
		kill -TERM "$pid" 2>/dev/null || true
		wait_gone "$pid" 10 || die "gracefs (pid $pid) does not exit; see $LOG"
	fi
	rm -f "$PIDFILE"
}

# lock_demo — one run at a time (fd 9 holds the lock until exit).
lock_demo() {
	exec 9>>"$DEMO/.lock"
	flock -n 9 || die "another scripts/demo.sh is working on $DEMO"
}

case "${1:-}" in
--stop)
	[ "$(id -u)" -eq 0 ] || die "run as root: sudo $0 --stop"
	[ -d "$DEMO" ] || { say "no demo in $DEMO"; exit 0; }
	own_demo_dir
	lock_demo
	stop_demo
	say "stopped (the demo files stay in $DEMO; rm -rf $DEMO to remove them)"
	exit 0 ;;
-h|--help)
	usage
	exit 0 ;;
"") ;;
*)
	usage >&2
	exit 2 ;;
esac

[ "$(id -u)" -eq 0 ] || die "run as root: sudo $0 (gracefs serves every user's files)"
[ -e /dev/fuse ] || die "/dev/fuse is missing (modprobe fuse, or run the container with --device /dev/fuse)"

# --- dependencies and build -------------------------------------------------
"$REPO/scripts/deps.sh"
own_demo_dir
if [ ! -d "$DEMO" ]; then
	mkdir -m 0755 "$DEMO"
	printf 'made by %s/scripts/demo.sh on %s\n' "$REPO" "$(date -u +%FT%TZ)" >"$MARKER"
fi
lock_demo
cd "$REPO"
if [ ! -f build/build.ninja ]; then
	say "configuring build/"
	meson setup build >"$DEMO/build.log" 2>&1 || { cat "$DEMO/build.log" >&2; die "meson setup failed"; }
fi
say "building"
ninja -C build >"$DEMO/build.log" 2>&1 || { tail -n 40 "$DEMO/build.log" >&2; die "build failed"; }
[ -x "$GRACEFS" ] || die "build did not produce $GRACEFS"

# --- a fresh backing store --------------------------------------------------
stop_demo
is_mounted && die "$MNT is still mounted"
rm -rf --one-file-system "$BACKING"
mkdir -p "$BACKING" "$MNT"
say "creating demo sites in $BACKING"

# page TITLE BODY — a small HTML page.
page() {
	printf '<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8"><title>%s</title>\n' "$1"
	printf '<link rel="stylesheet" href="/css/site.css"></head>\n<body>\n<h1>%s</h1>\n<p>%s</p>\n</body>\n</html>\n' "$1" "$2"
}
# post TITLE DATE TAGS — a blog post in Markdown with front matter.
post() {
	printf -- '---\ntitle: "%s"\ndate: %s\ntags: [%s]\n---\n\n' "$1" "$2" "$3"
	printf '%s\n\nWe wrote this on %s. ' "$1" "$2"
	printf 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\n'
}
# blob FILE KIB MAGIC — a binary file (an "image") of KIB KiB.
blob() {
	{ printf '%b' "$3"; head -c $(($2 * 1024)) /dev/urandom; } >"$1"
}
PNG='\x89PNG\r\n\x1a\n'
JPG='\xff\xd8\xff\xe0'

# acme-shop: a shop with a web root, product pages, a blog and uploads.
S=$BACKING/acme-shop
mkdir -p "$S"/htdocs/{css,js,img,products} "$S"/config "$S"/logs
page "Acme Shop" "Everything for the discerning coyote." >"$S/htdocs/index.html"
for p in about contact shipping returns privacy; do
	page "Acme Shop - $p" "All about $p." >"$S/htdocs/$p.html"
done
for name in rocket-skates giant-magnet anvil dehydrated-boulders earthquake-pills \
	jet-bike tornado-seeds bird-seed portable-hole iron-glove spring-shoes \
	smoke-bombs paint-tunnel batman-outfit catapult bat-wings; do
	for v in index specs reviews; do
		mkdir -p "$S/htdocs/products/$name"
		page "$name ($v)" "The $name: $v." >"$S/htdocs/products/$name/$v.html"
	done
done
printf 'body { font-family: sans-serif; }\nh1 { color: #c00; }\n' >"$S/htdocs/css/site.css"
printf '.product { margin: 1em; }\n' >"$S/htdocs/css/products.css"
printf 'console.log("acme");\n' >"$S/htdocs/js/site.js"
printf 'function addToCart(id) { /* ... */ }\n' >"$S/htdocs/js/cart.js"
for i in $(seq 1 12); do blob "$S/htdocs/img/product-$i.jpg" 4 "$JPG"; done
blob "$S/htdocs/img/logo.png" 3 "$PNG"
for y in 2023 2024 2025; do
	for m in 01 02 03 04 05 06 07 08 09 10 11 12; do
		[ "$y$m" -gt 202511 ] && continue
		mkdir -p "$S/blog/$y/$m"
		post "News from $y-$m" "$y-$m-03" "news" >"$S/blog/$y/$m/news.md"
		post "Product of the month $y-$m" "$y-$m-17" "products, offers" \
			>"$S/blog/$y/$m/product-of-the-month.md"
	done
done
for y in 2024 2025; do
	for m in 01 02 03 04 05 06 07 08 09 10 11 12; do
		[ "$y$m" -gt 202511 ] && continue
		mkdir -p "$S/uploads/$y/$m"
		for i in 1 2; do blob "$S/uploads/$y/$m/photo-$i.jpg" 6 "$JPG"; done
	done
done
ln "$S/htdocs/img/logo.png" "$S/uploads/2024/03/logo.png"          # a hard link
ln -s ../blog "$S/htdocs/blog"                                         # a symlink
printf '{\n  "db": "acme_shop",\n  "currency": "EUR"\n}\n' >"$S/config/shop.json"
printf '127.0.0.1 - - [27/Nov/2025:10:00:00 +0000] "GET / HTTP/1.1" 200 512\n' >"$S/logs/access.log"

# bakery-blog: a small blog with a theme and uploads.
S=$BACKING/bakery-blog
mkdir -p "$S"/{posts,theme/partials,uploads/2025}
for t in sourdough-starter rye-bread croissants baguette focaccia brioche pretzels \
	cinnamon-rolls bagels challah ciabatta pita naan scones muffins panettone \
	stollen kouign-amann pain-de-mie english-muffins; do
	post "How to bake $t" "2025-0$((RANDOM % 9 + 1))-1$((RANDOM % 9))" "baking, $t" \
		>"$S/posts/$t.md"
	blob "$S/uploads/2025/$t.jpg" 5 "$JPG"
done
for f in header footer sidebar comments; do
	printf '<div class="%s"><!-- %s --></div>\n' "$f" "$f" >"$S/theme/partials/$f.html"
done
printf 'body { background: #fdf6e3; }\n' >"$S/theme/style.css"
page "The Bakery Blog" "Bread, mostly." >"$S/index.html"

# wiki: pages by year, plus media.
S=$BACKING/wiki
for y in 2019 2020 2021 2022 2023 2024 2025; do
	mkdir -p "$S/$y"
	for t in onboarding backups release-notes on-call incident-review roadmap \
		architecture glossary faq meeting-notes; do
		printf '# %s (%s)\n\nUpdated in %s.\n\n* see [[glossary]]\n' "$t" "$y" "$y" >"$S/$y/$t.md"
	done
done
mkdir -p "$S/media"
for i in $(seq 1 8); do blob "$S/media/diagram-$i.png" 8 "$PNG"; done
ln -s 2025 "$S/latest"                                               # a symlink

# Web content belongs to the web server user, as on a real node.
if getent passwd www-data >/dev/null; then
	chown -R -h www-data:www-data "$BACKING/acme-shop" "$BACKING/bakery-blog"
fi

nfiles=$(find "$BACKING" -type f | wc -l)
ndirs=$(find "$BACKING" -mindepth 1 -type d | wc -l)

# --- mount ------------------------------------------------------------------
# Foreground daemon in its own session (so closing this terminal does not
# signal it), logging to $LOG.
: >"$LOG"
setsid "$GRACEFS" -f -o retention=7d "$BACKING" "$MNT" </dev/null >>"$LOG" 2>&1 9>&- &
pid=$!
for ((i = 0; i < 100; i++)); do
	if ! kill -0 "$pid" 2>/dev/null; then
		cat "$LOG" >&2
		die "gracefs exited before mounting (log: $LOG)"
	fi
	mountpoint -q "$MNT" 2>/dev/null && break
	sleep 0.1
done
mountpoint -q "$MNT" || { kill -TERM "$pid"; die "gracefs did not mount $MNT within 10 s (log: $LOG)"; }
echo "$pid" >"$PIDFILE"

gracectl_hint=
if [ -x "$REPO/build/fs/gracectl" ]; then
	gracectl_hint="
  # the operator CLI: what is in trash, then undo everything deleted today
  $REPO/build/fs/gracectl -b $BACKING ls
  $REPO/build/fs/gracectl -b $BACKING undo --since \$(date -u +%F)   # dry run: prints a token
  $REPO/build/fs/gracectl -b $BACKING undo --since \$(date -u +%F) --execute TOKEN"
fi
cat <<EOF

gracefs demo mounted at $MNT
  backing store  $BACKING  ($nfiles files, $ndirs directories)
  sites          $(cd "$MNT" && echo *)
  daemon         pid $pid ($PIDFILE), log $LOG, -o retention=7d

Things to try, as root (paste the first line first):

  M=$MNT
  ls -a \$M/acme-shop                  # no .trash in the listing ...
  ls -a \$M/acme-shop/.trash           # ... but it is there by name

  rm -rf \$M/acme-shop/blog/2024       # a soft delete: one operation
  op=\$(ls \$M/acme-shop/.trash | tail -n 1); echo \$op
  getfattr -d --absolute-names \$M/acme-shop/.trash/\$op   # who, command, expiry
  find \$M/acme-shop/.trash/\$op | head                    # paths kept
  mv \$M/acme-shop/.trash/\$op/blog/2024 \$M/acme-shop/blog/   # restored

  rm -rf \$M/wiki                      # a whole site ...
  ls \$M/.trash/*/                     # ... is in the root's .trash
  mv \$M/.trash/*/wiki \$M/             # all of it back, one rename

  touch \$M/acme-shop/.trash/x         # EPERM: trash is immutable
  ls -la $BACKING/acme-shop/.trash   # where trash really lives${gracectl_hint}

Stop the demo: sudo scripts/demo.sh --stop
EOF
