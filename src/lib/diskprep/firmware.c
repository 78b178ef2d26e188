/* Which firmware a boot disk needs (include/rehost/firmware.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "rehost/err.h"
#include "rehost/io.h"
#include "rehost/firmware.h"

#define GPT_ESP "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
#define GPT_BIOS_BOOT "21686148-6449-6e6f-744e-656564454649"
#define MBR_BOOT_CODE 440 /* bytes before the disk signature */

const char *rh_firmware_name(enum rh_firmware fw)
{
	switch (fw) {
	case RH_FW_BIOS: return "BIOS";
	case RH_FW_UEFI: return "UEFI";
	case RH_FW_BOTH: return "BIOS+UEFI";
	default: return "unknown";
	}
}

int rh_firmware_parse(const char *s, enum rh_firmware *out)
{
	*out = RH_FW_UNKNOWN;
	if (s != NULL && strcasecmp(s, "bios") == 0)
		*out = RH_FW_BIOS;
	else if (s != NULL && strcasecmp(s, "uefi") == 0)
		*out = RH_FW_UEFI;
	else
		return rh_seterr(RH_ERR_INVAL, "firmware '%s': expected bios or uefi", s ? s : "");
	return 0;
}

int rh_firmware_check(enum rh_firmware source, enum rh_firmware target)
{
	if (source == RH_FW_UNKNOWN || target == RH_FW_UNKNOWN)
		return rh_seterr_sms(RH_ERR_INVAL, "MSG.firmware-mismatch",
				     "firmware types (UEFI/BIOS boot) differ, or the source firmware type is unknown (source %s, target %s)",
				     rh_firmware_name(source), rh_firmware_name(target));
	if ((source & target) == 0)
		return rh_seterr_sms(RH_ERR_INVAL, "MSG.firmware-mismatch",
				     "the target's firmware type differs from the source's: source %s, target %s",
				     rh_firmware_name(source), rh_firmware_name(target));
	return 0;
}

static void decide(struct rh_firmware_info *fw, bool legacy_bootable)
{
	char uefi[80] = "", bios[96] = "";

	if (fw->esp_part && fw->ptable == RH_PTABLE_GPT)
		snprintf(uefi, sizeof uefi, "EFI System Partition (partition %u)", fw->esp_part);
	else if (fw->esp_part)
		snprintf(uefi, sizeof uefi, "EFI partition (type 0xEF, partition %u)", fw->esp_part);
	if (fw->ptable == RH_PTABLE_GPT) {
		if (fw->bios_part)
			snprintf(bios, sizeof bios, "BIOS boot partition (partition %u)", fw->bios_part);
		else if (legacy_bootable && fw->boot_code)
			snprintf(bios, sizeof bios, "boot code with a legacy-BIOS-bootable partition");
	} else if (fw->ptable == RH_PTABLE_DOS) {
		if (fw->boot_code && fw->active_part)
			snprintf(bios, sizeof bios, "MBR boot code, active partition %u", fw->active_part);
		else if (fw->boot_code)
			snprintf(bios, sizeof bios, "MBR boot code");
		else if (fw->active_part)
			snprintf(bios, sizeof bios, "active partition %u", fw->active_part);
	}
	fw->type = (uefi[0] ? RH_FW_UEFI : 0) | (bios[0] ? RH_FW_BIOS : 0);
	if (fw->type == RH_FW_UNKNOWN)
		snprintf(fw->reason, sizeof fw->reason, "%s",
			 fw->ptable == RH_PTABLE_NONE ? "no partition table"
			 : fw->ptable == RH_PTABLE_GPT ? "GPT without an EFI System Partition or a BIOS boot partition"
			 : fw->ptable == RH_PTABLE_DOS ? "MBR without boot code, active or EFI partition"
			 : "unsupported partition table");
	else
		snprintf(fw->reason, sizeof fw->reason, "%s%s%s", uefi, uefi[0] && bios[0] ? "; " : "",
			 bios);
}

int rh_disk_firmware(const char *path, struct rh_firmware_info *fw)
{
	struct rh_ptable *pt = NULL;
	unsigned char mbr[512];
	bool legacy = false;
	size_t got;
	int fd, rc;

	memset(fw, 0, sizeof *fw);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return rh_seterr_errno(errno, "cannot open %s", path);
	rc = rh_pread_full(fd, mbr, sizeof mbr, 0, &got);
	if (rc < 0) {
		rh_seterr(rc, "cannot read %s at %s", path, rh_lasterr());
		goto out;
	}
	if (got < sizeof mbr) {
		rc = rh_seterr(RH_ERR_IO, "%s is shorter than one sector", path);
		goto out;
	}
	for (size_t i = 0; i < MBR_BOOT_CODE; i++)
		if (mbr[i] != 0) {
			fw->boot_code = true;
			break;
		}
	rc = rh_ptable_read(fd, path, &pt);
	if (rc < 0)
		goto out;
	fw->ptable = pt->type;
	for (size_t i = 0; i < pt->nparts; i++) {
		const struct rh_part *p = &pt->parts[i];

		if (pt->type == RH_PTABLE_GPT) {
			if (strcmp(p->type, GPT_ESP) == 0 && !fw->esp_part)
				fw->esp_part = p->number;
			if (strcmp(p->type, GPT_BIOS_BOOT) == 0 && !fw->bios_part)
				fw->bios_part = p->number;
			legacy = legacy || p->bootable;
		} else if (pt->type == RH_PTABLE_DOS) {
			if (strcmp(p->type, "0xef") == 0 && !fw->esp_part)
				fw->esp_part = p->number;
			if (p->bootable && !fw->active_part)
				fw->active_part = p->number;
		}
	}
	decide(fw, legacy);
	rc = 0;
out:
	rh_ptable_free(pt);
	close(fd);
	return rc;
}
