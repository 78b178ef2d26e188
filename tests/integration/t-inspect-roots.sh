#!/usr/bin/env bash
# rehost inspect --root on prepared root trees of several distributions:
# Debian, Ubuntu (UEFI), CentOS 7, RHEL 6 (no os-release), SLES 12 SP0 and
# 11 SP3, an unsupported distribution and an ARM server. Each tree is built
# by make_root_tree (a healthy x86_64 BIOS server) and then changed so that
# one group of checks fires; every other check must stay quiet.
. "$(dirname "$0")/functions.sh"
requires python3 cpio gzip xz zstd sfdisk mkfs.ext4

checks=()
jexpect() { checks+=("$1" "$2"); }
# check_status ID STATUS [CODE]
check_status() {
	checks+=("sorted(set((c['status'], c['code'] or '-') for c in d['checks'] if c['id'] == '$1'))"
		"[('$2', '${3:--}')]")
}
# only_problems ID...: the checks with errors or warnings are exactly these.
only_problems() {
	local want="" id
	for id in $(printf '%s\n' "$@" | LC_ALL=C sort); do want+="${want:+, }'$id'"; done
	checks+=("sorted(set(c['id'] for c in d['checks'] if c['status'] in ('error', 'warning')))"
		"[$want]")
}
verify() {
	[ ${#checks[@]} -eq 0 ] || json_check "$T/out" "${checks[@]}"
	checks=()
}
: >"$T/empty.conf"
inspect() { "$REHOST" inspect --config "$T/empty.conf" --json "$@"; }

# os_release DIR KEY=VALUE...: write DIR/etc/os-release.
os_release() {
	local d=$1 kv
	shift
	: >"$d/etc/os-release"
	for kv in "$@"; do printf '%s="%s"\n' "${kv%%=*}" "${kv#*=}" >>"$d/etc/os-release"; done
}

# add_disk DIR NAME: a disk in the tree's /sys/block whose /dev node is a
# real image (MBR, one ext4 partition with the UUID make_root_tree's fstab
# names): the same code path as a live machine's disks.
add_disk() {
	local d=$1 n=$2
	mkdir -p "$d/sys/block/$n/device" "$d/dev"
	echo "8:0" >"$d/sys/block/$n/dev"
	echo 0 >"$d/sys/block/$n/removable"
	make_image "$d/dev/$n" 96M
	partition_image "$d/dev/$n" dos 'size=90MiB, type=83'
	python3 - "$d/dev/$n" <<-'PY'
	import subprocess, sys
	img = sys.argv[1]
	# mke2fs writes straight into the image at the partition's offset.
	subprocess.run(["mkfs.ext4", "-q", "-F", "-U", "11111111-2222-3333-4444-555555555555",
	                "-E", "offset=%d" % (2048 * 512), img, "%dk" % (90 * 1024)], check=True)
	PY
}

log "Debian 12.5, BIOS: healthy, file-level (not on the block lists)"
deb=$T/debian
make_root_tree "$deb" 6.1.0-18-amd64
os_release "$deb" ID=debian VERSION_ID=12 "PRETTY_NAME=Debian GNU/Linux 12 (bookworm)" NAME="Debian GNU/Linux"
echo 12.5 >"$deb/etc/debian_version"
add_disk "$deb" sda
expect_exit 0 inspect --root "$deb"
jexpect "d['host']['os']['id']" debian
jexpect "d['host']['os']['version']" 12.5
jexpect "d['host']['os']['listed']" True
jexpect "d['host']['os']['uefi_supported']" True
jexpect "d['host']['kernel']['release']" 6.1.0-18-amd64
jexpect "d['host']['arch']" x86_64
jexpect "d['host']['hostname']" testhost
jexpect "d['host']['cpus']" 2
jexpect "d['host']['memory_bytes']" $((4028000 * 1024))
jexpect "d['host']['firmware']" bios
jexpect "d['host']['virtualization']['hypervisor']" unknown
jexpect "d['network']['interface']" eth0
jexpect "d['network']['ipv4']" 10.0.0.5
jexpect "d['network']['gateway']" 10.0.0.1
jexpect "d['network']['mac']" 52:54:00:12:34:56
jexpect "d['network']['source']" route
jexpect "d['tools']['rsync']" /usr/bin/rsync
jexpect "d['boot']['grub']['version']" grub2
jexpect "d['boot']['grub']['i386_pc']" /usr/lib/grub/i386-pc
jexpect "d['boot']['grub']['cmdline_root']" UUID=11111111-2222-3333-4444-555555555555
jexpect "d['boot']['initramfs']['path']" /boot/initrd.img-6.1.0-18-amd64
jexpect "d['boot']['initramfs']['format']" gzip
jexpect "sorted(set(d['boot']['initramfs']['virtio'].values()))" "['initramfs']"
jexpect "d['disks'][0]['name']" sda
jexpect "d['disks'][0]['table']" dos
jexpect "d['disks'][0]['system']" True
jexpect "d['disks'][0]['partitions'][0]['name']" sda1
jexpect "d['disks'][0]['partitions'][0]['filesystem']['mountpoints']" "['/']"
jexpect "d['recommendation']['mode']" file
jexpect "d['recommendation']['cpus']" 2
jexpect "d['recommendation']['memory_gib']" 4
jexpect "d['summary']['migratable']" True
check_status block-os warning SMS.6616
check_status block-kernel warning SMS.6617
only_problems block-os block-kernel
verify
# The text report groups the same findings.
expect_exit 0 "$REHOST" inspect --config "$T/empty.conf" --root "$deb"
assert_grep '^Warnings \(acknowledge to continue\):' "$T/out"
assert_no_grep '^Errors' "$T/out"
assert_grep 'WARN  \[SMS\.6616\] debian 12\.5 is not on the block-level OS list' "$T/out"
assert_grep '^  sda  96\.0 MiB  MBR  \[system disk\]' "$T/out"
assert_grep '^Result: migration possible after acknowledging 2 warnings\.' "$T/out"
# --strict makes warnings blocking; --mode file silences the block lists.
expect_exit 3 "$REHOST" inspect --config "$T/empty.conf" --root "$deb" --strict
expect_exit 0 inspect --root "$deb" --mode file
check_status block-os skipped
only_problems
verify

log "Ubuntu 18.04, UEFI, listed kernel: block-level, early cpio + zstd initramfs"
ubu=$T/ubuntu
make_root_tree "$ubu" 4.15.0-20-generic
os_release "$ubu" ID=ubuntu VERSION_ID=18.04 "PRETTY_NAME=Ubuntu 18.04.6 LTS"
mkdir -p "$ubu/sys/firmware/efi" "$ubu/usr/lib/grub/x86_64-efi"
rm -r "$ubu/usr/lib/grub/i386-pc"
touch "$ubu/usr/lib/grub/x86_64-efi/linux.mod"
make_initramfs "$ubu/boot/initrd.img-4.15.0-20-generic" zstd 4.15.0-20-generic early
expect_exit 0 inspect --root "$ubu"
jexpect "d['host']['firmware']" uefi
jexpect "d['boot']['initramfs']['format']" cpio+zstd
jexpect "d['recommendation']['mode']" block
jexpect "d['recommendation']['block_eligible']" True
check_status os-uefi ok
check_status grub-i386-pc skipped
check_status block-os ok
check_status block-kernel ok
check_status initramfs-virtio ok
# No /sys/block in this tree: nothing to migrate is worth a warning.
check_status disk-readable warning
only_problems disk-readable
verify

log "CentOS 7.9 (version from centos-release), xz initramfs, no rsync"
cen=$T/centos
make_root_tree "$cen" 3.10.0-1160.el7.x86_64
os_release "$cen" ID=centos VERSION_ID=7 "PRETTY_NAME=CentOS Linux 7 (Core)" ID_LIKE="rhel fedora"
echo 'CentOS Linux release 7.9.2009 (Core)' >"$cen/etc/centos-release"
rm "$cen/boot/initrd.img-3.10.0-1160.el7.x86_64" "$cen/usr/bin/rsync"
mkdir -p "$cen/boot/grub2" && mv "$cen/boot/grub/grub.cfg" "$cen/boot/grub2/grub.cfg"
make_initramfs "$cen/boot/initramfs-3.10.0-1160.el7.x86_64.img" xz 3.10.0-1160.el7.x86_64
expect_exit 0 inspect --root "$cen"
jexpect "d['host']['os']['version']" 7.9
jexpect "d['host']['os']['version_id']" 7
jexpect "d['boot']['initramfs']['path']" /boot/initramfs-3.10.0-1160.el7.x86_64.img
jexpect "d['boot']['initramfs']['format']" xz
jexpect "d['boot']['grub']['config']" /boot/grub2/grub.cfg
jexpect "d['recommendation']['mode']" block
jexpect "d['tools']['rsync']" None
# Block-level replication does not need rsync: a warning only...
check_status rsync warning SMS.6517
only_problems rsync disk-readable
verify
# ... but file-level sync does.
expect_exit 3 inspect --root "$cen" --mode file
check_status rsync error SMS.6517
verify

log "RHEL 6.10 without os-release, booted with UEFI (not supported by 6.x)"
rhel=$T/rhel6
make_root_tree "$rhel" 2.6.32-754.el6.x86_64
echo 'Red Hat Enterprise Linux Server release 6.10 (Santiago)' >"$rhel/etc/redhat-release"
mkdir -p "$rhel/sys/firmware/efi"
rm "$rhel/boot/initrd.img-2.6.32-754.el6.x86_64"
make_initramfs "$rhel/boot/initramfs-2.6.32-754.el6.x86_64.img" gzip 2.6.32-754.el6.x86_64
expect_exit 3 inspect --root "$rhel"
jexpect "d['host']['os']['id']" rhel
jexpect "d['host']['os']['version']" 6.10
jexpect "d['host']['os']['source']" /etc/redhat-release
jexpect "d['host']['os']['uefi_supported']" False
jexpect "d['recommendation']['mode']" block
check_status os-uefi error
only_problems os-uefi disk-readable
verify

log "SLES 12 SP0 with btrfs (not supported there), SUSE initrd naming, lzma"
sles=$T/sles12
make_root_tree "$sles" 3.12.28-4-default
os_release "$sles" ID=sles VERSION_ID=12 "PRETTY_NAME=SUSE Linux Enterprise Server 12"
rm "$sles/boot/initrd.img-3.12.28-4-default"
make_initramfs "$sles/boot/initrd-3.12.28-4-default" lzma 3.12.28-4-default
printf '20 1 0:40 /@ / rw,relatime - btrfs /dev/sda2 rw,subvol=/@\n21 1 0:40 /@/home /home rw,relatime - btrfs /dev/sda2 rw,subvol=/@/home\n' \
	>"$sles/proc/self/mountinfo"
expect_exit 3 inspect --root "$sles" --mode file
jexpect "d['host']['os']['note']" no-btrfs
jexpect "d['boot']['initramfs']['format']" lzma
check_status filesystem error SMS.6509
check_status bind-mount ok
only_problems filesystem disk-readable
verify

log "SLES 11 SP3 from SuSE-release: no initramfs, no GRUB i386-pc, no ssh"
sles11=$T/sles11
make_root_tree "$sles11" 3.0.101-63-default
printf 'SUSE Linux Enterprise Server 11 (x86_64)\nVERSION = 11\nPATCHLEVEL = 3\n' >"$sles11/etc/SuSE-release"
rm "$sles11/boot/initrd.img-3.0.101-63-default" "$sles11/usr/bin/ssh"
rm -r "$sles11/usr/lib/grub/i386-pc"
expect_exit 3 inspect --root "$sles11" --mode file
jexpect "d['host']['os']['id']" sles
jexpect "d['host']['os']['version']" 11.3
check_status initramfs error SMS.6563
check_status grub-i386-pc error SMS.6562
check_status ssh error SMS.1402
check_status initramfs-virtio skipped
only_problems initramfs grub-i386-pc ssh disk-readable
verify
expect_exit 3 "$REHOST" inspect --config "$T/empty.conf" --root "$sles11" --mode file
assert_grep 'ERROR \[SMS\.6563\] no initrd or initramfs for kernel 3\.0\.101-63-default under /boot' "$T/out"
assert_grep 'rehost errors SMS\.6563\)' "$T/out"
assert_grep '^Result: migration BLOCKED by 3 errors\.' "$T/out"

log "unsupported distribution with everything else wrong too"
arch=$T/arch
make_root_tree "$arch" 6.7.4-arch1-1
os_release "$arch" ID=arch "PRETTY_NAME=Arch Linux" NAME="Arch Linux"
# Xen PV guest with a bound raw device.
mkdir -p "$arch/sys/hypervisor" "$arch/sys/class/raw/raw1" "$arch/sys/class/raw/rawctl"
echo xen >"$arch/sys/hypervisor/type"
echo PV >"$arch/sys/hypervisor/guest_type"
# Two default routes, no network_dev set.
printf 'eth1\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n' >>"$arch/proc/net/route"
# Google guest agents (systemd symlinks and an upstart job).
mkdir -p "$arch/etc/systemd/system/multi-user.target.wants" "$arch/etc/init"
ln -s /lib/systemd/system/google-guest-agent.service \
	"$arch/etc/systemd/system/multi-user.target.wants/google-guest-agent.service"
touch "$arch/etc/init/google-accounts-daemon.conf"
# Mounts: /tmp noexec, a bind mount, a repeated mount, NFS.
cat >"$arch/proc/self/mountinfo" <<'EOF'
20 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
21 20 8:2 / /data rw,relatime - xfs /dev/sda2 rw
22 20 8:2 /www /srv/www rw,relatime - xfs /dev/sda2 rw
23 20 8:2 / /data2 rw,relatime - xfs /dev/sda2 rw
24 20 0:30 / /tmp rw,nosuid,nodev,noexec - tmpfs tmpfs rw
25 20 0:50 / /mnt/share rw - nfs4 filer:/export rw
EOF
# fstab and grub.cfg by kernel device names; an initramfs without virtio_scsi.
printf '/dev/sda1 / ext4 defaults 0 1\n/dev/sda2 /data xfs defaults 0 2\n' >"$arch/etc/fstab"
sed -i 's|root=UUID=[^ ]*|root=/dev/sda1|' "$arch/boot/grub/grub.cfg"
make_initramfs "$arch/boot/initrd.img-6.7.4-arch1-1" gzip 6.7.4-arch1-1 "" \
	virtio_blk virtio_net virtio_pci virtio_ring virtio
expect_exit 3 inspect --root "$arch"
check_status os-compat error
check_status paravirt error
check_status raw-devices error
check_status nic warning SMS.0410
check_status google-services warning MSG.google-services
check_status tmp-exec warning SMS.5102
check_status bind-mount warning SMS.1353
check_status network-fs warning
check_status device-names warning
check_status initramfs-virtio warning
jexpect "sorted(c['subject'] for c in d['checks'] if c['id'] == 'bind-mount')" "['/data2', '/srv/www']"
jexpect "len([c for c in d['checks'] if c['id'] == 'google-services'])" 2
jexpect "d['host']['virtualization']['paravirt']" True
jexpect "d['network']['default_route_interfaces']" "['eth0', 'eth1']"
jexpect "d['boot']['initramfs']['virtio']['virtio_scsi']" missing
jexpect "d['boot']['initramfs']['virtio']['virtio_blk']" initramfs
jexpect "[m['class'] for m in d['mounts'] if m['target'] == '/mnt/share']" "['network']"
# file mode: block lists skipped; rsync and ssh are there.
only_problems os-compat paravirt raw-devices nic google-services tmp-exec bind-mount \
	network-fs device-names initramfs-virtio block-os block-kernel disk-readable
verify

log "NIC overrides from [linux] network_dev / network_macaddr / network_ipaddr"
printf '[linux]\nnetwork_dev = eth1\nnetwork_macaddr = FA-16-3E-00-00-01\nnetwork_ipaddr = 192.168.1.10\n' >"$T/net.conf"
expect_exit 3 "$REHOST" inspect --config "$T/net.conf" --json --root "$arch"
jexpect "(d['network']['interface'], d['network']['mac'], d['network']['ipv4'], d['network']['source'])" \
	"('eth1', 'fa:16:3e:00:00:01', '192.168.1.10', 'config')"
check_status nic ok
verify

log "ARM (aarch64) Ubuntu 22.04: SMS.0206"
arm=$T/arm
make_root_tree "$arm" 5.15.0-91-generic aarch64
os_release "$arm" ID=ubuntu VERSION_ID=22.04 "PRETTY_NAME=Ubuntu 22.04.3 LTS"
# No arch file: the architecture comes from an ARM /proc/cpuinfo.
rm "$arm/proc/sys/kernel/arch"
printf 'processor\t: 0\nBogoMIPS\t: 50.00\nCPU architecture: 8\n\nprocessor\t: 1\nCPU architecture: 8\n' >"$arm/proc/cpuinfo"
expect_exit 3 inspect --root "$arm" --mode file
jexpect "d['host']['arch']" aarch64
check_status arch error SMS.0206
only_problems arch disk-readable
verify

log "missing root directory is an operational failure"
expect_exit 1 "$REHOST" inspect --root "$T/no-such-root"
assert_grep 'no-such-root' "$T/err"
expect_exit 2 "$REHOST" inspect --mode sideways
expect_exit 2 "$REHOST" inspect extra-argument
log "ok"
