#!/usr/bin/env bash
# Target snapshots and rollback on a disk received by the real rehost
# target from rehost migrate: snapshot `sync`, change the disk, snapshot
# `cutover`; rollback to sync gives the original bytes, rollback to
# cutover the changed ones; a damaged snapshot is refused before anything
# changes; the listing (text and JSON); delete; snapshot and replication
# exclude each other through the target lock; a sync after a rollback
# brings the target back to the source; the firmware the received boot
# disk needs, and the seed's firmware-mismatch message.
. "$(dirname "$0")/functions.sh"
requires_root
requires sfdisk mkfs.ext4 flock python3 cmp

"$REHOST" keygen "$T/keys" >/dev/null
src=$T/src.img
make_image "$src" 300M
# A BIOS-booted layout: bios_grub, then the root filesystem.
partition_image "$src" gpt $'size=1MiB, type=21686148-6449-6E6F-744E-656564454649\nsize=+'
mkfs_part "$src" 2 ext4 -L root
dev=$(loop_attach_part "$src" 2)
mount_dev "$dev" "$T/m"
cp -a /usr/share/doc/bash "$T/m/doc"
head -c 8M /dev/urandom >"$T/m/random.bin"
umount "$T/m"

tgt=$T/tgt
mkdir -p "$tgt"
port=$(start_daemon target "$T/port" "$REHOST" target --listen 127.0.0.1:0 --port-file "$T/port" \
	--keys "$T/keys" --disk-dir "$tgt")
A=(--disk "$src" --to "127.0.0.1:$port" --keys "$T/keys" --state-dir "$T/st" --progress none)
expect_exit 0 "$REHOST" migrate "${A[@]}"
cmp -s "$src" "$tgt/disk0.raw" || fail "migrated disk differs from the source"
cp --sparse=always "$tgt/disk0.raw" "$T/orig.raw"

# --- sync snapshot, then a configuration change on the target ---
expect_exit 0 "$REHOST" target snapshot --disk-dir "$tgt" --name sync
assert_grep '^snapshot sync of .*300.0 MiB' "$T/out"
[ -f "$tgt/snapshots/sync/disk0.raw" ] && [ -f "$tgt/snapshots/sync/manifest.json" ] ||
	fail "snapshot files missing"
json_check "$tgt/snapshots/sync/manifest.json" \
	'd["name"]' sync 'len(d["disks"])' 1 'd["disks"][0]["size"]' $((300 << 20)) \
	'len(d["disks"][0]["digest"])' 32 'd["digest_alg"]' xxh3-128-nonzero-4k
# Sparse: the snapshot allocates about what the disk does, not 300 MiB.
a_disk=$(du -k "$tgt/disk0.raw" | cut -f1)
a_snap=$(du -k "$tgt/snapshots/sync/disk0.raw" | cut -f1)
[ "$a_snap" -le $((a_disk + 64)) ] && [ "$a_snap" -lt $((100 * 1024)) ] ||
	fail "snapshot not sparse: ${a_snap} KiB for a disk of ${a_disk} KiB allocated"

dev=$(loop_attach_part "$tgt/disk0.raw" 2)
mount_dev "$dev" "$T/mt"
echo "configured on the target" >"$T/mt/etc-fstab-new"
rm -rf "$T/mt/doc/CHANGES"
umount "$T/mt"
loop_detach "$dev"
cmp -s "$tgt/disk0.raw" "$T/orig.raw" && fail "the change did not reach the disk"
cp --sparse=always "$tgt/disk0.raw" "$T/changed.raw"

expect_exit 0 "$REHOST" target snapshot --disk-dir "$tgt" --name cutover
# A second cutover replaces the first.
expect_exit 0 "$REHOST" target snapshot --disk-dir "$tgt" --name cutover
expect_exit 0 "$REHOST" target snapshots --disk-dir "$tgt"
assert_grep '^sync +20[0-9-]+T[0-9:]+Z +1 +300.0 MiB' "$T/out"
assert_grep '^cutover ' "$T/out"
assert_grep '^2 snapshots, ' "$T/out"
expect_exit 0 "$REHOST" target snapshots --disk-dir "$tgt" --json
cp "$T/out" "$T/list.json"
json_check "$T/list.json" 'len(d["snapshots"])' 2 \
	'sorted(s["name"] for s in d["snapshots"])' "['cutover', 'sync']" \
	'd["snapshots"][0]["disks"][0]["method"] in ("reflink", "sparse-copy")' True \
	'all(s["used"] > 0 for s in d["snapshots"])' True

# --- rollbacks ---
expect_exit 0 "$REHOST" target rollback --disk-dir "$tgt" --to sync
assert_grep 'rolled .* back to snapshot sync: .*digests verified' "$T/out"
cmp "$tgt/disk0.raw" "$T/orig.raw" || fail "rollback to sync is not the original disk"
expect_exit 0 "$REHOST" target rollback --disk-dir "$tgt" --to cutover
cmp "$tgt/disk0.raw" "$T/changed.raw" || fail "rollback to cutover is not the changed disk"
[ -e "$tgt/disk0.raw.rollback" ] && fail "rollback left its temporary file"

# --- a damaged snapshot is refused, and nothing changes ---
off=$(python3 - "$tgt/snapshots/sync/disk0.raw" <<-'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
print(os.lseek(fd, 2 << 20, os.SEEK_DATA) + 4097)  # a byte inside real data
PY
)
printf '\x5a' | dd of="$tgt/snapshots/sync/disk0.raw" bs=1 seek="$off" conv=notrunc status=none
expect_exit 1 "$REHOST" target rollback --disk-dir "$tgt" --to sync
assert_grep 'snapshot sync is damaged: .*disk0.raw does not match its digest .*nothing was rolled back' "$T/err"
cmp "$tgt/disk0.raw" "$T/changed.raw" || fail "a refused rollback changed the disk"
expect_exit 1 "$REHOST" target rollback --disk-dir "$tgt" --to nosuch
assert_grep "there is no snapshot 'nosuch'" "$T/err"
expect_exit 1 "$REHOST" target snapshot --disk-dir "$tgt" --name Bad.Name
assert_grep "may only hold a-z, 0-9 and '-'" "$T/err"
expect_exit 1 "$REHOST" target snapshot --disk-dir "$tgt" --name 'bad/name'
assert_grep "may only hold a-z, 0-9 and '-'" "$T/err"
expect_exit 2 "$REHOST" target rollback --disk-dir "$tgt"
expect_exit 2 "$REHOST" target snapshot --disk-dir "$tgt" --name x --to y

# --- delete ---
expect_exit 0 "$REHOST" target snapshot --disk-dir "$tgt" --delete sync
[ -e "$tgt/snapshots/sync" ] && fail "deleted snapshot still there"
expect_exit 0 "$REHOST" target snapshots --disk-dir "$tgt"
assert_no_grep '^sync ' "$T/out"
expect_exit 1 "$REHOST" target snapshot --disk-dir "$tgt" --delete sync

# --- the target lock: no snapshot under a replication session, no
# replication under a snapshot ---
# This shell holds the lock, as a receiver session would.
exec 9>>"$tgt/.lock"
flock -n 9 || fail "cannot take the target lock"
expect_exit 1 "$REHOST" target snapshot --disk-dir "$tgt" --name sync
assert_grep 'target disks in .* are busy' "$T/err"
expect_exit 1 "$REHOST" target rollback --disk-dir "$tgt" --to cutover
assert_grep 'busy' "$T/err"
expect_exit 1 "$REHOST" sync "${A[@]}"
assert_grep 'busy' "$T/err"
exec 9>&-

# --- after a rollback to cutover, a sync makes the target's filesystem
# the source's again (blocks the source does not use may keep the
# target's bytes: sync compares used blocks) ---
expect_exit 0 "$REHOST" sync "${A[@]}"
e2fsck -fn "$(loop_attach_part "$tgt/disk0.raw" 2)" >/dev/null 2>&1 || fail "ext4 after sync fails fsck"
mount_dev "$(loop_attach_part "$src" 2)" "$T/ms" ro
mount_dev "$(loop_attach_part "$tgt/disk0.raw" 2)" "$T/mt2" ro
diff -r "$T/ms" "$T/mt2" >/dev/null || fail "target files differ from the source after sync"
umount "$T/ms" "$T/mt2"

# --- device mode: a block device, snapshots in the state directory ---
cp --sparse=always "$src" "$T/dev.img"
bdev=$(loop_attach "$T/dev.img")
D=(--disk "$bdev" --state-dir "$T/dstate")
expect_exit 0 "$REHOST" target snapshot "${D[@]}" --name sync
[ -f "$T/dstate/snapshots/sync/disk0.raw" ] || fail "device snapshot not in the state directory"
a_snap=$(du -k "$T/dstate/snapshots/sync/disk0.raw" | cut -f1)
[ "$a_snap" -lt $((100 * 1024)) ] || fail "device snapshot not sparse: ${a_snap} KiB"
dd if=/dev/urandom of="$bdev" bs=1M seek=100 count=2 conv=notrunc status=none
dd if=/dev/zero of="$bdev" bs=1M seek=2 count=1 conv=notrunc status=none
cmp -s "$bdev" "$src" && fail "the device did not change"
expect_exit 0 "$REHOST" target rollback "${D[@]}" --to sync
cmp "$bdev" "$src" || fail "device rollback is not the original"
expect_exit 1 "$REHOST" target rollback --disk "$bdev" --disk "$T/orig.raw" --state-dir "$T/dstate" --to sync
assert_grep 'has 1 disks, but 2 devices were given' "$T/err"
loop_detach "$bdev"

# --- firmware: the received disk boots with BIOS ---
expect_exit 0 "$REHOST" target firmware --disk-dir "$tgt"
assert_grep 'disk0.raw: BIOS \(BIOS boot partition \(partition 1\)\)' "$T/out"
expect_exit 0 "$REHOST" target firmware --disk-dir "$tgt" --expect bios
expect_exit 1 "$REHOST" target firmware --disk-dir "$tgt" --expect uefi
assert_grep "the target's firmware type differs from the source's: source BIOS, target UEFI \[MSG.firmware-mismatch\]" "$T/err"
assert_grep 'hint: .*hw_firmware_type=uefi' "$T/err"
expect_exit 0 "$REHOST" target firmware --disk "$src" --json
json_check "$T/out" 'd["firmware"]' BIOS 'd["bios_boot_partition"]' 1
log ok
