/* rehost errors [--json] [CODE...] */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "rehost/err.h"
#include "rehost/errcat.h"

void usage_errors(FILE *out)
{
	fprintf(out,
		"usage: rehost errors [--json] [CODE...]\n"
		"\n"
		"Without CODE, list every catalogue entry: the SMS.xxxx codes of the\n"
		"seed service and the messages it prints without a code (MSG.name).\n"
		"With CODE (\"SMS.1807\", \"1807\" or \"MSG.tmp-full\"), explain it:\n"
		"message (English and original Chinese), cause and what to do.\n"
		"\n"
		"  --json   print the entries as a JSON array of objects with the keys\n"
		"           code, message_en, message_zh, cause, action\n");
}

static json_t *entry_json(const struct rh_errcat_entry *e)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "code", e->code,
			 "message_en", e->message_en, "message_zh", e->message_zh,
			 "cause", e->cause, "action", e->action);
}

static void explain(const struct rh_errcat_entry *e)
{
	printf("%s\n"
	       "  message: %s\n"
	       "  original: %s\n"
	       "  cause:   %s\n"
	       "  action:  %s\n",
	       e->code, e->message_en, e->message_zh, e->cause, e->action);
}

int cmd_errors(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const struct rh_errcat *cat = rh_errcat_builtin();
	json_t *arr = NULL;
	int json = 0, c, rc = EXIT_OK;

	while ((c = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = 1;
			break;
		default:
			return cli_usage_error("errors", "bad option");
		}
	}
	if (cat == NULL) {
		cli_report(rh_lasterr_code(), "built-in error catalogue");
		return EXIT_FAIL;
	}
	if (json && (arr = json_array()) == NULL)
		return EXIT_FAIL;

	if (optind >= argc) {
		for (size_t i = 0; i < rh_errcat_count(cat); i++) {
			const struct rh_errcat_entry *e = rh_errcat_at(cat, i);

			if (json)
				json_array_append_new(arr, entry_json(e));
			else
				printf("%-24s %s\n", e->code, e->message_en);
		}
	}
	for (int i = optind; i < argc; i++) {
		const struct rh_errcat_entry *e = rh_errcat_find(cat, argv[i]);

		if (e == NULL) {
			fprintf(stderr,
				"rehost errors: unknown code '%s'; run 'rehost errors' for the list\n",
				argv[i]);
			rc = EXIT_FAIL;
			continue;
		}
		if (json) {
			json_array_append_new(arr, entry_json(e));
		} else {
			if (i > optind)
				putchar('\n');
			explain(e);
		}
	}
	if (json) {
		json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(arr);
	}
	return rc;
}
