/* Wire protocol v2: the one place where frames from the peer are checked
 * and decoded, and the encoders for frames we send. */
#include <string.h>

#include "rehost/buf.h"
#include "rehost/checked.h"
#include "rehost/endian.h"
#include "rehost/err.h"
#include "rehost/proto.h"

const char *rh_proto_msg_name(uint16_t type)
{
	static const char *const names[] = {
		[RH_MSG_HELLO] = "HELLO", [RH_MSG_HELLO_OK] = "HELLO_OK",
		[RH_MSG_DATA] = "DATA", [RH_MSG_CHECKPOINT] = "CHECKPOINT",
		[RH_MSG_DURABLE] = "DURABLE", [RH_MSG_DISK_END] = "DISK_END",
		[RH_MSG_DISK_DONE] = "DISK_DONE", [RH_MSG_ERROR] = "ERROR",
		[RH_MSG_BYE] = "BYE", [RH_MSG_SUMS] = "SUMS", [RH_MSG_SUMS_END] = "SUMS_END",
		[RH_MSG_NEED] = "NEED", [RH_MSG_NEED_END] = "NEED_END", [RH_MSG_PLAN] = "PLAN",
	};

	if (type < RH_ARRAY_SIZE(names) && names[type] != NULL)
		return names[type];
	return "UNKNOWN";
}

int rh_proto_check_header(const uint8_t hdr[RH_PROTO_HDR_SIZE], uint32_t *length)
{
	uint32_t magic = rh_be32dec(hdr), len = rh_be32dec(hdr + 8);

	*length = 0;
	if (magic != RH_PROTO_MAGIC)
		return rh_seterr(RH_ERR_PROTO, "bad frame magic 0x%08x (not a rehost peer?)", magic);
	if (rh_be32dec(hdr + 12) != 0)
		return rh_seterr(RH_ERR_PROTO, "reserved header field is not zero");
	if (len > RH_PROTO_MAX_PAYLOAD)
		return rh_seterr(RH_ERR_PROTO, "frame payload of %u bytes exceeds the limit of %u",
				 len, RH_PROTO_MAX_PAYLOAD);
	*length = len;
	return 0;
}

/* Copy a NUL-padded fixed-width string field; it must be printable ASCII. */
static int get_fixed_str(const uint8_t *p, size_t width, char *out, const char *what)
{
	size_t n = 0;

	while (n < width && p[n] != '\0') {
		if (p[n] < 0x20 || p[n] > 0x7e)
			return rh_seterr(RH_ERR_PROTO, "%s contains a non-printable byte", what);
		n++;
	}
	for (size_t i = n; i < width; i++)
		if (p[i] != '\0')
			return rh_seterr(RH_ERR_PROTO, "%s is not NUL-padded", what);
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

static int expect_len(uint16_t type, uint32_t len, uint32_t want)
{
	if (len != want)
		return rh_seterr(RH_ERR_PROTO, "%s frame of %u bytes, expected %u",
				 rh_proto_msg_name(type), len, want);
	return 0;
}

static int decode_hello(const uint8_t *p, uint32_t len, struct rh_hello *h)
{
	struct rh_buf_cursor cur;
	int rc;

	if (len < RH_PROTO_HELLO_SIZE(0))
		return expect_len(RH_MSG_HELLO, len, RH_PROTO_HELLO_SIZE(0));
	h->version = rh_be32dec(p);
	if (h->version != RH_PROTO_VERSION)
		return rh_seterr(RH_ERR_PROTO,
				 "peer speaks protocol version %u, this rehost speaks %u; use the same rehost version on both sides",
				 h->version, RH_PROTO_VERSION);
	rc = get_fixed_str(p + 4, RH_PROTO_JOB_ID_LEN, h->job_id, "job id");
	if (rc < 0)
		return rc;
	if (strlen(h->job_id) != RH_PROTO_JOB_ID_LEN)
		return rh_seterr(RH_ERR_PROTO, "job id must be %u hex characters", RH_PROTO_JOB_ID_LEN);
	h->chunk_size = rh_be32dec(p + 4 + RH_PROTO_JOB_ID_LEN);
	h->ndisks = rh_be32dec(p + 8 + RH_PROTO_JOB_ID_LEN);
	if (h->chunk_size == 0 || h->chunk_size > RH_PROTO_MAX_CHUNK)
		return rh_seterr(RH_ERR_PROTO, "chunk size %u outside 1..%u", h->chunk_size,
				 RH_PROTO_MAX_CHUNK);
	if (h->ndisks == 0 || h->ndisks > RH_PROTO_MAX_DISKS)
		return rh_seterr(RH_ERR_PROTO, "disk count %u outside 1..%u", h->ndisks,
				 RH_PROTO_MAX_DISKS);
	if ((rc = expect_len(RH_MSG_HELLO, len, RH_PROTO_HELLO_SIZE(h->ndisks))) < 0)
		return rc;
	/* The per-disk list through the bounded cursor: each read is checked
	 * against the payload, not against arithmetic done above. */
	rh_buf_cursor_init(&cur, p + RH_PROTO_HELLO_SIZE(0), len - RH_PROTO_HELLO_SIZE(0));
	for (uint32_t i = 0; i < h->ndisks; i++) {
		if (rh_buf_get_be64(&cur, &h->disks[i].size) < 0 ||
		    rh_buf_get_be64(&cur, &h->disks[i].layout) < 0)
			return rh_seterr(RH_ERR_PROTO, "HELLO ends inside disk %u", i);
		if (h->disks[i].size == 0 || h->disks[i].size > (UINT64_MAX >> 1))
			return rh_seterr(RH_ERR_PROTO, "disk %u size %llu is invalid", i,
					 (unsigned long long)h->disks[i].size);
	}
	return 0;
}

static int decode_hello_ok(const uint8_t *p, uint32_t len, struct rh_hello_ok *h)
{
	struct rh_buf_cursor cur;
	int rc;

	if (len < RH_PROTO_HELLO_OK_SIZE(0))
		return expect_len(RH_MSG_HELLO_OK, len, RH_PROTO_HELLO_OK_SIZE(0));
	h->version = rh_be32dec(p);
	h->ndisks = rh_be32dec(p + 4);
	if (h->version != RH_PROTO_VERSION)
		return rh_seterr(RH_ERR_PROTO, "target speaks protocol version %u, expected %u",
				 h->version, RH_PROTO_VERSION);
	if (h->ndisks == 0 || h->ndisks > RH_PROTO_MAX_DISKS)
		return rh_seterr(RH_ERR_PROTO, "disk count %u outside 1..%u", h->ndisks,
				 RH_PROTO_MAX_DISKS);
	if ((rc = expect_len(RH_MSG_HELLO_OK, len, RH_PROTO_HELLO_OK_SIZE(h->ndisks))) < 0)
		return rc;
	rh_buf_cursor_init(&cur, p + 8, len - 8);
	for (uint32_t i = 0; i < h->ndisks; i++) {
		struct rh_hello_ok_disk *d = &h->disks[i];

		if (rh_buf_get_be32(&cur, &d->state) < 0 ||
		    rh_buf_get_be64(&cur, &d->resume_offset) < 0 ||
		    rh_buf_get_be64(&cur, &d->recv_bytes) < 0 ||
		    rh_buf_get_be64(&cur, &d->recv_sum) < 0)
			return rh_seterr(RH_ERR_PROTO, "HELLO_OK ends inside disk %u", i);
		if (d->state > RH_DISK_COMPLETE)
			return rh_seterr(RH_ERR_PROTO, "disk %u state %u unknown", i, d->state);
		/* Data received below the resume point cannot exceed it. */
		if (d->resume_offset > RH_SIZE_MAX_WIRE || d->recv_bytes > d->resume_offset ||
		    d->recv_sum >= RH_SUM_MOD)
			return rh_seterr(RH_ERR_PROTO, "disk %u resume figures are inconsistent", i);
	}
	return 0;
}

static int decode_data(const uint8_t *p, uint32_t len, uint16_t flags, struct rh_data *d)
{
	uint64_t end;

	if (len < RH_PROTO_DATA_PREFIX)
		return rh_seterr(RH_ERR_PROTO, "DATA frame of %u bytes is shorter than its prefix", len);
	if ((flags & ~(RH_DATA_ZSTD | RH_DATA_ZERO)) != 0 ||
	    (flags & (RH_DATA_ZSTD | RH_DATA_ZERO)) == (RH_DATA_ZSTD | RH_DATA_ZERO))
		return rh_seterr(RH_ERR_PROTO, "DATA flags 0x%x invalid", flags);
	d->disk = rh_be32dec(p);
	d->length = rh_be32dec(p + 4);
	d->offset = rh_be64dec(p + 8);
	d->crc64 = rh_be64dec(p + 16);
	d->seq = rh_be64dec(p + 24);
	d->flags = flags;
	d->payload = p + RH_PROTO_DATA_PREFIX;
	d->payload_len = len - RH_PROTO_DATA_PREFIX;
	if (d->disk >= RH_PROTO_MAX_DISKS)
		return rh_seterr(RH_ERR_PROTO, "DATA for disk %u", d->disk);
	if (d->length == 0 || d->length > RH_PROTO_MAX_CHUNK)
		return rh_seterr(RH_ERR_PROTO, "DATA length %u outside 1..%u", d->length,
				 RH_PROTO_MAX_CHUNK);
	if (RH_ADD_OVERFLOW(d->offset, (uint64_t)d->length, &end) || end > (UINT64_MAX >> 1))
		return rh_seterr(RH_ERR_PROTO, "DATA offset %llu overflows",
				 (unsigned long long)d->offset);
	if ((flags & RH_DATA_ZERO) && d->payload_len != 0)
		return rh_seterr(RH_ERR_PROTO, "zero DATA frame carries %u payload bytes",
				 d->payload_len);
	if (!(flags & (RH_DATA_ZERO | RH_DATA_ZSTD)) && d->payload_len != d->length)
		return rh_seterr(RH_ERR_PROTO, "raw DATA frame carries %u bytes for length %u",
				 d->payload_len, d->length);
	if ((flags & RH_DATA_ZSTD) && d->payload_len == 0)
		return rh_seterr(RH_ERR_PROTO, "compressed DATA frame is empty");
	return 0;
}

static int decode_pos(const uint8_t *p, uint32_t len, uint16_t type, struct rh_position *pos)
{
	int rc = expect_len(type, len, RH_PROTO_POS_SIZE);

	if (rc < 0)
		return rc;
	pos->disk = rh_be32dec(p);
	pos->offset = rh_be64dec(p + 4);
	pos->bytes = rh_be64dec(p + 12);
	if (pos->disk >= RH_PROTO_MAX_DISKS)
		return rh_seterr(RH_ERR_PROTO, "%s for disk %u", rh_proto_msg_name(type), pos->disk);
	return 0;
}

static int decode_plan(const uint8_t *p, uint32_t len, struct rh_plan *pl)
{
	int rc = expect_len(RH_MSG_PLAN, len, RH_PROTO_PLAN_SIZE);

	if (rc < 0)
		return rc;
	pl->disk = rh_be32dec(p);
	pl->from = rh_be64dec(p + 4);
	pl->bytes = rh_be64dec(p + 12);
	pl->sum = rh_be64dec(p + 20);
	pl->total_bytes = rh_be64dec(p + 28);
	pl->total_sum = rh_be64dec(p + 36);
	if (pl->disk >= RH_PROTO_MAX_DISKS)
		return rh_seterr(RH_ERR_PROTO, "PLAN for disk %u", pl->disk);
	/* What remains from `from` is part of the whole plan, and both lie
	 * inside a disk (sizes are at most 2^63 - 1, as in HELLO). */
	if (pl->from > RH_SIZE_MAX_WIRE || pl->total_bytes > RH_SIZE_MAX_WIRE ||
	    pl->bytes > pl->total_bytes || pl->sum >= RH_SUM_MOD || pl->total_sum >= RH_SUM_MOD)
		return rh_seterr(RH_ERR_PROTO, "PLAN for disk %u has inconsistent figures", pl->disk);
	return 0;
}

static int decode_disk_end(const uint8_t *p, uint32_t len, struct rh_disk_end *e)
{
	int rc = expect_len(RH_MSG_DISK_END, len, RH_PROTO_DISK_END_SIZE);

	if (rc < 0)
		return rc;
	e->disk = rh_be32dec(p);
	e->bytes = rh_be64dec(p + 4);
	e->sum = rh_be64dec(p + 12);
	if (e->disk >= RH_PROTO_MAX_DISKS)
		return rh_seterr(RH_ERR_PROTO, "DISK_END for disk %u", e->disk);
	if (e->bytes > RH_SIZE_MAX_WIRE || e->sum >= RH_SUM_MOD)
		return rh_seterr(RH_ERR_PROTO, "DISK_END for disk %u has inconsistent figures", e->disk);
	return 0;
}

/* SUMS / NEED: disk u32, count u32, then count fixed-size entries. */
static int decode_list(const uint8_t *p, uint32_t len, uint16_t type, uint32_t *disk,
		       uint32_t *count, const uint8_t **entries)
{
	uint32_t esize = type == RH_MSG_SUMS ? RH_PROTO_SUM_SIZE : 8u;

	if (len < 8)
		return rh_seterr(RH_ERR_PROTO, "%s frame of %u bytes", rh_proto_msg_name(type), len);
	*disk = rh_be32dec(p);
	*count = rh_be32dec(p + 4);
	*entries = p + 8;
	if (*disk >= RH_PROTO_MAX_DISKS)
		return rh_seterr(RH_ERR_PROTO, "%s for disk %u", rh_proto_msg_name(type), *disk);
	/* count is bounded by the payload bound, so this cannot overflow. */
	if (*count == 0 || (uint64_t)*count * esize != (uint64_t)len - 8)
		return rh_seterr(RH_ERR_PROTO, "%s frame claims %u entries in %u bytes",
				 rh_proto_msg_name(type), *count, len);
	return 0;
}

static int decode_error(const uint8_t *p, uint32_t len, struct rh_error_msg *e)
{
	uint32_t textlen;
	int rc;

	if (len < RH_PROTO_ERROR_MIN || len > RH_PROTO_ERROR_MIN + RH_PROTO_MSG_LEN)
		return rh_seterr(RH_ERR_PROTO, "ERROR frame of %u bytes", len);
	e->code = (int32_t)rh_be32dec(p);
	if (e->code >= 0 || e->code < -1000)
		e->code = RH_ERR_PROTO; /* keep the peer's text, not its odd code */
	rc = get_fixed_str(p + 4, 32, e->sms, "SMS code");
	if (rc < 0)
		return rc;
	textlen = len - RH_PROTO_ERROR_MIN;
	for (uint32_t i = 0; i < textlen; i++)
		e->text[i] = (p[RH_PROTO_ERROR_MIN + i] >= 0x20 || p[RH_PROTO_ERROR_MIN + i] == '\t')
				     ? (char)p[RH_PROTO_ERROR_MIN + i] : '?';
	e->text[textlen] = '\0';
	return 0;
}

int rh_proto_validate(const uint8_t *frame, size_t len, bool from_agent,
		      struct rh_frame *out)
{
	const uint8_t *p = frame + RH_PROTO_HDR_SIZE;
	uint32_t plen;
	int rc;

	memset(out, 0, sizeof *out);
	if (len < RH_PROTO_HDR_SIZE)
		return rh_seterr(RH_ERR_PROTO, "frame of %zu bytes is shorter than a header", len);
	rc = rh_proto_check_header(frame, &plen);
	if (rc < 0)
		return rc;
	if ((size_t)plen != len - RH_PROTO_HDR_SIZE)
		return rh_seterr(RH_ERR_PROTO, "frame length %u does not match %zu bytes received",
				 plen, len - RH_PROTO_HDR_SIZE);
	out->type = rh_be16dec(frame + 4);
	out->flags = rh_be16dec(frame + 6);
	out->length = plen;

	switch (out->type) {
	case RH_MSG_HELLO:
	case RH_MSG_DATA:
	case RH_MSG_CHECKPOINT:
	case RH_MSG_DISK_END:
	case RH_MSG_BYE:
	case RH_MSG_SUMS:
	case RH_MSG_SUMS_END:
	case RH_MSG_PLAN:
		if (!from_agent)
			goto wrong_way;
		break;
	case RH_MSG_HELLO_OK:
	case RH_MSG_DURABLE:
	case RH_MSG_DISK_DONE:
	case RH_MSG_NEED:
	case RH_MSG_NEED_END:
		if (from_agent)
			goto wrong_way;
		break;
	case RH_MSG_ERROR:
		break;
	default:
		return rh_seterr(RH_ERR_PROTO, "unknown frame type %u", out->type);
	}
	if (out->type == RH_MSG_HELLO) {
		if ((out->flags & ~(RH_HELLO_SYNC | RH_HELLO_VERIFY)) != 0 ||
		    out->flags == RH_HELLO_VERIFY)
			return rh_seterr(RH_ERR_PROTO, "HELLO flags 0x%x invalid", out->flags);
	} else if (out->type != RH_MSG_DATA && out->flags != 0)
		return rh_seterr(RH_ERR_PROTO, "%s frame with flags 0x%x",
				 rh_proto_msg_name(out->type), out->flags);

	switch (out->type) {
	case RH_MSG_HELLO:
		return decode_hello(p, plen, &out->u.hello);
	case RH_MSG_HELLO_OK:
		return decode_hello_ok(p, plen, &out->u.hello_ok);
	case RH_MSG_DATA:
		return decode_data(p, plen, out->flags, &out->u.data);
	case RH_MSG_PLAN:
		return decode_plan(p, plen, &out->u.plan);
	case RH_MSG_DISK_END:
		return decode_disk_end(p, plen, &out->u.disk_end);
	case RH_MSG_CHECKPOINT:
	case RH_MSG_DURABLE:
	case RH_MSG_DISK_DONE:
	case RH_MSG_SUMS_END:
	case RH_MSG_NEED_END:
		return decode_pos(p, plen, out->type, &out->u.pos);
	case RH_MSG_SUMS:
		return decode_list(p, plen, out->type, &out->u.sums.disk, &out->u.sums.count,
				   &out->u.sums.entries);
	case RH_MSG_NEED:
		return decode_list(p, plen, out->type, &out->u.need.disk, &out->u.need.count,
				   &out->u.need.index);
	case RH_MSG_ERROR:
		return decode_error(p, plen, &out->u.error);
	case RH_MSG_BYE:
		return expect_len(RH_MSG_BYE, plen, 0);
	}
	return RH_ERR_INTERNAL;
wrong_way:
	return rh_seterr(RH_ERR_PROTO, "%s frame sent by the %s", rh_proto_msg_name(out->type),
			 from_agent ? "agent" : "target");
}

static void encode_header(uint8_t *buf, uint16_t type, uint16_t flags, uint32_t plen)
{
	rh_be32enc(buf, RH_PROTO_MAGIC);
	rh_be16enc(buf + 4, type);
	rh_be16enc(buf + 6, flags);
	rh_be32enc(buf + 8, plen);
	rh_be32enc(buf + 12, 0);
}

/* Header for a frame whose whole payload the caller writes into buf. */
static size_t put_header(uint8_t *buf, size_t cap, uint16_t type, uint16_t flags,
			 uint32_t plen)
{
	if (cap < RH_PROTO_HDR_SIZE + (size_t)plen)
		return 0;
	encode_header(buf, type, flags, plen);
	return RH_PROTO_HDR_SIZE;
}

size_t rh_proto_put_hello(uint8_t *buf, size_t cap, const struct rh_hello *h)
{
	return rh_proto_put_hello_flags(buf, cap, h, 0);
}

size_t rh_proto_put_hello_flags(uint8_t *buf, size_t cap, const struct rh_hello *h,
				uint16_t flags)
{
	uint32_t plen = RH_PROTO_HELLO_SIZE(h->ndisks);
	uint8_t *p;

	if (h->ndisks > RH_PROTO_MAX_DISKS || put_header(buf, cap, RH_MSG_HELLO, flags, plen) == 0)
		return 0;
	p = buf + RH_PROTO_HDR_SIZE;
	rh_be32enc(p, h->version);
	memset(p + 4, 0, RH_PROTO_JOB_ID_LEN);
	memcpy(p + 4, h->job_id, strnlen(h->job_id, RH_PROTO_JOB_ID_LEN));
	rh_be32enc(p + 4 + RH_PROTO_JOB_ID_LEN, h->chunk_size);
	rh_be32enc(p + 8 + RH_PROTO_JOB_ID_LEN, h->ndisks);
	p += RH_PROTO_HELLO_SIZE(0);
	for (uint32_t i = 0; i < h->ndisks; i++, p += 16) {
		rh_be64enc(p, h->disks[i].size);
		rh_be64enc(p + 8, h->disks[i].layout);
	}
	return RH_PROTO_HDR_SIZE + plen;
}

size_t rh_proto_put_hello_ok(uint8_t *buf, size_t cap, const struct rh_hello_ok *h)
{
	uint32_t plen = RH_PROTO_HELLO_OK_SIZE(h->ndisks);
	uint8_t *p;

	if (h->ndisks > RH_PROTO_MAX_DISKS || put_header(buf, cap, RH_MSG_HELLO_OK, 0, plen) == 0)
		return 0;
	p = buf + RH_PROTO_HDR_SIZE;
	rh_be32enc(p, h->version);
	rh_be32enc(p + 4, h->ndisks);
	p += 8;
	for (uint32_t i = 0; i < h->ndisks; i++, p += 28) {
		rh_be32enc(p, h->disks[i].state);
		rh_be64enc(p + 4, h->disks[i].resume_offset);
		rh_be64enc(p + 12, h->disks[i].recv_bytes);
		rh_be64enc(p + 20, h->disks[i].recv_sum);
	}
	return RH_PROTO_HDR_SIZE + plen;
}

size_t rh_proto_put_data_hdr(uint8_t *buf, size_t cap, const struct rh_data *d)
{
	uint8_t *p = buf + RH_PROTO_HDR_SIZE;

	if (cap < RH_PROTO_HDR_SIZE + RH_PROTO_DATA_PREFIX)
		return 0;
	/* The payload is sent separately, so only header + prefix must fit. */
	encode_header(buf, RH_MSG_DATA, d->flags, RH_PROTO_DATA_PREFIX + d->payload_len);
	rh_be32enc(p, d->disk);
	rh_be32enc(p + 4, d->length);
	rh_be64enc(p + 8, d->offset);
	rh_be64enc(p + 16, d->crc64);
	rh_be64enc(p + 24, d->seq);
	return RH_PROTO_HDR_SIZE + RH_PROTO_DATA_PREFIX;
}

size_t rh_proto_put_pos(uint8_t *buf, size_t cap, uint16_t type, const struct rh_position *pos)
{
	uint8_t *p = buf + RH_PROTO_HDR_SIZE;

	if (put_header(buf, cap, type, 0, RH_PROTO_POS_SIZE) == 0)
		return 0;
	rh_be32enc(p, pos->disk);
	rh_be64enc(p + 4, pos->offset);
	rh_be64enc(p + 12, pos->bytes);
	return RH_PROTO_HDR_SIZE + RH_PROTO_POS_SIZE;
}

size_t rh_proto_put_plan(uint8_t *buf, size_t cap, const struct rh_plan *pl)
{
	uint8_t *p = buf + RH_PROTO_HDR_SIZE;

	if (put_header(buf, cap, RH_MSG_PLAN, 0, RH_PROTO_PLAN_SIZE) == 0)
		return 0;
	rh_be32enc(p, pl->disk);
	rh_be64enc(p + 4, pl->from);
	rh_be64enc(p + 12, pl->bytes);
	rh_be64enc(p + 20, pl->sum);
	rh_be64enc(p + 28, pl->total_bytes);
	rh_be64enc(p + 36, pl->total_sum);
	return RH_PROTO_HDR_SIZE + RH_PROTO_PLAN_SIZE;
}

size_t rh_proto_put_disk_end(uint8_t *buf, size_t cap, const struct rh_disk_end *e)
{
	uint8_t *p = buf + RH_PROTO_HDR_SIZE;

	if (put_header(buf, cap, RH_MSG_DISK_END, 0, RH_PROTO_DISK_END_SIZE) == 0)
		return 0;
	rh_be32enc(p, e->disk);
	rh_be64enc(p + 4, e->bytes);
	rh_be64enc(p + 12, e->sum);
	return RH_PROTO_HDR_SIZE + RH_PROTO_DISK_END_SIZE;
}

size_t rh_proto_put_error(uint8_t *buf, size_t cap, int code, const char *sms, const char *text)
{
	size_t tl = strnlen(text ? text : "", RH_PROTO_MSG_LEN);
	uint8_t *p = buf + RH_PROTO_HDR_SIZE;

	if (put_header(buf, cap, RH_MSG_ERROR, 0, (uint32_t)(RH_PROTO_ERROR_MIN + tl)) == 0)
		return 0;
	rh_be32enc(p, (uint32_t)code);
	memset(p + 4, 0, 32);
	if (sms != NULL)
		memcpy(p + 4, sms, strnlen(sms, 31));
	memcpy(p + RH_PROTO_ERROR_MIN, text ? text : "", tl);
	return RH_PROTO_HDR_SIZE + RH_PROTO_ERROR_MIN + tl;
}

size_t rh_proto_put_bye(uint8_t *buf, size_t cap)
{
	return put_header(buf, cap, RH_MSG_BYE, 0, 0) == 0 ? 0 : RH_PROTO_HDR_SIZE;
}

size_t rh_proto_put_list_hdr(uint8_t *buf, size_t cap, uint16_t type, uint32_t disk,
			     uint32_t count)
{
	uint32_t esize = type == RH_MSG_SUMS ? RH_PROTO_SUM_SIZE : 8u;
	uint64_t plen = 8 + (uint64_t)count * esize;

	if (plen > RH_PROTO_MAX_PAYLOAD || cap < RH_PROTO_HDR_SIZE + 8)
		return 0;
	/* The entries are written by the caller after the prefix. */
	encode_header(buf, type, 0, (uint32_t)plen);
	rh_be32enc(buf + RH_PROTO_HDR_SIZE, disk);
	rh_be32enc(buf + RH_PROTO_HDR_SIZE + 4, count);
	return RH_PROTO_HDR_SIZE + 8;
}
