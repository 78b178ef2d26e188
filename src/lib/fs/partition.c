/* Partition tables of disks and disk images, read with libfdisk. */
#define RH_LOG_COMPONENT "disk"

#include <errno.h>
#include <libfdisk/libfdisk.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "rehost/checked.h"
#include "rehost/disk.h"
#include "rehost/err.h"
#include "rehost/log.h"

int rh_dev_size(int fd, uint64_t *size)
{
	struct stat st;

	*size = 0;
	if (fstat(fd, &st) != 0)
		return rh_seterr_errno(errno, "fstat");
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, size) != 0)
			return rh_seterr_errno(errno, "BLKGETSIZE64");
		return 0;
	}
	if (!S_ISREG(st.st_mode))
		return rh_seterr(RH_ERR_IO, "not a block device or regular file");
	*size = (uint64_t)st.st_size;
	return 0;
}

void rh_ptable_free(struct rh_ptable *pt)
{
	if (pt == NULL)
		return;
	free(pt->parts);
	free(pt);
}

/* libfdisk reports oddities (e.g. "GPT PMBR size mismatch") through its
 * dialog callback; we only log them. */
static int ask_cb(struct fdisk_context *cxt, struct fdisk_ask *ask, void *data)
{
	const char *name = data;

	(void)cxt;
	switch (fdisk_ask_get_type(ask)) {
	case FDISK_ASKTYPE_WARN:
	case FDISK_ASKTYPE_WARNX:
	case FDISK_ASKTYPE_INFO:
		rh_log_debug("%s: libfdisk: %s", name,
			     fdisk_ask_print_get_mesg(ask) ? fdisk_ask_print_get_mesg(ask) : "");
		return 0;
	default:
		return -EINVAL; /* never answer questions: read-only */
	}
}

static void copy_str(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

static int read_part(struct fdisk_context *cxt, struct fdisk_partition *pa,
		     const struct rh_ptable *pt, struct rh_part *p)
{
	struct fdisk_parttype *type;
	uint64_t ss = pt->sector_size;
	const char *attrs;

	memset(p, 0, sizeof *p);
	if (!fdisk_partition_has_start(pa) || !fdisk_partition_has_size(pa))
		return rh_seterr(RH_ERR_CORRUPT, "partition without start or size");
	p->number = (unsigned)fdisk_partition_get_partno(pa) + 1;
	if (RH_MUL_OVERFLOW((uint64_t)fdisk_partition_get_start(pa), ss, &p->start) ||
	    RH_MUL_OVERFLOW((uint64_t)fdisk_partition_get_size(pa), ss, &p->size))
		return rh_seterr(RH_ERR_OVERFLOW, "partition %u: offset overflows", p->number);
	p->container = fdisk_partition_is_container(pa) != 0;
	p->logical = fdisk_partition_is_nested(pa) != 0;
	p->bootable = fdisk_partition_is_bootable(pa) != 0;
	attrs = fdisk_partition_get_attrs(pa);
	if (attrs != NULL && strstr(attrs, "LegacyBIOSBootable") != NULL)
		p->bootable = true;
	type = fdisk_partition_get_type(pa);
	if (type != NULL) {
		if (pt->type == RH_PTABLE_GPT) {
			const char *s = fdisk_parttype_get_string(type);
			size_t i;

			copy_str(p->type, sizeof p->type, s);
			for (i = 0; p->type[i]; i++)
				if (p->type[i] >= 'A' && p->type[i] <= 'F')
					p->type[i] = (char)(p->type[i] - 'A' + 'a');
		} else {
			snprintf(p->type, sizeof p->type, "0x%02x", fdisk_parttype_get_code(type));
		}
		copy_str(p->type_name, sizeof p->type_name, fdisk_parttype_get_name(type));
	}
	if (pt->type == RH_PTABLE_GPT) {
		const char *u = fdisk_partition_get_uuid(pa);
		size_t i;

		copy_str(p->uuid, sizeof p->uuid, u);
		for (i = 0; p->uuid[i]; i++)
			if (p->uuid[i] >= 'A' && p->uuid[i] <= 'F')
				p->uuid[i] = (char)(p->uuid[i] - 'A' + 'a');
		copy_str(p->name, sizeof p->name, fdisk_partition_get_name(pa));
	} else if (pt->type == RH_PTABLE_DOS && strncmp(pt->id, "0x", 2) == 0) {
		/* Same PARTUUID as the kernel and blkid: "<disk id>-<NN>". */
		snprintf(p->uuid, sizeof p->uuid, "%.8s-%02x", pt->id + 2, p->number);
	}
	(void)cxt;
	return 0;
}

int rh_ptable_read(int fd, const char *name, struct rh_ptable **out)
{
	struct fdisk_context *cxt = NULL;
	struct fdisk_table *tb = NULL;
	struct fdisk_iter *itr = NULL;
	struct fdisk_partition *pa = NULL;
	struct rh_ptable *pt = NULL;
	struct fdisk_label *lb;
	char *id = NULL;
	size_t n;
	int rc;

	*out = NULL;
	pt = calloc(1, sizeof *pt);
	if (pt == NULL)
		return RH_ERR_NOMEM;
	rc = rh_dev_size(fd, &pt->size);
	if (rc < 0)
		goto out;
	cxt = fdisk_new_context();
	if (cxt == NULL) {
		rc = RH_ERR_NOMEM;
		goto out;
	}
	fdisk_set_ask(cxt, ask_cb, (void *)name);
	rc = fdisk_assign_device_by_fd(cxt, fd, name, 1);
	if (rc < 0) {
		rc = rh_seterr_errno(-rc, "%s: cannot read the partition table", name);
		goto out;
	}
	pt->sector_size = (uint32_t)fdisk_get_sector_size(cxt);
	if (!fdisk_has_label(cxt)) {
		pt->type = RH_PTABLE_NONE;
		rc = 0;
		goto done;
	}
	lb = fdisk_get_label(cxt, NULL);
	copy_str(pt->label, sizeof pt->label, lb ? fdisk_label_get_name(lb) : "");
	if (fdisk_is_labeltype(cxt, FDISK_DISKLABEL_GPT))
		pt->type = RH_PTABLE_GPT;
	else if (fdisk_is_labeltype(cxt, FDISK_DISKLABEL_DOS))
		pt->type = RH_PTABLE_DOS;
	else
		pt->type = RH_PTABLE_OTHER;
	if (fdisk_get_disklabel_id(cxt, &id) == 0 && id != NULL) {
		copy_str(pt->id, sizeof pt->id, id);
		for (size_t i = 0; pt->id[i]; i++)
			if (pt->id[i] >= 'A' && pt->id[i] <= 'F')
				pt->id[i] = (char)(pt->id[i] - 'A' + 'a');
	}
	if (pt->type == RH_PTABLE_GPT) {
		/* Backup header plus a 16 KiB entry array at the end. */
		uint64_t ss = pt->sector_size ? pt->sector_size : 512;

		pt->table_end = ss + ((16384 + ss - 1) / ss) * ss;
	}

	rc = fdisk_get_partitions(cxt, &tb);
	if (rc < 0) {
		rc = rh_seterr(RH_ERR_CORRUPT, "%s: cannot list the partitions of the %s table",
			       name, pt->label);
		goto out;
	}
	n = fdisk_table_get_nents(tb);
	if (n > RH_PTABLE_MAX_PARTS) {
		rc = rh_seterr(RH_ERR_TOOBIG, "%s: %zu partitions (at most %u are read)",
			       name, n, RH_PTABLE_MAX_PARTS);
		goto out;
	}
	pt->parts = calloc(n ? n : 1, sizeof *pt->parts);
	itr = fdisk_new_iter(FDISK_ITER_FORWARD);
	if (pt->parts == NULL || itr == NULL) {
		rc = RH_ERR_NOMEM;
		goto out;
	}
	while (pt->nparts < n && fdisk_table_next_partition(tb, itr, &pa) == 0) {
		struct rh_part *p = &pt->parts[pt->nparts];

		if (!fdisk_partition_is_used(pa))
			continue;
		rc = read_part(cxt, pa, pt, p);
		if (rc < 0) {
			rc = rh_seterr(rc, "%s: %s", name, rh_lasterr());
			goto out;
		}
		if (!rh_range_ok(p->start, p->size, pt->size))
			rh_log_debug("%s: partition %u extends beyond the end of the device",
				     name, p->number);
		pt->nparts++;
	}
	rc = 0;
done:
	*out = pt;
	pt = NULL;
out:
	free(id);
	fdisk_free_iter(itr);
	fdisk_unref_table(tb);
	/* Not fdisk_deassign_device(): it would fsync and sync a block device. */
	fdisk_unref_context(cxt);
	rh_ptable_free(pt);
	return rc;
}
