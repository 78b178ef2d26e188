/*
 * /etc/fstab for the target (INVENTORY §5.4 "fstab", §G item 74): mount the
 * migrated filesystems by UUID, comment out what the operator asked to
 * ignore, and make lines for disks that were not migrated "nofail" so that
 * systemd does not drop to emergency mode waiting for them. Every changed
 * line stays in the file above its replacement as "# rehost: <old line>".
 *
 * The editor is a pure function over text (fuzzed by fuzz/fuzz-fstab.c):
 * lines it does not understand (too long, NUL bytes, fewer than three or
 * more than six fields) are copied unchanged.
 */
#define RH_LOG_COMPONENT "postconf"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postconf/internal.h"
#include "rehost/checked.h"
#include "rehost/err.h"
#include "rehost/log.h"

#define FSTAB_MAX_LINE 4096u
#define FSTAB_GROWTH 128u      /* "UUID=" + 64, a type of 32, ",nofail"... */
#define FSTAB_MAX_MAP 256u
#define COMMENT_PREFIX "# rehost: "

/* Filesystems reached over the network: the target reaches them as the
 * source did, so they stay as they are. */
static const char *const network_types[] = {
	"nfs", "nfs4", "nfs3", "cifs", "smbfs", "smb3", "glusterfs", "fuse.glusterfs",
	"ceph", "fuse.ceph", "cephfs", "sshfs", "fuse.sshfs", "davfs", "9p", "virtiofs",
	"lustre", "afs", "beegfs", "fuse.s3fs", "fuse.rclone", NULL,
};

struct field {
	size_t off, len;        /* in the line */
};

struct ent {
	struct field f[6];
	int nf;
	size_t len;                     /* of the line */
	char spec[FSTAB_MAX_LINE + 1];  /* normalised (see norm_spec) */
	char mp[FSTAB_MAX_LINE + 1];    /* unescaped, no trailing '/' */
	char type[FSTAB_MAX_LINE + 1];
	char opts[FSTAB_MAX_LINE + 1];  /* "defaults" when absent */
};

/* UUID="X" / uuid=X -> UUID=x (tags are case-insensitive in libblkid, UUID
 * values compare case-insensitively); other specs as they are. */
static void norm_spec(const char *s, size_t n, char *out, size_t outlen)
{
	static const char *const tags[] = { "UUID=", "LABEL=", "PARTUUID=", "PARTLABEL=" };
	size_t o = 0;

	for (size_t t = 0; t < RH_ARRAY_SIZE(tags); t++) {
		size_t tl = strlen(tags[t]);

		if (n > tl && strncasecmp(s, tags[t], tl) == 0) {
			bool lower = t == 0 || t == 2;

			memcpy(out, tags[t], tl);
			o = tl;
			s += tl;
			n -= tl;
			if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0]) {
				s++;
				n -= 2;
			}
			for (size_t i = 0; i < n && o + 1 < outlen; i++)
				out[o++] = lower ? (char)tolower((unsigned char)s[i]) : s[i];
			out[o] = '\0';
			return;
		}
	}
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

/* fstab octal escapes (\040 space, \011 tab, \012 newline, \134 backslash). */
static void unescape(const char *s, size_t n, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < outlen; i++) {
		if (s[i] == '\\' && i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' && s[i + 2] <= '7' &&
		    s[i + 3] >= '0' && s[i + 3] <= '7') {
			char c = (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));

			out[o++] = c == '\0' ? '?' : c;
			i += 3;
		} else {
			out[o++] = s[i];
		}
	}
	while (o > 1 && out[o - 1] == '/')
		o--;
	out[o] = '\0';
}

static bool parse(const char *line, size_t len, struct ent *e)
{
	size_t i = 0;

	if (len > FSTAB_MAX_LINE || memchr(line, '\0', len) != NULL)
		return false;
	e->len = len;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	e->nf = 0;
	for (;;) {
		size_t start;

		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == len)
			break;
		if (e->nf == 6)
			return false;
		start = i;
		while (i < len && line[i] != ' ' && line[i] != '\t')
			i++;
		e->f[e->nf].off = start;
		e->f[e->nf].len = i - start;
		e->nf++;
	}
	if (e->nf < 3)
		return false;
	norm_spec(line + e->f[0].off, e->f[0].len, e->spec, sizeof e->spec);
	unescape(line + e->f[1].off, e->f[1].len, e->mp, sizeof e->mp);
	memcpy(e->type, line + e->f[2].off, e->f[2].len);
	e->type[e->f[2].len] = '\0';
	if (e->nf >= 4) {
		memcpy(e->opts, line + e->f[3].off, e->f[3].len);
		e->opts[e->f[3].len] = '\0';
	} else {
		strcpy(e->opts, "defaults");
	}
	return true;
}

/* Whether the comma-separated options hold opt. */
static bool has_opt(const char *opts, const char *opt)
{
	size_t n = strlen(opt);

	for (const char *p = opts; *p;) {
		size_t l = strcspn(p, ",");

		if (l == n && strncmp(p, opt, n) == 0)
			return true;
		p += l;
		if (*p == ',')
			p++;
	}
	return false;
}

static bool in_cfg_list(const char *w, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char norm[FSTAB_MAX_LINE + 1];

		/* Config paths may carry a trailing slash too. */
		unescape(list[i], strlen(list[i]), norm, sizeof norm);
		if (strcmp(norm, w) == 0)
			return true;
	}
	return false;
}

static bool is_swap(const struct ent *e)
{
	return strcmp(e->type, "swap") == 0;
}

/* The line names a local block device that should be there at boot. */
static bool local_block(const struct ent *e)
{
	if (pc_in_list(e->type, strlen(e->type), network_types) || has_opt(e->opts, "bind") ||
	    has_opt(e->opts, "rbind") || has_opt(e->opts, "noauto"))
		return false;
	return strncmp(e->spec, "UUID=", 5) == 0 || strncmp(e->spec, "LABEL=", 6) == 0 ||
	       strncmp(e->spec, "PARTUUID=", 9) == 0 || strncmp(e->spec, "PARTLABEL=", 10) == 0 ||
	       strncmp(e->spec, "/dev/", 5) == 0;
}

struct spec_map {
	char *spec;
	size_t fs;
};

struct editor {
	const struct pc_fstab_opts *o;
	char (*uuid_spec)[80];        /* per fs: "UUID=<lower uuid>" */
	char (*dev_spec)[512];        /* per fs: normalised device, or "" */
	size_t nswapfs, nswaplines;
	struct spec_map map[FSTAB_MAX_MAP];
	size_t nmap;
};

/* fs entry a line belongs to by mount point or (swap) by name, or -1. */
static long match_fs(const struct editor *ed, const struct ent *e)
{
	const struct pc_fstab_opts *o = ed->o;

	for (size_t i = 0; i < o->nfs; i++) {
		bool swapfs = strcmp(o->fs[i].mountpoint, "swap") == 0;

		if (is_swap(e) != swapfs)
			continue;
		if (!swapfs) {
			char mp[FSTAB_MAX_LINE + 1];

			unescape(o->fs[i].mountpoint, strlen(o->fs[i].mountpoint), mp, sizeof mp);
			if (strcmp(mp, e->mp) == 0)
				return (long)i;
		} else if (strcmp(e->spec, ed->uuid_spec[i]) == 0 ||
			   (ed->dev_spec[i][0] && strcmp(e->spec, ed->dev_spec[i]) == 0)) {
			return (long)i;
		}
	}
	/* One swap area on each side: they are the same one. */
	if (is_swap(e) && ed->nswapfs == 1 && ed->nswaplines == 1 && local_block(e))
		for (size_t i = 0; i < o->nfs; i++)
			if (strcmp(o->fs[i].mountpoint, "swap") == 0)
				return (long)i;
	return -1;
}

/* The line's spec names a filesystem that exists on the target. */
static bool spec_exists(const struct editor *ed, const struct ent *e)
{
	for (size_t i = 0; i < ed->o->nfs; i++)
		if (strcmp(e->spec, ed->uuid_spec[i]) == 0 ||
		    (ed->dev_spec[i][0] && strcmp(e->spec, ed->dev_spec[i]) == 0))
			return true;
	return false;
}

/* The filesystem whose old spec this line shares; a swap area only for a
 * swap line and a filesystem only for a mount. */
static long map_lookup(const struct editor *ed, const struct ent *e)
{
	for (size_t i = 0; i < ed->nmap; i++)
		if (strcmp(ed->map[i].spec, e->spec) == 0 &&
		    (strcmp(ed->o->fs[ed->map[i].fs].mountpoint, "swap") == 0) == is_swap(e))
			return (long)ed->map[i].fs;
	return -1;
}

enum verdict { KEEP, COMMENT, REWRITE, NOFAIL };

/* The configuration decides this line (rules 1-3). */
static bool configured(const struct pc_fstab_opts *o, const struct ent *e)
{
	return pc_in_list(e->type, strlen(e->type), o->tmp_types) ||
	       in_cfg_list(e->mp, o->keep, o->nkeep) || in_cfg_list(e->mp, o->ignore, o->nignore);
}

static enum verdict judge(struct editor *ed, const struct ent *e, long *fs)
{
	const struct pc_fstab_opts *o = ed->o;

	*fs = -1;
	/* A changed line grows by at most FSTAB_GROWTH bytes; one that could
	 * outgrow FSTAB_MAX_LINE is left alone, so that the next run parses
	 * every line this one did and the result is a fixed point. */
	if (e->len > FSTAB_MAX_LINE - FSTAB_GROWTH)
		return KEEP;
	if (pc_in_list(e->type, strlen(e->type), o->tmp_types) ||
	    in_cfg_list(e->mp, o->keep, o->nkeep))
		return KEEP;
	if (in_cfg_list(e->mp, o->ignore, o->nignore))
		return COMMENT;
	*fs = match_fs(ed, e);
	if (*fs < 0)
		*fs = map_lookup(ed, e);
	if (*fs >= 0) {
		const char *want = o->fs[*fs].fstype;

		if (strcmp(e->spec, ed->uuid_spec[*fs]) != 0 ||
		    (want && *want && strcmp(want, e->type) != 0))
			return REWRITE;
		return KEEP;
	}
	if (spec_exists(ed, e) || !local_block(e) || has_opt(e->opts, "nofail") ||
	    strcmp(e->mp, "/") == 0 || strcmp(e->mp, "/usr") == 0)
		return KEEP;
	return NOFAIL;
}

static int put_commented(struct rh_buf *out, const char *line, size_t len)
{
	int rc = rh_buf_put(out, COMMENT_PREFIX, strlen(COMMENT_PREFIX));

	return rc < 0 ? rc : pc_out_line(out, line, len);
}

/* line with field k replaced by repl (k == nf: repl inserted after the
 * last field). */
static int put_replaced(struct rh_buf *out, const char *line, size_t len, const struct ent *e,
			int k, const char *repl, int k2, const char *repl2)
{
	size_t pos = 0;
	int rc = 0;

	for (int i = 0; i < e->nf && rc == 0; i++) {
		const char *r = i == k ? repl : i == k2 ? repl2 : NULL;

		if (r == NULL)
			continue;
		rc = rh_buf_put(out, line + pos, e->f[i].off - pos);
		if (rc == 0)
			rc = rh_buf_put(out, r, strlen(r));
		pos = e->f[i].off + e->f[i].len;
	}
	if (rc == 0 && k == e->nf) {
		size_t end = e->f[e->nf - 1].off + e->f[e->nf - 1].len;

		rc = rh_buf_put(out, line + pos, end - pos);
		if (rc == 0)
			rc = rh_buf_put(out, repl, strlen(repl));
		pos = end;
	}
	return rc < 0 ? rc : pc_out_line(out, line + pos, len - pos);
}

static int note_change(pc_fstab_note_fn note, void *arg, unsigned lineno, const char *action,
		       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int note_change(pc_fstab_note_fn note, void *arg, unsigned lineno, const char *action,
		       const char *fmt, ...)
{
	char detail[FSTAB_MAX_LINE * 2 + 256];
	va_list ap;

	if (note == NULL)
		return 0;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	return note(arg, lineno, action, detail);
}

/* Pass 0: count swap lines; pass 1: collect the old specs of the lines
 * matched by mount point, so other lines with that spec (btrfs subvolumes,
 * bind-style second mounts) follow them. */
static int prescan(struct editor *ed, const char *text, size_t len, struct ent *e)
{
	const char *cur = text, *end = text + len, *line;
	size_t n;

	/* Swap lines the configuration leaves to rule 4 (a line the first run
	 * comments out must not count then and not count later). */
	while ((line = pc_next_line(&cur, end, &n)) != NULL)
		if (!pc_line_is_comment(line, n) && parse(line, n, e) && is_swap(e) &&
		    local_block(e) && !configured(ed->o, e))
			ed->nswaplines++;
	cur = text;
	while ((line = pc_next_line(&cur, end, &n)) != NULL) {
		long fs;

		if (pc_line_is_comment(line, n) || !parse(line, n, e))
			continue;
		if (judge(ed, e, &fs) != REWRITE || match_fs(ed, e) < 0 ||
		    strcmp(e->spec, ed->uuid_spec[fs]) == 0 || map_lookup(ed, e) >= 0)
			continue;
		if (ed->nmap == FSTAB_MAX_MAP)
			break;
		ed->map[ed->nmap].spec = strdup(e->spec);
		if (ed->map[ed->nmap].spec == NULL)
			return RH_ERR_NOMEM;
		ed->map[ed->nmap++].fs = (size_t)fs;
	}
	return 0;
}

int pc_fstab_edit(const char *text, size_t len, const struct pc_fstab_opts *o,
		  struct rh_buf *out, pc_fstab_note_fn note, void *arg)
{
	struct editor ed = { .o = o };
	const char *cur = text, *end = text + len, *line;
	struct ent *e = NULL;
	unsigned lineno = 0;
	int changed = 0, rc;
	size_t n;

	if (len > PC_MAX_FILE)
		return rh_seterr(RH_ERR_TOOBIG, "fstab larger than %u bytes", PC_MAX_FILE);
	e = malloc(sizeof *e);
	ed.uuid_spec = calloc(o->nfs + 1, sizeof *ed.uuid_spec);
	ed.dev_spec = calloc(o->nfs + 1, sizeof *ed.dev_spec);
	if (e == NULL || ed.uuid_spec == NULL || ed.dev_spec == NULL) {
		rc = RH_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < o->nfs; i++) {
		char u[80];

		snprintf(u, sizeof u, "UUID=%.70s", o->fs[i].uuid);
		norm_spec(u, strlen(u), ed.uuid_spec[i], sizeof ed.uuid_spec[i]);
		if (o->fs[i].device)
			norm_spec(o->fs[i].device, strlen(o->fs[i].device), ed.dev_spec[i],
				  sizeof ed.dev_spec[i]);
		if (strcmp(o->fs[i].mountpoint, "swap") == 0)
			ed.nswapfs++;
	}
	rc = prescan(&ed, text, len, e);
	if (rc < 0)
		goto out;

	while ((line = pc_next_line(&cur, end, &n)) != NULL) {
		enum verdict v = KEEP;
		long fs = -1;

		lineno++;
		if (!pc_line_is_comment(line, n) && parse(line, n, e))
			v = judge(&ed, e, &fs);
		switch (v) {
		case KEEP:
			rc = pc_out_line(out, line, n);
			break;
		case COMMENT:
			rc = put_commented(out, line, n);
			if (rc == 0)
				rc = note_change(note, arg, lineno, "commented",
						 "line %u (%s on %s): in fstab_ignore_mount_path",
						 lineno, e->spec, e->mp);
			break;
		case REWRITE: {
			const struct rh_pc_fs *f = &o->fs[fs];
			const char *want = f->fstype && *f->fstype && strcmp(f->fstype, e->type) != 0
						   ? f->fstype
						   : NULL;

			rc = put_commented(out, line, n);
			if (rc == 0)
				rc = put_replaced(out, line, n, e, 0, ed.uuid_spec[fs], want ? 2 : -1,
						  want);
			if (rc == 0)
				rc = note_change(note, arg, lineno, "modified",
						 "line %u: %s on %s -> %s%s%s", lineno, e->spec, e->mp,
						 ed.uuid_spec[fs], want ? ", type " : "",
						 want ? want : "");
			break;
		}
		case NOFAIL: {
			char opts[FSTAB_MAX_LINE + 16];

			snprintf(opts, sizeof opts, "%s%s,nofail", e->nf >= 4 ? "" : "\t", e->opts);
			rc = put_commented(out, line, n);
			if (rc == 0)
				rc = put_replaced(out, line, n, e, e->nf >= 4 ? 3 : e->nf, opts, -1,
						  NULL);
			if (rc == 0)
				rc = note_change(note, arg, lineno, "modified",
						 "line %u: %s on %s is not among the migrated "
						 "filesystems: added nofail",
						 lineno, e->spec, e->mp);
			break;
		}
		}
		if (rc < 0)
			goto out;
		if (v != KEEP)
			changed++;
	}
	rc = changed;
out:
	for (size_t i = 0; i < ed.nmap; i++)
		free(ed.map[i].spec);
	free(ed.uuid_spec);
	free(ed.dev_spec);
	free(e);
	return rc;
}

/* ---- the step ---- */

struct note_ctx {
	struct rh_pc *pc;
	json_t *notes;     /* array of [action, detail] */
};

static int collect(void *arg, unsigned line, const char *action, const char *detail)
{
	struct note_ctx *c = arg;

	(void)line;
	return json_array_append_new(c->notes, json_pack("[s,s]", action, detail)) == 0
		       ? 0
		       : RH_ERR_NOMEM;
}

int rh_pc_fstab(struct rh_pc *pc, const struct rh_pc_fs *fs, size_t n)
{
	struct pc_fstab_opts o = { .fs = fs, .nfs = n };
	struct note_ctx ctx = { .pc = pc };
	char canon[PATH_MAX], *text = NULL;
	struct rh_buf *out = NULL;
	size_t len, i;
	json_t *v;
	int rc;

	for (i = 0; i < n; i++) {
		if (fs[i].mountpoint == NULL || fs[i].mountpoint[0] == '\0' || fs[i].uuid == NULL ||
		    fs[i].uuid[0] == '\0' || strlen(fs[i].uuid) > 64 ||
		    strcspn(fs[i].uuid, " \t\n\"'\\") != strlen(fs[i].uuid) ||
		    strlen(fs[i].mountpoint) > 1024 ||
		    (fs[i].fstype && (strlen(fs[i].fstype) > 32 ||
				      strcspn(fs[i].fstype, " \t\n") != strlen(fs[i].fstype))) ||
		    (fs[i].device && strlen(fs[i].device) > 256))
			return rh_seterr(RH_ERR_INVAL,
					 "filesystem %zu: mount point %s, UUID %s, type %s: a mount "
					 "point and a UUID (up to 64 characters, no blanks or "
					 "quotes) are needed; a type is one word",
					 i, fs[i].mountpoint ? fs[i].mountpoint : "(none)",
					 fs[i].uuid ? fs[i].uuid : "(none)",
					 fs[i].fstype ? fs[i].fstype : "(any)");
		if (strcmp(fs[i].mountpoint, "/") == 0)
			snprintf(pc->root_uuid, sizeof pc->root_uuid, "%.63s", fs[i].uuid);
		if (strcmp(fs[i].mountpoint, "swap") == 0)
			snprintf(pc->swap_uuid, sizeof pc->swap_uuid, "%.63s", fs[i].uuid);
	}
	o.tmp_types = pc_cfg_list(pc, "fstab_tmp_filesystem", &o.ntmp);
	o.keep = pc_cfg_list(pc, "fstab_keep_mount_path", &o.nkeep);
	o.ignore = pc_cfg_list(pc, "fstab_ignore_mount_path", &o.nignore);

	rc = pc_read(pc, "/etc/fstab", PC_MAX_FILE, &text, &len, canon, NULL);
	if (rc == RH_ERR_NOTFOUND)
		return rh_seterr(RH_ERR_NOTFOUND, "%s/etc/fstab: no such file; is %s the root "
				 "filesystem of the migrated system?", pc->root, pc->root);
	if (rc < 0)
		return rc;
	ctx.notes = json_array();
	rc = ctx.notes ? pc_out_new(&out) : RH_ERR_NOMEM;
	if (rc < 0)
		goto out;
	rc = pc_fstab_edit(text, len, &o, out, collect, &ctx);
	if (rc <= 0)
		goto out;
	rc = pc_write(pc, canon, rh_buf_str(out), rh_buf_len(out), 0644, canon);
	if (rc <= 0)
		goto out;
	json_array_foreach(ctx.notes, i, v) {
		const char *action = json_string_value(json_array_get(v, 0));

		rc = rh_pc_record(pc, canon, action, "%s", json_string_value(json_array_get(v, 1)));
		if (rc < 0)
			goto out;
	}
	rc = 0;
out:
	json_decref(ctx.notes);
	rh_buf_free(out);
	free(text);
	return rc;
}
