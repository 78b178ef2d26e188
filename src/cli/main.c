/* rehost: subcommand dispatcher and global options. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "rehost/checked.h"
#include "rehost/err.h"
#include "rehost/log.h"

static const struct cli_cmd commands[] = {
	{ "inspect", cmd_inspect, "collect the source inventory and run the migration pre-checks", usage_inspect, NULL },
	{ "target", cmd_target, "receive disks from an agent into image files or devices", usage_target,
	  target_subcommands },
	{ "migrate", cmd_migrate, "copy source disks to a target, block level, resumable", usage_migrate, NULL },
	{ "sync", cmd_sync, "bring a migrated target up to date, once, continuously or frozen", usage_sync, NULL },
	{ "verify", cmd_verify, "compare source and target: per-chunk checksums of disks, or files (quick or CRC-64)", usage_verify, NULL },
	{ "server", cmd_server, "run the control plane: REST API, access keys, task state machine", usage_server, NULL },
	{ "ctl", cmd_ctl, "client of the control plane: sources, tasks, actions, progress", usage_ctl, NULL },
	{ "postconf", cmd_postconf, "make migrated target disks boot on KVM/virtio (fstab, network, initramfs, GRUB)", usage_postconf, NULL },
	{ "boot-test", cmd_boot_test, "boot a migrated target in QEMU (-snapshot) and check it reaches a login prompt", usage_boot_test, NULL },
	{ "image", cmd_image, "export, convert, inspect and check disk images (raw, qcow2, vhd, vmdk)", usage_image, NULL },
	{ "keygen", cmd_keygen, "create the TLS keys for agent and target", usage_keygen, NULL },
	{ "errors", cmd_errors, "list the SMS.xxxx error catalogue or explain one code", usage_errors, NULL },
	{ "config", cmd_config, "check a rehost.conf or print the documented defaults", usage_config, NULL },
	{ "version", cmd_version, "print the version", usage_version, NULL },
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: rehost [--log-level LEVEL] [--log-file FILE] COMMAND [ARGS]\n"
		"\n"
		"rehost moves running Linux servers onto KVM-class targets.\n"
		"\n"
		"Commands:\n");
	for (size_t i = 0; i < RH_ARRAY_SIZE(commands); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
		"\n"
		"Global options:\n"
		"  --log-level LEVEL  fatal, error, warn, info (default), debug, debug2, debug3\n"
		"  --log-file FILE    also append log lines to FILE\n"
		"  -h, --help         this help; `rehost COMMAND --help` for a command\n"
		"  -V, --version      same as `rehost version`\n"
		"\n"
		"Exit status: 0 success, 1 failure, 2 usage error, 3 migration blocked.\n"
		"Documentation: docs/ in the source tree (README.md has a tour).\n");
}

static const struct cli_cmd *find_command(const char *name)
{
	for (size_t i = 0; i < RH_ARRAY_SIZE(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* The subcommand argv[1] names (`rehost target cutover`), or NULL. */
static const struct cli_sub *find_sub(const struct cli_cmd *cmd, int argc, char **argv)
{
	if (cmd->subs == NULL || argc < 2)
		return NULL;
	for (const struct cli_sub *s = cmd->subs; s->word != NULL; s++)
		if (strcmp(s->word, argv[1]) == 0)
			return s;
	return NULL;
}

int main(int argc, char **argv)
{
	const struct cli_cmd *cmd;
	const struct cli_sub *sub;
	int (*run)(int argc, char **argv);
	void (*print_usage)(FILE *out);
	int i = 1, rc;

	/* Global options come before the subcommand, like git's. */
	while (i < argc && argv[i][0] == '-') {
		const char *a = argv[i];

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return EXIT_OK;
		} else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			char *vargv[] = { "version", NULL };

			return cmd_version(1, vargv);
		} else if (strcmp(a, "--log-level") == 0 || strncmp(a, "--log-level=", 12) == 0) {
			const char *v = a[11] == '=' ? a + 12 : (i + 1 < argc ? argv[++i] : NULL);
			enum rh_log_level lvl;

			if (v == NULL || rh_log_level_parse(v, &lvl) < 0)
				return cli_usage_error(NULL, "--log-level: %s",
						       v ? rh_lasterr() : "missing value");
			rh_log_set_level(lvl);
		} else if (strcmp(a, "--log-file") == 0 || strncmp(a, "--log-file=", 11) == 0) {
			const char *v = a[10] == '=' ? a + 11 : (i + 1 < argc ? argv[++i] : NULL);

			if (v == NULL)
				return cli_usage_error(NULL, "--log-file: missing value");
			rc = rh_log_open_file(v);
			if (rc < 0) {
				cli_report(rc, "--log-file");
				return EXIT_FAIL;
			}
		} else {
			return cli_usage_error(NULL, "unknown option '%s'", a);
		}
		i++;
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[i], "help") == 0) {
		if (i + 1 < argc && (cmd = find_command(argv[i + 1])) != NULL) {
			sub = find_sub(cmd, argc - i - 1, argv + i + 1);
			if (sub != NULL)
				sub->usage(stdout);
			else
				cmd->usage(stdout);
			return EXIT_OK;
		}
		usage(stdout);
		return EXIT_OK;
	}
	cmd = find_command(argv[i]);
	if (cmd == NULL)
		return cli_usage_error(NULL, "unknown command '%s' (see rehost --help)", argv[i]);
	if ((sub = find_sub(cmd, argc - i, argv + i)) != NULL) {
		i++;
		run = sub->run;
		print_usage = sub->usage;
	} else {
		run = cmd->run;
		print_usage = cmd->usage;
	}
	if (cli_wants_help(argc - i, argv + i)) {
		print_usage(stdout);
		return EXIT_OK;
	}
	rc = run(argc - i, argv + i);
	rh_log_close();
	return rc;
}
