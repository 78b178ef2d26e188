#!/usr/bin/env bash
# Build twice and run the tests: a release build with -Werror proves the
# code builds warning-free with optimisation; the test build adds ASan and
# UBSan (-fno-sanitize-recover) and runs everything through ctest. Ends with
# one summary line, "check: N passed, N failed, N skipped".
#
# CTEST_ARGS selects a subset, e.g. CTEST_ARGS="-L unit|fuzz" (see Makefile).
set -uo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
CHECK_BUILD=${CHECK_BUILD:-build-check}
JOBS=${JOBS:-$(nproc)}
log=$CHECK_BUILD/check.log

step() { printf '== %s\n' "$*"; }
die() { printf 'check: 0 passed, 1 failed\n(%s)\n' "$*"; exit 1; }

step "release build ($BUILD, -Werror)"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREHOST_TESTS=OFF >/dev/null || die "configure $BUILD failed"
cmake --build "$BUILD" || die "release build failed"

step "sanitizer build ($CHECK_BUILD, -Werror, ASan+UBSan)"
cmake -S . -B "$CHECK_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DREHOST_SANITIZE=ON >/dev/null || die "configure $CHECK_BUILD failed"
cmake --build "$CHECK_BUILD" || die "sanitizer build failed"

step "tests"
# Leak checking on; abort on the first UBSan report.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# shellcheck disable=SC2086
ctest --test-dir "$CHECK_BUILD" --output-on-failure -j "$JOBS" ${CTEST_ARGS:-} 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}

total=$(sed -n 's/.*tests failed out of \([0-9]\+\).*/\1/p' "$log" | tail -1)
failed=$(sed -n 's/.*, \([0-9]\+\) tests failed out of.*/\1/p' "$log" | tail -1)
skipped=$(grep -cE '^[[:space:]]*[0-9]+ - .*\((Skipped|Not Run)\)' "$log" || true)
if [ -z "$total" ]; then
	total=0
	failed=1
	rc=1
fi
passed=$((total - failed - skipped))
if [ "$skipped" -gt 0 ]; then
	echo "Skipped tests (each printed its reason above):"
	grep -E '^[[:space:]]*[0-9]+ - .*\((Skipped|Not Run)\)' "$log"
fi
echo "check: $passed passed, $failed failed, $skipped skipped"
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$total" -gt 0 ]
