#!/usr/bin/env bash
# An MBR disk with vfat, btrfs, swap and an LVM physical volume holding an
# ext4 LV, all filled with real files, arrives identical (qemu-img compare),
# with only the used blocks sent; each filesystem on the target checks
# clean and holds the same files.
. "$(dirname "$0")/functions.sh"
requires_root
requires sfdisk qemu-img mkfs.vfat mcopy fsck.vfat mkfs.btrfs btrfs mkswap pvcreate e2fsck

"$REHOST" keygen "$T/keys" >/dev/null
src=$T/src.img
make_image "$src" 1100M
partition_image "$src" dos $'size=64MiB, type=c\nsize=300MiB, type=83\nsize=64MiB, type=82\nsize=+, type=8e'

# vfat, filled with mtools (this kernel cannot mount vfat)
mkfs_part "$src" 1 vfat -n ESP
p1=$(loop_attach_part "$src" 1)
MTOOLS_SKIP_CHECK=1 mcopy -s -i "$p1" /usr/share/doc/bash ::/bash
# btrfs
mkfs_part "$src" 2 btrfs -L data
mount_dev "$(loop_attach_part "$src" 2)" "$T/m2"
cp -a /usr/share/doc/coreutils "$T/m2/" 2>/dev/null || cp -a /usr/share/doc/bash "$T/m2/"
head -c 8M /dev/urandom >"$T/m2/random.bin"
# mkfs.btrfs leaves its temporary chunks' bytes in space that is then
# unallocated, which a used-blocks copy rightly skips; discard it (the loop
# device punches holes) so that "identical" can be checked byte for byte.
fstrim "$T/m2"
umount "$T/m2"
# swap
mkfs_part "$src" 3 swap
# LVM: a PV with an ext4 LV, metadata only (no device-mapper here)
pv=$(loop_attach_part "$src" 4)
lvm_setup "$pv"
lvm_run pvcreate -y "$pv" >/dev/null
lvm_run vgcreate rhvg "$pv" >/dev/null
lvm_run lvcreate -an -Zn -y -L 200M -n root rhvg >/dev/null
lvoff=$(lvm_lv_offset rhvg root)
lv=$(loop_attach "$src" $(( $(part_geometry "$src" 4 | cut -d' ' -f1) + lvoff )) $((200 << 20)))
mkfs.ext4 -q -F -L lvroot "$lv"
mount_dev "$lv" "$T/m4"
cp -a /usr/share/doc/bash "$T/m4/"
head -c 6M /dev/urandom >"$T/m4/random.bin"
umount "$T/m4"
sync

mkdir -p "$T/tgt"
port=$(start_daemon target "$T/port" "$REHOST" target --listen 127.0.0.1:0 --port-file "$T/port" \
	--keys "$T/keys" --disk-dir "$T/tgt")
expect_exit 0 "$REHOST" migrate --disk "$src" --to "127.0.0.1:$port" --keys "$T/keys" \
	--state-dir "$T/st" --progress log
assert_grep 'partition 1: vfat' "$T/err"
assert_grep 'partition 2: btrfs' "$T/err"
assert_grep 'partition 3: swap, 65536 of ' "$T/err"
assert_grep 'partition 4: lvm2' "$T/err"
planned=$(sed -n 's/.*migration complete: 1 disks, \([0-9]*\) bytes planned.*/\1/p' "$T/err")
[ "$planned" -lt $((300 << 20)) ] || fail "planned $planned bytes: used-block maps not applied"
qemu-img compare -q -f raw -F raw "$src" "$T/tgt/disk0.raw" || fail "target differs from source"

tgt=$T/tgt/disk0.raw
fsck.vfat -n "$(loop_attach_part "$tgt" 1)" >/dev/null || fail "vfat on target fails fsck"
MTOOLS_SKIP_CHECK=1 mcopy -s -i "$(loop_attach_part "$tgt" 1)" ::/bash "$T/vfat-out"
diff -r /usr/share/doc/bash "$T/vfat-out" >/dev/null || fail "vfat files differ"
btrfs check --readonly "$(loop_attach_part "$tgt" 2)" >/dev/null 2>&1 || fail "btrfs on target fails check"
mount_dev "$(loop_attach_part "$tgt" 2)" "$T/t2" ro
[ -s "$T/t2/random.bin" ] || fail "btrfs files missing on target"
umount "$T/t2"
[ "$(blkid -o value -s TYPE "$(loop_attach_part "$tgt" 3)")" = swap ] || fail "swap signature missing"
tlv=$(loop_attach "$tgt" $(( $(part_geometry "$tgt" 4 | cut -d' ' -f1) + lvoff )) $((200 << 20)))
e2fsck -fn "$tlv" >/dev/null 2>&1 || fail "ext4 LV on target fails fsck"
mount_dev "$tlv" "$T/t4" ro
diff -r /usr/share/doc/bash "$T/t4/bash" >/dev/null || fail "LV files differ"
log "ok: $planned bytes planned for a 1100 MiB disk"
