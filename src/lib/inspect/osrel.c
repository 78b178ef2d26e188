/*
 * Operating-system identity: /etc/os-release (or /usr/lib/os-release),
 * refined or replaced by the distribution's own release files, which are
 * more precise (CentOS 7.9 says VERSION_ID="7") and the only source on
 * older systems (CentOS/RHEL 6, SLES 11, Debian 6).
 */
#define RH_LOG_COMPONENT "inspect"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/internal.h"
#include "rehost/checked.h"
#include "rehost/err.h"
#include "rehost/log.h"

#define MAX_VALUE 1024

/* Undo os-release quoting: "double" with \" \\ \$ \` escapes, 'single',
 * or a bare word. Returns false when the value is malformed. */
static bool unquote(const char *v, char *out, size_t len)
{
	size_t o = 0;
	char q = 0;

	if (*v == '"' || *v == '\'')
		q = *v++;
	for (; *v; v++) {
		char c = *v;

		if (q && c == q) {
			v++;
			break;
		}
		if (q == '"' && c == '\\' && v[1] != '\0' && strchr("\"\\$`", v[1]) != NULL)
			c = *++v;
		if (o + 1 >= len)
			return false;
		out[o++] = c;
	}
	out[o] = '\0';
	/* Anything after the closing quote other than blanks or a comment. */
	while (*v == ' ' || *v == '\t')
		v++;
	return *v == '\0' || *v == '#';
}

int osrel_get(const char *text, const char *key, char *out, size_t len)
{
	size_t klen = strlen(key);
	const char *p = text;

	out[0] = '\0';
	while (p != NULL && *p) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);
		const char *s = p;

		p = nl ? nl + 1 : NULL;
		while (l > 0 && (*s == ' ' || *s == '\t')) {
			s++;
			l--;
		}
		if (l > klen && strncmp(s, key, klen) == 0 && s[klen] == '=') {
			char line[MAX_VALUE + 8];
			size_t vl = l - klen - 1;

			if (vl >= sizeof line)
				return RH_ERR_TOOBIG;
			memcpy(line, s + klen + 1, vl);
			line[vl] = '\0';
			while (vl > 0 && (line[vl - 1] == '\r' || line[vl - 1] == ' '))
				line[--vl] = '\0';
			if (!unquote(line, out, len)) {
				out[0] = '\0';
				return RH_ERR_TOOBIG;
			}
			return 0;
		}
	}
	return RH_ERR_NOTFOUND;
}

static char *lower(char *s)
{
	for (char *p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return s;
}

/* "... release 7.9.2009 (Core)" -> "7.9.2009"; NULL if no version. */
static bool release_version(const char *line, char *out, size_t len)
{
	const char *p = strstr(line, "release ");
	size_t n = 0;

	if (p == NULL)
		return false;
	p += 8;
	while (p[n] && (isdigit((unsigned char)p[n]) || p[n] == '.'))
		n++;
	while (n > 0 && p[n - 1] == '.')
		n--;
	if (n == 0 || n >= len)
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

/* Keep only MAJOR.MINOR ("7.9.2009" -> "7.9"). */
static void major_minor(char *v)
{
	char *dot = strchr(v, '.');

	if (dot != NULL && (dot = strchr(dot + 1, '.')) != NULL)
		*dot = '\0';
}

struct relfile {
	const char *path;
	const char *match;   /* substring of the first line, or NULL for any */
	const char *family;
};

/* Red Hat style "<name> release X.Y (...)" files, most specific first. */
static const struct relfile relfiles[] = {
	{ "/etc/oracle-release", NULL, "ol" },
	{ "/etc/rocky-release", NULL, "rocky" },
	{ "/etc/almalinux-release", NULL, "almalinux" },
	{ "/etc/alinux-release", NULL, "alinux" },
	{ "/etc/euleros-release", NULL, "euleros" },
	{ "/etc/centos-release", NULL, "centos" },
	{ "/etc/redhat-release", "CentOS", "centos" },
	{ "/etc/redhat-release", "Red Hat", "rhel" },
	{ "/etc/redhat-release", "Scientific", "scientific" },
	{ "/etc/system-release", "Amazon Linux", "amzn" },
	{ "/etc/fedora-release", NULL, "fedora" },
};

static int set(struct rh_inventory *inv, const char **dst, const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	*dst = inv_strdup(inv, s);
	return *dst ? 0 : RH_ERR_NOMEM;
}

static int from_os_release(struct rh_inventory *inv, const struct inv_root *r, bool *found)
{
	static const char *const paths[] = { "/etc/os-release", "/usr/lib/os-release" };
	char *text = NULL, v[MAX_VALUE];
	struct inv_os *os = &inv->os;
	int rc = 0;

	*found = false;
	for (size_t i = 0; i < 2 && text == NULL; i++) {
		rc = root_read(r, paths[i], 65536, &text, NULL);
		if (rc == 0)
			rc = set(inv, &os->source, paths[i]);
		else if (rc != RH_ERR_NOTFOUND)
			rh_log_warn("%s: %s", paths[i], rh_lasterr());
	}
	if (text == NULL)
		return 0;
	if (osrel_get(text, "ID", v, sizeof v) == 0 && v[0])
		rc = set(inv, &os->id, lower(v));
	if (rc == 0 && osrel_get(text, "NAME", v, sizeof v) == 0)
		rc = set(inv, &os->name, v);
	if (rc == 0 && osrel_get(text, "PRETTY_NAME", v, sizeof v) == 0)
		rc = set(inv, &os->pretty, v);
	if (rc == 0 && osrel_get(text, "VERSION_ID", v, sizeof v) == 0) {
		rc = set(inv, &os->version_id, v);
		if (rc == 0)
			rc = set(inv, &os->version, v);
	}
	if (rc == 0 && osrel_get(text, "VARIANT_ID", v, sizeof v) == 0)
		rc = set(inv, &os->variant, lower(v));
	if (rc == 0 && osrel_get(text, "ID_LIKE", v, sizeof v) == 0)
		rc = set(inv, &os->id_like, v);
	/* EulerOS 2.0 SPn is listed as 2.n.0. */
	if (rc == 0 && os->id && strcmp(os->id, "euleros") == 0 &&
	    osrel_get(text, "VERSION", v, sizeof v) == 0) {
		const char *sp = strstr(v, "SP");
		int n;

		if (sp != NULL && sscanf(sp + 2, "%d", &n) == 1 && n >= 0 && n < 100)
			os->version = inv_printf(inv, "2.%d.0", n);
	}
	if (rc == 0 && os->id && (strcmp(os->id, "opensuse") == 0))
		os->id = "opensuse-leap";
	if (rc == 0 && os->id && strcmp(os->id, "sled") == 0)
		os->id = "sles";
	free(text);
	*found = os->id != NULL;
	return rc;
}

/* SLES 11 and old openSUSE: /etc/SuSE-release "VERSION = 11" "PATCHLEVEL = 3". */
static int from_suse_release(struct rh_inventory *inv, const struct inv_root *r)
{
	char *text = NULL, *cur, *line, *first = NULL;
	int ver = -1, patch = 0, rc;

	if (root_read(r, "/etc/SuSE-release", 65536, &text, NULL) < 0)
		return 0;
	cur = text;
	while ((line = text_next_line(&cur)) != NULL) {
		if (first == NULL)
			first = line;
		sscanf(line, "VERSION = %d", &ver);
		sscanf(line, "PATCHLEVEL = %d", &patch);
	}
	rc = 0;
	if (ver > 0 && ver < 1000 && patch >= 0 && patch < 100) {
		bool opensuse = first && strstr(first, "openSUSE") != NULL;

		inv->os.id = opensuse ? "opensuse-leap" : "sles";
		inv->os.version = inv_printf(inv, "%d.%d", ver, patch);
		rc = set(inv, &inv->os.pretty, first);
		inv->os.source = "/etc/SuSE-release";
	}
	free(text);
	return rc;
}

int os_detect(struct rh_inventory *inv, const struct inv_root *r)
{
	struct inv_os *os = &inv->os;
	struct os_compat compat;
	bool found;
	char ver[64];
	int rc;

	rc = from_os_release(inv, r, &found);
	if (rc < 0)
		return rc;

	/* Release files: refine the version, or identify the OS outright. */
	for (size_t i = 0; i < RH_ARRAY_SIZE(relfiles); i++) {
		const struct relfile *f = &relfiles[i];
		const char *line = root_read_line(inv, r, f->path);

		if (line == NULL || (f->match && strstr(line, f->match) == NULL))
			continue;
		if (found && strcmp(os->id, f->family) != 0)
			continue;
		if (!found) {
			os->id = f->family;
			os->pretty = line;
			os->source = f->path;
			found = true;
		}
		if (release_version(line, ver, sizeof ver)) {
			if (strcmp(f->family, "amzn") != 0 && strcmp(f->family, "alinux") != 0)
				major_minor(ver);
			os->version = inv_strdup(inv, ver);
		}
		/* CentOS Stream has no minor version: the seed lists it as X.0. */
		if (strstr(line, "Stream") != NULL && os->variant == NULL)
			os->variant = "stream";
		break;
	}
	if (!found || strcmp(os->id, "sles") == 0 || strcmp(os->id, "opensuse-leap") == 0) {
		if (!found) {
			rc = from_suse_release(inv, r);
			if (rc < 0)
				return rc;
			found = os->id != NULL;
		}
	}
	/* Debian's point release lives in /etc/debian_version ("12.5"). */
	if (!found || strcmp(os->id, "debian") == 0) {
		const char *dv = root_read_line(inv, r, "/etc/debian_version");

		if (dv != NULL && isdigit((unsigned char)dv[0])) {
			if (!found) {
				os->id = "debian";
				os->source = "/etc/debian_version";
				os->pretty = inv_printf(inv, "Debian GNU/Linux %s", dv);
				found = true;
			}
			if (os->version == NULL || strncmp(dv, os->version, strlen(os->version)) == 0)
				os->version = dv;
		}
	}
	/* Old Ubuntu without os-release. */
	if (!found) {
		char *text = NULL, v[MAX_VALUE];

		if (root_read(r, "/etc/lsb-release", 65536, &text, NULL) == 0) {
			if (osrel_get(text, "DISTRIB_ID", v, sizeof v) == 0 && v[0]) {
				os->id = inv_strdup(inv, lower(v));
				os->source = "/etc/lsb-release";
				found = true;
				if (osrel_get(text, "DISTRIB_RELEASE", v, sizeof v) == 0)
					os->version = inv_strdup(inv, v);
				if (osrel_get(text, "DISTRIB_DESCRIPTION", v, sizeof v) == 0)
					os->pretty = inv_strdup(inv, v);
			}
			free(text);
		}
	}
	if (os->pretty == NULL && os->name != NULL)
		os->pretty = os->name;

	os_compat_lookup(datalist_os_compat(), os->id, os->version, os->variant, &compat);
	os->family_known = compat.family_known;
	os->listed = compat.listed;
	os->uefi = compat.uefi;
	os->note = compat.note ? inv_strdup(inv, compat.note) : NULL;
	os->block_listed = block_os_listed(datalist_block_os(), os->id, os->version);
	inv->kernel_block_listed = block_kernel_listed(datalist_block_kernels(), inv->kernel);
	return 0;
}
