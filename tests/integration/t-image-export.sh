#!/usr/bin/env bash
# rehost image export: an MBR disk exports to (end sector of the last
# partition + 1) x 512 bytes, or the whole disk with --whole (and always for
# GPT); MBR, boot gap and filesystems arrive intact while blocks of deleted
# files are left out; the output is refused on the source disk; and
# rehost image check validates each partition's filesystem, flagging a
# damaged superblock and a truncated export.
. "$(dirname "$0")/functions.sh"
requires_root
requires sfdisk qemu-img mkfs.ext4 e2fsck cmp grep

disk=$T/disk.img
make_image "$disk" 96M
# A boot-loader-like pattern in the gap between the MBR and partition 1.
partition_image "$disk" dos $'start=2048, size=40MiB, type=83, bootable\nsize=8MiB, type=82\nsize=24MiB, type=83'
printf 'GRUB-STAGE-1.5-MARKER' | dd of="$disk" bs=512 seek=1 conv=notrunc status=none
mkfs_part "$disk" 1 ext4 -L root
mkfs_part "$disk" 2 swap
mkfs_part "$disk" 3 ext4 -L home
dev=$(loop_attach_part "$disk" 1)
mount_dev "$dev" "$T/m1"
head -c 3M /dev/urandom >"$T/m1/keep.bin"
# A deleted file whose blocks still hold data: export must leave them out.
{ yes 'DELETED-SECRET-DATA' || true; } | head -c 8M >"$T/m1/deleted.txt"
sync
rm "$T/m1/deleted.txt"
umount "$T/m1"
grep -qa 'DELETED-SECRET-DATA' "$disk" || skip "deleted data did not stay on disk"

read -r p3start p3size < <(part_geometry "$disk" 3)
want=$((p3start + p3size)) # (end sector + 1) x 512

# Export to qcow2 with a progress bar (forced with -p: stderr is a file).
expect_exit 0 "$REHOST" image export --disk "$disk" -O qcow2 -p "$T/exp.qcow2"
assert_grep 'partition 1: .*ext' "$T/err"
assert_grep '%' "$T/err"
qemu-img check -q "$T/exp.qcow2" || fail "qemu-img check failed on the export"
vs=$(qemu-img info --output=json "$T/exp.qcow2" | sed -n 's/^    "virtual-size": \([0-9]*\),*$/\1/p')
[ "$vs" -eq "$want" ] || fail "exported $vs bytes, expected (end+1)*512 = $want"

expect_exit 0 "$REHOST" image convert -O raw "$T/exp.qcow2" "$T/exp.raw"
cmp -n $((2048 * 512)) "$disk" "$T/exp.raw" || fail "MBR and boot gap differ"
if grep -qa 'DELETED-SECRET-DATA' "$T/exp.raw"; then fail "blocks of a deleted file were exported"; fi
e2fsck -fn "$(loop_attach_part "$T/exp.raw" 1)" >/dev/null 2>&1 || fail "exported root fails e2fsck"
e2fsck -fn "$(loop_attach_part "$T/exp.raw" 3)" >/dev/null 2>&1 || fail "exported home fails e2fsck"
mount_dev "$(loop_attach_part "$T/exp.raw" 1)" "$T/m2" ro
mount_dev "$(loop_attach_part "$disk" 1)" "$T/m1" ro
cmp "$T/m1/keep.bin" "$T/m2/keep.bin" || fail "file content differs after export"
umount "$T/m1" "$T/m2"

# The exported image checks clean, partition by partition.
expect_exit 0 "$REHOST" image check "$T/exp.qcow2"
assert_grep 'partition 1: ext4 label=root, superblock and allocation metadata valid' "$T/out"
assert_grep 'partition 2: swap' "$T/out"
assert_grep 'No errors were found' "$T/out"

# A disk that is one bare filesystem (no partition table) exports whole.
make_image "$T/bare.img" 16M
mkfs.ext4 -q -F "$T/bare.img"
expect_exit 0 "$REHOST" image export --disk "$T/bare.img" -O vmdk -c "$T/bare.vmdk"
assert_grep 'no partitions: exporting the whole disk' "$T/err"
qemu-img compare -q -f raw -F vmdk "$T/bare.img" "$T/bare.vmdk" || fail "bare filesystem export differs"

# Other formats; --whole covers the whole disk.
expect_exit 0 "$REHOST" image export --disk "$disk" -O vmdk -c "$T/exp.vmdk"
qemu-img compare -q -f raw -F vmdk "$T/exp.raw" "$T/exp.vmdk" || fail "vmdk export differs from qcow2 export"
expect_exit 0 "$REHOST" image export --disk "$disk" -O vpc --whole "$T/whole.vhd"
vs=$(qemu-img info --output=json "$T/whole.vhd" | sed -n 's/^    "virtual-size": \([0-9]*\),*$/\1/p')
[ "$vs" -ge $((96 * 1024 * 1024)) ] || fail "--whole exported only $vs bytes"

# A damaged superblock and a truncated export are reported as corrupt.
cp "$T/exp.raw" "$T/bad.raw"
printf '\xff\xff\xff\x7f' | dd of="$T/bad.raw" bs=1 seek=$((2048 * 512 + 1024 + 4)) conv=notrunc status=none
expect_exit 1 "$REHOST" image check "$T/bad.raw"
assert_grep 'ERROR +partition 1: ext4 filesystem is damaged' "$T/out"
"$REHOST" image convert -O qcow2 "$T/bad.raw" "$T/bad.qcow2" 2>/dev/null
expect_exit 1 "$REHOST" image check "$T/bad.qcow2"
assert_grep 'partition 1: ext4 filesystem is damaged' "$T/out"
head -c $((50 * 1024 * 1024)) "$T/exp.raw" >"$T/short.raw"
expect_exit 1 "$REHOST" image check "$T/short.raw"
assert_grep 'partition 3 ends at byte .* the image is truncated' "$T/out"

# GPT: the backup table is at the end, so the whole disk is exported.
gpt=$T/gpt.img
make_image "$gpt" 32M
partition_image "$gpt" gpt 'size=8MiB'
expect_exit 0 "$REHOST" image export --disk "$gpt" -O qcow2 "$T/gpt.qcow2"
assert_grep 'GPT keeps a backup table' "$T/err"
vs=$(qemu-img info --output=json "$T/gpt.qcow2" | sed -n 's/^    "virtual-size": \([0-9]*\),*$/\1/p')
[ "$vs" -eq $((32 * 1024 * 1024)) ] || fail "GPT export is $vs bytes, expected the whole disk"

# Never onto the source: the same file, or a filesystem on the source disk.
expect_exit 1 "$REHOST" image export --disk "$disk" -O qcow2 "$disk"
assert_grep 'is the source itself' "$T/err"
cmp -n 512 "$disk" "$T/exp.raw" || fail "the refused export touched the source"
fsdisk=$T/fsdisk.img
make_image "$fsdisk" 64M
mkfs.ext4 -q -F "$fsdisk"
fsdev=$(loop_attach "$fsdisk")
mount_dev "$fsdev" "$T/m3"
expect_exit 1 "$REHOST" image export --disk "$fsdev" -O qcow2 "$T/m3/self.qcow2"
assert_grep 'is on a filesystem of the source disk' "$T/err"
[ ! -e "$T/m3/self.qcow2" ] || fail "refused export created its output"
log "ok"
