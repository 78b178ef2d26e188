/*
 * Disk export planning (the guide's "MBR plus partitions up to the end of
 * the last needed one", with unused blocks left out), the guard against
 * writing an image onto the disk being exported, and the content check of
 * an image (partition table and filesystems).
 */
#define RH_LOG_COMPONENT "img"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "img-internal.h"
#include "rehost/checked.h"
#include "rehost/disk.h"
#include "rehost/endian.h"
#include "rehost/err.h"
#include "rehost/log.h"
#include "rehost/num.h"
#include "rehost/usedmap.h"

#define HEAD_TAIL (1u << 20)
#define MAX_EBRS 256u

static int copy_to(int mfd, struct rh_img *img, uint8_t *buf, uint64_t off, size_t len)
{
	int rc;

	if ((rc = rh_img_pread(img, buf, len, off)) < 0)
		return rc;
	return img_write_at(mfd, buf, len, off);
}

static bool is_extended(uint8_t type)
{
	return type == 0x05 || type == 0x0f || type == 0x85;
}

/* Copy the EBR chain of an MBR extended partition into mfd. */
static int copy_ebrs(int mfd, struct rh_img *img, const uint8_t *mbr, uint8_t *buf)
{
	int rc;

	for (int i = 0; i < 4; i++) {
		const uint8_t *e = mbr + 446 + 16 * i;
		uint64_t ext = (uint64_t)rh_le32dec(e + 8) * 512, next = 0;

		if (!is_extended(e[4]) || ext == 0)
			continue;
		for (unsigned n = 0; n < MAX_EBRS; n++) {
			uint64_t at = ext + next;

			if (!rh_range_ok(at, 512, img->size))
				break;
			if ((rc = copy_to(mfd, img, buf, at, 512)) < 0)
				return rc;
			if (buf[510] != 0x55 || buf[511] != 0xaa)
				break;
			next = (uint64_t)rh_le32dec(buf + 446 + 16 + 8) * 512;
			if (next == 0 || !is_extended(buf[446 + 16 + 4]))
				break;
		}
	}
	return 0;
}

int img_read_ptable(struct rh_img *img, struct rh_ptable **out)
{
	uint8_t *buf = NULL, mbr[512];
	size_t head = (size_t)RH_MIN(img->size, (uint64_t)HEAD_TAIL);
	int mfd = -1, rc;

	*out = NULL;
	if (img->ops->format == RH_IMG_RAW)
		return rh_ptable_read(img->fd, img->name, out);
	mfd = memfd_create("rehost-ptable", MFD_CLOEXEC);
	if (mfd < 0)
		return rh_seterr_errno(errno, "memfd_create");
	buf = img_malloc_aligned(HEAD_TAIL);
	if (buf == NULL) {
		rc = RH_ERR_NOMEM;
		goto out;
	}
	if (ftruncate(mfd, (off_t)img->size) != 0) {
		rc = rh_seterr_errno(errno, "sizing a memory file of %llu bytes",
				     (unsigned long long)img->size);
		goto out;
	}
	if ((rc = copy_to(mfd, img, buf, 0, head)) < 0)
		goto out;
	if (img->size > head) {
		uint64_t tail = RH_MIN(img->size - head, (uint64_t)HEAD_TAIL);

		if ((rc = copy_to(mfd, img, buf, img->size - tail, (size_t)tail)) < 0)
			goto out;
	}
	if (img->size >= 512) {
		if ((rc = rh_img_pread(img, mbr, sizeof mbr, 0)) < 0)
			goto out;
		if (mbr[510] == 0x55 && mbr[511] == 0xaa && (rc = copy_ebrs(mfd, img, mbr, buf)) < 0)
			goto out;
	}
	rc = rh_ptable_read(mfd, img->name, out);
out:
	free(buf);
	if (mfd >= 0)
		close(mfd);
	return rc;
}

/* ---- export plan ---- */

struct vol_reader {
	struct rh_img *img;
	uint64_t base;
};

static int vol_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct vol_reader *r = ctx;

	return rh_img_pread(r->img, buf, len, r->base + off);
}

/* Used-block map of [start, start + len) of img (fd-based for raw). */
static int build_map(struct rh_img *img, uint64_t start, uint64_t len, unsigned flags,
		     struct rh_usedmap **map)
{
	struct rh_usedmap_opts o = { .flags = flags, .fstype = RH_FS_AUTO };
	struct vol_reader r = { img, start };

	if (img->ops->format == RH_IMG_RAW)
		return rh_usedmap_build(img->fd, start, len, &o, map);
	return rh_usedmap_build_reader(vol_read, &r, len, &o, map);
}

void rh_img_export_plan_free(struct rh_img_export_plan *p)
{
	if (p == NULL)
		return;
	rh_extents_free(p->used);
	free(p->parts);
	free(p);
}

static int cmp_part(const void *a, const void *b)
{
	const struct rh_part *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

int rh_img_export_plan(struct rh_img *src, bool whole, struct rh_img_export_plan **out)
{
	struct rh_img_export_plan *p = NULL;
	struct rh_ptable *pt = NULL;
	struct rh_part *sorted = NULL;
	uint64_t end = 0, pos;
	int rc;

	*out = NULL;
	p = img_calloc(1, sizeof *p);
	if (p == NULL)
		return RH_ERR_NOMEM;
	p->disk_size = src->size;
	if ((rc = img_read_ptable(src, &pt)) < 0)
		goto fail;
	p->sector_size = pt->sector_size ? pt->sector_size : 512;
	snprintf(p->ptable, sizeof p->ptable, "%s", pt->label);
	if (pt->type == RH_PTABLE_NONE || pt->nparts == 0) {
		if (!whole)
			snprintf(p->note, sizeof p->note, "no partitions: exporting the whole disk");
		whole = true;
	} else if (pt->type == RH_PTABLE_GPT && !whole) {
		snprintf(p->note, sizeof p->note,
			 "GPT keeps a backup table at the end of the disk: exporting the whole disk");
		whole = true;
	} else if (pt->type == RH_PTABLE_OTHER && !whole) {
		snprintf(p->note, sizeof p->note, "%s partition table: exporting the whole disk", pt->label);
		whole = true;
	}
	for (size_t i = 0; i < pt->nparts; i++) {
		uint64_t e;

		if (!RH_ADD_OVERFLOW(pt->parts[i].start, pt->parts[i].size, &e))
			end = RH_MAX(end, e);
	}
	if (end > src->size) {
		snprintf(p->note, sizeof p->note,
			 "the partition table reaches past the end of the disk (%llu > %llu bytes)",
			 (unsigned long long)end, (unsigned long long)src->size);
		end = src->size;
	}
	p->whole = whole;
	p->size = whole ? src->size : end;
	if (p->size == 0) {
		rc = rh_seterr(RH_ERR_INVAL, "%s: nothing to export (empty disk)", src->name);
		goto fail;
	}
	if ((rc = rh_extents_new(p->size, 0, &p->used)) < 0)
		goto fail;
	p->parts = img_calloc(pt->nparts, sizeof *p->parts);
	sorted = img_calloc(pt->nparts, sizeof *sorted);
	if (p->parts == NULL || sorted == NULL) {
		rc = RH_ERR_NOMEM;
		goto fail;
	}
	p->nparts = pt->nparts;
	for (size_t i = 0; i < pt->nparts; i++) {
		const struct rh_part *in = &pt->parts[i];
		struct rh_img_export_part *ep = &p->parts[i];
		struct rh_usedmap *map = NULL;
		uint64_t len;

		ep->number = in->number;
		ep->start = in->start;
		ep->size = in->size;
		ep->container = in->container;
		ep->included = in->start < p->size;
		if (in->container || !ep->included)
			continue;
		len = RH_MIN(in->size, p->size - in->start);
		rc = build_map(src, in->start, len, RH_USEDMAP_FALLBACK_ALL, &map);
		if (rc < 0) {
			rc = rh_seterr(rc, "partition %u: %s", in->number, rh_lasterr());
			goto fail;
		}
		snprintf(ep->fstype, sizeof ep->fstype, "%s", rh_fstype_name(rh_usedmap_fstype(map)));
		ep->used = rh_usedmap_used(map);
		ep->fallback = rh_usedmap_fallback(map);
		if (ep->fallback)
			rh_log_info("partition %u: %s; copying it in full", in->number, rh_usedmap_note(map));
		rc = rh_extents_add_list(p->used, rh_usedmap_extents(map), in->start);
		rh_usedmap_free(map);
		if (rc < 0)
			goto fail;
	}
	/* Everything outside the data partitions is copied: the MBR, the
	 * boot loader gap, EBRs, gaps between partitions. */
	if (pt->nparts > 0) { /* a bare filesystem has no table: parts is NULL */
		memcpy(sorted, pt->parts, pt->nparts * sizeof *sorted);
		qsort(sorted, pt->nparts, sizeof *sorted, cmp_part);
	}
	pos = 0;
	for (size_t i = 0; i < pt->nparts && pos < p->size; i++) {
		uint64_t s = sorted[i].start, e;

		if (sorted[i].container)
			continue;
		s = RH_MIN(s, p->size);
		if (s > pos && (rc = rh_extents_add(p->used, pos, s - pos)) < 0)
			goto fail;
		if (!RH_ADD_OVERFLOW(sorted[i].start, sorted[i].size, &e))
			pos = RH_MAX(pos, RH_MIN(e, p->size));
	}
	if (pos < p->size && (rc = rh_extents_add(p->used, pos, p->size - pos)) < 0)
		goto fail;
	free(sorted);
	rh_ptable_free(pt);
	*out = p;
	return 0;
fail:
	free(sorted);
	rh_ptable_free(pt);
	rh_img_export_plan_free(p);
	return rc;
}

/* ---- output guard ---- */

/* The disk a block device number belongs to: itself, or the parent of a
 * partition (sysfs). */
static dev_t whole_disk(dev_t d)
{
	char path[64], real[PATH_MAX], dev[32];
	unsigned ma, mi;
	FILE *f;

	snprintf(path, sizeof path, "/sys/dev/block/%u:%u/partition", major(d), minor(d));
	if (access(path, F_OK) != 0)
		return d;
	snprintf(path, sizeof path, "/sys/dev/block/%u:%u/../dev", major(d), minor(d));
	if (realpath(path, real) == NULL || (f = fopen(real, "r")) == NULL)
		return d;
	if (fgets(dev, sizeof dev, f) == NULL || sscanf(dev, "%u:%u", &ma, &mi) != 2)
		ma = major(d), mi = minor(d);
	fclose(f);
	return makedev(ma, mi);
}

/* Whether device d is disk src, a partition of it, or stacked on one of
 * them (device mapper or md, through sysfs "slaves"). */
static bool on_disk(dev_t d, dev_t src, int depth)
{
	char path[80];
	struct dirent *de;
	DIR *dir;
	bool hit = false;

	if (d == src || whole_disk(d) == src)
		return true;
	if (depth > 8)
		return false;
	snprintf(path, sizeof path, "/sys/dev/block/%u:%u/slaves", major(d), minor(d));
	dir = opendir(path);
	if (dir == NULL)
		return false;
	while (!hit && (de = readdir(dir)) != NULL) {
		char dp[PATH_MAX], dev[32];
		unsigned ma, mi;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(dp, sizeof dp, "%s/%s/dev", path, de->d_name);
		f = fopen(dp, "r");
		if (f == NULL)
			continue;
		if (fgets(dev, sizeof dev, f) != NULL && sscanf(dev, "%u:%u", &ma, &mi) == 2)
			hit = on_disk(makedev(ma, mi), src, depth + 1);
		fclose(f);
	}
	closedir(dir);
	return hit;
}

int rh_img_check_output(int src_fd, const char *out_path)
{
	struct stat s, o;
	char *copy = NULL;
	int rc = 0;

	if (fstat(src_fd, &s) != 0)
		return rh_seterr_errno(errno, "fstat of the source");
	if (stat(out_path, &o) == 0) {
		if (o.st_dev == s.st_dev && o.st_ino == s.st_ino)
			return rh_seterr(RH_ERR_EXISTS, "%s is the source itself", out_path);
		if (S_ISBLK(o.st_mode) && S_ISBLK(s.st_mode) &&
		    (o.st_rdev == s.st_rdev || whole_disk(o.st_rdev) == s.st_rdev))
			return rh_seterr(RH_ERR_EXISTS, "%s is the source disk or one of its partitions",
					 out_path);
		if (S_ISBLK(o.st_mode))
			return 0;
	} else {
		if (errno != ENOENT)
			return rh_seterr_errno(errno, "%s", out_path);
		copy = strdup(out_path);
		if (copy == NULL)
			return rh_seterr(RH_ERR_NOMEM, "out of memory");
		if (stat(dirname(copy), &o) != 0) {
			rc = rh_seterr_errno(errno, "%s: directory", out_path);
			free(copy);
			return rc;
		}
		free(copy);
	}
	/* A file on a filesystem that lives on the source disk. */
	if (S_ISBLK(s.st_mode) && on_disk(o.st_dev, s.st_rdev, 0))
		return rh_seterr(RH_ERR_EXISTS,
				 "%s is on a filesystem of the source disk; write the image to another disk or to network storage",
				 out_path);
	return 0;
}

/* ---- content check ---- */

/* blkid identity of a volume of a non-raw image: its first and last MiB in
 * a sparse memory file. */
static int probe_copy(struct rh_img *img, uint64_t start, uint64_t len, struct rh_fsinfo *fi)
{
	uint8_t *buf = NULL;
	uint64_t head = RH_MIN(len, (uint64_t)HEAD_TAIL), tail;
	int mfd, rc;

	memset(fi, 0, sizeof *fi);
	mfd = memfd_create("rehost-probe", MFD_CLOEXEC);
	if (mfd < 0)
		return rh_seterr_errno(errno, "memfd_create");
	buf = img_malloc_aligned(HEAD_TAIL);
	if (buf == NULL) {
		rc = RH_ERR_NOMEM;
		goto out;
	}
	if (ftruncate(mfd, (off_t)len) != 0) {
		rc = rh_seterr_errno(errno, "sizing a memory file");
		goto out;
	}
	if ((rc = rh_img_pread(img, buf, (size_t)head, start)) < 0 ||
	    (rc = img_write_at(mfd, buf, (size_t)head, 0)) < 0)
		goto out;
	tail = RH_MIN(len - head, (uint64_t)HEAD_TAIL);
	if (tail > 0 && ((rc = rh_img_pread(img, buf, (size_t)tail, start + len - tail)) < 0 ||
			 (rc = img_write_at(mfd, buf, (size_t)tail, len - tail)) < 0))
		goto out;
	rc = rh_fs_probe(mfd, 0, len, fi);
out:
	free(buf);
	close(mfd);
	return rc;
}

static int check_volume(struct rh_img *img, struct img_checker *ck, const char *label,
			uint64_t start, uint64_t len)
{
	struct rh_fsinfo fi;
	struct rh_usedmap *map = NULL;
	char sz[32], used[32];
	int rc;

	if (img->ops->format == RH_IMG_RAW)
		rc = rh_fs_probe(img->fd, start, len, &fi);
	else
		rc = probe_copy(img, start, len, &fi);
	if (rc < 0)
		return rc;
	rc = build_map(img, start, len, 0, &map);
	if (rc == RH_ERR_CORRUPT) {
		img_check_error(ck, "%s: %s filesystem is damaged: %s", label,
				fi.type[0] ? fi.type : "the", rh_lasterr());
		return 0;
	}
	if (rc == RH_ERR_UNSUPPORTED) {
		img_check_warn(ck, "%s: %s: not validated: %s", label, fi.type[0] ? fi.type : "volume",
			       rh_lasterr());
		return 0;
	}
	if (rc < 0)
		return rc;
	rh_format_size(len, sz, sizeof sz);
	rh_format_size(rh_usedmap_used(map), used, sizeof used);
	if (rh_usedmap_fstype(map) == RH_FS_UNKNOWN) {
		if (fi.type[0] != '\0')
			img_check_info(ck, "%s: %s (%s), contents not validated", label, fi.type, sz);
		else
			img_check_warn(ck, "%s: no filesystem or volume signature found (%s)", label, sz);
	} else {
		img_check_info(ck, "%s: %s%s%s, superblock and allocation metadata valid, %s used of %s",
			       label, fi.type[0] ? fi.type : rh_fstype_name(rh_usedmap_fstype(map)),
			       fi.label[0] ? " label=" : "", fi.label, used, sz);
	}
	rh_usedmap_free(map);
	return 0;
}

int rh_img_check_contents(struct rh_img *img, rh_img_check_fn fn, void *ctx,
			  struct rh_img_check_result *res)
{
	struct img_checker ck = { .fn = fn, .ctx = ctx, .res = res };
	struct rh_ptable *pt = NULL;
	char label[64];
	int rc;

	rc = img_read_ptable(img, &pt);
	if (rc == RH_ERR_CORRUPT || rc == RH_ERR_TOOBIG) {
		img_check_error(&ck, "partition table: %s", rh_lasterr());
		return 0;
	}
	if (rc < 0)
		return rc;
	if (pt->type == RH_PTABLE_NONE || pt->nparts == 0) {
		img_check_info(&ck, "no partition table");
		rc = img->size > 0 ? check_volume(img, &ck, "whole image", 0, img->size) : 0;
		goto out;
	}
	img_check_info(&ck, "partition table: %s, %zu partition%s", pt->label, pt->nparts,
		       pt->nparts == 1 ? "" : "s");
	for (size_t i = 0; i < pt->nparts; i++) {
		const struct rh_part *p = &pt->parts[i];
		uint64_t end;

		snprintf(label, sizeof label, "partition %u", p->number);
		if (p->container)
			continue;
		if (RH_ADD_OVERFLOW(p->start, p->size, &end) || end > img->size) {
			img_check_error(&ck, "%s ends at byte %llu, past the end of the image (%llu bytes): the image is truncated",
					label, (unsigned long long)end, (unsigned long long)img->size);
			continue;
		}
		if (p->size == 0)
			continue;
		if ((rc = check_volume(img, &ck, label, p->start, p->size)) < 0)
			goto out;
	}
	rc = 0;
out:
	rh_ptable_free(pt);
	return rc;
}
