#!/usr/bin/env bash
# ctest: slow
# End to end, gpt-bios: a Debian bookworm server disk (GPT with a BIOS boot partition, one ext4 root holding /boot)
# is migrated with rehost migrate, fixed by rehost target cutover (postconf)
# and boots on virtio in QEMU; rollback restores the pre-configuration disk.
# See boot-flow.sh.
. "$(dirname "$0")/../integration/functions.sh"
. "$(dirname "$0")/debian.sh"
. "$(dirname "$0")/boot-flow.sh"
requires_root
requires qemu-system-x86_64 qemu-img debootstrap sha256sum python3

migrate_and_boot gpt-bios
log "ok"
