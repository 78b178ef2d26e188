/*
 * Per-chunk hashes for sync and verify: XXH3-128 over RH_SYNC_CHUNK-byte
 * chunks of a disk, and their durable storage. Reads are coalesced into
 * runs of up to 4 MiB so hashing runs at read speed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "repl-internal.h"
#include "rehost/checked.h"
#include "rehost/crc64.h"
#include "rehost/endian.h"
#include "rehost/err.h"
#include "rehost/io.h"

#define RUN_MAX (4u << 20)
#define SUMS_MAGIC "RHSUMS1"

void repl_sums_release(struct repl_sums *s)
{
	free(s->idx);
	free(s->hash);
	memset(s, 0, sizeof *s);
}

int repl_sums_alloc(struct repl_sums *s, size_t n)
{
	memset(s, 0, sizeof *s);
	s->idx = calloc(n ? n : 1, sizeof *s->idx);
	s->hash = calloc(n ? n : 1, sizeof *s->hash);
	if (s->idx == NULL || s->hash == NULL) {
		repl_sums_release(s);
		return RH_ERR_NOMEM;
	}
	s->n = n;
	return 0;
}

int repl_sums_from_plan(const struct repl_plan *plan, uint64_t disk_size, struct repl_sums *s)
{
	size_t n = 0;
	uint64_t last = UINT64_MAX;
	int rc;

	/* Upper bound first: every range touches at most len/C + 2 chunks. */
	for (size_t i = 0; i < plan->n; i++)
		n += plan->r[i].len / RH_SYNC_CHUNK + 2;
	rc = repl_sums_alloc(s, n);
	if (rc < 0)
		return rc;
	s->n = 0;
	for (size_t i = 0; i < plan->n; i++) {
		uint64_t first = plan->r[i].off / RH_SYNC_CHUNK;
		uint64_t end = plan->r[i].off + plan->r[i].len;
		uint64_t lastc = (end - 1) / RH_SYNC_CHUNK;

		for (uint64_t c = first; c <= lastc; c++) {
			if (c == last)
				continue; /* ranges are sorted: duplicates are adjacent */
			if ((uint64_t)c * RH_SYNC_CHUNK >= disk_size)
				break;
			s->idx[s->n++] = c;
			last = c;
		}
	}
	return 0;
}

/* Past the end of the file reads as zeros, as the missing tail of a disk
 * file not yet written to its full size would; a chunk-hash file that ends
 * early then fails its magic or checksum test. */
static int read_at(int fd, uint8_t *buf, size_t len, uint64_t off)
{
	size_t got;
	int rc = rh_pread_full(fd, buf, len, off, &got);

	if (rc < 0)
		return rh_seterr(rc, "read at %s", rh_lasterr());
	memset(buf + got, 0, len - got);
	return 0;
}

int repl_sums_hash(int fd, uint64_t disk_size, struct repl_sums *s, uint64_t *bytes_read)
{
	uint8_t *buf = malloc(RUN_MAX);
	size_t i = 0;
	int rc = 0;

	if (buf == NULL)
		return RH_ERR_NOMEM;
	while (i < s->n) {
		/* A run of consecutive chunk indices, at most RUN_MAX bytes. */
		size_t j = i + 1, per = RUN_MAX / RH_SYNC_CHUNK;
		uint64_t off, len, end;

		while (j < s->n && j - i < per && s->idx[j] == s->idx[j - 1] + 1)
			j++;
		if (s->idx[i] > UINT64_MAX / RH_SYNC_CHUNK) {
			rc = rh_seterr(RH_ERR_RANGE, "chunk index %llu out of range",
				       (unsigned long long)s->idx[i]);
			break;
		}
		off = s->idx[i] * RH_SYNC_CHUNK;
		end = RH_MIN(off + (uint64_t)(j - i) * RH_SYNC_CHUNK, disk_size);
		if (off >= disk_size) {
			rc = rh_seterr(RH_ERR_RANGE, "chunk %llu beyond the disk",
				       (unsigned long long)s->idx[i]);
			break;
		}
		len = end - off;
		rc = read_at(fd, buf, (size_t)len, off);
		if (rc < 0)
			break;
		if (bytes_read != NULL)
			*bytes_read += len;
		for (size_t k = i; k < j; k++) {
			uint64_t co = (s->idx[k] - s->idx[i]) * RH_SYNC_CHUNK;
			uint64_t cl = RH_MIN((uint64_t)RH_SYNC_CHUNK, len - co);
			XXH128_hash_t h = XXH3_128bits(buf + co, (size_t)cl);

			rh_be64enc(s->hash[k], h.high64);
			rh_be64enc(s->hash[k] + 8, h.low64);
		}
		i = j;
	}
	free(buf);
	return rc;
}

/* File: magic[8] | count u64 | count x (idx u64, hash[16]) | crc64 u64,
 * big-endian, replaced atomically like the checkpoints. */
int repl_sums_save(const char *dir, const char *name, const struct repl_sums *s)
{
	char path[4096], tmp[4200];
	size_t len = 16 + s->n * RH_PROTO_SUM_SIZE + 8, off = 16;
	uint8_t *b = malloc(len);
	int fd, rc = 0, dfd;

	if (b == NULL)
		return RH_ERR_NOMEM;
	memcpy(b, SUMS_MAGIC, 8);
	rh_be64enc(b + 8, s->n);
	for (size_t i = 0; i < s->n; i++, off += RH_PROTO_SUM_SIZE) {
		rh_be64enc(b + off, s->idx[i]);
		memcpy(b + off + 8, s->hash[i], RH_SYNC_HASH_LEN);
	}
	rh_be64enc(b + off, rh_crc64_update(0, b, off));
	snprintf(path, sizeof path, "%s/%s", dir, name);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = rh_seterr_errno(errno, "cannot write %s", tmp);
		goto out;
	}
	if (write(fd, b, len) != (ssize_t)len || fsync(fd) < 0)
		rc = rh_seterr_errno(errno ? errno : EIO, "cannot write %s", tmp);
	close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = rh_seterr_errno(errno, "cannot replace %s", path);
	if (rc == 0 && (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
out:
	free(b);
	return rc;
}

int repl_sums_load(const char *dir, const char *name, uint64_t max_count, struct repl_sums *s)
{
	char path[4096];
	uint8_t head[16], *b = NULL;
	uint64_t n, len;
	int fd, rc;

	memset(s, 0, sizeof *s);
	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? RH_ERR_NOTFOUND : rh_seterr_errno(errno, "cannot read %s", path);
	rc = read_at(fd, head, sizeof head, 0);
	if (rc < 0)
		goto out;
	n = rh_be64dec(head + 8);
	if (memcmp(head, SUMS_MAGIC, 8) != 0 || n > max_count) {
		rc = rh_seterr(RH_ERR_CORRUPT, "%s is not a chunk-hash file of this disk", path);
		goto out;
	}
	len = 16 + n * RH_PROTO_SUM_SIZE + 8;
	b = malloc(len);
	if (b == NULL) {
		rc = RH_ERR_NOMEM;
		goto out;
	}
	if ((rc = read_at(fd, b, len, 0)) < 0)
		goto out;
	if (rh_crc64_update(0, b, len - 8) != rh_be64dec(b + len - 8)) {
		rc = rh_seterr(RH_ERR_CORRUPT, "%s fails its checksum", path);
		goto out;
	}
	if ((rc = repl_sums_alloc(s, n)) < 0)
		goto out;
	for (uint64_t i = 0; i < n; i++) {
		const uint8_t *e = b + 16 + i * RH_PROTO_SUM_SIZE;

		s->idx[i] = rh_be64dec(e);
		memcpy(s->hash[i], e + 8, RH_SYNC_HASH_LEN);
	}
out:
	free(b);
	close(fd);
	return rc;
}

/* Hash of chunk idx in sorted sums, or NULL. */
const uint8_t *repl_sums_find(const struct repl_sums *s, uint64_t idx)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->idx[mid] < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->n && s->idx[lo] == idx ? s->hash[lo] : NULL;
}
