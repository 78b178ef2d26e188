#!/usr/bin/env bash
# `make demo` keeps working: run scripts/demo.sh with the binary under test.
. "$(dirname "$0")/functions.sh"
requires_root
requires sfdisk mkfs.vfat mkfs.ext4 mkfs.xfs mkswap
export DEMO_DIR=$T/demo DEMO_PROGRESS=log
expect_exit 0 bash "$REHOST_SRCDIR/scripts/demo.sh" "$REHOST"
assert_grep '^identical: ' "$T/out"
assert_grep 'migration complete' "$T/err"
log ok
