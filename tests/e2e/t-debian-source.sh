#!/usr/bin/env bash
# The Debian source disks of the end-to-end tests are what they claim to
# be: each variant (tests/e2e/debian.sh) boots to a login prompt on its
# original hardware (IDE), and does NOT boot on virtio, because its
# initramfs has no virtio driver - the state `rehost postconf` must fix.
# One IDE boot and one virtio boot per variant, under TCG (minutes each).
# The first run builds the cached Debian tree with debootstrap; without the
# Debian archive that fails, loudly.
# ctest: slow
. "$(dirname "$0")/../integration/functions.sh"
. "$(dirname "$0")/debian.sh"
requires_root
# The lvm variant runs pvcreate and friends: this line also gives the test
# ctest's "lvm" resource lock (see serialize_lvm in CMakeLists.txt).
debian_need qemu-system-x86_64 debootstrap sfdisk losetup mkfs.ext4 pvcreate zstd

variants=(${REHOST_E2E_VARIANTS:-mbr-boot gpt-bios lvm})
timeout=${REHOST_E2E_BOOT_TIMEOUT:-600}
summary=()

start=$SECONDS
debian_rootfs_tarball >/dev/null
summary+=("tree: $((SECONDS - start)) s ($DEBIAN_TARBALL)")

for v in "${variants[@]}"; do
	img=$T/$v.img
	start=$SECONDS
	make_debian_disk "$v" "$img"
	built=$((SECONDS - start))

	log "$v: booting on IDE, expecting a login prompt"
	qemu_boot_watch "$img" ide "$DEBIAN_HOSTNAME login:" "$timeout" || {
		tail -n 60 "$QEMU_BOOT_LOG" >&2
		fail "$v: no login prompt on IDE (console log above, last 60 lines)"
	}
	ide=$QEMU_BOOT_SECONDS
	# The boot went through the initramfs made here and the real fstab.
	assert_grep "Linux version $(echo "$DEBIAN_DISK_KERNEL" | sed 's/[.+]/\\&/g')" "$QEMU_BOOT_LOG"
	assert_no_grep 'Gave up waiting|ALERT!' "$QEMU_BOOT_LOG"

	log "$v: booting on virtio, expecting the initramfs to give up"
	qemu_boot_watch "$img" virtio "login:|Gave up waiting for root|ALERT!" "$timeout" || {
		tail -n 60 "$QEMU_BOOT_LOG" >&2
		fail "$v: virtio boot neither failed nor reached login (console log above)"
	}
	virtio=$QEMU_BOOT_SECONDS
	case "$QEMU_BOOT_MATCH" in
	*login:*) fail "$v: booted to a login prompt on virtio, but its initramfs should lack virtio" ;;
	esac
	summary+=("$v: disk $built s, IDE login $ide s, virtio gave up $virtio s")
	rm -f "$img"
done
printf '%s\n' "${summary[@]}" | sed "s/^/$TEST_NAME: /" >&2
log "ok"
