/* The disk selection shared by rehost target's subcommands. */
#include <stdio.h>

#include "cli/cli.h"
#include "target/target.h"

int target_disks_add(const char *cmd, struct target_disks *d, const char *dev)
{
	if (d->ndevices >= RH_SNAP_MAX_DISKS)
		return cli_usage_error(cmd, "at most %d --disk", RH_SNAP_MAX_DISKS);
	d->devices[d->ndevices++] = dev;
	return 0;
}

int target_disks_finish(const char *cmd, struct target_disks *d, struct rh_snap_target *t)
{
	if ((d->disk_dir == NULL) == (d->ndevices == 0))
		return cli_usage_error(cmd, "give either --disk-dir DIR or --disk DEV (as given to rehost target)");
	if (d->state_dir == NULL)
		d->state_dir = TARGET_DEFAULT_STATE_DIR;
	t->disk_dir = d->disk_dir;
	t->devices = d->devices;
	t->ndevices = d->ndevices;
	t->state_dir = d->disk_dir ? NULL : d->state_dir;
	return 0;
}
