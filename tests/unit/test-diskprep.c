/*
 * Disk preparation on the target (src/lib/diskprep), on images that
 * sfdisk partitions at run time:
 *
 *   - firmware detection: GPT with an ESP, a BIOS boot partition, both,
 *     neither; MBR with a 0xEF partition, an active partition, boot code,
 *     nothing; no table at all; and the firmware check with the seed's
 *     messages and catalogue code;
 *   - growing the table only (no filesystem: no root needed): a GPT's
 *     backup header moves to the new end and the last partition fills the
 *     disk, as sfdisk --verify and sgdisk -v see it; an MBR partition
 *     grows; shrinking and odd sizes are refused, naming both sizes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rehost/diskprep.h"
#include "rehost/err.h"
#include "rehost/errcat.h"
#include "rehost/firmware.h"

#define MiB (1024ull * 1024)

static char dir[256];
static char img[300];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return rc == -1 ? -1 : WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

static bool have(const char *tool)
{
	return sh("command -v %s >/dev/null 2>&1 || test -x /usr/sbin/%s || test -x /sbin/%s",
		  tool, tool, tool) == 0;
}

/* A fresh sparse image of size bytes partitioned by the sfdisk script. */
static void make(uint64_t size, const char *script)
{
	assert_int_equal(sh("rm -f '%s' && truncate -s %llu '%s'", img, (unsigned long long)size, img), 0);
	if (script != NULL)
		assert_int_equal(sh("printf '%s' | PATH=$PATH:/usr/sbin:/sbin sfdisk -q --no-reread --no-tell-kernel '%s' >/dev/null",
				    script, img), 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "%s/rehost-test-diskprep.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(img, sizeof img, "%s/disk.img", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return sh("rm -rf '%s'", dir) == 0 ? 0 : -1;
}

static enum rh_firmware detect(struct rh_firmware_info *fw)
{
	assert_int_equal(rh_disk_firmware(img, fw), 0);
	return fw->type;
}

static void test_firmware_gpt(void **state)
{
	struct rh_firmware_info fw;

	(void)state;
	if (!have("sfdisk"))
		skip();
	make(64 * MiB, "label: gpt\\nsize=8MiB, type=U\\nsize=+\\n");
	assert_int_equal(detect(&fw), RH_FW_UEFI);
	assert_int_equal(fw.esp_part, 1);
	assert_non_null(strstr(fw.reason, "EFI System Partition (partition 1)"));

	make(64 * MiB, "label: gpt\\nsize=1MiB, type=21686148-6449-6E6F-744E-656564454649\\nsize=+\\n");
	assert_int_equal(detect(&fw), RH_FW_BIOS);
	assert_int_equal(fw.bios_part, 1);

	make(64 * MiB, "label: gpt\\nsize=1MiB, type=21686148-6449-6E6F-744E-656564454649\\nsize=8MiB, type=U\\nsize=+\\n");
	assert_int_equal(detect(&fw), RH_FW_BOTH);
	assert_int_equal(fw.bios_part, 1);
	assert_int_equal(fw.esp_part, 2);
	assert_string_equal(rh_firmware_name(fw.type), "BIOS+UEFI");

	make(64 * MiB, "label: gpt\\nsize=+\\n");
	assert_int_equal(detect(&fw), RH_FW_UNKNOWN);
	assert_non_null(strstr(fw.reason, "GPT without"));
}

static void test_firmware_mbr(void **state)
{
	struct rh_firmware_info fw;

	(void)state;
	if (!have("sfdisk"))
		skip();
	make(64 * MiB, "label: dos\\nsize=8MiB, type=ef\\nsize=+\\n");
	assert_int_equal(detect(&fw), RH_FW_UEFI);
	assert_int_equal(fw.esp_part, 1);

	make(64 * MiB, "label: dos\\nsize=+, bootable\\n");
	assert_int_equal(detect(&fw), RH_FW_BIOS);
	assert_int_equal(fw.active_part, 1);
	assert_false(fw.boot_code);

	make(64 * MiB, "label: dos\\nsize=8MiB, type=ef\\nsize=+, bootable\\n");
	assert_int_equal(detect(&fw), RH_FW_BOTH);

	make(64 * MiB, "label: dos\\nsize=+\\n");
	assert_int_equal(detect(&fw), RH_FW_UNKNOWN);
	/* Boot code (what grub-install writes to sector 0) makes it BIOS. */
	assert_int_equal(sh("printf '\\353\\143\\220' | dd of='%s' conv=notrunc status=none", img), 0);
	assert_int_equal(detect(&fw), RH_FW_BIOS);
	assert_true(fw.boot_code);
	assert_non_null(strstr(fw.reason, "MBR boot code"));

	make(64 * MiB, NULL);
	assert_int_equal(detect(&fw), RH_FW_UNKNOWN);
	assert_string_equal(fw.reason, "no partition table");

	assert_int_equal(rh_disk_firmware("/nonexistent/disk", &fw), RH_ERR_NOTFOUND);
}

static void test_firmware_check(void **state)
{
	enum rh_firmware f;

	(void)state;
	assert_int_equal(rh_firmware_check(RH_FW_UEFI, RH_FW_UEFI), 0);
	assert_int_equal(rh_firmware_check(RH_FW_BIOS, RH_FW_BIOS), 0);
	assert_int_equal(rh_firmware_check(RH_FW_BOTH, RH_FW_BIOS), 0);
	assert_int_equal(rh_firmware_check(RH_FW_BOTH, RH_FW_UEFI), 0);
	assert_int_equal(rh_firmware_check(RH_FW_UEFI, RH_FW_BIOS), RH_ERR_INVAL);
	assert_string_equal(rh_lasterr(),
			    "the target's firmware type differs from the source's: source UEFI, target BIOS");
	assert_string_equal(rh_lasterr_sms(), "MSG.firmware-mismatch");
	assert_int_equal(rh_firmware_check(RH_FW_BIOS, RH_FW_UEFI), RH_ERR_INVAL);
	assert_non_null(strstr(rh_lasterr(), "source BIOS, target UEFI"));
	assert_int_equal(rh_firmware_check(RH_FW_UNKNOWN, RH_FW_BIOS), RH_ERR_INVAL);
	assert_non_null(strstr(rh_lasterr(),
			       "firmware types (UEFI/BIOS boot) differ, or the source firmware type is unknown"));
	assert_string_equal(rh_lasterr_sms(), "MSG.firmware-mismatch");
	/* The catalogue entry the CLI prints as a hint exists. */
	assert_non_null(rh_errcat_find(rh_errcat_builtin(), "MSG.firmware-mismatch"));
	assert_int_equal(rh_firmware_parse("UEFI", &f), 0);
	assert_int_equal(f, RH_FW_UEFI);
	assert_int_equal(rh_firmware_parse("bios", &f), 0);
	assert_int_equal(f, RH_FW_BIOS);
	assert_int_equal(rh_firmware_parse("efi", &f), RH_ERR_INVAL);
}

/* Partition n's "start size" in sectors, from sfdisk -d. */
static void part(int n, unsigned long long *start, unsigned long long *size)
{
	char cmd[1024], line[512];
	FILE *p;

	snprintf(cmd, sizeof cmd,
		 "PATH=$PATH:/usr/sbin:/sbin sfdisk -d '%s' | sed -n 's/^.*img%d : start= *\\([0-9]*\\), size= *\\([0-9]*\\),.*/\\1 \\2/p'",
		 img, n);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(line, sizeof line, p));
	pclose(p);
	assert_int_equal(sscanf(line, "%llu %llu", start, size), 2);
}

static void test_grow_gpt_table(void **state)
{
	struct rh_grow_opts o = { .size = 256 * MiB };
	struct rh_grow_result r;
	unsigned long long s0, z0, s1, z1;

	(void)state;
	if (!have("sfdisk"))
		skip();
	make(128 * MiB, "label: gpt\\nsize=16MiB\\nsize=+\\n");
	part(2, &s0, &z0);
	assert_int_equal(rh_disk_grow(img, &o, &r), 0);
	assert_int_equal(r.old_size, 128 * MiB);
	assert_int_equal(r.new_size, 256 * MiB);
	assert_true(r.table_rewritten);
	assert_int_equal(r.ptable, RH_PTABLE_GPT);
	assert_int_equal(r.partno, 2);
	part(2, &s1, &z1);
	assert_int_equal(s1, s0);
	assert_true(z1 > z0 + 120 * 2048);
	assert_int_equal(r.part_new, z1 * 512);
	/* Ends on a 1 MiB boundary, within the last usable LBA. */
	assert_int_equal((s1 + z1) % 2048, 0);
	assert_true(s1 + z1 <= 256 * 2048 - 34);
	assert_non_null(strstr(r.note, "no filesystem recognised"));
	/* Backup header at the very end, table consistent. */
	assert_int_equal(sh("PATH=$PATH:/usr/sbin:/sbin sfdisk --verify '%s' | grep -q 'No errors detected'", img), 0);
	if (have("sgdisk"))
		assert_int_equal(sh("PATH=$PATH:/usr/sbin:/sbin sgdisk -v '%s' | grep -q 'No problems found'", img), 0);
	assert_int_equal(sh("dd if='%s' bs=512 skip=%llu count=1 status=none | head -c 8 | grep -q 'EFI PART'",
			    img, 256ull * 2048 - 1), 0);
	/* Nothing more to do the second time. */
	o.size = 0;
	assert_int_equal(rh_disk_grow(img, &o, &r), 0);
	assert_false(r.table_rewritten);

	/* --no-grow-partition: the table moves, the partition stays. */
	make(128 * MiB, "label: gpt\\nsize=16MiB\\nsize=+\\n");
	part(2, &s0, &z0);
	o.size = 200 * MiB;
	o.no_partition = true;
	assert_int_equal(rh_disk_grow(img, &o, &r), 0);
	assert_true(r.table_rewritten);
	part(2, &s1, &z1);
	assert_int_equal(z1, z0);
	assert_int_equal(sh("PATH=$PATH:/usr/sbin:/sbin sfdisk --verify '%s' | grep -q 'No errors detected'", img), 0);
}

static void test_grow_mbr_and_refusals(void **state)
{
	struct rh_grow_opts o = { .size = 96 * MiB };
	struct rh_grow_result r;
	unsigned long long s0, z0, s1, z1;
	struct stat st;

	(void)state;
	if (!have("sfdisk"))
		skip();
	make(64 * MiB, "label: dos\\nsize=8MiB\\nsize=+\\n");
	part(2, &s0, &z0);
	assert_int_equal(rh_disk_grow(img, &o, &r), 0);
	assert_int_equal(r.ptable, RH_PTABLE_DOS);
	part(2, &s1, &z1);
	assert_int_equal(s1, s0);
	assert_int_equal(s1 + z1, 96 * 2048);
	assert_int_equal(sh("PATH=$PATH:/usr/sbin:/sbin sfdisk --verify '%s' | grep -q 'No errors detected'", img), 0);

	/* Never shrink; the message names both sizes. */
	o.size = 64 * MiB;
	assert_int_equal(rh_disk_grow(img, &o, &r), RH_ERR_RANGE);
	assert_non_null(strstr(rh_lasterr(), "64.0 MiB (67108864 bytes)"));
	assert_non_null(strstr(rh_lasterr(), "96.0 MiB (100663296 bytes)"));
	assert_int_equal(stat(img, &st), 0);
	assert_int_equal(st.st_size, 96 * MiB);
	o.size = 100 * MiB + 1;
	assert_int_equal(rh_disk_grow(img, &o, &r), RH_ERR_RANGE);
	assert_non_null(strstr(rh_lasterr(), "multiple of 512"));
	/* Below the source disk's size. */
	o.size = 0;
	o.min_size = 128 * MiB;
	assert_int_equal(rh_disk_grow(img, &o, &r), RH_ERR_RANGE);
	assert_non_null(strstr(rh_lasterr(), "source disk's size"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_firmware_gpt),
		cmocka_unit_test(test_firmware_mbr),
		cmocka_unit_test(test_firmware_check),
		cmocka_unit_test(test_grow_gpt_table),
		cmocka_unit_test(test_grow_mbr_and_refusals),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
