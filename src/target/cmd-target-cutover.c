/*
 * rehost target cutover: the target side of "start target" (INVENTORY
 * §2.9, §2.10): sync snapshot, configuration modification (postconf),
 * cutover snapshot.
 *
 * The disks are marked "configured" once postconf succeeds. A configured
 * target no longer matches the source block for block, so before the next
 * replication job (rehost target) or cutover the sync snapshot is put back
 * first (target_unconfigure) - which is what the seed's sync snapshot is for.
 */
#define RH_LOG_COMPONENT "target"
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "rehost/config.h"
#include "rehost/err.h"
#include "rehost/log.h"
#include "rehost/postconf.h"
#include "rehost/proc.h"
#include "rehost/repl.h"
#include "rehost/snap.h"
#include "target/target.h"

static void marker_path(const struct rh_snap_target *t, char *out, size_t n)
{
	snprintf(out, n, "%s/.rehost-configured", t->disk_dir ? t->disk_dir : t->state_dir);
}

bool target_is_configured(const struct rh_snap_target *t)
{
	char p[4096];

	marker_path(t, p, sizeof p);
	return access(p, F_OK) == 0;
}

int target_unconfigure(const struct rh_snap_target *t)
{
	char p[4096];
	int rc;

	if (!target_is_configured(t))
		return 0;
	rh_log_info("the disks were configured at cutover: putting the sync snapshot back so they "
		    "match the source again");
	rc = rh_snap_rollback(t, "sync", NULL);
	if (rc < 0)
		return rh_seterr(rc, "cannot undo the cutover configuration (rollback to the sync "
				 "snapshot): %s", rh_lasterr());
	marker_path(t, p, sizeof p);
	if (unlink(p) < 0 && errno != ENOENT)
		return rh_seterr_errno(errno, "cannot remove %s", p);
	return 0;
}

static int mark_configured(const struct rh_snap_target *t)
{
	char p[4096], stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	FILE *f;

	marker_path(t, p, sizeof p);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
	f = fopen(p, "w");
	if (f == NULL)
		return rh_seterr_errno(errno, "cannot write %s", p);
	fprintf(f, "configured by rehost target cutover at %s\n", stamp);
	if (fflush(f) != 0 || fsync(fileno(f)) < 0) {
		fclose(f);
		return rh_seterr_errno(errno, "cannot write %s", p);
	}
	fclose(f);
	return 0;
}

struct postconf_child {
	struct rh_postconf_opts *po;
	const char *report_path;
	bool json;
};

/* postconf in a child process (single-threaded here, so a whole
 * program may run after fork). Returns its exit status. */
static int postconf_child(void *arg)
{
	const struct postconf_child *c = arg;
	json_t *rep = NULL;
	int rc = rh_postconf_run(c->po, &rep);

	if (rep != NULL && c->report_path != NULL)
		json_dump_file(rep, c->report_path, JSON_INDENT(2));
	if (rep != NULL && c->json) {
		json_dumpf(rep, stdout, JSON_INDENT(2));
		putchar('\n');
	}
	if (rc < 0)
		cli_report(rc, "postconf");
	fflush(NULL);
	return rc < 0 ? EXIT_FAIL : EXIT_OK;
}

void usage_target_cutover(FILE *out)
{
	fprintf(out,
		"usage: rehost target cutover (--disk-dir DIR | --disk DEV... --state-dir DIR)\n"
		"                             [--root DEV] [--firmware bios|uefi] [-c FILE]\n"
		"                             [--report FILE] [--json]\n"
		"\n"
		"Cut over a target whose data is in sync (run after the final rehost sync):\n"
		"  1. snapshot 'sync' of the disks as the source left them (kept for the next sync);\n"
		"  2. rehost postconf: fstab, network, agents, initramfs with virtio, GRUB;\n"
		"  3. snapshot 'cutover' of the configured disks (replacing the previous one).\n"
		"If postconf fails, the disks are rolled back to the sync snapshot, so a failed\n"
		"cutover never leaves half-configured disks. Running it again starts from the\n"
		"sync snapshot; so does the next replication job (rehost target) on these disks.\n"
		"Options are as for rehost postconf. Exit status: 0 done, 1 failed, 2 usage.\n");
}

int cmd_target_cutover(int argc, char **argv)
{
	enum { O_DISK_DIR = 1000, O_DISK, O_STATE_DIR, O_ROOT, O_FIRMWARE, O_CONFIG, O_REPORT, O_JSON };
	static const struct option opts[] = {
		{ "disk-dir", required_argument, NULL, O_DISK_DIR }, { "disk", required_argument, NULL, O_DISK },
		{ "state-dir", required_argument, NULL, O_STATE_DIR }, { "root", required_argument, NULL, O_ROOT },
		{ "firmware", required_argument, NULL, O_FIRMWARE }, { "config", required_argument, NULL, O_CONFIG },
		{ "report", required_argument, NULL, O_REPORT },   { "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },                 { NULL, 0, NULL, 0 },
	};
	struct target_disks disks = { 0 };
	struct rh_snap_target t;
	struct rh_postconf_opts po = { 0 };
	const char *config_path = NULL, *report_path = NULL;
	char paths[RH_SNAP_MAX_DISKS][4096];
	const char *pp[RH_SNAP_MAX_DISKS];
	struct rh_config *cfg = NULL;
	bool json = false;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (c) {
		case O_DISK_DIR: disks.disk_dir = optarg; break;
		case O_DISK:
			if ((rc = target_disks_add("target cutover", &disks, optarg)) != 0)
				return rc;
			break;
		case O_STATE_DIR: disks.state_dir = optarg; break;
		case O_ROOT: po.root = optarg; break;
		case O_FIRMWARE:
			if (strcmp(optarg, "bios") != 0 && strcmp(optarg, "uefi") != 0)
				return cli_usage_error("target cutover", "--firmware %s: use bios or uefi", optarg);
			po.firmware = optarg;
			break;
		case 'c': case O_CONFIG: config_path = optarg; break;
		case O_REPORT: report_path = optarg; break;
		case O_JSON: json = true; break;
		case 'h': usage_target_cutover(stdout); return EXIT_OK;
		default: return cli_usage_error("target cutover", "bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error("target cutover", "unexpected argument '%s'", argv[optind]);
	if ((rc = target_disks_finish("target cutover", &disks, &t)) != 0)
		return rc;
	if (geteuid() != 0) {
		fprintf(stderr, "rehost target cutover: must run as root (postconf mounts the target)\n");
		return EXIT_FAIL;
	}
	rc = rh_config_new(&cfg);
	if (rc == 0 && (config_path != NULL || access(DEFAULT_CONFIG, F_OK) == 0))
		rc = rh_config_load_file(cfg, config_path ? config_path : DEFAULT_CONFIG);
	if (rc < 0) {
		cli_report(rc, "config");
		goto fail;
	}
	/* The disk list postconf works on. */
	if (t.disk_dir != NULL) {
		for (po.ndisks = 0; po.ndisks < RH_SNAP_MAX_DISKS; po.ndisks++) {
			snprintf(paths[po.ndisks], sizeof paths[0], "%s/disk%zu.raw", t.disk_dir, po.ndisks);
			if (access(paths[po.ndisks], F_OK) < 0)
				break;
			pp[po.ndisks] = paths[po.ndisks];
		}
	} else {
		for (po.ndisks = 0; po.ndisks < t.ndevices; po.ndisks++)
			pp[po.ndisks] = t.devices[po.ndisks];
	}
	if (po.ndisks == 0) {
		cli_report(rh_seterr(RH_ERR_NOTFOUND, "no target disks in %s", t.disk_dir), "target cutover");
		goto fail;
	}
	po.disks = pp;
	po.cfg = cfg;

	/* 1. Start from the disks as the source left them. */
	if (target_is_configured(&t)) {
		rc = target_unconfigure(&t);
	} else {
		rh_log_info("taking the sync snapshot (the disks as the source left them)");
		rc = rh_snap_create(&t, "sync", NULL);
	}
	if (rc < 0) {
		cli_report(rc, "sync snapshot");
		goto fail;
	}
	/* 2. Configuration modification. postconf mounts in a private namespace
	 * that ends with this process's other work, so run it in a child. */
	fflush(NULL);
	{
		struct postconf_child pc = { .po = &po, .report_path = report_path, .json = json };
		struct rh_proc child = { .fn = postconf_child, .fn_arg = &pc };
		int lockfd = -1;

		/* No replication session may write the disks meanwhile. */
		rc = rh_target_lock(t.disk_dir ? t.disk_dir : t.state_dir, "cutover (postconf)", &lockfd);
		if (rc < 0) {
			cli_report(rc, "target cutover");
			goto fail;
		}
		if ((rc = rh_proc_start(&child)) < 0) {
			rh_target_unlock(lockfd);
			cli_report(rc, NULL);
			goto fail;
		}
		rc = rh_proc_finish(&child);
		rh_target_unlock(lockfd);
		if (rc < 0 || !WIFEXITED(child.status) || WEXITSTATUS(child.status) != 0) {
			rh_log_error("postconf failed: rolling the disks back to the sync snapshot");
			rc = rh_snap_rollback(&t, "sync", NULL);
			if (rc < 0)
				cli_report(rc, "rollback after the failed postconf");
			else
				fprintf(stderr, "rehost target cutover: postconf failed; the disks are back "
					"as the source left them (snapshot 'sync')\n");
			goto fail;
		}
	}
	/* 3. Mark, then snapshot the configured disks. */
	if ((rc = mark_configured(&t)) < 0 || (rc = rh_snap_create(&t, "cutover", NULL)) < 0) {
		cli_report(rc, "cutover snapshot");
		goto fail;
	}
	if (!json)
		printf("cutover: done; snapshots 'sync' (before configuration) and 'cutover' (after) "
		       "kept; the disks are ready to boot on virtio (try: rehost boot-test --disk-dir %s)\n",
		       t.disk_dir ? t.disk_dir : "DIR");
	rh_config_free(cfg);
	return EXIT_OK;
fail:
	rh_config_free(cfg);
	return EXIT_FAIL;
}
