/* Unit tests for the boot-test QEMU command line and disk discovery
 * (src/lib/boottest/qemu.c, disks.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include "rehost/boottest.h"
#include "rehost/err.h"
#include "rehost/img.h"

/* The argument after `opt` at or after position *from that starts with
 * prefix; NULL when none. */
static const char *find_arg(char **argv, const char *opt, const char *prefix)
{
	for (size_t i = 0; argv[i] != NULL && argv[i + 1] != NULL; i++)
		if (strcmp(argv[i], opt) == 0 && strncmp(argv[i + 1], prefix, strlen(prefix)) == 0)
			return argv[i + 1];
	return NULL;
}

static bool has_word(char **argv, const char *w)
{
	for (size_t i = 0; argv[i] != NULL; i++)
		if (strcmp(argv[i], w) == 0)
			return true;
	return false;
}

static size_t count_opt(char **argv, const char *opt, const char *prefix)
{
	size_t n = 0;

	for (size_t i = 0; argv[i] != NULL && argv[i + 1] != NULL; i++)
		n += strcmp(argv[i], opt) == 0 && strncmp(argv[i + 1], prefix, strlen(prefix)) == 0;
	return n;
}

static struct rh_bt_disk two_disks[] = {
	{ .path = "/srv/t/disk0.raw", .format = RH_IMG_RAW },
	{ .path = "/srv/t,x/disk1.qcow2", .format = RH_IMG_QCOW2 },
};

static void test_argv_bios_virtio(void **state)
{
	struct rh_bt_opts o = { .disks = two_disks, .ndisks = 2, .memory_mib = 2048, .cpus = 2 };
	char **argv = NULL;

	assert_int_equal(rh_bt_build_argv(&o, "tcg", "/dev/fd/3", "/tmp/x/sercon-port", NULL, NULL,
					  &argv), 0);
	assert_string_equal(argv[0], "qemu-system-x86_64");
	/* A test boot never writes the disks, never reboots, shows nothing. */
	assert_true(has_word(argv, "-snapshot"));
	assert_true(has_word(argv, "-no-reboot"));
	assert_true(has_word(argv, "-nodefaults"));
	assert_non_null(find_arg(argv, "-display", "none"));
	assert_non_null(find_arg(argv, "-boot", "strict=on"));
	assert_non_null(find_arg(argv, "-machine", "pc"));
	assert_non_null(find_arg(argv, "-accel", "tcg"));
	assert_non_null(find_arg(argv, "-cpu", "max"));
	assert_non_null(find_arg(argv, "-m", "2048"));
	assert_non_null(find_arg(argv, "-smp", "2"));
	/* Disk 0 boots, disk 1 does not; a comma in a path is doubled. */
	assert_non_null(find_arg(argv, "-drive", "file=/srv/t/disk0.raw,format=raw,if=none,id=disk0"));
	assert_non_null(find_arg(argv, "-drive", "file=/srv/t,,x/disk1.qcow2,format=qcow2,if=none,id=disk1"));
	assert_non_null(find_arg(argv, "-device", "virtio-blk-pci,drive=disk0,bootindex=0"));
	assert_string_equal(find_arg(argv, "-device", "virtio-blk-pci,drive=disk1"),
			    "virtio-blk-pci,drive=disk1");
	assert_int_equal(count_opt(argv, "-device", "virtio-blk-pci"), 2);
	/* NIC on user networking, no PXE ROM. */
	assert_non_null(find_arg(argv, "-netdev", "user,id=net0"));
	assert_non_null(find_arg(argv, "-device", "virtio-net-pci,netdev=net0,romfile="));
	/* ttyS0 on stdout; the BIOS screen on COM2 through SeaBIOS. */
	assert_non_null(find_arg(argv, "-chardev", "stdio,id=ser0,signal=off"));
	assert_non_null(find_arg(argv, "-serial", "chardev:ser0"));
	assert_non_null(find_arg(argv, "-chardev", "file,id=scr0,path=/dev/fd/3"));
	assert_non_null(find_arg(argv, "-fw_cfg", "name=etc/sercon-port,file=/tmp/x/sercon-port"));
	assert_null(find_arg(argv, "-drive", "if=pflash"));
	rh_bt_argv_free(argv);

	o.qemu = "/opt/qemu/bin/qemu-system-x86_64";
	assert_int_equal(rh_bt_build_argv(&o, "kvm", NULL, NULL, NULL, NULL, &argv), 0);
	assert_string_equal(argv[0], o.qemu);
	assert_non_null(find_arg(argv, "-cpu", "host"));
	assert_null(find_arg(argv, "-fw_cfg", ""));
	rh_bt_argv_free(argv);
}

static void test_argv_buses(void **state)
{
	struct rh_bt_disk d[5];
	struct rh_bt_opts o = { .disks = d, .ndisks = 5, .memory_mib = 512, .cpus = 1 };
	char **argv = NULL;

	for (int i = 0; i < 5; i++)
		d[i] = (struct rh_bt_disk){ .path = "/d.raw", .format = RH_IMG_RAW };
	o.bus = RH_BT_IDE;
	assert_int_equal(rh_bt_build_argv(&o, "tcg", NULL, NULL, NULL, NULL, &argv), RH_ERR_INVAL);
	assert_null(argv);
	assert_non_null(strstr(rh_lasterr(), "ide bus takes 1 to 4"));
	o.ndisks = 4;
	assert_int_equal(rh_bt_build_argv(&o, "tcg", NULL, NULL, NULL, NULL, &argv), 0);
	assert_non_null(find_arg(argv, "-machine", "pc"));
	assert_non_null(find_arg(argv, "-device", "ide-hd,drive=disk0,bus=ide.0,unit=0,bootindex=0"));
	assert_non_null(find_arg(argv, "-device", "ide-hd,drive=disk3,bus=ide.1,unit=1"));
	rh_bt_argv_free(argv);

	o.bus = RH_BT_SATA;
	assert_int_equal(rh_bt_build_argv(&o, "tcg", NULL, NULL, NULL, NULL, &argv), 0);
	assert_non_null(find_arg(argv, "-machine", "q35"));
	assert_non_null(find_arg(argv, "-device", "ide-hd,drive=disk0,bus=ide.0,bootindex=0"));
	assert_non_null(find_arg(argv, "-device", "ide-hd,drive=disk3,bus=ide.3"));
	rh_bt_argv_free(argv);

	o.bus = RH_BT_SCSI;
	assert_int_equal(rh_bt_build_argv(&o, "tcg", NULL, NULL, NULL, NULL, &argv), 0);
	assert_int_equal(count_opt(argv, "-device", "virtio-scsi-pci,id=scsi0"), 1);
	assert_non_null(find_arg(argv, "-device", "scsi-hd,drive=disk0,bus=scsi0.0,channel=0,scsi-id=0,lun=0,bootindex=0"));
	assert_non_null(find_arg(argv, "-device", "scsi-hd,drive=disk2,bus=scsi0.0,channel=0,scsi-id=2,lun=0"));
	rh_bt_argv_free(argv);

	o.ndisks = 0;
	assert_int_equal(rh_bt_build_argv(&o, "tcg", NULL, NULL, NULL, NULL, &argv), RH_ERR_INVAL);
}

static void test_argv_uefi(void **state)
{
	struct rh_bt_opts o = { .disks = two_disks, .ndisks = 1, .memory_mib = 1024, .cpus = 1,
				.firmware = RH_BT_UEFI };
	char **argv = NULL;

	assert_int_equal(rh_bt_build_argv(&o, "tcg", NULL, NULL, NULL, NULL, &argv), RH_ERR_INVAL);
	assert_int_equal(rh_bt_build_argv(&o, "tcg", NULL, NULL, "/usr/share/OVMF/OVMF_CODE_4M.fd",
					  "/tmp/r/OVMF_VARS.fd", &argv), 0);
	assert_non_null(find_arg(argv, "-machine", "q35"));
	assert_non_null(find_arg(argv, "-drive",
				 "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd"));
	assert_non_null(find_arg(argv, "-drive", "if=pflash,format=raw,unit=1,file=/tmp/r/OVMF_VARS.fd"));
	assert_true(has_word(argv, "-snapshot"));
	rh_bt_argv_free(argv);
	/* IDE is the pc machine's, also under UEFI. */
	o.bus = RH_BT_IDE;
	assert_int_equal(rh_bt_build_argv(&o, "tcg", NULL, NULL, "/c", "/v", &argv), 0);
	assert_non_null(find_arg(argv, "-machine", "pc"));
	rh_bt_argv_free(argv);
	rh_bt_argv_free(NULL);
}

static void touch(const char *dir, const char *name, size_t size)
{
	char p[4096];
	int fd;

	snprintf(p, sizeof p, "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	close(fd);
}

static void rm(const char *dir, const char *name)
{
	char p[4096];

	snprintf(p, sizeof p, "%s/%s", dir, name);
	unlink(p);
}

static void make_qcow2(const char *dir, const char *name)
{
	struct rh_img_create_opts co = { .format = RH_IMG_QCOW2, .size = 1 << 20, .threads = 1 };
	struct rh_img_writer *w = NULL;
	char p[4096];

	snprintf(p, sizeof p, "%s/%s", dir, name);
	assert_int_equal(rh_img_create(p, &co, &w), 0);
	assert_int_equal(rh_img_finalize(w), 0);
	rh_img_writer_free(w);
}

static void test_disks_from_dir(void **state)
{
	char dir[] = "/tmp/rehost-test-boottest.XXXXXX";
	struct rh_bt_disk *d = NULL, one;
	size_t n = 9;
	char p[4096];

	assert_non_null(mkdtemp(dir));
	assert_int_equal(rh_bt_disks_from_dir("/nonexistent/rehost", &d, &n), RH_ERR_NOTFOUND);
	assert_int_equal(rh_bt_disks_from_dir(dir, &d, &n), RH_ERR_NOTFOUND);
	assert_non_null(strstr(rh_lasterr(), "no disk0.raw or disk0.qcow2"));
	assert_null(d);
	assert_int_equal(n, 0);

	/* disk0.raw, disk1.qcow2; unrelated names ignored. */
	touch(dir, "disk0.raw", 1 << 20);
	make_qcow2(dir, "disk1.qcow2");
	touch(dir, "disk01.raw", 512);
	touch(dir, "disk2.raw.bak", 512);
	touch(dir, "rehost-sums-disk0.bin", 512);
	assert_int_equal(rh_bt_disks_from_dir(dir, &d, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(d[0].format, RH_IMG_RAW);
	assert_int_equal(d[1].format, RH_IMG_QCOW2);
	snprintf(p, sizeof p, "%s/disk1.qcow2", dir);
	assert_string_equal(d[1].path, p);
	rh_bt_disks_free(d, n);
	d = NULL;

	/* A gap. */
	touch(dir, "disk3.raw", 512);
	assert_int_equal(rh_bt_disks_from_dir(dir, &d, &n), RH_ERR_INVAL);
	assert_non_null(strstr(rh_lasterr(), "disk3 is present but disk2 is missing"));
	rm(dir, "disk3.raw");
	touch(dir, "disk40.raw", 512);
	assert_int_equal(rh_bt_disks_from_dir(dir, &d, &n), RH_ERR_INVAL);
	rm(dir, "disk40.raw");

	/* Both names for one disk. */
	touch(dir, "disk1.raw", 512);
	assert_int_equal(rh_bt_disks_from_dir(dir, &d, &n), RH_ERR_INVAL);
	assert_non_null(strstr(rh_lasterr(), "both disk1.raw and disk1.qcow2"));
	rm(dir, "disk1.raw");

	/* A .qcow2 that is not qcow2. */
	rm(dir, "disk1.qcow2");
	touch(dir, "disk1.qcow2", 4096);
	assert_int_equal(rh_bt_disks_from_dir(dir, &d, &n), RH_ERR_INVAL);
	assert_non_null(strstr(rh_lasterr(), "not a qcow2 image"));

	/* Single files: .raw is never probed, anything else is. */
	snprintf(p, sizeof p, "%s/disk0.raw", dir);
	assert_int_equal(rh_bt_disk_probe(p, &one), 0);
	assert_int_equal(one.format, RH_IMG_RAW);
	free(one.path);
	rm(dir, "disk1.qcow2");
	make_qcow2(dir, "target.img.q");
	snprintf(p, sizeof p, "%s/target.img.q", dir);
	assert_int_equal(rh_bt_disk_probe(p, &one), 0);
	assert_int_equal(one.format, RH_IMG_QCOW2);
	free(one.path);
	assert_int_equal(rh_bt_disk_probe(dir, &one), RH_ERR_INVAL);
	snprintf(p, sizeof p, "%s/none.raw", dir);
	assert_int_equal(rh_bt_disk_probe(p, &one), RH_ERR_NOTFOUND);

	rm(dir, "target.img.q");
	rm(dir, "disk0.raw");
	rm(dir, "disk01.raw");
	rm(dir, "disk2.raw.bak");
	rm(dir, "rehost-sums-disk0.bin");
	assert_int_equal(rmdir(dir), 0);
}

static void test_find_ovmf(void **state)
{
	char code[4096], vars[4096];
	int rc = rh_bt_find_ovmf(code, vars, sizeof code);

	if (rc == RH_ERR_NOTFOUND) {
		assert_non_null(strstr(rh_lasterr(), "install the ovmf package"));
		return;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(access(code, R_OK), 0);
	assert_int_equal(access(vars, R_OK), 0);
	assert_non_null(strstr(code, "CODE"));
	assert_non_null(strstr(vars, "VARS"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_argv_bios_virtio),
		cmocka_unit_test(test_argv_buses),
		cmocka_unit_test(test_argv_uefi),
		cmocka_unit_test(test_disks_from_dir),
		cmocka_unit_test(test_find_ovmf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
