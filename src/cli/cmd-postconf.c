/* rehost postconf: make migrated target disks boot on KVM/virtio. */
#define RH_LOG_COMPONENT "postconf"
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "rehost/config.h"
#include "rehost/err.h"
#include "rehost/log.h"
#include "rehost/postconf.h"
#include "rehost/repl.h"

#define MAX_DISKS 26

void usage_postconf(FILE *out)
{
	fprintf(out,
		"usage: rehost postconf (--disk-dir DIR | --disk FILE...) [options]\n"
		"\n"
		"Make a migrated Linux system boot on KVM/virtio hardware: find its root\n"
		"filesystem on the target disks, mount it with /boot, /boot/efi and the other\n"
		"filesystems its fstab names, and in a chroot of it:\n"
		"  - rewrite /etc/fstab by filesystem UUID (old lines kept as comments);\n"
		"  - switch the network to DHCP and drop MAC-pinned NIC names;\n"
		"  - disable cloud-init, VMware tools and other platforms' agents;\n"
		"  - SELinux relabel at next boot (where enabled); empty /etc/motd;\n"
		"  - rebuild the initramfs with the virtio drivers (update-initramfs, dracut\n"
		"    or mkinitrd) and check virtio_blk is in it;\n"
		"  - regenerate the GRUB configuration and install GRUB (BIOS or UEFI).\n"
		"Every changed file is backed up under /var/backups/rehost-postconf/ in the\n"
		"target; the JSON report of all changes is kept in the target at\n"
		"/var/log/rehost-postconf.json.\n"
		"\n"
		"  --disk-dir DIR       the target disks DIR/disk0.raw, disk1.raw... (as written\n"
		"                       by rehost target --disk-dir)\n"
		"  --disk FILE          a target disk image or block device (repeat, boot disk\n"
		"                       first, in the source's order)\n"
		"  --root DEV           the root filesystem, as the target will name it\n"
		"                       (/dev/vda2, /dev/mapper/vg-root, UUID=...); default: found\n"
		"  --firmware bios|uefi the target's firmware (default: what the disk is set up\n"
		"                       for: UEFI when it has an EFI System Partition)\n"
		"  -c, --config FILE    rehost.conf ([linux] fstab_* keys; default " DEFAULT_CONFIG ")\n"
		"  --report FILE        also write the JSON report to FILE\n"
		"  --json               print the JSON report instead of the summary\n"
		"  --dry-run            report what would change and change nothing\n"
		"\n"
		"Needs root. Mounts happen in a private mount namespace and are gone when\n"
		"rehost exits, whatever happens. Exit status: 0 done, 1 failed, 2 usage.\n");
}

static int disks_from_dir(const char *dir, char **paths, size_t *n)
{
	struct stat st;

	*n = 0;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return rh_seterr_errno(errno ? errno : ENOTDIR, "--disk-dir %s", dir);
	for (unsigned i = 0; i < MAX_DISKS; i++) {
		char p[4096];

		snprintf(p, sizeof p, "%s/disk%u.raw", dir, i);
		if (access(p, F_OK) < 0)
			break;
		paths[(*n)++] = strdup(p);
		if (paths[*n - 1] == NULL)
			return rh_seterr(RH_ERR_NOMEM, "out of memory");
	}
	if (*n == 0)
		return rh_seterr(RH_ERR_NOTFOUND, "%s holds no disk0.raw: is it the --disk-dir of a "
				 "finished rehost target job?", dir);
	return 0;
}

static void print_summary(json_t *rep)
{
	json_t *v;
	size_t i;

	printf("root:      %s (%s)\n", json_string_value(json_object_get(rep, "root_volume")) ?: "-",
	       json_string_value(json_object_get(rep, "os")) ?: "unknown system");
	printf("firmware:  %s\n", json_string_value(json_object_get(rep, "firmware")) ?: "-");
	json_array_foreach(json_object_get(rep, "mounts"), i, v)
		printf("mounted:   %-10s %s (%s)\n", json_string_value(json_object_get(v, "mountpoint")),
		       json_string_value(json_object_get(v, "volume")),
		       json_string_value(json_object_get(v, "type")));
	json_array_foreach(json_object_get(rep, "changes"), i, v)
		printf("change:    %-9s %s%s%s\n", json_string_value(json_object_get(v, "action")) ?: "",
		       json_string_value(json_object_get(v, "path")) ?: "",
		       json_string_value(json_object_get(v, "detail")) ? ": " : "",
		       json_string_value(json_object_get(v, "detail")) ?: "");
	json_array_foreach(json_object_get(rep, "steps"), i, v)
		printf("step:      %-17s %s\n", json_string_value(json_object_get(v, "step")),
		       json_string_value(json_object_get(v, "detail")));
	if (json_string_value(json_object_get(rep, "backup_dir")) != NULL &&
	    json_string_value(json_object_get(rep, "backup_dir"))[0] != '\0')
		printf("backups:   %s (in the target)\n", json_string_value(json_object_get(rep, "backup_dir")));
}

int cmd_postconf(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "disk-dir", required_argument, NULL, 'D' }, { "disk", required_argument, NULL, 'd' },
		{ "root", required_argument, NULL, 'r' },     { "firmware", required_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' },   { "report", required_argument, NULL, 'R' },
		{ "json", no_argument, NULL, 'j' },           { "dry-run", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct rh_postconf_opts po = { 0 };
	const char *dir = NULL, *config_path = NULL, *report_path = NULL;
	char *paths[MAX_DISKS] = { 0 };
	size_t npaths = 0;
	struct rh_config *cfg = NULL;
	json_t *rep = NULL;
	bool json = false;
	int c, rc, lockfd = -1, status = EXIT_FAIL;

	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (c) {
		case 'D': dir = optarg; break;
		case 'd':
			if (npaths >= MAX_DISKS)
				return cli_usage_error("postconf", "at most %d --disk", MAX_DISKS);
			paths[npaths] = strdup(optarg);
			if (paths[npaths++] == NULL)
				return EXIT_FAIL;
			break;
		case 'r': po.root = optarg; break;
		case 'f':
			if (strcmp(optarg, "bios") != 0 && strcmp(optarg, "uefi") != 0)
				return cli_usage_error("postconf", "--firmware %s: use bios or uefi", optarg);
			po.firmware = optarg;
			break;
		case 'c': config_path = optarg; break;
		case 'R': report_path = optarg; break;
		case 'j': json = true; break;
		case 'n': po.dry_run = true; break;
		default: return cli_usage_error("postconf", "bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error("postconf", "unexpected argument '%s'", argv[optind]);
	if ((dir == NULL) == (npaths == 0))
		return cli_usage_error("postconf", "give either --disk-dir or --disk");
	if (geteuid() != 0) {
		fprintf(stderr, "rehost postconf: must run as root (it mounts the target's filesystems)\n");
		goto out;
	}
	if (dir != NULL && (rc = disks_from_dir(dir, paths, &npaths)) < 0) {
		cli_report(rc, NULL);
		goto out;
	}
	rc = rh_config_new(&cfg);
	if (rc == 0 && (config_path != NULL || access(DEFAULT_CONFIG, F_OK) == 0))
		rc = rh_config_load_file(cfg, config_path ? config_path : DEFAULT_CONFIG);
	if (rc < 0) {
		cli_report(rc, "config");
		goto out;
	}
	po.disks = (const char *const *)paths;
	po.ndisks = npaths;
	po.cfg = cfg;
	/* A target directory: no replication session may write it meanwhile. */
	if (dir != NULL && (rc = rh_target_lock(dir, "postconf", &lockfd)) < 0) {
		cli_report(rc, NULL);
		goto out;
	}
	rc = rh_postconf_run(&po, &rep);
	rh_target_unlock(lockfd);
	if (rep != NULL && report_path != NULL && json_dump_file(rep, report_path, JSON_INDENT(2)) < 0)
		rh_log_warn("cannot write the report to %s", report_path);
	if (rep != NULL) {
		if (json) {
			json_dumpf(rep, stdout, JSON_INDENT(2));
			putchar('\n');
		} else {
			print_summary(rep);
		}
	}
	if (rc < 0) {
		cli_report(rc, "postconf");
		goto out;
	}
	if (!json)
		printf("postconf: %s\n", po.dry_run ? "dry run, nothing changed" :
			"done; the target is ready to boot on virtio (try: rehost boot-test)");
	status = EXIT_OK;
out:
	json_decref(rep);
	rh_config_free(cfg);
	for (size_t i = 0; i < npaths; i++)
		free(paths[i]);
	return status;
}
