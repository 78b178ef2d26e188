/* Frame I/O over TLS: the only reader of peer frames, so every frame goes
 * through rh_proto_validate() before anyone looks at it. */
#define RH_LOG_COMPONENT "proto"
#include <string.h>

#include "rehost/err.h"
#include "rehost/log.h"
#include "rehost/repl.h"

int rh_frame_recv(struct rh_tls_conn *c, uint8_t *buf, bool from_agent, struct rh_frame *f)
{
	uint32_t len;
	int rc;

	rc = rh_tls_read(c, buf, RH_PROTO_HDR_SIZE);
	if (rc < 0)
		return rc;
	/* The header is checked before its length sizes the next read. */
	rc = rh_proto_check_header(buf, &len);
	if (rc < 0)
		return rc;
	if (len > 0 && (rc = rh_tls_read(c, buf + RH_PROTO_HDR_SIZE, len)) < 0)
		return rc;
	rc = rh_proto_validate(buf, RH_PROTO_HDR_SIZE + (size_t)len, from_agent, f);
	if (rc < 0)
		return rc;
	if (f->type == RH_MSG_ERROR)
		return rh_seterr_sms(f->u.error.code, f->u.error.sms[0] ? f->u.error.sms : NULL,
				     "%s reported: %s", from_agent ? "agent" : "target",
				     f->u.error.text);
	return 0;
}

void rh_frame_send_error(struct rh_tls_conn *c, int err)
{
	uint8_t buf[RH_PROTO_HDR_SIZE + RH_PROTO_ERROR_MIN + RH_PROTO_MSG_LEN];
	const char *sms = rh_lasterr_code() == err ? rh_lasterr_sms() : rh_err_sms_code(err);
	const char *text = rh_lasterr_code() == err ? rh_lasterr() : rh_strerror(err);
	size_t n = rh_proto_put_error(buf, sizeof buf, err, sms, text);
	struct rh_err_saved saved;

	/* Telling a peer that is already gone fails; that failure must not
	 * replace the error being reported, which the caller logs next. */
	rh_err_save(&saved);
	if (n > 0 && rh_tls_write(c, buf, n) < 0)
		rh_log_debug("could not send ERROR frame");
	rh_err_restore(&saved);
}
