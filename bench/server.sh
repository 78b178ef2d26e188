#!/usr/bin/env bash
# Benchmark of `rehost server` on SQLite: 1000 simulated agents (one
# process, one TLS connection each) heartbeating and reporting progress
# every 5 s while operators list tasks and sources. Reports p50/p99 latency
# per request kind and the server's CPU use. Goal: p99 < 50 ms.
#
#   bench/server.sh [AGENTS] [SECONDS]        (defaults 1000, 60)
#   REHOST=path/to/rehost bench/server.sh     (default build/rehost; use a
#                                              release build, not ASan)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REHOST=${REHOST:-$HERE/../build/rehost}
AGENTS=${1:-1000}
SECONDS_RUN=${2:-60}
OPERATORS=${OPERATORS:-4}
[ -x "$REHOST" ] || { echo "bench: no rehost binary at $REHOST (make first)" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/rehost-bench.XXXXXX")
SRV=
cleanup() {
	[ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

keys=$("$REHOST" server keys create --state-dir "$T/state" --tenant bench --json 2>/dev/null)
AK=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["access_key"])' <<<"$keys")
SK=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["secret_key"])' <<<"$keys")
"$REHOST" --log-level warn server --listen 127.0.0.1:0 --port-file "$T/port" \
	--state-dir "$T/state" --heartbeat-timeout 60 2>"$T/server.log" &
SRV=$!
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
[ -s "$T/port" ] || { cat "$T/server.log"; exit 1; }
URL=https://127.0.0.1:$(cat "$T/port")

cpu_ticks() { awk '{print $14 + $15}' "/proc/$SRV/stat"; }
BENCH_MARK=$T/mark python3 "$HERE/server-load.py" "$URL" "$T/state/server.pem" "$AK" "$SK" \
	"$AGENTS" "$OPERATORS" "$SECONDS_RUN" 5 >"$T/result" &
LOAD=$!
while [ ! -s "$T/mark" ] && kill -0 "$LOAD" 2>/dev/null; do sleep 0.2; done
c0=$(cpu_ticks); t0=$(date +%s.%N)
wait "$LOAD"
c1=$(cpu_ticks); t1=$(date +%s.%N)
hz=$(getconf CLK_TCK)
cat "$T/result"
awk -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v hz="$hz" -v n="$(nproc)" 'BEGIN {
	printf "server CPU: %.1f%% of one core (%.1f%% of %d cores) over %.0f s; threads: ",
	       (c1 - c0) / hz / (t1 - t0) * 100, (c1 - c0) / hz / (t1 - t0) * 100 / n, n, t1 - t0 }'
ls "/proc/$SRV/task" | wc -l
awk '/VmRSS/ {print "server RSS: " $2 " kB"}' "/proc/$SRV/status"
python3 - "$T/result" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
p99 = r["all"]["p99_ms"]
print("p99 over all requests: %.1f ms (goal < 50 ms): %s" % (p99, "met" if p99 < 50 else "NOT met"))
PY
