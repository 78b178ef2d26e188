/*
 * rehost error codes and per-thread error details.
 *
 * Library functions return 0 on success or a negative RH_ERR_* value. The
 * values are pinned: they appear in logs and in the wire protocol, so never
 * renumber one; add new codes at the end.
 *
 * A function that fails may also record a human-readable detail (and an
 * SMS.xxxx catalogue code, when a more specific one than the error's default
 * fits) with rh_seterr(); the caller reads it with rh_lasterr() before making
 * another rehost call on the same thread.
 */
#ifndef REHOST_ERR_H
#define REHOST_ERR_H

#include <stdarg.h>
#include <stdbool.h>

enum rh_err {
	RH_OK = 0,
	RH_ERR_NOMEM = -1,       /* out of memory */
	RH_ERR_INVAL = -2,       /* invalid argument or value */
	RH_ERR_RANGE = -3,       /* number outside its allowed range */
	RH_ERR_PARSE = -4,       /* malformed input */
	RH_ERR_IO = -5,          /* read/write/open failed */
	RH_ERR_NOTFOUND = -6,    /* no such file, key, code or object */
	RH_ERR_OVERFLOW = -7,    /* arithmetic overflow in sizes or offsets */
	RH_ERR_TOOBIG = -8,      /* input exceeds a fixed bound */
	RH_ERR_UNSUPPORTED = -9, /* feature, format or platform not supported */
	RH_ERR_CONNECT = -10,    /* cannot reach the peer (SMS.1807) */
	RH_ERR_AUTH = -11,       /* authentication failed (SMS.0202) */
	RH_ERR_NOSPACE = -12,    /* target full (SMS.0805) */
	RH_ERR_PROTO = -13,      /* peer violated the protocol */
	RH_ERR_TIMEOUT = -14,    /* operation timed out */
	RH_ERR_STATE = -15,      /* not allowed in the current state */
	RH_ERR_CORRUPT = -16,    /* checksum or structure mismatch */
	RH_ERR_PERM = -17,       /* permission denied */
	RH_ERR_CLOCK = -18,      /* clock skew too large (SMS.0205) */
	RH_ERR_BUSY = -19,       /* resource busy */
	RH_ERR_EXISTS = -20,     /* already exists */
	RH_ERR_INTR = -21,       /* interrupted by a signal or a stop request */
	RH_ERR_ARCH = -22,       /* not an x86 machine (SMS.0206) */
	RH_ERR_INTERNAL = -23,   /* bug: an invariant did not hold */
};

/* Short fixed description of an error code, e.g. "out of range".
 * Returns a static string, never NULL. */
const char *rh_strerror(int err);

/* Default SMS.xxxx catalogue code for an error, or NULL when none fits. */
const char *rh_err_sms_code(int err);

/* Map an errno value to an RH_ERR_* code. */
int rh_err_from_errno(int errnum);

/* Record a detail message for the calling thread and return err, so a
 * library function can write `return rh_seterr(RH_ERR_RANGE, "...", ...);`.
 * The SMS code recorded is rh_err_sms_code(err). */
int rh_seterr(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* As rh_seterr(), with an explicit SMS code (copied, up to 39 bytes), or
 * NULL for none. */
int rh_seterr_sms(int err, const char *sms, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Append errno text: "<detail>: <strerror(errnum)>" and map errnum. */
int rh_seterr_errno(int errnum, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Detail of the calling thread's last recorded error: "" when none.
 * Borrowed; valid until the thread's next rh_seterr or rh_clearerr. */
const char *rh_lasterr(void);

/* Code of the last recorded error (0 when none) and its SMS code (NULL when
 * none). */
int rh_lasterr_code(void);
const char *rh_lasterr_sms(void);

/* Forget the calling thread's last error. */
void rh_clearerr(void);

/* A copy of a thread's error record: code, SMS code and detail. Fields are
 * read only by err.c. */
struct rh_err_saved {
	int code;        /* RH_ERR_*, 0 when there was no error */
	bool has_sms;    /* false: no SMS code */
	char sms[40];
	char msg[1024];
};

/* Copy the calling thread's error record into *saved, so that it survives
 * cleanup calls that record errors of their own (rollback, unmount,
 * removing a temporary). */
void rh_err_save(struct rh_err_saved *saved);

/* Make *saved the calling thread's error record again: code, SMS code and
 * detail exactly as saved (also "no error"). It may come from another
 * thread, e.g. a worker handing its failure to the thread that joins it.
 * Returns saved->code. */
int rh_err_restore(const struct rh_err_saved *saved);

#endif
