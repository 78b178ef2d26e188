#!/usr/bin/env bash
# A full target keeps what it wrote: an unthrottled copy into a 64 MiB
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
mount -t tmpfs -o size=64m,mode=0700 rehost-test "$T/small"
cleanup_fn umount "$T/small"
head -c 120M /dev/urandom >"$T/src.img"
port=$(start_daemon full "$T/port" "$REHOST" target --listen 127.0.0.1:0 \
	--port-file "$T/port" --keys "$T/keys" --disk-dir "$T/small")

# Unthrottled: no periodic checkpoint has to happen before the disk fills.
expect_exit 1 "$REHOST" migrate --disk "$T/src.img" --to "127.0.0.1:$port" --keys "$T/keys" \
	--state-dir "$T/st" --compress off --progress none
assert_grep 'is full writing .*\[SMS\.0805\]' "$T/err"
assert_grep 'run the same command again to resume' "$T/err"
assert_grep 'job stopped: .*is full writing .*\[SMS\.0805\]' "$T/full.log"
read -r state durable < <(disk_state "$T/small")
[ "$state" = 1 ] || fail "full target left disk state $state, expected 1 (partial)"
# 64 MiB hold the checkpoint and about 60 MiB of data in 4 MiB chunks.
[ "$durable" -ge $((52 * MiB)) ] && [ "$durable" -le $((64 * MiB)) ] ||
	fail "checkpoint at $durable bytes after the disk filled; expected what fit (52-64 MiB)"
log "disk full: SMS.0805 on both sides, checkpoint at $durable bytes"

# Free space, and run the same command again.
mount -o remount,size=256m "$T/small"
expect_exit 0 "$REHOST" migrate --disk "$T/src.img" --to "127.0.0.1:$port" --keys "$T/keys" \
	--state-dir "$T/st" --compress off --progress log
read -r sent already < <(sed -n 's/.* \([0-9]*\) sent (.* on the wire, \([0-9]*\) already on the target).*/\1 \2/p' "$T/err")
[ -n "$sent" ] || { cat "$T/err" >&2; fail "no summary line from migrate"; }
[ "$already" -eq "$durable" ] || fail "resume found $already bytes on the target, checkpoint said $durable"
[ "$sent" -eq $((120 * MiB - durable)) ] || fail "resume sent $sent bytes, expected the $((120 * MiB - durable)) not yet durable"
cmp "$T/src.img" "$T/small/disk0.raw" || fail "copy differs after resume"
log "ok: resume sent $sent of $((120 * MiB)) bytes"
