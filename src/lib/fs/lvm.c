/*
 * LVM2 on-disk format, read without the LVM tools or device-mapper:
 *
 *  - the label ("LABELONE", type "LVM2 001") in one of the first four
 *    512-byte sectors, followed by the PV header (PV UUID, device size,
 *    data and metadata area lists);
 *  - the metadata area header (magic " LVM2 x[5A%r0N*>") whose first
 *    raw location points at the current VG metadata text, possibly
 *    wrapping around the circular buffer;
 *  - the metadata text itself: `key = value`, `name { ... }`, arrays
 *    `[ "pv0", 0 ]`, strings with backslash escapes, # comments.
 */
#define RH_LOG_COMPONENT "disk"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs-internal.h"
#include "rehost/checked.h"
#include "rehost/disk.h"
#include "rehost/endian.h"
#include "rehost/err.h"
#include "rehost/num.h"

#define SECTOR 512u
#define MDA_HEADER_SIZE 512u
#define MAX_DEPTH 16
#define MAX_NODES 500000u

static const char mda_magic[16] = " LVM2 x[5A%r0N*>";

/* ---- label and metadata area ---- */

static void format_uuid(const uint8_t raw[32], char out[40])
{
	/* LVM prints PV/VG UUIDs as 6-4-4-4-4-4-6 characters. */
	static const int groups[] = { 6, 4, 4, 4, 4, 4, 6 };
	size_t o = 0, i = 0;

	for (size_t g = 0; g < RH_ARRAY_SIZE(groups); g++) {
		if (g > 0)
			out[o++] = '-';
		for (int k = 0; k < groups[g]; k++) {
			char c = (char)raw[i++];

			out[o++] = isprint((unsigned char)c) ? c : '?';
		}
	}
	out[o] = '\0';
}

void rh_lvm_pvlabel_release(struct rh_lvm_pvlabel *pv)
{
	if (pv == NULL)
		return;
	free(pv->meta);
	pv->meta = NULL;
	pv->meta_len = 0;
}

static int read_metadata(int fd, uint64_t base, uint64_t range, uint64_t mda_off,
			 uint64_t mda_size, struct rh_lvm_pvlabel *out)
{
	uint8_t hdr[MDA_HEADER_SIZE];
	uint64_t loc_off, loc_size, first;
	char *text = NULL;
	int rc;

	if (mda_size < 2 * MDA_HEADER_SIZE || !rh_range_ok(mda_off, mda_size, range))
		return rh_seterr(RH_ERR_CORRUPT, "LVM metadata area %llu+%llu outside the PV",
				 (unsigned long long)mda_off, (unsigned long long)mda_size);
	rc = fs_pread_in(fd, base, range, hdr, sizeof hdr, mda_off);
	if (rc < 0)
		return rc;
	if (memcmp(hdr + 4, mda_magic, sizeof mda_magic) != 0 || rh_le32dec(hdr + 20) != 1)
		return rh_seterr(RH_ERR_CORRUPT, "LVM metadata area header: bad magic or version");
	if (rh_le64dec(hdr + 24) != mda_off)
		return rh_seterr(RH_ERR_CORRUPT, "LVM metadata area header: start mismatch");
	loc_off = rh_le64dec(hdr + 40);
	loc_size = rh_le64dec(hdr + 48);
	if (loc_off == 0 || loc_size == 0)
		return 0; /* PV not (yet) in a VG: no metadata */
	if (loc_size > RH_LVM_MAX_META)
		return rh_seterr(RH_ERR_TOOBIG, "LVM metadata of %llu bytes (limit %u)",
				 (unsigned long long)loc_size, RH_LVM_MAX_META);
	if (loc_off < MDA_HEADER_SIZE || loc_off >= mda_size ||
	    loc_size > mda_size - MDA_HEADER_SIZE)
		return rh_seterr(RH_ERR_CORRUPT, "LVM metadata location %llu+%llu invalid",
				 (unsigned long long)loc_off, (unsigned long long)loc_size);
	text = malloc(loc_size + 1);
	if (text == NULL)
		return RH_ERR_NOMEM;
	/* The text may wrap from the end of the area to just after the header. */
	first = RH_MIN(loc_size, mda_size - loc_off);
	rc = fs_pread_in(fd, base, range, text, first, mda_off + loc_off);
	if (rc == 0 && first < loc_size)
		rc = fs_pread_in(fd, base, range, text + first, loc_size - first,
				 mda_off + MDA_HEADER_SIZE);
	if (rc < 0) {
		free(text);
		return rc;
	}
	text[loc_size] = '\0';
	out->meta = text;
	out->meta_len = strnlen(text, loc_size);
	return 0;
}

int rh_lvm_read_label(int fd, uint64_t offset, uint64_t size, struct rh_lvm_pvlabel *out)
{
	uint8_t sec[SECTOR];
	int rc;

	memset(out, 0, sizeof *out);
	for (uint64_t s = 0; s < 4; s++) {
		uint32_t hoff;
		const uint8_t *ph, *end;
		uint64_t mda_off = 0, mda_size = 0;

		rc = fs_pread_in(fd, offset, size, sec, sizeof sec, s * SECTOR);
		if (rc < 0)
			return rc;
		if (memcmp(sec, "LABELONE", 8) != 0 || memcmp(sec + 24, "LVM2 001", 8) != 0)
			continue;
		if (rh_le64dec(sec + 8) != s)
			return rh_seterr(RH_ERR_CORRUPT, "LVM label in sector %llu claims sector %llu",
					 (unsigned long long)s, (unsigned long long)rh_le64dec(sec + 8));
		hoff = rh_le32dec(sec + 20);
		if (hoff < 32 || hoff > SECTOR - 32 - 40 - 16)
			return rh_seterr(RH_ERR_CORRUPT, "LVM label: PV header offset %u", hoff);
		ph = sec + hoff;
		end = sec + SECTOR;
		format_uuid(ph, out->uuid);
		out->dev_size = rh_le64dec(ph + 32);
		ph += 40;
		/* Data areas, then metadata areas; each list ends with a zero entry. */
		for (int list = 0; list < 2; list++) {
			for (;;) {
				uint64_t o, l;

				if (ph + 16 > end)
					return rh_seterr(RH_ERR_CORRUPT, "LVM PV header: unterminated area list");
				o = rh_le64dec(ph);
				l = rh_le64dec(ph + 8);
				ph += 16;
				if (o == 0)
					break;
				if (list == 1 && mda_off == 0) {
					mda_off = o;
					mda_size = l;
				}
			}
		}
		if (mda_off == 0)
			return 0; /* metadata kept on other PVs only */
		return read_metadata(fd, offset, size, mda_off, mda_size, out);
	}
	return RH_ERR_NOTFOUND;
}

/* ---- metadata text parser ---- */

enum node_type { N_SECTION, N_STRING, N_NUMBER, N_ARRAY };

struct node {
	enum node_type type;
	const char *key;     /* NULL for array items */
	const char *str;     /* N_STRING */
	int64_t num;         /* N_NUMBER */
	struct node *child;  /* N_SECTION, N_ARRAY */
	struct node *next;
	unsigned line;
};

struct parser {
	const char *p, *end;
	unsigned line;
	char *strs;          /* token text store, sized to the input */
	size_t strs_used, strs_cap;
	struct node *nodes;
	size_t nnodes, nodes_cap;
};

enum tok { T_EOF, T_IDENT, T_STRING, T_NUMBER, T_PUNCT, T_ERROR };

struct token {
	enum tok type;
	char punct;
	const char *text; /* T_IDENT, T_STRING, T_NUMBER: in the store */
	unsigned line;
};

static int perr(struct parser *ps, const char *what)
{
	return rh_seterr(RH_ERR_PARSE, "LVM metadata line %u: %s", ps->line, what);
}

static bool ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '+' || c == '-';
}

static int next_token(struct parser *ps, struct token *t)
{
	memset(t, 0, sizeof *t);
	for (;;) {
		while (ps->p < ps->end && isspace((unsigned char)*ps->p)) {
			if (*ps->p == '\n')
				ps->line++;
			ps->p++;
		}
		if (ps->p < ps->end && *ps->p == '#') {
			while (ps->p < ps->end && *ps->p != '\n')
				ps->p++;
			continue;
		}
		break;
	}
	t->line = ps->line;
	if (ps->p >= ps->end || *ps->p == '\0') {
		t->type = T_EOF;
		return 0;
	}
	if (strchr("={}[],", *ps->p) != NULL) {
		t->type = T_PUNCT;
		t->punct = *ps->p++;
		return 0;
	}
	if (*ps->p == '"') {
		char *dst = ps->strs + ps->strs_used;

		ps->p++;
		t->type = T_STRING;
		t->text = dst;
		while (ps->p < ps->end && *ps->p != '"') {
			char c = *ps->p++;

			if (c == '\\' && ps->p < ps->end)
				c = *ps->p++;
			if (c == '\n')
				ps->line++;
			if (c == '\0')
				return perr(ps, "NUL byte in a string");
			*dst++ = c;
		}
		if (ps->p >= ps->end)
			return perr(ps, "unterminated string");
		ps->p++;
		*dst++ = '\0';
		ps->strs_used = (size_t)(dst - ps->strs);
		return 0;
	}
	if (ident_char(*ps->p)) {
		char *dst = ps->strs + ps->strs_used;
		bool numeric = true;
		const char *s = ps->p;

		while (ps->p < ps->end && ident_char(*ps->p)) {
			if (!isdigit((unsigned char)*ps->p) && !(ps->p == s && *ps->p == '-'))
				numeric = false;
			*dst++ = *ps->p++;
		}
		*dst++ = '\0';
		t->text = ps->strs + ps->strs_used;
		ps->strs_used = (size_t)(dst - ps->strs);
		t->type = numeric && strcmp(t->text, "-") != 0 ? T_NUMBER : T_IDENT;
		return 0;
	}
	return perr(ps, "unexpected character");
}

static struct node *new_node(struct parser *ps, enum node_type type, const char *key,
			     unsigned line)
{
	struct node *n;

	if (ps->nnodes >= ps->nodes_cap)
		return NULL;
	n = &ps->nodes[ps->nnodes++];
	memset(n, 0, sizeof *n);
	n->type = type;
	n->key = key;
	n->line = line;
	return n;
}

static int parse_scalar(struct parser *ps, const struct token *t, const char *key,
			struct node **out)
{
	struct node *n;

	if (t->type == T_STRING) {
		n = new_node(ps, N_STRING, key, t->line);
		if (n == NULL)
			return rh_seterr(RH_ERR_TOOBIG, "LVM metadata: more than %u nodes", MAX_NODES);
		n->str = t->text;
	} else if (t->type == T_NUMBER) {
		n = new_node(ps, N_NUMBER, key, t->line);
		if (n == NULL)
			return rh_seterr(RH_ERR_TOOBIG, "LVM metadata: more than %u nodes", MAX_NODES);
		if (rh_parse_i64(t->text, INT64_MIN, INT64_MAX, &n->num) < 0)
			return perr(ps, "number out of range");
	} else {
		return perr(ps, "expected a string or a number");
	}
	*out = n;
	return 0;
}

static int parse_items(struct parser *ps, struct node *parent, int depth, bool top);

static int parse_value(struct parser *ps, const char *key, struct node **out)
{
	struct token t;
	int rc;

	rc = next_token(ps, &t);
	if (rc < 0)
		return rc;
	if (t.type == T_PUNCT && t.punct == '[') {
		struct node *arr = new_node(ps, N_ARRAY, key, t.line), **tail;

		if (arr == NULL)
			return rh_seterr(RH_ERR_TOOBIG, "LVM metadata: more than %u nodes", MAX_NODES);
		tail = &arr->child;
		for (;;) {
			struct node *item;

			rc = next_token(ps, &t);
			if (rc < 0)
				return rc;
			if (t.type == T_PUNCT && t.punct == ']')
				break;
			rc = parse_scalar(ps, &t, NULL, &item);
			if (rc < 0)
				return rc;
			*tail = item;
			tail = &item->next;
			rc = next_token(ps, &t);
			if (rc < 0)
				return rc;
			if (t.type == T_PUNCT && t.punct == ']')
				break;
			if (!(t.type == T_PUNCT && t.punct == ','))
				return perr(ps, "expected ',' or ']' in an array");
		}
		*out = arr;
		return 0;
	}
	return parse_scalar(ps, &t, key, out);
}

static int parse_items(struct parser *ps, struct node *parent, int depth, bool top)
{
	struct node **tail = &parent->child;
	struct token t;
	int rc;

	if (depth > MAX_DEPTH)
		return perr(ps, "sections nested too deeply");
	for (;;) {
		struct node *n;
		const char *key;

		rc = next_token(ps, &t);
		if (rc < 0)
			return rc;
		if (t.type == T_EOF) {
			if (!top)
				return perr(ps, "missing '}'");
			return 0;
		}
		if (t.type == T_PUNCT && t.punct == '}') {
			if (top)
				return perr(ps, "unexpected '}'");
			return 0;
		}
		if (t.type != T_IDENT && t.type != T_NUMBER && t.type != T_STRING)
			return perr(ps, "expected a name");
		key = t.text;
		rc = next_token(ps, &t);
		if (rc < 0)
			return rc;
		if (t.type == T_PUNCT && t.punct == '{') {
			n = new_node(ps, N_SECTION, key, t.line);
			if (n == NULL)
				return rh_seterr(RH_ERR_TOOBIG, "LVM metadata: more than %u nodes",
						 MAX_NODES);
			rc = parse_items(ps, n, depth + 1, false);
			if (rc < 0)
				return rc;
		} else if (t.type == T_PUNCT && t.punct == '=') {
			rc = parse_value(ps, key, &n);
			if (rc < 0)
				return rc;
		} else {
			return perr(ps, "expected '=' or '{'");
		}
		*tail = n;
		tail = &n->next;
	}
}

static const struct node *child(const struct node *sec, const char *key, enum node_type type)
{
	if (sec == NULL)
		return NULL;
	for (const struct node *n = sec->child; n != NULL; n = n->next)
		if (n->key != NULL && n->type == type && strcmp(n->key, key) == 0)
			return n;
	return NULL;
}

static const char *child_str(const struct node *sec, const char *key)
{
	const struct node *n = child(sec, key, N_STRING);

	return n ? n->str : NULL;
}

static bool child_u64(const struct node *sec, const char *key, uint64_t *v)
{
	const struct node *n = child(sec, key, N_NUMBER);

	*v = 0;
	if (n == NULL || n->num < 0)
		return false;
	*v = (uint64_t)n->num;
	return true;
}

/* Whether the string array `key` of sec holds word. */
static bool has_flag(const struct node *sec, const char *key, const char *word)
{
	const struct node *arr = child(sec, key, N_ARRAY);

	if (arr == NULL)
		return false;
	for (const struct node *n = arr->child; n != NULL; n = n->next)
		if (n->type == N_STRING && strcmp(n->str, word) == 0)
			return true;
	return false;
}

static void copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

void rh_lvm_vg_free(struct rh_lvm_vg *vg)
{
	if (vg == NULL)
		return;
	for (size_t i = 0; i < vg->nlvs; i++)
		free(vg->lvs[i].segs);
	free(vg->lvs);
	free(vg->pvs);
	free(vg);
}

static size_t count_sections(const struct node *sec)
{
	size_t n = 0;

	if (sec != NULL)
		for (const struct node *c = sec->child; c != NULL; c = c->next)
			if (c->type == N_SECTION)
				n++;
	return n;
}

static enum rh_lvm_segtype seg_type(const char *t, uint64_t stripes)
{
	if (strcmp(t, "striped") == 0)
		return stripes > 1 ? RH_LVM_SEG_STRIPED : RH_LVM_SEG_LINEAR;
	if (strcmp(t, "thin-pool") == 0)
		return RH_LVM_SEG_THIN_POOL;
	if (strcmp(t, "thin") == 0)
		return RH_LVM_SEG_THIN;
	if (strcmp(t, "mirror") == 0 || strncmp(t, "raid", 4) == 0)
		return RH_LVM_SEG_MIRROR;
	if (strcmp(t, "snapshot") == 0)
		return RH_LVM_SEG_SNAPSHOT;
	if (strncmp(t, "cache", 5) == 0 || strcmp(t, "writecache") == 0 ||
	    strncmp(t, "vdo", 3) == 0)
		return RH_LVM_SEG_CACHE;
	return RH_LVM_SEG_OTHER;
}

static int read_lv(const struct node *sec, struct rh_lvm_vg *vg, struct rh_lvm_lv *lv)
{
	size_t nsegs = 0;

	copy(lv->name, sizeof lv->name, sec->key);
	copy(lv->uuid, sizeof lv->uuid, child_str(sec, "id"));
	lv->visible = has_flag(sec, "status", "VISIBLE");
	for (const struct node *c = sec->child; c != NULL; c = c->next)
		if (c->type == N_SECTION && strncmp(c->key, "segment", 7) == 0)
			nsegs++;
	if (nsegs > RH_LVM_MAX_SEGS)
		return rh_seterr(RH_ERR_TOOBIG, "LVM metadata: LV %s has %zu segments (limit %u)",
				 lv->name, nsegs, RH_LVM_MAX_SEGS);
	lv->segs = calloc(nsegs ? nsegs : 1, sizeof *lv->segs);
	if (lv->segs == NULL)
		return RH_ERR_NOMEM;
	for (const struct node *c = sec->child; c != NULL; c = c->next) {
		struct rh_lvm_seg *s;
		const struct node *stripes;
		const char *type;
		uint64_t nstripes = 1;

		if (c->type != N_SECTION || strncmp(c->key, "segment", 7) != 0)
			continue;
		s = &lv->segs[lv->nsegs++];
		s->pv = -1;
		if (!child_u64(c, "start_extent", &s->start_extent) ||
		    !child_u64(c, "extent_count", &s->extent_count))
			return rh_seterr(RH_ERR_PARSE,
					 "LVM metadata line %u: LV %s segment without extents",
					 c->line, lv->name);
		type = child_str(c, "type");
		if (type == NULL)
			return rh_seterr(RH_ERR_PARSE, "LVM metadata line %u: segment without type",
					 c->line);
		child_u64(c, "stripe_count", &nstripes);
		copy(s->type_name, sizeof s->type_name, type);
		s->type = seg_type(type, nstripes);
		copy(s->pool, sizeof s->pool, child_str(c, "thin_pool"));
		stripes = child(c, "stripes", N_ARRAY);
		if (stripes != NULL && stripes->child != NULL && stripes->child->type == N_STRING &&
		    stripes->child->next != NULL && stripes->child->next->type == N_NUMBER &&
		    stripes->child->next->num >= 0) {
			for (size_t i = 0; i < vg->npvs; i++) {
				if (strcmp(vg->pvs[i].name, stripes->child->str) == 0) {
					s->pv = (int)i;
					break;
				}
			}
			s->pv_start = (uint64_t)stripes->child->next->num;
		}
		if (RH_ADD_OVERFLOW(lv->extents, s->extent_count, &lv->extents))
			return rh_seterr(RH_ERR_PARSE, "LVM metadata: LV %s size overflows", lv->name);
	}
	if (lv->nsegs > 0)
		lv->type = lv->segs[0].type;
	return 0;
}

static int build_vg(const struct node *root, struct rh_lvm_vg **out)
{
	const struct node *vgn = NULL, *pvs, *lvs;
	struct rh_lvm_vg *vg;
	size_t npv, nlv;
	int rc;

	for (const struct node *n = root->child; n != NULL; n = n->next)
		if (n->type == N_SECTION) {
			vgn = n;
			break;
		}
	if (vgn == NULL)
		return rh_seterr(RH_ERR_PARSE, "LVM metadata: no volume group section");
	pvs = child(vgn, "physical_volumes", N_SECTION);
	lvs = child(vgn, "logical_volumes", N_SECTION);
	npv = count_sections(pvs);
	nlv = count_sections(lvs);
	if (npv > RH_LVM_MAX_PVS || nlv > RH_LVM_MAX_LVS)
		return rh_seterr(RH_ERR_TOOBIG, "LVM metadata: %zu PVs, %zu LVs (limits %u, %u)",
				 npv, nlv, RH_LVM_MAX_PVS, RH_LVM_MAX_LVS);
	vg = calloc(1, sizeof *vg);
	if (vg == NULL)
		return RH_ERR_NOMEM;
	vg->pvs = calloc(npv ? npv : 1, sizeof *vg->pvs);
	vg->lvs = calloc(nlv ? nlv : 1, sizeof *vg->lvs);
	if (vg->pvs == NULL || vg->lvs == NULL) {
		rc = RH_ERR_NOMEM;
		goto fail;
	}
	copy(vg->name, sizeof vg->name, vgn->key);
	copy(vg->uuid, sizeof vg->uuid, child_str(vgn, "id"));
	child_u64(vgn, "seqno", &vg->seqno);
	if (!child_u64(vgn, "extent_size", &vg->extent_size) || vg->extent_size == 0) {
		rc = rh_seterr(RH_ERR_PARSE, "LVM metadata: VG %s without extent_size", vg->name);
		goto fail;
	}
	for (const struct node *c = pvs ? pvs->child : NULL; c != NULL; c = c->next) {
		struct rh_lvm_pv *pv;

		if (c->type != N_SECTION)
			continue;
		pv = &vg->pvs[vg->npvs++];
		copy(pv->name, sizeof pv->name, c->key);
		copy(pv->uuid, sizeof pv->uuid, child_str(c, "id"));
		copy(pv->device, sizeof pv->device, child_str(c, "device"));
		child_u64(c, "dev_size", &pv->dev_size);
		child_u64(c, "pe_start", &pv->pe_start);
		child_u64(c, "pe_count", &pv->pe_count);
		pv->missing = has_flag(c, "flags", "MISSING") || has_flag(c, "status", "MISSING");
	}
	for (const struct node *c = lvs ? lvs->child : NULL; c != NULL; c = c->next) {
		if (c->type != N_SECTION)
			continue;
		rc = read_lv(c, vg, &vg->lvs[vg->nlvs++]);
		if (rc < 0)
			goto fail;
	}
	*out = vg;
	return 0;
fail:
	rh_lvm_vg_free(vg);
	return rc;
}

int rh_lvm_parse_vg(const char *text, size_t len, struct rh_lvm_vg **out)
{
	struct parser ps = { 0 };
	struct node root = { 0 };
	int rc;

	*out = NULL;
	if (len > RH_LVM_MAX_META)
		return rh_seterr(RH_ERR_TOOBIG, "LVM metadata of %zu bytes (limit %u)", len,
				 RH_LVM_MAX_META);
	ps.p = text;
	ps.end = text + len;
	ps.line = 1;
	ps.strs_cap = len + 1;
	ps.strs = malloc(ps.strs_cap);
	/* Every node needs at least one input byte, so len bounds the count too. */
	ps.nodes_cap = RH_MIN((size_t)MAX_NODES, len + 1);
	ps.nodes = calloc(ps.nodes_cap, sizeof *ps.nodes);
	if (ps.strs == NULL || ps.nodes == NULL) {
		rc = RH_ERR_NOMEM;
		goto out;
	}
	root.type = N_SECTION;
	rc = parse_items(&ps, &root, 0, true);
	if (rc < 0)
		goto out;
	rc = build_vg(&root, out);
out:
	free(ps.strs);
	free(ps.nodes);
	return rc;
}

bool rh_lvm_extent_offset(const struct rh_lvm_vg *vg, const struct rh_lvm_pv *pv,
			  uint64_t extent, uint64_t *bytes)
{
	uint64_t sectors;

	*bytes = 0;
	if (RH_MUL_OVERFLOW(extent, vg->extent_size, &sectors) ||
	    RH_ADD_OVERFLOW(sectors, pv->pe_start, &sectors) ||
	    RH_MUL_OVERFLOW(sectors, (uint64_t)512, bytes))
		return false;
	return true;
}

bool rh_lvm_uuid_eq(const char *a, const char *b)
{
	for (;;) {
		while (*a == '-')
			a++;
		while (*b == '-')
			b++;
		if (*a != *b)
			return false;
		if (*a == '\0')
			return true;
		a++;
		b++;
	}
}
