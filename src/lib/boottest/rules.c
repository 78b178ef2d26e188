/*
 * Boot failure rules (data/boot-failures.tsv): parse, compile, match; and
 * the login prompt test, which is the success criterion and so code, not
 * data.
 */
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "rehost/boottest.h"
#include "rehost/err.h"
#include "rehost/tsv.h" /* the bounded TSV reader shared with data/ */

#define NCOLS 6
#define MAX_RULES 512u

struct rh_bt_rules {
	struct rh_tsv *tsv;        /* owns the strings */
	size_t n;
	struct rh_bt_rule *rule;
	regex_t *re;
};

static const char *const header[NCOLS] = { "id", "fatal", "code", "pattern", "cause", "action" };

void rh_bt_rules_free(struct rh_bt_rules *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++)
		regfree(&r->re[i]);
	free(r->re);
	free(r->rule);
	rh_tsv_free(r->tsv);
	free(r);
}

int rh_bt_rules_parse(const char *data, size_t len, const char *what,
		      struct rh_bt_rules **out)
{
	struct rh_bt_rules *r = NULL;
	struct rh_tsv *t = NULL;
	int rc;

	*out = NULL;
	if ((rc = rh_tsv_parse(data, len, what, header, NCOLS, &t)) < 0)
		return rc;
	if (t->nrows > MAX_RULES) {
		rc = rh_seterr(RH_ERR_TOOBIG, "%s: more than %u rules", what, MAX_RULES);
		goto out;
	}
	r = calloc(1, sizeof *r);
	if (r == NULL || (t->nrows > 0 && ((r->rule = calloc(t->nrows, sizeof *r->rule)) == NULL ||
					    (r->re = calloc(t->nrows, sizeof *r->re)) == NULL))) {
		rc = RH_ERR_NOMEM;
		goto out;
	}
	r->tsv = t;
	t = NULL;
	for (size_t i = 0; i < r->tsv->nrows; i++) {
		struct rh_bt_rule *ru = &r->rule[i];
		const char *fatal = rh_tsv_cell(r->tsv, i, 1);
		int e;

		ru->id = rh_tsv_cell(r->tsv, i, 0);
		ru->code = rh_tsv_cell(r->tsv, i, 2);
		if (strcmp(ru->code, "-") == 0)
			ru->code = NULL;
		ru->pattern = rh_tsv_cell(r->tsv, i, 3);
		ru->cause = rh_tsv_cell(r->tsv, i, 4);
		ru->action = rh_tsv_cell(r->tsv, i, 5);
		if (strcmp(fatal, "yes") == 0) {
			ru->fatal = true;
		} else if (strcmp(fatal, "no") != 0) {
			rc = rh_seterr(RH_ERR_PARSE, "%s: rule '%s': fatal is '%s', expected yes or no",
				       what, ru->id, fatal);
			goto out;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(r->rule[j].id, ru->id) == 0) {
				rc = rh_seterr(RH_ERR_PARSE, "%s: rule '%s' defined twice", what,
					       ru->id);
				goto out;
			}
		}
		e = regcomp(&r->re[i], ru->pattern, REG_EXTENDED | REG_NOSUB);
		if (e != 0) {
			char msg[128];

			regerror(e, &r->re[i], msg, sizeof msg);
			rc = rh_seterr(RH_ERR_PARSE, "%s: rule '%s': pattern '%s': %s", what, ru->id,
				       ru->pattern, msg);
			goto out;
		}
		r->n++;
	}
	*out = r;
	r = NULL;
	rc = 0;
out:
	rh_tsv_free(t);
	rh_bt_rules_free(r);
	return rc;
}

/* Defined by the build from data/boot-failures.tsv (cmake/embed.cmake). */
extern const unsigned char rh_data_boot_failures[];
extern const size_t rh_data_boot_failures_len;

static struct rh_bt_rules *builtin;
static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;

static void builtin_free(void)
{
	rh_bt_rules_free(builtin);
	builtin = NULL;
}

static void builtin_load(void)
{
	if (rh_bt_rules_parse((const char *)rh_data_boot_failures, rh_data_boot_failures_len,
			      "data/boot-failures.tsv", &builtin) == 0)
		atexit(builtin_free);
}

const struct rh_bt_rules *rh_bt_rules_builtin(void)
{
	pthread_once(&builtin_once, builtin_load);
	return builtin;
}

size_t rh_bt_rules_count(const struct rh_bt_rules *r)
{
	return r != NULL ? r->n : 0;
}

const struct rh_bt_rule *rh_bt_rules_at(const struct rh_bt_rules *r, size_t i)
{
	return r != NULL && i < r->n ? &r->rule[i] : NULL;
}

const struct rh_bt_rule *rh_bt_rules_match(const struct rh_bt_rules *r, const char *line,
					   size_t *index)
{
	if (r == NULL)
		return NULL;
	for (size_t i = 0; i < r->n; i++) {
		if (regexec(&r->re[i], line, 0, NULL, 0) == 0) {
			if (index != NULL)
				*index = i;
			return &r->rule[i];
		}
	}
	return NULL;
}

/* A host name as getty prints it: letters, digits, '.', '-', '_'. */
static bool is_host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_';
}

bool rh_bt_is_login_prompt(const char *line)
{
	const char *p = line;

	if (strstr(line, "Login incorrect") != NULL)
		return false;
	while (*p == ' ')
		p++;
	/* Optional host name and one space: "rehost-src login:". "Last
	 * login: ..." (the message after a successful login) has the same
	 * shape, so it is ruled out by name. */
	if (strncmp(p, "login:", 6) != 0) {
		const char *h = p;

		while (is_host_char(*p))
			p++;
		if (p == h || *p != ' ' || strncmp(p + 1, "login:", 6) != 0)
			return false;
		if (p - h == 4 && strncmp(h, "Last", 4) == 0)
			return false;
		p++;
	}
	p += 6;
	/* End of line, or a space and whatever printed after the prompt
	 * (kernel messages land on the prompt's line). */
	return *p == '\0' || *p == ' ';
}

const char *rh_bt_firmware_name(enum rh_bt_firmware f)
{
	return f == RH_BT_UEFI ? "uefi" : "bios";
}

const char *rh_bt_bus_name(enum rh_bt_bus b)
{
	switch (b) {
	case RH_BT_SCSI:
		return "scsi";
	case RH_BT_SATA:
		return "sata";
	case RH_BT_IDE:
		return "ide";
	case RH_BT_VIRTIO:
		break;
	}
	return "virtio";
}

int rh_bt_firmware_parse(const char *s, enum rh_bt_firmware *out)
{
	if (strcmp(s, "bios") == 0)
		*out = RH_BT_BIOS;
	else if (strcmp(s, "uefi") == 0)
		*out = RH_BT_UEFI;
	else
		return rh_seterr(RH_ERR_INVAL, "firmware '%s': expected bios or uefi", s);
	return 0;
}

int rh_bt_bus_parse(const char *s, enum rh_bt_bus *out)
{
	static const enum rh_bt_bus all[] = { RH_BT_VIRTIO, RH_BT_IDE, RH_BT_SATA, RH_BT_SCSI };

	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		if (strcmp(s, rh_bt_bus_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	}
	return rh_seterr(RH_ERR_INVAL, "bus '%s': expected virtio, ide, sata or scsi", s);
}

const char *rh_bt_reason_name(enum rh_bt_reason r)
{
	switch (r) {
	case RH_BT_R_LOGIN:
		return "login";
	case RH_BT_R_FATAL:
		return "fatal";
	case RH_BT_R_TIMEOUT:
		return "timeout";
	case RH_BT_R_QEMU_EXIT:
		return "qemu-exit";
	case RH_BT_R_QEMU_ERROR:
		return "qemu-error";
	case RH_BT_R_STOPPED:
		return "stopped";
	}
	return "unknown";
}
