/* Directories with their parents (include/rehost/dirs.h). */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "rehost/dirs.h"
#include "rehost/err.h"

static int make_one(const char *dir, mode_t mode, const char *what, const char *full)
{
	struct stat st;

	if (mkdir(dir, mode) == 0)
		return 0;
	if (errno != EEXIST)
		return rh_seterr_errno(errno, "cannot create %s %s (at %s)", what, full, dir);
	/* EEXIST for a file or a dangling link would only fail later, with a
	 * less useful message. */
	if (stat(dir, &st) < 0)
		return rh_seterr_errno(errno, "cannot create %s %s (at %s)", what, full, dir);
	if (!S_ISDIR(st.st_mode))
		return rh_seterr(RH_ERR_EXISTS, "cannot create %s %s: %s exists and is not a directory",
				 what, full, dir);
	return 0;
}

int rh_mkdir_parents(const char *path, mode_t mode, const char *what)
{
	char buf[PATH_MAX];
	size_t n = path != NULL ? strlen(path) : 0;

	if (n == 0 || n >= sizeof buf)
		return rh_seterr(RH_ERR_INVAL, "%s path '%s': empty or longer than %d bytes", what,
				 path != NULL ? path : "", PATH_MAX - 1);
	memcpy(buf, path, n + 1);
	/* Each prefix ending before a '/' (not the leading one), then the whole. */
	for (char *p = buf + 1; *p != '\0'; p++) {
		int rc;

		if (*p != '/' || p[-1] == '/')
			continue;
		*p = '\0';
		rc = make_one(buf, mode, what, path);
		*p = '/';
		if (rc < 0)
			return rc;
	}
	return make_one(buf, mode, what, path);
}
