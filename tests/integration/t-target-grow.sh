#!/usr/bin/env bash
# rehost target grow: 1 GiB GPT disks whose last partition holds ext4,
# xfs or an LVM PV, grown to 2 GiB. Afterwards the tables verify clean
# (sgdisk -v, sfdisk --verify) with the backup GPT header in the last
# sector, the filesystems check clean and are bigger, the data is intact
# (mounted and compared), the PV is bigger; an MBR disk grows too; smaller
# sizes are refused naming both sizes; a grown image refuses a sync until
# it is rolled back; a block device (loop) grows to its own size.
. "$(dirname "$0")/functions.sh"
requires_root
requires sfdisk sgdisk mkfs.ext4 mkfs.xfs e2fsck dumpe2fs resize2fs xfs_repair xfs_growfs xfs_db \
	pvcreate pvresize
G=$((1 << 30))

# make_disk PATH FS: a 1 GiB GPT disk, 64 MiB first partition, FS on the rest with files.
make_disk() {
	local img=$1 fs=$2 dev
	make_image "$img" 1G
	partition_image "$img" gpt $'size=64MiB\nsize=+'
	mkfs_part "$img" 1 ext4 -L boot
	mkfs_part "$img" 2 "$fs"
	dev=$(loop_attach_part "$img" 2)
	mount_dev "$dev" "$T/m"
	cp -a /usr/share/doc/bash "$T/m/doc"
	head -c 5M /dev/urandom >"$T/m/random.bin"
	cp "$T/m/random.bin" "$T/$(basename "$img").random"
	umount "$T/m"
	loop_detach "$dev"
}

# check_table IMG SIZE: tables verify clean, backup GPT header in the last sector.
check_table() {
	local img=$1 size=$2 out
	[ "$(stat -c %s "$img")" = "$size" ] || fail "$img is $(stat -c %s "$img") bytes, want $size"
	out=$(sgdisk -v "$img" 2>&1) || fail "sgdisk -v $img: $out"
	grep -q 'No problems found' <<<"$out" || fail "sgdisk -v $img: $out"
	out=$(sfdisk --verify "$img" 2>&1)
	grep -q 'No errors detected' <<<"$out" || fail "sfdisk --verify $img: $out"
	[ "$(dd if="$img" bs=512 skip=$((size / 512 - 1)) count=1 status=none | head -c 8)" = "EFI PART" ] ||
		fail "$img: no backup GPT header in the last sector"
}

# check_data IMG: partition 2 mounts and holds the files.
check_data() {
	local img=$1 dev
	dev=$(loop_attach_part "$img" 2)
	mount_dev "$dev" "$T/m" ro
	diff -r /usr/share/doc/bash "$T/m/doc" >/dev/null || fail "$img: files differ after grow"
	cmp -s "$T/$(basename "$img").random" "$T/m/random.bin" || fail "$img: random.bin differs"
	umount "$T/m"
	loop_detach "$dev"
}

d=$T/disks
mkdir -p "$d"

# --- ext4 ---
make_disk "$d/disk0.raw" ext4
dev=$(loop_attach_part "$d/disk0.raw" 2)
blocks0=$(dumpe2fs -h "$dev" 2>/dev/null | awk -F: '/^Block count/ { print $2 + 0 }')
loop_detach "$dev"
# Never shrink; the message names both sizes.
expect_exit 1 "$REHOST" target grow --disk-dir "$d" --size 512M
assert_grep 'refusing to shrink .*disk0.raw: the new size 512.0 MiB \(536870912 bytes\) is smaller than the disk.s current size 1.0 GiB \(1073741824 bytes\)' "$T/err"
expect_exit 2 "$REHOST" target grow --disk-dir "$d" --size lots
expect_exit 0 "$REHOST" target grow --disk-dir "$d" --size 2G
assert_grep 'disk0.raw: 1.0 GiB -> 2.0 GiB; GPT table fitted to the disk; partition 2 .* -> 1.9 GiB; ext4 .* -> 1.9 GiB' "$T/out"
check_table "$d/disk0.raw" $((2 * G))
dev=$(loop_attach_part "$d/disk0.raw" 2)
e2fsck -fn "$dev" >/dev/null 2>&1 || fail "ext4 fails e2fsck -fn after grow"
blocks1=$(dumpe2fs -h "$dev" 2>/dev/null | awk -F: '/^Block count/ { print $2 + 0 }')
loop_detach "$dev"
[ "$blocks1" -gt $((blocks0 * 19 / 10)) ] || fail "ext4 did not grow: $blocks0 -> $blocks1 blocks"
check_data "$d/disk0.raw"
# Growing again is a no-op.
expect_exit 0 "$REHOST" target grow --disk-dir "$d" --disk 0
assert_grep 'disk0.raw: 2.0 GiB -> 2.0 GiB$' "$T/out"

# --- xfs ---
make_disk "$d/disk1.raw" xfs
xfs_blocks() { xfs_db -r -c 'sb 0' -c 'p dblocks' "$1" | awk '{ print $3 }'; }
dev=$(loop_attach_part "$d/disk1.raw" 2)
xb0=$(xfs_blocks "$dev")
loop_detach "$dev"
expect_exit 0 "$REHOST" target grow --disk-dir "$d" --disk 1 --size 2G
assert_grep 'disk1.raw: .*; xfs .* -> 1.9 GiB' "$T/out"
check_table "$d/disk1.raw" $((2 * G))
dev=$(loop_attach_part "$d/disk1.raw" 2)
xfs_repair -n "$dev" >/dev/null 2>&1 || fail "xfs fails xfs_repair -n after grow"
xb1=$(xfs_blocks "$dev")
loop_detach "$dev"
[ "$xb1" -gt $((xb0 * 19 / 10)) ] || fail "xfs did not grow: $xb0 -> $xb1 blocks"
check_data "$d/disk1.raw"
# No mount point or loop device left behind by the grow.
# A detached loop device lingers while something (a concurrent test's blkid
# scan) still has it open: allow it a moment to go.
for _ in $(seq 20); do
	losetup -n -O BACK-FILE -l | grep -q "$d/" || break
	sleep 0.1
done
if losetup -n -O BACK-FILE -l | grep -q "$d/"; then fail "grow left a loop device"; fi
if grep -q rehost-growfs /proc/mounts; then fail "grow left a mount"; fi

# --- --no-grow-partition: only the table follows the disk ---
make_disk "$d/disk2.raw" ext4
before=$(part_geometry "$d/disk2.raw" 2)
expect_exit 0 "$REHOST" target grow --disk-dir "$d" --disk 2 --size 2G --no-grow-partition
assert_grep 'partition 2 left as is' "$T/err"
check_table "$d/disk2.raw" $((2 * G))
[ "$(part_geometry "$d/disk2.raw" 2)" = "$before" ] || fail "--no-grow-partition grew the partition"

# --- MBR: no backup table; the partition and its ext4 grow ---
make_image "$d/disk3.raw" 1G
partition_image "$d/disk3.raw" dos $'size=64MiB, bootable\nsize=+'
mkfs_part "$d/disk3.raw" 2 ext4
expect_exit 0 "$REHOST" target grow --disk-dir "$d" --disk 3 --size 2G
assert_grep 'disk3.raw: 1.0 GiB -> 2.0 GiB; MBR table fitted to the disk; partition 2 .*; ext4 ' "$T/out"
out=$(sfdisk --verify "$d/disk3.raw" 2>&1)
grep -q 'No errors detected' <<<"$out" || fail "sfdisk --verify disk3: $out"
e2fsck -fn "$(loop_attach_part "$d/disk3.raw" 2)" >/dev/null 2>&1 || fail "MBR ext4 fails fsck"

# --- an unsupported filesystem: the partition grows, a warning says why ---
make_image "$d/disk4.raw" 1G
partition_image "$d/disk4.raw" gpt $'size=64MiB\nsize=+'
mkfs_part "$d/disk4.raw" 2 swap
expect_exit 0 "$REHOST" target grow --disk-dir "$d" --disk 4 --size 2G
assert_grep 'warning: the filesystem was left as is: swap is not grown here' "$T/err"
check_table "$d/disk4.raw" $((2 * G))

# --- LVM PV as the last partition: pvresize (metadata only) ---
make_image "$d/disk5.raw" 1G
partition_image "$d/disk5.raw" gpt $'size=64MiB\nsize=+'
pv=$(loop_attach_part "$d/disk5.raw" 2)
lvm_setup "$pv"
lvm_run pvcreate -q "$pv" >/dev/null
lvm_run vgcreate -q rehostgrowvg "$pv" >/dev/null
pv_size() { lvm_run pvs --noheadings --units b --nosuffix -o pv_size "$1" | tr -d ' '; }
s0=$(pv_size "$pv")
loop_detach "$pv"
expect_exit 0 "$REHOST" target grow --disk-dir "$d" --disk 5 --size 2G
assert_grep '; LVM2_member ' "$T/out"
check_table "$d/disk5.raw" $((2 * G))
pv=$(loop_attach_part "$d/disk5.raw" 2)
lvm_setup "$pv"
s1=$(pv_size "$pv")
[ "$s1" -gt $((s0 + 900 * 1024 * 1024)) ] || fail "PV did not grow: $s0 -> $s1 bytes"
loop_detach "$pv"

# --- a block device (here a loop device over a larger file) grows to its
# own size; --size is refused for it ---
make_disk "$T/dev.img" ext4
truncate -s 2G "$T/dev.img"
bdev=$(loop_attach "$T/dev.img")
expect_exit 1 "$REHOST" target grow --disk "$bdev" --state-dir "$T/state" --size 3G
assert_grep '--size applies to image files' "$T/err"
expect_exit 0 "$REHOST" target grow --disk "$bdev" --state-dir "$T/state"
assert_grep 'GPT table fitted to the disk; partition 2 .*; ext4 ' "$T/out"
loop_detach "$bdev"
check_table "$T/dev.img" $((2 * G))
check_data "$T/dev.img"

# --- a grown image refuses a sync until it is rolled back ---
"$REHOST" keygen "$T/keys" >/dev/null
src=$T/src.img
make_disk "$src" ext4
tgt=$T/tgt
mkdir -p "$tgt"
port=$(start_daemon target "$T/port" "$REHOST" target --listen 127.0.0.1:0 --port-file "$T/port" \
	--keys "$T/keys" --disk-dir "$tgt")
A=(--disk "$src" --to "127.0.0.1:$port" --keys "$T/keys" --state-dir "$T/st" --progress none)
expect_exit 0 "$REHOST" migrate "${A[@]}"
expect_exit 0 "$REHOST" target snapshot --disk-dir "$tgt" --name sync
expect_exit 0 "$REHOST" target grow --disk-dir "$tgt" --size 2G
expect_exit 1 "$REHOST" sync "${A[@]}"
assert_grep 'it was grown after the copy; roll it back first' "$T/err"
[ "$(stat -c %s "$tgt/disk0.raw")" = $((2 * G)) ] || fail "the refused sync changed the grown image"
expect_exit 0 "$REHOST" target rollback --disk-dir "$tgt" --to sync
[ "$(stat -c %s "$tgt/disk0.raw")" = "$G" ] || fail "rollback did not restore the size"
expect_exit 0 "$REHOST" sync "${A[@]}"
log ok
