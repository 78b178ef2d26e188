/* rehost target firmware: which firmware a received boot disk needs, and
 * the seed's firmware check against the target's (docs/target.md). */
#define RH_LOG_COMPONENT "target"
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "rehost/err.h"
#include "rehost/firmware.h"
#include "rehost/json.h"
#include "target/target.h"

static const char *needs(enum rh_firmware fw)
{
	switch (fw) {
	case RH_FW_BIOS: return "BIOS firmware (SeaBIOS, QEMU's default; a cloud image with hw_firmware_type=bios)";
	case RH_FW_UEFI: return "UEFI firmware (OVMF; a cloud image with hw_firmware_type=uefi)";
	case RH_FW_BOTH: return "either BIOS or UEFI firmware";
	default: return "cannot tell: the disk shows neither BIOS boot code nor an EFI System Partition";
	}
}

void usage_target_firmware(FILE *out)
{
	fprintf(out,
		"usage: rehost target firmware (--disk-dir DIR [--disk N] | --disk DEV)\n"
		"                              [--expect bios|uefi] [--json]\n"
		"\n"
		"Tell which firmware a received boot disk needs: BIOS (boot code in the MBR\n"
		"or a BIOS boot partition), UEFI (an EFI System Partition with a loader),\n"
		"either, or cannot tell. With --expect, exit 1 with the seed's firmware\n"
		"mismatch message when the target's firmware differs. See docs/target.md.\n"
		"\n"
		"  --disk-dir DIR        the listener's directory; --disk N picks diskN.raw\n"
		"                        (default 0)\n"
		"  --disk DEV            a block device or file\n"
		"  --expect bios|uefi    the firmware the target will boot with\n"
		"  --json                print the result as JSON\n");
}

int cmd_target_firmware(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "disk-dir", required_argument, NULL, 'D' },
		{ "disk", required_argument, NULL, 'd' },
		{ "expect", required_argument, NULL, 'e' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "target firmware", *disk_dir = NULL, *disk = NULL, *expect = NULL;
	enum rh_firmware want = RH_FW_UNKNOWN;
	struct rh_firmware_info fw;
	bool json = false;
	char path[4200];
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'D': disk_dir = optarg; break;
		case 'd': disk = optarg; break;
		case 'e': expect = optarg; break;
		case 'j': json = true; break;
		default: return cli_usage_error(cmd, "bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	if (expect != NULL && rh_firmware_parse(expect, &want) < 0)
		return cli_usage_error(cmd, "--expect: %s", rh_lasterr());
	if ((rc = target_one_disk(cmd, disk_dir, disk, path, sizeof path)) != 0)
		return rc;
	rc = rh_disk_firmware(path, &fw);
	if (rc < 0) {
		cli_report(rc, "firmware");
		return EXIT_FAIL;
	}
	if (json) {
		json_t *j = json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:b}", "disk", path, "firmware",
				      rh_firmware_name(fw.type), "reason", fw.reason, "esp_partition",
				      (int)fw.esp_part, "bios_boot_partition", (int)fw.bios_part,
				      "active_partition", (int)fw.active_part, "boot_code",
				      (int)fw.boot_code);

		if (j == NULL || rh_json_dump_fd(1, j, 1) < 0) {
			json_decref(j);
			cli_report(RH_ERR_NOMEM, "firmware");
			return EXIT_FAIL;
		}
		json_decref(j);
	} else {
		printf("%s: %s (%s)\n", path, rh_firmware_name(fw.type), fw.reason);
		printf("boot it with %s\n", needs(fw.type));
	}
	if (expect != NULL && (rc = rh_firmware_check(fw.type, want)) < 0) {
		cli_report(rc, "firmware");
		return EXIT_FAIL;
	}
	return EXIT_OK;
}
