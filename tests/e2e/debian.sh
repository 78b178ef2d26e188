# Debian bookworm SOURCE disks for the end-to-end boot tests. Source it
# after tests/integration/functions.sh:
#
#   . "$REHOST_SRCDIR/tests/integration/functions.sh"
#   . "$REHOST_SRCDIR/tests/e2e/debian.sh"
#
# debian_rootfs_tarball   a debootstrapped tree, built once and cached
# make_debian_disk V IMG  a raw BIOS disk of an "old server" (V = mbr-boot,
#                         gpt-bios or lvm) that boots on IDE and, because
#                         its initramfs has no virtio driver, not on virtio
# qemu_boot_watch ...     boot an image in QEMU and wait for a console line
#
# Every mount and loop device made here is registered with functions.sh's
# cleanup_fn as it is made, so a failing test still leaves nothing behind;
# a disk that is built unmounts and detaches its own at once (_dd_unwind).

# Bump when the tree's content changes in a way the package list does not
# show (the customisation in _debian_build_tree, the debootstrap options).
DEBIAN_TREE_VERSION=1
DEBIAN_SUITE=bookworm
DEBIAN_CACHE=${REHOST_E2E_CACHE:-/var/cache/rehost-e2e}
# What an old BIOS server running ext4, XFS and LVM has installed; the
# DHCP client ifupdown calls in bookworm is isc-dhcp-client; zstd is what
# initramfs-tools compresses with by default.
DEBIAN_PACKAGES=(
	linux-image-amd64 grub-pc initramfs-tools systemd-sysv udev kmod
	lvm2 e2fsprogs xfsprogs ifupdown isc-dhcp-client iproute2 procps zstd
	grub-efi-amd64-bin
)
DEBIAN_ROOT_PASSWORD=rehost
DEBIAN_HOSTNAME=rehost-src

# debian_need CMD...: fail (not skip) unless every command exists: the
# end-to-end tests are part of make check, whose scripts/install-deps.sh
# installs them all, so a missing one is a broken setup, not an option.
debian_need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || fail "required command '$c' not found (run scripts/install-deps.sh as root)"
	done
}

# _debian_mirror: the Debian archive URI this machine's apt uses for the
# suite (deb822 .sources or one-line .list). REHOST_E2E_MIRROR overrides.
_debian_mirror() {
	if [ -n "${REHOST_E2E_MIRROR:-}" ]; then
		echo "$REHOST_E2E_MIRROR"
		return
	fi
	local f uri
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		# Paragraphs are separated by blank lines; pick one whose Suites
		# list the suite itself (not -updates or -security) with type deb.
		uri=$(awk -v suite="$DEBIAN_SUITE" '
			function flush() {
				if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") && uris != "" && !done) {
					split(uris, u, " "); print u[1]; done = 1
				}
				types = suites = uris = ""
			}
			/^[ \t]*$/ { flush(); next }
			/^[ \t]*#/ { next }
			tolower($1) == "types:" { $1 = ""; types = $0 }
			tolower($1) == "suites:" { $1 = ""; suites = $0 }
			tolower($1) == "uris:" { $1 = ""; uris = $0 }
			END { flush() }' "$f" | sed 's/^ *//')
		[ -n "$uri" ] && { echo "$uri"; return; }
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		# deb [options] URI SUITE COMPONENTS...
		uri=$(sed -E 's/\[[^]]*\]//' "$f" | awk -v suite="$DEBIAN_SUITE" \
			'$1 == "deb" && $3 == suite { print $2; exit }')
		[ -n "$uri" ] && { echo "$uri"; return; }
	done
	fail "no Debian '$DEBIAN_SUITE' archive in /etc/apt/sources.list(.d): add one or set REHOST_E2E_MIRROR=URI"
}

# _debian_cache_key: changes whenever the tree would come out different.
_debian_cache_key() {
	printf '%s\n' "$DEBIAN_TREE_VERSION" "$DEBIAN_SUITE" amd64 "${DEBIAN_PACKAGES[@]}" \
		"$DEBIAN_ROOT_PASSWORD" "$DEBIAN_HOSTNAME" | sha256sum | cut -c1-16
}

# _debian_umount_under DIR: unmount whatever is still mounted below DIR
# (deepest first). debootstrap mounts proc and sys in its target and
# normally removes them itself; after a failed run this removes exactly
# those, and nothing outside DIR.
_debian_umount_under() {
	local dir m
	dir=$(realpath "$1" 2>/dev/null) || return 0
	while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done < <(awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r)
}

# _debian_build_tree DIR LOG: debootstrap into DIR and make it a server.
_debian_build_tree() {
	local dir=$1 dlog=$2 mirror include
	mirror=$(_debian_mirror)
	include=$(IFS=,; echo "${DEBIAN_PACKAGES[*]}")
	log "debootstrap $DEBIAN_SUITE from $mirror into $dir (log: $dlog)"
	# grub-pc's postinst installs to no device when none was chosen and
	# skips update-grub while /boot/grub/grub.cfg does not exist; the
	# disks get their boot loader from make_debian_disk.
	DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true \
		debootstrap --arch=amd64 --variant=minbase --include="$include" \
		"$DEBIAN_SUITE" "$dir" "$mirror" >"$dlog" 2>&1 || {
		tail -n 40 "$dlog" >&2
		_debian_umount_under "$dir"
		fail "debootstrap of Debian $DEBIAN_SUITE from $mirror failed (is the archive reachable? the last 40 lines of its log are above)"
	}
	_debian_umount_under "$dir"
	echo "root:$DEBIAN_ROOT_PASSWORD" | chroot "$dir" chpasswd || fail "chpasswd in the new tree failed"
	echo "$DEBIAN_HOSTNAME" >"$dir/etc/hostname"
	printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n' "$DEBIAN_HOSTNAME" >"$dir/etc/hosts"
	# Every booted copy makes its own machine id.
	: >"$dir/etc/machine-id"
	rm -f "$dir/var/lib/dbus/machine-id"
	chroot "$dir" apt-get clean
	rm -rf "$dir/var/lib/apt/lists/"* "$dir/tmp/"*
	ls "$dir"/boot/vmlinuz-* >/dev/null 2>&1 || fail "no kernel in the debootstrapped tree ($dir/boot)"
}

# debian_rootfs_tarball: print the path of a zstd tarball of a Debian
# bookworm amd64 tree (packages: DEBIAN_PACKAGES, root password rehost,
# hostname rehost-src). Built once per cache key under $DEBIAN_CACHE
# (debootstrap's log beside it as .log), written atomically, shared by
# concurrent tests through a lock. Also sets DEBIAN_TARBALL, so callers can
# run it outside $(...), where bash would switch set -e off.
debian_rootfs_tarball() {
	local key tarball lockfd build start
	key=$(_debian_cache_key)
	tarball=$DEBIAN_CACHE/debian-$DEBIAN_SUITE-amd64-$key.tar.zst
	mkdir -p "$DEBIAN_CACHE"
	exec {lockfd}>"$DEBIAN_CACHE/.lock"
	flock -w 3600 "$lockfd" || fail "timed out waiting for $DEBIAN_CACHE/.lock (another build of the tree?)"
	if [ ! -s "$tarball" ]; then
		debian_need debootstrap zstd chroot tar
		start=$SECONDS
		build=$(mktemp -d "$DEBIAN_CACHE/build.XXXXXX")
		cleanup_fn rm -rf --one-file-system "$build"
		cleanup_fn _debian_umount_under "$build/root"
		mkdir "$build/root"
		_debian_build_tree "$build/root" "$build/debootstrap.log"
		tar -C "$build/root" --numeric-owner --xattrs --xattrs-include='*' -cpf - . |
			zstd -q -T0 -3 -o "$build/tree.tar.zst" || fail "packing the tree into $build/tree.tar.zst failed"
		mv "$build/debootstrap.log" "$tarball.log"
		mv "$build/tree.tar.zst" "$tarball"
		rm -rf --one-file-system "$build"
		log "built $tarball in $((SECONDS - start)) s"
	fi
	exec {lockfd}>&-
	DEBIAN_TARBALL=$tarball
	echo "$tarball"
}

# ---- source disks ----

DEBIAN_DISK_SIZE=3G
DEBIAN_BOOT_MIB=256
DEBIAN_SWAP_MIB=256
# The only drivers the source initramfs gets (MODULES=list): the old
# server's IDE/SATA controllers, disks and filesystems. No virtio, so the
# unconverted disk cannot find its root on a virtio bus.
DEBIAN_INITRAMFS_MODULES=(
	libata ata_piix ata_generic pata_acpi ahci sd_mod crc32c_generic ext4
)

# _dd_step CMD...: undo CMD at this disk's end (_dd_unwind) and, should
# the test fail first, at exit (functions.sh cleanup). Running an undo
# twice is harmless: a second umount finds nothing mounted, and
# _loop_release leaves a loop device alone once it maps something else.
_dd_undo=()
_dd_step() {
	local q
	printf -v q '%q ' "$@"
	_dd_undo+=("$q")
	cleanup_fn "$@"
}
_dd_unwind() {
	local i
	sync
	for ((i = ${#_dd_undo[@]} - 1; i >= 0; i--)); do
		eval "${_dd_undo[i]}" || fail "undo step failed: ${_dd_undo[i]}"
	done
	_dd_undo=()
}

# _dd_loop IMG OFFSET SIZE: a loop device over a byte range, detached by
# _dd_unwind. Sets DD_LOOP (no subshell, so the undo list stays ours).
_dd_loop() {
	DD_LOOP=$(losetup --show -f -o "$2" --sizelimit "$3" "$1")
	_dd_step _loop_release "$DD_LOOP" "$1" "$2"
}

# _dd_mount [MOUNT-OPTIONS...] SOURCE DIR: mount, unmounted by _dd_unwind.
_dd_mount() {
	local dir=${*: -1}
	mkdir -p "$dir"
	mount "$@"
	_dd_step umount "$dir"
}

_dd_uuid() { cat /proc/sys/kernel/random/uuid; }

# make_debian_disk VARIANT IMG: build the sparse raw disk IMG of a Debian
# bookworm BIOS server laid out as VARIANT:
#   mbr-boot  MBR, p1 /boot ext4, p2 / ext4; fstab by /dev/sdaN names
#   gpt-bios  GPT, p1 BIOS boot partition, p2 / ext4 (with /boot); fstab by UUID
#   lvm       MBR, p1 /boot ext4, p2 LVM PV: VG rhvg, LVs root (ext4) and
#             swap; fstab by /dev/mapper names
#   gpt-uefi  GPT, p1 EFI System Partition (FAT, /boot/efi), p2 / ext4 (with
#             /boot); fstab by UUID; a UEFI server
# GRUB (i386-pc) is embedded after the MBR or in the BIOS boot partition
# (gpt-uefi: GRUB x86_64-efi at the ESP's EFI/BOOT/BOOTX64.EFI), the kernel logs to ttyS0, and the initramfs holds only IDE/SATA drivers.
# Sets DEBIAN_DISK_KERNEL, DEBIAN_ROOT_UUID, DEBIAN_BOOT_UUID. Call it as
# a plain command, not in $(...) or under ||: it relies on set -e.
make_debian_disk() {
	local variant=$1 img=$2 tarball work root boot_sep=1 table spec
	local pstart psize rootdev bootdev lvoff lvsize pv kver
	case "$variant" in
	mbr-boot|lvm) table=dos ;;
	gpt-bios|gpt-uefi) table=gpt; boot_sep=0 ;;
	*) fail "make_debian_disk: unknown variant '$variant' (mbr-boot, gpt-bios, lvm or gpt-uefi)" ;;
	esac
	debian_need sfdisk losetup mkfs.ext4 mkswap chroot zstd tar
	[ "$variant" != lvm ] || debian_need pvcreate vgcreate lvcreate lvs
	debian_rootfs_tarball >/dev/null
	tarball=$DEBIAN_TARBALL
	work=$(mktemp -d "$T/disk-$variant.XXXXXX")
	root=$work/root
	DEBIAN_ROOT_UUID=$(_dd_uuid)
	DEBIAN_BOOT_UUID=$DEBIAN_ROOT_UUID
	[ "$boot_sep" = 1 ] && DEBIAN_BOOT_UUID=$(_dd_uuid)
	log "disk $variant: $img (root $DEBIAN_ROOT_UUID, /boot $DEBIAN_BOOT_UUID)"

	rm -f "$img"
	make_image "$img" "$DEBIAN_DISK_SIZE"
	case "$variant" in
	mbr-boot) spec="start=1MiB, size=${DEBIAN_BOOT_MIB}MiB, type=83, bootable"$'\n'"type=83" ;;
	lvm) spec="start=1MiB, size=${DEBIAN_BOOT_MIB}MiB, type=83, bootable"$'\n'"type=8e" ;;
	gpt-bios) spec="start=1MiB, size=1MiB, type=21686148-6449-6E6F-744E-656564454649, name=bios"$'\n'"type=0FC63DAF-8483-4772-8E3D-693D7984C47D, name=root" ;;
	gpt-uefi) spec="start=1MiB, size=64MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=esp"$'\n'"type=0FC63DAF-8483-4772-8E3D-693D7984C47D, name=root" ;;
	esac
	partition_image "$img" "$table" "$spec"
	if [ "$variant" = gpt-uefi ]; then
		# The ESP: FAT made on a loop device, filled with mtools later
		# (this kernel may not mount vfat).
		local espid
		read -r pstart psize < <(part_geometry "$img" 1)
		_dd_loop "$img" "$pstart" "$psize"
		DEBIAN_ESP_DEV=$DD_LOOP
		espid=$(_dd_uuid | tr -d '-' | cut -c1-8 | tr a-f A-F)
		DEBIAN_ESP_UUID=${espid:0:4}-${espid:4:4}
		mkfs.vfat -i "$espid" -n ESP "$DEBIAN_ESP_DEV" >/dev/null
	fi

	# The root filesystem (and, on lvm, swap) first: on lvm it lives in an
	# LV whose place on the PV only the LVM tools know.
	if [ "$variant" = lvm ]; then
		read -r pstart psize < <(part_geometry "$img" 2)
		_dd_loop "$img" "$pstart" "$psize"
		pv=$DD_LOOP
		lvm_setup "$pv"
		lvm_run pvcreate -y "$pv" >/dev/null
		lvm_run vgcreate rhvg "$pv" >/dev/null
		lvm_run lvcreate -an -Zn -y -L "${DEBIAN_SWAP_MIB}M" -n swap rhvg >/dev/null
		lvm_run lvcreate -an -Zn -y -l 100%FREE -n root rhvg >/dev/null
		lvoff=$(lvm_lv_offset rhvg swap)
		_dd_loop "$img" $((pstart + lvoff)) $((DEBIAN_SWAP_MIB * 1024 * 1024))
		mkswap -U "$(_dd_uuid)" -L swap "$DD_LOOP" >/dev/null
		lvoff=$(lvm_lv_offset rhvg root)
		lvsize=$(lvm_run lvs --noheadings --units b --nosuffix -o lv_size rhvg/root | tr -d ' ')
		_dd_loop "$img" $((pstart + lvoff)) "$lvsize"
	else
		read -r pstart psize < <(part_geometry "$img" 2)
		_dd_loop "$img" "$pstart" "$psize"
	fi
	rootdev=$DD_LOOP
	mkfs.ext4 -q -F -U "$DEBIAN_ROOT_UUID" -L root "$rootdev"
	_dd_mount "$rootdev" "$root"
	if [ "$boot_sep" = 1 ]; then
		read -r pstart psize < <(part_geometry "$img" 1)
		_dd_loop "$img" "$pstart" "$psize"
		bootdev=$DD_LOOP
		mkfs.ext4 -q -F -U "$DEBIAN_BOOT_UUID" -L boot "$bootdev"
		_dd_mount "$bootdev" "$root/boot"
	else
		bootdev=$rootdev
	fi

	tar -C "$root" --numeric-owner --xattrs --xattrs-include='*' --zstd -xpf "$tarball" ||
		fail "unpacking $tarball into $root failed"
	kver=$(basename "$(ls "$root"/boot/vmlinuz-* | sort -V | tail -1)")
	kver=${kver#vmlinuz-}
	DEBIAN_DISK_KERNEL=$kver

	_debian_server_config "$variant" "$root"
	_debian_initramfs "$variant" "$root" "$kver"
	if [ "$variant" = gpt-uefi ]; then
		_debian_grub_efi "$img" "$root" "$kver"
	else
		_debian_grub "$variant" "$img" "$root" "$kver" "$boot_sep" "$bootdev"
	fi
	_dd_unwind
	log "disk $variant: done (kernel $kver)"
}

# _debian_server_config VARIANT ROOT: what makes the tree an old server
# from another platform: device-name fstab (mbr-boot), a static address on
# eth0 pinned to a MAC by a persistent-net rule, a cloud config left
# behind, the provider's motd.
_debian_server_config() {
	local variant=$1 root=$2
	case "$variant" in
	mbr-boot)
		printf '%s\n' '# <file system> <mount point> <type> <options> <dump> <pass>' \
			'/dev/sda2 / ext4 errors=remount-ro 0 1' \
			'/dev/sda1 /boot ext4 defaults 0 2' ;;
	gpt-bios)
		printf '%s\n' '# <file system> <mount point> <type> <options> <dump> <pass>' \
			"UUID=$DEBIAN_ROOT_UUID / ext4 errors=remount-ro 0 1" ;;
	gpt-uefi)
		printf '%s\n' '# <file system> <mount point> <type> <options> <dump> <pass>' \
			'/dev/sda2 / ext4 errors=remount-ro 0 1' \
			"UUID=$DEBIAN_ESP_UUID /boot/efi vfat umask=0077 0 1" ;;
	lvm)
		printf '%s\n' '# <file system> <mount point> <type> <options> <dump> <pass>' \
			'/dev/mapper/rhvg-root / ext4 errors=remount-ro 0 1' \
			"UUID=$DEBIAN_BOOT_UUID /boot ext4 defaults 0 2" \
			'/dev/mapper/rhvg-swap none swap sw 0 0' ;;
	esac >"$root/etc/fstab"
	# 192.0.2.0/24 is the documentation range: nothing answers there.
	cat >"$root/etc/network/interfaces" <<-'NET'
	# Configured by the hosting provider's installer.
	source /etc/network/interfaces.d/*

	auto lo
	iface lo inet loopback

	allow-hotplug eth0
	iface eth0 inet static
	    address 192.0.2.10/24
	    gateway 192.0.2.1
	    dns-nameservers 192.0.2.53
	NET
	mkdir -p "$root/etc/udev/rules.d" "$root/etc/cloud"
	cat >"$root/etc/udev/rules.d/70-persistent-net.rules" <<-'UDEV'
	# This file was automatically generated by the /lib/udev/write_net_rules
	# program, run by the persistent-net-generator.rules rules file.

	# PCI device 0x10ec:0x8139 (8139too)
	SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", ATTR{address}=="00:16:3e:5a:1b:2c", ATTR{dev_id}=="0x0", ATTR{type}=="1", KERNEL=="eth*", NAME="eth0"
	UDEV
	cat >"$root/etc/cloud/cloud.cfg" <<-'CLOUD'
	# Left behind by the previous platform's image; cloud-init is not installed.
	datasource_list: [ Ec2, None ]
	disable_root: false
	preserve_hostname: true
	manage_etc_hosts: false
	CLOUD
	cat >"$root/etc/motd" <<-'MOTD'

	  Welcome to a VeloHost dedicated server.
	  Managed by VeloHost Operations - support tickets: see the customer portal.

	MOTD
}

# _dd_chroot_mounts ROOT: the kernel file systems update-initramfs and
# grub-mkimage need in a chroot; undone (exactly these) by _dd_unwind.
_dd_chroot_mounts() {
	_dd_mount -t proc proc "$1/proc"
	_dd_mount -t sysfs sysfs "$1/sys"
	_dd_mount --bind /dev "$1/dev"
}

# _debian_initramfs VARIANT ROOT KVER: rebuild the initramfs with only the
# listed drivers (MODULES=dep would follow THIS machine's devices) and
# check that virtio is absent and the IDE driver present.
_debian_initramfs() {
	local variant=$1 root=$2 kver=$3 list=$T/initramfs-$1.list m
	sed -i 's/^MODULES=.*/MODULES=list/' "$root/etc/initramfs-tools/initramfs.conf"
	grep -qx 'MODULES=list' "$root/etc/initramfs-tools/initramfs.conf" ||
		fail "could not set MODULES=list in $root/etc/initramfs-tools/initramfs.conf"
	{
		echo '# The old platform: IDE/SATA disks only.'
		printf '%s\n' "${DEBIAN_INITRAMFS_MODULES[@]}"
		[ "$variant" = lvm ] && echo dm_mod
	} >"$root/etc/initramfs-tools/modules"
	# Otherwise the resume hook probes THIS machine's swap, and the fsck
	# hook probes a root device that does not exist in the chroot.
	echo RESUME=none >"$root/etc/initramfs-tools/conf.d/resume"
	echo FSTYPE=ext4 >"$root/etc/initramfs-tools/conf.d/fstype"
	_dd_chroot_mounts "$root"
	chroot "$root" update-initramfs -u -k "$kver" >"$T/update-initramfs-$variant.log" 2>&1 || {
		cat "$T/update-initramfs-$variant.log" >&2
		fail "update-initramfs in the $variant tree failed"
	}
	# Anything beyond "Generating ..." is a warning worth seeing.
	grep -v '^update-initramfs: Generating ' "$T/update-initramfs-$variant.log" |
		sed "s/^/update-initramfs ($variant): /" >&2 || true
	chroot "$root" lsinitramfs "/boot/initrd.img-$kver" >"$list" ||
		fail "lsinitramfs of the $variant initramfs failed"
	for m in virtio_blk virtio_scsi virtio_pci; do
		! grep -q "/$m\.ko" "$list" || fail "the $variant initramfs holds $m: the source disk must lack virtio"
	done
	for m in ata_piix sd_mod ext4; do
		grep -q "/$m\.ko" "$list" || fail "the $variant initramfs lacks $m"
	done
	if [ "$variant" = lvm ]; then
		grep -q '/dm-mod\.ko' "$list" || fail "the lvm initramfs lacks dm-mod"
		grep -qE '(^|/)s?bin/lvm$' "$list" || fail "the lvm initramfs lacks the lvm tool"
	fi
}

# _debian_grub VARIANT IMG ROOT KVER BOOT_SEP BOOTDEV: GRUB for BIOS, put
# in place by hand: grub-install cannot write to an image without
# partition nodes, and grub-mkconfig cannot probe loop devices from a
# chroot. grub.cfg is written here; core.img comes from the image's own
# grub-mkimage, with an early config that finds the /boot filesystem by
# UUID; grub-bios-setup embeds it after the MBR (or in the BIOS boot
# partition) and points boot.img at it.
_debian_grub() {
	local variant=$1 img=$2 root=$3 kver=$4 boot_sep=$5 bootdev=$6
	local grubdir=$root/boot/grub prefix=/boot/grub kdir=/boot rootarg
	local setup=/usr/lib/grub/i386-pc/grub-bios-setup
	[ -x "$setup" ] || fail "$setup not found (install grub-pc-bin: scripts/install-deps.sh)"
	if [ "$boot_sep" = 1 ]; then
		prefix=/grub
		kdir=
	fi
	case "$variant" in
	lvm) rootarg=/dev/mapper/rhvg-root ;;
	*) rootarg=UUID=$DEBIAN_ROOT_UUID ;;
	esac
	mkdir -p "$grubdir/i386-pc"
	cp "$root"/usr/lib/grub/i386-pc/*.mod "$root"/usr/lib/grub/i386-pc/*.lst \
		"$root"/usr/lib/grub/i386-pc/boot.img "$grubdir/i386-pc/"
	cat >"$grubdir/grub.cfg" <<-CFG
	# Written by rehost's e2e disk builder (tests/e2e/debian.sh).
	insmod serial
	serial --unit=0 --speed=115200
	terminal_input serial console
	terminal_output serial console
	set default=0
	set timeout=1
	menuentry 'Debian GNU/Linux 12, $kver' {
		insmod part_msdos
		insmod part_gpt
		insmod ext2
		search --no-floppy --fs-uuid --set=root $DEBIAN_BOOT_UUID
		linux $kdir/vmlinuz-$kver root=$rootarg ro console=ttyS0,115200
		initrd $kdir/initrd.img-$kver
	}
	CFG
	printf 'search.fs_uuid %s root\nset prefix=($root)%s\n' "$DEBIAN_BOOT_UUID" "$prefix" >"$grubdir/early.cfg"
	chroot "$root" grub-mkimage -O i386-pc -o /boot/grub/i386-pc/core.img \
		-c /boot/grub/early.cfg -p "$prefix" \
		biosdisk part_msdos part_gpt ext2 search_fs_uuid ||
		fail "grub-mkimage in the $variant tree failed"
	# grub-bios-setup finds the device holding core.img through the
	# device map: (hd0) is the disk to write, (hd1) the /boot filesystem.
	printf '(hd0) %s\n(hd1) %s\n' "$(realpath "$img")" "$bootdev" >"$T/device-$variant.map"
	"$setup" -d "$grubdir/i386-pc" -m "$T/device-$variant.map" '(hd0)' >"$T/grub-setup-$variant.log" 2>&1 || {
		cat "$T/grub-setup-$variant.log" >&2
		fail "grub-bios-setup on $img failed"
	}
	if grep -q . "$T/grub-setup-$variant.log"; then
		sed "s/^/grub-bios-setup ($variant): /" "$T/grub-setup-$variant.log" >&2
	fi
	_debian_check_embedded "$variant" "$img" "$grubdir/i386-pc/core.img"
}

# _debian_grub_efi IMG ROOT KVER: GRUB for UEFI as the removable-media
# boot path EFI/BOOT/BOOTX64.EFI on the ESP, finding /boot/grub by the root
# filesystem's UUID; grub.cfg written by hand (see _debian_grub).
_debian_grub_efi() {
	local img=$1 root=$2 kver=$3 grubdir=$2/boot/grub
	requires mmd mcopy
	[ -d "$root/usr/lib/grub/x86_64-efi" ] || fail "the Debian tree has no GRUB for UEFI (grub-efi-amd64-bin)"
	mkdir -p "$grubdir/x86_64-efi"
	cp "$root"/usr/lib/grub/x86_64-efi/*.mod "$root"/usr/lib/grub/x86_64-efi/*.lst "$grubdir/x86_64-efi/"
	cat >"$grubdir/grub.cfg" <<-CFG
	# Written by rehost's e2e disk builder (tests/e2e/debian.sh).
	insmod serial
	serial --unit=0 --speed=115200
	terminal_input serial console
	terminal_output serial console
	set default=0
	set timeout=1
	menuentry 'Debian GNU/Linux 12, $kver' {
		insmod part_gpt
		insmod ext2
		search --no-floppy --fs-uuid --set=root $DEBIAN_ROOT_UUID
		linux /boot/vmlinuz-$kver root=UUID=$DEBIAN_ROOT_UUID ro console=ttyS0,115200
		initrd /boot/initrd.img-$kver
	}
	CFG
	printf 'search.fs_uuid %s root\nset prefix=($root)/boot/grub\n' "$DEBIAN_ROOT_UUID" >"$grubdir/early.cfg"
	chroot "$root" grub-mkimage -O x86_64-efi -o /boot/grub/BOOTX64.EFI \
		-c /boot/grub/early.cfg -p /boot/grub part_gpt part_msdos ext2 search_fs_uuid ||
		fail "grub-mkimage (x86_64-efi) in the gpt-uefi tree failed"
	# mtools complains that a loop device has no geometry: harmless.
	mmd -i "$DEBIAN_ESP_DEV" ::/EFI ::/EFI/BOOT 2>"$T/mtools.err" || { cat "$T/mtools.err" >&2; fail "mmd on the ESP failed"; }
	mcopy -i "$DEBIAN_ESP_DEV" "$grubdir/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI 2>"$T/mtools.err" ||
		{ cat "$T/mtools.err" >&2; fail "mcopy to the ESP failed"; }
	rm -f "$grubdir/BOOTX64.EFI"
	mdir -i "$DEBIAN_ESP_DEV" ::/EFI/BOOT 2>/dev/null | grep -q BOOTX64 || fail "BOOTX64.EFI is not on the ESP"
}

# _debian_check_embedded VARIANT IMG CORE: boot.img is in the MBR (with the
# partition table kept) and the first sector of core.img where it points:
# sector 1 after an MBR, the BIOS boot partition's first sector on GPT.
_debian_check_embedded() {
	local variant=$1 img=$2 core=$3 sector=1 off size nparts
	[ "$(od -An -tx1 -j510 -N2 "$img" | tr -d ' ')" = 55aa ] || fail "$img: no boot signature in the MBR after grub-bios-setup"
	cmp -s -n 440 -i 0:0 "$img" /dev/zero && fail "$img: the MBR holds no boot code"
	if [ "$variant" = gpt-bios ]; then
		read -r off _ < <(part_geometry "$img" 1)
		sector=$((off / 512))
	fi
	# boot.img keeps core.img's first sector number at offset 0x5c.
	[ "$(od -An -tu8 -j92 -N8 "$img" | tr -d ' ')" = "$sector" ] ||
		fail "$img: boot.img points at sector $(od -An -tu8 -j92 -N8 "$img" | tr -d ' '), expected $sector"
	# grub-bios-setup patches the block list into its first sector and the
	# boot drive into its second; the rest is copied as it is.
	size=$(stat -c %s "$core")
	cmp -s -n $((size - 1024)) -i "$(((sector + 2) * 512)):1024" "$img" "$core" ||
		fail "$img: core.img is not embedded from sector $sector"
	nparts=$(sfdisk -d "$img" | grep -c "^$img" || true)
	[ "$nparts" = 2 ] || fail "$img: partition table damaged by grub-bios-setup ($nparts partitions)"
}

# ---- booting ----

# qemu_boot_watch IMG BUS PATTERN TIMEOUT: boot IMG (raw, -snapshot: the
# image is never written) in QEMU with TCG on disk bus BUS (ide, virtio,
# ...), with the serial console in a log, until a console line matches the
# extended regex PATTERN, QEMU exits, or TIMEOUT seconds pass; then stop
# QEMU. A stand-in for the real tests' `rehost boot-test`, used to prove
# the source disks themselves. Sets QEMU_BOOT_LOG (the console log),
# QEMU_BOOT_MATCH (the first matching line) and QEMU_BOOT_SECONDS; with
# REHOST_E2E_LOGDIR set, the console log is kept there as IMGNAME-BUS.log.
# Returns 0 on a match, 1 on timeout, 2 if QEMU exited first.
qemu_boot_watch() {
	local img=$1 bus=$2 pattern=$3 timeout=$4 pid start rc=1
	debian_need qemu-system-x86_64
	QEMU_BOOT_LOG=$(mktemp "$T/boot-$bus.XXXXXX.log")
	QEMU_BOOT_MATCH=
	start=$SECONDS
	# No NIC: the guest's static address must not reach any network.
	qemu-system-x86_64 -machine pc -accel tcg -m 1024 -display none \
		-monitor none -nic none -no-reboot -snapshot \
		-serial "file:$QEMU_BOOT_LOG" \
		-drive "file=$img,format=raw,if=$bus" >"$QEMU_BOOT_LOG.qemu" 2>&1 &
	pid=$!
	cleanup_fn kill_wait "$pid"
	while :; do
		QEMU_BOOT_MATCH=$(tr -d '\r' <"$QEMU_BOOT_LOG" | grep -aE -m1 -- "$pattern" || true)
		if [ -n "$QEMU_BOOT_MATCH" ]; then
			rc=0
			break
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			rc=2
			break
		fi
		if [ $((SECONDS - start)) -ge "$timeout" ]; then
			rc=1
			break
		fi
		sleep 2
	done
	QEMU_BOOT_SECONDS=$((SECONDS - start))
	kill_wait "$pid"
	if [ -n "${REHOST_E2E_LOGDIR:-}" ]; then
		mkdir -p "$REHOST_E2E_LOGDIR"
		cp "$QEMU_BOOT_LOG" "$REHOST_E2E_LOGDIR/$(basename "$img" .img)-$bus.log"
	fi
	case $rc in
	0) log "boot $bus: '$QEMU_BOOT_MATCH' after $QEMU_BOOT_SECONDS s" ;;
	1) log "boot $bus: no /$pattern/ within $timeout s" ;;
	2) log "boot $bus: QEMU exited after $QEMU_BOOT_SECONDS s without /$pattern/: $(cat "$QEMU_BOOT_LOG.qemu")" ;;
	esac
	return $rc
}
