#!/usr/bin/env bash
# rehost postconf and rehost target cutover on small real disks, without a
# full distribution (tests/e2e/t-boot-*.sh do the real boots):
#  - a disk with no root filesystem, a --root that is not there, a firmware
#    the disk is not set up for: clear errors, nothing changed;
#  - --dry-run on an MBR disk (ext4 /boot + ext4 /) lists the fstab, network,
#    udev, cloud-init and motd changes, finds / and /boot by their old
#    /dev/sda names, and leaves the disk byte for byte as it was;
#  - a real run on a root without update-initramfs/dracut fails naming what
#    is missing; the same through `rehost target cutover` rolls the disk
#    back to the sync snapshot and does not mark it configured.
. "$(dirname "$0")/functions.sh"
requires_root
requires sfdisk mkfs.ext4 sha256sum python3

: >"$T/empty.conf"
pc() { "$REHOST" postconf --config "$T/empty.conf" "$@"; }

log "no root filesystem"
mkdir -p "$T/none"
make_image "$T/none/disk0.raw" 64M
partition_image "$T/none/disk0.raw" dos 'type=83'
mkfs_part "$T/none/disk0.raw" 1 ext4 -L data
expect_exit 1 pc --disk-dir "$T/none"
assert_grep 'no root filesystem .*/etc/fstab' "$T/err"
expect_exit 2 pc --disk-dir "$T/none" --firmware efi
assert_grep 'firmware efi' "$T/err"
expect_exit 1 pc --disk-dir "$T/nowhere"
assert_grep 'nowhere' "$T/err"

log "an MBR server disk: /boot and / by /dev/sda names"
d=$T/tgt
mkdir -p "$d"
make_image "$d/disk0.raw" 200M
partition_image "$d/disk0.raw" dos $'start=1MiB, size=48MiB, type=83, bootable\ntype=83'
mkfs_part "$d/disk0.raw" 1 ext4 -L boot
mkfs_part "$d/disk0.raw" 2 ext4 -L root
root=$(loop_attach_part "$d/disk0.raw" 2)
mount_dev "$root" "$T/m"
make_root_tree "$T/m"
rm -rf "$T/m/proc" "$T/m/sys" && mkdir "$T/m/proc" "$T/m/sys" "$T/m/dev"
printf 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n' >"$T/m/etc/os-release"
printf '/dev/sda2 / ext4 errors=remount-ro 0 1\n/dev/sda1 /boot ext4 defaults 0 2\n/dev/sdb1 /data xfs defaults 0 2\nproc /proc proc defaults 0 0\n' >"$T/m/etc/fstab"
mkdir -p "$T/m/etc/network" "$T/m/etc/udev/rules.d" "$T/m/etc/cloud"
printf 'auto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet static\n  address 10.1.2.3/24\n  gateway 10.1.2.1\n' >"$T/m/etc/network/interfaces"
printf 'SUBSYSTEM=="net", ACTION=="add", ATTR{address}=="fa:16:3e:00:00:01", NAME="eth0"\n' >"$T/m/etc/udev/rules.d/70-persistent-net.rules"
echo 'datasource_list: [ OpenStack ]' >"$T/m/etc/cloud/cloud.cfg"
echo 'Welcome to OtherCloud' >"$T/m/etc/motd"
mkdir -p "$T/m/etc/initramfs-tools" "$T/m/etc/default"
printf 'MODULES=list\n' >"$T/m/etc/initramfs-tools/initramfs.conf"
printf 'ata_piix\nsd_mod\n' >"$T/m/etc/initramfs-tools/modules"
printf 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX=""\n' >"$T/m/etc/default/grub"
umount "$T/m"
loop_detach "$root"
before=$(sha256sum <"$d/disk0.raw")

expect_exit 1 pc --disk-dir "$d" --root /dev/vda9
assert_grep 'root /dev/vda9: no such filesystem' "$T/err"
expect_exit 1 pc --disk-dir "$d" --firmware uefi
assert_grep 'firmware' "$T/err"

# A replication session (or a snapshot) holding the target: refused.
exec 9>"$d/.lock"
flock 9
expect_exit 1 pc --disk-dir "$d" --dry-run
assert_grep 'busy' "$T/err"
exec 9>&-

expect_exit 0 pc --disk-dir "$d" --dry-run --json
json_check "$T/out" \
	"d['result']" ok \
	"d['dry_run']" True \
	"d['root_volume']" /dev/vda2 \
	"d['family']" debian \
	"[(m['mountpoint'], m['volume'], m['fstab']) for m in d['mounts']]" "[('/', '/dev/vda2', '/dev/sda2'), ('/boot', '/dev/vda1', '/dev/sda1')]" \
	"sorted(set(c['path'] for c in d['changes']))" "['/etc/cloud/cloud-init.disabled', '/etc/cloud/cloud.cfg', '/etc/default/grub', '/etc/fstab', '/etc/initramfs-tools/modules', '/etc/motd', '/etc/network/interfaces', '/etc/udev/rules.d/70-persistent-net.rules']" \
	"d['steps']" "[]"
[ "$(sha256sum <"$d/disk0.raw")" = "$before" ] || fail "--dry-run changed the disk"
losetup -a | grep -q "$d/disk0.raw" && fail "postconf left a loop device on the disk"

log "a root without initramfs tools: postconf fails, cutover rolls back"
cp --sparse=always "$d/disk0.raw" "$T/pristine.raw"
expect_exit 1 pc --disk-dir "$d" --report "$T/rep.json"
assert_grep 'no update-initramfs, dracut or mkinitrd' "$T/err"
json_check "$T/rep.json" "d['result']" failed "'initramfs' in d['error']" True \
	"any(c['path'] == '/etc/fstab' and c['backup'] for c in d['changes'])" True
[ "$(sha256sum <"$d/disk0.raw")" != "$before" ] || fail "postconf changed nothing before failing"

cp --sparse=always "$T/pristine.raw" "$d/disk0.raw"
expect_exit 1 "$REHOST" target cutover --disk-dir "$d" --config "$T/empty.conf"
assert_grep 'back as the source left them' "$T/err"
[ "$(sha256sum <"$d/disk0.raw")" = "$before" ] || fail "a failed cutover left the disk changed"
[ ! -e "$d/.rehost-configured" ] || fail "a failed cutover marked the disk configured"
expect_exit 0 "$REHOST" target snapshots --disk-dir "$d"
assert_grep 'sync' "$T/out"
assert_no_grep 'cutover' "$T/out"
log "ok"
