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

# Subcommands of a command print their own help, not the parent's.
for w in snapshot snapshots rollback grow firmware cutover; do
	expect_exit 0 "$REHOST" target "$w" --help
	assert_grep "^usage: rehost target $w" "$T/out"
	expect_exit 0 "$REHOST" help target "$w"
	assert_grep "^usage: rehost target $w" "$T/out"
done

# First run on a fresh machine: the default state and key directories
# (/var/lib/rehost/...) are made with their parents, mode 0700. A private
# mount namespace with an empty /var/lib stands in for the fresh machine.
fresh() {
	unshare -m --propagation private sh -c 'mount -t tmpfs -o mode=0755 rehost-fresh /var/lib && "$@"' sh "$@"
}
requires unshare
expect_exit 0 fresh sh -c '"$1" server keys create --tenant t >/dev/null &&
	stat -c "%a %n" /var/lib/rehost /var/lib/rehost/server' sh "$REHOST"
assert_grep '^700 /var/lib/rehost$' "$T/out"
assert_grep '^700 /var/lib/rehost/server$' "$T/out"
: >"$T/disk.img"
truncate -s 1M "$T/disk.img"
expect_exit 0 fresh sh -c '"$1" target grow --disk "$2" --no-grow-partition --no-grow-fs >/dev/null 2>&1;
	stat -c "%a %n" /var/lib/rehost/target' sh "$REHOST" "$T/disk.img"
assert_grep '^700 /var/lib/rehost/target$' "$T/out"
expect_exit 0 "$REHOST" keygen "$T/new/keys/dir"
[ "$(stat -c %a "$T/new/keys")" = 700 ] || fail "key directory parent not 0700"
log "default directories are created with their parents"

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
