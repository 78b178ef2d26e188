#!/usr/bin/env bash
# A full target keeps what it wrote: an unthrottled copy into a 20 MiB
# tmpfs fails with SMS.0805 on both sides, but the target checkpoints the
# data that fit before reporting it; once there is space, the same command
# sends only the rest.
. "$(dirname "$0")/functions.sh"
requires_root
requires python3 cmp

"$REHOST" keygen "$T/keys" >/dev/null
MiB=1048576
disk_state() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["disks"][0]; print(d["state"], d["durable"])' "$1/rehost-target.json"
}

mkdir -p "$T/small"
mount -t tmpfs -o size=20m,mode=0700 rehost-test "$T/small"
cleanup_fn umount "$T/small"
head -c 48M /dev/urandom >"$T/src.img"
port=$(start_daemon full "$T/port" "$REHOST" target --listen 127.0.0.1:0 \
	--port-file "$T/port" --keys "$T/keys" --disk-dir "$T/small")

# Unthrottled, and less than the 24 MiB checkpoint interval fits: no
# periodic checkpoint happens before the disk is full, only the last one.
expect_exit 1 "$REHOST" migrate --disk "$T/src.img" --to "127.0.0.1:$port" --keys "$T/keys" \
	--state-dir "$T/st" --compress off --progress none
assert_grep 'is full writing .*\[SMS\.0805\]' "$T/err"
assert_grep 'run the same command again to resume' "$T/err"
# The checkpoint is written before the error goes out, so it can be read
# as soon as the agent has the error; the target's log line follows.
read -r state durable < <(disk_state "$T/small")
for ((i = 0; i < 100; i++)); do
	grep -q 'job stopped' "$T/full.log" && break
	sleep 0.1
done
assert_grep 'job stopped: .*is full writing .*\[SMS\.0805\]' "$T/full.log"
[ "$state" = 1 ] || fail "full target left disk state $state, expected 1 (partial)"
# 20 MiB hold the checkpoint, its 1 MiB reserve and 4 whole 4 MiB chunks.
[ "$durable" -ge $((12 * MiB)) ] && [ "$durable" -le $((20 * MiB)) ] ||
	fail "checkpoint at $durable bytes after the disk filled; expected what fit (12-20 MiB)"
log "disk full: SMS.0805 on both sides, checkpoint at $durable bytes"

# Free space, and run the same command again.
mount -o remount,size=256m "$T/small"
expect_exit 0 "$REHOST" migrate --disk "$T/src.img" --to "127.0.0.1:$port" --keys "$T/keys" \
	--state-dir "$T/st" --compress off --progress log
read -r sent already < <(sed -n 's/.* \([0-9]*\) sent (.* on the wire, \([0-9]*\) already on the target).*/\1 \2/p' "$T/err")
[ -n "$sent" ] || { cat "$T/err" >&2; fail "no summary line from migrate"; }
[ "$already" -eq "$durable" ] || fail "resume found $already bytes on the target, checkpoint said $durable"
[ "$sent" -eq $((48 * MiB - durable)) ] || fail "resume sent $sent bytes, expected the $((48 * MiB - durable)) not yet durable"
cmp "$T/src.img" "$T/small/disk0.raw" || fail "copy differs after resume"
log "ok: resume sent $sent of $((48 * MiB)) bytes"
