/*
 * Unit tests for the boot failure rules (data/boot-failures.tsv), the login
 * prompt test and the watcher, on consoles recorded from real boots in
 * QEMU (tests/data/boottest/, see README there).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rehost/boottest.h"
#include "rehost/err.h"

static const char hdr[] = "id\tfatal\tcode\tpattern\tcause\taction\n";

static const struct rh_bt_rule *match(const char *line)
{
	return rh_bt_rules_match(rh_bt_rules_builtin(), line, NULL);
}

static void expect_rule(const char *line, const char *id)
{
	const struct rh_bt_rule *r = match(line);

	if (id == NULL) {
		if (r != NULL)
			fail_msg("'%s' matched rule %s, expected none", line, r->id);
		return;
	}
	if (r == NULL)
		fail_msg("'%s' matched no rule, expected %s", line, id);
	if (strcmp(r->id, id) != 0)
		fail_msg("'%s' matched rule %s, expected %s", line, r->id, id);
}

static void test_builtin(void **state)
{
	const struct rh_bt_rules *rules = rh_bt_rules_builtin();
	static const char *const required[] = {
		"seabios-not-bootable", "seabios-no-device", "grub-rescue", "grub-no-device",
		"grub-unknown-fs", "grub-file-not-found", "initramfs-gave-up", "initramfs-alert",
		"initramfs-shell", "dracut-could-not-boot", "dracut-timeout", "vfs-no-root",
		"emergency-mode", "kernel-panic", "ovmf-shell",
	};

	assert_non_null(rules);
	assert_true(rh_bt_rules_count(rules) >= 25);
	assert_null(rh_bt_rules_at(rules, rh_bt_rules_count(rules)));
	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
		bool found = false;

		for (size_t k = 0; k < rh_bt_rules_count(rules); k++)
			found = found || strcmp(rh_bt_rules_at(rules, k)->id, required[i]) == 0;
		if (!found)
			fail_msg("rule %s missing from data/boot-failures.tsv", required[i]);
	}
	for (size_t k = 0; k < rh_bt_rules_count(rules); k++) {
		const struct rh_bt_rule *r = rh_bt_rules_at(rules, k);

		assert_true(strlen(r->cause) > 20);
		assert_true(strlen(r->action) > 20);
		assert_true(r->code == NULL || strncmp(r->code, "SMS.", 4) == 0 ||
			    strncmp(r->code, "MSG.", 4) == 0);
	}
}

/* Representative lines for each rule, most from real consoles. */
static void test_lines(void **state)
{
	expect_rule("Boot failed: not a bootable disk", "seabios-not-bootable");
	expect_rule("No bootable device.", "seabios-no-device");
	expect_rule("Boot failed: could not read the boot disk", "seabios-read-error");
	expect_rule("grub rescue>", "grub-rescue");
	expect_rule("Entering rescue mode...", "grub-rescue");
	expect_rule("error: no such device: 0123abcd-0000-4000-8000-000000000000.", "grub-no-device");
	expect_rule("error: unknown filesystem.", "grub-unknown-fs");
	expect_rule("error: file `/boot/vmlinuz-6.1.0-18-amd64' not found.", "grub-file-not-found");
	expect_rule("error: file '/grub/i386-pc/normal.mod' not found.", "grub-file-not-found");
	expect_rule("error: symbol `grub_calloc' not found.", "grub-symbol");
	expect_rule("error: no such partition.", "grub-no-partition");
	expect_rule("Minimal BASH-like line editing is supported. For the first word, TAB", "grub-shell");
	expect_rule("grub>", "grub-shell");
	expect_rule("[    1.902797] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)",
		    "vfs-no-root");
	expect_rule("Gave up waiting for root file system device.  Common problems:", "initramfs-gave-up");
	expect_rule("Gave up waiting for root device.  Common problems:", "initramfs-gave-up");
	expect_rule("ALERT!  /dev/sda1 does not exist.  Dropping to a shell!", "initramfs-alert");
	expect_rule("ALERT!  UUID=1234 does not exist.  Dropping to a shell!", "initramfs-alert");
	expect_rule("Dropping to a shell!", "initramfs-shell");
	expect_rule("[  184.5] dracut-initqueue[312]: Warning: dracut-initqueue: timeout, still waiting for following initqueue hooks:",
		    "dracut-timeout");
	expect_rule("[  184.6] dracut-initqueue[312]: Warning: Could not boot.", "dracut-could-not-boot");
	expect_rule("[  184.6] dracut-initqueue[312]: Warning: /dev/mapper/centos-root does not exist",
		    "dracut-missing-dev");
	expect_rule("Entering emergency mode. Exit the shell to continue.", "dracut-emergency");
	expect_rule("[    2.1] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100",
		    "panic-no-init");
	expect_rule("[    2.1] Kernel panic - not syncing: No working init found.  Try passing init= option to kernel.",
		    "panic-no-init");
	expect_rule("[    3.0] Kernel panic - not syncing: Fatal exception", "kernel-panic");
	expect_rule("[    0.0] This kernel requires the following features not present on the CPU:",
		    "cpu-features");
	expect_rule("You are in emergency mode. After logging in, type \"journalctl -xb\" to view",
		    "emergency-mode");
	expect_rule("Give root password for maintenance", "emergency-mode");
	expect_rule("Cannot open access to console, the root account is locked.", "emergency-mode");
	expect_rule("[ TIME ] Timed out waiting for device dev-sdb1.device - /dev/sdb1.", "fstab-timeout");
	expect_rule("[DEPEND] Dependency failed for data.mount - /data.", "dependency-failed");
	expect_rule("[FAILED] Failed to mount boot.mount - /boot.", "mount-failed");
	expect_rule("UEFI Interactive Shell v2.2", "ovmf-shell");
	expect_rule("Shell>", "ovmf-shell");
	expect_rule("BdsDxe: failed to load Boot0001 \"UEFI Misc Device\" from PciRoot(0x0)/Pci(0x2,0x0): Not Found",
		    "ovmf-load-failed");
	/* Healthy lines match nothing. */
	expect_rule("[  OK  ] Started ssh.service - OpenBSD Secure Shell server.", NULL);
	expect_rule("Booting from Hard Disk...", NULL);
	expect_rule("Welcome to GRUB!", NULL);
	expect_rule("[    0.000000] Linux version 6.1.0-50-amd64", NULL);
	expect_rule("Debian GNU/Linux 12 rehost-src ttyS0", NULL);
	expect_rule("rehost-src login:", NULL);
	expect_rule("", NULL);
}

static void test_login_prompt(void **state)
{
	assert_true(rh_bt_is_login_prompt("rehost-src login:"));
	assert_true(rh_bt_is_login_prompt("rehost-src login: "));
	assert_true(rh_bt_is_login_prompt("login:"));
	assert_true(rh_bt_is_login_prompt("  web-01.example.com login: "));
	assert_true(rh_bt_is_login_prompt("localhost login: [   31.2] random: crng init done"));
	assert_false(rh_bt_is_login_prompt("Last login: Mon Nov 23 00:00:01 on ttyS0"));
	assert_false(rh_bt_is_login_prompt("Login incorrect"));
	assert_false(rh_bt_is_login_prompt("Login incorrect rehost-src login:"));
	assert_false(rh_bt_is_login_prompt("rehost-src login:x"));
	assert_false(rh_bt_is_login_prompt("two words login:"));
	assert_false(rh_bt_is_login_prompt("[  OK  ] Started systemd-logind.service - User Login Management."));
	assert_false(rh_bt_is_login_prompt("pam_unix(login:session): session opened"));
	assert_false(rh_bt_is_login_prompt(""));
	assert_false(rh_bt_is_login_prompt("login"));
}

static void test_parse_errors(void **state)
{
	struct rh_bt_rules *r = NULL;
	char buf[512];

	snprintf(buf, sizeof buf, "%sa\tyes\t-\tfoo(\tc\td\n", hdr);
	assert_int_equal(rh_bt_rules_parse(buf, strlen(buf), "t.tsv", &r), RH_ERR_PARSE);
	assert_null(r);
	assert_non_null(strstr(rh_lasterr(), "rule 'a': pattern 'foo('"));
	snprintf(buf, sizeof buf, "%sa\tmaybe\t-\tfoo\tc\td\n", hdr);
	assert_int_equal(rh_bt_rules_parse(buf, strlen(buf), "t.tsv", &r), RH_ERR_PARSE);
	assert_non_null(strstr(rh_lasterr(), "expected yes or no"));
	snprintf(buf, sizeof buf, "%sa\tyes\t-\tfoo\tc\td\na\tno\t-\tbar\tc\td\n", hdr);
	assert_int_equal(rh_bt_rules_parse(buf, strlen(buf), "t.tsv", &r), RH_ERR_PARSE);
	assert_non_null(strstr(rh_lasterr(), "defined twice"));
	snprintf(buf, sizeof buf, "id\tfatal\tpattern\tcode\tcause\taction\n");
	assert_int_equal(rh_bt_rules_parse(buf, strlen(buf), "t.tsv", &r), RH_ERR_PARSE);
	snprintf(buf, sizeof buf, "%sa\tyes\t-\tfoo\tc\n", hdr);
	assert_int_equal(rh_bt_rules_parse(buf, strlen(buf), "t.tsv", &r), RH_ERR_PARSE);

	/* A good table: first match wins, "-" code is NULL. */
	snprintf(buf, sizeof buf, "# comment\n%sa\tno\t-\tfoo\tca\tda\nb\tyes\tSMS.6563\tfo+\tcb\tdb\n", hdr);
	assert_int_equal(rh_bt_rules_parse(buf, strlen(buf), "t.tsv", &r), 0);
	assert_int_equal(rh_bt_rules_count(r), 2);
	{
		size_t idx = 9;
		const struct rh_bt_rule *m = rh_bt_rules_match(r, "xfooy", &idx);

		assert_non_null(m);
		assert_string_equal(m->id, "a");
		assert_false(m->fatal);
		assert_null(m->code);
		assert_int_equal(idx, 0);
		m = rh_bt_rules_match(r, "fo", &idx);
		assert_string_equal(m->id, "b");
		assert_int_equal(idx, 1);
		m = rh_bt_rules_match(r, "f", &idx);
		assert_null(m);
		assert_string_equal(rh_bt_rules_at(r, 1)->code, "SMS.6563");
		assert_true(rh_bt_rules_at(r, 1)->fatal);
	}
	rh_bt_rules_free(r);
	rh_bt_rules_free(NULL);
}

static void test_names(void **state)
{
	enum rh_bt_bus b;
	enum rh_bt_firmware f;

	assert_int_equal(rh_bt_bus_parse("sata", &b), 0);
	assert_int_equal(b, RH_BT_SATA);
	assert_string_equal(rh_bt_bus_name(b), "sata");
	assert_int_equal(rh_bt_bus_parse("nvme", &b), RH_ERR_INVAL);
	assert_int_equal(rh_bt_firmware_parse("uefi", &f), 0);
	assert_string_equal(rh_bt_firmware_name(f), "uefi");
	assert_int_equal(rh_bt_firmware_parse("BIOS", &f), RH_ERR_INVAL);
	assert_int_equal(rh_bt_bus_max_disks(RH_BT_IDE), 4);
	assert_int_equal(rh_bt_bus_max_disks(RH_BT_SATA), 6);
	assert_string_equal(rh_bt_reason_name(RH_BT_R_QEMU_EXIT), "qemu-exit");
}

/* ---- recorded consoles through the line buffer and the watcher ---- */

struct replay {
	struct rh_bt_watch w;
	enum rh_bt_source src;
};

static int on_line(const char *line, void *arg)
{
	struct replay *rp = arg;

	rh_bt_watch_line(&rp->w, rp->src, line, false);
	return 0;
}

/* Replay a recorded console in reads of `chunk` bytes; the idle partial
 * line at the end is looked at as the runner does. */
static void replay(const char *name, enum rh_bt_source src, size_t chunk, struct replay *rp)
{
	const char *dir = getenv("REHOST_SRCDIR");
	struct rh_bt_console *c = NULL;
	char path[4096], *data = NULL;
	size_t len = 0;
	FILE *f;

	snprintf(path, sizeof path, "%s/tests/data/boottest/%s", dir ? dir : ".", name);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s (set REHOST_SRCDIR)", path);
	data = malloc(1 << 20);
	assert_non_null(data);
	len = fread(data, 1, 1 << 20, f);
	fclose(f);
	rh_bt_watch_init(&rp->w, NULL);
	rp->src = src;
	assert_int_equal(rh_bt_console_new(40, &c), 0);
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;

		assert_int_equal(rh_bt_console_feed(c, data + off, n, on_line, rp), 0);
	}
	if (*rh_bt_console_partial(c) != '\0')
		rh_bt_watch_line(&rp->w, src, rh_bt_console_partial(c), true);
	rh_bt_console_free(c);
	free(data);
}

static void expect_verdict(const char *name, enum rh_bt_source src, enum rh_bt_state state,
			   const char *fatal_id, const char *hint_id)
{
	static const size_t chunks[] = { 1, 7, 4096 };

	for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
		struct replay rp;

		replay(name, src, chunks[i], &rp);
		if (rp.w.state != state)
			fail_msg("%s: state %d, expected %d (fatal %s)", name, rp.w.state, state,
				 rp.w.fatal ? rp.w.fatal->id : "none");
		if (fatal_id != NULL)
			assert_string_equal(rp.w.fatal->id, fatal_id);
		else
			assert_null(rp.w.fatal);
		if (hint_id != NULL) {
			if (rp.w.hint == NULL)
				fail_msg("%s: no hint, expected %s", name, hint_id);
			assert_string_equal(rp.w.hint->id, hint_id);
		} else if (rp.w.hint != NULL) {
			fail_msg("%s: hint %s, expected none", name, rp.w.hint->id);
		}
	}
}

static void test_recorded(void **state)
{
	struct replay rp;

	expect_verdict("seabios-empty.screen", RH_BT_SCREEN, RH_BT_FATAL, "seabios-not-bootable", NULL);
	replay("seabios-empty.screen", RH_BT_SCREEN, 4096, &rp);
	assert_true(rp.w.firmware_booted_disk);
	assert_int_equal(rp.w.serial_lines, 0);
	assert_string_equal(rp.w.fatal_line, "Boot failed: not a bootable disk");

	expect_verdict("grub-rescue.screen", RH_BT_SCREEN, RH_BT_FATAL, "grub-rescue", "grub-unknown-fs");
	expect_verdict("grub-login.serial", RH_BT_SERIAL, RH_BT_LOGIN, NULL, NULL);
	replay("grub-login.serial", RH_BT_SERIAL, 4096, &rp);
	assert_string_equal(rp.w.login_line, "rehost-test login: ");
	assert_false(rp.w.os_seen);
	replay("ovmf-shell.serial", RH_BT_SERIAL, 4096, &rp);
	assert_false(rp.w.os_seen);
	replay("linux-vfs-panic.serial", RH_BT_SERIAL, 4096, &rp);
	assert_true(rp.w.os_seen);

	expect_verdict("ovmf-shell.serial", RH_BT_SERIAL, RH_BT_FATAL, "ovmf-shell", "ovmf-load-failed");
	expect_verdict("linux-vfs-panic.serial", RH_BT_SERIAL, RH_BT_FATAL, "vfs-no-root", NULL);
	/* "ALERT! ... does not exist" and "Dropping to a shell" follow; the
	 * first fatal row of the table stays the verdict. */
	expect_verdict("initramfs-gaveup.serial", RH_BT_SERIAL, RH_BT_FATAL, "initramfs-gave-up", NULL);
	expect_verdict("systemd-emergency.serial", RH_BT_SERIAL, RH_BT_FATAL, "emergency-mode",
		       "dependency-failed");
	expect_verdict("debian-login.serial", RH_BT_SERIAL, RH_BT_LOGIN, NULL, NULL);
	replay("debian-login.serial", RH_BT_SERIAL, 4096, &rp);
	assert_string_equal(rp.w.login_line, "rehost-src login: ");
	assert_true(rp.w.serial_lines > 20);
	assert_true(rp.w.os_seen);
}

/* A more specific fatal row seen later replaces a general one; a later,
 * less specific one does not; a login prompt after a verdict is ignored. */
static void test_watch_order(void **state)
{
	struct rh_bt_watch w;

	rh_bt_watch_init(&w, NULL);
	assert_int_equal(rh_bt_watch_line(&w, RH_BT_SERIAL, "Dropping to a shell!", false), RH_BT_FATAL);
	assert_string_equal(w.fatal->id, "initramfs-shell");
	rh_bt_watch_line(&w, RH_BT_SERIAL, "Gave up waiting for root file system device.", false);
	assert_string_equal(w.fatal->id, "initramfs-gave-up");
	rh_bt_watch_line(&w, RH_BT_SERIAL, "[ 3.0] Kernel panic - not syncing: Fatal exception", false);
	assert_string_equal(w.fatal->id, "initramfs-gave-up");
	assert_int_equal(rh_bt_watch_line(&w, RH_BT_SERIAL, "rehost-src login:", false), RH_BT_FATAL);

	/* Hints are kept while pending, and do not end the boot. */
	rh_bt_watch_init(&w, NULL);
	assert_int_equal(rh_bt_watch_line(&w, RH_BT_SERIAL, "error: file `/boot/grub/fonts/unicode.pf2' not found.", false),
			 RH_BT_PENDING);
	assert_string_equal(w.hint->id, "grub-file-not-found");
	assert_int_equal(rh_bt_watch_line(&w, RH_BT_SERIAL, "rehost-src login: ", true), RH_BT_LOGIN);
	assert_int_equal(w.serial_lines, 1);
	/* A login prompt on the BIOS screen is not the guest's. */
	rh_bt_watch_init(&w, NULL);
	assert_int_equal(rh_bt_watch_line(&w, RH_BT_SCREEN, "rehost-src login:", false), RH_BT_PENDING);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builtin),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_login_prompt),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_recorded),
		cmocka_unit_test(test_watch_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
