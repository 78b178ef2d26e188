#!/usr/bin/env bash
# ctest: slow
# End to end, gpt-uefi: a Debian bookworm server disk (GPT, UEFI: an EFI System Partition at /boot/efi, ext4 root as /dev/sda2)
# is migrated with rehost migrate, fixed by rehost target cutover (postconf)
# and boots on virtio in QEMU; rollback restores the pre-configuration disk.
# Booted with OVMF; the ESP is written with mtools when vfat cannot be mounted.
# See boot-flow.sh.
. "$(dirname "$0")/../integration/functions.sh"
. "$(dirname "$0")/debian.sh"
. "$(dirname "$0")/boot-flow.sh"
requires_root
requires qemu-system-x86_64 qemu-img debootstrap sha256sum python3

migrate_and_boot gpt-uefi
log "ok"
