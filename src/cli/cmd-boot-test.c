/*
 * rehost boot-test: boot a migrated target's disks in QEMU (with
 * -snapshot, so the disks are never written) and report whether the guest
 * reached a login prompt on its serial console, or the likely cause and
 * fix when it did not. The work is in src/lib/boottest/.
 */
#define RH_LOG_COMPONENT "boot-test"
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "rehost/accel.h"
#include "rehost/boottest.h"
#include "rehost/err.h"
#include "rehost/json.h"
#include "rehost/log.h"
#include "rehost/num.h"

#define DEFAULT_TIMEOUT 600
#define DEFAULT_MEMORY 1024
#define DEFAULT_TAIL 40
#define PROGRESS_S 30

void usage_boot_test(FILE *out)
{
	fprintf(out,
		"usage: rehost boot-test (--disk-dir DIR | --disk FILE...) [--timeout SECONDS]\n"
		"                        [--memory MiB] [--cpus N] [--firmware bios|uefi]\n"
		"                        [--bus virtio|ide|sata|scsi] [--console-log FILE]\n"
		"                        [--tail LINES] [--json] [--qemu PATH]\n"
		"                        [--accel auto|kvm|tcg] [--probe-kernel FILE]\n"
		"\n"
		"Boot a migrated target in QEMU and check that it reaches a login prompt on\n"
		"its serial console (ttyS0). QEMU runs with -snapshot: every write of the\n"
		"guest goes to a temporary overlay that is discarded, so a test boot never\n"
		"changes the target disks. When the boot fails, the last console lines and\n"
		"the likely cause (from a table of known boot failures) are printed.\n"
		"\n"
		"  --disk-dir DIR        the disks DIR/disk0.raw, disk1.raw, ... as `rehost\n"
		"                        target --disk-dir` writes them (diskN.qcow2 also)\n"
		"  --disk FILE           a disk image (repeat in order); format probed unless\n"
		"                        the name ends in .raw or .img. Disk 0 boots.\n"
		"  --timeout SECONDS     give up without a login prompt after this (default %d;\n"
		"                        a Debian boot under TCG emulation takes 1-3 minutes)\n"
		"  --memory MiB          guest memory (default %d)\n"
		"  --cpus N              guest CPUs (default 1)\n"
		"  --firmware bios|uefi  SeaBIOS (default) or OVMF; UEFI needs the ovmf package\n"
		"  --ovmf-code FILE      OVMF code image (default: found in /usr/share/OVMF)\n"
		"  --ovmf-vars FILE      OVMF variables template for --ovmf-code (copied per run)\n"
		"  --bus BUS             how the disks are attached: virtio (virtio-blk, the\n"
		"                        default), scsi (virtio-scsi), sata (AHCI on q35),\n"
		"                        ide (PIIX on pc)\n"
		"  --accel auto|kvm|tcg  accelerator. auto (the default) uses KVM only when a\n"
		"                        Linux kernel boots under it: a short probe, once per\n"
		"                        host boot (cached in /run/rehost); else TCG, with the\n"
		"                        reason. kvm forces KVM without a probe; tcg emulates.\n"
		"  --probe-kernel FILE   kernel for that probe (default: $REHOST_PROBE_KERNEL,\n"
		"                        else /boot/vmlinuz-$(uname -r), else the newest\n"
		"                        /boot/vmlinuz-*)\n"
		"  --console-log FILE    keep the whole serial console (raw bytes) in FILE\n"
		"  --tail LINES          console lines shown on failure (default %d)\n"
		"  --json                print the result as JSON on stdout (verdict on stderr)\n"
		"  --qemu PATH           QEMU binary (default qemu-system-x86_64 from PATH)\n"
		"\n"
		"Success is a line such as `rehost-src login:` on the serial console. The\n"
		"guest's kernel command line needs console=ttyS0 for that (rehost postconf\n"
		"sets it). A progress line is logged every %d s.\n"
		"\n"
		"Exit status: 0 login prompt reached, 1 the boot failed (or could not be\n"
		"started), 2 usage error. See docs/boot-test.md.\n",
		DEFAULT_TIMEOUT, DEFAULT_MEMORY, DEFAULT_TAIL, PROGRESS_S);
}

static void on_progress(const struct rh_bt_progress *p, void *arg)
{
	(void)arg;
	/* Before the guest says anything, the BIOS screen shows how far
	 * the boot got. */
	if (*p->last_line == '\0' && *p->screen_line != '\0')
		rh_log_info("%.0f s, %llu console lines, last on the BIOS screen: %.120s",
			    p->seconds, (unsigned long long)p->console_lines, p->screen_line);
	else
		rh_log_info("%.0f s, %llu console lines, last: %.120s", p->seconds,
			    (unsigned long long)p->console_lines, p->last_line);
}

/* JSON string of text that may not be UTF-8 (file names, QEMU's words):
 * bytes outside printable ASCII become '?'. */
static json_t *jstr(const char *s)
{
	json_t *j = json_string(s);
	char *c;

	if (j != NULL)
		return j;
	if ((c = strdup(s)) == NULL)
		return NULL;
	for (char *p = c; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	j = json_string(c);
	free(c);
	return j;
}

static json_t *lines_json(char **lines, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, jstr(lines[i]));
	return a;
}

static json_t *result_json(const struct rh_bt_result *r, const struct rh_bt_opts *o)
{
	json_t *j = json_object(), *disks = json_array();

	if (j == NULL || disks == NULL) {
		json_decref(j);
		json_decref(disks);
		return NULL;
	}
	for (size_t i = 0; i < o->ndisks; i++)
		json_array_append_new(disks, json_pack("{s:o,s:s}", "path", jstr(o->disks[i].path),
						       "format",
						       rh_img_format_name(o->disks[i].format)));
	json_object_set_new(j, "result", json_string(r->passed ? "pass" : "fail"));
	json_object_set_new(j, "reason", json_string(rh_bt_reason_name(r->reason)));
	json_object_set_new(j, "seconds", json_real((double)(long)(r->seconds * 10) / 10));
	json_object_set_new(j, "cause", r->cause[0] ? jstr(r->cause) : json_null());
	json_object_set_new(j, "action", r->action[0] ? jstr(r->action) : json_null());
	json_object_set_new(j, "rule", r->rule ? json_string(r->rule->id) : json_null());
	json_object_set_new(j, "code", r->rule && r->rule->code ? json_string(r->rule->code)
								 : json_null());
	json_object_set_new(j, "matched", r->matched[0] ? jstr(r->matched) : json_null());
	json_object_set_new(j, "matched_on", json_string(r->matched_screen ? "screen" : "serial"));
	json_object_set_new(j, "tail", lines_json(r->tail, r->ntail));
	json_object_set_new(j, "screen_tail", lines_json(r->screen_tail, r->nscreen_tail));
	json_object_set_new(j, "firmware", json_string(rh_bt_firmware_name(o->firmware)));
	json_object_set_new(j, "bus", json_string(rh_bt_bus_name(o->bus)));
	json_object_set_new(j, "accelerator", json_string(r->accel));
	json_object_set_new(j, "accelerator_reason", jstr(r->accel_reason));
	json_object_set_new(j, "console_lines", json_integer((json_int_t)r->console_lines));
	json_object_set_new(j, "console_bytes", json_integer((json_int_t)r->console_bytes));
	json_object_set_new(j, "qemu_stderr", jstr(r->qemu_stderr));
	json_object_set_new(j, "disks", disks);
	return j;
}

static void print_result(FILE *f, const struct rh_bt_result *r, const struct rh_bt_opts *o,
			 unsigned tail)
{
	const char *fw = rh_bt_firmware_name(o->firmware), *bus = rh_bt_bus_name(o->bus);

	fprintf(f, "boot-test: accelerator %s: %s\n", r->accel, r->accel_reason);
	if (r->passed) {
		fprintf(f, "boot-test: login prompt after %.0f s (disk0 on %s, %s)\n", r->seconds,
			bus, fw);
		return;
	}
	if (tail > 0 && r->ntail > 0) {
		fprintf(f, "boot-test: last %zu console line%s:\n", r->ntail, r->ntail == 1 ? "" : "s");
		for (size_t i = 0; i < r->ntail; i++)
			fprintf(f, "  | %s\n", r->tail[i]);
	}
	if (tail > 0 && r->nscreen_tail > 0 && (r->ntail == 0 || r->matched_screen)) {
		/* Nothing from the guest, or the verdict came from the BIOS
		 * screen: show what the screen said last. */
		fprintf(f, "boot-test: BIOS screen, last %zu line%s:\n", r->nscreen_tail,
			r->nscreen_tail == 1 ? "" : "s");
		for (size_t i = 0; i < r->nscreen_tail; i++)
			fprintf(f, "  # %s\n", r->screen_tail[i]);
	}
	if (r->reason == RH_BT_R_QEMU_ERROR && r->qemu_stderr[0] != '\0') {
		fprintf(f, "boot-test: QEMU said:\n");
		for (const char *p = r->qemu_stderr; *p;) {
			size_t l = strcspn(p, "\n");

			fprintf(f, "  ! ");
			for (size_t i = 0; i < l; i++)
				fputc((unsigned char)p[i] >= 0x20 && (unsigned char)p[i] < 0x7f ? p[i] : '?', f);
			fputc('\n', f);
			p += l;
			if (*p == '\n')
				p++;
		}
	}
	fprintf(f, "boot-test: FAILED after %.0f s (disk0 on %s, %s, %s): %s\n", r->seconds, bus, fw,
		r->accel, rh_bt_reason_name(r->reason));
	if (r->matched[0] != '\0')
		fprintf(f, "boot-test: %s: %s\n", r->matched_screen ? "screen said" : "console said",
			r->matched);
	if (r->cause[0] != '\0')
		fprintf(f, "boot-test: likely cause: %s\n", r->cause);
	if (r->action[0] != '\0')
		fprintf(f, "boot-test: action: %s\n", r->action);
	if (r->rule != NULL && r->rule->code != NULL)
		fprintf(f, "boot-test: see also: rehost errors %s\n", r->rule->code);
	if (r->hint != NULL && r->hint != r->rule)
		fprintf(f, "boot-test: earlier warning: %s (%s)\n", r->hint_line, r->hint->cause);
}

int cmd_boot_test(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "disk-dir", required_argument, NULL, 'D' },
		{ "disk", required_argument, NULL, 'd' },
		{ "timeout", required_argument, NULL, 't' },
		{ "memory", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "firmware", required_argument, NULL, 'f' },
		{ "bus", required_argument, NULL, 'b' },
		{ "console-log", required_argument, NULL, 'l' },
		{ "tail", required_argument, NULL, 'T' },
		{ "json", no_argument, NULL, 'j' },
		{ "qemu", required_argument, NULL, 'q' },
		{ "ovmf-code", required_argument, NULL, 'C' },
		{ "ovmf-vars", required_argument, NULL, 'V' },
		{ "accel", required_argument, NULL, 'a' },
		{ "probe-kernel", required_argument, NULL, 'K' },
		{ NULL, 0, NULL, 0 },
	};
	struct rh_bt_opts o = {
		.firmware = RH_BT_BIOS,
		.bus = RH_BT_VIRTIO,
		.memory_mib = DEFAULT_MEMORY,
		.cpus = 1,
		.timeout_s = DEFAULT_TIMEOUT,
		.tail_lines = DEFAULT_TAIL,
		.progress_s = PROGRESS_S,
		.progress = on_progress,
		.stop = &cli_stop,
	};
	struct rh_bt_disk *disks = NULL;
	struct rh_bt_result *res = NULL;
	const char *disk_dir = NULL;
	const char *files[RH_BT_MAX_DISKS];
	size_t nfiles = 0, ndisks = 0;
	bool json = false;
	int64_t v;
	int c, rc, ret = EXIT_FAIL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'D': disk_dir = optarg; break;
		case 'd':
			if (nfiles == RH_BT_MAX_DISKS)
				return cli_usage_error("boot-test", "--disk %s: at most %u disks",
						       optarg, RH_BT_MAX_DISKS);
			files[nfiles++] = optarg;
			break;
		case 't':
			if (rh_parse_i64(optarg, 1, 86400, &v) < 0)
				return cli_usage_error("boot-test", "--timeout %s: allowed 1 to 86400 (seconds)", optarg);
			o.timeout_s = (unsigned)v;
			break;
		case 'm':
			if (rh_parse_i64(optarg, 64, 1048576, &v) < 0)
				return cli_usage_error("boot-test", "--memory %s: allowed 64 to 1048576 (MiB)", optarg);
			o.memory_mib = (unsigned)v;
			break;
		case 'c':
			if (rh_parse_i64(optarg, 1, 64, &v) < 0)
				return cli_usage_error("boot-test", "--cpus %s: allowed 1 to 64", optarg);
			o.cpus = (unsigned)v;
			break;
		case 'f':
			if (rh_bt_firmware_parse(optarg, &o.firmware) < 0)
				return cli_usage_error("boot-test", "--firmware %s: allowed bios, uefi", optarg);
			break;
		case 'b':
			if (rh_bt_bus_parse(optarg, &o.bus) < 0)
				return cli_usage_error("boot-test", "--bus %s: allowed virtio, ide, sata, scsi", optarg);
			break;
		case 'l': o.console_log = optarg; break;
		case 'T':
			if (rh_parse_i64(optarg, 0, RH_BT_MAX_TAIL, &v) < 0)
				return cli_usage_error("boot-test", "--tail %s: allowed 0 to %u (lines)", optarg, RH_BT_MAX_TAIL);
			o.tail_lines = (unsigned)v;
			break;
		case 'j': json = true; break;
		case 'q': o.qemu = optarg; break;
		case 'C': o.ovmf_code = optarg; break;
		case 'V': o.ovmf_vars = optarg; break;
		case 'a':
			if (rh_accel_parse(optarg, &o.accel) < 0)
				return cli_usage_error("boot-test", "--accel %s: allowed auto, kvm, tcg", optarg);
			break;
		case 'K': o.probe_kernel = optarg; break;
		default: return cli_usage_error("boot-test", "bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error("boot-test", "unexpected argument '%s'", argv[optind]);
	if ((disk_dir == NULL) == (nfiles == 0))
		return cli_usage_error("boot-test", "name the disks with either --disk-dir DIR or --disk FILE...");
	if ((o.ovmf_code != NULL || o.ovmf_vars != NULL) && o.firmware != RH_BT_UEFI)
		return cli_usage_error("boot-test", "--ovmf-code/--ovmf-vars need --firmware uefi");
	if ((o.ovmf_code == NULL) != (o.ovmf_vars == NULL))
		return cli_usage_error("boot-test", "--ovmf-code and --ovmf-vars go together");

	if (disk_dir != NULL) {
		rc = rh_bt_disks_from_dir(disk_dir, &disks, &ndisks);
		if (rc < 0) {
			/* A missing directory or an empty one is a command-line
			 * mistake; a broken image in it is a failure. */
			fprintf(stderr, "rehost boot-test: --disk-dir %s: %s\n", disk_dir, rh_lasterr());
			return rc == RH_ERR_NOTFOUND || rc == RH_ERR_INVAL ? EXIT_USAGE : EXIT_FAIL;
		}
	} else {
		disks = calloc(nfiles, sizeof *disks);
		if (disks == NULL) {
			fprintf(stderr, "rehost: out of memory\n");
			return EXIT_FAIL;
		}
		for (; ndisks < nfiles; ndisks++) {
			if ((rc = rh_bt_disk_probe(files[ndisks], &disks[ndisks])) < 0) {
				fprintf(stderr, "rehost boot-test: --disk %s: %s\n", files[ndisks],
					rh_lasterr());
				ret = rc == RH_ERR_NOTFOUND ? EXIT_USAGE : EXIT_FAIL;
				goto out;
			}
		}
	}
	if (ndisks > rh_bt_bus_max_disks(o.bus)) {
		ret = cli_usage_error("boot-test", "%zu disks: the %s bus takes 1 to %u disks",
				      ndisks, rh_bt_bus_name(o.bus), rh_bt_bus_max_disks(o.bus));
		goto out;
	}
	o.disks = disks;
	o.ndisks = ndisks;
	for (size_t i = 0; i < ndisks; i++)
		rh_log_info("disk%zu: %s (%s)%s", i, disks[i].path,
			    rh_img_format_name(disks[i].format), i == 0 ? ", boots" : "");

	cli_signals_init(CLI_SIG_STOP | CLI_SIG_HUP, -1);
	rc = rh_bt_run(&o, &res);
	if (rc < 0) {
		cli_report(rc, "boot-test");
		goto out;
	}
	if (json) {
		json_t *j = result_json(res, &o);

		if (j == NULL || rh_json_dump_fd(STDOUT_FILENO, j, 1) < 0)
			fprintf(stderr, "rehost boot-test: cannot write the JSON result\n");
		json_decref(j);
		print_result(stderr, res, &o, 0);
	} else {
		print_result(stdout, res, &o, o.tail_lines);
	}
	ret = res->passed ? EXIT_OK : EXIT_FAIL;
out:
	rh_bt_result_free(res);
	rh_bt_disks_free(disks, ndisks);
	return ret;
}
