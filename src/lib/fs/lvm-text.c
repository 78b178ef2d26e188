/* Parser for LVM2's text metadata format (the volume group description a
 * PV's metadata area holds):
 *
 *   file    := item*
 *   item    := NAME '=' value | NAME '{' item* '}'
 *   value   := INTEGER | STRING | '[' [value (',' value)*] ']'
 *
 * with '#' comments to the end of the line. Bounded: nesting depth, node
 * count and input length are all capped, and the input need not be
 * NUL-terminated. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "fs/lvm-text.h"
#include "rehost/checked.h"
#include "rehost/err.h"

#define LVM_TEXT_MAX_DEPTH 32
#define LVM_TEXT_MAX_NODES (1u << 20)
#define LVM_TEXT_MAX_NAME 1024

struct parser {
	const char *p, *end;
	unsigned line;
	size_t nodes;
};

void lvm_text_free(struct lvm_node *n)
{
	while (n != NULL) {
		struct lvm_node *next = n->next;

		lvm_text_free(n->child);
		free(n->key);
		free(n->str);
		free(n);
		n = next;
	}
}

static int perr(const struct parser *ps, const char *what)
{
	return rh_seterr(RH_ERR_PARSE, "lvm metadata line %u: %s", ps->line, what);
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end) {
		char ch = *ps->p;

		if (ch == '#') {
			while (ps->p < ps->end && *ps->p != '\n')
				ps->p++;
		} else if (ch == '\n') {
			ps->line++;
			ps->p++;
		} else if (ch == ' ' || ch == '\t' || ch == '\r') {
			ps->p++;
		} else {
			break;
		}
	}
}

static bool name_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '_' || ch == '.' || ch == '+' || ch == '-';
}

/* A NUL-terminated copy of n bytes of the text. Not strndup: the text
 * need not be NUL-terminated (metadata read from a disk area), and strndup
 * may look past n for the terminator. */
static char *copy_span(const char *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s != NULL) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

static int new_node(struct parser *ps, struct lvm_node **out)
{
	*out = NULL;
	if (++ps->nodes > LVM_TEXT_MAX_NODES)
		return rh_seterr(RH_ERR_TOOBIG, "lvm metadata: more than %u nodes", LVM_TEXT_MAX_NODES);
	*out = calloc(1, sizeof **out);
	return *out ? 0 : RH_ERR_NOMEM;
}

static int parse_string(struct parser *ps, char **out)
{
	const char *start;
	char *s, *w;

	*out = NULL;
	ps->p++; /* opening quote */
	start = ps->p;
	while (ps->p < ps->end && *ps->p != '"') {
		if (*ps->p == '\\' && ps->p + 1 < ps->end)
			ps->p++;
		if (*ps->p == '\n')
			ps->line++;
		ps->p++;
	}
	if (ps->p >= ps->end)
		return perr(ps, "unterminated string");
	s = malloc((size_t)(ps->p - start) + 1);
	if (s == NULL)
		return RH_ERR_NOMEM;
	w = s;
	for (const char *r = start; r < ps->p; r++) {
		if (*r == '\\' && r + 1 < ps->p)
			r++;
		*w++ = *r;
	}
	*w = '\0';
	ps->p++; /* closing quote */
	*out = s;
	return 0;
}

static int parse_value(struct parser *ps, struct lvm_node *n, int depth);

static int parse_array(struct parser *ps, struct lvm_node *n, int depth)
{
	struct lvm_node **tail = &n->child;
	int rc;

	n->type = LVM_ARRAY;
	ps->p++; /* '[' */
	for (;;) {
		struct lvm_node *e;

		skip_ws(ps);
		if (ps->p >= ps->end)
			return perr(ps, "unterminated array");
		if (*ps->p == ']') {
			ps->p++;
			return 0;
		}
		if (n->child != NULL) {
			if (*ps->p != ',')
				return perr(ps, "expected ',' or ']' in array");
			ps->p++;
			skip_ws(ps);
			if (ps->p < ps->end && *ps->p == ']') {
				ps->p++;
				return 0;
			}
		}
		rc = new_node(ps, &e);
		if (rc < 0)
			return rc;
		*tail = e;
		tail = &e->next;
		rc = parse_value(ps, e, depth + 1);
		if (rc < 0)
			return rc;
	}
}

static int parse_value(struct parser *ps, struct lvm_node *n, int depth)
{
	if (depth > LVM_TEXT_MAX_DEPTH)
		return perr(ps, "nested too deeply");
	skip_ws(ps);
	if (ps->p >= ps->end)
		return perr(ps, "missing value");
	if (*ps->p == '"') {
		n->type = LVM_STR;
		return parse_string(ps, &n->str);
	}
	if (*ps->p == '[')
		return parse_array(ps, n, depth);
	if (*ps->p == '-' || isdigit((unsigned char)*ps->p)) {
		const char *start = ps->p;
		bool neg = *ps->p == '-';
		uint64_t v = 0;

		if (neg)
			ps->p++;
		if (ps->p >= ps->end || !isdigit((unsigned char)*ps->p))
			return perr(ps, "bad number");
		while (ps->p < ps->end && isdigit((unsigned char)*ps->p)) {
			if (RH_MUL_OVERFLOW(v, 10, &v) || RH_ADD_OVERFLOW(v, (uint64_t)(*ps->p - '0'), &v) ||
			    v > (uint64_t)INT64_MAX)
				return perr(ps, "number out of range");
			ps->p++;
		}
		if (ps->p < ps->end && *ps->p == '.') {
			/* A float (lvm.conf style): keep its text only. */
			ps->p++;
			while (ps->p < ps->end && isdigit((unsigned char)*ps->p))
				ps->p++;
			n->type = LVM_STR;
			n->str = copy_span(start, (size_t)(ps->p - start));
			return n->str ? 0 : RH_ERR_NOMEM;
		}
		n->type = LVM_INT;
		n->num = neg ? -(int64_t)v : (int64_t)v;
		return 0;
	}
	return perr(ps, "unexpected character in value");
}

/* Parse items up to '}' (depth > 0) or the end of input into *first. */
static int parse_items(struct parser *ps, struct lvm_node **first, int depth)
{
	struct lvm_node **tail = first;
	int rc;

	if (depth > LVM_TEXT_MAX_DEPTH)
		return perr(ps, "nested too deeply");
	for (;;) {
		const char *start;
		struct lvm_node *n;
		size_t len;

		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p == '\0') {
			if (depth > 0)
				return perr(ps, "missing '}'");
			return 0;
		}
		if (*ps->p == '}') {
			if (depth == 0)
				return perr(ps, "unexpected '}'");
			ps->p++;
			return 0;
		}
		start = ps->p;
		while (ps->p < ps->end && name_char(*ps->p))
			ps->p++;
		len = (size_t)(ps->p - start);
		if (len == 0 || len > LVM_TEXT_MAX_NAME)
			return perr(ps, "expected a name");
		rc = new_node(ps, &n);
		if (rc < 0)
			return rc;
		*tail = n;
		tail = &n->next;
		n->key = copy_span(start, len);
		if (n->key == NULL)
			return RH_ERR_NOMEM;
		skip_ws(ps);
		if (ps->p >= ps->end)
			return perr(ps, "expected '=' or '{'");
		if (*ps->p == '{') {
			ps->p++;
			n->type = LVM_SECTION;
			rc = parse_items(ps, &n->child, depth + 1);
		} else if (*ps->p == '=') {
			ps->p++;
			rc = parse_value(ps, n, depth + 1);
		} else {
			rc = perr(ps, "expected '=' or '{'");
		}
		if (rc < 0)
			return rc;
	}
}

int lvm_text_parse(const char *text, size_t len, struct lvm_node **out)
{
	struct parser ps = { text, text + len, 1, 0 };
	struct lvm_node *root = NULL;
	int rc;

	*out = NULL;
	rc = new_node(&ps, &root);
	if (rc < 0)
		return rc;
	root->type = LVM_SECTION;
	rc = parse_items(&ps, &root->child, 0);
	if (rc < 0) {
		lvm_text_free(root);
		return rc;
	}
	*out = root;
	return 0;
}

const struct lvm_node *lvm_text_get(const struct lvm_node *sec, const char *key)
{
	if (sec == NULL || sec->type != LVM_SECTION)
		return NULL;
	for (const struct lvm_node *n = sec->child; n != NULL; n = n->next)
		if (n->key != NULL && strcmp(n->key, key) == 0)
			return n;
	return NULL;
}

int lvm_text_int(const struct lvm_node *sec, const char *key, int64_t min, int64_t max,
		 int64_t *out)
{
	const struct lvm_node *n = lvm_text_get(sec, key);

	*out = 0;
	if (n == NULL || n->type != LVM_INT)
		return rh_seterr(RH_ERR_PARSE, "lvm metadata: %s%s%s has no integer '%s'",
				 sec && sec->key ? "section '" : "", sec && sec->key ? sec->key : "the top",
				 sec && sec->key ? "'" : "", key);
	if (n->num < min || n->num > max)
		return rh_seterr(RH_ERR_RANGE, "lvm metadata: %s = %lld is out of range", key,
				 (long long)n->num);
	*out = n->num;
	return 0;
}

const char *lvm_text_str(const struct lvm_node *sec, const char *key)
{
	const struct lvm_node *n = lvm_text_get(sec, key);

	return n != NULL && n->type == LVM_STR ? n->str : NULL;
}

bool lvm_text_has_flag(const struct lvm_node *sec, const char *key, const char *flag)
{
	const struct lvm_node *n = lvm_text_get(sec, key);

	if (n == NULL || n->type != LVM_ARRAY)
		return false;
	for (const struct lvm_node *e = n->child; e != NULL; e = e->next)
		if (e->type == LVM_STR && strcmp(e->str, flag) == 0)
			return true;
	return false;
}
