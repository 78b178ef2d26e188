/* Fuzz the buffer and cursor: the input is a little program over its own
 * tail. Byte 0 is the op count (mod 32), the next bytes are ops, and the
 * rest is the data the cursor reads. Each op reads, skips, or writes what
 * it read into a small bounded buffer, and every step checks the contract:
 * the cursor never moves backwards or past the end, a failed getter moves
 * nothing and clears its output, and the buffer never exceeds its bound
 * nor loses bytes (it is mirrored in a plain array). */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "rehost/buf.h"
#include "rehost/checked.h"
#include "rehost/endian.h"
#include "rehost/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUT_MAX 64

enum op {
	OP_U8, OP_LE16, OP_LE32, OP_LE64, OP_BE16, OP_BE32, OP_BE64,
	OP_BYTES, OP_COPY, OP_SKIP, OP_PUT, OP_CONSUME, OP_PUTF, OP_TRUNCATE,
	OP_COUNT
};

/* Length argument for the variable-size ops, biased to the edges. */
static size_t op_len(unsigned arg, size_t left)
{
	switch (arg) {
	case 12:
		return left;
	case 13:
		return left + 1;
	case 14:
		return SIZE_MAX;
	case 15:
		return SIZE_MAX / 2 + 1;
	case 16:
		return 255;
	default:
		return arg;
	}
}

/* Read one fixed-width integer with the getter selected by kind. Returns
 * its width; *rc and *v get the result. */
static size_t get_int(struct rh_buf_cursor *c, unsigned kind, int *rc, uint64_t *v)
{
	uint8_t u8 = 0xee;
	uint16_t u16 = 0xeeee;
	uint32_t u32 = 0xeeeeeeee;
	uint64_t u64 = 0xeeeeeeeeeeeeeeeeULL;

	switch (kind) {
	case OP_U8:
		*rc = rh_buf_get_u8(c, &u8);
		*v = u8;
		return 1;
	case OP_LE16:
		*rc = rh_buf_get_le16(c, &u16);
		*v = u16;
		return 2;
	case OP_BE16:
		*rc = rh_buf_get_be16(c, &u16);
		*v = u16;
		return 2;
	case OP_LE32:
		*rc = rh_buf_get_le32(c, &u32);
		*v = u32;
		return 4;
	case OP_BE32:
		*rc = rh_buf_get_be32(c, &u32);
		*v = u32;
		return 4;
	case OP_LE64:
		*rc = rh_buf_get_le64(c, &u64);
		*v = u64;
		return 8;
	default:
		*rc = rh_buf_get_be64(c, &u64);
		*v = u64;
		return 8;
	}
}

/* What the getter should have returned, decoded independently. */
static uint64_t expect_int(const uint8_t *p, unsigned kind)
{
	switch (kind) {
	case OP_U8:
		return p[0];
	case OP_LE16:
		return (uint64_t)p[0] | (uint64_t)p[1] << 8;
	case OP_BE16:
		return (uint64_t)p[0] << 8 | p[1];
	case OP_LE32:
	case OP_LE64: {
		uint64_t v = 0;

		for (int i = (kind == OP_LE32 ? 4 : 8) - 1; i >= 0; i--)
			v = v << 8 | p[i];
		return v;
	}
	default: {
		uint64_t v = 0;

		for (int i = 0; i < (kind == OP_BE32 ? 4 : 8); i++)
			v = v << 8 | p[i];
		return v;
	}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rh_buf_cursor c;
	struct rh_buf *out = NULL;
	uint8_t shadow[OUT_MAX];
	size_t shadow_len = 0, nops;
	const uint8_t *ops, *payload, *end;
	uint64_t last = 0;

	if (size < 1)
		return 0;
	nops = RH_MIN(data[0] % 32, size - 1);
	ops = data + 1;
	payload = ops + nops;
	end = data + size;
	rh_buf_cursor_init(&c, payload, (size_t)(end - payload));
	if (rh_buf_new(OUT_MAX, &out) != 0)
		return 0;

	for (size_t i = 0; i < nops; i++) {
		unsigned kind = ops[i] % OP_COUNT, arg = ops[i] / OP_COUNT;
		size_t before = rh_buf_remaining(&c), n = op_len(arg, before);
		const uint8_t *pos = c.p, *got = (const uint8_t *)&got;
		uint8_t tmp[16];
		size_t width, olen = rh_buf_len(out);
		int rc;

		/* Buffer contract, after every previous op. */
		assert(olen <= OUT_MAX && olen == shadow_len);
		assert(memcmp(rh_buf_data(out), shadow, olen) == 0);

		switch (kind) {
		case OP_BYTES:
			rc = rh_buf_get_bytes(&c, n, &got);
			width = n;
			if (rc == 0) {
				assert(got == pos);
				if (n > 0)
					last = got[0];
			} else {
				assert(got == NULL);
			}
			break;
		case OP_COPY:
			n = n > sizeof tmp ? sizeof tmp : n;
			memset(tmp, 0xee, sizeof tmp);
			rc = rh_buf_get_copy(&c, tmp, n);
			width = n;
			for (size_t k = 0; k < n; k++)
				assert(tmp[k] == (rc == 0 ? pos[k] : 0));
			break;
		case OP_SKIP:
			rc = rh_buf_skip(&c, n);
			width = n;
			break;
		case OP_PUT:
			/* Append the last value read, as little-endian 64-bit. */
			rc = rh_buf_put_le64(out, last);
			assert(rc == 0 || rc == RH_ERR_TOOBIG);
			if (rc == 0) {
				assert(olen + 8 <= OUT_MAX);
				rh_le64enc(shadow + shadow_len, last);
				shadow_len += 8;
			} else {
				assert(olen + 8 > OUT_MAX);
			}
			continue;
		case OP_PUTF:
			rc = rh_buf_putf(out, "%llu;", (unsigned long long)last);
			assert(rc == 0 || rc == RH_ERR_TOOBIG);
			if (rc == 0) {
				assert(rh_buf_len(out) > olen);
				memcpy(shadow + shadow_len, rh_buf_data(out) + olen,
				       rh_buf_len(out) - olen);
				shadow_len = rh_buf_len(out);
			}
			continue;
		case OP_CONSUME:
			rc = rh_buf_consume(out, arg);
			assert((rc == 0) == (arg <= shadow_len));
			if (rc == 0) {
				memmove(shadow, shadow + arg, shadow_len - arg);
				shadow_len -= arg;
			}
			continue;
		case OP_TRUNCATE:
			rc = rh_buf_truncate(out, arg);
			assert((rc == 0) == (arg <= shadow_len));
			if (rc == 0)
				shadow_len = arg;
			continue;
		default:
			width = get_int(&c, kind, &rc, &last);
			if (rc == 0)
				assert(last == expect_int(pos, kind));
			else
				assert(last == 0);
			break;
		}

		/* Cursor contract, for every read op. */
		assert(rc == 0 || rc == RH_ERR_PARSE);
		assert(rh_buf_remaining(&c) <= before);
		if (rc == 0) {
			assert(width <= before);
			assert(rh_buf_remaining(&c) == before - width);
			assert(c.p == pos + width || (width == 0 && c.p == pos));
		} else {
			assert(width > before);
			assert(rh_buf_remaining(&c) == before && c.p == pos);
		}
		assert(c.p >= payload && c.p + rh_buf_remaining(&c) == end);
	}
	assert(rh_buf_len(out) == shadow_len);
	assert(memcmp(rh_buf_data(out), shadow, shadow_len) == 0);
	assert(rh_buf_data(out)[shadow_len] == '\0');
	rh_buf_free(out);
	return 0;
}
