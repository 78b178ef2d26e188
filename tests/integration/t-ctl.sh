#!/usr/bin/env bash
# rehost ctl without a working server: usage errors, the config file and
# its permissions, environment precedence, an unreachable server.
. "$(dirname "$0")/functions.sh"

unset REHOST_URL REHOST_AK REHOST_SK REHOST_CACERT REHOST_CTL_CONFIG
export HOME=$T/home XDG_CONFIG_HOME=
mkdir -p "$HOME"

expect_exit 0 "$REHOST" ctl --help
assert_grep 'tasks watch ID' "$T/out"
expect_exit 0 "$REHOST" help ctl
expect_exit 2 "$REHOST" ctl
assert_grep 'missing command' "$T/err"
expect_exit 2 "$REHOST" ctl sources list
assert_grep 'no server URL' "$T/err"
expect_exit 1 "$REHOST" ctl --url ftp://x sources list
assert_grep "must start with https://" "$T/err"

# Nothing listens on this port: the error says so, with the seed's hint.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
expect_exit 1 env REHOST_URL=https://127.0.0.1:$PORT REHOST_AK=a REHOST_SK=b "$REHOST" ctl sources list
assert_grep 'cannot reach the server' "$T/err"
assert_grep 'SMS.0203' "$T/err"

# The config file: default place, unknown keys, and a readable secret.
mkdir -p "$HOME/.config/rehost"
printf 'url = https://127.0.0.1:%s\naccess_key = RHAKX\nsecret_key = s3cret\n' "$PORT" >"$HOME/.config/rehost/ctl.conf"
chmod 644 "$HOME/.config/rehost/ctl.conf"
expect_exit 1 "$REHOST" ctl sources list
assert_grep 'chmod 600' "$T/err"
chmod 600 "$HOME/.config/rehost/ctl.conf"
expect_exit 1 "$REHOST" ctl sources list
assert_grep "cannot reach the server https://127.0.0.1:$PORT" "$T/err"
# The environment wins over the file.
expect_exit 1 env REHOST_URL=https://127.0.0.2:$PORT "$REHOST" ctl sources list
assert_grep "https://127.0.0.2:$PORT" "$T/err"
printf 'colour = blue\n' >"$T/bad.conf"
expect_exit 1 "$REHOST" ctl --config "$T/bad.conf" sources list
assert_grep "unknown key 'colour'" "$T/err"
expect_exit 1 "$REHOST" ctl --config "$T/missing.conf" sources list
assert_grep 'cannot read' "$T/err"

# Argument checks before any request.
expect_exit 2 "$REHOST" ctl tasks create --source s --target t
assert_grep 'needs --file, or --source, --target and --disk' "$T/err"
expect_exit 2 "$REHOST" ctl tasks create --source s --target t --disk lots
assert_grep 'expected a size' "$T/err"
expect_exit 2 "$REHOST" ctl tasks create --source s --target t --disk 1G --rate-limit 8-18=5
assert_grep 'rate-limit' "$T/err"
expect_exit 2 "$REHOST" ctl tasks fly t1
assert_grep "unknown tasks command 'fly'" "$T/err"
expect_exit 2 "$REHOST" ctl sources show
expect_exit 2 "$REHOST" server --db-pool 0
expect_exit 2 "$REHOST" server keys frobnicate
