#!/usr/bin/env bash
# --progress of rehost migrate, to the character: the log line in the seed's
# field names every 5 s and at the end, one JSON object per line on stdout,
# the bar on stderr ended by a newline, and nothing with none. Docs
# (docs/replication.md, "Progress") and scripts match this text.
# ctest: timing (a rate-limited copy of about 6 s)
. "$(dirname "$0")/functions.sh"
requires_root

"$REHOST" keygen "$T/keys" >/dev/null
head -c 24M /dev/urandom >"$T/src.img"
mkdir -p "$T/tgt"
# --replace: each run below is a new job on the same target directory.
port=$(start_daemon target "$T/port" "$REHOST" target --listen 127.0.0.1:0 --port-file "$T/port" \
	--keys "$T/keys" --disk-dir "$T/tgt" --replace)
total=$((24 << 20))
migrate() {
	local mode=$1
	shift
	expect_exit 0 "$REHOST" migrate --disk "$T/src.img" --to "127.0.0.1:$port" --keys "$T/keys" \
		--state-dir "$T/st-$mode" --compress off --progress "$mode" "$@"
}

# log: 24 MiB at 32 Mbit/s take about 6.3 s, so one line at 5 s and the last.
migrate log --limit-mbps 32
F='[0-9]+\.[0-9]{2}'
line="INFO  \[migrate\] migrate speed: $F Mbit/s, wire speed: $F Mbit/s, progress: [0-9]+\.[0-9], total size: $total, replicate size: [0-9]+, remaining: [0-9]+ s$"
grep -E 'migrate speed' "$T/err" >"$T/lines"
[ "$(wc -l <"$T/lines")" -eq 2 ] || { cat "$T/err" >&2; fail "expected 2 progress lines"; }
grep -vE "$line" "$T/lines" && fail "progress line not in the documented format"
assert_grep "progress: 100\.0, total size: $total, replicate size: $total, remaining: 0 s$" "$T/lines"
assert_no_grep 'migrate speed: 0\.00 ' "$T/lines"
assert_no_grep '\[#' "$T/err"
log "log: $(head -1 "$T/lines" | sed 's/.*\] //')"

# json: an object a second on stdout, the fields in the documented order.
migrate json --limit-mbps 64
obj='^\{"elapsed_s":[0-9]+\.[0-9],"total_bytes":'$total',"replicated_bytes":[0-9]+,"durable_bytes":[0-9]+,"wire_bytes":[0-9]+,"rate_mbit":[0-9]+\.[0-9],"wire_rate_mbit":[0-9]+\.[0-9],"remaining_s":-?[0-9]+\}$'
grep -vE "$obj" "$T/out" && fail "JSON progress line not in the documented format"
n=$(wc -l <"$T/out")
[ "$n" -ge 3 ] && [ "$n" -le 6 ] || { cat "$T/out" >&2; fail "$n JSON lines for a 3 s copy"; }
tail -1 "$T/out" | grep -qE "\"replicated_bytes\":$total,.*\"remaining_s\":0\}$" ||
	fail "last JSON line is not complete: $(tail -1 "$T/out")"
assert_no_grep 'migrate speed' "$T/err"
log "json: $n lines"

# bar: redrawn with \r on stderr, ended with a newline.
migrate bar
tr '\r' '\n' <"$T/err" | grep -E '^\[' >"$T/bars"
assert_grep '^\[#{30}\] 100% 24\.0 MiB/24\.0 MiB [0-9]+ Mbit/s \(wire [0-9]+\) ETA [0-9]+s   $' "$T/bars"
assert_no_grep 'migrate speed' "$T/err"
assert_grep 'migration complete' "$T/err"
# The last redraw ends its line: the next output starts on a new one.
assert_grep 'ETA [0-9?]+s?   $' "$T/err"
log "bar: $(tail -1 "$T/bars")"

# none: no progress at all.
migrate none
[ ! -s "$T/out" ] || fail "--progress none wrote to stdout"
assert_no_grep 'migrate speed|ETA' "$T/err"
cmp "$T/src.img" "$T/tgt/disk0.raw" || fail "target differs from source"
log ok
