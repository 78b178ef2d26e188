/* rehost keygen DIR */
#include <stdio.h>

#include "cli/cli.h"
#include "rehost/err.h"
#include "rehost/tls.h"

void usage_keygen(FILE *out)
{
	fprintf(out,
		"usage: rehost keygen DIR\n"
		"\n"
		"Create the keys that authenticate a migration's two ends (TLS 1.3,\n"
		"mutual): a private CA (ca.pem, ca.key), the target's certificate\n"
		"(target.pem, target.key) and the agent's (agent.pem, agent.key).\n"
		"Copy ca.pem + target.* to the target and ca.pem + agent.* to the source;\n"
		"keep ca.key offline. Existing files are never overwritten.\n");
}

int cmd_keygen(int argc, char **argv)
{
	int rc;

	if (argc != 2)
		return cli_usage_error("keygen", "expected one directory");
	rc = rh_tls_keygen(argv[1]);
	if (rc < 0) {
		cli_report(rc, "keygen");
		return EXIT_FAIL;
	}
	printf("created %s/{ca,target,agent}.{pem,key}\n", argv[1]);
	return EXIT_OK;
}
