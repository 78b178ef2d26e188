/* Fuzz the accelerator verdict cache parser (src/lib/accel/cache.c): a
 * file accepted for a key gives a KVM or TCG verdict with a printable,
 * bounded reason, and formats back to the same bytes. The key is the
 * file's own key line when there is one, so that the accepting path is
 * reached, and a fixed one otherwise. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "rehost/accel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char fixed[] = "d99e3925 1:1 1 1.000000000 /usr/bin/qemu-system-x86_64";
	char key[RH_ACCEL_KEY_MAX] = "", buf[RH_ACCEL_CACHE_MAX + 1];
	const char *k = memmem(data, size, "\nkey ", 5);
	struct rh_accel_choice c;
	size_t l;
	int n;

	if (k != NULL) {
		const char *start = k + 5, *end = memchr(start, '\n', size - (size_t)(start - (const char *)data));

		l = end != NULL ? (size_t)(end - start) : 0;
		if (end != NULL && l < sizeof key && memchr(start, '\0', l) == NULL) {
			memcpy(key, start, l);
			key[l] = '\0';
		}
	}
	if (key[0] == '\0')
		memcpy(key, fixed, sizeof fixed);
	if (rh_accel_cache_parse(data, size, key, &c) < 0)
		return 0;
	assert(c.accel == RH_ACCEL_KVM || c.accel == RH_ACCEL_TCG);
	assert(c.how == RH_ACCEL_CACHED);
	assert(strcmp(c.cpu, rh_accel_cpu(c.accel)) == 0);
	l = strlen(c.reason);
	assert(l > 0 && l < RH_ACCEL_REASON_MAX);
	for (size_t i = 0; i < l; i++)
		assert(c.reason[i] >= 0x20 && c.reason[i] < 0x7f);
	n = rh_accel_cache_format(key, &c, buf, sizeof buf);
	assert(n >= 0 && (size_t)n == size && memcmp(buf, data, size) == 0);
	return 0;
}
