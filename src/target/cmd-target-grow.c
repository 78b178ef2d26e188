/* rehost target grow: fit a received disk to a larger target (docs/target.md). */
#define RH_LOG_COMPONENT "target"
#include <errno.h>
#include <getopt.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "rehost/diskprep.h"
#include "rehost/dirs.h"
#include "rehost/err.h"
#include "rehost/num.h"
#include "rehost/repl.h"
#include "target/target.h"

/* The disk a grow or firmware command works on: --disk-dir DIR with an
 * optional --disk N (default 0), or one --disk DEV. */
int target_one_disk(const char *cmd, const char *disk_dir, const char *disk, char *path,
		    size_t len)
{
	uint64_t n = 0;

	if (disk_dir == NULL && disk == NULL)
		return cli_usage_error(cmd, "give --disk-dir DIR [--disk N] or --disk DEV");
	if (disk_dir == NULL) {
		snprintf(path, len, "%s", disk);
		return 0;
	}
	if (disk != NULL && rh_parse_u64(disk, 0, RH_SNAP_MAX_DISKS - 1, &n) < 0)
		return cli_usage_error(cmd, "--disk with --disk-dir is a disk number 0..%d, not '%s'",
				       RH_SNAP_MAX_DISKS - 1, disk);
	snprintf(path, len, "%s/disk%llu.raw", disk_dir, (unsigned long long)n);
	return 0;
}

void usage_target_grow(FILE *out)
{
	fprintf(out,
		"usage: rehost target grow (--disk-dir DIR [--disk N] | --disk DEV [--state-dir DIR])\n"
		"                          [--size SIZE] [--no-grow-partition] [--no-grow-fs]\n"
		"\n"
		"Fit a received disk's partition table to a larger target disk: an image is\n"
		"first extended to SIZE (e.g. 60G; a device keeps its size), a GPT's backup\n"
		"header moves to the new end, the last partition grows to fill the disk and\n"
		"its ext2/3/4, xfs or LVM physical volume grows with it. Never shrinks.\n"
		"\n"
		"  --disk-dir DIR        the listener's directory; --disk N picks diskN.raw\n"
		"                        (default 0)\n"
		"  --disk DEV            a block device or file as given to the listener\n"
		"  --state-dir DIR       its state directory with --disk DEV (default\n"
		"                        " TARGET_DEFAULT_STATE_DIR ")\n"
		"  --size SIZE           extend an image file to SIZE first\n"
		"  --no-grow-partition   leave the partitions as they are\n"
		"  --no-grow-fs          grow the partition but not what is inside it\n"
		"\n"
		"Refuses to run while a replication session writes the disk. See\n"
		"docs/target.md.\n");
}

int cmd_target_grow(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "disk-dir", required_argument, NULL, 'D' },
		{ "disk", required_argument, NULL, 'd' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "size", required_argument, NULL, 'S' },
		{ "no-grow-partition", no_argument, NULL, 'P' },
		{ "no-grow-fs", no_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "target grow", *disk_dir = NULL, *disk = NULL;
	const char *state_dir = TARGET_DEFAULT_STATE_DIR;
	struct rh_grow_opts o = { 0 };
	struct rh_grow_result r;
	char path[4200], a[32], b[32];
	int c, rc, lock = -1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'D': disk_dir = optarg; break;
		case 'd':
			if (disk != NULL)
				return cli_usage_error(cmd, "grow works on one disk at a time");
			disk = optarg;
			break;
		case 's': state_dir = optarg; break;
		case 'S':
			if (rh_parse_size(optarg, 512, UINT64_MAX / 2, &o.size) < 0)
				return cli_usage_error(cmd, "--size '%s': %s", optarg, rh_lasterr());
			break;
		case 'P': o.no_partition = true; break;
		case 'F': o.no_fs = true; break;
		default: return cli_usage_error(cmd, "bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	if ((rc = target_one_disk(cmd, disk_dir, disk, path, sizeof path)) != 0)
		return rc;
	/* Never under a replication session or a snapshot. */
	if (disk_dir == NULL && rh_mkdir_parents(state_dir, 0700, "state directory") < 0) {
		cli_report(rh_lasterr_code(), NULL);
		return EXIT_FAIL;
	}
	rc = rh_target_lock(disk_dir ? disk_dir : state_dir, "grow", &lock);
	if (rc < 0) {
		cli_report(rc, "grow %s", path);
		return EXIT_FAIL;
	}
	rc = rh_disk_grow(path, &o, &r);
	rh_target_unlock(lock);
	if (rc < 0) {
		cli_report(rc, "grow");
		return EXIT_FAIL;
	}
	printf("%s: %s -> %s", path, rh_format_size(r.old_size, a, sizeof a),
	       rh_format_size(r.new_size, b, sizeof b));
	if (r.table_rewritten)
		printf("; %s table fitted to the disk", r.ptable == RH_PTABLE_GPT ? "GPT" : "MBR");
	if (r.partno != 0 && r.part_new != r.part_old)
		printf("; partition %u %s -> %s", r.partno, rh_format_size(r.part_old, a, sizeof a),
		       rh_format_size(r.part_new, b, sizeof b));
	if (r.fs_grown)
		printf("; %s %s -> %s", r.fstype, rh_format_size(r.fs_old, a, sizeof a),
		       rh_format_size(r.fs_new, b, sizeof b));
	printf("\n");
	if (r.note[0])
		fprintf(stderr, "rehost: warning: %s\n", r.note);
	return EXIT_OK;
}
