/* Fuzz the JSON helpers: a load either fails with a recorded reason or
 * yields a document that survives dump + reload unchanged, and the typed
 * getters agree with each member's real type instead of crashing on it. */
#include <assert.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rehost/err.h"
#include "rehost/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX (64u << 10)

static void check_getters(const json_t *obj)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		const char *s = "x";
		int64_t n = 1;
		bool b = true;
		int rc;

		rc = rh_json_get_str(obj, key, &s);
		assert((rc == 0) == json_is_string(v));
		assert(rc == 0 ? s == json_string_value(v) : s == NULL);
		assert(rc == 0 || rc == RH_ERR_PARSE);

		rc = rh_json_get_int(obj, key, INT64_MIN, INT64_MAX, &n);
		assert((rc == 0) == json_is_integer(v));
		assert(rc == 0 ? n == json_integer_value(v) : n == 0);
		rc = rh_json_get_int(obj, key, 0, 10, &n);
		assert(rc == 0 ? n >= 0 && n <= 10 : n == 0);

		rc = rh_json_get_bool(obj, key, &b);
		assert((rc == 0) == json_is_boolean(v));
		assert(rc == 0 ? b == json_is_true(v) : !b);
	}
	if (json_object_get(obj, "\x01missing") == NULL) {
		const char *s = "x";

		assert(rh_json_get_str(obj, "\x01missing", &s) == RH_ERR_NOTFOUND);
		assert(s == NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int devnull = -2;
	json_t *j = (json_t *)&j, *back = NULL;
	char *text;
	int rc;

	if (devnull == -2)
		devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	rc = rh_json_load((const char *)data, size, FUZZ_MAX, &j);
	if (rc < 0) {
		assert(j == NULL);
		assert(rc == RH_ERR_PARSE || rc == RH_ERR_TOOBIG || rc == RH_ERR_NOMEM);
		assert(rc == RH_ERR_NOMEM || rh_lasterr()[0] != '\0');
		assert(rc != RH_ERR_TOOBIG || size > FUZZ_MAX);
		return 0;
	}
	assert(size <= FUZZ_MAX);
	assert(json_is_object(j) || json_is_array(j));

	text = json_dumps(j, JSON_COMPACT);
	assert(text != NULL);
	assert(rh_json_load(text, strlen(text), SIZE_MAX, &back) == 0);
	assert(json_equal(j, back));
	json_decref(back);
	free(text);

	if (devnull >= 0)
		assert(rh_json_dump_fd(devnull, j, 1) == 0);

	if (json_is_object(j)) {
		check_getters(j);
	} else {
		size_t i;
		json_t *v;

		json_array_foreach(j, i, v) {
			if (json_is_object(v))
				check_getters(v);
			else
				assert(rh_json_get_str(v, "k", &(const char *){ NULL }) ==
				       RH_ERR_INVAL);
		}
	}
	json_decref(j);
	return 0;
}
