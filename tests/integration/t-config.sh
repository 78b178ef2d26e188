#!/usr/bin/env bash
# `rehost config check` accepts good files and rejects bad values with the
# file, line, key, value and allowed range.
. "$(dirname "$0")/functions.sh"

# The defaults file round-trips.
expect_exit 0 "$REHOST" config defaults
cp "$T/out" "$T/defaults.conf"
expect_exit 0 "$REHOST" config check -c "$T/defaults.conf"
assert_grep 'OK$' "$T/out"

cat >"$T/good.conf" <<'CONF'
[replication]
compress_threads = 2
buffer_node_mb = 8
[limits]
cpu_percent = 40
memory_mb =
CONF
expect_exit 0 "$REHOST" config show -c "$T/good.conf"
assert_grep "^replication.buffer_node_mb = 8	# $T/good.conf:3$" "$T/out"
assert_grep '^limits.disk_mbps = 	# default$' "$T/out"

# bad VALUE EXPECTED-MESSAGE: each case is one file.
bad() {
	printf '%b' "$1" >"$T/bad.conf"
	expect_exit 1 "$REHOST" config check -c "$T/bad.conf"
	assert_grep "$2" "$T/err"
}
bad '[replication]\nbuffer_node_mb = 16\n' \
	"bad.conf:2: \\[replication\\] buffer_node_mb = 16: out of range \\(allowed: 1 to 8 MiB\\)"
bad '[replication]\ncompress_threads = many\n' \
	'compress_threads = many: not a number \(allowed: 0 to 3 threads, or auto, or off\)'
bad '[limits]\n\ncpu_percent = 0\n' \
	'bad.conf:3: \[limits\] cpu_percent = 0: out of range \(allowed: 1 to 100 %, or empty for unlimited\)'
bad '[limits]\nmemory_mb = 4096\n' 'memory_mb = 4096: out of range \(allowed: 200 to 1000 MB'
bad '[limits]\ndisk_mbps = 1\n' 'disk_mbps = 1: out of range \(allowed: 10 to 1000 MB/s'
bad '[limits]\ncpu = 1\n' "unknown key 'cpu' in \\[limits\\]"
bad '[agent]\ntls_verify = sometimes\n' 'not a boolean'

expect_exit 1 "$REHOST" config check -c "$T/missing.conf"
assert_grep 'cannot open config file .*missing.conf' "$T/err"
expect_exit 2 "$REHOST" config frobnicate
log ok
