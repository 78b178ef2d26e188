/* Fuzz the JSON request bodies of the API: a task configuration validated
 * against a source inventory (both from the input, split at the first NUL
 * byte; no NUL = no inventory), and the inventory's data-size walk.
 * Invariants: success yields a normalised configuration (mode block or
 * file, at least one target disk, every special setting present); failure
 * yields a non-empty list of {field, code, message} errors. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rehost/err.h"
#include "rehost/json.h"
#include "rehost/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *nul = memchr(p, '\0', size);
	json_t *body = NULL, *inv = NULL, *cfg = NULL, *errors = NULL, *e;
	size_t blen = nul ? (size_t)(nul - p) : size, i;
	int rc;

	if (rh_json_load(p, blen, 1u << 20, &body) < 0)
		return 0;
	if (nul != NULL && rh_json_load(nul + 1, size - blen - 1, 1u << 20, &inv) < 0)
		inv = NULL;
	(void)rh_taskcfg_data_bytes(inv, "block");
	(void)rh_taskcfg_data_bytes(inv, "file");
	rc = rh_taskcfg_validate(body, json_is_object(inv) ? inv : NULL, &cfg, &errors);
	if (rc == 0) {
		const char *mode = json_string_value(json_object_get(cfg, "mode"));

		assert(errors == NULL && json_is_object(cfg));
		assert(mode != NULL && (strcmp(mode, "block") == 0 || strcmp(mode, "file") == 0));
		assert(json_array_size(json_object_get(json_object_get(cfg, "target"), "disks")) > 0);
		assert(json_is_integer(json_object_get(cfg, "buffer_node_bytes")));
		assert(json_is_boolean(json_object_get(cfg, "continuous_sync")));
		assert(json_is_array(json_object_get(cfg, "rate_limit")));
		assert(json_is_object(json_object_get(cfg, "limits")));
		/* Normalising is idempotent. */
		{
			json_t *cfg2 = NULL, *err2 = NULL;

			assert(rh_taskcfg_validate(cfg, NULL, &cfg2, &err2) == 0);
			json_decref(cfg2);
		}
	} else {
		assert(rc == RH_ERR_INVAL && cfg == NULL);
		assert(json_array_size(errors) > 0);
		json_array_foreach(errors, i, e) {
			assert(json_is_string(json_object_get(e, "field")));
			assert(json_is_string(json_object_get(e, "message")));
			assert(json_is_string(json_object_get(e, "code")) ||
			       json_is_null(json_object_get(e, "code")));
		}
	}
	json_decref(cfg);
	json_decref(errors);
	json_decref(body);
	json_decref(inv);
	return 0;
}
