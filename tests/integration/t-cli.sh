#!/usr/bin/env bash
# Every subcommand has --help; usage errors exit 2; version prints.
. "$(dirname "$0")/functions.sh"

expect_exit 0 "$REHOST" --help
assert_grep '^Commands:' "$T/out"
cmds=$(awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { exit }' "$T/out")
[ -n "$cmds" ] || fail "no commands listed in --help"
for c in $cmds; do
	expect_exit 0 "$REHOST" "$c" --help
	assert_grep "^usage: rehost $c" "$T/out"
	expect_exit 0 "$REHOST" help "$c"
	assert_grep "^usage: rehost $c" "$T/out"
done

expect_exit 0 "$REHOST" version
assert_grep '^rehost [0-9]+\.[0-9]+\.[0-9]+ \(' "$T/out"
expect_exit 0 "$REHOST" --version
expect_exit 2 "$REHOST"
expect_exit 2 "$REHOST" no-such-command
assert_grep "unknown command 'no-such-command'" "$T/err"
expect_exit 2 "$REHOST" --bogus
expect_exit 2 "$REHOST" --log-level loud version
assert_grep "unknown log level 'loud'" "$T/err"

log "ok: $(echo $cmds | wc -w) commands"
