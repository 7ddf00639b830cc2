#!/usr/bin/env bash
# The second README command: install what is missing, build, and run every
# test twice: in a plain build, and in an AddressSanitizer/UBSan build
# (unit tests with leak checks; mount tests with the sanitized daemon
# serving a real FUSE mount, where any memory error kills it and fails the
# test).  Shows each step and each test's result as it finishes (on
# stderr); the last line on stdout is 'N passed, N failed[, N skipped]'
# counting every test case.
#
# TEST_TIMEOUT_MULTIPLIER (default 2) stretches every test's meson timeout:
# tests wait for conditions with bounds, and a loaded machine is slow.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '== %s %s\n' "$(date +%T)" "$*" >&2; }

say "dependencies (scripts/deps.sh)"
scripts/deps.sh

build() {   # DIR [meson options]
	local dir=$1; shift
	say "building $dir"
	[ -f "$dir/build.ninja" ] || meson setup "$dir" "$@" >/dev/null
	ninja -C "$dir" >/dev/null
}
build build
build build-asan -Db_sanitize=address,undefined -Db_lundef=false

# run LABEL OUT DIR [meson test options] — meson test, its result lines
# streamed to stderr as "[LABEL] 3/40 gracefs:unit / index OK 0.52s",
# everything kept in OUT.  Returns meson's status.
run() {
	local label=$1 out=$2 dir=$3 rc
	shift 3
	say "tests: $label"
	set +e
	meson test -C "$dir" --no-rebuild --print-errorlogs \
		--timeout-multiplier "${TEST_TIMEOUT_MULTIPLIER:-2}" "$@" 2>&1 |
		tee -a "$out" | grep --line-buffered -E '^ *[0-9]+/[0-9]+ ' |
		sed -u "s/^ */[$label] /" >&2
	rc=${PIPESTATUS[0]}
	set -e
	return "$rc"
}

: >build/test.out
: >build-asan/test.out
status=0
run plain build/test.out build || status=$?
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
	run asan-unit build-asan/test.out build-asan --suite unit || status=$?
mv build-asan/meson-logs/testlog.json build-asan/meson-logs/testlog-unit.json
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=0 \
	run asan-mount build-asan/test.out build-asan --suite mount || status=$?
python3 scripts/tap-summary.py build/meson-logs/testlog.json \
	build-asan/meson-logs/testlog-unit.json build-asan/meson-logs/testlog.json || status=1
exit $status
