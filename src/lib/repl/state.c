/* Durable JSON state files: written to a temporary name, fsynced, renamed
 * over the old one and the directory fsynced, so a crash at any moment
 * leaves either the old or the new state, never a torn one. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "repl-internal.h"
#include "rehost/err.h"
#include "rehost/json.h"

int repl_state_save(const char *dir, const char *name, const json_t *j)
{
	char path[4096], tmp[4200];
	int fd, dfd, rc;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return rh_seterr_errno(errno, "cannot write checkpoint %s", tmp);
	rc = rh_json_dump_fd(fd, j, 1);
	if (rc == 0 && fsync(fd) < 0)
		rc = rh_seterr_errno(errno, "cannot sync checkpoint %s", tmp);
	if (close(fd) < 0 && rc == 0)
		rc = rh_seterr_errno(errno, "cannot write checkpoint %s", tmp);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = rh_seterr_errno(errno, "cannot replace checkpoint %s", path);
	if (rc < 0)
		return rc;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		if (fsync(dfd) < 0)
			rc = rh_seterr_errno(errno, "cannot sync directory %s", dir);
		close(dfd);
	}
	return rc;
}

int repl_state_load(const char *dir, const char *name, json_t **out)
{
	char path[4096], *data = NULL;
	FILE *f;
	long len;
	int rc;

	*out = NULL;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "r");
	if (f == NULL)
		return errno == ENOENT ? RH_ERR_NOTFOUND
				       : rh_seterr_errno(errno, "cannot read checkpoint %s", path);
	if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || len > (long)REPL_STATE_MAX ||
	    fseek(f, 0, SEEK_SET) != 0) {
		rc = rh_seterr(RH_ERR_CORRUPT, "checkpoint %s is unreadable or too large", path);
		goto out;
	}
	data = malloc((size_t)len + 1);
	if (data == NULL) {
		rc = RH_ERR_NOMEM;
		goto out;
	}
	if (fread(data, 1, (size_t)len, f) != (size_t)len) {
		rc = rh_seterr(RH_ERR_IO, "cannot read checkpoint %s", path);
		goto out;
	}
	rc = rh_json_load(data, (size_t)len, REPL_STATE_MAX, out);
	if (rc < 0)
		rc = rh_seterr(RH_ERR_CORRUPT, "checkpoint %s is corrupt: %s", path, rh_lasterr());
out:
	free(data);
	fclose(f);
	return rc;
}

void repl_hex64(uint64_t v, char out[17])
{
	snprintf(out, 17, "%016llx", (unsigned long long)v);
}
