/*
 * rehost verify, block mode: hash the used chunks of the source disks and
 * of the target's copies and list those that differ. It shares the option
 * parser and connection handling of migrate and sync (cmd-migrate.c).
 */
#include "cli/cli.h"

int cmd_verify_block(int argc, char **argv)
{
	return cli_repl_run("verify", RH_REPL_VERIFY, argc, argv);
}
