/*
 * Line-oriented text helpers shared by the editors: line iteration, the
 * bounded output buffer, and the small subset of shell quoting that
 * /etc/default/grub and ifcfg files use. Anything beyond that subset
 * (expansions, command substitution) is reported as not literal, and the
 * editors then leave the line alone rather than guess.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "postconf/internal.h"
#include "rehost/err.h"

const char *pc_next_line(const char **cur, const char *end, size_t *len)
{
	const char *s = *cur, *nl;

	if (s >= end)
		return NULL;
	nl = memchr(s, '\n', (size_t)(end - s));
	if (nl == NULL) {
		*len = (size_t)(end - s);
		*cur = end;
	} else {
		*len = (size_t)(nl - s);
		*cur = nl + 1;
	}
	return s;
}

int pc_out_new(struct rh_buf **out)
{
	return rh_buf_new(PC_MAX_OUT, out);
}

int pc_out_line(struct rh_buf *out, const char *s, size_t n)
{
	int rc = rh_buf_put(out, s, n);

	return rc < 0 ? rc : rh_buf_put(out, "\n", 1);
}

bool pc_in_list(const char *w, size_t n, const char *const *list)
{
	for (; list && *list; list++)
		if (strlen(*list) == n && memcmp(*list, w, n) == 0)
			return true;
	return false;
}

bool pc_line_is_comment(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
		i++;
	return i == n || s[i] == '#';
}

bool pc_shvar_name(const char *s, size_t n, char *name, size_t namelen, size_t *value_off)
{
	size_t i = 0, start;

	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (n - i > 7 && memcmp(s + i, "export", 6) == 0 && (s[i + 6] == ' ' || s[i + 6] == '\t')) {
		i += 6;
		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
	}
	start = i;
	if (i >= n || !(isalpha((unsigned char)s[i]) || s[i] == '_'))
		return false;
	while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '_'))
		i++;
	if (i >= n || s[i] != '=' || i - start >= namelen)
		return false;
	memcpy(name, s + start, i - start);
	name[i - start] = '\0';
	*value_off = i + 1;
	return true;
}

bool pc_shvar_value(const char *s, size_t n, char *out, size_t outlen)
{
	size_t i = 0, o = 0;

#define PUTC(c)                                  \
	do {                                     \
		if (o + 1 >= outlen)             \
			return false;            \
		out[o++] = (c);                  \
	} while (0)

	if (outlen == 0)
		return false;
	out[0] = '\0';
	while (i < n && s[i] != ' ' && s[i] != '\t' && s[i] != '\r') {
		char c = s[i++];

		if (c == '\'') {
			while (i < n && s[i] != '\'')
				PUTC(s[i++]);
			if (i >= n)
				return false;
			i++;
		} else if (c == '"') {
			while (i < n && s[i] != '"') {
				c = s[i++];
				if (c == '$' || c == '`')
					return false;
				if (c == '\\' && i < n && strchr("$`\"\\", s[i]) != NULL)
					c = s[i++];
				PUTC(c);
			}
			if (i >= n)
				return false;
			i++;
		} else if (c == '\\') {
			if (i >= n)
				return false;
			PUTC(s[i++]);
		} else if (strchr("$`;&|<>()", c) != NULL) {
			return false;
		} else {
			PUTC(c);
		}
	}
#undef PUTC
	out[o] = '\0';
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
		i++;
	return i == n || s[i] == '#';
}

int pc_shquote(struct rh_buf *out, const char *value)
{
	int rc = rh_buf_put(out, "\"", 1);

	for (const char *p = value; rc == 0 && *p; p++) {
		if (strchr("\"\\$`", *p) != NULL)
			rc = rh_buf_put(out, "\\", 1);
		if (rc == 0)
			rc = rh_buf_put(out, p, 1);
	}
	return rc < 0 ? rc : rh_buf_put(out, "\"", 1);
}

const char *const *pc_cfg_list(const struct rh_pc *pc, const char *key, size_t *n)
{
	return rh_config_list(pc->cfg, "linux", key, n);
}

bool pc_cfg_bool(const struct rh_pc *pc, const char *key)
{
	return rh_config_bool(pc->cfg, "linux", key);
}

bool pc_ini_section(const char *s, size_t n, char *name, size_t namelen)
{
	size_t i = 0, j;

	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	while (n > i && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	if (n - i < 2 || s[i] != '[' || s[n - 1] != ']' || namelen == 0)
		return false;
	j = n - 1 - (i + 1);
	if (j >= namelen)
		j = namelen - 1;
	memcpy(name, s + i + 1, j);
	name[j] = '\0';
	return true;
}

bool pc_ini_key(const char *s, size_t n, char *key, size_t keylen, size_t *voff, size_t *vlen)
{
	size_t i = 0, k, eq;
	const char *p;

	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i == n || s[i] == '#' || s[i] == ';' || s[i] == '[')
		return false;
	p = memchr(s + i, '=', n - i);
	if (p == NULL)
		return false;
	eq = (size_t)(p - s);
	k = eq;
	while (k > i && (s[k - 1] == ' ' || s[k - 1] == '\t'))
		k--;
	if (k == i || k - i >= keylen)
		return false;
	memcpy(key, s + i, k - i);
	key[k - i] = '\0';
	i = eq + 1;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	while (n > i && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	*voff = i;
	*vlen = n - i;
	return true;
}

void pc_detail_add(struct pc_detail *d, const char *fmt, ...)
{
	size_t room = sizeof d->s - d->n;
	va_list ap;
	int w;

	if (room < 8)
		return;
	if (d->n > 0) {
		const char *sep = d->sep ? d->sep : "; ";
		size_t l = strlen(sep);

		if (room < l + 8)
			return;
		memcpy(d->s + d->n, sep, l + 1);
		d->n += l;
		room -= l;
	}
	va_start(ap, fmt);
	w = vsnprintf(d->s + d->n, room, fmt, ap);
	va_end(ap);
	if (w < 0) {
		d->s[d->n] = '\0';
		return;
	}
	if ((size_t)w >= room) {
		d->n = sizeof d->s - 1;
		memcpy(d->s + sizeof d->s - 4, "...", 4);
		return;
	}
	d->n += (size_t)w;
}

bool pc_name_is_backup(const char *name)
{
	static const char *const suffixes[] = { "~", ".bak", ".orig", ".old", ".rpmsave",
						".rpmnew", ".rpmorig", ".swp", NULL };
	size_t n = strlen(name);

	if (name[0] == '.' || strstr(name, ".dpkg-") || strstr(name, ".ucf-"))
		return true;
	for (const char *const *s = suffixes; *s; s++) {
		size_t l = strlen(*s);

		if (n >= l && strcmp(name + n - l, *s) == 0)
			return true;
	}
	return false;
}
