/* What to read from a source disk: the ranges that may hold data. Image
 * files skip their holes (SEEK_DATA), which read as zeros anyway. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "repl-internal.h"
#include "rehost/err.h"

int repl_plan_build(int fd, uint64_t size, struct repl_plan *plan)
{
	struct stat st;
	size_t cap = 16;

	plan->n = 0;
	plan->bytes = 0;
	plan->r = malloc(cap * sizeof *plan->r);
	if (plan->r == NULL)
		return RH_ERR_NOMEM;
	if (fstat(fd, &st) < 0)
		return rh_seterr_errno(errno, "fstat");
	if (!S_ISREG(st.st_mode)) {
		plan->r[0] = (struct repl_range){ 0, size };
		plan->n = 1;
		plan->bytes = size;
		return 0;
	}
	for (off_t pos = 0; (uint64_t)pos < size;) {
		off_t data = lseek(fd, pos, SEEK_DATA), hole;

		if (data < 0) {
			if (errno == ENXIO)
				break; /* only a hole remains */
			/* No SEEK_DATA support: treat the rest as data. */
			data = pos;
			hole = (off_t)size;
		} else {
			hole = lseek(fd, data, SEEK_HOLE);
			if (hole < 0 || (uint64_t)hole > size)
				hole = (off_t)size;
		}
		if (hole <= data)
			break;
		if (plan->n == cap) {
			struct repl_range *nr = realloc(plan->r, 2 * cap * sizeof *nr);

			if (nr == NULL)
				return RH_ERR_NOMEM;
			plan->r = nr;
			cap *= 2;
		}
		plan->r[plan->n++] = (struct repl_range){ (uint64_t)data, (uint64_t)(hole - data) };
		plan->bytes += (uint64_t)(hole - data);
		pos = hole;
	}
	return 0;
}

void repl_plan_release(struct repl_plan *plan)
{
	free(plan->r);
	plan->r = NULL;
	plan->n = 0;
}

uint64_t repl_plan_bytes_from(const struct repl_plan *plan, uint64_t from)
{
	uint64_t b = 0;

	for (size_t i = 0; i < plan->n; i++) {
		uint64_t s = plan->r[i].off, e = s + plan->r[i].len;

		if (e <= from)
			continue;
		b += e - (s > from ? s : from);
	}
	return b;
}
