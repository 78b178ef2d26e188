/* rehost inspect [--root DIR] [--disk PATH]... [--config FILE] [--json] ... */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "rehost/config.h"
#include "rehost/err.h"
#include "rehost/inspect.h"

#define MAX_DISKS 256

void usage_inspect(FILE *out)
{
	fprintf(out,
		"usage: rehost inspect [OPTIONS]\n"
		"\n"
		"Collect the inventory of a Linux source server (OS, kernel, CPU, memory,\n"
		"firmware, disks, partitions, filesystems, LVM, RAID, swap, mounts, network,\n"
		"tools, GRUB, initramfs) and run every migration pre-check, each with its\n"
		"SMS.xxxx code (`rehost errors CODE` explains one). Prints a report grouped\n"
		"as errors, warnings and OK, and the recommended migration mode and target\n"
		"sizes.\n"
		"\n"
		"  -r, --root DIR      read the system's files (/etc, /proc, /sys, /boot,\n"
		"                      /usr/lib/grub, PATH) from DIR instead of /\n"
		"  -d, --disk PATH     inspect this disk image or block device instead of the\n"
		"                      disks in /sys/block (repeatable; order = disk order)\n"
		"  -c, --config FILE   rehost.conf to read (default " DEFAULT_CONFIG "\n"
		"                      when it exists)\n"
		"  -m, --mode MODE     override replication.mode: auto, block or file\n"
		"  -j, --json          print the inventory as JSON (schema: docs/inventory.md)\n"
		"  -v, --verbose       also list the mounts in the report\n"
		"      --strict        exit 3 on warnings too, not only on errors\n"
		"      --no-initramfs  do not read the initramfs (skips the virtio check)\n"
		"\n"
		"Exit status: 0 migration possible (warnings may need acknowledging),\n"
		"3 blocked by an error-level check, 1 inspection failed, 2 usage error.\n");
}

int cmd_inspect(int argc, char **argv)
{
	enum { OPT_STRICT = 1000, OPT_NO_INITRAMFS };
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "disk", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "mode", required_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "strict", no_argument, NULL, OPT_STRICT },
		{ "no-initramfs", no_argument, NULL, OPT_NO_INITRAMFS },
		{ NULL, 0, NULL, 0 },
	};
	const char *disks[MAX_DISKS + 1];
	const char *config_path = NULL, *mode = NULL;
	struct rh_inspect_opts io = { 0 };
	struct rh_inventory *inv = NULL;
	struct rh_config *cfg = NULL;
	bool json = false, verbose = false, strict = false;
	size_t ndisks = 0;
	char *text = NULL;
	int c, rc, status = EXIT_FAIL;

	while ((c = getopt_long(argc, argv, "r:d:c:m:jv", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			io.root = optarg;
			break;
		case 'd':
			if (ndisks >= MAX_DISKS)
				return cli_usage_error("inspect", "at most %d --disk options", MAX_DISKS);
			disks[ndisks++] = optarg;
			break;
		case 'c':
			config_path = optarg;
			break;
		case 'm':
			mode = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'v':
			verbose = true;
			break;
		case OPT_STRICT:
			strict = true;
			break;
		case OPT_NO_INITRAMFS:
			io.flags |= RH_INSPECT_NO_INITRAMFS;
			break;
		default:
			return cli_usage_error("inspect", "bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error("inspect", "unexpected argument '%s'", argv[optind]);

	rc = rh_config_new(&cfg);
	if (rc < 0) {
		cli_report(rc, "inspect");
		return EXIT_FAIL;
	}
	if (config_path != NULL || access(DEFAULT_CONFIG, F_OK) == 0) {
		rc = rh_config_load_file(cfg, config_path ? config_path : DEFAULT_CONFIG);
		if (rc < 0) {
			cli_report(rc, NULL);
			goto out;
		}
	}
	if (mode != NULL) {
		rc = rh_config_set(cfg, "replication", "mode", mode, "--mode");
		if (rc < 0) {
			status = cli_usage_error("inspect", "--mode: %s", rh_lasterr());
			goto out;
		}
	}
	disks[ndisks] = NULL;
	if (ndisks > 0) {
		io.disks = disks;
		io.ndisks = ndisks;
	}
	io.config = cfg;
	rc = rh_inspect_run(&io, &inv);
	if (rc < 0) {
		cli_report(rc, "inspect");
		goto out;
	}
	if (json) {
		rc = rh_inventory_json(inv, true, &text);
		if (rc < 0) {
			cli_report(rc, "inspect");
			goto out;
		}
		puts(text);
	} else {
		rh_inventory_report(inv, stdout, verbose);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "rehost inspect: cannot write the output: %s\n", strerror(errno));
		goto out;
	}
	if (!rh_inventory_migratable(inv))
		status = EXIT_BLOCKED;
	else if (strict && rh_inventory_count(inv, RH_CHECK_WARNING) > 0)
		status = EXIT_BLOCKED;
	else
		status = EXIT_OK;
out:
	free(text);
	rh_inventory_free(inv);
	rh_config_free(cfg);
	return status;
}
