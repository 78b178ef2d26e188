#!/usr/bin/env bash
# --progress of the hashing phase of rehost sync and of block verify, to the
# character: JSON lines with "phase":"hash" and increasing figures ending at
# 100 %, the "sync hashing:" log line, the "hashing [...]" bar; the copy
# phase's lines keep the key set t-migrate-progress pins. Docs
# (docs/replication.md, "Progress") match this text.
# ctest: timing (hashing a sparse 8 GiB disk takes a few seconds)
. "$(dirname "$0")/functions.sh"
requires_root

"$REHOST" keygen "$T/keys" >/dev/null
# Sparse: the migrate sends zeros cheaply, every sync still hashes 8 GiB.
truncate -s 8G "$T/src.img"
head -c 4M /dev/urandom | dd of="$T/src.img" bs=1M seek=100 conv=notrunc status=none
mkdir -p "$T/tgt"
port=$(start_daemon target "$T/port" "$REHOST" target --listen 127.0.0.1:0 --port-file "$T/port" \
	--keys "$T/keys" --disk-dir "$T/tgt")
total=$((8 << 30))
A=(--disk "$T/src.img" --to "127.0.0.1:$port" --keys "$T/keys" --state-dir "$T/st")
expect_exit 0 "$REHOST" migrate "${A[@]}" --progress none
# A chunk that differs, so that the sync also copies.
head -c 64K /dev/urandom | dd of="$T/src.img" bs=64K seek=7 conv=notrunc status=none

# json: hash lines first, increasing, the last at 100 %; then copy lines
# with exactly the copy's keys.
expect_exit 0 "$REHOST" sync "${A[@]}" --progress json
hobj='^\{"phase":"hash","elapsed_s":[0-9]+\.[0-9],"total_bytes":'$total',"hashed_bytes":[0-9]+,"percent":[0-9]+\.[0-9],"rate_mbit":[0-9]+\.[0-9],"remaining_s":-?[0-9]+\}$'
cobj='^\{"elapsed_s":[0-9]+\.[0-9],"total_bytes":[0-9]+,"replicated_bytes":[0-9]+,"durable_bytes":[0-9]+,"wire_bytes":[0-9]+,"rate_mbit":[0-9]+\.[0-9],"wire_rate_mbit":[0-9]+\.[0-9],"remaining_s":-?[0-9]+\}$'
grep '"phase":"hash"' "$T/out" >"$T/hash"
grep '^{' "$T/out" | grep -v '"phase"' >"$T/copy"
grep -vE "$hobj" "$T/hash" && fail "JSON hash line not in the documented format"
grep -vE "$cobj" "$T/copy" && fail "JSON copy line not in the documented format"
n=$(wc -l <"$T/hash")
[ "$n" -ge 3 ] || { cat "$T/out" >&2; fail "$n JSON hash lines for hashing 8 GiB"; }
[ -s "$T/copy" ] || fail "no JSON copy lines"
# Hash lines all come before the copy's.
[ "$(head -"$n" "$T/out")" = "$(cat "$T/hash")" ] || fail "hash and copy lines interleaved"
sed -E 's/.*"elapsed_s":([0-9.]+),.*"hashed_bytes":([0-9]+),.*/\1 \2/' "$T/hash" |
	awk 'NR > 1 && ($1 < t || $2 <= b) { bad = 1 } { t = $1; b = $2 } END { exit bad }' ||
	{ cat "$T/hash" >&2; fail "hash figures do not increase"; }
tail -1 "$T/hash" | grep -qE "\"hashed_bytes\":$total,\"percent\":100\.0,.*\"remaining_s\":0\}$" ||
	fail "last hash line is not complete: $(tail -1 "$T/hash")"
assert_no_grep 'hashing:' "$T/err"
log "json: $n hash lines, $(wc -l <"$T/copy") copy lines"

# log: the hashing line (at least the final one), then the copy's lines.
expect_exit 0 "$REHOST" sync "${A[@]}" --progress log
line='INFO  \[migrate\] sync hashing: [0-9]+\.[0-9] %, [0-9.]+ [KMGT]?i?B of 8\.0 GiB, [0-9]+ MB/s, remaining ([0-9]+|\?) s$'
grep -E 'hashing:' "$T/err" >"$T/lines"
[ -s "$T/lines" ] || { cat "$T/err" >&2; fail "no hashing log line"; }
grep -vE "$line" "$T/lines" && fail "hashing log line not in the documented format"
tail -1 "$T/lines" | grep -qE 'sync hashing: 100\.0 %, 8\.0 GiB of 8\.0 GiB, [0-9]+ MB/s, remaining 0 s$' ||
	fail "last hashing line is not complete: $(tail -1 "$T/lines")"
assert_grep 'migrate speed: .*progress: 100\.0' "$T/err"
log "log: $(tail -1 "$T/lines" | sed 's/.*\] //')"

# block verify: the same hashing lines, and no copy lines.
expect_exit 0 "$REHOST" verify "${A[@]}" --progress json
grep "^{" "$T/out" | grep -vE "$hobj" && fail "verify JSON line is not a hash line"
grep "^{" "$T/out" | tail -1 | grep -qE '"percent":100\.0,' || fail "verify: last hash line not at 100 %"
expect_exit 0 "$REHOST" verify "${A[@]}" --progress log
assert_grep 'verify hashing: 100\.0 %, 8\.0 GiB of 8\.0 GiB' "$T/err"
assert_no_grep 'migrate speed' "$T/err"
expect_exit 0 "$REHOST" verify "${A[@]}" --progress bar
tr '\r' '\n' <"$T/err" | grep -E '^hashing \[' >"$T/bars"
assert_grep '^hashing \[#{30}\] 100% 8\.0 GiB/8\.0 GiB [0-9]+ MB/s ETA [0-9]+s   $' "$T/bars"
log "verify bar: $(tail -1 "$T/bars")"
cmp "$T/src.img" "$T/tgt/disk0.raw" || fail "target differs from source"
log ok
