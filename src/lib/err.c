/* Error codes, their descriptions and default SMS codes, and the per-thread
 * detail record (libnbd lib/errors.c style). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "rehost/checked.h"
#include "rehost/err.h"

struct err_info {
	int code;
	const char *text;
	const char *sms; /* default catalogue code, NULL if none fits */
};

static const struct err_info err_table[] = {
	{ RH_OK, "success", NULL },
	{ RH_ERR_NOMEM, "out of memory", NULL },
	{ RH_ERR_INVAL, "invalid value", NULL },
	{ RH_ERR_RANGE, "out of range", NULL },
	{ RH_ERR_PARSE, "malformed input", NULL },
	{ RH_ERR_IO, "input/output error", NULL },
	{ RH_ERR_NOTFOUND, "not found", NULL },
	{ RH_ERR_OVERFLOW, "arithmetic overflow", NULL },
	{ RH_ERR_TOOBIG, "input too large", NULL },
	{ RH_ERR_UNSUPPORTED, "not supported", NULL },
	{ RH_ERR_CONNECT, "cannot connect to target", "SMS.1807" },
	{ RH_ERR_AUTH, "authentication failed", "SMS.0202" },
	{ RH_ERR_NOSPACE, "no space left on target", "SMS.0805" },
	{ RH_ERR_PROTO, "protocol error", NULL },
	{ RH_ERR_TIMEOUT, "timed out", NULL },
	{ RH_ERR_STATE, "not allowed in the current state", NULL },
	{ RH_ERR_CORRUPT, "data corrupt", NULL },
	{ RH_ERR_PERM, "permission denied", NULL },
	{ RH_ERR_CLOCK, "clock skew too large", "SMS.0205" },
	{ RH_ERR_BUSY, "resource busy", NULL },
	{ RH_ERR_EXISTS, "already exists", NULL },
	{ RH_ERR_INTR, "interrupted", NULL },
	{ RH_ERR_ARCH, "unsupported architecture", "SMS.0206" },
	{ RH_ERR_INTERNAL, "internal error", NULL },
};

static const struct err_info *err_lookup(int err)
{
	for (size_t i = 0; i < RH_ARRAY_SIZE(err_table); i++)
		if (err_table[i].code == err)
			return &err_table[i];
	return NULL;
}

const char *rh_strerror(int err)
{
	const struct err_info *e = err_lookup(err);

	return e ? e->text : "unknown error";
}

const char *rh_err_sms_code(int err)
{
	const struct err_info *e = err_lookup(err);

	return e ? e->sms : NULL;
}

int rh_err_from_errno(int errnum)
{
	switch (errnum) {
	case 0:
		return RH_OK;
	case ENOMEM:
		return RH_ERR_NOMEM;
	case EINVAL:
		return RH_ERR_INVAL;
	case ERANGE:
		return RH_ERR_RANGE;
	case ENOENT:
	case ENODEV:
	case ENXIO:
		return RH_ERR_NOTFOUND;
	case EOVERFLOW:
		return RH_ERR_OVERFLOW;
	case EFBIG:
	case E2BIG:
	case EMSGSIZE:
		return RH_ERR_TOOBIG;
	case ENOSYS:
	case EOPNOTSUPP:
		return RH_ERR_UNSUPPORTED;
	case ECONNREFUSED:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ECONNRESET:
		return RH_ERR_CONNECT;
	case ENOSPC:
	case EDQUOT:
		return RH_ERR_NOSPACE;
	case ETIMEDOUT:
		return RH_ERR_TIMEOUT;
	case EACCES:
	case EPERM:
	case EROFS:
		return RH_ERR_PERM;
	case EBUSY:
		return RH_ERR_BUSY;
	case EEXIST:
		return RH_ERR_EXISTS;
	case EINTR:
		return RH_ERR_INTR;
	default:
		return RH_ERR_IO;
	}
}

/* The detail lives in thread-local storage so that concurrent workers do not
 * overwrite each other's messages. 1 KiB is enough for a path plus context;
 * longer messages are truncated, never overflowed. The SMS code is copied too:
 * callers pass codes from frames and tables. The record has the layout of a
 * saved copy, so saving and restoring it are plain assignments. */
static __thread struct rh_err_saved last;

static int seterr_v(int err, const char *sms, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static int seterr_v(int err, const char *sms, const char *fmt, va_list ap)
{
	char msg[sizeof last.msg], code[sizeof last.sms];

	/* Format into locals first: callers often wrap the previous detail
	 * (rh_seterr(e, "...: %s", rh_lasterr())), which aliases last.msg. */
	vsnprintf(msg, sizeof msg, fmt, ap);
	snprintf(code, sizeof code, "%s", sms ? sms : "");
	last.code = err;
	last.has_sms = sms != NULL;
	memcpy(last.sms, code, sizeof code);
	memcpy(last.msg, msg, sizeof msg);
	return err;
}

int rh_seterr(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	seterr_v(err, rh_err_sms_code(err), fmt, ap);
	va_end(ap);
	return err;
}

int rh_seterr_sms(int err, const char *sms, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	seterr_v(err, sms, fmt, ap);
	va_end(ap);
	return err;
}

int rh_seterr_errno(int errnum, const char *fmt, ...)
{
	va_list ap;
	int err = rh_err_from_errno(errnum);
	size_t n;

	va_start(ap, fmt);
	seterr_v(err, rh_err_sms_code(err), fmt, ap);
	va_end(ap);
	n = strlen(last.msg);
	snprintf(last.msg + n, sizeof last.msg - n, ": %s", strerror(errnum));
	return err;
}

const char *rh_lasterr(void)
{
	return last.msg;
}

int rh_lasterr_code(void)
{
	return last.code;
}

const char *rh_lasterr_sms(void)
{
	return last.has_sms ? last.sms : NULL;
}

void rh_clearerr(void)
{
	last.code = 0;
	last.has_sms = false;
	last.msg[0] = '\0';
}

void rh_err_save(struct rh_err_saved *saved)
{
	*saved = last;
}

int rh_err_restore(const struct rh_err_saved *saved)
{
	last = *saved;
	return last.code;
}
