/*
 * Snapshot manifests: snapshots/NAME/manifest.json names the snapshot, its
 * creation time and, per disk, the file, size and content digest. A
 * rollback trusts nothing else, so every field is validated here, once:
 * known format and version, the name as the directory is called, file
 * names of the form diskN.raw in order (no path can escape the snapshot
 * directory), sizes in range, digests of exactly 32 hex digits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "snap-internal.h"
#include "rehost/checked.h"
#include "rehost/err.h"
#include "rehost/json.h"

#define FORMAT "rehost-snapshot"
#define VERSION 1

int rh_snap_name_check(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > RH_SNAP_NAME_MAX)
		return rh_seterr(RH_ERR_INVAL, "snapshot name '%s' must have 1 to %d characters",
				 name ? name : "", RH_SNAP_NAME_MAX);
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '-'))
			return rh_seterr(RH_ERR_INVAL,
					 "snapshot name '%s' may only hold a-z, 0-9 and '-' (e.g. sync, cutover)",
					 name);
	return 0;
}

/* "2024-05-01T12:00:00Z" exactly. */
static int parse_time(const char *s, time_t *out)
{
	struct tm tm = { 0 };
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);

	*out = 0;
	if (end == NULL || *end != '\0')
		return rh_seterr(RH_ERR_PARSE, "manifest: created '%s' is not an ISO-8601 UTC time", s);
	*out = timegm(&tm);
	return 0;
}

static bool is_hex32(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == 32;
}

static int copy_field(char *dst, size_t len, const char *src, const char *what)
{
	if (strlen(src) >= len)
		return rh_seterr(RH_ERR_PARSE, "manifest: %s longer than %zu bytes", what, len - 1);
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

static int parse_disk(const json_t *d, size_t i, struct rh_snap_disk *out)
{
	const char *file = NULL, *digest = NULL, *source = NULL, *method = NULL;
	char want[32];
	int64_t size;
	int rc;

	if ((rc = rh_json_get_str(d, "file", &file)) < 0 ||
	    (rc = rh_json_get_int(d, "size", 1, INT64_MAX, &size)) < 0 ||
	    (rc = rh_json_get_str(d, "digest", &digest)) < 0 ||
	    (rc = rh_json_get_str(d, "source", &source)) < 0 ||
	    (rc = rh_json_get_str(d, "method", &method)) < 0)
		return rh_seterr(RH_ERR_PARSE, "manifest: disk %zu: %s", i, rh_lasterr());
	snprintf(want, sizeof want, "disk%zu.raw", i);
	if (strcmp(file, want) != 0)
		return rh_seterr(RH_ERR_PARSE, "manifest: disk %zu is named '%s', expected %s", i,
				 file, want);
	if (!is_hex32(digest))
		return rh_seterr(RH_ERR_PARSE, "manifest: disk %zu digest '%s' is not 32 hex digits",
				 i, digest);
	if (strcmp(method, "reflink") != 0 && strcmp(method, "sparse-copy") != 0)
		return rh_seterr(RH_ERR_PARSE, "manifest: disk %zu: unknown method '%s'", i, method);
	memcpy(out->file, want, strlen(want) + 1);
	memcpy(out->digest, digest, 33);
	memcpy(out->method, method, strlen(method) + 1);
	out->size = (uint64_t)size;
	return copy_field(out->source, sizeof out->source, source, "source");
}

int snap_manifest_parse(const char *text, size_t len, const char *expect_name,
			struct rh_snap_info *out)
{
	json_t *j = NULL, *disks;
	const char *format = NULL, *name = NULL, *created = NULL, *alg = NULL;
	int64_t version;
	int rc;

	memset(out, 0, sizeof *out);
	rc = rh_json_load(text, len, SNAP_MANIFEST_MAX, &j);
	if (rc < 0)
		return rh_seterr(rc == RH_ERR_NOMEM ? rc : RH_ERR_PARSE, "manifest: %s", rh_lasterr());
	if ((rc = rh_json_get_str(j, "format", &format)) < 0 ||
	    (rc = rh_json_get_int(j, "version", 0, INT32_MAX, &version)) < 0 ||
	    (rc = rh_json_get_str(j, "name", &name)) < 0 ||
	    (rc = rh_json_get_str(j, "created", &created)) < 0 ||
	    (rc = rh_json_get_str(j, "digest_alg", &alg)) < 0) {
		rc = rh_seterr(RH_ERR_PARSE, "manifest: %s", rh_lasterr());
		goto out;
	}
	if (strcmp(format, FORMAT) != 0 || version != VERSION) {
		rc = rh_seterr(RH_ERR_UNSUPPORTED, "manifest: format '%s' version %lld, expected %s version %d",
			       format, (long long)version, FORMAT, VERSION);
		goto out;
	}
	if (strcmp(alg, RH_SNAP_DIGEST_ALG) != 0) {
		rc = rh_seterr(RH_ERR_UNSUPPORTED, "manifest: digest algorithm '%s', expected %s",
			       alg, RH_SNAP_DIGEST_ALG);
		goto out;
	}
	if ((rc = rh_snap_name_check(name)) < 0) {
		rc = rh_seterr(RH_ERR_PARSE, "manifest: %s", rh_lasterr());
		goto out;
	}
	if (expect_name != NULL && strcmp(name, expect_name) != 0) {
		rc = rh_seterr(RH_ERR_PARSE, "manifest names snapshot '%s', but it is stored as '%s'",
			       name, expect_name);
		goto out;
	}
	memcpy(out->name, name, strlen(name) + 1);
	if ((rc = copy_field(out->created, sizeof out->created, created, "created")) < 0 ||
	    (rc = parse_time(created, &out->created_t)) < 0)
		goto out;
	disks = json_object_get(j, "disks");
	if (!json_is_array(disks) || json_array_size(disks) == 0 ||
	    json_array_size(disks) > RH_SNAP_MAX_DISKS) {
		rc = rh_seterr(RH_ERR_PARSE, "manifest: 'disks' must be an array of 1 to %d disks",
			       RH_SNAP_MAX_DISKS);
		goto out;
	}
	out->ndisks = json_array_size(disks);
	for (size_t i = 0; i < out->ndisks; i++) {
		rc = parse_disk(json_array_get(disks, i), i, &out->disks[i]);
		if (rc < 0)
			goto out;
		if (RH_ADD_OVERFLOW(out->size, out->disks[i].size, &out->size)) {
			rc = rh_seterr(RH_ERR_OVERFLOW, "manifest: disk sizes overflow");
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(j);
	return rc;
}

int snap_manifest_format(const struct rh_snap_info *info, char **out)
{
	json_t *j, *disks;

	*out = NULL;
	j = json_pack("{s:s, s:i, s:s, s:s, s:s, s:[]}", "format", FORMAT, "version", VERSION,
		      "name", info->name, "created", info->created, "digest_alg",
		      RH_SNAP_DIGEST_ALG, "disks");
	if (j == NULL)
		return RH_ERR_NOMEM;
	disks = json_object_get(j, "disks");
	for (size_t i = 0; i < info->ndisks; i++) {
		const struct rh_snap_disk *d = &info->disks[i];

		if (json_array_append_new(disks, json_pack("{s:s, s:s, s:I, s:s, s:s}", "file", d->file,
							   "source", d->source, "size",
							   (json_int_t)d->size, "digest", d->digest,
							   "method", d->method)) < 0) {
			json_decref(j);
			return RH_ERR_NOMEM;
		}
	}
	*out = json_dumps(j, JSON_INDENT(2));
	json_decref(j);
	return *out ? 0 : RH_ERR_NOMEM;
}

int snap_manifest_load(const char *dir, const char *expect_name, struct rh_snap_info *out)
{
	char path[4200], *text = NULL;
	struct stat st;
	ssize_t r = 0;
	size_t got = 0;
	int fd, rc;

	memset(out, 0, sizeof *out);
	snprintf(path, sizeof path, "%s/%s", dir, SNAP_MANIFEST);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? rh_seterr(RH_ERR_NOTFOUND, "%s is missing", path)
				       : rh_seterr_errno(errno, "cannot open %s", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)SNAP_MANIFEST_MAX) {
		rc = rh_seterr(RH_ERR_TOOBIG, "%s is not a regular file of at most %u bytes", path,
			       SNAP_MANIFEST_MAX);
		goto out;
	}
	text = malloc((size_t)st.st_size + 1);
	if (text == NULL) {
		rc = RH_ERR_NOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size &&
	       (r = read(fd, text + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)r;
	if (r < 0) {
		rc = rh_seterr_errno(errno, "cannot read %s", path);
		goto out;
	}
	rc = snap_manifest_parse(text, got, expect_name, out);
	if (rc < 0)
		rc = rh_seterr(rc, "%s: %s", path, rh_lasterr());
out:
	free(text);
	close(fd);
	return rc;
}

int snap_manifest_save(const char *dir, const struct rh_snap_info *info)
{
	char path[4200], *text = NULL;
	size_t len, off = 0;
	int fd, rc;

	rc = snap_manifest_format(info, &text);
	if (rc < 0)
		return rc;
	snprintf(path, sizeof path, "%s/%s", dir, SNAP_MANIFEST);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		free(text);
		return rh_seterr_errno(errno, "cannot create %s", path);
	}
	len = strlen(text);
	text[len++] = '\n'; /* over the NUL: len counts the bytes */
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = rh_seterr_errno(w < 0 ? errno : ENOSPC, "cannot write %s", path);
			goto out;
		}
		off += (size_t)w;
	}
	rc = snap_sync_file(fd, path);
out:
	close(fd);
	free(text);
	return rc;
}
