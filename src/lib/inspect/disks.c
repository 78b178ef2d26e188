/*
 * Disks, volumes and what is on them. Disks come from the root's
 * /sys/block (opened as /dev/NAME under the root) or from explicit paths;
 * each is read with libfdisk and every partition (or the whole disk) is
 * probed with libblkid. LVM physical volumes are read on disk and their VG
 * metadata parsed, so LVs are found and probed through the PV mapping
 * whether or not device-mapper has them active; md members are grouped
 * into arrays by their superblocks, or taken from /proc/mdstat.
 *
 * disks_link() then ties mounts and fstab entries to volumes and finds the
 * system disk.
 */
#define RH_LOG_COMPONENT "inspect"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "inspect/internal.h"
#include "rehost/checked.h"
#include "rehost/err.h"
#include "rehost/log.h"

/* Where the bytes of a volume are during collection. */
struct src {
	int fd;          /* borrowed from the fd table, -1 if unreadable */
	uint64_t base;   /* byte offset of the volume on fd */
};

struct pvfound {
	int vol;
	struct rh_lvm_pvlabel label;
};

struct collect {
	struct rh_inventory *inv;
	const struct inv_root *r;
	VEC(int) fds;             /* to close at the end */
	VEC(struct src) srcs;     /* parallel to inv->vols */
	VEC(struct pvfound) pvs;
};

/* "sda" + 1 -> "sda1"; "nvme0n1" + 1 -> "nvme0n1p1" (kernel naming). */
static const char *part_name(struct rh_inventory *inv, const struct inv_disk *d, unsigned n)
{
	size_t l = strlen(d->name);

	if (d->is_file)
		return inv_printf(inv, "%s:%u", d->name, n);
	if (l > 0 && isdigit((unsigned char)d->name[l - 1]))
		return inv_printf(inv, "%sp%u", d->name, n);
	return inv_printf(inv, "%s%u", d->name, n);
}

static int add_vol(struct collect *c, enum vol_kind kind, const char *name, const char *dev,
		   int fd, uint64_t base, uint64_t size, struct inv_vol **out)
{
	struct inv_vol *v = VEC_PUSH(c->inv->vols, INV_MAX_VOLS);
	struct src *s;

	if (v == NULL)
		return rh_lasterr_code();
	s = VEC_PUSH(c->srcs, INV_MAX_VOLS);
	if (s == NULL) {
		c->inv->vols.n--;
		return rh_lasterr_code();
	}
	v->kind = kind;
	v->name = name;
	v->dev = dev;
	v->disk = v->part = v->vg = v->lv = v->md = -1;
	v->offset = base;
	v->size = size;
	s->fd = fd;
	s->base = base;
	*out = v;
	return 0;
}

static int probe_vol(struct collect *c, size_t vi)
{
	struct inv_vol *v = &c->inv->vols.v[vi];
	const struct src *s = &c->srcs.v[vi];
	int rc;

	if (s->fd < 0 || v->size == 0)
		return 0;
	rc = rh_fs_probe(s->fd, s->base, v->size, &v->fs);
	if (rc == RH_ERR_NOMEM)
		return rc;
	if (rc < 0) {
		rh_log_warn("%s: %s", v->name, rh_lasterr());
		return 0;
	}
	v->probed = true;
	if (strcmp(v->fs.type, "LVM2_member") == 0) {
		struct pvfound *pv = VEC_PUSH(c->pvs, INV_MAX_VOLS);

		if (pv == NULL)
			return rh_lasterr_code();
		pv->vol = (int)vi;
		rc = rh_lvm_read_label(s->fd, s->base, v->size, &pv->label);
		if (rc == RH_ERR_NOMEM)
			return rc;
		if (rc < 0) {
			rh_log_warn("%s: LVM physical volume unreadable: %s", v->name, rh_lasterr());
			c->pvs.n--;
		}
	}
	return 0;
}

static int read_sysfs_dev(struct rh_inventory *inv, const struct inv_root *r, const char *path,
			  unsigned *maj, unsigned *min)
{
	const char *line = root_read_line(inv, r, path);

	*maj = *min = 0;
	if (line == NULL || sscanf(line, "%u:%u", maj, min) != 2)
		return RH_ERR_NOTFOUND;
	return 0;
}

/* Read a disk's table and add its volumes. fd may be -1 (unreadable). */
static int scan_disk(struct collect *c, size_t di, int fd)
{
	struct rh_inventory *inv = c->inv;
	struct inv_disk *d = &inv->disks.v[di];
	struct inv_vol *v;
	size_t first = inv->vols.n;
	int rc;

	if (fd < 0)
		return 0;
	rc = rh_ptable_read(fd, d->path, &d->pt);
	if (rc == RH_ERR_NOMEM)
		return rc;
	if (rc < 0) {
		d->error = inv_strdup(inv, rh_lasterr());
		rh_log_warn("%s: %s", d->path, rh_lasterr());
		return 0;
	}
	d->size = d->pt->size;
	if (d->pt->type == RH_PTABLE_DOS && d->pt->nparts == 0) {
		/* A FAT filesystem on the whole disk ends its boot sector with
		 * 0x55AA too: an "MBR" without partitions but with a
		 * filesystem signature is that filesystem. */
		struct rh_fsinfo fs;

		if (rh_fs_probe(fd, 0, d->size, &fs) == 0 && fs.usage != RH_FS_USAGE_NONE) {
			d->pt->type = RH_PTABLE_NONE;
			d->pt->label[0] = '\0';
			d->pt->id[0] = '\0';
		}
	}
	if (d->pt->type == RH_PTABLE_NONE) {
		rc = add_vol(c, VOL_DISK, d->name, d->is_file ? NULL : inv_printf(inv, "/dev/%s", d->name),
			     fd, 0, d->size, &v);
		if (rc < 0)
			return rc;
		v->disk = (int)di;
		v->major = d->major;
		v->minor = d->minor;
	}
	for (size_t i = 0; i < d->pt->nparts; i++) {
		const struct rh_part *p = &d->pt->parts[i];
		const char *name;
		uint64_t size = p->size;

		if (p->container)
			continue;
		if (!rh_range_ok(p->start, p->size, d->size))
			size = p->start < d->size ? d->size - p->start : 0;
		name = part_name(inv, d, p->number);
		rc = add_vol(c, VOL_PART, name,
			     d->is_file ? NULL : inv_printf(inv, "/dev/%s", name), fd, p->start,
			     size, &v);
		if (rc < 0)
			return rc;
		v->disk = (int)di;
		v->part = (int)i;
		if (!d->is_file && !inv->explicit_disks) {
			char path[512];

			snprintf(path, sizeof path, "/sys/block/%s/%s/dev", d->name, name);
			read_sysfs_dev(inv, c->r, path, &v->major, &v->minor);
		}
	}
	for (size_t i = first; i < inv->vols.n; i++) {
		rc = probe_vol(c, i);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int keep_fd(struct collect *c, int fd)
{
	int *slot = VEC_PUSH(c->fds, INV_MAX_DISKS * 2);

	if (slot == NULL) {
		close(fd);
		return rh_lasterr_code();
	}
	*slot = fd;
	return 0;
}

static int add_disk(struct collect *c, const char *name, const char *path, bool is_file,
		    unsigned maj, unsigned min, int fd)
{
	struct inv_disk *d = VEC_PUSH(c->inv->disks, INV_MAX_DISKS);

	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return rh_lasterr_code();
	}
	d->name = inv_strdup(c->inv, name);
	d->path = inv_strdup(c->inv, path);
	d->is_file = is_file;
	d->major = maj;
	d->minor = min;
	if (fd < 0)
		return 0;
	return keep_fd(c, fd);
}

/* Kernel block devices that are not disks of the machine. */
static bool skip_block(const char *n)
{
	static const char *const prefixes[] = {
		"loop", "ram", "zram", "dm-", "md", "sr", "fd", "nbd", "zd", "drbd", "rbd",
		"bcache", "mtdblock",
	};

	for (size_t i = 0; i < RH_ARRAY_SIZE(prefixes); i++)
		if (strncmp(n, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return n[0] == '.';
}

/* sda < sdb < sdz < sdaa; nvme0n2 < nvme0n10 (kernel order). */
static int disk_name_cmp(const void *a, const void *b)
{
	const struct inv_disk *x = a, *y = b;
	bool xa = true, ya = true;

	for (const char *p = x->name; *p; p++)
		xa = xa && isalpha((unsigned char)*p);
	for (const char *p = y->name; *p; p++)
		ya = ya && isalpha((unsigned char)*p);
	if (xa && ya && strlen(x->name) != strlen(y->name))
		return strlen(x->name) < strlen(y->name) ? -1 : 1;
	return strverscmp(x->name, y->name);
}

/* A disk we cannot open: partitions and sizes from sysfs, so mounts still
 * link to volumes (their type and usage then come from the mount). */
static int sysfs_volumes(struct collect *c, size_t di)
{
	struct rh_inventory *inv = c->inv;
	struct inv_disk *d = &inv->disks.v[di];
	const char *line;
	char path[512];
	unsigned long long sectors;
	struct inv_vol *v;
	size_t nparts = 0;
	DIR *dir;
	struct dirent *de;
	int rc = 0;

	snprintf(path, sizeof path, "/sys/block/%s/size", d->name);
	line = root_read_line(inv, c->r, path);
	if (line != NULL && sscanf(line, "%llu", &sectors) == 1 && sectors < (1ull << 54))
		d->size = sectors * 512;
	snprintf(path, sizeof path, "/sys/block/%s", d->name);
	dir = root_opendir(c->r, path);
	while (dir != NULL && rc == 0 && (de = readdir(dir)) != NULL) {
		unsigned long long start = 0, size = 0;
		const char *name;

		if (strncmp(de->d_name, d->name, strlen(d->name)) != 0 || strlen(de->d_name) > 64)
			continue;
		snprintf(path, sizeof path, "/sys/block/%s/%s/partition", d->name, de->d_name);
		if (!root_exists(c->r, path))
			continue;
		snprintf(path, sizeof path, "/sys/block/%s/%s/start", d->name, de->d_name);
		line = root_read_line(inv, c->r, path);
		if (line == NULL || sscanf(line, "%llu", &start) != 1 || start >= (1ull << 54))
			continue;
		snprintf(path, sizeof path, "/sys/block/%s/%s/size", d->name, de->d_name);
		line = root_read_line(inv, c->r, path);
		if (line == NULL || sscanf(line, "%llu", &size) != 1 || size >= (1ull << 54))
			continue;
		name = inv_strdup(inv, de->d_name);
		rc = add_vol(c, VOL_PART, name, inv_printf(inv, "/dev/%s", name), -1, start * 512,
			     size * 512, &v);
		if (rc < 0)
			break;
		v->disk = (int)di;
		snprintf(path, sizeof path, "/sys/block/%s/%s/dev", d->name, de->d_name);
		read_sysfs_dev(inv, c->r, path, &v->major, &v->minor);
		nparts++;
	}
	if (dir != NULL)
		closedir(dir);
	if (rc == 0 && nparts == 0) {
		rc = add_vol(c, VOL_DISK, d->name, inv_printf(inv, "/dev/%s", d->name), -1, 0, d->size,
			     &v);
		if (rc == 0) {
			v->disk = (int)di;
			v->major = d->major;
			v->minor = d->minor;
		}
	}
	return rc;
}

static int host_disks(struct collect *c)
{
	struct rh_inventory *inv = c->inv;
	DIR *d = root_opendir(c->r, "/sys/block");
	struct dirent *de;
	int rc = 0;

	if (d == NULL) {
		rh_log_debug("no /sys/block under the root: no disks");
		return 0;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		char path[512];
		const char *removable;
		unsigned maj = 0, min = 0;

		if (skip_block(de->d_name) || strlen(de->d_name) > 64)
			continue;
		snprintf(path, sizeof path, "/sys/block/%s/device", de->d_name);
		if (!root_exists(c->r, path))
			continue; /* virtual: no hardware behind it */
		snprintf(path, sizeof path, "/sys/block/%s/removable", de->d_name);
		removable = root_read_line(inv, c->r, path);
		if (removable != NULL && strcmp(removable, "1") == 0)
			continue;
		snprintf(path, sizeof path, "/sys/block/%s/dev", de->d_name);
		read_sysfs_dev(inv, c->r, path, &maj, &min);
		rc = add_disk(c, de->d_name, inv_printf(inv, "/dev/%s", de->d_name), false, maj, min,
			      -1);
	}
	closedir(d);
	if (rc < 0)
		return rc;
	if (inv->disks.n > 1)
		qsort(inv->disks.v, inv->disks.n, sizeof *inv->disks.v, disk_name_cmp);
	for (size_t i = 0; i < inv->disks.n; i++) {
		struct inv_disk *dk = &inv->disks.v[i];
		int fd = root_open(c->r, dk->path, O_RDONLY | O_NONBLOCK);

		if (fd < 0) {
			dk->error = inv_printf(inv, "cannot open %s: %s", dk->path, strerror(errno));
			rh_log_warn("%s", dk->error);
			rc = sysfs_volumes(c, i);
			if (rc < 0)
				return rc;
			continue;
		}
		rc = keep_fd(c, fd);
		if (rc == 0)
			rc = scan_disk(c, i, fd);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int explicit_disks(struct collect *c, const char *const *paths, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *base = strrchr(paths[i], '/');
		struct stat st;
		int fd, rc;

		base = base && base[1] ? base + 1 : paths[i];
		fd = open(paths[i], O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			return rh_seterr_errno(errno, "%s", paths[i]);
		if (fstat(fd, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
			close(fd);
			return rh_seterr(RH_ERR_INVAL, "%s: not a disk image or block device", paths[i]);
		}
		rc = add_disk(c, base, paths[i], S_ISREG(st.st_mode),
			      S_ISBLK(st.st_mode) ? major(st.st_rdev) : 0,
			      S_ISBLK(st.st_mode) ? minor(st.st_rdev) : 0, fd);
		if (rc < 0)
			return rc;
		rc = scan_disk(c, c->inv->disks.n - 1, fd);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- LVM ---- */

static int add_vg(struct collect *c, const struct pvfound *pv)
{
	struct rh_inventory *inv = c->inv;
	struct rh_lvm_vg *vg = NULL;
	struct inv_vg *slot;
	int rc;

	rc = rh_lvm_parse_vg(pv->label.meta, pv->label.meta_len, &vg);
	if (rc == RH_ERR_NOMEM)
		return rc;
	if (rc < 0) {
		rh_log_warn("%s: LVM metadata: %s", inv->vols.v[pv->vol].name, rh_lasterr());
		return 0;
	}
	for (size_t i = 0; i < inv->vgs.n; i++) {
		struct inv_vg *o = &inv->vgs.v[i];

		if (strcmp(o->vg->uuid, vg->uuid) != 0)
			continue;
		/* Same VG seen on another PV: keep the newest metadata. */
		if (vg->seqno > o->vg->seqno) {
			rh_lvm_vg_free(o->vg);
			o->vg = vg;
		} else {
			rh_lvm_vg_free(vg);
		}
		return 0;
	}
	slot = VEC_PUSH(inv->vgs, INV_MAX_VGS);
	if (slot == NULL) {
		rh_lvm_vg_free(vg);
		return rh_lasterr_code();
	}
	slot->vg = vg;
	return 0;
}

static int lvm_assemble(struct collect *c)
{
	struct rh_inventory *inv = c->inv;
	int rc;

	for (size_t i = 0; i < c->pvs.n; i++) {
		if (c->pvs.v[i].label.meta == NULL)
			continue;
		rc = add_vg(c, &c->pvs.v[i]);
		if (rc < 0)
			return rc;
	}
	for (size_t g = 0; g < inv->vgs.n; g++) {
		struct inv_vg *ivg = &inv->vgs.v[g];
		struct rh_lvm_vg *vg = ivg->vg;
		uint64_t ext = vg->extent_size * 512, used = 0;

		ivg->pv_vol = calloc(vg->npvs ? vg->npvs : 1, sizeof *ivg->pv_vol);
		if (ivg->pv_vol == NULL)
			return RH_ERR_NOMEM;
		for (size_t p = 0; p < vg->npvs; p++) {
			ivg->pv_vol[p] = -1;
			for (size_t k = 0; k < c->pvs.n; k++)
				if (rh_lvm_uuid_eq(c->pvs.v[k].label.uuid, vg->pvs[p].uuid))
					ivg->pv_vol[p] = c->pvs.v[k].vol;
			if (ivg->pv_vol[p] < 0 || vg->pvs[p].missing)
				ivg->unknown_pvs++;
			ivg->size += vg->pvs[p].pe_count * ext;
		}
		for (size_t o = 0; o < inv->vgs.n; o++)
			if (o != g && strcmp(inv->vgs.v[o].vg->name, vg->name) == 0)
				ivg->duplicate_name = true;
		for (size_t l = 0; l < vg->nlvs; l++) {
			const struct rh_lvm_lv *lv = &vg->lvs[l];
			const struct rh_lvm_seg *s0 = lv->nsegs ? &lv->segs[0] : NULL;
			struct inv_vol *v;
			size_t vi;
			int fd = -1;
			uint64_t base = 0, seg_size = 0;

			for (size_t k = 0; k < lv->nsegs; k++) {
				if (lv->segs[k].type == RH_LVM_SEG_THIN_POOL)
					ivg->has_thin_pool = true;
				/* Only segments on PVs take extents: thin pools,
				 * thin LVs, RAID and cache LVs map other LVs. */
				if (lv->segs[k].pv >= 0)
					used += lv->segs[k].extent_count * ext;
			}
			if (!lv->visible)
				continue;
			if (s0 != NULL && s0->type == RH_LVM_SEG_LINEAR && s0->pv >= 0 &&
			    ivg->pv_vol[s0->pv] >= 0) {
				int pvi = ivg->pv_vol[s0->pv];
				uint64_t off;

				if (rh_lvm_extent_offset(vg, &vg->pvs[s0->pv], s0->pv_start, &off) &&
				    !RH_MUL_OVERFLOW(s0->extent_count, ext, &seg_size) &&
				    rh_range_ok(off, seg_size, inv->vols.v[pvi].size)) {
					fd = c->srcs.v[pvi].fd;
					base = c->srcs.v[pvi].base + off;
				}
			}
			rc = add_vol(c, VOL_LV, inv_printf(inv, "%s/%s", vg->name, lv->name),
				     inv_printf(inv, "/dev/%s/%s", vg->name, lv->name), fd, base,
				     lv->extents * ext, &v);
			if (rc < 0)
				return rc;
			v->vg = (int)g;
			v->lv = (int)l;
			vi = inv->vols.n - 1;
			if (fd >= 0) {
				/* Probe within the first segment; the superblock is there. */
				uint64_t full = v->size;

				v->size = seg_size;
				rc = probe_vol(c, vi);
				v = &inv->vols.v[vi];
				v->size = full;
				if (v->probed && !v->fs.size_known)
					v->fs.size = full;
				if (rc < 0)
					return rc;
			}
		}
		ivg->free = ivg->size > used ? ivg->size - used : 0;
	}
	return 0;
}

/* dm name "vg--a-lv--b" -> "vg-a/lv-b" (LVM doubles dashes inside names). */
static bool dm_name_to_lv(const char *dm, char *out, size_t len)
{
	size_t o = 0;
	bool split = false;

	for (size_t i = 0; dm[i]; i++) {
		if (o + 2 >= len)
			return false;
		if (dm[i] == '-' && dm[i + 1] == '-') {
			out[o++] = '-';
			i++;
		} else if (dm[i] == '-' && !split) {
			out[o++] = '/';
			split = true;
		} else {
			out[o++] = dm[i];
		}
	}
	out[o] = '\0';
	return split;
}

/* Active LVs: give LV volumes their dm major:minor from /sys/block/dm-N. */
static void lvm_active(struct collect *c)
{
	struct rh_inventory *inv = c->inv;
	DIR *d = root_opendir(c->r, "/sys/block");
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char path[512], lvname[300];
		const char *dm;
		unsigned maj, min;

		if (strncmp(de->d_name, "dm-", 3) != 0 || strlen(de->d_name) > 32)
			continue;
		snprintf(path, sizeof path, "/sys/block/%s/dm/name", de->d_name);
		dm = root_read_line(inv, c->r, path);
		if (dm == NULL || !dm_name_to_lv(dm, lvname, sizeof lvname))
			continue;
		snprintf(path, sizeof path, "/sys/block/%s/dev", de->d_name);
		if (read_sysfs_dev(inv, c->r, path, &maj, &min) < 0)
			continue;
		for (size_t i = 0; i < inv->vols.n; i++) {
			struct inv_vol *v = &inv->vols.v[i];

			if (v->kind == VOL_LV && strcmp(v->name, lvname) == 0) {
				v->major = maj;
				v->minor = min;
			}
		}
	}
	closedir(d);
}

/* ---- md RAID ---- */

static const char *md_level_name(struct rh_inventory *inv, int level)
{
	switch (level) {
	case -1: return "linear";
	case -4: return "multipath";
	case -5: return "faulty";
	default: return inv_printf(inv, "raid%d", level);
	}
}

static struct inv_md *md_find_member(struct rh_inventory *inv, const char *vol_name)
{
	for (size_t i = 0; i < inv->mds.n; i++)
		if (strv_has(&inv->mds.v[i].members, vol_name))
			return &inv->mds.v[i];
	return NULL;
}

/* /proc/mdstat: "md0 : active raid1 sdb1[1] sda1[0]" then "... [2/2] [UU]". */
static int md_from_mdstat(struct collect *c)
{
	struct rh_inventory *inv = c->inv;
	char *text = NULL, *cur, *line;
	struct inv_md *md = NULL;
	int rc;

	rc = root_read(c->r, "/proc/mdstat", INV_MAX_FILE, &text, NULL);
	if (rc < 0)
		return rc == RH_ERR_NOTFOUND ? 0 : rc;
	cur = text;
	while ((line = text_next_line(&cur)) != NULL) {
		char *save = NULL, *w;
		unsigned total, up;
		char *br;

		if (strncmp(line, "md", 2) == 0 && strstr(line, " : ") != NULL) {
			md = VEC_PUSH(inv->mds, INV_MAX_MDS);
			if (md == NULL) {
				rc = rh_lasterr_code();
				break;
			}
			md->vol = -1;
			md->source = "mdstat";
			w = strtok_r(line, " ", &save);
			md->name = inv_strdup(inv, w);
			strtok_r(NULL, " ", &save); /* ":" */
			w = strtok_r(NULL, " ", &save);
			md->state = inv_strdup(inv, w ? w : "");
			while ((w = strtok_r(NULL, " ", &save)) != NULL) {
				if (strchr(w, '[') == NULL) {
					if (md->level == NULL && strcmp(w, "(auto-read-only)") != 0 &&
					    strcmp(w, "(read-only)") != 0)
						md->level = inv_strdup(inv, w);
					continue;
				}
				w[strcspn(w, "[")] = '\0';
				rc = strv_add(inv, &md->members, w);
				if (rc < 0)
					goto out;
			}
		} else if (md != NULL) {
			/* "... blocks super 1.2 [2/2] [UU]": the [total/up] pair. */
			for (br = strchr(line, '['); br != NULL; br = strchr(br + 1, '['))
				if (sscanf(br, "[%u/%u]", &total, &up) == 2 && total < 10000)
					md->raid_disks = total;
		}
	}
	for (size_t i = 0; i < inv->mds.n; i++)
		if (inv->mds.v[i].raid_disks == 0)
			inv->mds.v[i].raid_disks = (unsigned)inv->mds.v[i].members.n;
	/* Open the arrays for a filesystem probe. */
	for (size_t i = 0; rc == 0 && i < inv->mds.n; i++) {
		struct inv_md *m = &inv->mds.v[i];
		struct inv_vol *v;
		uint64_t size = 0;
		int fd;

		if (strchr(m->name, '/') != NULL)
			continue;
		fd = root_open(c->r, inv_printf(inv, "/dev/%s", m->name), O_RDONLY | O_NONBLOCK);
		if (fd >= 0) {
			rc = keep_fd(c, fd);
			if (rc < 0)
				break;
			if (rh_dev_size(fd, &size) < 0)
				size = 0;
		}
		rc = add_vol(c, VOL_MD, m->name, inv_printf(inv, "/dev/%s", m->name), fd, 0, size, &v);
		if (rc < 0)
			break;
		v->md = (int)i;
		m->vol = (int)(inv->vols.n - 1);
		{
			char path[512];

			snprintf(path, sizeof path, "/sys/block/%s/dev", m->name);
			read_sysfs_dev(inv, c->r, path, &v->major, &v->minor);
		}
		rc = probe_vol(c, inv->vols.n - 1);
	}
out:
	free(text);
	return rc;
}

/* Members found by their superblocks and not accounted for by mdstat. */
static int md_from_superblocks(struct collect *c)
{
	struct rh_inventory *inv = c->inv;
	size_t nvols = inv->vols.n;
	int rc;

	for (size_t i = 0; i < nvols; i++) {
		struct inv_vol *v = &inv->vols.v[i];
		struct rh_md_member mem;
		struct inv_md *md = NULL;
		const struct src *s = &c->srcs.v[i];

		if (strcmp(v->fs.type, "linux_raid_member") != 0 || s->fd < 0)
			continue;
		if (md_find_member(inv, v->name) != NULL)
			continue;
		rc = rh_md_read_member(s->fd, s->base, v->size, &mem);
		if (rc < 0) {
			rh_log_warn("%s: md superblock: %s", v->name,
				    rc == RH_ERR_NOTFOUND ? "not found" : rh_lasterr());
			continue;
		}
		for (size_t k = 0; k < inv->mds.n; k++)
			if (inv->mds.v[k].uuid && strcmp(inv->mds.v[k].uuid, mem.uuid) == 0)
				md = &inv->mds.v[k];
		if (md == NULL) {
			md = VEC_PUSH(inv->mds, INV_MAX_MDS);
			if (md == NULL)
				return rh_lasterr_code();
			md->vol = -1;
			md->source = "superblock";
			md->state = "not assembled";
			md->uuid = inv_strdup(inv, mem.uuid);
			md->name = inv_strdup(inv, mem.name[0] ? mem.name : mem.uuid);
			md->level = md_level_name(inv, mem.level);
			md->raid_disks = mem.raid_disks;
			/* A RAID1 member holds the array's data as is: probe it. */
			if (mem.level == 1 && mem.data_size > 0) {
				struct inv_vol *av;
				size_t mdi = inv->mds.n - 1;

				rc = add_vol(c, VOL_MD, inv_printf(inv, "md:%s", md->name), NULL, s->fd,
					     s->base + mem.data_offset, mem.data_size, &av);
				if (rc < 0)
					return rc;
				av->md = (int)mdi;
				inv->mds.v[mdi].vol = (int)(inv->vols.n - 1);
				rc = probe_vol(c, inv->vols.n - 1);
				if (rc < 0)
					return rc;
				md = &inv->mds.v[mdi];
			}
		}
		rc = strv_add(inv, &md->members, inv->vols.v[i].name);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int disks_collect(struct rh_inventory *inv, const struct inv_root *r, const char *const *paths,
		  size_t npaths)
{
	struct collect c = { .inv = inv, .r = r };
	int rc;

	rc = paths ? explicit_disks(&c, paths, npaths) : host_disks(&c);
	if (rc < 0)
		goto out;
	if (!inv->explicit_disks) {
		rc = md_from_mdstat(&c);
		if (rc < 0)
			goto out;
	}
	rc = md_from_superblocks(&c);
	if (rc < 0)
		goto out;
	/* PVs on md arrays were found by the probes above. */
	rc = lvm_assemble(&c);
	if (rc < 0)
		goto out;
	if (!inv->explicit_disks)
		lvm_active(&c);
	for (size_t i = 0; i < inv->disks.n; i++) {
		struct inv_disk *d = &inv->disks.v[i];
		uint64_t req = 0;

		if (d->pt == NULL) {
			/* Unreadable: the whole disk, as sysfs sizes it. */
			d->required = d->size;
			d->recommended_gib = (d->size + GIB - 1) / GIB;
			continue;
		}
		if (d->pt->type == RH_PTABLE_NONE) {
			req = d->size;
		} else {
			for (size_t p = 0; p < d->pt->nparts; p++) {
				uint64_t end = d->pt->parts[p].start + d->pt->parts[p].size;

				if (end > req)
					req = end;
			}
			req += d->pt->table_end;
			if (req > d->size)
				req = d->size;
			if (req == 0)
				req = d->size;
		}
		d->required = req;
		d->recommended_gib = (req + GIB - 1) / GIB;
		if (d->pt->type == RH_PTABLE_GPT)
			d->recommended_gib += 1;
		if (d->recommended_gib == 0)
			d->recommended_gib = 1;
	}
	rc = 0;
out:
	for (size_t i = 0; i < c.pvs.n; i++)
		rh_lvm_pvlabel_release(&c.pvs.v[i].label);
	for (size_t i = 0; i < c.fds.n; i++)
		close(c.fds.v[i]);
	VEC_FREE(c.fds);
	VEC_FREE(c.srcs);
	VEC_FREE(c.pvs);
	return rc;
}

/* ---- linking mounts and fstab to volumes ---- */

static int vol_by_tag(const struct rh_inventory *inv, const char *spec)
{
	for (size_t i = 0; i < inv->vols.n; i++) {
		const struct inv_vol *v = &inv->vols.v[i];
		const struct rh_part *p = NULL;

		if (v->disk >= 0 && v->part >= 0 && inv->disks.v[v->disk].pt)
			p = &inv->disks.v[v->disk].pt->parts[v->part];
		if (strncmp(spec, "UUID=", 5) == 0 && v->fs.uuid[0] &&
		    strcasecmp(v->fs.uuid, spec + 5) == 0)
			return (int)i;
		if (strncmp(spec, "LABEL=", 6) == 0 && v->fs.label[0] &&
		    strcmp(v->fs.label, spec + 6) == 0)
			return (int)i;
		if (strncmp(spec, "PARTUUID=", 9) == 0 && p && p->uuid[0] &&
		    strcasecmp(p->uuid, spec + 9) == 0)
			return (int)i;
		if (strncmp(spec, "PARTLABEL=", 10) == 0 && p && p->name[0] &&
		    strcmp(p->name, spec + 10) == 0)
			return (int)i;
	}
	return -1;
}

static int vol_by_name(const struct rh_inventory *inv, enum vol_kind kind, const char *name)
{
	for (size_t i = 0; i < inv->vols.n; i++)
		if (inv->vols.v[i].kind == kind && strcmp(inv->vols.v[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int resolve(struct rh_inventory *inv, const struct inv_root *r, const char *spec,
		   unsigned maj, unsigned min)
{
	char buf[300];
	int vi;

	if (maj != 0 || min != 0)
		for (size_t i = 0; i < inv->vols.n; i++)
			if (inv->vols.v[i].major == maj && inv->vols.v[i].minor == min)
				return (int)i;
	if (spec == NULL)
		return -1;
	vi = vol_by_tag(inv, spec);
	if (vi >= 0)
		return vi;
	if (strncmp(spec, "/dev/disk/by-uuid/", 18) == 0) {
		snprintf(buf, sizeof buf, "UUID=%s", spec + 18);
		return vol_by_tag(inv, buf);
	}
	if (strncmp(spec, "/dev/disk/by-label/", 19) == 0) {
		char label[256];

		snprintf(label, sizeof label, "%s", spec + 19);
		mount_unescape(label);
		snprintf(buf, sizeof buf, "LABEL=%s", label);
		return vol_by_tag(inv, buf);
	}
	if (strncmp(spec, "/dev/disk/by-partuuid/", 22) == 0) {
		snprintf(buf, sizeof buf, "PARTUUID=%s", spec + 22);
		return vol_by_tag(inv, buf);
	}
	if (strncmp(spec, "/dev/mapper/", 12) == 0 && dm_name_to_lv(spec + 12, buf, sizeof buf))
		return vol_by_name(inv, VOL_LV, buf);
	if (strncmp(spec, "/dev/dm-", 8) == 0 && strchr(spec + 5, '/') == NULL) {
		char path[128];
		const char *dm;

		snprintf(path, sizeof path, "/sys/block/%s/dm/name", spec + 5);
		dm = root_read_line(inv, r, path);
		if (dm != NULL && dm_name_to_lv(dm, buf, sizeof buf))
			return vol_by_name(inv, VOL_LV, buf);
		return -1;
	}
	if (strncmp(spec, "/dev/md/", 8) == 0) {
		for (size_t i = 0; i < inv->mds.n; i++)
			if (strcmp(inv->mds.v[i].name, spec + 8) == 0 && inv->mds.v[i].vol >= 0)
				return inv->mds.v[i].vol;
	}
	for (size_t i = 0; i < inv->vols.n; i++)
		if (inv->vols.v[i].dev && strcmp(inv->vols.v[i].dev, spec) == 0)
			return (int)i;
	return -1;
}

void disks_link(struct rh_inventory *inv, const struct inv_root *r)
{
	int sys = -1;

	for (size_t i = 0; i < inv->mounts.n; i++) {
		struct inv_mount *m = &inv->mounts.v[i];
		struct inv_vol *v;

		if (m->cls == MNT_PSEUDO || m->cls == MNT_NETWORK)
			continue;
		m->vol = resolve(inv, r, m->source, m->major, m->minor);
		if (m->vol < 0)
			continue;
		v = &inv->vols.v[m->vol];
		if (!v->probed && v->fs.type[0] == '\0' && strlen(m->fstype) < sizeof v->fs.type) {
			/* Unreadable device: what the mount says is all we know. */
			snprintf(v->fs.type, sizeof v->fs.type, "%s", m->fstype);
			v->fs.usage = strcmp(m->fstype, "swap") == 0 ? RH_FS_USAGE_SWAP
								     : RH_FS_USAGE_FILESYSTEM;
			if (m->stat_ok) {
				v->fs.size = m->size;
				v->fs.size_known = true;
			}
		}
		if (!m->bind && !m->repeated) {
			strv_add(inv, &v->mountpoints, m->target);
			if (m->stat_ok && !v->statvfs_ok && m->size > 0) {
				v->statvfs_ok = true;
				v->fs.used = m->size - m->free;
				v->fs.used_known = true;
			}
		}
	}
	for (size_t i = 0; i < inv->fstab.n; i++) {
		struct inv_fstab *e = &inv->fstab.v[i];

		e->vol = resolve(inv, r, e->spec, 0, 0);
		if (e->vol >= 0)
			strv_add(inv, &inv->vols.v[e->vol].fstab, e->file);
	}
	for (size_t i = 0; i < inv->vols.n; i++) {
		struct inv_vol *v = &inv->vols.v[i];

		v->system = strv_has(&v->mountpoints, "/") ||
			    (v->mountpoints.n == 0 && strv_has(&v->fstab, "/"));
		v->boot = strv_has(&v->mountpoints, "/boot") || strv_has(&v->fstab, "/boot") ||
			  strv_has(&v->mountpoints, "/boot/efi") || strv_has(&v->fstab, "/boot/efi");
		if (v->system && sys < 0)
			sys = (int)i;
	}
	inv->system_disk = -1;
	if (sys < 0)
		return;
	/* The disks holding the system volume. */
	{
		const struct inv_vol *v = &inv->vols.v[sys];

		if (v->disk >= 0) {
			inv->disks.v[v->disk].system = true;
		} else if (v->kind == VOL_LV) {
			const struct inv_vg *g = &inv->vgs.v[v->vg];

			for (size_t p = 0; p < g->vg->npvs; p++)
				if (g->pv_vol[p] >= 0 && inv->vols.v[g->pv_vol[p]].disk >= 0)
					inv->disks.v[inv->vols.v[g->pv_vol[p]].disk].system = true;
		} else if (v->kind == VOL_MD && v->md >= 0) {
			const struct inv_md *md = &inv->mds.v[v->md];

			for (size_t k = 0; k < md->members.n; k++) {
				int mv = vol_by_name(inv, VOL_PART, md->members.v[k]);

				if (mv < 0)
					mv = vol_by_name(inv, VOL_DISK, md->members.v[k]);
				if (mv >= 0 && inv->vols.v[mv].disk >= 0)
					inv->disks.v[inv->vols.v[mv].disk].system = true;
			}
		}
	}
	for (size_t i = 0; i < inv->disks.n; i++)
		if (inv->disks.v[i].system) {
			inv->system_disk = (int)i;
			break;
		}
}
