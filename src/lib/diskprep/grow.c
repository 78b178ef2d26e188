/*
 * Growing a received disk (include/rehost/diskprep.h): extend an image,
 * fit the partition table to the disk's size, grow the last partition and
 * its filesystem. The table is rewritten by libfdisk, never by hand: when
 * it opens a GPT whose backup header is not at the end of the device, it
 * moves the backup header and entries to the end and updates the last
 * usable LBA (and the protective MBR) on write.
 */
#define RH_LOG_COMPONENT "diskprep"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <libfdisk/libfdisk.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diskprep-internal.h"
#include "rehost/checked.h"
#include "rehost/disk.h"
#include "rehost/diskprep.h"
#include "rehost/err.h"
#include "rehost/log.h"
#include "rehost/num.h"

/* An MBR entry counts sectors in 32 bits. */
#define MBR_MAX_SECTORS 0xffffffffull

static int ask_cb(struct fdisk_context *cxt, struct fdisk_ask *ask, void *data)
{
	const char *msg;

	(void)cxt;
	switch (fdisk_ask_get_type(ask)) {
	case FDISK_ASKTYPE_WARN:
	case FDISK_ASKTYPE_WARNX:
	case FDISK_ASKTYPE_INFO:
		msg = fdisk_ask_print_get_mesg(ask);
		rh_log_info("%s: %s", (const char *)data, msg ? msg : "");
		return 0;
	default:
		return -EINVAL; /* nothing here is interactive */
	}
}

static void note_add(struct rh_grow_result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void note_add(struct rh_grow_result *r, const char *fmt, ...)
{
	size_t len = strlen(r->note);
	va_list ap;

	if (len > 0 && len + 2 < sizeof r->note) {
		memcpy(r->note + len, "; ", 3);
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(r->note + len, sizeof r->note - len, fmt, ap);
	va_end(ap);
}

struct last_part {
	size_t partno;          /* 0-based, for libfdisk */
	fdisk_sector_t start, size;
	bool found, logical;
};

/* The partition that ends last on the disk (extended containers aside). */
static int find_last(struct fdisk_context *cxt, struct last_part *lp)
{
	struct fdisk_table *tb = NULL;
	struct fdisk_iter *itr = fdisk_new_iter(FDISK_ITER_FORWARD);
	struct fdisk_partition *pa = NULL;
	fdisk_sector_t best_end = 0;
	int rc;

	memset(lp, 0, sizeof *lp);
	if (itr == NULL)
		return RH_ERR_NOMEM;
	rc = fdisk_get_partitions(cxt, &tb);
	if (rc < 0) {
		fdisk_free_iter(itr);
		return rh_seterr(RH_ERR_CORRUPT, "cannot list the partitions");
	}
	while (fdisk_table_next_partition(tb, itr, &pa) == 0) {
		fdisk_sector_t end;

		if (!fdisk_partition_is_used(pa) || fdisk_partition_is_container(pa) ||
		    !fdisk_partition_has_start(pa) || !fdisk_partition_has_size(pa))
			continue;
		end = fdisk_partition_get_start(pa) + fdisk_partition_get_size(pa);
		if (!lp->found || end > best_end) {
			lp->found = true;
			best_end = end;
			lp->partno = fdisk_partition_get_partno(pa);
			lp->start = fdisk_partition_get_start(pa);
			lp->size = fdisk_partition_get_size(pa);
			lp->logical = fdisk_partition_is_nested(pa) != 0;
		}
	}
	fdisk_unref_table(tb);
	fdisk_free_iter(itr);
	return 0;
}

/* Sectors of free space right behind the partition (libfdisk's own
 * accounting: last usable LBA, alignment); 0 when none. */
static fdisk_sector_t free_after(struct fdisk_context *cxt, const struct last_part *lp)
{
	struct fdisk_table *tb = NULL;
	struct fdisk_iter *itr = fdisk_new_iter(FDISK_ITER_FORWARD);
	struct fdisk_partition *pa = NULL;
	fdisk_sector_t end = lp->start + lp->size, grain, best = 0;

	if (itr == NULL || fdisk_get_freespaces(cxt, &tb) < 0) {
		fdisk_free_iter(itr);
		return 0;
	}
	grain = fdisk_get_grain_size(cxt) / fdisk_get_sector_size(cxt);
	while (fdisk_table_next_partition(tb, itr, &pa) == 0) {
		fdisk_sector_t s = fdisk_partition_get_start(pa);

		/* Free areas start aligned: allow a gap below one grain. */
		if (s >= end && s < end + RH_MAX(grain, (fdisk_sector_t)1))
			best = fdisk_partition_get_end(pa) + 1 - end;
	}
	fdisk_unref_table(tb);
	fdisk_free_iter(itr);
	return best;
}

static int grow_partition(struct fdisk_context *cxt, const char *path, bool dos,
			  struct last_part *lp, struct rh_grow_result *r)
{
	struct fdisk_partition *pa;
	fdisk_sector_t add = free_after(cxt, lp), size, grain;
	int rc;

	if (add == 0)
		return 0;
	size = lp->size + add;
	/* End on a grain boundary (1 MiB), as partitioning tools do, when
	 * that still grows the partition. */
	grain = fdisk_get_grain_size(cxt) / fdisk_get_sector_size(cxt);
	if (grain > 1 && (lp->start + size) / grain * grain > lp->start + lp->size)
		size = (lp->start + size) / grain * grain - lp->start;
	if (dos && lp->start + size > MBR_MAX_SECTORS) {
		size = MBR_MAX_SECTORS - lp->start;
		note_add(r, "an MBR partition ends at 2 TiB (with 512-byte sectors); the rest of the disk stays unpartitioned (convert to GPT to use it)");
		if (size <= lp->size)
			return 0;
	}
	pa = fdisk_new_partition();
	if (pa == NULL)
		return RH_ERR_NOMEM;
	/* An absolute size: libfdisk checks it against the free space. */
	rc = fdisk_partition_set_size(pa, size);
	if (rc == 0)
		rc = fdisk_set_partition(cxt, lp->partno, pa);
	fdisk_unref_partition(pa);
	if (rc < 0)
		return rh_seterr_errno(-rc, "%s: cannot grow partition %zu to %llu sectors", path,
				       lp->partno + 1, (unsigned long long)size);
	rh_log_info("%s: partition %zu grows from %llu to %llu sectors", path, lp->partno + 1,
		    (unsigned long long)lp->size, (unsigned long long)size);
	lp->size = size;
	return 1;
}

static int check_size(const char *path, bool blk, uint64_t cur, const struct rh_grow_opts *o,
		      uint64_t *new_size)
{
	uint64_t min = o->min_size ? o->min_size : cur;
	char a[32], b[32];

	*new_size = cur;
	if (o->size != 0) {
		if (blk)
			return rh_seterr(RH_ERR_INVAL, "--size applies to image files; %s is a block device of %llu bytes (grow the device itself, then run grow without --size)",
					 path, (unsigned long long)cur);
		if (o->size % 512 != 0)
			return rh_seterr(RH_ERR_RANGE, "size %llu bytes is not a multiple of 512 (use e.g. 8G)",
					 (unsigned long long)o->size);
		*new_size = o->size;
	}
	if (*new_size < cur || *new_size < min)
		return rh_seterr(RH_ERR_RANGE,
				 "refusing to shrink %s: the new size %s (%llu bytes) is smaller than the %s %s (%llu bytes); rehost never shrinks a disk",
				 path, rh_format_size(*new_size, a, sizeof a),
				 (unsigned long long)*new_size,
				 *new_size < cur ? "disk's current size" : "source disk's size",
				 rh_format_size(*new_size < cur ? cur : min, b, sizeof b),
				 (unsigned long long)(*new_size < cur ? cur : min));
	return 0;
}

/* Returns 0 also when the filesystem is left as is (r->note says why). */
static int grow_fs(const char *path, int fd, const struct rh_grow_opts *o, struct rh_grow_result *r)
{
	struct rh_fsinfo fs;
	int rc;

	if (rh_fs_probe(fd, r->part_start, r->part_new, &fs) < 0 || fs.type[0] == '\0') {
		note_add(r, "no filesystem recognised in partition %u; left as is", r->partno);
		rh_clearerr();
		return 0;
	}
	snprintf(r->fstype, sizeof r->fstype, "%s", fs.type);
	r->fs_old = fs.size_known ? fs.size : 0;
	r->fs_new = r->fs_old;
	if (o->no_fs) {
		note_add(r, "the %s filesystem was left as is (--no-grow-fs)", fs.type);
		return 0;
	}
	if (r->fs_old != 0 && r->fs_old >= r->part_new)
		return 0; /* already fills it */
	/* The tools read the disk through a loop device: flush our writes. */
	if (fsync(fd) < 0)
		return rh_seterr_errno(errno, "cannot sync %s", path);
	rc = diskprep_growfs(path, r->part_start, r->part_new, fs.type);
	if (rc == RH_ERR_UNSUPPORTED) {
		note_add(r, "the filesystem was left as is: %s", rh_lasterr());
		rh_log_warn("%s: %s", path, rh_lasterr());
		rh_clearerr();
		return 0;
	}
	if (rc < 0)
		return rh_seterr(rc, "%s: growing the %s filesystem in partition %u failed: %s", path,
				 fs.type, r->partno, rh_lasterr());
	r->fs_grown = true;
	if (rh_fs_probe(fd, r->part_start, r->part_new, &fs) == 0 && fs.size_known)
		r->fs_new = fs.size;
	return 0;
}

int rh_disk_grow(const char *path, const struct rh_grow_opts *o, struct rh_grow_result *r)
{
	struct fdisk_context *cxt = NULL;
	struct last_part lp;
	struct stat st;
	uint64_t cur, new_size, ss;
	bool dos, changed = false;
	int fd, rc;

	memset(r, 0, sizeof *r);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return rh_seterr_errno(errno, "cannot open %s", path);
	if (fstat(fd, &st) < 0 || (rc = rh_dev_size(fd, &cur)) < 0) {
		rc = rh_seterr_errno(errno, "cannot stat %s", path);
		goto out;
	}
	r->old_size = cur;
	rc = check_size(path, S_ISBLK(st.st_mode), cur, o, &new_size);
	if (rc < 0)
		goto out;
	if (new_size > cur) {
		/* Sparse: the new space costs nothing until written. */
		if (ftruncate(fd, (off_t)new_size) < 0 || fsync(fd) < 0) {
			rc = rh_seterr_errno(errno, "cannot extend %s to %llu bytes", path,
					     (unsigned long long)new_size);
			goto out;
		}
		rh_log_info("%s: extended from %llu to %llu bytes", path, (unsigned long long)cur,
			    (unsigned long long)new_size);
	}
	r->new_size = new_size;

	cxt = fdisk_new_context();
	if (cxt == NULL) {
		rc = RH_ERR_NOMEM;
		goto out;
	}
	fdisk_set_ask(cxt, ask_cb, (void *)path);
	rc = fdisk_assign_device_by_fd(cxt, fd, path, 0);
	if (rc < 0) {
		rc = rh_seterr_errno(-rc, "%s: cannot read the partition table", path);
		goto out;
	}
	ss = fdisk_get_sector_size(cxt);
	if (!fdisk_has_label(cxt)) {
		/* A whole-disk filesystem or PV: grow it in place. */
		r->ptable = RH_PTABLE_NONE;
		r->part_start = 0;
		r->part_old = cur;
		r->part_new = new_size;
		fdisk_deassign_device(cxt, 1);
		fdisk_unref_context(cxt);
		cxt = NULL;
		rc = grow_fs(path, fd, o, r);
		goto out;
	}
	dos = fdisk_is_labeltype(cxt, FDISK_DISKLABEL_DOS);
	if (fdisk_is_labeltype(cxt, FDISK_DISKLABEL_GPT))
		r->ptable = RH_PTABLE_GPT;
	else if (dos)
		r->ptable = RH_PTABLE_DOS;
	else {
		rc = rh_seterr(RH_ERR_UNSUPPORTED, "%s: only MBR and GPT partition tables are grown", path);
		goto out;
	}
	/* A GPT found away from the end is already marked for relocation. */
	changed = fdisk_label_is_changed(fdisk_get_label(cxt, NULL)) != 0;
	rc = find_last(cxt, &lp);
	if (rc < 0)
		goto out;
	if (lp.found) {
		r->partno = (unsigned)lp.partno + 1;
		r->part_start = lp.start * ss;
		r->part_old = lp.size * ss;
	}
	if (lp.found && !o->no_partition && lp.logical) {
		note_add(r, "the last partition (%u) is an MBR logical partition; it was left as is",
			 r->partno);
	} else if (lp.found && !o->no_partition) {
		rc = grow_partition(cxt, path, dos, &lp, r);
		if (rc < 0)
			goto out;
		changed = changed || rc == 1;
	}
	if (changed) {
		rc = fdisk_write_disklabel(cxt);
		if (rc < 0) {
			rc = rh_seterr_errno(-rc, "%s: cannot write the partition table", path);
			goto out;
		}
		r->table_rewritten = true;
	}
	rc = fdisk_deassign_device(cxt, !changed); /* syncs what was written */
	fdisk_unref_context(cxt);
	cxt = NULL;
	if (rc < 0) {
		rc = rh_seterr_errno(-rc, "%s: cannot sync the partition table", path);
		goto out;
	}
	rc = 0;
	if (!lp.found)
		goto out;
	r->part_new = lp.size * ss;
	if (o->no_partition) {
		note_add(r, "partition %u left as is (--no-grow-partition)", r->partno);
		goto out;
	}
	if (lp.logical)
		goto out;
	rc = grow_fs(path, fd, o, r);
out:
	if (cxt != NULL)
		fdisk_unref_context(cxt);
	close(fd);
	return rc;
}
