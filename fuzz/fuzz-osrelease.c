/* Fuzz the os-release parser: every lookup either finds a value that fits
 * the buffer or reports why not. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/internal.h"
#include "rehost/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "ID", "VERSION_ID", "NAME", "PRETTY_NAME",
					    "VARIANT_ID", "ID_LIKE", "VERSION", "DISTRIB_ID" };
	char *text = malloc(size + 1);
	char out[128];

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		int rc = osrel_get(text, keys[i], out, sizeof out);

		assert(rc == 0 || rc == RH_ERR_NOTFOUND || rc == RH_ERR_TOOBIG);
		assert(strlen(out) < sizeof out);
		if (rc != 0)
			assert(out[0] == '\0');
	}
	free(text);
	return 0;
}
