/* Target disks as the migrated system will see them: vda, vda1, VG/LV. */
#define RH_LOG_COMPONENT "postconf"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "postconf/volumes.h"
#include "rehost/checked.h"
#include "rehost/err.h"
#include "rehost/log.h"

void rh_pc_disks_free(struct rh_pc_disks *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->nvols; i++)
		rh_loop_release(&d->vols[i].loop);
	for (size_t i = 0; i < d->ndisks; i++)
		free(d->paths[i]);
	free(d);
}

static struct rh_pc_vol *add_vol(struct rh_pc_disks *d, enum rh_pc_volkind kind, unsigned disk,
				 uint64_t offset, uint64_t size)
{
	struct rh_pc_vol *v;

	if (d->nvols >= RH_PC_MAX_VOLS) {
		rh_seterr(RH_ERR_TOOBIG, "more than %u volumes on the target disks", RH_PC_MAX_VOLS);
		return NULL;
	}
	v = &d->vols[d->nvols++];
	memset(v, 0, sizeof *v);
	v->kind = kind;
	v->disk = disk;
	v->offset = offset;
	v->size = size;
	v->loop.fd = -1;
	return v;
}

/* LVM's /dev/mapper name doubles the dashes inside VG and LV names. */
static void mapper_name(char *out, size_t n, const char *vg, const char *lv)
{
	size_t o = 0;
	const char *parts[2] = { vg, lv };

	o += (size_t)snprintf(out, n, "/dev/mapper/");
	for (int p = 0; p < 2 && o + 1 < n; p++) {
		if (p == 1)
			out[o++] = '-';
		for (const char *s = parts[p]; *s != '\0' && o + 2 < n; s++) {
			if (*s == '-')
				out[o++] = '-';
			out[o++] = *s;
		}
	}
	out[o < n ? o : n - 1] = '\0';
}

struct pvref {
	size_t vol;               /* index of the PV's volume */
	char uuid[40];
};

/* One VG's reachable LVs: linear, all extents contiguous on one PV of ours,
 * so one loop device at an offset is the whole LV. */
static int add_lvs(struct rh_pc_disks *d, const struct rh_lvm_vg *vg, const struct pvref *pvs,
		   size_t npvs)
{
	uint64_t ext_bytes = vg->extent_size * 512u;

	for (size_t i = 0; i < vg->nlvs; i++) {
		const struct rh_lvm_lv *lv = &vg->lvs[i];
		const struct rh_lvm_seg *s0 = lv->nsegs > 0 ? &lv->segs[0] : NULL;
		const struct pvref *ref = NULL;
		struct rh_pc_vol *pvvol, *v;
		uint64_t off;
		bool ok = s0 != NULL && lv->visible && s0->pv >= 0 && (size_t)s0->pv < vg->npvs;

		for (size_t k = 0; ok && k < lv->nsegs; k++) {
			const struct rh_lvm_seg *s = &lv->segs[k];

			ok = s->type == RH_LVM_SEG_LINEAR && s->pv == s0->pv &&
			     s->pv_start - s0->pv_start == s->start_extent - s0->start_extent;
		}
		for (size_t k = 0; ok && k < npvs; k++)
			if (rh_lvm_uuid_eq(pvs[k].uuid, vg->pvs[s0->pv].uuid))
				ref = &pvs[k];
		if (!ok || ref == NULL || !rh_lvm_extent_offset(vg, &vg->pvs[s0->pv], s0->pv_start, &off)) {
			if (lv->visible)
				rh_log_info("LV %s/%s is not one linear run on one PV: it cannot be "
					    "reached without device-mapper and is left alone",
					    vg->name, lv->name);
			continue;
		}
		pvvol = &d->vols[ref->vol];
		if (off > pvvol->size || lv->extents * ext_bytes > pvvol->size - off)
			continue;
		v = add_vol(d, RH_PC_VOL_LV, pvvol->disk, pvvol->offset + off, lv->extents * ext_bytes);
		if (v == NULL)
			return rh_lasterr_code();
		snprintf(v->vg, sizeof v->vg, "%s", vg->name);
		snprintf(v->lv, sizeof v->lv, "%s", lv->name);
		mapper_name(v->name, sizeof v->name, vg->name, lv->name);
		snprintf(v->alias, sizeof v->alias, "/dev/%s/%s", vg->name, lv->name);
	}
	return 0;
}

static int scan_lvm(struct rh_pc_disks *d, const int *fds)
{
	struct pvref pvs[64];
	struct rh_lvm_vg *vgs[16];
	size_t npv = 0, nvg = 0, nbase = d->nvols;
	int rc = 0;

	for (size_t i = 0; i < nbase; i++) {
		struct rh_pc_vol *v = &d->vols[i];
		struct rh_lvm_pvlabel lab;
		struct rh_lvm_vg *vg = NULL;
		bool known = false;

		if (v->fs.usage != RH_FS_USAGE_LVM || npv >= RH_ARRAY_SIZE(pvs))
			continue;
		if (rh_lvm_read_label(fds[v->disk], v->offset, v->size, &lab) < 0) {
			rh_log_warn("%s: LVM label unreadable: %s", v->name, rh_lasterr());
			continue;
		}
		pvs[npv].vol = i;
		snprintf(pvs[npv].uuid, sizeof pvs[npv].uuid, "%s", lab.uuid);
		npv++;
		if (lab.meta != NULL && rh_lvm_parse_vg(lab.meta, lab.meta_len, &vg) == 0) {
			for (size_t k = 0; k < nvg; k++)
				known |= rh_lvm_uuid_eq(vgs[k]->uuid, vg->uuid);
			if (known || nvg >= RH_ARRAY_SIZE(vgs))
				rh_lvm_vg_free(vg);
			else
				vgs[nvg++] = vg;
		}
		rh_lvm_pvlabel_release(&lab);
	}
	for (size_t k = 0; k < nvg && rc == 0; k++)
		rc = add_lvs(d, vgs[k], pvs, npv);
	for (size_t k = 0; k < nvg; k++)
		rh_lvm_vg_free(vgs[k]);
	/* Probe what the LVs hold. */
	for (size_t i = nbase; i < d->nvols && rc == 0; i++) {
		struct rh_pc_vol *v = &d->vols[i];

		if (rh_fs_probe(fds[v->disk], v->offset, v->size, &v->fs) < 0)
			memset(&v->fs, 0, sizeof v->fs);
	}
	return rc;
}

static int scan_disk(struct rh_pc_disks *d, unsigned idx, int fd)
{
	struct rh_ptable *pt = NULL;
	struct rh_pc_vol *disk;
	int rc;

	rc = rh_ptable_read(fd, d->paths[idx], &pt);
	if (rc < 0)
		return rc;
	d->sizes[idx] = pt->size;
	d->ptable[idx] = pt->type;
	disk = add_vol(d, RH_PC_VOL_DISK, idx, 0, pt->size);
	if (disk == NULL) {
		rc = rh_lasterr_code();
		goto out;
	}
	snprintf(disk->name, sizeof disk->name, "/dev/vd%c", 'a' + idx);
	if (pt->type == RH_PTABLE_NONE) {
		/* A whole-disk filesystem or PV. */
		if (rh_fs_probe(fd, 0, pt->size, &disk->fs) < 0)
			memset(&disk->fs, 0, sizeof disk->fs);
		goto out;
	}
	for (size_t i = 0; i < pt->nparts; i++) {
		const struct rh_part *p = &pt->parts[i];
		struct rh_pc_vol *v;

		if (p->container)
			continue;
		v = add_vol(d, RH_PC_VOL_PART, idx, p->start, p->size);
		if (v == NULL) {
			rc = rh_lasterr_code();
			goto out;
		}
		v->partno = p->number;
		snprintf(v->name, sizeof v->name, "/dev/vd%c%u", 'a' + idx, p->number);
		snprintf(v->partuuid, sizeof v->partuuid, "%s", p->uuid);
		snprintf(v->ptype, sizeof v->ptype, "%s", p->type);
		if (rh_fs_probe(fd, p->start, p->size, &v->fs) < 0)
			memset(&v->fs, 0, sizeof v->fs);
	}
out:
	rh_ptable_free(pt);
	return rc;
}

int rh_pc_disks_scan(const char *const *paths, size_t n, struct rh_pc_disks **out)
{
	struct rh_pc_disks *d;
	int fds[RH_PC_MAX_DISKS];
	int rc = 0;

	*out = NULL;
	if (n == 0 || n > RH_PC_MAX_DISKS)
		return rh_seterr(RH_ERR_INVAL, "%zu target disks: give 1 to %u", n, RH_PC_MAX_DISKS);
	d = calloc(1, sizeof *d);
	if (d == NULL)
		return rh_seterr(RH_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		fds[i] = -1;
	for (size_t i = 0; i < n && rc == 0; i++) {
		d->paths[i] = strdup(paths[i]);
		d->ndisks = i + 1;
		if (d->paths[i] == NULL) {
			rc = rh_seterr(RH_ERR_NOMEM, "out of memory");
			break;
		}
		fds[i] = open(paths[i], O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0) {
			rc = rh_seterr_errno(errno, "cannot open target disk %s", paths[i]);
			break;
		}
		rc = scan_disk(d, (unsigned)i, fds[i]);
	}
	if (rc == 0)
		rc = scan_lvm(d, fds);
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (rc < 0) {
		rh_pc_disks_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

int rh_pc_vol_attach(struct rh_pc_disks *d, struct rh_pc_vol *v)
{
	if (v->loop.fd >= 0)
		return 0;
	return rh_loop_attach(d->paths[v->disk], v->offset, v->kind == RH_PC_VOL_DISK ? 0 : v->size,
			      false, &v->loop);
}

struct rh_pc_vol *rh_pc_vol_by_name(struct rh_pc_disks *d, const char *name)
{
	for (size_t i = 0; i < d->nvols; i++)
		if (strcmp(d->vols[i].name, name) == 0 || strcmp(d->vols[i].alias, name) == 0)
			return &d->vols[i];
	return NULL;
}

/* "/dev/sda2", "/dev/xvdb1", "/dev/hda1", "/dev/vda2" → disk 0/1, part N;
 * "/dev/nvme0n1p2" → disk 0 (namespace 1 of controller 0), part 2. */
static bool kernel_name(const char *s, unsigned *disk, unsigned *part)
{
	static const char *const pfx[] = { "/dev/sd", "/dev/xvd", "/dev/hd", "/dev/vd" };
	char *end;
	unsigned long n;

	for (size_t i = 0; i < RH_ARRAY_SIZE(pfx); i++) {
		size_t l = strlen(pfx[i]);

		if (strncmp(s, pfx[i], l) != 0 || s[l] < 'a' || s[l] > 'z')
			continue;
		*disk = (unsigned)(s[l] - 'a');
		if (s[l + 1] == '\0') {
			*part = 0;
			return true;
		}
		if (!isdigit((unsigned char)s[l + 1]))
			return false;
		n = strtoul(s + l + 1, &end, 10);
		*part = (unsigned)n;
		return *end == '\0' && n > 0 && n < 1000;
	}
	if (strncmp(s, "/dev/nvme0n", 11) == 0 && isdigit((unsigned char)s[11])) {
		n = strtoul(s + 11, &end, 10);
		if (n == 0 || n > RH_PC_MAX_DISKS)
			return false;
		*disk = (unsigned)n - 1;
		*part = 0;
		if (*end == '\0')
			return true;
		if (*end != 'p' || !isdigit((unsigned char)end[1]))
			return false;
		n = strtoul(end + 1, &end, 10);
		*part = (unsigned)n;
		return *end == '\0' && n > 0 && n < 1000;
	}
	return false;
}

struct rh_pc_vol *rh_pc_vol_find(struct rh_pc_disks *d, const char *spec)
{
	static const struct {
		const char *pfx;
		int field; /* 0 uuid, 1 label, 2 partuuid */
	} keys[] = {
		{ "UUID=", 0 }, { "/dev/disk/by-uuid/", 0 }, { "LABEL=", 1 },
		{ "/dev/disk/by-label/", 1 }, { "PARTUUID=", 2 }, { "/dev/disk/by-partuuid/", 2 },
	};
	unsigned disk, part;

	for (size_t k = 0; k < RH_ARRAY_SIZE(keys); k++) {
		size_t l = strlen(keys[k].pfx);
		const char *val = spec + l;
		char unq[300];

		if (strncmp(spec, keys[k].pfx, l) != 0)
			continue;
		/* fstab may quote the value: UUID="..." */
		snprintf(unq, sizeof unq, "%s", val);
		if (unq[0] == '"' && strlen(unq) >= 2 && unq[strlen(unq) - 1] == '"') {
			memmove(unq, unq + 1, strlen(unq));
			unq[strlen(unq) - 1] = '\0';
		}
		for (size_t i = 0; i < d->nvols; i++) {
			const struct rh_pc_vol *v = &d->vols[i];
			const char *have = keys[k].field == 0 ? v->fs.uuid :
					   keys[k].field == 1 ? v->fs.label : v->partuuid;

			if (have[0] != '\0' && strcasecmp(have, unq) == 0)
				return &d->vols[i];
		}
		return NULL;
	}
	if (strncmp(spec, "/dev/mapper/", 12) == 0 || strncmp(spec, "/dev/", 5) == 0) {
		struct rh_pc_vol *v = rh_pc_vol_by_name(d, spec);

		if (v != NULL && v->kind == RH_PC_VOL_LV)
			return v;
	}
	if (kernel_name(spec, &disk, &part)) {
		for (size_t i = 0; i < d->nvols; i++) {
			struct rh_pc_vol *v = &d->vols[i];

			if (v->kind != RH_PC_VOL_LV && v->disk == disk && v->partno == part)
				return v;
		}
	}
	return NULL;
}
