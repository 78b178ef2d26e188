/* Running the system's filesystem tools (resize2fs, xfs_growfs, pvresize):
 * they are the only safe way to grow those structures. */
#define RH_LOG_COMPONENT "diskprep"
#include <stdio.h>

#include "diskprep-internal.h"
#include "rehost/err.h"
#include "rehost/proc.h"

int diskprep_run(const char *const *argv, char *out, size_t outlen)
{
	/* Our descriptors are close-on-exec; LVM need not warn about them.
	 * The environment is kept: LVM_SYSTEM_DIR and the like apply. */
	static const char *const env_add[] = { "LVM_SUPPRESS_FD_WARNINGS=1", NULL };
	const struct rh_run_opts o = { .env_add = env_add };
	int st = rh_run(argv, &o, out, outlen);

	if (st == RH_ERR_NOTFOUND)
		return rh_seterr(RH_ERR_NOTFOUND, "%s not found; install it (e2fsprogs, xfsprogs or lvm2)",
				 argv[0]);
	return st;
}
