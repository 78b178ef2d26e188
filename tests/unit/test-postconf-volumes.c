/*
 * Target volumes as the migrated system will name them: a real MBR image
 * made with sfdisk, an ext4 filesystem written at the partition's offset by
 * mke2fs and a swap area, then every kind of fstab/kernel device name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "postconf/volumes.h"
#include "rehost/err.h"

static char dir[] = "/tmp/rehost-test-pcvol.XXXXXX";
static char img[256];

static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	return system(cmd);
}

#define UUID_EXT "0f3e9a52-7d41-4c1b-9f7e-2b9c8d6a5e41"
#define UUID_SWAP "5c1a2b3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

static int setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(img, sizeof img, "%s/disk.img", dir);
	/* p1: ext4 at 1 MiB (16 MiB), p2: swap (8 MiB). */
	return sh("truncate -s 32M %s && printf 'label: dos\\nlabel-id: 0x1234abcd\\n"
		  "start=2048, size=32768, type=83\\nstart=34816, size=16384, type=82\\n' | "
		  "sfdisk -q %s && mke2fs -q -F -t ext4 -L rootfs -U " UUID_EXT
		  " -E offset=1048576 %s 16M && truncate -s 8M %s/swap && "
		  "mkswap -q -U " UUID_SWAP " %s/swap >/dev/null && "
		  "dd if=%s/swap of=%s bs=512 seek=34816 conv=notrunc status=none",
		  img, img, img, dir, dir, dir, img) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	sh("rm -rf %s", dir);
	return 0;
}

static void test_scan_and_names(void **state)
{
	const char *paths[] = { img };
	struct rh_pc_disks *d = NULL;
	struct rh_pc_vol *v;

	(void)state;
	assert_int_equal(rh_pc_disks_scan(paths, 1, &d), 0);
	assert_int_equal(d->ndisks, 1);
	assert_int_equal(d->ptable[0], RH_PTABLE_DOS);
	assert_int_equal(d->nvols, 3); /* the disk and two partitions */

	v = rh_pc_vol_by_name(d, "/dev/vda1");
	assert_non_null(v);
	assert_string_equal(v->fs.type, "ext4");
	assert_string_equal(v->fs.uuid, UUID_EXT);
	assert_int_equal(v->offset, 1048576);
	assert_string_equal(v->partuuid, "1234abcd-01");

	/* Every way fstab or a kernel command line may name it. */
	assert_ptr_equal(rh_pc_vol_find(d, "UUID=" UUID_EXT), v);
	assert_ptr_equal(rh_pc_vol_find(d, "UUID=\"" UUID_EXT "\""), v);
	assert_ptr_equal(rh_pc_vol_find(d, "UUID=0F3E9A52-7D41-4C1B-9F7E-2B9C8D6A5E41"), v);
	assert_ptr_equal(rh_pc_vol_find(d, "/dev/disk/by-uuid/" UUID_EXT), v);
	assert_ptr_equal(rh_pc_vol_find(d, "LABEL=rootfs"), v);
	assert_ptr_equal(rh_pc_vol_find(d, "PARTUUID=1234abcd-01"), v);
	assert_ptr_equal(rh_pc_vol_find(d, "/dev/sda1"), v);
	assert_ptr_equal(rh_pc_vol_find(d, "/dev/xvda1"), v);
	assert_ptr_equal(rh_pc_vol_find(d, "/dev/hda1"), v);
	assert_ptr_equal(rh_pc_vol_find(d, "/dev/vda1"), v);
	assert_ptr_equal(rh_pc_vol_find(d, "/dev/nvme0n1p1"), v);

	v = rh_pc_vol_find(d, "/dev/sda2");
	assert_non_null(v);
	assert_int_equal(v->fs.usage, RH_FS_USAGE_SWAP);
	assert_ptr_equal(rh_pc_vol_find(d, "UUID=" UUID_SWAP), v);
	assert_ptr_equal(rh_pc_vol_find(d, "/dev/sda"), rh_pc_vol_by_name(d, "/dev/vda"));

	/* Not on the target disks: another disk, a missing partition, junk. */
	assert_null(rh_pc_vol_find(d, "/dev/sdb1"));
	assert_null(rh_pc_vol_find(d, "/dev/sda3"));
	assert_null(rh_pc_vol_find(d, "/dev/sda0"));
	assert_null(rh_pc_vol_find(d, "/dev/sda1x"));
	assert_null(rh_pc_vol_find(d, "/dev/nvme0n1p"));
	assert_null(rh_pc_vol_find(d, "/dev/nvme0n0p1"));
	assert_null(rh_pc_vol_find(d, "UUID=00000000-0000-0000-0000-000000000000"));
	assert_null(rh_pc_vol_find(d, "LABEL="));
	assert_null(rh_pc_vol_find(d, "/dev/mapper/vg-root"));
	assert_null(rh_pc_vol_find(d, "server:/export"));
	rh_pc_disks_free(d);
}

static void test_bad_input(void **state)
{
	const char *missing[] = { "/nonexistent/disk.img" };
	struct rh_pc_disks *d = (void *)1;

	(void)state;
	assert_int_equal(rh_pc_disks_scan(missing, 1, &d), RH_ERR_NOTFOUND);
	assert_null(d);
	assert_non_null(strstr(rh_lasterr(), "/nonexistent/disk.img"));
	assert_int_equal(rh_pc_disks_scan(missing, 0, &d), RH_ERR_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan_and_names),
		cmocka_unit_test(test_bad_input),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
