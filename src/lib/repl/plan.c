/*
 * What to read from a source disk. Everything outside the partitions is
 * copied (boot code, partition tables, EBRs, GPT's backup header); inside
 * each partition only what its filesystem uses (rehost/usedmap.h, with the
 * "all used" fallback for unknown or damaged contents, where zero chunks
 * are then skipped by the copier). A full copy also skips the holes of
 * image files (SEEK_DATA), which read as zeros anyway; sync and verify do
 * not, because a file written through a loop device can report a range as
 * a hole one moment and as data the next, and their chunk lists must be
 * stable from run to run.
 */
#define RH_LOG_COMPONENT "plan"
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "repl-internal.h"
#include "rehost/checked.h"
#include "rehost/disk.h"
#include "rehost/err.h"
#include "rehost/extent.h"
#include "rehost/log.h"
#include "rehost/usedmap.h"

/* Round used extents out to 64 KiB: fewer, larger reads and frames for
 * fragmented bitmaps, at the cost of a little unused data. */
#define PLAN_GRANULARITY (64u << 10)

static int plan_push(struct repl_plan *plan, size_t *cap, uint64_t off, uint64_t len)
{
	if (len == 0)
		return 0;
	if (plan->n > 0 && plan->r[plan->n - 1].off + plan->r[plan->n - 1].len == off) {
		plan->r[plan->n - 1].len += len;
	} else {
		if (plan->n == *cap) {
			size_t ncap = *cap ? *cap * 2 : 64;
			struct repl_range *nr = realloc(plan->r, ncap * sizeof *nr);

			if (nr == NULL)
				return RH_ERR_NOMEM;
			plan->r = nr;
			*cap = ncap;
		}
		plan->r[plan->n++] = (struct repl_range){ off, len };
	}
	plan->bytes += len;
	return 0;
}

/* Add the used ranges of the volume [off, off + len) to x. */
static int add_volume(struct rh_extents *x, int fd, const char *name, unsigned part,
		      uint64_t off, uint64_t len)
{
	struct rh_usedmap_opts uo = { .flags = RH_USEDMAP_FALLBACK_ALL,
				      .granularity = PLAN_GRANULARITY };
	struct rh_usedmap *m = NULL;
	int rc;

	rc = rh_usedmap_build(fd, off, len, &uo, &m);
	if (rc < 0)
		return rh_seterr(rc, "%s partition %u: %s", name, part, rh_lasterr());
	rh_log_info("%s partition %u: %s, %" PRIu64 " of %" PRIu64 " bytes used%s%s", name, part,
		    rh_fstype_name(rh_usedmap_fstype(m)), rh_usedmap_used(m), len,
		    *rh_usedmap_note(m) ? "; " : "", rh_usedmap_note(m));
	rc = rh_extents_add_list(x, rh_usedmap_extents(m), off);
	rh_usedmap_free(m);
	return rc;
}

static int cmp_parts(const void *a, const void *b)
{
	const struct rh_part *pa = *(const struct rh_part *const *)a;
	const struct rh_part *pb = *(const struct rh_part *const *)b;

	return pa->start < pb->start ? -1 : pa->start > pb->start;
}

/* The disk's used extents: gaps between partitions whole, partitions by
 * their used-block maps. */
static int disk_extents(int fd, const char *name, uint64_t size, struct rh_extents *x,
			uint64_t *part_bytes)
{
	struct rh_ptable *pt = NULL;
	const struct rh_part **parts = NULL;
	size_t n = 0;
	uint64_t pos = 0;
	int rc;

	*part_bytes = 0;
	rc = rh_ptable_read(fd, name, &pt);
	if (rc < 0)
		return rc;
	if (pt->type == RH_PTABLE_NONE || pt->nparts == 0) {
		/* A whole-disk filesystem or PV (or nothing known). */
		*part_bytes = size;
		rc = add_volume(x, fd, name, 0, 0, size);
		goto out;
	}
	parts = calloc(pt->nparts, sizeof *parts);
	if (parts == NULL) {
		rc = RH_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < pt->nparts; i++)
		if (!pt->parts[i].container && pt->parts[i].size > 0 &&
		    rh_range_ok(pt->parts[i].start, pt->parts[i].size, size))
			parts[n++] = &pt->parts[i];
	qsort(parts, n, sizeof *parts, cmp_parts);
	for (size_t i = 0; i < n; i++) {
		const struct rh_part *p = parts[i];

		if (p->start > pos && (rc = rh_extents_add(x, pos, p->start - pos)) < 0)
			goto out;
		rc = add_volume(x, fd, name, p->number, p->start, p->size);
		if (rc < 0)
			goto out;
		*part_bytes += p->size;
		if (p->start + p->size > pos)
			pos = p->start + p->size;
	}
	rc = pos < size ? rh_extents_add(x, pos, size - pos) : 0;
out:
	free(parts);
	rh_ptable_free(pt);
	return rc;
}

/* Append [off, off + len) to the plan, minus the holes of a sparse file. */
static int push_data(struct repl_plan *plan, size_t *cap, int fd, bool sparse_file,
		     uint64_t off, uint64_t len)
{
	uint64_t end = off + len;
	int rc;

	if (!sparse_file)
		return plan_push(plan, cap, off, len);
	while (off < end) {
		off_t data = lseek(fd, (off_t)off, SEEK_DATA), hole;

		if (data < 0) {
			if (errno == ENXIO)
				return 0; /* only a hole remains */
			return plan_push(plan, cap, off, end - off); /* no SEEK_DATA */
		}
		if ((uint64_t)data >= end)
			return 0;
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0 || (uint64_t)hole > end)
			hole = (off_t)end;
		if ((rc = plan_push(plan, cap, (uint64_t)data, (uint64_t)(hole - data))) < 0)
			return rc;
		off = (uint64_t)hole;
	}
	return 0;
}

int repl_plan_build(int fd, const char *name, uint64_t size, bool skip_holes,
		    struct repl_plan *plan)
{
	struct rh_extents *x = NULL;
	struct stat st;
	size_t cap = 0;
	int rc;

	plan->r = NULL;
	plan->n = 0;
	plan->bytes = 0;
	plan->part_bytes = 0;
	if (fstat(fd, &st) < 0)
		return rh_seterr_errno(errno, "fstat %s", name);
	rc = rh_extents_new(size, 0, &x);
	if (rc < 0)
		return rc;
	rc = disk_extents(fd, name, size, x, &plan->part_bytes);
	for (size_t i = 0; rc == 0 && i < rh_extents_count(x); i++) {
		const struct rh_extent *e = rh_extents_get(x, i);

		rc = push_data(plan, &cap, fd, skip_holes && S_ISREG(st.st_mode), e->off, e->len);
	}
	rh_extents_free(x);
	if (rc < 0)
		repl_plan_release(plan);
	return rc;
}

void repl_plan_release(struct repl_plan *plan)
{
	free(plan->r);
	plan->r = NULL;
	plan->n = 0;
}

/* The plan's bytes at or after from, as a byte count and, unless sum is
 * NULL (it costs modular powers per range), as a range sum
 * (rh_proto_range_sum): what PLAN declares for a resumed disk. */
static void plan_from(const struct repl_plan *plan, uint64_t from, uint64_t *bytes,
		      uint64_t *sum)
{
	*bytes = 0;
	if (sum != NULL)
		*sum = 0;
	for (size_t i = 0; i < plan->n; i++) {
		uint64_t s = plan->r[i].off, e = s + plan->r[i].len;

		if (e <= from)
			continue;
		if (s < from)
			s = from;
		*bytes += e - s;
		if (sum != NULL)
			*sum = rh_proto_sum_add(*sum, rh_proto_range_sum(s, e - s));
	}
}

uint64_t repl_plan_bytes_from(const struct repl_plan *plan, uint64_t from)
{
	uint64_t bytes;

	plan_from(plan, from, &bytes, NULL);
	return bytes;
}

uint64_t repl_plan_sum_from(const struct repl_plan *plan, uint64_t from)
{
	uint64_t bytes, sum;

	plan_from(plan, from, &bytes, &sum);
	return sum;
}
