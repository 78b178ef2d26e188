#!/usr/bin/env bash
# The agent's pipeline fails cleanly when it cannot start its threads. In a
# pids cgroup that admits the reader thread but no compression worker,
# `rehost migrate --compress 2` exits 1 with an error instead of hanging
# (the sender used to wait for compressed nodes that no worker would ever
# produce); without compression the same limit is enough; when not even the
# reader starts, the error says so.
. "$(dirname "$0")/functions.sh"
requires_root
requires timeout

# The pids controller: cgroup v1, or v2 with pids enabled for children of
# the root (the v2 branch is not exercised on the v1 machines we test on).
if [ -w /sys/fs/cgroup/pids/cgroup.procs ]; then
	pids=/sys/fs/cgroup/pids
elif grep -qw pids /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
	pids=/sys/fs/cgroup
else
	skip "no pids cgroup controller (v1 /sys/fs/cgroup/pids, or v2 with +pids)"
fi

"$REHOST" keygen "$T/keys" >/dev/null
head -c 8M /dev/urandom >"$T/src.img"
mkdir -p "$T/tgt"
# --replace: every case below is a new job on the same target directory.
port=$(start_daemon target "$T/port" "$REHOST" target --listen 127.0.0.1:0 --port-file "$T/port" \
	--keys "$T/keys" --disk-dir "$T/tgt" --replace)

cg=$pids/rehost-$TEST_NAME-$$
mkdir "$cg"
cleanup_fn rmdir "$cg"

# agent_limited TASKS COMPRESS: run the agent under `timeout` in the cgroup,
# limited to TASKS tasks (threads) in all: timeout and the agent's main
# thread take two. LeakSanitizer needs a thread of its own: off here.
agent_limited() {
	local rc=0
	echo "$1" >"$cg/pids.max"
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
	sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg" \
		timeout 20 "$REHOST" migrate --disk "$T/src.img" --to "127.0.0.1:$port" \
		--keys "$T/keys" --state-dir "$T/st-$1-$2" --compress "$2" --progress none \
		>"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" -ne 124 ] || fail "$1 tasks, --compress $2: the agent hung"
	return "$rc"
}

rc=0; agent_limited 3 2 || rc=$?
[ "$rc" -eq 1 ] || { cat "$T/err" >&2; fail "no worker thread: exited $rc, expected 1"; }
assert_grep 'error: migrate: cannot start compression threads' "$T/err"
log "no compression thread: clean error"

rc=0; agent_limited 2 2 || rc=$?
[ "$rc" -eq 1 ] || { cat "$T/err" >&2; fail "no reader thread: exited $rc, expected 1"; }
assert_grep 'error: migrate: cannot start reader thread' "$T/err"
log "no reader thread: clean error"

agent_limited 3 off || { cat "$T/err" >&2; fail "reader only, no compression: failed"; }
cmp "$T/src.img" "$T/tgt/disk0.raw" || fail "target differs from source"
log "reader only, no compression: copied"

# The same job runs once threads can start.
expect_exit 0 "$REHOST" migrate --disk "$T/src.img" --to "127.0.0.1:$port" --keys "$T/keys" \
	--state-dir "$T/st-3-2" --compress 2 --progress none
cmp "$T/src.img" "$T/tgt/disk0.raw" || fail "target differs from source"
log ok
