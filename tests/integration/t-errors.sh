#!/usr/bin/env bash
# `rehost errors` lists every SMS.xxxx code and every uncoded message of
# INVENTORY.md §6, and explains single codes.
. "$(dirname "$0")/functions.sh"

inv=$REHOST_SRCDIR/../shared/seeds/INVENTORY.md
[ -f "$inv" ] || skip "$inv not found (CI places shared/ beside the checkout)"

expect_exit 0 "$REHOST" errors
cp "$T/out" "$T/list"

# Every code in §6 (from its heading to §7) is listed.
sed -n '/^## 6\./,/^## 7\./p' "$inv" | grep -oE 'SMS\.[0-9]{4}' | sort -u >"$T/want"
[ -s "$T/want" ] || fail "found no codes in $inv"
while read -r code; do
	grep -q "^$code " "$T/list" || fail "rehost errors does not list $code"
done <"$T/want"

# Every row of the §6.2 table (messages without a code) has an MSG entry.
# Rows of the table, less its header ("| Message") and rule ("|---").
rows=$(sed -n '/^### 6\.2/,/^## 7\./p' "$inv" | grep -cE '^\| [^M-][^|]*\|' || true)
msgs=$(grep -c '^MSG\.' "$T/list")
[ "$msgs" -ge "$rows" ] || fail "§6.2 has $rows messages, catalogue has $msgs MSG entries"

# Explain one code, by full code and by number, in both languages.
expect_exit 0 "$REHOST" errors SMS.1807
assert_grep '^SMS\.1807$' "$T/out"
assert_grep 'message: .*8900' "$T/out"
assert_grep 'original: .*8900' "$T/out"
assert_grep 'action: ' "$T/out"
expect_exit 0 "$REHOST" errors 0805
assert_grep '^SMS\.0805$' "$T/out"

# JSON output is valid and complete.
expect_exit 0 "$REHOST" errors --json
n=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert all(set(e)=={"code","message_en","message_zh","cause","action"} for e in d); print(len(d))' "$T/out")
[ "$n" -eq "$(wc -l <"$T/list")" ] || fail "--json has $n entries, text has $(wc -l <"$T/list")"

# Unknown code: exit 1, says what to do.
expect_exit 1 "$REHOST" errors SMS.9999
assert_grep "unknown code 'SMS.9999'.*rehost errors" "$T/err"
log "ok: $(wc -l <"$T/want") codes from §6 present, $msgs MSG entries"
