/* Unit tests of the postconf file layer: paths stay inside the target root
 * (hostile symlinks resolve inside it, host files are never touched), backups
 * keep mode, owner, times and symlinks, writes follow symlinks inside the
 * root, family detection, and the JSON report file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pc-tree.h"
#include "postconf/internal.h"
#include "rehost/err.h"
#include "rehost/log.h"

/* A host file outside every test root, with known content. */
static char victim[64];

static int setup(void **state)
{
	int fd;

	(void)state;
	snprintf(victim, sizeof victim, "/tmp/rehost-pc-victim-XXXXXX");
	fd = mkstemp(victim);
	if (fd < 0 || write(fd, "host data\n", 10) != 10)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(victim);
	return 0;
}

static void assert_victim_intact(void)
{
	char *v = tree_get("/", victim + 1);

	assert_non_null(v);
	assert_string_equal(v, "host data\n");
	free(v);
}

/* Symlinks built to climb out of the root resolve inside it, as on the
 * booted target; the host file is never touched. */
static void test_escape_stays_inside(void **state)
{
	char *root = tree_new(), link[PATH_MAX], p[PATH_MAX * 2], *v;
	struct rh_pc pc;
	struct stat st;

	(void)state;
	tree_put(root, "etc/os-release", "ID=debian\n");
	/* Absolute with "..": lands on <root>/tmp/victim, absent there. */
	snprintf(link, sizeof link, "/../../..%s", victim);
	tree_link(root, "etc/motd", link);
	assert_int_equal(rh_pc_open(&pc, root, NULL, false), 0);
	assert_int_equal(rh_pc_motd(&pc), 0);
	assert_int_equal(json_array_size(pc.changes), 0);
	assert_int_equal(rh_pc_backup(&pc, "/etc/motd/../../../../x"), 0);
	assert_victim_intact();
	/* With a file there inside the root, that file is emptied. */
	tree_put(root, victim + 1, "target data\n");
	assert_int_equal(rh_pc_motd(&pc), 0);
	assert_int_equal(json_array_size(pc.changes), 1);
	v = tree_get(root, victim + 1);
	assert_string_equal(v, "");
	free(v);
	assert_victim_intact();
	rh_pc_release(&pc);

	/* Relative, from /etc, with far too many "..". */
	snprintf(p, sizeof p, "%s/etc/motd", root);
	assert_int_equal(unlink(p), 0);
	snprintf(link, sizeof link, "../../../../../../..%s", victim);
	tree_link(root, "etc/motd", link);
	tree_put(root, victim + 1, "target data\n");
	assert_int_equal(rh_pc_open(&pc, root, NULL, false), 0);
	assert_int_equal(rh_pc_write_file(&pc, "/etc/motd", "x\n", 0), 1);
	v = tree_get(root, victim + 1);
	assert_string_equal(v, "x\n");
	free(v);
	assert_victim_intact();
	/* The link itself is still there. */
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	rh_pc_release(&pc);

	/* A directory on the way that leads "out": still inside. */
	tree_link(root, "etc/default", "/../../tmp");
	assert_int_equal(rh_pc_open(&pc, root, NULL, false), 0);
	snprintf(p, sizeof p, "/etc/default%s.new", victim + 4);
	assert_int_equal(rh_pc_write_file(&pc, p, "x", 0), 1);
	snprintf(p, sizeof p, "%s.new", victim);
	assert_int_equal(stat(p, &st), -1); /* not on the host */
	snprintf(p, sizeof p, "%s.new", victim + 1);
	assert_true(tree_exists(root, p));
	/* A caller's path that climbs out is refused. */
	assert_int_equal(rh_pc_write_file(&pc, "/../etc/x", "x", 0), RH_ERR_PERM);
	assert_non_null(strstr(rh_lasterr(), "above the target root"));
	assert_int_equal(rh_pc_backup(&pc, "etc/../../x"), RH_ERR_PERM);
	rh_pc_release(&pc);
	tree_rm(root);
	free(root);
}

static void test_absolute_links_stay_inside(void **state)
{
	char *root = tree_new(), *v;
	struct rh_pc pc;

	(void)state;
	tree_put(root, "etc/os-release", "ID=debian\n");
	/* /etc/motd -> <victim path>: resolved inside the root, where it does
	 * not exist: nothing to empty, and the host file is untouched. */
	tree_link(root, "etc/motd", victim);
	assert_int_equal(rh_pc_open(&pc, root, NULL, false), 0);
	assert_int_equal(rh_pc_motd(&pc), 0);
	assert_int_equal(json_array_size(pc.changes), 0);
	assert_victim_intact();
	rh_pc_release(&pc);

	/* Now the root has its own file there: that one is emptied. */
	tree_put(root, victim + 1, "target motd\n");
	assert_int_equal(rh_pc_open(&pc, root, NULL, false), 0);
	assert_int_equal(rh_pc_motd(&pc), 0);
	assert_int_equal(json_array_size(pc.changes), 1);
	v = tree_get(root, victim + 1);
	assert_string_equal(v, "");
	free(v);
	assert_victim_intact();
	/* The link is still a link. */
	{
		char p[PATH_MAX], l[PATH_MAX];

		snprintf(p, sizeof p, "%s/etc/motd", root);
		assert_int_equal(readlink(p, l, sizeof l), (ssize_t)strlen(victim));
	}
	rh_pc_release(&pc);
	tree_rm(root);
	free(root);
}

static void test_backup_keeps_attributes(void **state)
{
	char *root = tree_new(), p[PATH_MAX], b[PATH_MAX * 2], l[PATH_MAX], *v;
	struct timespec ts[2] = { { 1000000000, 0 }, { 1200000000, 123456789 } };
	struct stat st;
	struct rh_pc pc;
	ssize_t n;

	(void)state;
	tree_put_mode(root, "etc/secret.conf", "old\n", 0600);
	snprintf(p, sizeof p, "%s/etc/secret.conf", root);
	assert_int_equal(lchown(p, 1234, 5678), 0);
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	tree_link(root, "etc/alias.conf", "secret.conf");

	assert_int_equal(rh_pc_open(&pc, root, NULL, false), 0);
	assert_int_equal(pc.family, RH_PC_UNKNOWN);
	assert_int_equal(rh_pc_write_file(&pc, "etc/secret.conf", "old\n", 0), 0); /* same */
	assert_string_equal(pc.backup_dir, "");
	/* Through the symlink: the file it leads to is rewritten. */
	assert_int_equal(rh_pc_write_file(&pc, "/etc/alias.conf", "new\n", 0), 1);
	v = tree_get(root, "etc/secret.conf");
	assert_string_equal(v, "new\n");
	free(v);
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, 1234);
	assert_int_equal(st.st_gid, 5678);
	/* The backup: old content, mode, owner and mtime. */
	snprintf(b, sizeof b, "%s/etc/secret.conf", pc.backup_dir);
	assert_int_equal(lstat(b, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, 1234);
	assert_int_equal(st.st_gid, 5678);
	assert_int_equal(st.st_mtim.tv_sec, 1200000000);
	assert_int_equal(st.st_mtim.tv_nsec, 123456789);
	v = tree_get("/", b + 1);
	assert_string_equal(v, "old\n");
	free(v);
	/* A second write in the run keeps the first backup. */
	assert_int_equal(rh_pc_write_file(&pc, "/etc/secret.conf", "newer\n", 0), 1);
	v = tree_get("/", b + 1);
	assert_string_equal(v, "old\n");
	free(v);
	/* Removing a symlink backs up the symlink. */
	assert_int_equal(pc_remove(&pc, "/etc/alias.conf", "test"), 1);
	assert_false(tree_exists(root, "etc/alias.conf"));
	snprintf(b, sizeof b, "%s/etc/alias.conf", pc.backup_dir);
	n = readlink(b, l, sizeof l - 1);
	assert_int_equal(n, 11);
	l[n] = '\0';
	assert_string_equal(l, "secret.conf");
	assert_int_equal(pc_remove(&pc, "/etc/alias.conf", "test"), 0); /* gone already */
	/* New files get the mode asked for; a missing directory is an error. */
	assert_int_equal(rh_pc_write_file(&pc, "/etc/new.conf", "x", 0640), 1);
	snprintf(p, sizeof p, "%s/etc/new.conf", root);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(rh_pc_write_file(&pc, "/nodir/x", "x", 0), RH_ERR_NOTFOUND);
	/* No temporary files left behind. */
	{
		char **names = NULL;
		size_t nn;

		assert_int_equal(pc_list(&pc, "/etc", &names, &nn), 0);
		assert_int_equal(nn, 2);
		assert_string_equal(names[0], "new.conf");
		assert_string_equal(names[1], "secret.conf");
		pc_names_free(names);
	}
	rh_pc_release(&pc);
	tree_rm(root);
	free(root);
}

static void test_backup_dir_per_run(void **state)
{
	char *root = tree_new(), stamp[32];
	struct rh_pc a, b;

	(void)state;
	tree_put(root, "etc/a", "1\n");
	assert_int_equal(rh_pc_open(&a, root, NULL, false), 0);
	assert_int_equal(rh_pc_write_file(&a, "/etc/a", "2\n", 0), 1);
	snprintf(stamp, sizeof stamp, "%s", a.stamp);
	rh_pc_release(&a);
	/* Same second: the second run gets its own directory. */
	assert_int_equal(rh_pc_open(&b, root, NULL, false), 0);
	snprintf(b.stamp, sizeof b.stamp, "%s", stamp);
	assert_int_equal(rh_pc_write_file(&b, "/etc/a", "3\n", 0), 1);
	assert_non_null(strstr(b.backup_rel, "-1"));
	{
		char rel[PATH_MAX * 2], *v;

		snprintf(rel, sizeof rel, "%s/etc/a", b.backup_rel + 1);
		v = tree_get(root, rel);
		assert_string_equal(v, "2\n");
		free(v);
	}
	rh_pc_release(&b);
	tree_rm(root);
	free(root);
}

static void test_dry_run_writes_nothing(void **state)
{
	char *root = tree_new(), *before, *after;
	struct rh_pc pc;

	(void)state;
	tree_put(root, "etc/motd", "hello\n");
	tree_put(root, "etc/cloud/cloud.cfg", "x: 1\n");
	tree_put(root, "etc/selinux/config", "SELINUX=enforcing\n");
	before = tree_snapshot(root);
	assert_int_equal(rh_pc_open(&pc, root, NULL, true), 0);
	assert_int_equal(rh_pc_write_file(&pc, "/etc/motd", "", 0), 1);
	assert_int_equal(rh_pc_motd(&pc), 0);
	assert_int_equal(rh_pc_disable_agents(&pc), 0);
	assert_int_equal(rh_pc_selinux_relabel(&pc), 0);
	assert_int_equal(pc_count(&pc, "/etc/motd", "modified"), 1);
	assert_int_equal(pc_count(&pc, "/etc/cloud/cloud.cfg", "removed"), 1);
	assert_int_equal(pc_count(&pc, "/etc/cloud/cloud-init.disabled", "created"), 1);
	assert_int_equal(pc_count(&pc, "/.autorelabel", "created"), 1);
	after = tree_snapshot(root);
	assert_string_equal(before, after);
	rh_pc_release(&pc);
	free(before);
	free(after);
	tree_rm(root);
	free(root);
}

struct fam_case {
	const char *files[4][2];
	enum rh_pc_family family;
	const char *pretty;
};

static void test_family(void **state)
{
	static const struct fam_case cases[] = {
		{ { { "etc/os-release", "NAME=Ubuntu\nID=ubuntu\nID_LIKE=debian\n"
					"PRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\n" } },
		  RH_PC_DEBIAN, "Ubuntu 22.04.4 LTS" },
		{ { { "usr/lib/os-release", "ID=\"rocky\"\nNAME=\"Rocky Linux\"\nVERSION=\"9.3 (Blue Onyx)\"\n" } },
		  RH_PC_RHEL, "Rocky Linux 9.3 (Blue Onyx)" },
		{ { { "etc/os-release", "ID=\"opensuse-leap\"\nPRETTY_NAME=\"openSUSE Leap 15.5\"\n" } },
		  RH_PC_SUSE, "openSUSE Leap 15.5" },
		{ { { "etc/os-release", "ID=linuxmint\nID_LIKE=\"ubuntu debian\"\nPRETTY_NAME=\"Mint\"\n" } },
		  RH_PC_DEBIAN, "Mint" },
		/* Kylin: the files decide. */
		{ { { "etc/os-release", "ID=kylin\nPRETTY_NAME=\"Kylin Linux Advanced Server V10\"\n" },
		    { "etc/redhat-release", "Kylin Linux Advanced Server release V10 (Sword)\n" } },
		  RH_PC_RHEL, "Kylin Linux Advanced Server V10" },
		{ { { "etc/redhat-release", "CentOS release 6.10 (Final)\n" } },
		  RH_PC_RHEL, "CentOS release 6.10 (Final)" },
		{ { { "etc/SuSE-release", "SUSE Linux Enterprise Server 11 (x86_64)\nVERSION = 11\n" } },
		  RH_PC_SUSE, "SUSE Linux Enterprise Server 11 (x86_64)" },
		{ { { "etc/debian_version", "7.11\n" } }, RH_PC_DEBIAN, "Debian 7.11" },
		{ { { "etc/os-release", "ID=plan9\n" } }, RH_PC_UNKNOWN, "plan9" },
		{ { { NULL, NULL } }, RH_PC_UNKNOWN, "unknown" },
	};
	struct rh_pc pc;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *root = tree_new();

		for (size_t f = 0; f < 4 && cases[i].files[f][0]; f++)
			tree_put(root, cases[i].files[f][0], cases[i].files[f][1]);
		assert_int_equal(rh_pc_open(&pc, root, NULL, false), 0);
		assert_int_equal(pc.family, cases[i].family);
		assert_string_equal(pc.os_pretty, cases[i].pretty);
		rh_pc_release(&pc);
		tree_rm(root);
		free(root);
	}
	/* The host's own root and a missing directory are refused. */
	assert_int_equal(rh_pc_open(&pc, "/", NULL, false), RH_ERR_INVAL);
	assert_non_null(strstr(rh_lasterr(), "own root"));
	rh_pc_release(&pc);
	assert_int_equal(rh_pc_open(&pc, "/nonexistent-rehost-root", NULL, false), RH_ERR_NOTFOUND);
	rh_pc_release(&pc);
}

static void test_report_file(void **state)
{
	char *root = tree_new(), path[PATH_MAX * 2];
	struct rh_pc pc;
	json_error_t err;
	json_t *j, *c;

	(void)state;
	tree_put(root, "etc/os-release", "ID=centos\nPRETTY_NAME=\"CentOS Linux 7 (Core)\"\n");
	tree_put(root, "etc/motd", "Welcome to the old cloud\n");
	assert_int_equal(rh_pc_open(&pc, root, NULL, false), 0);
	assert_int_equal(rh_pc_motd(&pc), 0);
	snprintf(path, sizeof path, "%s.report.json", root);
	assert_int_equal(rh_pc_report_write(&pc, path), 0);
	j = json_load_file(path, 0, &err);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "root")), root);
	assert_string_equal(json_string_value(json_object_get(j, "family")), "rhel");
	assert_string_equal(json_string_value(json_object_get(j, "os")), "CentOS Linux 7 (Core)");
	assert_true(json_is_false(json_object_get(j, "dry_run")));
	assert_string_equal(json_string_value(json_object_get(j, "backup_dir")), pc.backup_rel);
	assert_int_equal(json_array_size(json_object_get(j, "changes")), 1);
	c = json_array_get(json_object_get(j, "changes"), 0);
	assert_string_equal(json_string_value(json_object_get(c, "path")), "/etc/motd");
	assert_string_equal(json_string_value(json_object_get(c, "action")), "modified");
	assert_string_equal(json_string_value(json_object_get(c, "detail")), "emptied");
	assert_non_null(strstr(json_string_value(json_object_get(c, "backup")), "/etc/motd"));
	json_decref(j);
	unlink(path);
	rh_pc_release(&pc);
	tree_rm(root);
	free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_stays_inside),
		cmocka_unit_test(test_absolute_links_stay_inside),
		cmocka_unit_test(test_backup_keeps_attributes),
		cmocka_unit_test(test_backup_dir_per_run),
		cmocka_unit_test(test_dry_run_writes_nothing),
		cmocka_unit_test(test_family),
		cmocka_unit_test(test_report_file),
	};

	rh_log_set_level(RH_LOG_WARN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
