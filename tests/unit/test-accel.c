/* Unit tests for the accelerator choice (src/lib/accel/): the verdict
 * cache's key, file format, parser and store; the probe kernel search;
 * and the choice itself with fake QEMU scripts that print a kernel
 * banner, abort, or hang. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "rehost/accel.h"
#include "rehost/err.h"

static char dir[] = "/tmp/rehost-test-accel.XXXXXX";

static void put(const char *name, const char *text, mode_t mode)
{
	char p[4096];
	FILE *f;

	snprintf(p, sizeof p, "%s/%s", dir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(p, mode), 0);
}

static const char *path(const char *name)
{
	/* Several at once in one initializer or call. */
	static char p[16][4096];
	static int i;

	i = (i + 1) % 16;
	snprintf(p[i], sizeof p[i], "%s/%s", dir, name);
	return p[i];
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	/* The tests name every setting; none comes from the caller's
	 * environment. */
	unsetenv("REHOST_ACCEL_CACHE");
	unsetenv("REHOST_PROBE_KERNEL");
	unsetenv("REHOST_KVM_DEV");
	unsetenv("REHOST_BOOT_ID_FILE");
	unsetenv("REHOST_PROBE_TIMEOUT");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_names(void **state)
{
	enum rh_accel a = RH_ACCEL_TCG;

	(void)state;
	assert_int_equal(rh_accel_parse("auto", &a), 0);
	assert_int_equal(a, RH_ACCEL_AUTO);
	assert_int_equal(rh_accel_parse("kvm", &a), 0);
	assert_int_equal(a, RH_ACCEL_KVM);
	assert_int_equal(rh_accel_parse("tcg", &a), 0);
	assert_int_equal(a, RH_ACCEL_TCG);
	assert_int_equal(rh_accel_parse("hvf", &a), RH_ERR_INVAL);
	assert_int_equal(rh_accel_parse("KVM", &a), RH_ERR_INVAL);
	assert_string_equal(rh_accel_name(RH_ACCEL_KVM), "kvm");
	/* The probe and the real run use the same model under KVM. */
	assert_string_equal(rh_accel_cpu(RH_ACCEL_KVM), "host");
	assert_string_equal(rh_accel_cpu(RH_ACCEL_TCG), "max");
}

static void test_key(void **state)
{
	char k1[RH_ACCEL_KEY_MAX], k2[RH_ACCEL_KEY_MAX], n1[32], n2[32];
	char big[200];
	struct timespec ts[2] = { { .tv_sec = 1000000000 }, { .tv_sec = 1000000000 } };

	(void)state;
	put("boot_id", "d99e3925-7c41-47de-b181-523ef5ff8efd\n", 0644);
	put("qemu", "#!/bin/sh\nexit 0\n", 0755);
	assert_int_equal(rh_accel_cache_key(path("boot_id"), path("qemu"), k1, sizeof k1), 0);
	assert_non_null(strstr(k1, "d99e3925-7c41-47de-b181-523ef5ff8efd "));
	assert_non_null(strstr(k1, "/qemu"));
	assert_int_equal(rh_accel_cache_key(path("boot_id"), path("qemu"), k2, sizeof k2), 0);
	assert_string_equal(k1, k2);
	rh_accel_cache_name(k1, n1, sizeof n1);
	rh_accel_cache_name(k2, n2, sizeof n2);
	assert_string_equal(n1, n2);
	assert_int_equal(strncmp(n1, "accel-", 6), 0);
	assert_int_equal(strlen(n1), 6 + 16);

	/* Another boot. */
	put("boot_id", "00000000-7c41-47de-b181-523ef5ff8efd\n", 0644);
	assert_int_equal(rh_accel_cache_key(path("boot_id"), path("qemu"), k2, sizeof k2), 0);
	assert_string_not_equal(k1, k2);
	rh_accel_cache_name(k2, n2, sizeof n2);
	assert_string_not_equal(n1, n2);
	put("boot_id", "d99e3925-7c41-47de-b181-523ef5ff8efd\n", 0644);

	/* Another binary: replaced in place (new size), or only touched. */
	put("qemu", "#!/bin/sh\nexit 10\n", 0755);
	assert_int_equal(rh_accel_cache_key(path("boot_id"), path("qemu"), k2, sizeof k2), 0);
	assert_string_not_equal(k1, k2);
	assert_int_equal(utimensat(AT_FDCWD, path("qemu"), ts, 0), 0);
	assert_int_equal(rh_accel_cache_key(path("boot_id"), path("qemu"), k1, sizeof k1), 0);
	assert_string_not_equal(k1, k2);
	/* Another path to the same file is the same binary. */
	assert_int_equal(symlink(path("qemu"), path("qemu-link")), 0);
	assert_int_equal(rh_accel_cache_key(path("boot_id"), path("qemu-link"), k2, sizeof k2), 0);
	assert_string_equal(k1, k2);

	/* Bad boot ids and missing files. */
	put("boot_id", "", 0644);
	assert_int_equal(rh_accel_cache_key(path("boot_id"), path("qemu"), k2, sizeof k2),
			 RH_ERR_CORRUPT);
	put("boot_id", "two words\n", 0644);
	assert_int_equal(rh_accel_cache_key(path("boot_id"), path("qemu"), k2, sizeof k2),
			 RH_ERR_CORRUPT);
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	put("boot_id", big, 0644);
	assert_int_equal(rh_accel_cache_key(path("boot_id"), path("qemu"), k2, sizeof k2),
			 RH_ERR_CORRUPT);
	assert_true(rh_accel_cache_key(path("no-boot-id"), path("qemu"), k2, sizeof k2) < 0);
	put("boot_id", "d99e3925\n", 0644);
	assert_true(rh_accel_cache_key(path("boot_id"), path("no-qemu"), k2, sizeof k2) < 0);
	assert_int_equal(rh_accel_cache_key(path("boot_id"), path("qemu"), k2, 20), RH_ERR_TOOBIG);
}

static const char *KEY = "d99e3925 65024:1 100 1.000000000 /usr/bin/qemu-system-x86_64";

static void test_format_parse(void **state)
{
	struct rh_accel_choice c = { .accel = RH_ACCEL_TCG }, got;
	char buf[RH_ACCEL_CACHE_MAX + 1];
	int n;

	(void)state;
	snprintf(c.reason, sizeof c.reason, "KVM unusable: qemu aborted: failed to set MSR 0x10a");
	n = rh_accel_cache_format(KEY, &c, buf, sizeof buf);
	assert_true(n > 0);
	assert_string_equal(buf, "rehost-accel-cache 1\n"
			    "key d99e3925 65024:1 100 1.000000000 /usr/bin/qemu-system-x86_64\n"
			    "accel tcg\n"
			    "reason KVM unusable: qemu aborted: failed to set MSR 0x10a\n");
	assert_int_equal(rh_accel_cache_parse(buf, (size_t)n, KEY, &got), 0);
	assert_int_equal(got.accel, RH_ACCEL_TCG);
	assert_int_equal(got.how, RH_ACCEL_CACHED);
	assert_string_equal(got.cpu, "max");
	assert_string_equal(got.reason, c.reason);

	/* Every proper prefix is corrupt (a short write is re-probed). */
	for (int i = 0; i < n; i++)
		assert_int_equal(rh_accel_cache_parse(buf, (size_t)i, KEY, &got), RH_ERR_CORRUPT);
	/* Another key: well-formed, but not ours. */
	assert_int_equal(rh_accel_cache_parse(buf, (size_t)n, "other 1:1 1 1.0 /x", &got),
			 RH_ERR_NOTFOUND);
	assert_int_equal(got.accel, RH_ACCEL_AUTO);

	/* No verdict, no line. */
	c.accel = RH_ACCEL_AUTO;
	assert_int_equal(rh_accel_cache_format(KEY, &c, buf, sizeof buf), RH_ERR_INVAL);
	c.accel = RH_ACCEL_KVM;
	snprintf(c.reason, sizeof c.reason, "two\nlines");
	assert_int_equal(rh_accel_cache_format(KEY, &c, buf, sizeof buf), RH_ERR_INVAL);
	c.reason[0] = '\0';
	assert_int_equal(rh_accel_cache_format(KEY, &c, buf, sizeof buf), RH_ERR_INVAL);
	snprintf(c.reason, sizeof c.reason, "ok");
	assert_int_equal(rh_accel_cache_format(KEY, &c, buf, 10), RH_ERR_TOOBIG);
}

static void test_parse_corrupt(void **state)
{
	static const char *const bad[] = {
		"",
		"rehost-accel-cache 2\nkey K\naccel kvm\nreason r\n",
		"rehost-accel-cache 1\nkey K\naccel hvf\nreason r\n",
		"rehost-accel-cache 1\nkey K\naccel kvm \nreason r\n",
		"rehost-accel-cache 1\nkey K\naccel kvm\nreason \n",
		"rehost-accel-cache 1\nkey K\naccel kvm\nreason r",
		"rehost-accel-cache 1\nkey K\naccel kvm\nreason r\n\n",
		"rehost-accel-cache 1\nkey K\naccel kvm\nreason r\nreason s\n",
		"rehost-accel-cache 1\naccel kvm\nkey K\nreason r\n",
		"rehost-accel-cache 1\nkey K\nreason r\naccel kvm\n",
		"rehost-accel-cache 1\r\nkey K\r\naccel kvm\r\nreason r\r\n",
		"rehost-accel-cache 1\nkey K\naccel kvm\nreason r\tx\n",
		"rehost-accel-cache 1\nkey K\naccel kvm\nreason r\x80x\n",
		"rehost-accel-cache 1\nkey K\naccel\nreason r\n",
		"rehost-accel-cache 1\nkeyK\naccel kvm\nreason r\n",
	};
	const char good[] = "rehost-accel-cache 1\nkey K\naccel kvm\nreason r\n";
	struct rh_accel_choice got;
	char *big;

	(void)state;
	assert_int_equal(rh_accel_cache_parse(good, sizeof good - 1, "K", &got), 0);
	assert_int_equal(got.accel, RH_ACCEL_KVM);
	assert_string_equal(got.cpu, "host");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (rh_accel_cache_parse(bad[i], strlen(bad[i]), "K", &got) != RH_ERR_CORRUPT)
			fail_msg("accepted bad cache file %zu: %s", i, bad[i]);
		assert_int_equal(got.accel, RH_ACCEL_AUTO);
	}
	/* A NUL inside. */
	assert_int_equal(rh_accel_cache_parse("rehost-accel-cache 1\nkey K\0\naccel kvm\nreason r\n",
					      47, "K", &got), RH_ERR_CORRUPT);
	/* A reason too long to keep, and a file past the bound. */
	big = malloc(RH_ACCEL_CACHE_MAX + 64);
	assert_non_null(big);
	int n = snprintf(big, RH_ACCEL_CACHE_MAX + 64, "rehost-accel-cache 1\nkey K\naccel kvm\nreason ");
	memset(big + n, 'x', RH_ACCEL_REASON_MAX);
	strcpy(big + n + RH_ACCEL_REASON_MAX, "\n");
	assert_int_equal(rh_accel_cache_parse(big, strlen(big), "K", &got), RH_ERR_CORRUPT);
	memset(big, 'x', RH_ACCEL_CACHE_MAX + 1);
	assert_int_equal(rh_accel_cache_parse(big, RH_ACCEL_CACHE_MAX + 1, "K", &got),
			 RH_ERR_CORRUPT);
	free(big);
}

static void test_store_load(void **state)
{
	struct rh_accel_choice c = { .accel = RH_ACCEL_KVM, .how = RH_ACCEL_PROBED }, got;
	char name[32], file[4096];
	struct stat st;

	(void)state;
	snprintf(c.reason, sizeof c.reason, "a Linux kernel printed its banner");
	assert_int_equal(rh_accel_cache_load(path("cache/a/b"), KEY, &got), RH_ERR_NOTFOUND);
	/* Parents are created, each 0700. */
	assert_int_equal(rh_accel_cache_store(path("cache/a/b"), KEY, &c), 0);
	assert_int_equal(stat(path("cache"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(path("cache/a/b"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(rh_accel_cache_load(path("cache/a/b"), KEY, &got), 0);
	assert_int_equal(got.accel, RH_ACCEL_KVM);
	assert_int_equal(got.how, RH_ACCEL_CACHED);
	assert_string_equal(got.reason, c.reason);
	/* Another key: not found; no temporary file left. */
	assert_int_equal(rh_accel_cache_load(path("cache/a/b"), "other", &got), RH_ERR_NOTFOUND);
	rh_accel_cache_name(KEY, name, sizeof name);
	snprintf(file, sizeof file, "cache/a/b/%s", name);
	assert_int_equal(stat(path(file), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* Overwritten by a new verdict. */
	c.accel = RH_ACCEL_TCG;
	assert_int_equal(rh_accel_cache_store(path("cache/a/b"), KEY, &c), 0);
	assert_int_equal(rh_accel_cache_load(path("cache/a/b"), KEY, &got), 0);
	assert_int_equal(got.accel, RH_ACCEL_TCG);

	/* Corrupt: refused. */
	put(file, "rehost-accel-cache 1\nkey garbage", 0600);
	assert_int_equal(rh_accel_cache_load(path("cache/a/b"), KEY, &got), RH_ERR_CORRUPT);
	/* Writable by others: not trusted, whatever it says. */
	assert_int_equal(rh_accel_cache_store(path("cache/a/b"), KEY, &c), 0);
	assert_int_equal(chmod(path(file), 0666), 0);
	assert_int_equal(rh_accel_cache_load(path("cache/a/b"), KEY, &got), RH_ERR_PERM);
	assert_int_equal(chmod(path(file), 0600), 0);
	assert_int_equal(chmod(path("cache/a/b"), 0777), 0);
	assert_int_equal(rh_accel_cache_load(path("cache/a/b"), KEY, &got), RH_ERR_PERM);
	assert_int_equal(rh_accel_cache_store(path("cache/a/b"), KEY, &c), RH_ERR_PERM);
	assert_int_equal(chmod(path("cache/a/b"), 0700), 0);
	/* A symbolic link in the file's place is not followed. */
	assert_int_equal(unlink(path(file)), 0);
	put("elsewhere", "rehost-accel-cache 1\n", 0600);
	assert_int_equal(symlink(path("elsewhere"), path(file)), 0);
	assert_true(rh_accel_cache_load(path("cache/a/b"), KEY, &got) < 0);
	assert_int_equal(unlink(path(file)), 0);
	/* A file where the directory should be. */
	assert_true(rh_accel_cache_store(path("elsewhere/x"), KEY, &c) < 0);
}

static void test_find_kernel(void **state)
{
	char k[4096];

	(void)state;
	assert_int_equal(mkdir(path("boot"), 0755), 0);
	assert_int_equal(rh_accel_find_kernel(NULL, path("boot"), k, sizeof k), RH_ERR_NOTFOUND);
	assert_non_null(strstr(rh_lasterr(), "vmlinuz-"));
	put("boot/vmlinuz-5.10.0-9-amd64", "k", 0644);
	put("boot/vmlinuz-6.1.0-9-amd64", "k", 0644);
	put("boot/vmlinuz-6.1.0-10-amd64", "k", 0644);
	put("boot/initrd.img-6.1.0-11-amd64", "k", 0644);
	put("boot/config-6.1.0-12-amd64", "k", 0644);
	/* The newest by version, not by name. */
	assert_int_equal(rh_accel_find_kernel(NULL, path("boot"), k, sizeof k), 0);
	assert_string_equal(k, path("boot/vmlinuz-6.1.0-10-amd64"));
	assert_int_equal(rh_accel_find_kernel("", path("boot"), k, sizeof k), 0);
	/* A configured kernel wins, and must be there. */
	assert_int_equal(rh_accel_find_kernel(path("boot/vmlinuz-5.10.0-9-amd64"), path("boot"),
					      k, sizeof k), 0);
	assert_string_equal(k, path("boot/vmlinuz-5.10.0-9-amd64"));
	assert_int_equal(rh_accel_find_kernel(path("nonexistent"), path("boot"), k, sizeof k),
			 RH_ERR_NOTFOUND);
	assert_non_null(strstr(rh_lasterr(), "nonexistent"));
}

/* A fake QEMU: counts its runs in DIR/runs, then does what body says. */
static void fake_qemu(const char *name, const char *body)
{
	char text[2048];

	snprintf(text, sizeof text, "#!/bin/sh\necho run >>%s/runs.%s\n%s\n", dir, name, body);
	put(name, text, 0755);
}

static int runs(const char *name)
{
	char p[4096], line[64];
	FILE *f;
	int n = 0;

	snprintf(p, sizeof p, "%s/runs.%s", dir, name);
	if ((f = fopen(p, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL)
		n++;
	fclose(f);
	return n;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Whether the process whose pid is in file is gone (or a zombie
 * waiting for init: killed all the same). */
static bool gone(const char *file)
{
	char p[64], st[512];
	FILE *f = fopen(file, "r");
	int pid = 0;

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d", &pid), 1);
	fclose(f);
	snprintf(p, sizeof p, "/proc/%d/stat", pid);
	for (int i = 0; i < 50; i++) {
		char *z;

		if ((f = fopen(p, "r")) == NULL)
			return true;
		z = fgets(st, sizeof st, f);
		fclose(f);
		if (z != NULL && (z = strrchr(st, ')')) != NULL && z[1] == ' ' && z[2] == 'Z')
			return true;
		usleep(20000);
	}
	return false;
}

static void test_choose(void **state)
{
	struct rh_accel_opts o = {
		.kvm_dev = "/dev/null", /* opens: stands in for /dev/kvm */
		.boot_id_file = path("boot_id"),
		.cache_dir = path("choose-cache"),
		.kernel = path("vmlinuz"),
		.probe_timeout_s = 2,
	};
	struct rh_accel_choice c;
	char child[1024];
	double t0;

	(void)state;
	put("boot_id", "d99e3925-7c41-47de-b181-523ef5ff8efd\n", 0644);
	put("vmlinuz", "not really a kernel", 0644);
	fake_qemu("q-good", "case \"$*\" in *'-accel kvm -cpu host'*'console=ttyS0'*) "
		  "echo '[    0.000000] Linux version 6.1.0'; exec sleep 30;; esac; exit 1");
	fake_qemu("q-abort", "echo 'qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69' >&2; "
		  "echo 'kvm_buf_set_msrs: Assertion failed.' >&2; exit 134");
	/* A child of its own too: the whole process group must go. */
	snprintf(child, sizeof child, "sleep 30 & echo $! >%s/hang.child; exec sleep 30", dir);
	fake_qemu("q-hang", child);
	fake_qemu("q-none", "exit 1");

	/* Asked for: no probe. */
	o.qemu = path("q-none");
	o.want = RH_ACCEL_KVM;
	assert_int_equal(rh_accel_choose(&o, &c), 0);
	assert_int_equal(c.accel, RH_ACCEL_KVM);
	assert_int_equal(c.how, RH_ACCEL_REQUESTED);
	assert_string_equal(c.cpu, "host");
	o.want = RH_ACCEL_TCG;
	assert_int_equal(rh_accel_choose(&o, &c), 0);
	assert_int_equal(c.accel, RH_ACCEL_TCG);
	assert_int_equal(runs("q-none"), 0);
	o.want = RH_ACCEL_AUTO;

	/* No KVM device: TCG without running QEMU. */
	o.kvm_dev = path("no-kvm");
	assert_int_equal(rh_accel_choose(&o, &c), 0);
	assert_int_equal(c.accel, RH_ACCEL_TCG);
	assert_int_equal(c.how, RH_ACCEL_NO_DEVICE);
	assert_non_null(strstr(c.reason, "no-kvm"));
	assert_int_equal(runs("q-none"), 0);
	o.kvm_dev = "/dev/null";

	/* No kernel: TCG, with how to fix it; not cached. */
	o.kernel = path("no-vmlinuz");
	assert_int_equal(rh_accel_choose(&o, &c), 0);
	assert_int_equal(c.how, RH_ACCEL_NO_KERNEL);
	assert_non_null(strstr(c.reason, "linux-image-amd64"));
	assert_non_null(strstr(c.reason, "REHOST_PROBE_KERNEL"));
	assert_int_equal(runs("q-none"), 0);
	o.kernel = path("vmlinuz");

	/* A working KVM: probed once, then cached. */
	o.qemu = path("q-good");
	t0 = now();
	assert_int_equal(rh_accel_choose(&o, &c), 0);
	assert_true(now() - t0 < 1.5);
	assert_int_equal(c.accel, RH_ACCEL_KVM);
	assert_int_equal(c.how, RH_ACCEL_PROBED);
	assert_int_equal(runs("q-good"), 1);
	assert_int_equal(rh_accel_choose(&o, &c), 0);
	assert_int_equal(c.accel, RH_ACCEL_KVM);
	assert_int_equal(c.how, RH_ACCEL_CACHED);
	assert_int_equal(runs("q-good"), 1);
	/* Another boot: probed again. */
	put("boot_id", "another-boot\n", 0644);
	assert_int_equal(rh_accel_choose(&o, &c), 0);
	assert_int_equal(c.how, RH_ACCEL_PROBED);
	assert_int_equal(runs("q-good"), 2);

	/* QEMU aborts under KVM: TCG, with its first message; cached. */
	o.qemu = path("q-abort");
	assert_int_equal(rh_accel_choose(&o, &c), 0);
	assert_int_equal(c.accel, RH_ACCEL_TCG);
	assert_int_equal(c.how, RH_ACCEL_PROBED);
	assert_string_equal(c.reason, "KVM unusable: qemu aborted: failed to set MSR 0x10a to 0x69");
	assert_int_equal(rh_accel_choose(&o, &c), 0);
	assert_int_equal(c.how, RH_ACCEL_CACHED);
	assert_int_equal(runs("q-abort"), 1);

	/* Silent: killed at the deadline, not later. */
	o.qemu = path("q-hang");
	o.cache_dir = "off";
	t0 = now();
	assert_int_equal(rh_accel_choose(&o, &c), 0);
	assert_true(now() - t0 < 2 + 1.0);
	assert_int_equal(c.accel, RH_ACCEL_TCG);
	assert_non_null(strstr(c.reason, "within 2 s"));
	assert_true(gone(path("hang.child")));
	/* "off": nothing cached, so it probes again. */
	assert_int_equal(rh_accel_choose(&o, &c), 0);
	assert_int_equal(runs("q-hang"), 2);

	/* A QEMU that cannot be run says nothing about KVM. */
	o.qemu = path("no-such-qemu");
	assert_int_equal(rh_accel_choose(&o, &c), 0);
	assert_int_equal(c.accel, RH_ACCEL_TCG);
	assert_non_null(strstr(c.reason, "could not run the KVM probe"));

	/* Settings from the environment. */
	setenv("REHOST_PROBE_TIMEOUT", "0", 1);
	o.probe_timeout_s = 0;
	assert_int_equal(rh_accel_choose(&o, &c), RH_ERR_INVAL);
	unsetenv("REHOST_PROBE_TIMEOUT");
	setenv("REHOST_KVM_DEV", path("no-kvm-env"), 1);
	o.kvm_dev = NULL;
	assert_int_equal(rh_accel_choose(&o, &c), 0);
	assert_int_equal(c.how, RH_ACCEL_NO_DEVICE);
	assert_non_null(strstr(c.reason, "no-kvm-env"));
	unsetenv("REHOST_KVM_DEV");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_format_parse),
		cmocka_unit_test(test_parse_corrupt),
		cmocka_unit_test(test_store_load),
		cmocka_unit_test(test_find_kernel),
		cmocka_unit_test(test_choose),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
