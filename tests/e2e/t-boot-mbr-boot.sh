#!/usr/bin/env bash
# ctest: slow
# End to end, mbr-boot: a Debian bookworm server disk (MBR, ext4 / and a separate ext4 /boot, fstab by /dev/sda names)
# is migrated with rehost migrate, fixed by rehost target cutover (postconf)
# and boots on virtio in QEMU; rollback restores the pre-configuration disk.
# Also proves the unfixed disk does not boot on virtio.
# See boot-flow.sh.
. "$(dirname "$0")/../integration/functions.sh"
. "$(dirname "$0")/debian.sh"
. "$(dirname "$0")/boot-flow.sh"
requires_root
requires qemu-system-x86_64 qemu-img debootstrap sha256sum python3

migrate_and_boot mbr-boot --expect-unfixed-failure
log "ok"
