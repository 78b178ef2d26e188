/* Fuzz the rehost.conf parser: any input must either load or fail with an
 * error message, never crash, and a failed load must leave the defaults. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "rehost/config.h"
#include "rehost/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rh_config *cfg = NULL;
	int rc;

	if (rh_config_new(&cfg) < 0)
		return 0;
	rc = rh_config_load_buffer(cfg, "fuzz.conf", (const char *)data, size);
	if (rc < 0) {
		/* Every rejection explains itself. */
		assert(rh_lasterr()[0] != '\0' || rc == RH_ERR_NOMEM);
		assert(rh_config_int(cfg, "replication", "buffer_node_mb") == 4);
	} else {
		int64_t v = rh_config_int(cfg, "replication", "buffer_node_mb");

		assert(v >= 1 && v <= 8);
		v = rh_config_int(cfg, "limits", "cpu_percent");
		assert(v == 0 || (v >= 1 && v <= 100));
	}
	rh_config_free(cfg);
	return 0;
}
