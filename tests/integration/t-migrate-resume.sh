#!/usr/bin/env bash
# kill -9 of the agent, then of the target, in the middle of a copy; the
# same command again resumes from the durable checkpoint (never from zero)
# and the result is identical to the source.
# ctest: timing (rates and timeouts: never beside a QEMU guest)
. "$(dirname "$0")/functions.sh"
requires qemu-img python3

"$REHOST" keygen "$T/keys" >/dev/null
src=$T/src.img
head -c 160M /dev/urandom >"$src"
size=$(stat -c %s "$src")

durable() { # durable bytes of disk 0 in a target checkpoint
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["disks"][0]["durable"])' "$1/rehost-target.json"
}
already() { # bytes the last run found already on the target
	sed -n 's/.* sent (.* on the wire, \([0-9]*\) already on the target).*/\1/p' "$T/err"
}

# --- kill -9 the agent ---
mkdir -p "$T/tgt1"
port=$(start_daemon target1 "$T/port1" "$REHOST" target --listen 127.0.0.1:0 --port-file "$T/port1" \
	--keys "$T/keys" --disk-dir "$T/tgt1")
"$REHOST" migrate --disk "$src" --to "127.0.0.1:$port" --keys "$T/keys" --state-dir "$T/st1" \
	--compress off --limit-mbps 200 --progress none 2>"$T/agent1.log" &
agent=$!
sleep 3
kill -9 "$agent"
wait "$agent" 2>/dev/null || true
sleep 0.5
d1=$(durable "$T/tgt1")
log "agent killed; target durable at $d1 of $size bytes"
[ "$d1" -gt 0 ] && [ "$d1" -lt "$size" ] || fail "expected a partial checkpoint, got $d1"

expect_exit 0 "$REHOST" migrate --disk "$src" --to "127.0.0.1:$port" --keys "$T/keys" \
	--state-dir "$T/st1" --compress off --progress log
assert_grep 'resuming job' "$T/err"
a1=$(already)
[ "$a1" -ge "$d1" ] || fail "resume re-sent from $a1, below the durable $d1"
qemu-img compare -q -f raw -F raw "$src" "$T/tgt1/disk0.raw" || fail "result differs after agent kill"

# --- kill -9 the target ---
mkdir -p "$T/tgt2"
port=$(start_daemon target2 "$T/port2" "$REHOST" target --listen 127.0.0.1:0 --port-file "$T/port2" \
	--keys "$T/keys" --disk-dir "$T/tgt2")
tpid=$(cat "$T/target2.pid")
rc=0
( sleep 3; kill -9 "$tpid" ) &
"$REHOST" migrate --disk "$src" --to "127.0.0.1:$port" --keys "$T/keys" --state-dir "$T/st2" \
	--compress off --limit-mbps 200 --progress none 2>"$T/agent2.log" || rc=$?
wait
[ "$rc" -eq 1 ] || fail "agent exited $rc when the target died, expected 1"
assert_grep 'run the same command again to resume' "$T/agent2.log"
d2=$(durable "$T/tgt2")
log "target killed; durable at $d2 of $size bytes"
[ "$d2" -gt 0 ] && [ "$d2" -lt "$size" ] || fail "expected a partial checkpoint, got $d2"

rm -f "$T/port3"
port=$(start_daemon target3 "$T/port3" "$REHOST" target --listen 127.0.0.1:0 --port-file "$T/port3" \
	--keys "$T/keys" --disk-dir "$T/tgt2")
# A restarted target may listen elsewhere: the job is the source disks.
expect_exit 0 "$REHOST" migrate --disk "$src" --to "127.0.0.1:$port" --keys "$T/keys" \
	--state-dir "$T/st2" --compress off --progress log
a2=$(already)
[ "$a2" -ge "$d2" ] || fail "resume after target kill re-sent from $a2, below the durable $d2"
qemu-img compare -q -f raw -F raw "$src" "$T/tgt2/disk0.raw" || fail "result differs after target kill"
log "ok: resumed at $a1 after agent kill ($d1 durable), at $a2 after target kill ($d2 durable)"
