/*
 * Choosing the accelerator (include/rehost/accel.h): as asked, or for
 * "auto" from the KVM device, the cached verdict of this host boot, or a
 * probe. A broken KVM is a verdict (TCG), never an error: a slow test
 * beats a test that cannot run.
 */
#define RH_LOG_COMPONENT "accel"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rehost/accel.h"
#include "rehost/err.h"
#include "rehost/log.h"
#include "rehost/num.h"

#define SLOWER "using TCG (5-20x slower)"

const char *rh_accel_name(enum rh_accel a)
{
	switch (a) {
	case RH_ACCEL_KVM:
		return "kvm";
	case RH_ACCEL_TCG:
		return "tcg";
	case RH_ACCEL_AUTO:
		break;
	}
	return "auto";
}

int rh_accel_parse(const char *s, enum rh_accel *out)
{
	static const enum rh_accel all[] = { RH_ACCEL_AUTO, RH_ACCEL_KVM, RH_ACCEL_TCG };

	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		if (strcmp(s, rh_accel_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	}
	return rh_seterr(RH_ERR_INVAL, "accelerator '%s': auto, kvm or tcg", s);
}

const char *rh_accel_cpu(enum rh_accel a)
{
	return a == RH_ACCEL_KVM ? "host" : "max";
}

/* A setting: the field, else the environment variable, else the default;
 * an empty variable counts as unset. */
static const char *setting(const char *field, const char *env, const char *def)
{
	const char *v;

	if (field != NULL)
		return field;
	v = getenv(env);
	return v != NULL && v[0] != '\0' ? v : def;
}

static void set(struct rh_accel_choice *c, enum rh_accel a, enum rh_accel_how how,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void set(struct rh_accel_choice *c, enum rh_accel a, enum rh_accel_how how,
		const char *fmt, ...)
{
	va_list ap;

	c->accel = a;
	c->cpu = rh_accel_cpu(a);
	c->how = how;
	va_start(ap, fmt);
	vsnprintf(c->reason, sizeof c->reason, fmt, ap);
	va_end(ap);
	/* One printable line: it goes to logs, JSON and the cache. */
	for (char *p = c->reason; *p; p++)
		if (*p < 0x20 || *p >= 0x7f)
			*p = '?';
}

/* The cached verdict, or a fresh probe stored for next time. */
static void probe_or_cache(const struct rh_accel_opts *o, unsigned timeout_s,
			   struct rh_accel_choice *out)
{
	const char *dir = setting(o->cache_dir, "REHOST_ACCEL_CACHE", "/run/rehost");
	const char *boot_id = setting(o->boot_id_file, "REHOST_BOOT_ID_FILE",
				      "/proc/sys/kernel/random/boot_id");
	const char *configured = setting(o->kernel, "REHOST_PROBE_KERNEL", NULL);
	char key[RH_ACCEL_KEY_MAX], kernel[4096], reason[RH_ACCEL_REASON_MAX];
	bool cache = strcmp(dir, "off") != 0;
	enum rh_accel_verdict v;
	int rc;

	if (cache && rh_accel_cache_key(boot_id, o->qemu, key, sizeof key) < 0) {
		rh_log_debug("no verdict cache: %s", rh_lasterr());
		cache = false;
	}
	if (cache) {
		rc = rh_accel_cache_load(dir, key, out);
		if (rc == 0) {
			rh_log_info("accelerator %s (cached verdict of this host boot: %s)",
				    rh_accel_name(out->accel), out->reason);
			return;
		}
		if (rc != RH_ERR_NOTFOUND)
			/* Corrupt or untrusted: probe again (and replace it). */
			rh_log_debug("cached verdict ignored: %s", rh_lasterr());
	}
	if (rh_accel_find_kernel(configured, "/boot", kernel, sizeof kernel) < 0) {
		/* Not cached: installing a kernel should help at once. */
		set(out, RH_ACCEL_TCG, RH_ACCEL_NO_KERNEL,
		    "no kernel to probe KVM with (%s): install linux-image-amd64 or set "
		    "REHOST_PROBE_KERNEL=/path/to/vmlinuz", rh_lasterr());
		rh_log_warn("%s; " SLOWER, out->reason);
		return;
	}
	v = rh_accel_probe(o->qemu, kernel, timeout_s, reason, sizeof reason);
	set(out, v == RH_ACCEL_WORKS ? RH_ACCEL_KVM : RH_ACCEL_TCG, RH_ACCEL_PROBED, "%s", reason);
	if (v == RH_ACCEL_WORKS)
		rh_log_info("accelerator kvm (%s)", out->reason);
	else
		rh_log_warn("%s; " SLOWER, out->reason);
	if (cache && v != RH_ACCEL_NO_RUN && rh_accel_cache_store(dir, key, out) < 0)
		rh_log_debug("verdict not cached: %s", rh_lasterr());
}

int rh_accel_choose(const struct rh_accel_opts *opts, struct rh_accel_choice *out)
{
	static const struct rh_accel_opts defaults = { .want = RH_ACCEL_AUTO };
	const struct rh_accel_opts *o = opts != NULL ? opts : &defaults;
	const char *dev = setting(o->kvm_dev, "REHOST_KVM_DEV", "/dev/kvm");
	unsigned timeout_s = o->probe_timeout_s;
	int fd;

	memset(out, 0, sizeof *out);
	if (o->want == RH_ACCEL_KVM || o->want == RH_ACCEL_TCG) {
		set(out, o->want, RH_ACCEL_REQUESTED, "%s as requested (not probed)",
		    rh_accel_name(o->want));
		rh_log_info("accelerator %s", out->reason);
		return 0;
	}
	if (o->want != RH_ACCEL_AUTO)
		return rh_seterr(RH_ERR_INVAL, "accelerator %d", (int)o->want);
	if (timeout_s == 0) {
		const char *env = getenv("REHOST_PROBE_TIMEOUT");
		int64_t v = RH_ACCEL_PROBE_TIMEOUT_S;

		if (env != NULL && env[0] != '\0' && rh_parse_i64(env, 1, 600, &v) < 0)
			return rh_seterr(RH_ERR_INVAL, "REHOST_PROBE_TIMEOUT=%s: 1 to 600 (seconds)",
					 env);
		timeout_s = (unsigned)v;
	}
	if (timeout_s > 600)
		return rh_seterr(RH_ERR_INVAL, "probe timeout %u s: 1 to 600", timeout_s);
	/* Without the device there is nothing to probe. */
	fd = open(dev, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		set(out, RH_ACCEL_TCG, RH_ACCEL_NO_DEVICE, "no KVM: %s: %s", dev, strerror(errno));
		rh_log_info("%s; " SLOWER, out->reason);
		return 0;
	}
	close(fd);
	probe_or_cache(o, timeout_s, out);
	return 0;
}
