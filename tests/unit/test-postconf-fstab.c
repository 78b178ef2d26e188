/* Unit tests of the fstab fix-up: the pure editor on exact texts (rewrites
 * by UUID, nofail, comment-out, config keys, btrfs subvolumes, swap
 * matching, odd lines, idempotency) and rh_pc_fstab on a target tree
 * (backup, report, dry run). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pc-tree.h"
#include "postconf/internal.h"
#include "rehost/buf.h"
#include "rehost/config.h"
#include "rehost/err.h"

static const char *const default_tmp[] = { "tmpfs", "devpts", "devtmpfs", "sysfs", "proc",
					   "ramfs", NULL };

/* Edit text with opts; returns the change count and the output (caller
 * frees). Also checks that editing the output again changes nothing. */
static int edit(const char *text, const struct pc_fstab_opts *o, char **res)
{
	struct rh_buf *out = NULL, *again = NULL;
	int rc, rc2;

	assert_int_equal(pc_out_new(&out), 0);
	rc = pc_fstab_edit(text, strlen(text), o, out, NULL, NULL);
	assert_true(rc >= 0);
	*res = strdup(rh_buf_str(out));
	/* Idempotent: the result is a fixed point. */
	assert_int_equal(pc_out_new(&again), 0);
	rc2 = pc_fstab_edit(rh_buf_str(out), rh_buf_len(out), o, again, NULL, NULL);
	assert_int_equal(rc2, 0);
	assert_string_equal(rh_buf_str(again), rh_buf_str(out));
	rh_buf_free(out);
	rh_buf_free(again);
	return rc;
}

static void test_centos7(void **state)
{
	static const char *const keep[] = { "/keep/", NULL };
	static const char *const ignore[] = { "/ignored", NULL };
	const struct rh_pc_fs fs[] = {
		{ "/", "aaaa-1111", "xfs", NULL },
		{ "/boot", "BBBB-2222", NULL, NULL },
		{ "swap", "cccc-3333", "swap", NULL },
	};
	struct pc_fstab_opts o = { fs, 3, default_tmp, 6, keep, 1, ignore, 1 };
	const char *in =
		"#\n"
		"# /etc/fstab\n"
		"#\n"
		"/dev/mapper/centos-root /                       xfs     defaults        0 0\n"
		"UUID=1111-old /boot                   xfs     defaults        0 0\n"
		"/dev/mapper/centos-swap swap                    swap    defaults        0 0\n"
		"/dev/sdb1\t/data\text4\tdefaults\t0 2\n"
		"nfs.example.com:/export /mnt/nfs nfs defaults,_netdev 0 0\n"
		"tmpfs /dev/shm tmpfs defaults 0 0\n"
		"/dev/sdc1 /backup ext4 defaults,nofail 0 2\n"
		"/dev/sdd1 /scratch ext4\n"
		"/dev/sr0 /media/cdrom iso9660 noauto,ro 0 0\n"
		"/srv/data /export none bind 0 0\n"
		"LABEL=keepme /keep ext4 defaults 0 2\n"
		"/dev/sde1 /ignored ext4 defaults 0 2\n"
		"\n";
	const char *want =
		"#\n"
		"# /etc/fstab\n"
		"#\n"
		"# rehost: /dev/mapper/centos-root /                       xfs     defaults        0 0\n"
		"UUID=aaaa-1111 /                       xfs     defaults        0 0\n"
		"# rehost: UUID=1111-old /boot                   xfs     defaults        0 0\n"
		"UUID=bbbb-2222 /boot                   xfs     defaults        0 0\n"
		"# rehost: /dev/mapper/centos-swap swap                    swap    defaults        0 0\n"
		"UUID=cccc-3333 swap                    swap    defaults        0 0\n"
		"# rehost: /dev/sdb1\t/data\text4\tdefaults\t0 2\n"
		"/dev/sdb1\t/data\text4\tdefaults,nofail\t0 2\n"
		"nfs.example.com:/export /mnt/nfs nfs defaults,_netdev 0 0\n"
		"tmpfs /dev/shm tmpfs defaults 0 0\n"
		"/dev/sdc1 /backup ext4 defaults,nofail 0 2\n"
		"# rehost: /dev/sdd1 /scratch ext4\n"
		"/dev/sdd1 /scratch ext4\tdefaults,nofail\n"
		"/dev/sr0 /media/cdrom iso9660 noauto,ro 0 0\n"
		"/srv/data /export none bind 0 0\n"
		"LABEL=keepme /keep ext4 defaults 0 2\n"
		"# rehost: /dev/sde1 /ignored ext4 defaults 0 2\n"
		"\n";
	char *out;

	(void)state;
	assert_int_equal(edit(in, &o, &out), 6);
	assert_string_equal(out, want);
	free(out);
}

static void test_already_uuid(void **state)
{
	const struct rh_pc_fs fs[] = { { "/", "aaaa", "ext4", NULL } };
	struct pc_fstab_opts o = { .fs = fs, .nfs = 1, .tmp_types = default_tmp, .ntmp = 6 };
	/* Quoted and upper-case UUIDs are the same UUID; no final newline. */
	const char *in = "UUID=\"AAAA\" / ext4 errors=remount-ro 0 1";
	char *out;

	(void)state;
	assert_int_equal(edit(in, &o, &out), 0);
	assert_string_equal(out, "UUID=\"AAAA\" / ext4 errors=remount-ro 0 1\n");
	free(out);
}

static void test_btrfs_subvolumes_and_type(void **state)
{
	const struct rh_pc_fs fs[] = { { "/", "new-root", NULL, NULL },
				       { "/srv", "new-srv", "ext4", NULL } };
	struct pc_fstab_opts o = { .fs = fs, .nfs = 2, .tmp_types = default_tmp, .ntmp = 6 };
	const char *in = "UUID=old-btrfs / btrfs subvol=@ 0 0\n"
			 "UUID=old-btrfs /home btrfs subvol=@home 0 0\n"
			 "/dev/xvdb1 /srv xfs defaults 0 0\n";
	const char *want = "# rehost: UUID=old-btrfs / btrfs subvol=@ 0 0\n"
			   "UUID=new-root / btrfs subvol=@ 0 0\n"
			   "# rehost: UUID=old-btrfs /home btrfs subvol=@home 0 0\n"
			   "UUID=new-root /home btrfs subvol=@home 0 0\n"
			   "# rehost: /dev/xvdb1 /srv xfs defaults 0 0\n"
			   "UUID=new-srv /srv ext4 defaults 0 0\n";
	char *out;

	(void)state;
	assert_int_equal(edit(in, &o, &out), 3);
	assert_string_equal(out, want);
	free(out);
}

static void test_swap_matching(void **state)
{
	const struct rh_pc_fs one[] = { { "/", "r", NULL, NULL }, { "swap", "s1", NULL, NULL } };
	const struct rh_pc_fs named[] = { { "/", "r", NULL, NULL },
					  { "swap", "s1", NULL, "/dev/sda3" } };
	struct pc_fstab_opts o = { .fs = one, .nfs = 2, .tmp_types = default_tmp, .ntmp = 6 };
	const char *two = "UUID=r / ext4 defaults 0 1\n"
			  "/dev/sda3 none swap sw 0 0\n"
			  "/dev/sdb2 none swap sw 0 0\n"
			  "/swapfile none swap sw 0 0\n";
	char *out;

	(void)state;
	/* Two swap devices, one swap area, no name: neither is assumed to be
	 * it, and both become nofail; the swap file stays. */
	assert_int_equal(edit(two, &o, &out), 2);
	assert_string_equal(out, "UUID=r / ext4 defaults 0 1\n"
				 "# rehost: /dev/sda3 none swap sw 0 0\n"
				 "/dev/sda3 none swap sw,nofail 0 0\n"
				 "# rehost: /dev/sdb2 none swap sw 0 0\n"
				 "/dev/sdb2 none swap sw,nofail 0 0\n"
				 "/swapfile none swap sw 0 0\n");
	free(out);
	/* The device name tells which one it is. */
	o.fs = named;
	assert_int_equal(edit(two, &o, &out), 2);
	assert_string_equal(out, "UUID=r / ext4 defaults 0 1\n"
				 "# rehost: /dev/sda3 none swap sw 0 0\n"
				 "UUID=s1 none swap sw 0 0\n"
				 "# rehost: /dev/sdb2 none swap sw 0 0\n"
				 "/dev/sdb2 none swap sw,nofail 0 0\n"
				 "/swapfile none swap sw 0 0\n");
	free(out);
}

static void test_odd_lines(void **state)
{
	const struct rh_pc_fs fs[] = { { "/", "r", NULL, NULL },
				       { "/mnt/my disk", "d", NULL, NULL } };
	struct pc_fstab_opts o = { .fs = fs, .nfs = 2, .tmp_types = default_tmp, .ntmp = 6 };
	char longline[6000];
	char *in, *out;
	const char *head = "garbage\n"
			   "a b c d e f g\n"
			   "/dev/sda1 / ext4 defaults 0 1\r\n"
			   "/dev/sdb1 /mnt/my\\040disk ext4 defaults 0 2\n"
			   "/dev/sdc1 / ext4\n"
			   "  # indented comment\n";
	const char *want_head = "garbage\n"
				"a b c d e f g\n"
				"# rehost: /dev/sda1 / ext4 defaults 0 1\r\n"
				"UUID=r / ext4 defaults 0 1\r\n"
				"# rehost: /dev/sdb1 /mnt/my\\040disk ext4 defaults 0 2\n"
				"UUID=d /mnt/my\\040disk ext4 defaults 0 2\n"
				"# rehost: /dev/sdc1 / ext4\n"
				"UUID=r / ext4\n"
				"  # indented comment\n";

	(void)state;
	memset(longline, 'x', sizeof longline - 2);
	longline[sizeof longline - 2] = '\n';
	longline[sizeof longline - 1] = '\0';
	assert_true(asprintf(&in, "%s%s", head, longline) > 0);
	/* The root line keeps its CR; the escaped mount point matches; a line
	 * for "/" never gets nofail, it is rewritten. */
	assert_int_equal(edit(in, &o, &out), 3);
	assert_true(strncmp(out, want_head, strlen(want_head)) == 0);
	assert_non_null(strstr(out, longline));
	free(in);
	free(out);
}

static void test_tmp_types_key(void **state)
{
	static const char *const tmp[] = { "tmpfs", "ext3", NULL };
	const struct rh_pc_fs fs[] = { { "/", "r", NULL, NULL } };
	struct pc_fstab_opts o = { .fs = fs, .nfs = 1, .tmp_types = default_tmp, .ntmp = 6 };
	const char *in = "/dev/sdg1 /legacy ext3 defaults 0 0\n";
	char *out;

	(void)state;
	assert_int_equal(edit(in, &o, &out), 1);
	free(out);
	o.tmp_types = tmp;
	o.ntmp = 2;
	assert_int_equal(edit(in, &o, &out), 0);
	assert_string_equal(out, in);
	free(out);
}

/* ---- on a tree ---- */

static void test_step_on_tree(void **state)
{
	const struct rh_pc_fs fs[] = { { "/", "aaaa", NULL, NULL }, { "/boot", "bbbb", NULL, NULL } };
	const char *in = "/dev/sda2 / ext4 defaults 0 1\n"
			 "/dev/sda1 /boot ext4 defaults 0 2\n"
			 "/dev/sdb1 /data ext4 defaults 0 2\n"
			 "/dev/sdc1 /old ext4 defaults 0 2\n";
	struct rh_config *cfg = NULL;
	struct rh_pc pc;
	char *root = tree_new(), *before, *after, *got, bpath[PATH_MAX * 2];
	json_t *report, *c;
	struct stat st;

	(void)state;
	tree_put(root, "etc/os-release", "ID=debian\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n");
	tree_put_mode(root, "etc/fstab", in, 0640);
	assert_int_equal(rh_config_new(&cfg), 0);
	assert_int_equal(rh_config_set(cfg, "linux", "fstab_ignore_mount_path", "/old", "test"), 0);

	/* Dry run: the change is reported, nothing is written. */
	before = tree_snapshot(root);
	assert_int_equal(rh_pc_open(&pc, root, cfg, true), 0);
	assert_int_equal(rh_pc_fstab(&pc, fs, 2), 0);
	assert_int_equal(json_array_size(pc.changes), 4);
	assert_string_equal(pc.backup_dir, "");
	after = tree_snapshot(root);
	assert_string_equal(before, after);
	free(before);
	free(after);
	rh_pc_release(&pc);

	assert_int_equal(rh_pc_open(&pc, root, cfg, false), 0);
	assert_int_equal(pc.family, RH_PC_DEBIAN);
	assert_string_equal(pc.os_pretty, "Debian GNU/Linux 12 (bookworm)");
	assert_int_equal(rh_pc_fstab(&pc, fs, 2), 0);
	got = tree_get(root, "etc/fstab");
	assert_string_equal(got, "# rehost: /dev/sda2 / ext4 defaults 0 1\n"
				 "UUID=aaaa / ext4 defaults 0 1\n"
				 "# rehost: /dev/sda1 /boot ext4 defaults 0 2\n"
				 "UUID=bbbb /boot ext4 defaults 0 2\n"
				 "# rehost: /dev/sdb1 /data ext4 defaults 0 2\n"
				 "/dev/sdb1 /data ext4 defaults,nofail 0 2\n"
				 "# rehost: /dev/sdc1 /old ext4 defaults 0 2\n");
	free(got);
	/* The file keeps its mode; the backup holds the original. */
	snprintf(bpath, sizeof bpath, "%s/etc/fstab", root);
	assert_int_equal(stat(bpath, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(strncmp(pc.backup_rel, "/var/backups/rehost-postconf/", 29), 0);
	snprintf(bpath, sizeof bpath, "%s/etc/fstab", pc.backup_rel + 1);
	got = tree_get(root, bpath);
	assert_non_null(got);
	assert_string_equal(got, in);
	free(got);
	/* Report: four changes on /etc/fstab, each naming the backup. */
	report = rh_pc_report(&pc);
	assert_non_null(report);
	assert_string_equal(json_string_value(json_object_get(report, "family")), "debian");
	assert_string_equal(json_string_value(json_object_get(report, "backup_dir")), pc.backup_rel);
	assert_int_equal(json_array_size(json_object_get(report, "changes")), 4);
	c = json_array_get(json_object_get(report, "changes"), 3);
	assert_string_equal(json_string_value(json_object_get(c, "path")), "/etc/fstab");
	assert_string_equal(json_string_value(json_object_get(c, "action")), "commented");
	snprintf(bpath, sizeof bpath, "%s/etc/fstab", pc.backup_rel);
	assert_string_equal(json_string_value(json_object_get(c, "backup")), bpath);
	json_decref(report);
	rh_pc_release(&pc);

	/* Second run: nothing to do, no backup directory. */
	before = tree_snapshot(root);
	assert_int_equal(rh_pc_open(&pc, root, cfg, false), 0);
	assert_int_equal(rh_pc_fstab(&pc, fs, 2), 0);
	assert_int_equal(json_array_size(pc.changes), 0);
	assert_string_equal(pc.backup_rel, "");
	after = tree_snapshot(root);
	assert_string_equal(before, after);
	free(before);
	free(after);
	rh_pc_release(&pc);

	/* Bad input names the value. */
	assert_int_equal(rh_pc_open(&pc, root, NULL, false), 0);
	{
		const struct rh_pc_fs bad[] = { { "/", "a b", NULL, NULL } };

		assert_int_equal(rh_pc_fstab(&pc, bad, 1), RH_ERR_INVAL);
		assert_non_null(strstr(rh_lasterr(), "a b"));
	}
	rh_pc_release(&pc);
	rh_config_free(cfg);
	tree_rm(root);
	free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_centos7),
		cmocka_unit_test(test_already_uuid),
		cmocka_unit_test(test_btrfs_subvolumes_and_type),
		cmocka_unit_test(test_swap_matching),
		cmocka_unit_test(test_odd_lines),
		cmocka_unit_test(test_tmp_types_key),
		cmocka_unit_test(test_step_on_tree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
