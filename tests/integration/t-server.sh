#!/usr/bin/env bash
# rehost server on SQLite: every endpoint through the request/answer data
# files (tests/data/api/*.api), signatures (bad, forged, expired,
# replayed, disabled key), tenants, pagination over 1000 sources, and a
# restart that keeps all state.
# ctest: slow
. "$(dirname "$0")/functions.sh"
. "$REHOST_SRCDIR/tests/data/api/run.sh"
requires jq curl python3 openssl

STATE=$T/state
DB=sqlite:$T/rehost.db
CACERT=$STATE/server.pem

# Keys are made before the first start; the master key is created 0600.
server_keys "$STATE" "$DB" acme
[ "$(stat -c %a "$STATE/master.key")" = 600 ] || fail "master key is not 0600"
grep -q "$SK" "$T/rehost.db" && fail "the secret key is stored in clear"
expect_exit 0 "$REHOST" server keys list --state-dir "$STATE" --db "$DB"
assert_grep "^$AK +acme +enabled" "$T/out"

server_start srv "$STATE" "$DB" --heartbeat-timeout 60
[ -s "$CACERT" ] || fail "no self-signed certificate generated"
openssl x509 -in "$CACERT" -noout -ext subjectAltName | grep -q 'IP Address:127.0.0.1' ||
	fail "certificate lacks 127.0.0.1"
export INVENTORY
INVENTORY=$(jq -c . "$REHOST_SRCDIR/tests/data/api/inventory-web01.json")

api_run "$API_DIR"/0*.api
# The same files work through the C client too.
api_run_ctl "$API_DIR/01-open.api"
log "data files passed"

# The OpenAPI description is open, served from the binary, byte for byte
# docs/openapi.json, and a valid document.
curl -sS --fail --cacert "$CACERT" -o "$T/openapi.json" -D "$T/openapi.hdr" "$URL/v1/openapi.json" ||
	fail "GET /v1/openapi.json failed"
cmp "$T/openapi.json" "$REHOST_SRCDIR/docs/openapi.json" ||
	fail "the served OpenAPI document differs from docs/openapi.json"
grep -qi '^content-type: application/json' "$T/openapi.hdr" || fail "openapi.json: wrong Content-Type"
"$PYTHON" "$API_DIR/openapi_check.py" "$T/openapi.json" || fail "docs/openapi.json is not a valid document"

# ---- signatures ----
expect_exit 1 ctl raw GET /v1/sources --forge
assert_grep '"code":"SMS.0202"' "$T/out"
assert_grep 'signature does not match' "$T/out"
api_check GET /v1/sources 401 "$T/out"
expect_exit 1 ctl raw GET /v1/sources --skew -1000
assert_grep '"code":"SMS.0205"' "$T/out"
assert_grep '"reason":"clock-skew"' "$T/out"
api_check GET /v1/sources 401 "$T/out"
expect_exit 1 ctl raw GET /v1/sources --skew 1000
assert_grep '"code":"SMS.0205"' "$T/out"
expect_exit 0 ctl raw GET /v1/sources --skew 800
expect_exit 0 ctl raw GET /v1/sources --nonce replay-nonce-0123456789
expect_exit 1 ctl raw GET /v1/sources --nonce replay-nonce-0123456789
assert_grep '"reason":"replayed"' "$T/out"
api_check GET /v1/sources 401 "$T/out"
expect_exit 1 ctl raw GET /v1/sources --nonce short
assert_grep 'X-Rehost-Nonce must be' "$T/out"
# Unsigned, malformed and unknown keys.
curl -s --cacert "$CACERT" "$URL/v1/sources" >"$T/out"
assert_grep 'not signed' "$T/out"
api_check GET /v1/sources 401 "$T/out"
curl -s --cacert "$CACERT" -H 'Authorization: AWS4-HMAC-SHA256 junk' "$URL/v1/sources" >"$T/out"
assert_grep '"code":"SMS.0202"' "$T/out"
AK=RHAKUNKNOWNUNKNOWN00 expect_exit 1 ctl raw GET /v1/sources
assert_grep 'unknown access key' "$T/out"
expect_exit 1 ctl raw GET '/v1/sources/src%2Dnone%20x'
assert_grep 'no source src-none x' "$T/out"
expect_exit 1 env REHOST_URL="$URL" REHOST_AK="$AK" REHOST_SK="$SK" "$REHOST" ctl sources list
assert_grep 'certificate' "$T/err"
# A disabled key is refused at once; enabling it again works.
expect_exit 0 "$REHOST" server keys disable "$AK" --state-dir "$STATE" --db "$DB"
expect_exit 1 ctl raw GET /v1/sources
assert_grep 'disabled' "$T/out"
expect_exit 0 "$REHOST" server keys enable "$AK" --state-dir "$STATE" --db "$DB"
expect_exit 0 ctl raw GET /v1/sources
curl -s --cacert "$CACERT" "$URL/metrics" >"$T/out"
assert_grep 'rehost_auth_failures_total\{reason="replayed"\} 1' "$T/out"
assert_grep 'rehost_auth_failures_total\{reason="clock-skew"\} 2' "$T/out"
log "signature checks passed"

# ---- a body over the limit is refused from its Content-Length alone ----
# Headers only, no body: the 413 must come before any body byte is sent
# (a server that waited for the body would answer nothing within 5 s).
python3 - "$URL" "$CACERT" >"$T/out" 2>&1 <<'PY' || { cat "$T/out" >&2; fail "no early 413"; }
import socket, ssl, sys, time, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
ctx = ssl.create_default_context(cafile=sys.argv[2])
with socket.create_connection((u.hostname, u.port), timeout=5) as raw:
    with ctx.wrap_socket(raw, server_hostname=u.hostname) as s:
        t0 = time.monotonic()
        s.sendall(b"POST /v1/sources HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1073741824\r\n\r\n")
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        print(got.split(b"\r\n")[0].decode(), "after %.2f s" % (time.monotonic() - t0))
        sys.exit(0 if got.startswith(b"HTTP/1.1 413") else 1)
PY
assert_grep '^HTTP/1.1 413' "$T/out"
log "oversized body refused early: $(cat "$T/out")"

# ---- an ordinary client: curl's own AWS Signature Version 4 ----
# scurl ARGS...: curl signing for service "rehost" (any region name).
scurl() {
	curl -s --cacert "$CACERT" --aws-sigv4 "aws:amz:eu-test-1:rehost" --user "$AK:$SK" "$@"
}
scurl -o "$T/out" -w '%{http_code}\n' "$URL/v1/sources" >"$T/code"
assert_grep '^200$' "$T/code"
assert_grep '"items":' "$T/out"
# curl 7.88 signs the query as typed: written sorted and encoded, it verifies.
scurl -o "$T/out" -w '%{http_code}\n' "$URL/v1/sources?limit=5&name=web" >"$T/code"
assert_grep '^200$' "$T/code"
# Tampered: the right access key with another secret.
curl -s --cacert "$CACERT" --aws-sigv4 "aws:amz:eu-test-1:rehost" --user "$AK:x$SK" \
	"$URL/v1/sources" >"$T/out"
assert_grep '"code":"SMS.0202"' "$T/out"
assert_grep 'signature does not match' "$T/out"
api_check GET /v1/sources 401 "$T/out"
# Another service in the scope is refused by name.
curl -s --cacert "$CACERT" --aws-sigv4 "aws:amz:eu-test-1:s3" --user "$AK:$SK" \
	"$URL/v1/sources" >"$T/out"
assert_grep "sign for service 'rehost'" "$T/out"
# Stale: a date 20 minutes old (curl signs with the X-Amz-Date it is given).
scurl -H "X-Amz-Date: $(date -u -d '-20 min' +%Y%m%dT%H%M%SZ)" "$URL/v1/sources" >"$T/out"
assert_grep '"code":"SMS.0205"' "$T/out"
assert_grep '"reason":"clock-skew"' "$T/out"
api_check GET /v1/sources 401 "$T/out"
# Replayed: the same signed change twice (same date, same body) is refused
# the second time; the same signed read may be repeated.
d=$(date -u +%Y%m%dT%H%M%SZ)
scurl -H "X-Amz-Date: $d" -H 'Content-Type: application/json' -d '{"name":""}' \
	"$URL/v1/tasks" >"$T/out"
assert_no_grep '"reason":"replayed"' "$T/out"
assert_no_grep '"code":"SMS.0202"' "$T/out"
scurl -H "X-Amz-Date: $d" -H 'Content-Type: application/json' -d '{"name":""}' \
	"$URL/v1/tasks" >"$T/out"
assert_grep '"reason":"replayed"' "$T/out"
api_check POST /v1/tasks 401 "$T/out"
for _ in 1 2; do
	scurl -o /dev/null -w '%{http_code}\n' -H "X-Amz-Date: $d" "$URL/v1/sources" >"$T/code"
	assert_grep '^200$' "$T/code"
done
log "curl --aws-sigv4: signed, tampered, stale and replayed requests answered as documented"

# ---- tenants: another tenant sees nothing of acme's ----
ACME_AK=$AK ACME_SK=$SK
server_keys "$STATE" "$DB" other
expect_exit 0 ctl --json sources list
[ "$(jq .total "$T/out")" = 0 ] || fail "tenant 'other' sees acme's sources"
expect_exit 1 ctl sources show "$SOURCE"
assert_grep 'no source' "$T/err"
AK=$ACME_AK SK=$ACME_SK

# ---- the CLI ----
expect_exit 0 ctl sources list
assert_grep "^$SOURCE +web01 +connected" "$T/out"
expect_exit 0 ctl sources show "$SOURCE"
assert_grep 'firmware|bios' "$T/out"
expect_exit 0 ctl sources estimate "$SOURCE" --bandwidth 100
assert_grep '^4\.77 h' "$T/out"
expect_exit 1 ctl tasks create --source "$SOURCE" --target 10.0.0.9 --disk 40G
assert_grep 'MSG.target-disk-count' "$T/err"
expect_exit 0 ctl --json tasks create --source "$SOURCE" --target 10.0.0.9:8900 --disk 40G --disk 101G \
	--compress-threads 2 --buffer-size 2M --rate-limit 08:00-18:00=100 --rate-limit 500 --cpu-limit 50 \
	--memory-limit 300M --name cli-task --continuous-sync no
CLI_TASK=$(jq -r .id "$T/out")
[ "$(jq -r .config.auto_cutover "$T/out")" = true ] || fail "continuous sync off should cut over automatically"
[ "$(jq -r '.config.rate_limit[0].from' "$T/out")" = 08:00 ] || fail "rate-limit window lost"
cat >"$T/task.json" <<JSON
{"source_id": "$SOURCE", "mode": "file", "target": {"address": "10.0.0.9", "disks": [{"size_bytes": 42949672960}, {"size_bytes": 108447924224}]}, "exclude_paths": ["/var/cache"]}
JSON
expect_exit 0 ctl tasks create --file "$T/task.json"
assert_grep '^state: +configured' "$T/out"
expect_exit 0 ctl tasks set "$CLI_TASK" compress_threads=1 name=renamed
assert_grep '^name: +renamed' "$T/out"
expect_exit 0 ctl tasks start "$CLI_TASK"
assert_grep 'start -> running' "$T/out"
expect_exit 1 ctl tasks cutover "$CLI_TASK"
assert_grep 'cannot cutover a task that is running' "$T/err"
expect_exit 0 ctl tasks list --state running
assert_grep "$CLI_TASK" "$T/out"

# tasks watch follows the agent's progress to the end of the full copy
# (continuous sync off: the server then cuts over by itself).
CMD=$(ctl raw GET "/v1/agent/commands?source_id=$SOURCE&wait=2" 2>/dev/null | jq -r '.commands[] | select(.type == "start") | .id')
[ -n "$CMD" ] || fail "no start command for the agent"
(
	for p in 10 40 70; do
		ctl raw POST /v1/agent/progress --data "{\"source_id\": \"$SOURCE\", \"task_id\": \"$CLI_TASK\", \"percent\": $p, \"total_bytes\": 1000000000, \"migrated_bytes\": $((p * 10000000))}" >/dev/null 2>&1
		sleep 2.6
	done
	ctl raw POST "/v1/agent/commands/$CMD/result" --data "{\"source_id\": \"$SOURCE\", \"status\": \"done\"}" >/dev/null 2>&1
	# Continuous sync is off, so the server cuts over by itself.
	CUT=$(ctl raw GET "/v1/agent/commands?source_id=$SOURCE&wait=10" 2>/dev/null | jq -r '.commands[] | select(.type == "cutover") | .id')
	sleep 1.5
	ctl raw POST "/v1/agent/commands/$CUT/result" --data "{\"source_id\": \"$SOURCE\", \"status\": \"done\"}" >/dev/null 2>&1
) &
AGENT=$!
cleanup_fn kill_wait "$AGENT"
ctl tasks watch "$CLI_TASK" --interval 1 --timeout 30 >"$T/watch" 2>&1 || { cat "$T/watch"; fail "watch failed"; }
wait "$AGENT"
assert_grep '\[#+\.+\] +40\.0%' "$T/watch"
assert_grep '70\.0% +[1-9][0-9.]* Mbit/s' "$T/watch"
assert_grep 'cutting_over' "$T/watch"
assert_grep 'is completed' "$T/watch"
expect_exit 0 ctl tasks show "$CLI_TASK"
assert_grep '^state: +completed' "$T/out"
log "CLI passed"

# ---- pagination over 1000 sources (the per-tenant maximum) ----
server_keys "$STATE" "$DB" big
# An independent signer (Python's hmac) registers them over one connection.
"$PYTHON" "$API_DIR/signclient.py" "$URL" "$CACERT" "$AK" "$SK" bulk-register 1000 bulk ||
	fail "bulk registration failed"
expect_exit 1 ctl raw POST /v1/agent/register --data '{"agent_id": "bulk-1000", "inventory": {}}'
assert_grep '"reason":"limit-reached"' "$T/out"
assert_grep '1000 source servers' "$T/out"
: >"$T/all"
for off in 0 300 600 900; do
	ctl raw GET "/v1/sources?limit=300&offset=$off" 2>/dev/null | jq -r '.items[].name' >>"$T/all"
done
[ "$(wc -l <"$T/all")" = 1000 ] || fail "pages hold $(wc -l <"$T/all") sources, not 1000"
[ "$(sort -u "$T/all" | wc -l)" = 1000 ] || fail "pages overlap"
sort -c "$T/all" || fail "pages are not in name order"
expect_exit 0 ctl raw GET "/v1/sources?limit=1000&name=bulk-099"
[ "$(jq .total "$T/out")" = 10 ] || fail "name filter"
log "1000 sources paginated"

# ---- restart keeps all state ----
AK=$ACME_AK SK=$ACME_SK
ctl raw GET "/v1/tasks/$CLI_TASK" 2>/dev/null | jq -S 'del(.progress.elapsed_seconds)' >"$T/before"
kill_wait "$(cat "$T/srv.pid")"
server_start srv2 "$STATE" "$DB" --heartbeat-timeout 60
ctl raw GET "/v1/tasks/$CLI_TASK" 2>/dev/null | jq -S 'del(.progress.elapsed_seconds)' >"$T/after"
diff "$T/before" "$T/after" || fail "task changed across a restart"
expect_exit 0 ctl --json sources list --limit 1
[ "$(jq .total "$T/out")" = 1 ] || fail "sources lost across a restart"
# The nonce cache survives too.
expect_exit 1 ctl raw GET /v1/sources --nonce replay-nonce-0123456789
assert_grep '"reason":"replayed"' "$T/out"
# A wrong master key is detected, not silently used.
mkdir "$T/other"
expect_exit 1 "$REHOST" server keys list --state-dir "$T/other" --master-key "$STATE/nope" --db "$DB"
printf '%064d\n' 7 >"$T/other/master.key"; chmod 600 "$T/other/master.key"
expect_exit 1 "$REHOST" server --listen 127.0.0.1:0 --state-dir "$T/other" --db "$DB"
assert_grep 'does not match the database' "$T/err"
chmod 644 "$T/other/master.key"
expect_exit 1 "$REHOST" server keys list --state-dir "$T/other" --db "$DB"
assert_grep 'chmod 600' "$T/err"
log "restart passed"

# The servers stopped cleanly, without sanitizer reports (ASan builds).
kill_wait "$(cat "$T/srv2.pid")"
assert_grep 'stopping on signal 15' "$T/srv.log"
assert_grep 'stopping on signal 15' "$T/srv2.log"
assert_no_grep 'Sanitizer|runtime error' "$T/srv.log"
assert_no_grep 'Sanitizer|runtime error' "$T/srv2.log"
