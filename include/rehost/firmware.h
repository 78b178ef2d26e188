/*
 * Which firmware a boot disk needs, read from the disk itself, and the
 * seed's firmware check (INVENTORY §5.1): a target must boot the way the
 * source did, else the copy cannot start (MSG.firmware-mismatch).
 *
 *   GPT with an EFI System Partition            UEFI
 *   GPT with a BIOS boot partition (bios_grub)  BIOS (with an ESP too: both)
 *   MBR with a 0xEF (EFI) partition             UEFI
 *   MBR with boot code or an active partition   BIOS (with 0xEF too: both)
 *   anything else                               unknown
 */
#ifndef REHOST_FIRMWARE_H
#define REHOST_FIRMWARE_H

#include <stdbool.h>

#include "rehost/disk.h"

enum rh_firmware {
	RH_FW_UNKNOWN = 0,
	RH_FW_BIOS = 1 << 0,
	RH_FW_UEFI = 1 << 1,
	RH_FW_BOTH = RH_FW_BIOS | RH_FW_UEFI, /* the disk boots either way */
};

struct rh_firmware_info {
	enum rh_firmware type;
	enum rh_ptable_type ptable;
	unsigned esp_part;     /* EFI System Partition number (GPT type or MBR 0xEF), 0 none */
	unsigned bios_part;    /* GPT BIOS boot partition number, 0 none */
	unsigned active_part;  /* MBR active (bootable) partition number, 0 none */
	bool boot_code;        /* MBR boot code: bytes 0..439 of sector 0 not all zero */
	char reason[256];      /* one line for humans: what decided it */
};

/* Read the partition table and sector 0 of the disk image or device at
 * path (read-only). *fw is always initialised. Returns 0 (also for
 * "unknown"), RH_ERR_IO or RH_ERR_CORRUPT. */
int rh_disk_firmware(const char *path, struct rh_firmware_info *fw);

/* "BIOS", "UEFI", "BIOS+UEFI" or "unknown"; never NULL. */
const char *rh_firmware_name(enum rh_firmware fw);

/* "bios" or "uefi" (any case) into *out; RH_ERR_INVAL otherwise. */
int rh_firmware_parse(const char *s, enum rh_firmware *out);

/* Can a disk that needs `source` boot on a target with firmware `target`?
 * 0 when they share a type. Else RH_ERR_INVAL with catalogue code
 * MSG.firmware-mismatch and the seed's message: "the target's firmware
 * type differs from the source's: source UEFI, target BIOS", or, when
 * either is unknown, "firmware types (UEFI/BIOS boot) differ, or the
 * source firmware type is unknown". */
int rh_firmware_check(enum rh_firmware source, enum rh_firmware target);

#endif
