/*
 * LVM2 text metadata parser (internal; see lvm-text.c for the grammar).
 * The result is a tree of nodes; every string in it is owned by the tree.
 */
#ifndef REHOST_LVM_TEXT_H
#define REHOST_LVM_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lvm_vtype { LVM_SECTION, LVM_INT, LVM_STR, LVM_ARRAY };

struct lvm_node {
	char *key;              /* name; NULL for array elements and the root */
	enum lvm_vtype type;
	int64_t num;            /* LVM_INT */
	char *str;              /* LVM_STR (floats are kept as text) */
	struct lvm_node *child; /* LVM_SECTION: first item; LVM_ARRAY: first element */
	struct lvm_node *next;  /* next sibling */
};

/* Parse len bytes of text (parsing stops early at a NUL). On success *out
 * is the root section; free it with lvm_text_free. Returns 0, RH_ERR_PARSE,
 * RH_ERR_TOOBIG or RH_ERR_NOMEM (rh_lasterr says where). */
int lvm_text_parse(const char *text, size_t len, struct lvm_node **out);

/* Free a tree (or a sibling list); NULL is accepted. */
void lvm_text_free(struct lvm_node *n);

/* Direct child of section sec named key, or NULL. Borrowed. */
const struct lvm_node *lvm_text_get(const struct lvm_node *sec, const char *key);

/* Integer child key of sec in [min, max]. *out is 0 on failure. Returns 0,
 * RH_ERR_PARSE (missing or not an integer) or RH_ERR_RANGE. */
int lvm_text_int(const struct lvm_node *sec, const char *key, int64_t min, int64_t max,
		 int64_t *out);

/* String child key of sec, or NULL. Borrowed. */
const char *lvm_text_str(const struct lvm_node *sec, const char *key);

/* Whether the string array key of sec contains flag (e.g. status VISIBLE). */
bool lvm_text_has_flag(const struct lvm_node *sec, const char *key, const char *flag);

#endif
