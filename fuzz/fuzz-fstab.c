/* Fuzz the fstab editor of the target fix-up. Whatever the input: it
 * succeeds, every input line survives (as it was or commented out), the
 * output is bounded, and editing the output again changes nothing. The
 * first input byte picks the filesystem list, so both the mount-point and
 * the device-name matching get exercised. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "postconf/internal.h"
#include "rehost/buf.h"
#include "rehost/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const tmp[] = { "tmpfs", "devpts", "devtmpfs", "sysfs", "proc", "ramfs", NULL };
static const char *const keep[] = { "/keep", NULL };
static const char *const ignore[] = { "/ign/", NULL };
static const struct rh_pc_fs fs_a[] = {
	{ "/", "aaaa-1111", NULL, NULL },
	{ "/boot", "BBBB-2222", "ext4", "/dev/sda1" },
	{ "swap", "cccc-3333", NULL, NULL },
};
static const struct rh_pc_fs fs_b[] = {
	{ "/", "r", "xfs", "LABEL=root" },
	{ "swap", "s1", NULL, "/dev/sda3" },
	{ "swap", "s2", NULL, "UUID=old-swap" },
	{ "/home", "h", NULL, "UUID=\"old-home\"" },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pc_fstab_opts o = { fs_a, 3, tmp, 6, keep, 1, ignore, 1 };
	struct rh_buf *out = NULL, *again = NULL;
	const char *text = (const char *)data, *cur, *end, *line;
	size_t n, outlen, lines = 0;
	int rc;

	if (size > 0 && (data[0] & 1)) {
		o.fs = fs_b;
		o.nfs = 4;
	}
	if (pc_out_new(&out) < 0 || pc_out_new(&again) < 0)
		goto done;
	rc = pc_fstab_edit(text, size, &o, out, NULL, NULL);
	if (rc == RH_ERR_NOMEM || rc == RH_ERR_TOOBIG)
		goto done;
	assert(rc >= 0);
	outlen = rh_buf_len(out);
	/* Each input line is kept or commented: its bytes are in the output. */
	cur = text;
	end = text + size;
	while ((line = pc_next_line(&cur, end, &n)) != NULL) {
		lines++;
		assert(n == 0 || memmem(rh_buf_data(out), outlen, line, n) != NULL);
	}
	/* At most a commented copy, a 10-byte prefix and "\tdefaults,nofail"
	 * or a longer UUID per line. */
	assert(outlen <= 2 * size + lines * 120 + 1);
	if (rc == 0)
		assert(outlen == size || outlen == size + 1);
	/* A fixed point. */
	rc = pc_fstab_edit((const char *)rh_buf_data(out), outlen, &o, again, NULL, NULL);
	if (rc == RH_ERR_NOMEM || rc == RH_ERR_TOOBIG)
		goto done;
	assert(rc == 0);
	assert(rh_buf_len(again) == outlen);
	assert(memcmp(rh_buf_data(again), rh_buf_data(out), outlen) == 0);
done:
	rh_buf_free(out);
	rh_buf_free(again);
	return 0;
}
