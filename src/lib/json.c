/* jansson helpers; see rehost/json.h. */
#include <errno.h>
#include <inttypes.h>
#include <unistd.h>

#include "rehost/err.h"
#include "rehost/json.h"

int rh_json_load(const char *data, size_t len, size_t max_len, json_t **out)
{
	json_error_t jerr;
	json_t *j;

	*out = NULL;
	if (len > max_len)
		return rh_seterr(RH_ERR_TOOBIG, "JSON document of %zu bytes exceeds %zu",
				 len, max_len);
	j = json_loadb(data != NULL ? data : "", len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL) {
		if (json_error_code(&jerr) == json_error_out_of_memory)
			return RH_ERR_NOMEM;
		return rh_seterr(RH_ERR_PARSE, "line %d column %d: %s",
				 jerr.line, jerr.column, jerr.text);
	}
	*out = j;
	return 0;
}

struct dump_ctx {
	int fd;
	int err; /* errno of the failed write, 0 while all is well */
};

static int write_all(struct dump_ctx *ctx, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(ctx->fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			ctx->err = errno;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int dump_cb(const char *buffer, size_t size, void *data)
{
	return write_all(data, buffer, size);
}

int rh_json_dump_fd(int fd, const json_t *j, int pretty)
{
	struct dump_ctx ctx = { fd, 0 };
	size_t flags = JSON_ENCODE_ANY | (pretty ? JSON_INDENT(2) : JSON_COMPACT);

	/* Streaming through the callback avoids a second full-size copy of
	 * large documents in memory. */
	if (json_dump_callback(j, dump_cb, &ctx, flags) != 0) {
		if (ctx.err != 0)
			return rh_seterr_errno(ctx.err, "writing JSON to fd %d", fd);
		return rh_seterr(RH_ERR_INVAL, "cannot encode JSON value");
	}
	if (write_all(&ctx, "\n", 1) != 0)
		return rh_seterr_errno(ctx.err, "writing JSON to fd %d", fd);
	return 0;
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
		return "integer";
	case JSON_REAL:
		return "real";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	case JSON_NULL:
		return "null";
	}
	return "unknown";
}

/* Find key in obj; on failure record why and return the error. */
static int member(const json_t *obj, const char *key, json_type want,
		  const char *want_name, const json_t **out)
{
	const json_t *v;

	*out = NULL;
	if (key == NULL)
		return rh_seterr(RH_ERR_INVAL, "JSON lookup without a key");
	if (!json_is_object(obj))
		return rh_seterr(RH_ERR_INVAL, "JSON key '%s': parent is %s, not an object",
				 key, obj != NULL ? type_name(obj) : "missing");
	v = json_object_get(obj, key);
	if (v == NULL)
		return rh_seterr(RH_ERR_NOTFOUND, "JSON key '%s' missing", key);
	/* JSON_TRUE stands for both booleans. */
	if (json_typeof(v) != want && !(want == JSON_TRUE && json_is_boolean(v)))
		return rh_seterr(RH_ERR_PARSE, "JSON key '%s': expected %s, got %s",
				 key, want_name, type_name(v));
	*out = v;
	return 0;
}

int rh_json_get_str(const json_t *obj, const char *key, const char **out)
{
	const json_t *v;
	int rc;

	*out = NULL;
	rc = member(obj, key, JSON_STRING, "string", &v);
	if (rc < 0)
		return rc;
	*out = json_string_value(v);
	return 0;
}

int rh_json_get_int(const json_t *obj, const char *key, int64_t min,
		    int64_t max, int64_t *out)
{
	const json_t *v;
	json_int_t n;
	int rc;

	*out = 0;
	if (min > max)
		return rh_seterr(RH_ERR_INVAL, "JSON key '%s': empty range", key);
	rc = member(obj, key, JSON_INTEGER, "integer", &v);
	if (rc < 0)
		return rc;
	n = json_integer_value(v);
	if (n < min || n > max)
		return rh_seterr(RH_ERR_RANGE,
				 "JSON key '%s': %" PRId64 " not in %" PRId64 "..%" PRId64,
				 key, (int64_t)n, min, max);
	*out = n;
	return 0;
}

int rh_json_get_bool(const json_t *obj, const char *key, bool *out)
{
	const json_t *v;
	int rc;

	*out = false;
	rc = member(obj, key, JSON_TRUE, "boolean", &v);
	if (rc < 0)
		return rc;
	*out = json_is_true(v);
	return 0;
}
