#!/usr/bin/env bash
# rehost sync after rehost migrate: changed files (new, modified, deleted,
# a large file rewritten in the middle) reach the target and only changed
# chunks travel; no-change syncs send nothing; chunks written on the target
# are counted and overwritten; an interrupted sync is rerun; --freeze
# freezes and always thaws (timeout, kill -9); --continuous cycles.
# ctest: slow
. "$(dirname "$0")/functions.sh"
requires_root
requires sfdisk mkfs.ext4 e2fsck python3 timeout

"$REHOST" keygen "$T/keys" >/dev/null
src=$T/src.img
make_image "$src" 400M
partition_image "$src" gpt 'size=+'
mkfs_part "$src" 1 ext4 -L data
dev=$(loop_attach_part "$src" 1)
mount_dev "$dev" "$T/m"
cp -a /usr/share/doc/bash "$T/m/doc"
head -c 40M /dev/urandom >"$T/m/big.bin"
head -c 1M /dev/urandom >"$T/m/small.bin"
sync
mkdir -p "$T/tgt"
port=$(start_daemon target "$T/port" "$REHOST" target --listen 127.0.0.1:0 --port-file "$T/port" \
	--keys "$T/keys" --disk-dir "$T/tgt")
A=(--disk "$src" --to "127.0.0.1:$port" --keys "$T/keys" --state-dir "$T/st" --progress log)

expect_exit 1 "$REHOST" sync "${A[@]}"
assert_grep 'no migration job for these disks.*run rehost migrate' "$T/err"
umount "$T/m"
expect_exit 0 "$REHOST" migrate "${A[@]}"

same() { # the target equals the source
	cmp -s "$src" "$T/tgt/disk0.raw" || fail "target differs from source after $1"
}
sent() { sed -n 's/.* \([0-9]*\) bytes sent (.*/\1/p' "$T/err" | tail -1; }
differed() { sed -n 's/.* \([0-9]*\) differed, .*/\1/p' "$T/err" | tail -1; }

# --- changes on the mounted source ---
mount "$dev" "$T/m"
echo "new file" >"$T/m/new.txt"
head -c 300K /dev/urandom >"$T/m/small.bin"            # modified
rm -rf "$T/m/doc/CHANGES"*                             # deleted
dd if=/dev/urandom of="$T/m/big.bin" bs=1M seek=20 count=1 conv=notrunc status=none # middle
umount "$T/m"
expect_exit 0 "$REHOST" sync "${A[@]}"
same "the first sync"
b=$(sent)
log "first sync: $(differed) chunks differed, $b bytes sent"
# ~1.3 MiB of file data changed plus metadata: far below a full copy.
[ "$b" -gt 0 ] && [ "$b" -lt $((8 << 20)) ] || fail "first sync sent $b bytes"

# --- nothing changed: nothing sent ---
expect_exit 0 "$REHOST" sync "${A[@]}"
[ "$(sent)" = 0 ] || fail "no-change sync sent $(sent) bytes"
assert_grep 'source chunks changed since the last sync: 0;' "$T/err"

# --- a write on the target is counted and overwritten ---
printf 'scribble' | dd of="$T/tgt/disk0.raw" bs=1 seek=$((1048576 + 30 * 1048576)) conv=notrunc status=none
expect_exit 0 "$REHOST" sync "${A[@]}"
assert_grep 'target chunks changed: 1;' "$T/err"
same "overwriting a target change"
e2fsck -fn "$(loop_attach_part "$T/tgt/disk0.raw" 1)" >/dev/null 2>&1 || fail "target ext4 fails fsck"

# --- kill -9 the agent mid-sync, then rerun ---
mount "$dev" "$T/m"
head -c 30M /dev/urandom >"$T/m/big.bin"
umount "$T/m"
"$REHOST" sync "${A[@]}" --limit-mbps 40 2>"$T/killed.log" &
agent=$!
sleep 2
kill -9 "$agent"
wait "$agent" 2>/dev/null || true
expect_exit 0 "$REHOST" sync "${A[@]}"
same "a sync killed and rerun"

# --- freeze: consistent final pass, always thawed ---
mount "$dev" "$T/m"
head -c 5M /dev/urandom >"$T/m/during.bin"
expect_exit 0 "$REHOST" sync "${A[@]}" --freeze "$T/m"
assert_grep 'froze .*/m' "$T/err"
assert_grep 'thawed 1 filesystem after' "$T/err"
assert_grep '^final sync: [0-9]+ bytes sent, filesystems frozen for [0-9.]+ s' "$T/out"
# The frozen pass copied a consistent state of the mounted filesystem: the
# target's ext4 is clean (a frozen ext4 is written without the recovery
# flag, which thawing sets again on the source) and holds the new file.
tdev=$(loop_attach_part "$T/tgt/disk0.raw" 1)
e2fsck -fn "$tdev" >"$T/fsck.log" 2>&1 || { cat "$T/fsck.log" >&2; fail "frozen copy is not clean"; }
mount_dev "$tdev" "$T/tm" ro
cmp "$T/m/during.bin" "$T/tm/during.bin" || fail "file written before the freeze missing on the target"
umount "$T/tm"
loop_detach "$tdev"
timeout 5 touch "$T/m/after-freeze" || fail "filesystem left frozen"

# The watchdog thaws when the agent dies while frozen...
head -c 30M /dev/urandom >"$T/m/big.bin"
"$REHOST" sync "${A[@]}" --freeze "$T/m" --freeze-timeout 60 --limit-mbps 20 2>"$T/frozen.log" &
agent=$!
for _ in $(seq 100); do grep -q 'froze' "$T/frozen.log" && break; sleep 0.1; done
grep -q froze "$T/frozen.log" || fail "agent never froze the filesystem"
kill -9 "$agent"
wait "$agent" 2>/dev/null || true
timeout 5 touch "$T/m/after-kill" || fail "filesystem left frozen after kill -9 of the agent"
# ...and when the timeout expires first (the pass is then reported inconsistent).
head -c 20M /dev/urandom >"$T/m/big.bin"
expect_exit 1 "$REHOST" sync "${A[@]}" --freeze "$T/m" --freeze-timeout 1 --limit-mbps 40
assert_grep 'freeze timeout expired' "$T/err"
timeout 5 touch "$T/m/after-timeout" || fail "filesystem left frozen after the timeout"
umount "$T/m"

# --- continuous ---
"$REHOST" sync "${A[@]}" --continuous --interval 1 2>"$T/cont.log" &
agent=$!
sleep 2
mount "$dev" "$T/m"
echo "continuous" >"$T/m/cont.txt"
umount "$T/m"
sleep 3
kill -TERM "$agent"
wait "$agent" || fail "continuous sync exited $? on SIGTERM"
cycles=$(grep -c 'sync cycle' "$T/cont.log")
[ "$cycles" -ge 2 ] || fail "continuous sync ran $cycles cycles"
expect_exit 0 "$REHOST" sync "${A[@]}"
# Not a whole-image cmp here: a cycle ran while the filesystem was mounted
# and changing, so it may have copied a block the filesystem wrote and then
# freed again. Sync promises the used blocks (what verify compares) and
# therefore the files, not the contents of free blocks.
expect_exit 0 "$REHOST" verify --disk "$src" --to "127.0.0.1:$port" --keys "$T/keys" \
	--state-dir "$T/st" --progress none
assert_grep 'differ: target matches source' "$T/out"
tdev=$(loop_attach_part "$T/tgt/disk0.raw" 1)
mount_dev "$tdev" "$T/tm" ro
[ "$(cat "$T/tm/cont.txt")" = continuous ] || fail "cont.txt did not reach the target"
umount "$T/tm"
loop_detach "$tdev"
log "continuous: $cycles cycles"

# --- block verify: clean target, then one flipped byte in used data ---
V=(--disk "$src" --to "127.0.0.1:$port" --keys "$T/keys" --state-dir "$T/st" --progress none)
expect_exit 0 "$REHOST" verify "${V[@]}"
assert_grep 'differ: target matches source' "$T/out"
off=$(python3 - "$src" <<'PY'
import sys
# first byte of a non-zero 64 KiB chunk in the data partition, past 2 MiB
with open(sys.argv[1], "rb") as f:
    for chunk in range(32, 6400):
        f.seek(chunk * 65536)
        b = f.read(65536)
        if any(b):
            print(chunk * 65536 + next(i for i, x in enumerate(b) if x)); break
PY
)
python3 - "$T/tgt/disk0.raw" "$off" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0xff]))
PY
expect_exit 1 "$REHOST" verify "${V[@]}"
chunk=$((off / 65536 * 65536))
assert_grep "^differs: disk 0, bytes $chunk\\.\\." "$T/out"
assert_grep ' 1 differ: target DIFFERS from source' "$T/out"
expect_exit 0 "$REHOST" sync "${A[@]}"
expect_exit 0 "$REHOST" verify "${V[@]}"
log "block verify found the flipped byte at $off and sync repaired it"
