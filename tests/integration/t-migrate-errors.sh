#!/usr/bin/env bash
# Failures keep data safe and say what to do: a full target stops with
# SMS.0805 and its disk is not marked complete; a source whose partition
# table changed between runs is refused with SMS.0515; a new job does not
# overwrite another job's disks; a rate limit holds within 10 %.
# ctest: slow
# ctest: timing (rates and timeouts: never beside a QEMU guest)
. "$(dirname "$0")/functions.sh"
requires_root
requires mkfs.ext4 sfdisk python3

"$REHOST" keygen "$T/keys" >/dev/null
disk_state() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["disks"][0]; print(d["state"], d["durable"])' "$1/rehost-target.json"
}

# --- target full: a 64 MiB filesystem receiving 120 MiB of data ---
make_image "$T/fs.img" 64M
mkfs.ext4 -q -F "$T/fs.img"
mount_dev "$(loop_attach "$T/fs.img")" "$T/small"
head -c 120M /dev/urandom >"$T/big.img"
port=$(start_daemon full "$T/port-full" "$REHOST" target --listen 127.0.0.1:0 \
	--port-file "$T/port-full" --keys "$T/keys" --disk-dir "$T/small")
expect_exit 1 "$REHOST" migrate --disk "$T/big.img" --to "127.0.0.1:$port" --keys "$T/keys" \
	--state-dir "$T/st-full" --compress off --progress none
assert_grep 'is full writing .*\[SMS\.0805\]' "$T/err"
assert_grep 'hint: ' "$T/err"
assert_grep 'run the same command again to resume' "$T/err"
read -r state durable < <(disk_state "$T/small")
[ "$state" = 1 ] || fail "full target left disk state $state, expected 1 (partial)"
log "target full: stopped with SMS.0805, disk partial at $durable bytes"

# --- layout changed between runs: SMS.0515 ---
src=$T/src.img
make_image "$src" 64M
partition_image "$src" dos 'size=20MiB'
head -c 20M /dev/urandom | dd of="$src" bs=1M seek=1 conv=notrunc status=none
mkdir -p "$T/tgt"
port=$(start_daemon tgt "$T/port-tgt" "$REHOST" target --listen 127.0.0.1:0 \
	--port-file "$T/port-tgt" --keys "$T/keys" --disk-dir "$T/tgt")
"$REHOST" migrate --disk "$src" --to "127.0.0.1:$port" --keys "$T/keys" --state-dir "$T/st" \
	--compress off --limit-mbps 40 --progress none 2>/dev/null &
agent=$!
sleep 2
kill -9 "$agent"
wait "$agent" 2>/dev/null || true
partition_image "$src" dos $'size=20MiB\nsize=20MiB'
expect_exit 1 "$REHOST" migrate --disk "$src" --to "127.0.0.1:$port" --keys "$T/keys" \
	--state-dir "$T/st" --progress none
assert_grep 'changed since the last run.*\[SMS\.0515\]' "$T/err"
# A new job must not silently overwrite the old job's target disks...
expect_exit 1 "$REHOST" migrate --disk "$src" --to "127.0.0.1:$port" --keys "$T/keys" \
	--state-dir "$T/st" --progress none --new-job
assert_grep 'holds disks of another migration job.*--replace' "$T/err"
assert_no_grep 'run the same command again' "$T/err"
read -r state durable < <(disk_state "$T/tgt")
[ "$state" = 1 ] && [ "$durable" -gt 0 ] || fail "refused job changed the checkpoint: $state $durable"
# ...unless the target operator says so.
port=$(start_daemon tgt2 "$T/port-tgt2" "$REHOST" target --listen 127.0.0.1:0 \
	--port-file "$T/port-tgt2" --keys "$T/keys" --disk-dir "$T/tgt" --replace)
expect_exit 0 "$REHOST" migrate --disk "$src" --to "127.0.0.1:$port" --keys "$T/keys" \
	--state-dir "$T/st" --progress none
cmp "$src" "$T/tgt/disk0.raw" || fail "new job's copy differs"
log "layout change refused with SMS.0515; new job needs --replace on the target"

# --- rate limit: 80 Mbit/s on the wire within 10 % ---
head -c 40M /dev/urandom >"$T/rate.img"
mkdir -p "$T/tgt-rate"
port=$(start_daemon rate "$T/port-rate" "$REHOST" target --listen 127.0.0.1:0 \
	--port-file "$T/port-rate" --keys "$T/keys" --disk-dir "$T/tgt-rate")
expect_exit 0 "$REHOST" migrate --disk "$T/rate.img" --to "127.0.0.1:$port" --keys "$T/keys" \
	--state-dir "$T/st-rate" --compress off --limit-mbps 80 --progress log
read -r wire secs < <(sed -n 's/.*(\([0-9]*\) on the wire.* in \([0-9.]*\) s$/\1 \2/p' "$T/err")
python3 - "$wire" "$secs" <<'PY' || fail "rate limit missed"
import sys
wire, secs = int(sys.argv[1]), float(sys.argv[2])
rate = wire * 8 / secs / 1e6
print(f"achieved {rate:.1f} Mbit/s for a limit of 80 ({wire} bytes in {secs} s)")
sys.exit(0 if abs(rate / 80 - 1) < 0.10 else 1)
PY

# --- a time-of-day window covering the whole day overrides --limit-mbps ---
head -c 20M /dev/urandom >"$T/rate2.img"
mkdir -p "$T/tgt-rate2"
port=$(start_daemon rate2 "$T/port-rate2" "$REHOST" target --listen 127.0.0.1:0 \
	--port-file "$T/port-rate2" --keys "$T/keys" --disk-dir "$T/tgt-rate2")
expect_exit 0 "$REHOST" migrate --disk "$T/rate2.img" --to "127.0.0.1:$port" --keys "$T/keys" \
	--state-dir "$T/st-rate2" --compress off --limit-mbps 500 --limit-window 00:00-24:00=40 \
	--progress log
read -r wire secs < <(sed -n 's/.*(\([0-9]*\) on the wire.* in \([0-9.]*\) s$/\1 \2/p' "$T/err")
python3 - "$wire" "$secs" <<'PY' || fail "rate window missed"
import sys
wire, secs = int(sys.argv[1]), float(sys.argv[2])
rate = wire * 8 / secs / 1e6
print(f"window: achieved {rate:.1f} Mbit/s for a window cap of 40")
sys.exit(0 if abs(rate / 40 - 1) < 0.10 else 1)
PY
expect_exit 2 "$REHOST" migrate --disk "$T/rate2.img" --to "127.0.0.1:$port" --keys "$T/keys" \
	--limit-window 8-18=5
assert_grep "expected HH:MM-HH:MM=MBIT" "$T/err"
