/* Unit tests for wire protocol v2: round trips and rejection of every
 * malformed frame shape, before any field is used. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "repl/repl-internal.h"
#include "rehost/endian.h"
#include "rehost/err.h"
#include "rehost/proto.h"

static uint8_t buf[RH_PROTO_HDR_SIZE + RH_PROTO_DATA_PREFIX + 8192];

static struct rh_hello sample_hello(void)
{
	struct rh_hello h = { .version = RH_PROTO_VERSION, .chunk_size = 4 << 20, .ndisks = 2 };

	memcpy(h.job_id, "0123456789abcdef0123456789abcdef", 33);
	h.disks[0] = (struct rh_hello_disk){ 1ULL << 30, 0x1122334455667788ULL };
	h.disks[1] = (struct rh_hello_disk){ 512, 1 };
	return h;
}

static void test_hello_roundtrip(void **state)
{
	struct rh_hello h = sample_hello();
	struct rh_frame f;
	size_t n = rh_proto_put_hello(buf, sizeof buf, &h);

	assert_int_equal(n, RH_PROTO_HDR_SIZE + RH_PROTO_HELLO_SIZE(2));
	assert_int_equal(rh_proto_validate(buf, n, true, &f), 0);
	assert_int_equal(f.type, RH_MSG_HELLO);
	assert_string_equal(f.u.hello.job_id, h.job_id);
	assert_int_equal(f.u.hello.ndisks, 2);
	assert_true(f.u.hello.disks[0].layout == 0x1122334455667788ULL);
	/* Wrong direction: a target never sends HELLO. */
	assert_int_equal(rh_proto_validate(buf, n, false, &f), RH_ERR_PROTO);
	assert_non_null(strstr(rh_lasterr(), "sent by the target"));
	/* Truncated, extended, bad magic, reserved bits, flags. */
	assert_int_equal(rh_proto_validate(buf, n - 1, true, &f), RH_ERR_PROTO);
	buf[3] ^= 1;
	assert_int_equal(rh_proto_validate(buf, n, true, &f), RH_ERR_PROTO);
	assert_non_null(strstr(rh_lasterr(), "magic"));
	buf[3] ^= 1;
	buf[15] = 1;
	assert_int_equal(rh_proto_validate(buf, n, true, &f), RH_ERR_PROTO);
	buf[15] = 0;
	buf[7] = 4; /* unknown HELLO flag */
	assert_int_equal(rh_proto_validate(buf, n, true, &f), RH_ERR_PROTO);
	buf[7] = RH_HELLO_VERIFY; /* verify only makes sense with sync */
	assert_int_equal(rh_proto_validate(buf, n, true, &f), RH_ERR_PROTO);
	buf[7] = RH_HELLO_SYNC | RH_HELLO_VERIFY;
	assert_int_equal(rh_proto_validate(buf, n, true, &f), 0);
	assert_int_equal(f.flags, RH_HELLO_SYNC | RH_HELLO_VERIFY);
	buf[7] = 0;
	assert_int_equal(rh_proto_validate(buf, n, true, &f), 0);
}

static void test_hello_bad_fields(void **state)
{
	struct rh_hello h = sample_hello();
	struct rh_frame f;
	size_t n;

	h.ndisks = 0;
	n = rh_proto_put_hello(buf, sizeof buf, &h);
	assert_int_equal(rh_proto_validate(buf, n, true, &f), RH_ERR_PROTO);
	h = sample_hello();
	h.chunk_size = RH_PROTO_MAX_CHUNK + 1;
	n = rh_proto_put_hello(buf, sizeof buf, &h);
	assert_int_equal(rh_proto_validate(buf, n, true, &f), RH_ERR_PROTO);
	/* Version 1 had no completion checks: refused, saying why. */
	h = sample_hello();
	h.version = 1;
	n = rh_proto_put_hello(buf, sizeof buf, &h);
	assert_int_equal(rh_proto_validate(buf, n, true, &f), RH_ERR_PROTO);
	assert_non_null(strstr(rh_lasterr(), "version 1, this rehost speaks 2"));
	h = sample_hello();
	h.job_id[3] = '\n';
	n = rh_proto_put_hello(buf, sizeof buf, &h);
	assert_int_equal(rh_proto_validate(buf, n, true, &f), RH_ERR_PROTO);
	/* Claimed disk count larger than the payload carries. */
	h = sample_hello();
	n = rh_proto_put_hello(buf, sizeof buf, &h);
	rh_be32enc(buf + RH_PROTO_HDR_SIZE + 8 + RH_PROTO_JOB_ID_LEN, 3);
	assert_int_equal(rh_proto_validate(buf, n, true, &f), RH_ERR_PROTO);
}

static void test_data(void **state)
{
	struct rh_data d = { .disk = 1, .length = 4096, .offset = 1 << 20, .crc64 = 42, .seq = 7,
			     .payload_len = 4096 };
	struct rh_frame f;
	size_t n = rh_proto_put_data_hdr(buf, sizeof buf, &d);

	memset(buf + n, 0xab, 4096);
	assert_int_equal(rh_proto_validate(buf, n + 4096, true, &f), 0);
	assert_int_equal(f.u.data.length, 4096);
	assert_true(f.u.data.offset == 1 << 20);
	assert_int_equal(f.u.data.payload[0], 0xab);
	/* Raw payload must equal the length. */
	assert_int_equal(rh_proto_validate(buf, n + 4095, true, &f), RH_ERR_PROTO);
	/* Zero chunks carry nothing; zstd and zero together are invalid. */
	d.flags = RH_DATA_ZERO;
	d.payload_len = 0;
	n = rh_proto_put_data_hdr(buf, sizeof buf, &d);
	assert_int_equal(rh_proto_validate(buf, n, true, &f), 0);
	d.flags = RH_DATA_ZERO | RH_DATA_ZSTD;
	n = rh_proto_put_data_hdr(buf, sizeof buf, &d);
	assert_int_equal(rh_proto_validate(buf, n, true, &f), RH_ERR_PROTO);
	d.flags = 1 << 5;
	n = rh_proto_put_data_hdr(buf, sizeof buf, &d);
	assert_int_equal(rh_proto_validate(buf, n, true, &f), RH_ERR_PROTO);
	/* Offset + length overflowing, and oversize lengths. */
	d.flags = RH_DATA_ZERO;
	d.offset = UINT64_MAX - 10;
	n = rh_proto_put_data_hdr(buf, sizeof buf, &d);
	assert_int_equal(rh_proto_validate(buf, n, true, &f), RH_ERR_PROTO);
	d.offset = 0;
	d.length = RH_PROTO_MAX_CHUNK + 1;
	n = rh_proto_put_data_hdr(buf, sizeof buf, &d);
	assert_int_equal(rh_proto_validate(buf, n, true, &f), RH_ERR_PROTO);
}

static void test_header_bound(void **state)
{
	uint8_t hdr[RH_PROTO_HDR_SIZE];
	uint32_t len = 99;

	rh_be32enc(hdr, RH_PROTO_MAGIC);
	rh_be16enc(hdr + 4, RH_MSG_DATA);
	rh_be16enc(hdr + 6, 0);
	rh_be32enc(hdr + 8, RH_PROTO_MAX_PAYLOAD + 1);
	rh_be32enc(hdr + 12, 0);
	assert_int_equal(rh_proto_check_header(hdr, &len), RH_ERR_PROTO);
	assert_int_equal(len, 0);
	rh_be32enc(hdr + 8, RH_PROTO_MAX_PAYLOAD);
	assert_int_equal(rh_proto_check_header(hdr, &len), 0);
	assert_int_equal(len, RH_PROTO_MAX_PAYLOAD);
}

static void test_small_frames(void **state)
{
	struct rh_position p = { .disk = 3, .offset = 1234, .bytes = 99 };
	struct rh_hello_ok ok = { .version = 1, .ndisks = 1 };
	struct rh_frame f;
	size_t n;

	n = rh_proto_put_pos(buf, sizeof buf, RH_MSG_DURABLE, &p);
	assert_int_equal(rh_proto_validate(buf, n, false, &f), 0);
	assert_true(f.u.pos.offset == 1234);
	assert_int_equal(rh_proto_validate(buf, n, true, &f), RH_ERR_PROTO);
	ok.version = RH_PROTO_VERSION;
	ok.disks[0] = (struct rh_hello_ok_disk){ RH_DISK_PARTIAL, 4096, 2048, 12345 };
	n = rh_proto_put_hello_ok(buf, sizeof buf, &ok);
	assert_int_equal(n, RH_PROTO_HDR_SIZE + RH_PROTO_HELLO_OK_SIZE(1));
	assert_int_equal(rh_proto_validate(buf, n, false, &f), 0);
	assert_true(f.u.hello_ok.disks[0].recv_bytes == 2048);
	assert_true(f.u.hello_ok.disks[0].recv_sum == 12345);
	/* More received below the resume point than there is room for. */
	ok.disks[0].recv_bytes = 4097;
	n = rh_proto_put_hello_ok(buf, sizeof buf, &ok);
	assert_int_equal(rh_proto_validate(buf, n, false, &f), RH_ERR_PROTO);
	ok.disks[0].recv_bytes = 0;
	ok.disks[0].recv_sum = RH_SUM_MOD;
	n = rh_proto_put_hello_ok(buf, sizeof buf, &ok);
	assert_int_equal(rh_proto_validate(buf, n, false, &f), RH_ERR_PROTO);
	ok.disks[0].recv_sum = 0;
	ok.disks[0].state = 7;
	n = rh_proto_put_hello_ok(buf, sizeof buf, &ok);
	assert_int_equal(rh_proto_validate(buf, n, false, &f), RH_ERR_PROTO);
	n = rh_proto_put_error(buf, sizeof buf, RH_ERR_NOSPACE, "SMS.0805", "disk full");
	assert_int_equal(rh_proto_validate(buf, n, false, &f), 0);
	assert_string_equal(f.u.error.sms, "SMS.0805");
	assert_string_equal(f.u.error.text, "disk full");
	assert_int_equal(f.u.error.code, RH_ERR_NOSPACE);
	n = rh_proto_put_bye(buf, sizeof buf);
	assert_int_equal(rh_proto_validate(buf, n, true, &f), 0);
	/* Unknown type. */
	rh_be16enc(buf + 4, 99);
	assert_int_equal(rh_proto_validate(buf, n, true, &f), RH_ERR_PROTO);
	/* Encoders refuse buffers that are too small. */
	assert_int_equal(rh_proto_put_bye(buf, 3), 0);
}

static void test_plan_and_disk_end(void **state)
{
	struct rh_plan pl = { .disk = 2, .from = 1 << 20, .bytes = 3 << 20, .sum = 77,
			      .total_bytes = 4 << 20, .total_sum = 99 };
	struct rh_disk_end e = { .disk = 2, .bytes = 4 << 20, .sum = 5 };
	struct rh_frame f;
	size_t n;

	n = rh_proto_put_plan(buf, sizeof buf, &pl);
	assert_int_equal(n, RH_PROTO_HDR_SIZE + RH_PROTO_PLAN_SIZE);
	assert_int_equal(rh_proto_validate(buf, n, true, &f), 0);
	assert_int_equal(f.type, RH_MSG_PLAN);
	assert_true(f.u.plan.from == 1 << 20 && f.u.plan.bytes == 3 << 20 && f.u.plan.sum == 77);
	assert_true(f.u.plan.total_bytes == 4 << 20 && f.u.plan.total_sum == 99);
	/* Only the agent plans; sizes must fit; flags are not allowed. */
	assert_int_equal(rh_proto_validate(buf, n, false, &f), RH_ERR_PROTO);
	assert_int_equal(rh_proto_validate(buf, n - 1, true, &f), RH_ERR_PROTO);
	buf[7] = 1;
	assert_int_equal(rh_proto_validate(buf, n, true, &f), RH_ERR_PROTO);
	pl.bytes = pl.total_bytes + 1; /* more to send than the whole plan */
	n = rh_proto_put_plan(buf, sizeof buf, &pl);
	assert_int_equal(rh_proto_validate(buf, n, true, &f), RH_ERR_PROTO);
	pl.bytes = 1;
	pl.sum = RH_SUM_MOD;
	n = rh_proto_put_plan(buf, sizeof buf, &pl);
	assert_int_equal(rh_proto_validate(buf, n, true, &f), RH_ERR_PROTO);
	pl.sum = 0;
	pl.disk = RH_PROTO_MAX_DISKS;
	n = rh_proto_put_plan(buf, sizeof buf, &pl);
	assert_int_equal(rh_proto_validate(buf, n, true, &f), RH_ERR_PROTO);

	n = rh_proto_put_disk_end(buf, sizeof buf, &e);
	assert_int_equal(n, RH_PROTO_HDR_SIZE + RH_PROTO_DISK_END_SIZE);
	assert_int_equal(rh_proto_validate(buf, n, true, &f), 0);
	assert_int_equal(f.type, RH_MSG_DISK_END);
	assert_true(f.u.disk_end.bytes == 4 << 20 && f.u.disk_end.sum == 5);
	assert_int_equal(rh_proto_validate(buf, n, false, &f), RH_ERR_PROTO);
	e.sum = RH_SUM_MOD + 1;
	n = rh_proto_put_disk_end(buf, sizeof buf, &e);
	assert_int_equal(rh_proto_validate(buf, n, true, &f), RH_ERR_PROTO);
	e.sum = 0;
	e.bytes = UINT64_MAX;
	n = rh_proto_put_disk_end(buf, sizeof buf, &e);
	assert_int_equal(rh_proto_validate(buf, n, true, &f), RH_ERR_PROTO);
	assert_int_equal(rh_proto_put_disk_end(buf, 10, &e), 0);
}

/* The range sum does not depend on how a range is cut, and parts add. */
static void test_range_sum(void **state)
{
	uint64_t whole = rh_proto_range_sum(4096, 10 << 20), parts = 0, off = 4096;
	static const uint64_t cuts[] = { 1, 4095, 1 << 20, 3 << 20, 777, 0 };

	assert_true(rh_proto_range_sum(123, 0) == 0);
	assert_true(whole < RH_SUM_MOD);
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		parts = rh_proto_sum_add(parts, rh_proto_range_sum(off, cuts[i]));
		off += cuts[i];
	}
	parts = rh_proto_sum_add(parts, rh_proto_range_sum(off, 4096 + (10 << 20) - off));
	assert_true(parts == whole);
	/* Same length elsewhere, or one byte more, differs. */
	assert_true(rh_proto_range_sum(8192, 10 << 20) != whole);
	assert_true(rh_proto_range_sum(4096, (10 << 20) + 1) != whole);
	/* Subtraction undoes addition; offsets near the top of the range work. */
	assert_true(rh_proto_sum_sub(whole, rh_proto_range_sum(4096, 1)) ==
		    rh_proto_range_sum(4097, (10 << 20) - 1));
	assert_true(rh_proto_sum_add(rh_proto_range_sum(RH_SIZE_MAX_WIRE - 10, 5),
				     rh_proto_range_sum(RH_SIZE_MAX_WIRE - 5, 5)) ==
		    rh_proto_range_sum(RH_SIZE_MAX_WIRE - 10, 10));
	assert_true(rh_proto_sum_sub(3, 5) == RH_SUM_MOD - 2);
}

/* PLAN's "from here" figures: the plan's ranges clipped at the resume
 * point, which is what the agent then sends. */
static void test_plan_sum_from(void **state)
{
	struct repl_range r[] = { { 0, 100 }, { 200, 50 }, { 1000, 24 } };
	struct repl_plan p = { r, 3, 174, 0 };
	uint64_t tail = rh_proto_sum_add(rh_proto_range_sum(200, 50), rh_proto_range_sum(1000, 24));

	assert_true(repl_plan_sum_from(&p, 0) ==
		    rh_proto_sum_add(rh_proto_range_sum(0, 100), tail));
	assert_true(repl_plan_sum_from(&p, 50) ==
		    rh_proto_sum_add(rh_proto_range_sum(50, 50), tail));
	assert_true(repl_plan_sum_from(&p, 100) == tail);
	assert_true(repl_plan_sum_from(&p, 225) ==
		    rh_proto_sum_add(rh_proto_range_sum(225, 25), rh_proto_range_sum(1000, 24)));
	assert_true(repl_plan_sum_from(&p, 1024) == 0);
	assert_true(repl_plan_bytes_from(&p, 225) == 49);
	/* Whole minus "from here" is what lies below: the target's check of
	 * a resumed disk's prefix. */
	assert_true(rh_proto_sum_sub(repl_plan_sum_from(&p, 0), repl_plan_sum_from(&p, 225)) ==
		    rh_proto_sum_add(rh_proto_range_sum(0, 100), rh_proto_range_sum(200, 25)));
}

static void test_lists(void **state)
{
	struct rh_frame f;
	size_t n;

	n = rh_proto_put_list_hdr(buf, sizeof buf, RH_MSG_SUMS, 2, 3);
	memset(buf + n, 0x5a, 3 * RH_PROTO_SUM_SIZE);
	assert_int_equal(rh_proto_validate(buf, n + 3 * RH_PROTO_SUM_SIZE, true, &f), 0);
	assert_int_equal(f.u.sums.count, 3);
	assert_int_equal(f.u.sums.disk, 2);
	/* Count and payload must agree; lists flow one way each. */
	assert_int_equal(rh_proto_validate(buf, n + 2 * RH_PROTO_SUM_SIZE, true, &f), RH_ERR_PROTO);
	assert_int_equal(rh_proto_validate(buf, n + 3 * RH_PROTO_SUM_SIZE, false, &f), RH_ERR_PROTO);
	n = rh_proto_put_list_hdr(buf, sizeof buf, RH_MSG_NEED, 0, 2);
	memset(buf + n, 0, 16);
	assert_int_equal(rh_proto_validate(buf, n + 16, false, &f), 0);
	assert_int_equal(f.u.need.count, 2);
	n = rh_proto_put_list_hdr(buf, sizeof buf, RH_MSG_NEED, 0, 0);
	assert_int_equal(rh_proto_validate(buf, n, false, &f), RH_ERR_PROTO);
	/* A count whose entries would exceed the payload bound is refused. */
	assert_int_equal(rh_proto_put_list_hdr(buf, sizeof buf, RH_MSG_SUMS, 0, UINT32_MAX), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello_roundtrip),
		cmocka_unit_test(test_hello_bad_fields),
		cmocka_unit_test(test_data),
		cmocka_unit_test(test_header_bound),
		cmocka_unit_test(test_small_frames),
		cmocka_unit_test(test_plan_and_disk_end),
		cmocka_unit_test(test_range_sum),
		cmocka_unit_test(test_plan_sum_from),
		cmocka_unit_test(test_lists),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
