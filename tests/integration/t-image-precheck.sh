#!/usr/bin/env bash
# rehost image precheck on prepared root trees: a healthy BIOS server with
# an MBR system disk passes; a broken one (GPT, EFI without legacy GRUB,
# IPv6, two NICs, root=/dev/sda1, fstab mounting another disk, a loose
# /etc/shadow, VMware tools, no virtio in the initramfs, no cloud-init)
# fails with exit status 3 and one finding per check, each with a hint.
. "$(dirname "$0")/functions.sh"
requires sfdisk mkfs.ext4 cpio gzip python3

# disk_with_fs IMG LABEL UUID: a 40 MiB image, one ext4 partition with UUID.
disk_with_fs() {
	make_image "$1" 40M
	partition_image "$1" "$2" 'start=2048, size=36MiB, type=linux'
	mkfs.ext4 -q -F -U "$3" -E offset=$((2048 * 512)) "$1" $((36 * 1024))k
}
ROOTUUID=11111111-2222-3333-4444-555555555555

good=$T/good
make_root_tree "$good"
mkdir -p "$good/etc/cloud"
: >"$good/etc/cloud/cloud.cfg"
: >"$good/etc/shadow"
chmod 640 "$good/etc/shadow"
mkdir -p "$good/sys/class/net/eth0/device"
disk_with_fs "$T/sys.img" dos "$ROOTUUID"
expect_exit 0 "$REHOST" image precheck --root "$good" --disk "$T/sys.img"
assert_grep '^\[OK  \] partition table +sys.img: MBR' "$T/out"
assert_grep '^\[OK  \] kernel root= parameter +root=UUID=' "$T/out"
assert_grep '^\[OK  \] virtio drivers' "$T/out"
assert_grep '^0 errors, 0 warnings' "$T/out"

bad=$T/bad
make_root_tree "$bad"
mkdir -p "$bad/sys/firmware/efi" "$bad/sys/class/net/eth0/device" "$bad/sys/class/net/eth1/device"
rm -rf "$bad/usr/lib/grub/i386-pc"
printf '00000000000000000000000000000001 01 80 10 80       lo\n20010db8000000000000000000000001 02 40 00 80     eth0\n' \
	>"$bad/proc/net/if_inet6"
sed -i 's|root=UUID=[^ ]*|root=/dev/sda1|' "$bad/boot/grub/grub.cfg"
k=$(ls "$bad/lib/modules")
make_initramfs "$bad/boot/initrd.img-$k" gzip "$k" "" virtio_ring virtio
: >"$bad/etc/shadow"
chmod 644 "$bad/etc/shadow"
printf '#!/bin/sh\n' >"$bad/usr/bin/vmtoolsd"
DATAUUID=99999999-8888-7777-6666-555555555555
printf 'UUID=%s /data ext4 defaults 0 2\n' "$DATAUUID" >>"$bad/etc/fstab"
disk_with_fs "$T/gpt.img" gpt "$ROOTUUID"
disk_with_fs "$T/data.img" dos "$DATAUUID"
expect_exit 3 "$REHOST" image precheck --root "$bad" --disk "$T/gpt.img" --disk "$T/data.img"
assert_grep '^\[FAIL\] partition table +gpt.img: GPT' "$T/out"
assert_grep '^\[FAIL\] boot mode +booted with EFI and no legacy GRUB' "$T/out"
assert_grep '^\[WARN\] IPv6 +1 global IPv6 address' "$T/out"
assert_grep '^\[WARN\] network interfaces +2 network interfaces' "$T/out"
assert_grep '^\[WARN\] kernel root= parameter +root=/dev/sda1' "$T/out"
assert_grep '^\[WARN\] fstab and other disks .*/data \(on data.img\)' "$T/out"
assert_grep '^\[WARN\] /etc/shadow +owner uid 0, mode 0644' "$T/out"
assert_grep '^\[WARN\] conflicting guest tools +installed: VMware Tools' "$T/out"
assert_grep '^\[FAIL\] virtio drivers +missing from .*virtio_blk, virtio_net, virtio_pci' "$T/out"
assert_grep '^\[WARN\] cloud-init +not installed' "$T/out"
assert_grep '^ +-> dracut --add-drivers|^ +-> add them to the initramfs' "$T/out"
assert_grep '^3 errors, 7 warnings' "$T/out"

# JSON: one object per check.
expect_exit 3 "$REHOST" image precheck --json --root "$bad" --disk "$T/gpt.img" --disk "$T/data.img"
json_check "$T/out" "len(d)" 10 \
	"[c['status'] for c in d if c['id'] == 'virtio']" "['error']" \
	"[c['id'] for c in d if c['status'] == 'ok']" "[]"
log "ok"
