/* Unit tests of the inspect parsers: os-release, data lists and version
 * comparison, mount tables, LVM metadata, md and filesystem superblocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "inspect/internal.h"
#include "rehost/disk.h"
#include "rehost/err.h"

/* ---- os-release ---- */

static void test_osrel_get(void **state)
{
	const char *text = "NAME=\"CentOS Linux\"\n"
			   "  VERSION=\"7 (Core)\"\n"
			   "ID=centos\n"
			   "ID_LIKE='rhel fedora'\n"
			   "PRETTY_NAME=\"Say \\\"hi\\\" \\\\ \\$x\"\n"
			   "EMPTY=\n"
			   "BAD=\"unterminated\" trailing\n"
			   "VERSION_ID=\"7\"\r\n";
	char v[64];

	(void)state;
	assert_int_equal(osrel_get(text, "ID", v, sizeof v), 0);
	assert_string_equal(v, "centos");
	assert_int_equal(osrel_get(text, "NAME", v, sizeof v), 0);
	assert_string_equal(v, "CentOS Linux");
	assert_int_equal(osrel_get(text, "VERSION", v, sizeof v), 0);
	assert_string_equal(v, "7 (Core)");
	assert_int_equal(osrel_get(text, "ID_LIKE", v, sizeof v), 0);
	assert_string_equal(v, "rhel fedora");
	assert_int_equal(osrel_get(text, "PRETTY_NAME", v, sizeof v), 0);
	assert_string_equal(v, "Say \"hi\" \\ $x");
	assert_int_equal(osrel_get(text, "EMPTY", v, sizeof v), 0);
	assert_string_equal(v, "");
	assert_int_equal(osrel_get(text, "VERSION_ID", v, sizeof v), 0);
	assert_string_equal(v, "7");
	assert_int_equal(osrel_get(text, "BAD", v, sizeof v), RH_ERR_TOOBIG);
	assert_int_equal(osrel_get(text, "MISSING", v, sizeof v), RH_ERR_NOTFOUND);
	/* A key is matched whole: "ID" is not "ID_LIKE". */
	assert_int_equal(osrel_get("ID_LIKE=x\n", "ID", v, sizeof v), RH_ERR_NOTFOUND);
	/* Values longer than the buffer are refused, not truncated. */
	assert_int_equal(osrel_get("ID=abcdefgh\n", "ID", v, 4), RH_ERR_TOOBIG);
}

/* ---- versions and data lists ---- */

static void test_version_cmp(void **state)
{
	(void)state;
	assert_int_equal(version_cmp("8", "8.0"), 0);
	assert_int_equal(version_cmp("8.0.0", "8"), 0);
	assert_int_equal(version_cmp("2018.03", "2018.3"), 0);
	assert_true(version_cmp("8.2", "8.10") < 0);
	assert_true(version_cmp("10", "9.13") > 0);
	assert_true(version_cmp("7.9.2009", "7.9") > 0);
	assert_int_equal(version_cmp("V10", "v10"), 0);
	assert_true(version_cmp("V10", "V9") > 0 || version_cmp("V10", "V9") < 0);
	assert_int_equal(version_cmp("", ""), 0);
	assert_int_equal(version_cmp("007", "7"), 0);
}

static void test_builtin_lists(void **state)
{
	const struct rh_tsv *oc = datalist_os_compat(), *bo = datalist_block_os(),
			 *bk = datalist_block_kernels();
	struct os_compat c;

	(void)state;
	assert_non_null(oc);
	assert_non_null(bo);
	assert_non_null(bk);
	assert_int_equal(bk->nrows, 346); /* the seed's table 3-4 */
	assert_true(oc->nrows > 200);

	os_compat_lookup(oc, "centos", "7.9", NULL, &c);
	assert_true(c.listed);
	assert_int_equal(c.uefi, 1);
	os_compat_lookup(oc, "centos", "7.0", NULL, &c);
	assert_true(c.listed);
	assert_int_equal(c.uefi, 0);
	os_compat_lookup(oc, "centos", "8", "stream", &c); /* Stream 8 = 8.0 */
	assert_true(c.listed);
	os_compat_lookup(oc, "rhel", "6.6", NULL, &c); /* not in the seed's list */
	assert_true(c.family_known);
	assert_false(c.listed);
	assert_int_equal(c.uefi, -1);
	os_compat_lookup(oc, "debian", "11.3", NULL, &c);
	assert_true(c.listed);
	assert_int_equal(c.uefi, 0);
	os_compat_lookup(oc, "debian", "12.5", NULL, &c);
	assert_int_equal(c.uefi, 1);
	os_compat_lookup(oc, "sles", "12", NULL, &c);
	assert_true(c.listed);
	assert_string_equal(c.note, "no-btrfs");
	os_compat_lookup(oc, "sles", "15.4", NULL, &c);
	assert_int_equal(c.uefi, 0);
	os_compat_lookup(oc, "alinux", "3.2104", "scc", &c);
	assert_int_equal(c.uefi, 1);
	os_compat_lookup(oc, "alinux", "3.2104", "quick-start", &c);
	assert_int_equal(c.uefi, 0);
	os_compat_lookup(oc, "alinux", "3.2104", NULL, &c);
	assert_int_equal(c.uefi, 1);
	os_compat_lookup(oc, "tencentos", "3.1", NULL, &c); /* only the TK4 variant */
	assert_true(c.listed);
	os_compat_lookup(oc, "arch", "rolling", NULL, &c);
	assert_false(c.family_known);
	assert_false(c.listed);
	os_compat_lookup(oc, "amzn", "2", NULL, &c);
	assert_true(c.listed);

	assert_true(block_kernel_listed(bk, "3.10.0-1160.el7.x86_64"));
	assert_true(block_kernel_listed(bk, "4.15.0-20-generic"));
	assert_true(block_kernel_listed(bk, "4.12.14-197.64-default"));
	assert_false(block_kernel_listed(bk, "3.10.0-957.el7.x86_64")); /* 7.6: absent */
	assert_false(block_kernel_listed(bk, "3.10.0-1160.el7"));
	assert_false(block_kernel_listed(bk, NULL));
	assert_true(block_os_listed(bo, "centos", "7.9"));
	assert_true(block_os_listed(bo, "rhel", "6.10"));
	assert_true(block_os_listed(bo, "ubuntu", "18.04"));
	assert_false(block_os_listed(bo, "ubuntu", "20.04"));
	assert_false(block_os_listed(bo, "debian", "12.5"));
	assert_true(block_os_listed(bo, "sles", "12.5"));
}

/* ---- mounts ---- */

static void test_mountinfo(void **state)
{
	struct rh_inventory *inv = calloc(1, sizeof *inv);
	char line1[] = "36 35 98:0 /mnt1 /mnt\\0402 rw,noatime,noexec master:1 - ext3 /dev/root rw,errors=continue";
	char line2[] = "40 1 0:45 /@/home /home rw,relatime shared:2 - btrfs /dev/sda2 rw,subvol=/@/home";
	char line3[] = "41 1 0:50 / /srv/nfs rw - nfs4 srv:/export rw";
	char bad[] = "36 35 98:0 /mnt1 /mnt2 rw no-separator ext3";
	struct inv_mount m;

	(void)state;
	assert_non_null(inv);
	assert_int_equal(mountinfo_parse_line(inv, line1, &m), 0);
	assert_int_equal(m.major, 98);
	assert_string_equal(m.root, "/mnt1");
	assert_string_equal(m.target, "/mnt 2");
	assert_string_equal(m.fstype, "ext3");
	assert_string_equal(m.source, "/dev/root");
	assert_true(m.noexec);
	assert_false(m.ro);
	assert_int_equal(m.cls, MNT_LOCAL);
	assert_int_equal(mountinfo_parse_line(inv, line2, &m), 0);
	assert_string_equal(m.subvol, "/@/home");
	assert_int_equal(mountinfo_parse_line(inv, line3, &m), 0);
	assert_int_equal(m.cls, MNT_NETWORK);
	assert_int_equal(mountinfo_parse_line(inv, bad, &m), RH_ERR_PARSE);

	assert_int_equal(mount_classify("tmpfs", "tmpfs"), MNT_PSEUDO);
	assert_int_equal(mount_classify("ext4", "/dev/loop3"), MNT_LOOP);
	assert_int_equal(mount_classify("cifs", "//server/share"), MNT_NETWORK);
	assert_int_equal(mount_classify("fuse.sshfs", "u@h:"), MNT_NETWORK);
	assert_int_equal(mount_classify("xfs", "/dev/mapper/vg-root"), MNT_LOCAL);
	assert_int_equal(mount_classify("ext4", "none"), MNT_OTHER);
	rh_inventory_free(inv);
}

static void add_mount(struct rh_inventory *inv, const char *line)
{
	char buf[512];
	struct inv_mount *m;

	snprintf(buf, sizeof buf, "%s", line);
	m = VEC_PUSH(inv->mounts, INV_MAX_MOUNTS);
	assert_non_null(m);
	assert_int_equal(mountinfo_parse_line(inv, buf, m), 0);
}

static void test_bind_repeated(void **state)
{
	struct rh_inventory *inv = calloc(1, sizeof *inv);

	(void)state;
	inv->have_mountinfo = true;
	add_mount(inv, "1 0 8:1 / / rw - ext4 /dev/sda1 rw");
	add_mount(inv, "2 1 8:2 / /data rw - xfs /dev/sda2 rw");
	add_mount(inv, "3 1 8:2 /www /srv/www rw - xfs /dev/sda2 rw");       /* bind of a dir */
	add_mount(inv, "4 1 8:2 / /data2 rw - xfs /dev/sda2 rw");            /* repeated */
	add_mount(inv, "5 1 0:40 /@/home /home rw - btrfs /dev/sdb1 rw,subvol=/@/home");
	add_mount(inv, "6 1 0:40 /@/var /var rw - btrfs /dev/sdb1 rw,subvol=/@/var");
	add_mount(inv, "7 1 0:22 / /run rw - tmpfs tmpfs rw");
	add_mount(inv, "8 1 0:22 / /run2 rw - tmpfs tmpfs rw");              /* pseudo: ignored */
	mounts_flag_repeated(inv);
	assert_false(inv->mounts.v[0].bind || inv->mounts.v[0].repeated);
	assert_false(inv->mounts.v[1].bind || inv->mounts.v[1].repeated);
	assert_true(inv->mounts.v[2].bind);
	assert_true(inv->mounts.v[3].repeated);
	assert_false(inv->mounts.v[4].bind || inv->mounts.v[4].repeated);
	assert_false(inv->mounts.v[5].bind || inv->mounts.v[5].repeated);
	assert_false(inv->mounts.v[7].bind || inv->mounts.v[7].repeated);
	assert_ptr_equal(mount_for_path(inv, "/data/x"), &inv->mounts.v[1]);
	assert_ptr_equal(mount_for_path(inv, "/datax"), &inv->mounts.v[0]);
	assert_ptr_equal(mount_for_path(inv, "/tmp"), &inv->mounts.v[0]);
	rh_inventory_free(inv);
}

/* ---- LVM metadata ---- */

static const char vg_text[] =
	"# Generated by LVM2\n"
	"vg0 {\n"
	"id = \"abcdef-ghij-klmn-opqr-stuv-wxyz-012345\"\n"
	"seqno = 7\n"
	"extent_size = 8192\t# 4 MiB\n"
	"status = [\"RESIZEABLE\", \"READ\", \"WRITE\"]\n"
	"physical_volumes {\n"
	"pv0 {\n id = \"AAAAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGGGG\"\n device = \"/dev/sda2\"\n"
	" status = [\"ALLOCATABLE\"]\n dev_size = 204800\n pe_start = 2048\n pe_count = 24\n}\n"
	"pv1 {\n id = \"HHHHHH-BBBB-CCCC-DDDD-EEEE-FFFF-GGGGGG\"\n flags = [\"MISSING\"]\n"
	" pe_start = 2048\n pe_count = 10\n}\n"
	"}\n"
	"logical_volumes {\n"
	"root {\n id = \"r\"\n status = [\"READ\", \"WRITE\", \"VISIBLE\"]\n segment_count = 2\n"
	" segment1 {\n start_extent = 0\n extent_count = 5\n type = \"striped\"\n stripe_count = 1\n"
	" stripes = [\n\"pv0\", 3\n]\n }\n"
	" segment2 {\n start_extent = 5\n extent_count = 2\n type = \"striped\"\n stripe_count = 1\n"
	" stripes = [\"pv1\", 0]\n }\n}\n"
	"pool {\n status = [\"READ\", \"WRITE\", \"VISIBLE\"]\n segment1 {\n start_extent = 0\n"
	" extent_count = 4\n type = \"thin-pool\"\n metadata = \"pool_tmeta\"\n pool = \"pool_tdata\"\n }\n}\n"
	"thin {\n status = [\"READ\", \"VISIBLE\"]\n segment1 {\n start_extent = 0\n extent_count = 9\n"
	" type = \"thin\"\n thin_pool = \"pool\"\n }\n}\n"
	"}\n"
	"}\n"
	"contents = \"Text Format Volume Group\"\nversion = 1\n";

static void test_lvm_parse(void **state)
{
	struct rh_lvm_vg *vg = NULL;
	uint64_t off;

	(void)state;
	assert_int_equal(rh_lvm_parse_vg(vg_text, sizeof vg_text - 1, &vg), 0);
	assert_string_equal(vg->name, "vg0");
	assert_int_equal(vg->seqno, 7);
	assert_int_equal(vg->extent_size, 8192);
	assert_int_equal(vg->npvs, 2);
	assert_string_equal(vg->pvs[0].device, "/dev/sda2");
	assert_false(vg->pvs[0].missing);
	assert_true(vg->pvs[1].missing);
	assert_int_equal(vg->nlvs, 3);
	assert_string_equal(vg->lvs[0].name, "root");
	assert_true(vg->lvs[0].visible);
	assert_int_equal(vg->lvs[0].type, RH_LVM_SEG_LINEAR);
	assert_int_equal(vg->lvs[0].extents, 7);
	assert_int_equal(vg->lvs[0].nsegs, 2);
	assert_int_equal(vg->lvs[0].segs[0].pv, 0);
	assert_int_equal(vg->lvs[0].segs[0].pv_start, 3);
	assert_int_equal(vg->lvs[0].segs[1].pv, 1);
	assert_int_equal(vg->lvs[1].type, RH_LVM_SEG_THIN_POOL);
	assert_int_equal(vg->lvs[2].type, RH_LVM_SEG_THIN);
	assert_string_equal(vg->lvs[2].segs[0].pool, "pool");
	assert_true(rh_lvm_extent_offset(vg, &vg->pvs[0], 3, &off));
	assert_int_equal(off, (2048 + 3 * 8192) * 512ull);
	rh_lvm_vg_free(vg);

	assert_true(rh_lvm_uuid_eq("abc-def", "abcdef"));
	assert_true(rh_lvm_uuid_eq("-a-b-", "ab"));
	assert_false(rh_lvm_uuid_eq("abc", "abd"));
}

static void test_lvm_parse_errors(void **state)
{
	static const char *const bad[] = {
		"vg { id = \"unterminated }",
		"vg { extent_size = 8192 ",
		"vg { extent_size = 8192 } }",
		"vg { extent_size = [1, 2 }",
		"vg { extent_size = 99999999999999999999 }",
		"vg { = 1 }",
		"vg { x = @ }",
		"x = 1",                        /* no VG section */
		"vg { seqno = 1 }",             /* no extent_size */
		"vg { extent_size = 8 logical_volumes { lv { segment1 { type = \"striped\" } } } }",
	};
	char deep[200];
	struct rh_lvm_vg *vg = NULL;
	size_t o = 0;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = rh_lvm_parse_vg(bad[i], strlen(bad[i]), &vg);

		assert_true(rc == RH_ERR_PARSE || rc == RH_ERR_TOOBIG);
		assert_null(vg);
		assert_true(rh_lasterr()[0] != '\0');
	}
	for (int i = 0; i < 40; i++)
		o += (size_t)snprintf(deep + o, sizeof deep - o, "a{");
	assert_int_equal(rh_lvm_parse_vg(deep, o, &vg), RH_ERR_PARSE);
	assert_non_null(strstr(rh_lasterr(), "nested"));
}

/* ---- on-disk structures in a memory file ---- */

static int memfile(size_t size)
{
	int fd = memfd_create("test", 0);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

static void test_fs_usage(void **state)
{
	struct rh_fsinfo fs;
	uint8_t sb[512] = { 0 }, big[0x100] = { 0 };
	int fd = memfile(1 << 20);

	(void)state;
	/* xfs: 4 KiB blocks, 1000 blocks, 400 free, internal 100-block log. */
	memcpy(sb, "XFSB", 4);
	put_be32(sb + 4, 4096);
	put_be64(sb + 8, 1000);
	put_be64(sb + 48, 512);
	put_be32(sb + 96, 100);
	put_be64(sb + 144, 400);
	assert_int_equal(pwrite(fd, sb, sizeof sb, 0), (ssize_t)sizeof sb);
	memset(&fs, 0, sizeof fs);
	assert_int_equal(rh_fs_usage(fd, 0, 1 << 20, "xfs", &fs), 0);
	assert_int_equal(fs.used, (1000 - 100 - 400) * 4096ull);
	assert_int_equal(fs.size, 1000 * 4096ull);
	put_be32(sb + 4, 3000); /* not a power of two */
	assert_int_equal(pwrite(fd, sb, sizeof sb, 0), (ssize_t)sizeof sb);
	assert_int_equal(rh_fs_usage(fd, 0, 1 << 20, "xfs", &fs), RH_ERR_CORRUPT);

	/* btrfs at 64 KiB */
	memcpy(big + 0x40, "_BHRfS_M", 8);
	put_le64(big + 0x70, 500000);
	put_le64(big + 0x78, 12345);
	assert_int_equal(pwrite(fd, big, sizeof big, 65536), (ssize_t)sizeof big);
	assert_int_equal(rh_fs_usage(fd, 0, 1 << 20, "btrfs", &fs), 0);
	assert_int_equal(fs.used, 12345);
	put_le64(big + 0x78, 600000); /* used > total */
	assert_int_equal(pwrite(fd, big, sizeof big, 65536), (ssize_t)sizeof big);
	assert_int_equal(rh_fs_usage(fd, 0, 1 << 20, "btrfs", &fs), RH_ERR_CORRUPT);
	/* Superblock beyond the range. */
	assert_int_equal(rh_fs_usage(fd, 0, 4096, "btrfs", &fs), RH_ERR_CORRUPT);

	/* swap: last_page 99 with 4 KiB pages -> 400 KiB. */
	memset(sb, 0, sizeof sb);
	put_le32(sb + 4, 99);
	assert_int_equal(pwrite(fd, sb, 16, 1024), 16);
	assert_int_equal(pwrite(fd, "SWAPSPACE2", 10, 4096 - 10), 10);
	assert_int_equal(rh_fs_usage(fd, 0, 1 << 20, "swap", &fs), 0);
	assert_int_equal(fs.size, 100 * 4096);
	assert_int_equal(fs.used, 0);

	assert_int_equal(rh_fs_usage(fd, 0, 1 << 20, "reiserfs", &fs), RH_ERR_UNSUPPORTED);
	/* ext: no magic -> corrupt (libext2fs fails, the fallback says why). */
	assert_true(rh_fs_usage(fd, 0, 1 << 20, "ext4", &fs) < 0);
	close(fd);
}

static void test_md_member(void **state)
{
	uint8_t sb[1024] = { 0 };
	struct rh_md_member m;
	int fd = memfile(8 << 20);

	(void)state;
	assert_int_equal(rh_md_read_member(fd, 0, 8 << 20, &m), RH_ERR_NOTFOUND);
	put_le32(sb, 0xa92b4efc);
	put_le32(sb + 4, 1);
	for (int i = 0; i < 16; i++)
		sb[16 + i] = (uint8_t)i;
	memcpy(sb + 32, "host:0", 6);
	put_le32(sb + 72, 1);
	put_le32(sb + 92, 2);
	put_le64(sb + 128, 2048);
	put_le64(sb + 136, 8192);
	put_le64(sb + 144, 8);
	put_le32(sb + 160, 1);
	put_le32(sb + 220, 4);
	sb[256 + 2] = 1; /* role of device 1 */
	assert_int_equal(pwrite(fd, sb, sizeof sb, 4096), (ssize_t)sizeof sb);
	assert_int_equal(rh_md_read_member(fd, 0, 8 << 20, &m), 0);
	assert_string_equal(m.version, "1.2");
	assert_string_equal(m.uuid, "00010203:04050607:08090a0b:0c0d0e0f");
	assert_string_equal(m.name, "host:0");
	assert_int_equal(m.level, 1);
	assert_int_equal(m.raid_disks, 2);
	assert_int_equal(m.role, 1);
	assert_int_equal(m.data_offset, 1 << 20);
	assert_int_equal(m.data_size, 4 << 20);
	/* Data area beyond the member. */
	put_le64(sb + 136, 1ull << 40);
	assert_int_equal(pwrite(fd, sb, sizeof sb, 4096), (ssize_t)sizeof sb);
	assert_int_equal(rh_md_read_member(fd, 0, 8 << 20, &m), RH_ERR_CORRUPT);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_osrel_get),
		cmocka_unit_test(test_version_cmp),
		cmocka_unit_test(test_builtin_lists),
		cmocka_unit_test(test_mountinfo),
		cmocka_unit_test(test_bind_repeated),
		cmocka_unit_test(test_lvm_parse),
		cmocka_unit_test(test_lvm_parse_errors),
		cmocka_unit_test(test_fs_usage),
		cmocka_unit_test(test_md_member),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
