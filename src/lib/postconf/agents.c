/*
 * Guest agents of the source's platform (INVENTORY §5.4 "cloud-init",
 * "VMware tools", "Google services", "Other-cloud agents"; §G item 78).
 * On the KVM target they either fail (no metadata service, no VMware
 * backdoor) or, worse, act: cloud-init would re-run the source cloud's
 * network and user setup on a "new instance".
 *
 * Services are disabled the way `systemctl disable` and `update-rc.d
 * disable` leave them: the enablement symlinks go (in the .wants and
 * .requires directories under /etc/systemd/system, alias links there, and
 * S/K links in the SysV rc directories); unit files and packages stay, so
 * the operator can enable them again. Masks (links to /dev/null) are kept:
 * they already disable. qemu-guest-agent is never touched: it is the KVM
 * guest agent the target wants.
 */
#define RH_LOG_COMPONENT "postconf"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "postconf/internal.h"
#include "rehost/err.h"
#include "rehost/log.h"

#define UNIT_DIR "/etc/systemd/system"

/* VMware tools, open-vm-tools and their helpers. */
static const char *const vmware_units[] = { "vmtoolsd", "open-vm-tools", "vmware-tools",
					    "vmware-tools-thinprint", "vgauth", "vgauthd",
					    "vmware-vmblock-fuse", NULL };
/* Other clouds' agents, [linux] disable_platform_service. */
static const char *const cloud_units[] = {
	"walinuxagent", "waagent",                            /* Azure */
	"amazon-ssm-agent", "snap.amazon-ssm-agent.amazon-ssm-agent",
	"amazon-cloudwatch-agent",                            /* AWS */
	"aegis", "aliyun", "cloudmonitor", "agentwatch",      /* Alibaba Cloud */
	"hostguard",                                          /* Huawei Cloud HSS */
	"tat_agent", "YDService",                             /* Tencent Cloud */
	"oracle-cloud-agent", "oracle-cloud-agent-updater",   /* OCI */
	NULL,
};

struct matcher {
	const char *const *units;  /* base names; NULL: prefix */
	const char *prefix;        /* "google" */
	const char *why;
};

/* name is "<unit>.service" (or .timer/.socket/.path) for a listed unit,
 * or starts with the prefix. */
static bool unit_matches(const struct matcher *m, const char *name)
{
	static const char *const kinds[] = { ".service", ".timer", ".socket", ".path", NULL };

	if (m->prefix)
		return strncmp(name, m->prefix, strlen(m->prefix)) == 0;
	for (const char *const *u = m->units; *u; u++) {
		size_t l = strlen(*u);

		if (strncmp(name, *u, l) == 0 && pc_in_list(name + l, strlen(name + l), kinds))
			return true;
	}
	return false;
}

/* Remove the enabling symlink at path unless it is a mask. */
static int drop_link(struct rh_pc *pc, const char *path, const char *why)
{
	char target[PATH_MAX];
	struct stat st;
	bool exists;
	int rc = pc_stat(pc, path, false, &st, NULL);

	if (rc == RH_ERR_NOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	if (!S_ISLNK(st.st_mode))
		return 0;
	rc = pc_resolve(pc, path, true, target, &exists);
	if (rc == 0 && strcmp(target, "/dev/null") == 0)
		return 0;
	return pc_remove(pc, path, "%s", why);
}

static bool is_dep_dir(const char *name)
{
	size_t n = strlen(name);

	return (n > 6 && strcmp(name + n - 6, ".wants") == 0) ||
	       (n > 9 && strcmp(name + n - 9, ".requires") == 0);
}

static int disable_systemd(struct rh_pc *pc, const struct matcher *m)
{
	char **top = NULL, path[PATH_MAX];
	size_t ntop;
	int rc;

	rc = pc_list(pc, UNIT_DIR, &top, &ntop);
	if (rc == RH_ERR_NOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < ntop && rc >= 0; i++) {
		char **sub = NULL;
		size_t nsub;

		snprintf(path, sizeof path, "%s/%s", UNIT_DIR, top[i]);
		if (unit_matches(m, top[i])) {
			rc = drop_link(pc, path, m->why);
			continue;
		}
		if (!is_dep_dir(top[i]))
			continue;
		rc = pc_list(pc, path, &sub, &nsub);
		if (rc == RH_ERR_NOTFOUND) {
			rc = 0;
			continue;
		}
		for (size_t j = 0; j < nsub && rc >= 0; j++) {
			if (!unit_matches(m, sub[j]))
				continue;
			snprintf(path, sizeof path, "%s/%s/%s", UNIT_DIR, top[i], sub[j]);
			rc = drop_link(pc, path, m->why);
		}
		pc_names_free(sub);
	}
	pc_names_free(top);
	return rc < 0 ? rc : 0;
}

/* S<NN>name and K<NN>name links in the SysV runlevel directories of both
 * layouts (/etc/rc.d/rcN.d on RHEL and SUSE, /etc/rcN.d on Debian). */
static int disable_sysv(struct rh_pc *pc, const char *name, const char *why)
{
	static const char *const layouts[] = { "/etc/rc.d/rc", "/etc/rc" };
	char dir[64], path[PATH_MAX];
	int rc = 0;

	for (size_t l = 0; l < 2 && rc >= 0; l++) {
		for (int lvl = 0; lvl <= 6 && rc >= 0; lvl++) {
			char **names = NULL;
			size_t n;

			snprintf(dir, sizeof dir, "%s%d.d", layouts[l], lvl);
			rc = pc_list(pc, dir, &names, &n);
			if (rc == RH_ERR_NOTFOUND) {
				rc = 0;
				continue;
			}
			for (size_t i = 0; i < n && rc >= 0; i++) {
				const char *p = names[i];

				if ((p[0] != 'S' && p[0] != 'K') || p[1] < '0' || p[1] > '9' ||
				    p[2] < '0' || p[2] > '9' || strcmp(p + 3, name) != 0)
					continue;
				snprintf(path, sizeof path, "%s/%s", dir, names[i]);
				rc = drop_link(pc, path, why);
			}
			pc_names_free(names);
		}
	}
	return rc < 0 ? rc : 0;
}

static int cloud_init(struct rh_pc *pc)
{
	struct stat st;
	int rc;

	if (pc_stat(pc, "/etc/cloud", true, &st, NULL) != 0 || !S_ISDIR(st.st_mode))
		return 0;
	rc = pc_remove(pc, "/etc/cloud/cloud.cfg",
		       "cloud-init disabled: its configuration is for the source's cloud");
	if (rc >= 0)
		rc = pc_touch(pc, "/etc/cloud/cloud-init.disabled", 0644,
			      "cloud-init disabled (the systemd generator skips it)");
	return rc < 0 ? rc : 0;
}

static int vmware(struct rh_pc *pc)
{
	static const char *const seed_paths[] = { "/etc/rc.d/rc5.d/vmware-tools",
						  "/etc/rc.d/rc3.d/vmware-tools",
						  "/etc/init.d/vmware-tools" };
	static const struct matcher m = { vmware_units, NULL,
					  "VMware tools disabled: the target is not on VMware" };
	int rc = 0;

	for (size_t i = 0; i < 3 && rc >= 0; i++)
		rc = pc_remove(pc, seed_paths[i], "VMware tools removed: the target is not on VMware");
	if (rc >= 0)
		rc = disable_sysv(pc, "vmware-tools", m.why);
	if (rc >= 0)
		rc = disable_systemd(pc, &m);
	return rc < 0 ? rc : 0;
}

static int google(struct rh_pc *pc)
{
	static const struct matcher m = { NULL, "google",
					  "Google guest service disabled (unit file kept)" };
	char **names = NULL, path[PATH_MAX];
	size_t n;
	int rc = disable_systemd(pc, &m);

	if (rc < 0)
		return rc;
	/* Upstart jobs cannot be disabled by a link: move them aside. */
	rc = pc_list(pc, "/etc/init", &names, &n);
	if (rc == RH_ERR_NOTFOUND)
		return 0;
	for (size_t i = 0; i < n && rc >= 0; i++) {
		if (strncmp(names[i], "google", 6) != 0)
			continue;
		snprintf(path, sizeof path, "/etc/init/%s", names[i]);
		rc = pc_move_into(pc, path, "/etc/backup_googleconf");
	}
	pc_names_free(names);
	return rc < 0 ? rc : 0;
}

static int other_clouds(struct rh_pc *pc)
{
	static const struct matcher m = { cloud_units, NULL,
					  "source cloud's guest agent disabled "
					  "([linux] disable_platform_service)" };
	int rc = disable_systemd(pc, &m);

	for (const char *const *u = cloud_units; *u && rc >= 0; u++)
		rc = disable_sysv(pc, *u, m.why);
	return rc < 0 ? rc : 0;
}

int rh_pc_disable_agents(struct rh_pc *pc)
{
	int rc = cloud_init(pc);

	if (rc == 0)
		rc = vmware(pc);
	if (rc == 0)
		rc = google(pc);
	if (rc == 0 && pc_cfg_bool(pc, "disable_platform_service"))
		rc = other_clouds(pc);
	return rc;
}
