/*
 * The inventory as JSON (schema RH_INVENTORY_SCHEMA, docs/inventory.md)
 * and as a readable report grouped like the seed's pre-check output:
 * errors, warnings, then what passed.
 */
#define RH_LOG_COMPONENT "inspect"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/internal.h"
#include "rehost-version.h"
#include "rehost/err.h"
#include "rehost/num.h"

const char *check_status_name(enum rh_check_status s)
{
	switch (s) {
	case RH_CHECK_OK: return "ok";
	case RH_CHECK_SKIPPED: return "skipped";
	case RH_CHECK_WARNING: return "warning";
	case RH_CHECK_ERROR: return "error";
	}
	return "?";
}

static const char *usage_name(enum rh_fs_usage u)
{
	switch (u) {
	case RH_FS_USAGE_NONE: return NULL;
	case RH_FS_USAGE_FILESYSTEM: return "filesystem";
	case RH_FS_USAGE_SWAP: return "swap";
	case RH_FS_USAGE_RAID: return "raid";
	case RH_FS_USAGE_LVM: return "lvm";
	case RH_FS_USAGE_CRYPTO: return "crypto";
	case RH_FS_USAGE_OTHER: return "other";
	}
	return NULL;
}

static const char *ptable_name(const struct rh_ptable *pt)
{
	if (pt == NULL)
		return NULL;
	switch (pt->type) {
	case RH_PTABLE_NONE: return "none";
	case RH_PTABLE_DOS: return "dos";
	case RH_PTABLE_GPT: return "gpt";
	case RH_PTABLE_OTHER: return "other";
	}
	return NULL;
}

static const char *segtype_name(enum rh_lvm_segtype t)
{
	switch (t) {
	case RH_LVM_SEG_LINEAR: return "linear";
	case RH_LVM_SEG_STRIPED: return "striped";
	case RH_LVM_SEG_THIN_POOL: return "thin-pool";
	case RH_LVM_SEG_THIN: return "thin";
	case RH_LVM_SEG_MIRROR: return "mirror";
	case RH_LVM_SEG_SNAPSHOT: return "snapshot";
	case RH_LVM_SEG_CACHE: return "cache";
	case RH_LVM_SEG_OTHER: return "other";
	}
	return "other";
}

static const char *mount_class_name(enum mount_class c)
{
	switch (c) {
	case MNT_LOCAL: return "local";
	case MNT_NETWORK: return "network";
	case MNT_PSEUDO: return "pseudo";
	case MNT_LOOP: return "loop";
	case MNT_OTHER: return "other";
	}
	return "other";
}

/* ---- JSON ---- */

static json_t *jstr(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

static json_t *jstrv(const strv_t *v)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < v->n; i++)
		json_array_append_new(a, json_string(v->v[i]));
	return a;
}

static json_t *fs_json(const struct inv_vol *v)
{
	const struct rh_fsinfo *fs = &v->fs;

	if (fs->usage == RH_FS_USAGE_NONE && !fs->ambivalent)
		return json_null();
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:I, s:o, s:b, s:o, s:o, s:b, s:b}",
			 "type", jstr(fs->type), "version", jstr(fs->version),
			 "uuid", jstr(fs->uuid), "label", jstr(fs->label),
			 "usage", jstr(usage_name(fs->usage)),
			 "size_bytes", (json_int_t)(fs->size_known ? fs->size : v->size),
			 "used_bytes", fs->used_known ? json_integer((json_int_t)fs->used) : json_null(),
			 "ambivalent", fs->ambivalent,
			 "mountpoints", jstrv(&v->mountpoints), "fstab", jstrv(&v->fstab),
			 "system", v->system, "boot", v->boot);
}

static int find_vol(const struct rh_inventory *inv, enum vol_kind kind, int disk, int part,
		    int vg, int lv)
{
	for (size_t i = 0; i < inv->vols.n; i++) {
		const struct inv_vol *v = &inv->vols.v[i];

		if (v->kind == kind && v->disk == disk && v->part == part && v->vg == vg && v->lv == lv)
			return (int)i;
	}
	return -1;
}

static json_t *disk_json(const struct rh_inventory *inv, size_t di)
{
	const struct inv_disk *d = &inv->disks.v[di];
	const struct rh_ptable *pt = d->pt;
	json_t *parts = json_array(), *whole = json_null(), *o;
	int wv;

	for (size_t i = 0; pt && i < pt->nparts; i++) {
		const struct rh_part *p = &pt->parts[i];
		int vi = find_vol(inv, VOL_PART, (int)di, (int)i, -1, -1);
		const struct inv_vol *v = vi >= 0 ? &inv->vols.v[vi] : NULL;

		json_array_append_new(parts, json_pack(
			"{s:i, s:o, s:o, s:I, s:I, s:o, s:o, s:o, s:o, s:b, s:b, s:b, s:o}",
			"number", (int)p->number, "name", jstr(v ? v->name : NULL),
			"device", jstr(v ? v->dev : NULL),
			"start_bytes", (json_int_t)p->start, "size_bytes", (json_int_t)p->size,
			"type", jstr(p->type), "type_name", jstr(p->type_name),
			"partuuid", jstr(p->uuid), "partlabel", jstr(p->name),
			"bootable", p->bootable, "container", p->container, "logical", p->logical,
			"filesystem", v ? fs_json(v) : json_null()));
	}
	/* Unreadable disk: the partitions sysfs knows about. */
	for (size_t i = 0; pt == NULL && i < inv->vols.n; i++) {
		const struct inv_vol *v = &inv->vols.v[i];

		if (v->kind != VOL_PART || v->disk != (int)di)
			continue;
		json_array_append_new(parts, json_pack(
			"{s:n, s:s, s:o, s:I, s:I, s:n, s:n, s:n, s:n, s:b, s:b, s:b, s:o}",
			"number", "name", v->name, "device", jstr(v->dev),
			"start_bytes", (json_int_t)v->offset, "size_bytes", (json_int_t)v->size,
			"type", "type_name", "partuuid", "partlabel", "bootable", false,
			"container", false, "logical", false, "filesystem", fs_json(v)));
	}
	wv = find_vol(inv, VOL_DISK, (int)di, -1, -1, -1);
	if (wv >= 0) {
		json_decref(whole);
		whole = fs_json(&inv->vols.v[wv]);
	}
	o = json_pack("{s:s, s:s, s:I, s:o, s:o, s:o, s:i, s:b, s:o, s:I, s:I, s:o, s:o}",
		      "name", d->name, "path", d->path, "size_bytes", (json_int_t)d->size,
		      "table", jstr(ptable_name(pt)), "table_label", jstr(pt ? pt->label : NULL),
		      "id", jstr(pt ? pt->id : NULL), "sector_size", pt ? (int)pt->sector_size : 0,
		      "system", d->system, "error", jstr(d->error),
		      "required_bytes", (json_int_t)d->required,
		      "recommended_gib", (json_int_t)d->recommended_gib,
		      "partitions", parts, "filesystem", whole);
	return o;
}

static json_t *lvm_json(const struct rh_inventory *inv)
{
	json_t *vgs = json_array();

	for (size_t g = 0; g < inv->vgs.n; g++) {
		const struct inv_vg *ivg = &inv->vgs.v[g];
		const struct rh_lvm_vg *vg = ivg->vg;
		json_t *pvs = json_array(), *lvs = json_array();
		uint64_t ext = vg->extent_size * 512;

		for (size_t p = 0; p < vg->npvs; p++) {
			const struct rh_lvm_pv *pv = &vg->pvs[p];
			int vi = ivg->pv_vol[p];

			json_array_append_new(pvs, json_pack(
				"{s:s, s:o, s:o, s:o, s:I, s:b}", "name", pv->name,
				"uuid", jstr(pv->uuid), "device", jstr(pv->device),
				"volume", vi >= 0 ? json_string(inv->vols.v[vi].name) : json_null(),
				"size_bytes", (json_int_t)(pv->pe_count * ext),
				"found", vi >= 0 && !pv->missing));
		}
		for (size_t l = 0; l < vg->nlvs; l++) {
			const struct rh_lvm_lv *lv = &vg->lvs[l];
			int vi = find_vol(inv, VOL_LV, -1, -1, (int)g, (int)l);
			const char *pool = NULL;

			for (size_t s = 0; s < lv->nsegs; s++)
				if (lv->segs[s].pool[0])
					pool = lv->segs[s].pool;
			json_array_append_new(lvs, json_pack(
				"{s:s, s:o, s:s, s:I, s:b, s:o, s:o, s:o}", "name", lv->name,
				"uuid", jstr(lv->uuid), "type", segtype_name(lv->type),
				"size_bytes", (json_int_t)(lv->extents * ext), "visible", lv->visible,
				"pool", jstr(pool),
				"device", vi >= 0 ? jstr(inv->vols.v[vi].dev) : json_null(),
				"filesystem", vi >= 0 ? fs_json(&inv->vols.v[vi]) : json_null()));
		}
		json_array_append_new(vgs, json_pack(
			"{s:s, s:o, s:I, s:I, s:I, s:i, s:b, s:b, s:o, s:o}", "name", vg->name,
			"uuid", jstr(vg->uuid), "extent_size_bytes", (json_int_t)ext,
			"size_bytes", (json_int_t)ivg->size, "free_bytes", (json_int_t)ivg->free,
			"unknown_pvs", (int)ivg->unknown_pvs, "duplicate_name", ivg->duplicate_name,
			"thin_pool", ivg->has_thin_pool,
			"physical_volumes", pvs, "logical_volumes", lvs));
	}
	return json_pack("{s:o}", "volume_groups", vgs);
}

static json_t *virtio_json(const struct inv_boot *b)
{
	json_t *o = json_object();

	for (int i = 0; o && i < 6; i++) {
		const char *s = !b->initramfs_scanned ? NULL
				: b->virtio[i] == 'i' ? "initramfs"
				: b->virtio[i] == 'b' ? "builtin" : "missing";

		json_object_set_new(o, inv_virtio_modules[i], jstr(s));
	}
	return o;
}

static json_t *build_json(const struct rh_inventory *inv)
{
	const struct inv_os *os = &inv->os;
	const struct inv_boot *b = &inv->boot;
	json_t *disks = json_array(), *raid = json_array(), *swap = json_array();
	json_t *mounts = json_array(), *checks = json_array(), *rdisks = json_array();
	json_t *host, *boot, *root;

	for (size_t i = 0; i < inv->disks.n; i++) {
		const struct inv_disk *d = &inv->disks.v[i];

		json_array_append_new(disks, disk_json(inv, i));
		json_array_append_new(rdisks, json_pack("{s:s, s:I, s:I, s:b}", "name", d->name,
							"recommended_gib", (json_int_t)d->recommended_gib,
							"required_bytes", (json_int_t)d->required,
							"system", d->system));
	}
	for (size_t i = 0; i < inv->mds.n; i++) {
		const struct inv_md *m = &inv->mds.v[i];

		json_array_append_new(raid, json_pack(
			"{s:s, s:o, s:o, s:o, s:o, s:i, s:o, s:o}", "name", m->name,
			"uuid", jstr(m->uuid), "level", jstr(m->level), "state", jstr(m->state),
			"source", jstr(m->source), "raid_disks", (int)m->raid_disks,
			"members", jstrv(&m->members),
			"filesystem", m->vol >= 0 ? fs_json(&inv->vols.v[m->vol]) : json_null()));
	}
	for (size_t i = 0; i < inv->swaps.n; i++)
		json_array_append_new(swap, json_pack("{s:s, s:s, s:I, s:I}", "path",
						      inv->swaps.v[i].path, "type", inv->swaps.v[i].type,
						      "size_bytes", (json_int_t)inv->swaps.v[i].size,
						      "used_bytes", (json_int_t)inv->swaps.v[i].used));
	for (size_t i = 0; i < inv->mounts.n; i++) {
		const struct inv_mount *m = &inv->mounts.v[i];

		if (m->cls == MNT_PSEUDO && strcmp(m->target, "/") != 0 && strcmp(m->target, "/tmp") != 0)
			continue;
		json_array_append_new(mounts, json_pack(
			"{s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:o, s:o, s:o}", "source", m->source,
			"target", m->target, "fstype", m->fstype, "options", m->options,
			"class", mount_class_name(m->cls), "bind", m->bind, "repeated", m->repeated,
			"noexec", m->noexec,
			"volume", m->vol >= 0 ? json_string(inv->vols.v[m->vol].name) : json_null(),
			"size_bytes", m->stat_ok ? json_integer((json_int_t)m->size) : json_null(),
			"available_bytes", m->stat_ok ? json_integer((json_int_t)m->avail) : json_null()));
	}
	for (size_t i = 0; i < inv->checks.n; i++) {
		const struct rh_check_result *r = &inv->checks.v[i];

		json_array_append_new(checks, json_pack(
			"{s:s, s:s, s:s, s:o, s:o, s:s, s:o}", "id", r->id, "title", r->title,
			"status", check_status_name(r->status), "code", jstr(r->code),
			"subject", jstr(r->subject), "message", r->message, "hint", jstr(r->hint)));
	}
	host = json_pack(
		"{s:o, s:{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:b, s:o, s:o, s:b},"
		" s:{s:o, s:b}, s:o, s:i, s:I, s:I, s:s, s:{s:o, s:o, s:b}}",
		"hostname", jstr(inv->hostname),
		"os", "id", jstr(os->id), "name", jstr(os->name), "pretty_name", jstr(os->pretty),
		"version", jstr(os->version), "version_id", jstr(os->version_id),
		"variant", jstr(os->variant), "id_like", jstr(os->id_like),
		"source", jstr(os->source), "listed", os->listed, "family_listed", os->family_known,
		"uefi_supported", os->uefi < 0 ? json_null() : json_boolean(os->uefi),
		"note", jstr(os->note), "block_listed", os->block_listed,
		"kernel", "release", jstr(inv->kernel), "block_listed", inv->kernel_block_listed,
		"arch", jstr(inv->arch), "cpus", (int)inv->cpus,
		"memory_bytes", (json_int_t)inv->mem_total,
		"memory_available_bytes", (json_int_t)inv->mem_available,
		"firmware", inv->uefi ? "uefi" : "bios",
		"virtualization", "hypervisor", jstr(inv->hypervisor), "product",
		jstr(inv->virt_product), "paravirt", inv->paravirt);
	boot = json_pack(
		"{s:{s:o, s:o, s:o, s:o, s:o, s:o},"
		" s:{s:o, s:I, s:o, s:b, s:b, s:o, s:o}}",
		"grub", "version", jstr(b->grub), "i386_pc", jstr(b->i386_pc),
		"x86_64_efi", jstr(b->x86_64_efi), "config", jstr(b->grub_cfg),
		"install", jstr(b->grub_install), "cmdline_root", jstr(b->cmdline_root),
		"initramfs", "path", jstr(b->initramfs), "size_bytes", (json_int_t)b->initramfs_size,
		"format", jstr(b->initramfs_format), "scanned", b->initramfs_scanned,
		"complete", b->initramfs_complete, "error", jstr(b->initramfs_error),
		"virtio", virtio_json(b));
	root = json_pack(
		"{s:i, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o,"
		" s:{s:o, s:o, s:o, s:o, s:o, s:o}, s:{s:o, s:o, s:o}, s:o, s:o,"
		" s:{s:I, s:I, s:I, s:I, s:b},"
		" s:{s:s, s:b, s:o, s:i, s:I, s:o}}",
		"schema", RH_INVENTORY_SCHEMA, "rehost_version", REHOST_VERSION,
		"collected_at", inv->collected_at, "root", inv->root, "host", host,
		"disks", disks, "lvm", lvm_json(inv), "raid", raid, "swap", swap, "mounts", mounts,
		"network", "interface", jstr(inv->net.iface), "ipv4", jstr(inv->net.ip),
		"mac", jstr(inv->net.mac), "gateway", jstr(inv->net.gateway),
		"source", jstr(inv->net.source),
		"default_route_interfaces", jstrv(&inv->net.default_ifaces),
		"tools", "rsync", jstr(inv->tools.rsync), "ssh", jstr(inv->tools.ssh),
		"fdisk", jstr(inv->tools.fdisk),
		"boot", boot, "checks", checks,
		"summary", "errors", (json_int_t)rh_inventory_count(inv, RH_CHECK_ERROR),
		"warnings", (json_int_t)rh_inventory_count(inv, RH_CHECK_WARNING),
		"ok", (json_int_t)rh_inventory_count(inv, RH_CHECK_OK),
		"skipped", (json_int_t)rh_inventory_count(inv, RH_CHECK_SKIPPED),
		"migratable", rh_inventory_migratable(inv),
		"recommendation", "mode", rh_inventory_mode(inv), "block_eligible",
		inv->block_eligible, "reason", jstr(inv->mode_reason), "cpus", (int)inv->reco_cpus,
		"memory_gib", (json_int_t)inv->reco_mem_gib, "disks", rdisks);
	return root;
}

int rh_inventory_json(const struct rh_inventory *inv, bool pretty, char **out)
{
	json_t *j;

	*out = NULL;
	j = build_json(inv);
	if (j == NULL)
		return rh_seterr(RH_ERR_NOMEM, "cannot build the inventory JSON");
	*out = json_dumps(j, JSON_PRESERVE_ORDER | (pretty ? JSON_INDENT(2) : JSON_COMPACT));
	json_decref(j);
	return *out ? 0 : rh_seterr(RH_ERR_NOMEM, "cannot encode the inventory JSON");
}

/* ---- text report ---- */

static const char *sz(uint64_t bytes, char *buf, size_t len)
{
	return rh_format_size(bytes, buf, len);
}

/* Print text word-wrapped at width; the cursor is at column col, and
 * continuation lines are indented to indent. */
static void wrap(FILE *out, const char *text, int indent, int col, int width)
{
	bool first = true;

	for (const char *p = text; *p;) {
		size_t w = strcspn(p, " ");

		if (w == 0) {
			p++;
			continue;
		}
		if (!first) {
			if (col + 1 + (int)w > width) {
				fprintf(out, "\n%*s", indent, "");
				col = indent;
			} else {
				fputc(' ', out);
				col++;
			}
		}
		fwrite(p, 1, w, out);
		col += (int)w;
		p += w;
		first = false;
	}
	fputc('\n', out);
}

static void fs_line(FILE *out, const struct inv_vol *v, const char *label, int width)
{
	char b1[32], b2[32];
	const struct rh_fsinfo *fs = &v->fs;
	const char *type = !v->probed && !fs->type[0] ? "(not read)"
			   : fs->ambivalent ? "(several signatures)"
			   : fs->type[0] ? fs->type : "-";

	fprintf(out, "    %-*s %9s  %-12s", width, label, sz(v->size, b1, sizeof b1), type);
	if (fs->used_known && fs->usage == RH_FS_USAGE_FILESYSTEM)
		fprintf(out, " used %-10s", sz(fs->used, b2, sizeof b2));
	else
		fprintf(out, " %-15s", "");
	for (size_t i = 0; i < v->mountpoints.n; i++)
		fprintf(out, " %s", v->mountpoints.v[i]);
	if (v->mountpoints.n == 0)
		for (size_t i = 0; i < v->fstab.n; i++)
			fprintf(out, " %s(fstab)", v->fstab.v[i]);
	if (fs->label[0])
		fprintf(out, "  LABEL=%s", fs->label);
	fputc('\n', out);
}

static void report_disks(const struct rh_inventory *inv, FILE *out)
{
	char b1[32];

	if (!inv->explicit_disks)
		fprintf(out, "\nDisks");
	fputc('\n', out);
	if (inv->disks.n == 0)
		fprintf(out, "  (none)\n");
	for (size_t di = 0; di < inv->disks.n; di++) {
		const struct inv_disk *d = &inv->disks.v[di];
		const char *table = d->pt == NULL ? "unreadable"
				    : d->pt->type == RH_PTABLE_GPT ? "GPT"
				    : d->pt->type == RH_PTABLE_DOS ? "MBR"
				    : d->pt->type == RH_PTABLE_NONE ? "no partition table"
				    : d->pt->label;

		fprintf(out, "  %s  %s  %s%s\n", d->name, sz(d->size, b1, sizeof b1), table,
			d->system ? "  [system disk]" : "");
		if (d->error)
			fprintf(out, "    error: %s\n", d->error);
		for (size_t i = 0; i < inv->vols.n; i++) {
			const struct inv_vol *v = &inv->vols.v[i];
			char label[96];

			if (v->disk != (int)di)
				continue;
			if (v->kind == VOL_DISK) {
				snprintf(label, sizeof label, "(whole disk)");
			} else if (v->part < 0 || d->pt == NULL) {
				snprintf(label, sizeof label, "%s", v->name);
			} else {
				const struct rh_part *p = &d->pt->parts[v->part];

				snprintf(label, sizeof label, "%-3u %.22s", p->number,
					 p->type_name[0] ? p->type_name : p->type);
			}
			fs_line(out, v, label, 26);
		}
	}
	if (inv->vgs.n > 0) {
		fprintf(out, "\nLVM\n");
		for (size_t g = 0; g < inv->vgs.n; g++) {
			const struct inv_vg *ivg = &inv->vgs.v[g];
			char b2[32];

			fprintf(out, "  %s  %s, %s free, %zu PV%s%s%s\n", ivg->vg->name,
				sz(ivg->size, b1, sizeof b1), sz(ivg->free, b2, sizeof b2),
				ivg->vg->npvs, ivg->vg->npvs == 1 ? "" : "s",
				ivg->unknown_pvs ? " (PVs missing)" : "",
				ivg->duplicate_name ? " (duplicate name)" : "");
			for (size_t l = 0; l < ivg->vg->nlvs; l++) {
				const struct rh_lvm_lv *lv = &ivg->vg->lvs[l];
				int vi = find_vol(inv, VOL_LV, -1, -1, (int)g, (int)l);
				char label[96];

				if (!lv->visible)
					continue;
				snprintf(label, sizeof label, "%.40s %s", lv->name,
					 segtype_name(lv->type));
				if (vi >= 0)
					fs_line(out, &inv->vols.v[vi], label, 26);
				else
					fprintf(out, "    %-26s %9s\n", label,
						sz(lv->extents * ivg->vg->extent_size * 512, b1, sizeof b1));
			}
		}
	}
	if (inv->mds.n > 0) {
		fprintf(out, "\nRAID\n");
		for (size_t i = 0; i < inv->mds.n; i++) {
			const struct inv_md *m = &inv->mds.v[i];

			fprintf(out, "  %s  %s, %u devices, %s:", m->name, m->level ? m->level : "?",
				m->raid_disks, m->state ? m->state : "?");
			for (size_t k = 0; k < m->members.n; k++)
				fprintf(out, " %s", m->members.v[k]);
			fputc('\n', out);
			if (m->vol >= 0 && inv->vols.v[m->vol].probed)
				fs_line(out, &inv->vols.v[m->vol], "(array)", 26);
		}
	}
	if (inv->swaps.n > 0) {
		fprintf(out, "\nSwap (active)\n");
		for (size_t i = 0; i < inv->swaps.n; i++)
			fprintf(out, "  %s  %s  %s\n", inv->swaps.v[i].path, inv->swaps.v[i].type,
				sz(inv->swaps.v[i].size, b1, sizeof b1));
	}
}

static void report_mounts(const struct rh_inventory *inv, FILE *out)
{
	char b1[32], b2[32];

	fprintf(out, "\nMounts\n");
	for (size_t i = 0; i < inv->mounts.n; i++) {
		const struct inv_mount *m = &inv->mounts.v[i];

		if (m->cls == MNT_PSEUDO)
			continue;
		fprintf(out, "  %-24s %-8s %-24s", m->target, m->fstype, m->source);
		if (m->stat_ok)
			fprintf(out, " %s of %s available", sz(m->avail, b1, sizeof b1),
				sz(m->size, b2, sizeof b2));
		fprintf(out, "%s%s%s\n", m->cls != MNT_LOCAL ? " [" : "",
			m->cls != MNT_LOCAL ? mount_class_name(m->cls) : "",
			m->cls != MNT_LOCAL ? "]" : "");
	}
}

static void report_checks(const struct rh_inventory *inv, FILE *out)
{
	static const struct {
		enum rh_check_status st;
		const char *heading, *tag;
	} groups[] = {
		{ RH_CHECK_ERROR, "Errors (migration blocked)", "ERROR" },
		{ RH_CHECK_WARNING, "Warnings (acknowledge to continue)", "WARN " },
		{ RH_CHECK_OK, "OK", "ok   " },
	};

	fprintf(out, "\nPre-migration checks: %zu error%s, %zu warning%s, %zu OK\n",
		rh_inventory_count(inv, RH_CHECK_ERROR),
		rh_inventory_count(inv, RH_CHECK_ERROR) == 1 ? "" : "s",
		rh_inventory_count(inv, RH_CHECK_WARNING),
		rh_inventory_count(inv, RH_CHECK_WARNING) == 1 ? "" : "s",
		rh_inventory_count(inv, RH_CHECK_OK) + rh_inventory_count(inv, RH_CHECK_SKIPPED));
	for (size_t g = 0; g < 3; g++) {
		size_t n = rh_inventory_count(inv, groups[g].st);

		if (groups[g].st == RH_CHECK_OK)
			n += rh_inventory_count(inv, RH_CHECK_SKIPPED);
		if (n == 0)
			continue;
		fprintf(out, "\n%s:\n", groups[g].heading);
		for (size_t i = 0; i < inv->checks.n; i++) {
			const struct rh_check_result *r = &inv->checks.v[i];
			char head[160];
			int used;

			if (r->status != groups[g].st &&
			    !(groups[g].st == RH_CHECK_OK && r->status == RH_CHECK_SKIPPED))
				continue;
			if (r->status == RH_CHECK_OK || r->status == RH_CHECK_SKIPPED) {
				used = snprintf(head, sizeof head, "  %s %s: ",
						r->status == RH_CHECK_OK ? "ok " : "n/a", r->title);
				fputs(head, out);
				wrap(out, r->message, 8, used, 100);
				continue;
			}
			used = snprintf(head, sizeof head, "  %s %s%s%s", groups[g].tag,
					r->code ? "[" : "", r->code ? r->code : "", r->code ? "] " : "");
			fputs(head, out);
			wrap(out, r->message, 8, used, 100);
			if (r->hint) {
				char hint[2048];

				snprintf(hint, sizeof hint, "%s%s%s%s", r->hint,
					 r->code ? " (rehost errors " : "", r->code ? r->code : "",
					 r->code ? ")" : "");
				fprintf(out, "        hint: ");
				wrap(out, hint, 14, 14, 100);
			}
		}
	}
}

int rh_inventory_report(const struct rh_inventory *inv, FILE *out, bool verbose)
{
	const struct inv_os *os = &inv->os;
	const struct inv_boot *b = &inv->boot;
	char b1[32];
	size_t nerr = rh_inventory_count(inv, RH_CHECK_ERROR);

	fprintf(out, "rehost inspect: %s%s%s\n", inv->hostname ? inv->hostname : "(unknown host)",
		inv->host_root ? "" : ", root ", inv->host_root ? "" : inv->root);
	fprintf(out, "\nSystem%s\n", inv->explicit_disks ? (inv->host_root ? " (this machine)" : " (the root tree)") : "");
	fprintf(out, "  OS          %s", os->pretty ? os->pretty : os->id ? os->id : "unknown");
	if (os->id)
		fprintf(out, "  [%s%s%s%s]", os->id, os->version ? " " : "", os->version ? os->version : "",
			os->listed ? ", listed" : os->family_known ? ", version not listed"
							      : ", not supported");
	fputc('\n', out);
	fprintf(out, "  Kernel      %s (%s)\n", inv->kernel ? inv->kernel : "unknown",
		inv->arch ? inv->arch : "unknown architecture");
	fprintf(out, "  CPU, memory %u vCPU%s, %s\n", inv->cpus, inv->cpus == 1 ? "" : "s",
		sz(inv->mem_total, b1, sizeof b1));
	fprintf(out, "  Firmware    %s; %s%s%s\n", inv->uefi ? "UEFI" : "BIOS",
		inv->hypervisor == NULL ? "no hypervisor detected"
		: strcmp(inv->hypervisor, "unknown") == 0 ? "virtual machine (hypervisor not identified)"
		: inv->hypervisor,
		inv->hypervisor && strcmp(inv->hypervisor, "unknown") != 0 ? " guest" : "",
		inv->paravirt ? " (para-virtualised)" : "");
	fprintf(out, "  Network     ");
	if (inv->net.iface)
		fprintf(out, "%s %s %s%s%s\n", inv->net.iface, inv->net.ip ? inv->net.ip : "-",
			inv->net.mac ? inv->net.mac : "-", inv->net.gateway ? " via " : "",
			inv->net.gateway ? inv->net.gateway : "");
	else
		fprintf(out, "no default gateway\n");
	fprintf(out, "  Boot        %s%s%s%s", b->grub ? (strcmp(b->grub, "grub2") == 0 ? "GRUB 2" : "GRUB legacy") : "no GRUB found",
		b->grub_cfg ? " (" : "", b->grub_cfg ? b->grub_cfg : "", b->grub_cfg ? ")" : "");
	if (b->initramfs)
		fprintf(out, "; %s%s%s%s\n", b->initramfs, b->initramfs_format ? " (" : "",
			b->initramfs_format ? b->initramfs_format : "", b->initramfs_format ? ")" : "");
	else
		fprintf(out, "; no initramfs for the running kernel\n");
	fprintf(out, "  Tools       rsync %s, ssh %s\n", inv->tools.rsync ? "yes" : "MISSING",
		inv->tools.ssh ? "yes" : "MISSING");

	if (inv->explicit_disks)
		fprintf(out, "\nDisks (given with --disk)");
	report_disks(inv, out);
	if (verbose)
		report_mounts(inv, out);
	report_checks(inv, out);

	fprintf(out, "\nRecommendation\n");
	fprintf(out, "  Mode        %s-level migration (%s)\n", rh_inventory_mode(inv),
		inv->mode_reason ? inv->mode_reason : "");
	fprintf(out, "  Target      %u vCPU%s, %llu GiB memory\n", inv->reco_cpus,
		inv->reco_cpus == 1 ? "" : "s", (unsigned long long)inv->reco_mem_gib);
	for (size_t i = 0; i < inv->disks.n; i++) {
		const struct inv_disk *d = &inv->disks.v[i];

		if (d->recommended_gib == 0)
			continue;
		fprintf(out, "  %-11s %s: %llu GiB%s%s\n", i == 0 ? "Disks" : "", d->name,
			(unsigned long long)d->recommended_gib,
			d->pt && d->pt->type == RH_PTABLE_GPT ? " (GPT: +1 GiB)" : "",
			d->system ? ", system disk" : "");
	}
	if (nerr > 0)
		fprintf(out, "\nResult: migration BLOCKED by %zu error%s.\n", nerr, nerr == 1 ? "" : "s");
	else if (rh_inventory_count(inv, RH_CHECK_WARNING) > 0)
		fprintf(out, "\nResult: migration possible after acknowledging %zu warning%s.\n",
			rh_inventory_count(inv, RH_CHECK_WARNING),
			rh_inventory_count(inv, RH_CHECK_WARNING) == 1 ? "" : "s");
	else
		fprintf(out, "\nResult: migration possible.\n");
	return ferror(out) ? rh_seterr(RH_ERR_IO, "cannot write the report") : 0;
}
