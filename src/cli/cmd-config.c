/* rehost config check|show|defaults [-c FILE] */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "rehost/config.h"
#include "rehost/err.h"


void usage_config(FILE *out)
{
	fprintf(out,
		"usage: rehost config check [-c FILE]\n"
		"       rehost config show [-c FILE]\n"
		"       rehost config defaults\n"
		"\n"
		"  check     validate FILE (default " DEFAULT_CONFIG "); exit 0 if valid,\n"
		"            1 with file:line, key, value and the allowed values if not\n"
		"  show      print every setting after reading FILE, with where it came from\n"
		"  defaults  print a complete rehost.conf with every key at its default\n"
		"\n"
		"  -c, --config FILE   configuration file to read\n"
		"\n"
		"Keys and ranges are documented in docs/config.md.\n");
}

static void print_defaults(void)
{
	const struct rh_cfg_key *schema;
	const char *section = "";
	char allowed[256];
	size_t n;

	schema = rh_config_schema(&n);
	printf("# rehost.conf: every key at its default. See docs/config.md.\n");
	for (size_t i = 0; i < n; i++) {
		const struct rh_cfg_key *k = &schema[i];

		if (strcmp(k->section, section) != 0) {
			section = k->section;
			printf("\n[%s]\n", section);
		}
		printf("# %s (%s)\n%s = %s\n", k->help,
		       rh_config_describe(k, allowed, sizeof allowed), k->key, k->def);
	}
}

static void print_effective(const struct rh_config *cfg)
{
	const struct rh_cfg_key *schema;
	size_t n;

	schema = rh_config_schema(&n);
	for (size_t i = 0; i < n; i++) {
		const char *origin = NULL;
		const char *text = rh_config_text(cfg, schema[i].section, schema[i].key, &origin);

		printf("%s.%s = %s\t# %s\n", schema[i].section, schema[i].key, text, origin);
	}
}

int cmd_config(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = DEFAULT_CONFIG, *action;
	struct rh_config *cfg = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		default:
			return cli_usage_error("config", "bad option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("config", "expected one of: check, show, defaults");
	action = argv[optind];
	if (strcmp(action, "defaults") == 0) {
		print_defaults();
		return EXIT_OK;
	}
	if (strcmp(action, "check") != 0 && strcmp(action, "show") != 0)
		return cli_usage_error("config", "unknown action '%s'", action);

	rc = rh_config_new(&cfg);
	if (rc < 0) {
		cli_report(rc, "config");
		return EXIT_FAIL;
	}
	rc = rh_config_load_file(cfg, path);
	if (rc < 0) {
		cli_report(rc, NULL);
		rh_config_free(cfg);
		return EXIT_FAIL;
	}
	if (strcmp(action, "check") == 0)
		printf("%s: OK\n", path);
	else
		print_effective(cfg);
	rh_config_free(cfg);
	return EXIT_OK;
}
