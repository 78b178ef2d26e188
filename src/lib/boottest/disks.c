/*
 * Which disks a boot test attaches: DIR/diskN.{raw,qcow2} as `rehost
 * target --disk-dir` writes them, or files named on the command line.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rehost/boottest.h"
#include "rehost/err.h"

void rh_bt_disks_free(struct rh_bt_disk *d, size_t n)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(d[i].path);
	free(d);
}

static bool has_suffix(const char *s, const char *suf)
{
	size_t ls = strlen(s), lf = strlen(suf);

	return ls >= lf && strcmp(s + ls - lf, suf) == 0;
}

/* Regular file or block device, readable. */
static int check_file(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return rh_seterr_errno(errno, "disk %s", path);
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return rh_seterr(RH_ERR_INVAL, "disk %s: not a regular file or block device", path);
	return 0;
}

int rh_bt_disk_probe(const char *path, struct rh_bt_disk *d)
{
	struct rh_img *img = NULL;
	int rc;

	memset(d, 0, sizeof *d);
	if ((rc = check_file(path)) < 0)
		return rc;
	/* A raw disk is the guest's own bytes: never let them be read as an
	 * image header (QEMU's format probing hazard). Only names that do not
	 * say "raw" are probed. */
	if (has_suffix(path, ".raw") || has_suffix(path, ".img")) {
		d->format = RH_IMG_RAW;
	} else {
		if ((rc = rh_img_open(path, RH_IMG_AUTO, &img)) < 0)
			return rc;
		d->format = rh_img_get_format(img);
		rh_img_free(img);
	}
	if ((d->path = strdup(path)) == NULL)
		return RH_ERR_NOMEM;
	return 0;
}

/* Parse "diskN.raw" / "diskN.qcow2": N (no leading zeros) or -1. */
static long disk_number(const char *name, const char **ext)
{
	const char *p = name + 4;
	long n = 0;

	if (strncmp(name, "disk", 4) != 0 || *p < '0' || *p > '9' || (p[0] == '0' && p[1] != '.'))
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		n = n * 10 + (*p - '0');
		if (n > 100000)
			return -1;
	}
	if (strcmp(p, ".raw") != 0 && strcmp(p, ".qcow2") != 0)
		return -1;
	*ext = p;
	return n;
}

int rh_bt_disks_from_dir(const char *dir, struct rh_bt_disk **out, size_t *n)
{
	/* For each number below the bound: which extensions exist. */
	unsigned char seen[RH_BT_MAX_DISKS] = { 0 };
	struct rh_bt_disk *d = NULL;
	long beyond = -1;
	size_t count = 0;
	struct dirent *e;
	DIR *dp;
	int rc;

	*out = NULL;
	*n = 0;
	dp = opendir(dir);
	if (dp == NULL)
		return rh_seterr_errno(errno, "disk directory %s", dir);
	while ((e = readdir(dp)) != NULL) {
		const char *ext = NULL;
		long k = disk_number(e->d_name, &ext);

		if (k < 0)
			continue;
		if (k >= (long)RH_BT_MAX_DISKS) {
			if (k > beyond)
				beyond = k;
			continue;
		}
		seen[k] |= strcmp(ext, ".raw") == 0 ? 1 : 2;
	}
	closedir(dp);
	while (count < RH_BT_MAX_DISKS && seen[count] != 0)
		count++;
	if (count == 0)
		return rh_seterr(RH_ERR_NOTFOUND,
				 "no disk0.raw or disk0.qcow2 in %s (rehost target --disk-dir "
				 "names the disks disk0.raw, disk1.raw, ...)", dir);
	for (size_t k = count; k < RH_BT_MAX_DISKS; k++)
		if (seen[k] != 0)
			return rh_seterr(RH_ERR_INVAL, "%s: disk%zu is present but disk%zu is missing",
					 dir, k, count);
	if (beyond >= 0)
		return rh_seterr(count == RH_BT_MAX_DISKS ? RH_ERR_TOOBIG : RH_ERR_INVAL,
				 "%s: disk%ld: at most %u disks, numbered without gaps", dir,
				 beyond, RH_BT_MAX_DISKS);
	d = calloc(count, sizeof *d);
	if (d == NULL)
		return RH_ERR_NOMEM;
	for (size_t k = 0; k < count; k++) {
		char path[4096];
		const char *ext = seen[k] == 1 ? "raw" : "qcow2";

		if (seen[k] == 3) {
			rc = rh_seterr(RH_ERR_INVAL,
				       "%s: both disk%zu.raw and disk%zu.qcow2 exist; keep one", dir,
				       k, k);
			goto out;
		}
		if ((size_t)snprintf(path, sizeof path, "%s/disk%zu.%s", dir, k, ext) >= sizeof path) {
			rc = rh_seterr(RH_ERR_TOOBIG, "disk directory %s: path too long", dir);
			goto out;
		}
		if ((rc = rh_bt_disk_probe(path, &d[k])) < 0)
			goto out;
		if (seen[k] == 2 && d[k].format != RH_IMG_QCOW2) {
			rc = rh_seterr(RH_ERR_INVAL, "%s: not a qcow2 image (it looks like %s)", path,
				       rh_img_format_name(d[k].format));
			goto out;
		}
	}
	*out = d;
	*n = count;
	d = NULL;
	rc = 0;
out:
	rh_bt_disks_free(d, count);
	return rc;
}
