/*
 * rehost replication wire protocol, version 2 (docs/protocol.md).
 *
 * Runs inside TLS 1.3 (rehost/tls.h) between the agent (source) and the
 * target on TCP 8900. Every message is a frame: a 16-byte header followed by
 * `length` payload bytes. All integers are big-endian. Frames are decoded
 * only by rh_proto_validate(), which checks magic, type, direction, flags,
 * reserved fields and the exact payload size for the type before any field
 * is used; lengths sent by the peer are never trusted beyond that.
 *
 *   offset size field
 *   0      4    magic    0x52485031 "RHP1"
 *   4      2    type     enum rh_msg
 *   6      2    flags    per type; unknown bits are an error
 *   8      4    length   payload bytes, <= RH_PROTO_MAX_PAYLOAD
 *   12     4    reserved 0
 */
#ifndef REHOST_PROTO_H
#define REHOST_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RH_PROTO_MAGIC 0x52485031u
/* 2: PLAN frames, received-data figures in HELLO_OK and DISK_END (a disk
 * or job is complete only when what the target received matches the plan). */
#define RH_PROTO_VERSION 2u
#define RH_PROTO_HDR_SIZE 16u
#define RH_PROTO_DEFAULT_PORT 8900

/* Largest uncompressed DATA payload: the largest buffer node (8 MiB). */
#define RH_PROTO_MAX_CHUNK (8u << 20)
/* Largest frame payload: a chunk that did not compress, plus its header,
 * with slack for zstd's worst-case expansion. */
#define RH_PROTO_MAX_PAYLOAD (RH_PROTO_MAX_CHUNK + (64u << 10))
#define RH_PROTO_MAX_DISKS 64u
#define RH_PROTO_JOB_ID_LEN 32u  /* hex characters, NUL-padded in frames */
#define RH_PROTO_MSG_LEN 1024u    /* ERROR text bound */

enum rh_msg {
	RH_MSG_HELLO = 1,     /* agent -> target: job and disk layout */
	RH_MSG_HELLO_OK = 2,  /* target -> agent: accepted, per-disk resume points */
	RH_MSG_DATA = 3,      /* agent -> target: one chunk of one disk */
	RH_MSG_CHECKPOINT = 4,/* agent -> target: make everything so far durable */
	RH_MSG_DURABLE = 5,   /* target -> agent: durable up to (disk, offset) */
	RH_MSG_DISK_END = 6,  /* agent -> target: disk fully sent */
	RH_MSG_DISK_DONE = 7, /* target -> agent: disk complete and on stable storage */
	RH_MSG_ERROR = 8,     /* either way: fatal error, then close */
	RH_MSG_BYE = 9,       /* agent -> target: job finished, closing */
	RH_MSG_SUMS = 10,     /* agent -> target: (chunk, hash) pairs of a disk */
	RH_MSG_SUMS_END = 11, /* agent -> target: all sums of a disk sent */
	RH_MSG_NEED = 12,     /* target -> agent: chunks whose hashes differ */
	RH_MSG_NEED_END = 13, /* target -> agent: comparison of a disk done */
	RH_MSG_PLAN = 14,     /* agent -> target: what it will send of a disk */
};

/* Flags of RH_MSG_HELLO. */
enum rh_hello_flags {
	RH_HELLO_SYNC = 1 << 0,   /* incremental sync of a completed job */
	RH_HELLO_VERIFY = 1 << 1, /* compare only; the target writes nothing */
};

/* Sync and verify compare disks in chunks of this size: the used-block
 * plan's granularity, so a chunk is wholly used or wholly unused. */
#define RH_SYNC_CHUNK (64u << 10)
#define RH_SYNC_HASH_LEN 16u /* XXH3-128 */
/* Bytes per (chunk index, hash) entry in SUMS, per index in NEED. */
#define RH_PROTO_SUM_SIZE (8u + RH_SYNC_HASH_LEN)
#define RH_PROTO_SUMS_MAX ((RH_PROTO_MAX_PAYLOAD - 8u) / RH_PROTO_SUM_SIZE)
#define RH_PROTO_NEED_MAX ((RH_PROTO_MAX_PAYLOAD - 8u) / 8u)

/* Flags of RH_MSG_DATA. */
enum rh_data_flags {
	RH_DATA_ZSTD = 1 << 0, /* payload is one zstd frame of `length` bytes */
	RH_DATA_ZERO = 1 << 1, /* chunk is all zeros; no payload */
};

/* Per-disk resume state in HELLO_OK. */
enum rh_disk_state {
	RH_DISK_NEW = 0,      /* nothing durable; start at offset 0 */
	RH_DISK_PARTIAL = 1,  /* durable below resume_offset */
	RH_DISK_COMPLETE = 2, /* fully written and synced */
};

struct rh_hello_disk {
	uint64_t size;        /* bytes */
	uint64_t layout;      /* fingerprint of the disk's layout (SMS.0515) */
};

struct rh_hello {
	uint32_t version;
	char job_id[RH_PROTO_JOB_ID_LEN + 1];
	uint32_t chunk_size;  /* bytes per DATA frame, at most */
	uint32_t ndisks;
	struct rh_hello_disk disks[RH_PROTO_MAX_DISKS];
};

struct rh_hello_ok_disk {
	uint32_t state;       /* enum rh_disk_state */
	uint64_t resume_offset;
	uint64_t recv_bytes;  /* bytes of DATA durable below resume_offset, all sessions */
	uint64_t recv_sum;    /* rh_proto_range_sum of those bytes */
};

struct rh_hello_ok {
	uint32_t version;
	uint32_t ndisks;
	struct rh_hello_ok_disk disks[RH_PROTO_MAX_DISKS];
};

/* DATA payload prefix (32 bytes); chunk bytes follow. */
struct rh_data {
	uint32_t disk;
	uint32_t length;      /* uncompressed bytes, 1..RH_PROTO_MAX_CHUNK */
	uint64_t offset;      /* byte offset in the disk */
	uint64_t crc64;       /* CRC-64/XZ of the uncompressed bytes */
	uint64_t seq;         /* DATA frame counter of this connection */
	const uint8_t *payload; /* borrowed from the frame buffer */
	uint32_t payload_len;
	uint16_t flags;
};

/* DURABLE, DISK_DONE, CHECKPOINT, SUMS_END, NEED_END share one shape. */
struct rh_position {
	uint32_t disk;
	uint64_t offset;      /* DURABLE, DISK_DONE: durable below */
	uint64_t bytes;       /* NEED_END: chunks changed on the target */
};

/* PLAN: sent by the agent after HELLO_OK, before the first DATA of each
 * disk it copies in a migrate session. All sums are rh_proto_range_sum. */
struct rh_plan {
	uint32_t disk;
	uint64_t from;        /* the resume offset of HELLO_OK; DATA starts here */
	uint64_t bytes;       /* planned bytes at or after from: what will be sent */
	uint64_t sum;         /* their range sum */
	uint64_t total_bytes; /* planned bytes of the whole disk */
	uint64_t total_sum;
};

/* DISK_END: what the agent sent of the disk. In a migrate session, totals
 * over all sessions (HELLO_OK's recv figures plus this session's DATA); in
 * a sync session, this session's DATA. */
struct rh_disk_end {
	uint32_t disk;
	uint64_t bytes;       /* bytes covered by DATA frames (zero chunks included) */
	uint64_t sum;         /* rh_proto_range_sum of those bytes */
};

/* SUMS and NEED: a disk and a list borrowed from the frame buffer. */
struct rh_sums {
	uint32_t disk;
	uint32_t count;
	const uint8_t *entries; /* count x (u64 chunk index, 16-byte hash) */
};

struct rh_need {
	uint32_t disk;
	uint32_t count;
	const uint8_t *index;   /* count x u64 chunk index, increasing */
};

struct rh_error_msg {
	int32_t code;         /* RH_ERR_* */
	char sms[32];         /* "SMS.0805", "MSG.target-disk-size" or "" */
	char text[RH_PROTO_MSG_LEN + 1];
};

/* A decoded frame. Pointers borrow from the buffer given to validate. */
struct rh_frame {
	uint16_t type;
	uint16_t flags;
	uint32_t length;
	union {
		struct rh_hello hello;
		struct rh_hello_ok hello_ok;
		struct rh_data data;
		struct rh_position pos;
		struct rh_plan plan;
		struct rh_disk_end disk_end;
		struct rh_error_msg error;
		struct rh_sums sums;
		struct rh_need need;
	} u;
};

/* Check a frame header (RH_PROTO_HDR_SIZE bytes) and return its payload
 * length in *length. Returns 0 or RH_ERR_PROTO with a detail. Use before
 * reading the payload, so a hostile length never sizes a read. */
int rh_proto_check_header(const uint8_t hdr[RH_PROTO_HDR_SIZE], uint32_t *length);

/* Validate and decode a whole frame (header + payload, len bytes) sent by
 * the peer. from_agent says who sent it: a frame type in the wrong
 * direction is an error. Returns 0 or RH_ERR_PROTO with a detail. */
int rh_proto_validate(const uint8_t *frame, size_t len, bool from_agent,
		      struct rh_frame *out);

/* Encoders: write a complete frame into buf (capacity cap) and return its
 * size, or 0 if cap is too small. DATA writes the header and prefix only:
 * the caller appends payload_len payload bytes. */
size_t rh_proto_put_hello(uint8_t *buf, size_t cap, const struct rh_hello *h);
size_t rh_proto_put_hello_ok(uint8_t *buf, size_t cap, const struct rh_hello_ok *h);
size_t rh_proto_put_data_hdr(uint8_t *buf, size_t cap, const struct rh_data *d);
size_t rh_proto_put_pos(uint8_t *buf, size_t cap, uint16_t type, const struct rh_position *p);
size_t rh_proto_put_plan(uint8_t *buf, size_t cap, const struct rh_plan *p);
size_t rh_proto_put_disk_end(uint8_t *buf, size_t cap, const struct rh_disk_end *e);
size_t rh_proto_put_error(uint8_t *buf, size_t cap, int code, const char *sms,
			  const char *text);
size_t rh_proto_put_bye(uint8_t *buf, size_t cap);
/* HELLO with flags (enum rh_hello_flags). */
size_t rh_proto_put_hello_flags(uint8_t *buf, size_t cap, const struct rh_hello *h,
				uint16_t flags);
/* Header + prefix of SUMS/NEED for count entries; the caller appends
 * count x RH_PROTO_SUM_SIZE (SUMS) or count x 8 (NEED) bytes. */
size_t rh_proto_put_list_hdr(uint8_t *buf, size_t cap, uint16_t type, uint32_t disk,
			     uint32_t count);

/* Size of the DATA prefix inside the payload. */
#define RH_PROTO_DATA_PREFIX 32u
/* Size of a HELLO payload for n disks, and of a HELLO_OK. */
#define RH_PROTO_HELLO_SIZE(n) (4u + RH_PROTO_JOB_ID_LEN + 4u + 4u + 16u * (n))
#define RH_PROTO_HELLO_OK_SIZE(n) (4u + 4u + 28u * (n))
#define RH_PROTO_POS_SIZE 20u
#define RH_PROTO_PLAN_SIZE 44u
/* Disk sizes and offsets on the wire are below 2^63; range sums below
 * their modulus. */
#define RH_SIZE_MAX_WIRE (UINT64_MAX >> 1)
#define RH_SUM_MOD ((1ull << 61) - 1)
#define RH_PROTO_DISK_END_SIZE 20u
#define RH_PROTO_ERROR_MIN 36u /* code + 32-byte SMS code */

const char *rh_proto_msg_name(uint16_t type);

/*
 * Range sums (rangesum.c): what PLAN, DATA and DISK_END are compared by.
 * The sum of a set of disk bytes is the sum over its byte offsets b of
 * R^b modulo the prime 2^61 - 1, so it is the same however the set is cut
 * into chunks (buffer sizes and resume points may differ between runs),
 * and sums of disjoint sets add. Values are below 2^61 - 1; the empty set
 * sums to 0. Not a defence against a hostile agent (which holds a key),
 * only against an agent or target that lost or invented data.
 */
/* Sum of the bytes [off, off + len); 0 when len is 0. */
uint64_t rh_proto_range_sum(uint64_t off, uint64_t len);
/* Sum of two disjoint sets, and the sum of a minus its subset b. */
uint64_t rh_proto_sum_add(uint64_t a, uint64_t b);
uint64_t rh_proto_sum_sub(uint64_t a, uint64_t b);

#endif
