#!/usr/bin/env bash
# `make demo` keeps working: run scripts/demo.sh with the binary under test.
. "$(dirname "$0")/functions.sh"
requires_root
requires sfdisk mkfs.vfat mkfs.ext4 mkfs.xfs mkswap
export DEMO_DIR=$T/demo DEMO_PROGRESS=log
expect_exit 0 bash "$REHOST_SRCDIR/scripts/demo.sh" "$REHOST"
assert_grep '^identical: ' "$T/out"
assert_grep 'migration complete' "$T/err"
# The story holds together: a blocked pre-check is explained before the
# migration goes on, and the figures are real (a sub-second job is not 0).
if grep -q '^Result: migration BLOCKED' "$T/out"; then
	assert_grep '^-> The pre-checks block migrating THIS machine' "$T/out"
fi
assert_no_grep 'migrate speed: 0.00 Mbit/s' "$T/err"
assert_grep 'migrate speed: [1-9][0-9.]* Mbit/s' "$T/err"
log ok
