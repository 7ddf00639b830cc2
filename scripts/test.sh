#!/usr/bin/env bash
# The second README command: install what is missing, build, and run every
# test twice: in a plain build, and in an AddressSanitizer/UBSan build
# (unit tests with leak checks; mount tests with the sanitized daemon
# serving a real FUSE mount, where any memory error kills it and fails the
# test).  Ends with one line
# 'N passed, N failed[, N skipped]' counting every test case.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

build() {   # DIR [meson options]
	local dir=$1; shift
	[ -f "$dir/build.ninja" ] || meson setup "$dir" "$@" >/dev/null
	ninja -C "$dir" >/dev/null
}
build build
build build-asan -Db_sanitize=address,undefined -Db_lundef=false

status=0
meson test -C build --no-rebuild --print-errorlogs >build/test.out 2>&1 || status=$?
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 meson test -C build-asan --no-rebuild --suite unit \
	--print-errorlogs >build-asan/test.out 2>&1 || status=$?
mv build-asan/meson-logs/testlog.json build-asan/meson-logs/testlog-unit.json
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=0 meson test -C build-asan --no-rebuild --suite mount \
	--print-errorlogs >>build-asan/test.out 2>&1 || status=$?
grep -E '^ *[0-9]+/[0-9]+ ' build/test.out build-asan/test.out | sed 's/^build[^:]*://' || true
python3 scripts/tap-summary.py build/meson-logs/testlog.json \
	build-asan/meson-logs/testlog-unit.json build-asan/meson-logs/testlog.json
exit $status
