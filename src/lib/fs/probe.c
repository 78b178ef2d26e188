/* Filesystem and volume signatures of a byte range, probed with libblkid. */
#define RH_LOG_COMPONENT "disk"

#include <blkid/blkid.h>
#include <stdio.h>
#include <string.h>

#include "rehost/disk.h"
#include "rehost/err.h"
#include "rehost/log.h"

static void lookup(blkid_probe pr, const char *name, char *dst, size_t len)
{
	const char *v = NULL;
	size_t n = 0;

	dst[0] = '\0';
	if (blkid_probe_lookup_value(pr, name, &v, &n) == 0 && v != NULL)
		snprintf(dst, len, "%s", v);
}

static enum rh_fs_usage usage_of(const char *usage, const char *type)
{
	if (strcmp(type, "swap") == 0 || strcmp(type, "swsuspend") == 0)
		return RH_FS_USAGE_SWAP;
	if (strcmp(usage, "filesystem") == 0)
		return RH_FS_USAGE_FILESYSTEM;
	if (strcmp(type, "LVM2_member") == 0 || strcmp(type, "LVM1_member") == 0)
		return RH_FS_USAGE_LVM;
	if (strcmp(usage, "raid") == 0)
		return RH_FS_USAGE_RAID;
	if (strcmp(usage, "crypto") == 0)
		return RH_FS_USAGE_CRYPTO;
	return RH_FS_USAGE_OTHER;
}

int rh_fs_probe(int fd, uint64_t offset, uint64_t size, struct rh_fsinfo *out)
{
	blkid_probe pr = NULL;
	char usage[32];
	int rc;

	memset(out, 0, sizeof *out);
	out->size = size;
	if (size == 0)
		return 0;
	if (offset > INT64_MAX || size > INT64_MAX)
		return rh_seterr(RH_ERR_OVERFLOW, "probe range overflows");
	pr = blkid_new_probe();
	if (pr == NULL)
		return RH_ERR_NOMEM;
	if (blkid_probe_set_device(pr, fd, (blkid_loff_t)offset, (blkid_loff_t)size) != 0) {
		rc = rh_seterr(RH_ERR_IO, "cannot probe %llu bytes at offset %llu",
			       (unsigned long long)size, (unsigned long long)offset);
		goto out;
	}
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_LABEL | BLKID_SUBLKS_UUID |
					      BLKID_SUBLKS_TYPE | BLKID_SUBLKS_USAGE |
					      BLKID_SUBLKS_VERSION);
	blkid_probe_enable_partitions(pr, 0);
	rc = blkid_do_safeprobe(pr);
	if (rc == -2) {
		out->ambivalent = true;
		out->usage = RH_FS_USAGE_OTHER;
		rc = 0;
		goto out;
	}
	if (rc < 0) {
		rc = rh_seterr(RH_ERR_IO, "libblkid cannot read %llu bytes at offset %llu",
			       (unsigned long long)size, (unsigned long long)offset);
		goto out;
	}
	if (rc == 1) { /* nothing found */
		rc = 0;
		goto out;
	}
	lookup(pr, "TYPE", out->type, sizeof out->type);
	lookup(pr, "VERSION", out->version, sizeof out->version);
	lookup(pr, "UUID", out->uuid, sizeof out->uuid);
	lookup(pr, "LABEL", out->label, sizeof out->label);
	lookup(pr, "USAGE", usage, sizeof usage);
	out->usage = usage_of(usage, out->type);
	rc = rh_fs_usage(fd, offset, size, out->type, out);
	if (rc == RH_ERR_UNSUPPORTED) {
		rc = 0;
	} else if (rc < 0) {
		/* A filesystem whose superblock we cannot make sense of is still
		 * reported, with the size of its range and no used figure. */
		rh_log_debug("%s at offset %llu: %s", out->type,
			     (unsigned long long)offset, rh_lasterr());
		out->size = size;
		out->size_known = out->used_known = false;
		rc = 0;
	}
out:
	blkid_free_probe(pr);
	return rc;
}
