/* Disk layout fingerprint for resume safety (SMS.0515). */
#include <stdio.h>
#include <string.h>

#include "repl-internal.h"
#include "rehost/crc64.h"
#include "rehost/disk.h"
#include "rehost/err.h"

int repl_layout_fingerprint(int fd, const char *name, uint64_t *size, uint64_t *fp)
{
	struct rh_ptable *pt = NULL;
	char line[256];
	uint64_t crc;
	int rc;

	*fp = 0;
	rc = rh_dev_size(fd, size);
	if (rc < 0)
		return rc;
	rc = rh_ptable_read(fd, name, &pt);
	if (rc < 0)
		return rc;
	snprintf(line, sizeof line, "size=%llu table=%s id=%s parts=%zu",
		 (unsigned long long)*size, pt->label, pt->id, pt->nparts);
	crc = rh_crc64_update(0, line, strlen(line));
	for (size_t i = 0; i < pt->nparts; i++) {
		snprintf(line, sizeof line, "|%u %llu %llu %s", pt->parts[i].number,
			 (unsigned long long)pt->parts[i].start,
			 (unsigned long long)pt->parts[i].size, pt->parts[i].type);
		crc = rh_crc64_update(crc, line, strlen(line));
	}
	rh_ptable_free(pt);
	*fp = crc;
	return 0;
}
