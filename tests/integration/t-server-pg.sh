#!/usr/bin/env bash
# rehost server on a real PostgreSQL started by this test (private data
# directory and Unix socket, run as an unprivileged user): every endpoint
# through the data files, two server replicas sharing the database see the
# same tasks and hand commands to each other's agents, concurrent actions
# on one task do not both win, and a restart keeps all state.
. "$(dirname "$0")/functions.sh"
. "$REHOST_SRCDIR/tests/data/api/run.sh"
requires jq curl python3

PGBIN=
for d in $(command -v initdb 2>/dev/null | xargs -r dirname) /usr/lib/postgresql/*/bin; do
	if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
		PGBIN=$d
		break
	fi
done
[ -n "$PGBIN" ] || skip "PostgreSQL server not installed (scripts/install-deps.sh installs postgresql)"
PGUSER_OS=
for u in postgres nobody; do
	if id "$u" >/dev/null 2>&1; then
		PGUSER_OS=$u
		break
	fi
done
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$PGUSER_OS" -- "$@"
	else
		"$@"
	fi
}
[ "$(id -u)" -ne 0 ] || [ -n "$PGUSER_OS" ] || skip "no unprivileged user to run PostgreSQL"

# A private cluster: data and socket under $T, no TCP listener.
chmod 711 "$T"
mkdir -p "$T/pg/sock"
[ "$(id -u)" -ne 0 ] || chown -R "$PGUSER_OS" "$T/pg"
as_pg "$PGBIN/initdb" -D "$T/pg/data" -U rehost --auth=trust -E UTF8 >"$T/initdb.log" 2>&1 ||
	{ cat "$T/initdb.log"; fail "initdb failed"; }
as_pg "$PGBIN/pg_ctl" -D "$T/pg/data" -l "$T/pg/log" -w -t 30 \
	-o "-k $T/pg/sock -c listen_addresses= -c fsync=off" start >/dev/null ||
	{ cat "$T/pg/log"; fail "PostgreSQL did not start"; }
cleanup_fn as_pg "$PGBIN/pg_ctl" -D "$T/pg/data" -m immediate -w stop
DB="postgresql:///postgres?host=$T/pg/sock&user=rehost"

MASTER=$T/master.key
server_keys "$T/a" "$DB" acme
cp "$T/a/master.key" "$MASTER"
chmod 600 "$MASTER"
CACERT=$T/a/server.pem

# Replica A runs the data files.
server_start a "$T/a" "$DB" --master-key "$MASTER" --heartbeat-timeout 60
URL_A=$URL
curl -s --cacert "$CACERT" "$URL_A/healthz" | grep -q '"backend":"postgresql"' || fail "not on PostgreSQL"
export INVENTORY
INVENTORY=$(jq -c . "$REHOST_SRCDIR/tests/data/api/inventory-web01.json")
api_run "$API_DIR"/0*.api
log "data files passed on PostgreSQL"

# Replica B: same database, same master key, its own certificate.
server_start b "$T/b" "$DB" --master-key "$MASTER" --heartbeat-timeout 60
URL_B=$URL
CACERT_B=$T/b/server.pem

# A task made through A is seen and driven through B.
URL=$URL_A
expect_exit 0 ctl --json tasks create --source "$SOURCE" --target 10.0.0.9 --disk 40G --disk 101G --name replicated
TASK=$(jq -r .id "$T/out")
URL=$URL_B CACERT=$CACERT_B
expect_exit 0 ctl --json tasks list
[ "$(jq -r --arg t "$TASK" '.items[] | select(.id == $t) | .name' "$T/out")" = replicated ] ||
	fail "replica B does not see the task created on A"
# An agent long-polling B gets the command an operator queued on A
# (B polls the database every second). First take what the data files
# left queued.
for i in 1 2 3 4; do
	URL=$URL_B CACERT=$CACERT_B ctl raw GET "/v1/agent/commands?source_id=$SOURCE&wait=0" >/dev/null 2>&1
done
python3 "$API_DIR/signclient.py" "$URL_B" "$CACERT_B" "$AK" "$SK" get \
	"/v1/agent/commands?source_id=$SOURCE&wait=20" >"$T/poll" &
POLL=$!
sleep 1
URL=$URL_A CACERT=$T/a/server.pem
expect_exit 0 ctl tasks start "$TASK"
wait "$POLL" || fail "long poll on B failed"
jq -e --arg t "$TASK" '.commands[] | select(.type == "start" and .task_id == $t)' "$T/poll" >/dev/null ||
	{ cat "$T/poll"; fail "the agent on B did not get the command queued on A"; }
# The result goes to B; A sees the state change.
CMD=$(jq -r '.commands[] | select(.type == "start") | .id' "$T/poll")
URL=$URL_B CACERT=$CACERT_B
expect_exit 0 ctl raw POST "/v1/agent/commands/$CMD/result" --data "{\"source_id\": \"$SOURCE\", \"status\": \"done\"}"
URL=$URL_A CACERT=$T/a/server.pem
expect_exit 0 ctl --json tasks show "$TASK"
[ "$(jq -r .state "$T/out")" = continuous_sync ] || fail "A does not see B's change: $(jq -r .state "$T/out")"
log "two replicas share tasks and commands"

# The same action at the same moment on both replicas: exactly one wins.
ok=0
for round in 1 2 3; do
	URL=$URL_A CACERT=$T/a/server.pem ctl raw POST "/v1/tasks/$TASK/actions/pause" >"$T/ra" 2>&1 &
	PA=$!
	URL=$URL_B CACERT=$CACERT_B ctl raw POST "/v1/tasks/$TASK/actions/pause" >"$T/rb" 2>&1 &
	PB=$!
	ra=0 rb=0
	wait "$PA" || ra=$?
	wait "$PB" || rb=$?
	[ $((ra + rb)) -eq 1 ] || { cat "$T/ra" "$T/rb"; fail "round $round: both or neither pause won"; }
	grep -q 'cannot pause a task that is paused' "$T/ra" "$T/rb" || fail "loser got no clear error"
	ctl raw POST "/v1/tasks/$TASK/actions/resume" >/dev/null 2>&1 || fail "resume"
	ok=$((ok + 1))
done
log "concurrent actions: one winner each time"

# Restart both: everything is still there.
URL=$URL_A CACERT=$T/a/server.pem
ctl raw GET "/v1/tasks/$TASK" 2>/dev/null | jq -S 'del(.progress.elapsed_seconds)' >"$T/before"
kill_wait "$(cat "$T/a.pid")"
kill_wait "$(cat "$T/b.pid")"
server_start a2 "$T/a" "$DB" --master-key "$MASTER"
ctl raw GET "/v1/tasks/$TASK" 2>/dev/null | jq -S 'del(.progress.elapsed_seconds)' >"$T/after"
diff "$T/before" "$T/after" || fail "task changed across a restart"
# A replica with another master key is refused.
printf '%064d\n' 9 >"$T/wrong.key"
chmod 600 "$T/wrong.key"
expect_exit 1 "$REHOST" server --listen 127.0.0.1:0 --state-dir "$T/c" --master-key "$T/wrong.key" --db "$DB"
assert_grep 'does not match the database' "$T/err"
log "restart passed"

# The servers stopped cleanly, without sanitizer reports (ASan builds).
kill_wait "$(cat "$T/a2.pid")"
for f in a b a2; do
	assert_grep 'stopping on signal 15' "$T/$f.log"
	assert_no_grep 'Sanitizer|runtime error' "$T/$f.log"
done
