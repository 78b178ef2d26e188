/*
 * Bounded byte buffers and a parsing cursor (OpenSSH sshbuf, curl dynbuf).
 *
 * struct rh_buf is the write side: a growable buffer whose maximum length
 * is fixed when it is created, so data arriving from a disk or a peer can
 * never grow it without bound. The contents are always followed by a NUL
 * (not counted in the length), so text built with rh_buf_putf() is a C
 * string.
 *
 * struct rh_buf_cursor is the read side: a view of borrowed bytes that the
 * getters consume from the front. It needs no allocation, so parsers can
 * run it over a header in a stack array, a mapped file, or rh_buf_data().
 * Every getter clears its out-parameter first and, when fewer bytes are
 * left than it needs, returns RH_ERR_PARSE without consuming anything.
 */
#ifndef REHOST_BUF_H
#define REHOST_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct rh_buf;

/* Create an empty buffer that may hold up to max bytes (1 <= max <=
 * SIZE_MAX / 2; memory is allocated as data arrives). On success *out is a
 * new buffer the caller frees with rh_buf_free. Returns 0, RH_ERR_INVAL
 * (bad max) or RH_ERR_NOMEM. */
int rh_buf_new(size_t max, struct rh_buf **out);

/* Free a buffer and its contents; NULL is accepted. */
void rh_buf_free(struct rh_buf *b);

/* Empty the buffer, keeping its memory for reuse. */
void rh_buf_reset(struct rh_buf *b);

/* Bytes held, the fixed maximum, and how many more bytes fit. */
size_t rh_buf_len(const struct rh_buf *b);
size_t rh_buf_max(const struct rh_buf *b);
size_t rh_buf_avail(const struct rh_buf *b);

/* The contents: rh_buf_len() bytes followed by a NUL. Never NULL. Borrowed;
 * valid until the next call that modifies b. rh_buf_str is the same bytes
 * as a C string (which ends early if the contents hold a NUL). */
const uint8_t *rh_buf_data(const struct rh_buf *b);
const char *rh_buf_str(const struct rh_buf *b);

/* Append n bytes (data may be NULL when n is 0). Returns 0, RH_ERR_TOOBIG
 * when the result would exceed the maximum, or RH_ERR_NOMEM; on failure
 * the buffer is unchanged. The same holds for every append below. */
int rh_buf_put(struct rh_buf *b, const void *data, size_t n);

/* Append one integer in the stated byte order. */
int rh_buf_put_u8(struct rh_buf *b, uint8_t v);
int rh_buf_put_le16(struct rh_buf *b, uint16_t v);
int rh_buf_put_le32(struct rh_buf *b, uint32_t v);
int rh_buf_put_le64(struct rh_buf *b, uint64_t v);
int rh_buf_put_be16(struct rh_buf *b, uint16_t v);
int rh_buf_put_be32(struct rh_buf *b, uint32_t v);
int rh_buf_put_be64(struct rh_buf *b, uint64_t v);

/* Append printf-formatted text (without its NUL). Returns 0, RH_ERR_TOOBIG,
 * RH_ERR_NOMEM, or RH_ERR_INVAL if the format fails. */
int rh_buf_putf(struct rh_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int rh_buf_vputf(struct rh_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Grow the length by n bytes of unspecified content and point *out at the
 * first of them, for filling in place (e.g. read(2) straight into the
 * buffer, then rh_buf_truncate to what arrived). *out is borrowed, valid
 * until the next call that modifies b; it is NULL on failure. Returns 0,
 * RH_ERR_TOOBIG or RH_ERR_NOMEM. */
int rh_buf_reserve(struct rh_buf *b, size_t n, uint8_t **out);

/* Shorten the contents to len bytes. Returns 0 or RH_ERR_INVAL when len is
 * more than the current length (truncate never grows). */
int rh_buf_truncate(struct rh_buf *b, size_t len);

/* Drop the first n bytes (a parsed frame), moving the rest to the front.
 * Returns 0 or RH_ERR_INVAL when n is more than the length. */
int rh_buf_consume(struct rh_buf *b, size_t n);

/* A read position over borrowed bytes. Public so that it can live on the
 * stack; change it only through the functions below. */
struct rh_buf_cursor {
	const uint8_t *p; /* next unread byte; borrowed; NULL only if left is 0 */
	size_t left;      /* bytes not yet consumed */
};

/* Start a cursor over len bytes at data (NULL allowed when len is 0). The
 * bytes are borrowed and must outlive the cursor and every pointer that
 * rh_buf_get_bytes returns. */
void rh_buf_cursor_init(struct rh_buf_cursor *c, const void *data, size_t len);

/* Bytes left to read. */
size_t rh_buf_remaining(const struct rh_buf_cursor *c);

/* Read one integer in the stated byte order into *out. Returns 0, or
 * RH_ERR_PARSE with *out = 0 and nothing consumed on short data. */
int rh_buf_get_u8(struct rh_buf_cursor *c, uint8_t *out);
int rh_buf_get_le16(struct rh_buf_cursor *c, uint16_t *out);
int rh_buf_get_le32(struct rh_buf_cursor *c, uint32_t *out);
int rh_buf_get_le64(struct rh_buf_cursor *c, uint64_t *out);
int rh_buf_get_be16(struct rh_buf_cursor *c, uint16_t *out);
int rh_buf_get_be32(struct rh_buf_cursor *c, uint32_t *out);
int rh_buf_get_be64(struct rh_buf_cursor *c, uint64_t *out);

/* Consume n bytes and point *out at them (borrowed from the cursor's data,
 * not copied). Returns 0, or RH_ERR_PARSE with *out = NULL and nothing
 * consumed on short data. n = 0 succeeds with *out at the current spot. */
int rh_buf_get_bytes(struct rh_buf_cursor *c, size_t n, const uint8_t **out);

/* Consume n bytes into dst (n bytes of caller memory). Returns 0, or
 * RH_ERR_PARSE with dst zero-filled and nothing consumed on short data. */
int rh_buf_get_copy(struct rh_buf_cursor *c, void *dst, size_t n);

/* Consume n bytes unread. Returns 0, or RH_ERR_PARSE with nothing consumed
 * on short data. */
int rh_buf_skip(struct rh_buf_cursor *c, size_t n);

#endif
