/* rehost version */
#include <stdio.h>

#include "cli/cli.h"
#include "rehost-version.h"

void usage_version(FILE *out)
{
	fprintf(out, "usage: rehost version\n\nPrint the rehost version and the git commit it was built from.\n");
}

int cmd_version(int argc, char **argv)
{
	if (argc > 1)
		return cli_usage_error("version", "unexpected argument '%s'", argv[1]);
	printf("rehost %s (%s)\n", REHOST_VERSION, REHOST_GIT_COMMIT);
	return EXIT_OK;
}
