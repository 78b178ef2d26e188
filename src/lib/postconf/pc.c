/*
 * A postconf run: opening the target root, telling the distribution family
 * from its release files, recording changes and writing the report.
 */
#define RH_LOG_COMPONENT "postconf"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "inspect/internal.h" /* osrel_get: the same os-release parser as inspect */
#include "postconf/internal.h"
#include "rehost/checked.h"
#include "rehost/err.h"
#include "rehost/json.h"
#include "rehost/log.h"

const char *rh_pc_family_name(enum rh_pc_family f)
{
	switch (f) {
	case RH_PC_DEBIAN:
		return "debian";
	case RH_PC_RHEL:
		return "rhel";
	case RH_PC_SUSE:
		return "suse";
	case RH_PC_UNKNOWN:
		break;
	}
	return "unknown";
}

/* os-release IDs (and ID_LIKE words) by family. "kylin" is absent on
 * purpose: Kylin server is RHEL-like and Kylin desktop Debian-like, so the
 * files present decide (the fallbacks below). */
static const char *const debian_ids[] = { "debian", "ubuntu", "linuxmint", "raspbian", "kali",
					  "devuan", "deepin", "uos", "pop", "elementary", NULL };
static const char *const rhel_ids[] = { "rhel", "centos", "fedora", "rocky", "almalinux", "ol",
					"scientific", "amzn", "alinux", "anolis", "euleros",
					"openeuler", "hce", "tencentos", "opencloudos", "cloudlinux",
					"virtuozzo", "circle", "eurolinux", "bclinux", "ctyunos",
					NULL };
static const char *const suse_ids[] = { "sles", "sled", "opensuse", "opensuse-leap",
					"opensuse-tumbleweed", "suse", "sle-micro", NULL };

static enum rh_pc_family family_of_word(const char *w, size_t n)
{
	if (pc_in_list(w, n, debian_ids))
		return RH_PC_DEBIAN;
	if (pc_in_list(w, n, rhel_ids))
		return RH_PC_RHEL;
	if (pc_in_list(w, n, suse_ids))
		return RH_PC_SUSE;
	return RH_PC_UNKNOWN;
}

/* First word of a space-separated list that names a family. */
static enum rh_pc_family family_of_list(const char *s)
{
	while (*s) {
		size_t n;
		enum rh_pc_family f;

		s += strspn(s, " \t");
		n = strcspn(s, " \t");
		if (n == 0)
			break;
		f = family_of_word(s, n);
		if (f != RH_PC_UNKNOWN)
			return f;
		s += n;
	}
	return RH_PC_UNKNOWN;
}

/* First line of a small file, trimmed; NULL if absent or empty. */
static char *first_line(struct rh_pc *pc, const char *path)
{
	char *buf = NULL, *res = NULL;
	size_t n;

	if (pc_read(pc, path, 65536, &buf, NULL, NULL, NULL) < 0)
		return NULL;
	n = strcspn(buf, "\r\n");
	while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	if (n > 0)
		res = strndup(buf + strspn(buf, " \t"), n - strspn(buf, " \t"));
	free(buf);
	return res;
}

static int detect(struct rh_pc *pc)
{
	static const char *const osrel[] = { "/etc/os-release", "/usr/lib/os-release" };
	char *text = NULL, id[256] = "", like[1024] = "", pretty[1024] = "", *line;

	for (size_t i = 0; i < 2 && text == NULL; i++) {
		int rc = pc_read(pc, osrel[i], 65536, &text, NULL, NULL, NULL);

		if (rc < 0 && rc != RH_ERR_NOTFOUND)
			rh_log_warn("%s: %s", osrel[i], rh_lasterr());
	}
	if (text != NULL) {
		(void)osrel_get(text, "ID", id, sizeof id);
		(void)osrel_get(text, "ID_LIKE", like, sizeof like);
		if (osrel_get(text, "PRETTY_NAME", pretty, sizeof pretty) != 0 || !pretty[0]) {
			char name[256] = "", ver[256] = "";

			(void)osrel_get(text, "NAME", name, sizeof name);
			(void)osrel_get(text, "VERSION", ver, sizeof ver);
			snprintf(pretty, sizeof pretty, "%s%s%s", name, *ver ? " " : "", ver);
		}
		free(text);
		for (char *p = id; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		pc->family = family_of_word(id, strlen(id));
		if (pc->family == RH_PC_UNKNOWN)
			pc->family = family_of_list(like);
		if (pretty[0]) {
			pc->os_pretty = strdup(pretty);
			if (pc->os_pretty == NULL)
				return RH_ERR_NOMEM;
		}
	}
	/* Older systems have no os-release; Kylin and unknown IDs fall
	 * through to the files only one family has. */
	if (pc->family == RH_PC_UNKNOWN || pc->os_pretty == NULL) {
		static const struct {
			const char *path;
			enum rh_pc_family family;
		} rel[] = {
			{ "/etc/redhat-release", RH_PC_RHEL },
			{ "/etc/SuSE-release", RH_PC_SUSE },
			{ "/etc/SUSE-brand", RH_PC_SUSE },
			{ "/etc/debian_version", RH_PC_DEBIAN },
		};

		for (size_t i = 0; i < RH_ARRAY_SIZE(rel); i++) {
			line = first_line(pc, rel[i].path);
			if (line == NULL)
				continue;
			if (pc->family == RH_PC_UNKNOWN)
				pc->family = rel[i].family;
			if (pc->os_pretty == NULL && rel[i].family == pc->family) {
				if (rel[i].family == RH_PC_DEBIAN) {
					char *s = NULL;

					if (asprintf(&s, "Debian %s", line) < 0)
						s = NULL;
					free(line);
					line = s;
				}
				pc->os_pretty = line;
				line = NULL;
			}
			free(line);
			if (pc->os_pretty)
				break;
		}
	}
	if (pc->os_pretty == NULL)
		pc->os_pretty = strdup(id[0] ? id : "unknown");
	return pc->os_pretty ? 0 : RH_ERR_NOMEM;
}

int rh_pc_open(struct rh_pc *pc, const char *root, const struct rh_config *cfg, bool dry_run)
{
	struct stat st;
	struct tm tm;
	time_t now = time(NULL);
	int rc;

	memset(pc, 0, sizeof *pc);
	pc->rootfd = -1;
	pc->root = root;
	pc->cfg = cfg;
	pc->dry_run = dry_run;
	if (root == NULL || root[0] == '\0')
		return rh_seterr(RH_ERR_INVAL, "no target root given");
	pc->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pc->rootfd < 0)
		return rh_seterr_errno(errno, "target root %s", root);
	if (fstat(pc->rootfd, &st) != 0)
		return rh_seterr_errno(errno, "target root %s", root);
	{
		struct stat hs;

		/* Editing the running system's own files is never wanted. */
		if (stat("/", &hs) == 0 && hs.st_dev == st.st_dev && hs.st_ino == st.st_ino)
			return rh_seterr(RH_ERR_INVAL,
					 "target root %s is this host's own root; mount the "
					 "migrated system elsewhere and name that directory",
					 root);
	}
	gmtime_r(&now, &tm);
	strftime(pc->stamp, sizeof pc->stamp, "%Y%m%dT%H%M%SZ", &tm);
	if (cfg == NULL) {
		rc = rh_config_new(&pc->own_cfg);
		if (rc < 0)
			return rc;
		pc->cfg = pc->own_cfg;
	}
	pc->changes = json_array();
	pc->backups = json_object();
	pc->gone = json_object();
	if (pc->changes == NULL || pc->backups == NULL || pc->gone == NULL)
		return RH_ERR_NOMEM;
	rc = detect(pc);
	if (rc < 0)
		return rc;
	rh_log_info("target %s: %s (%s family)%s", root, pc->os_pretty,
		    rh_pc_family_name(pc->family), dry_run ? ", dry run" : "");
	return 0;
}

void rh_pc_release(struct rh_pc *pc)
{
	if (pc->rootfd >= 0)
		close(pc->rootfd);
	pc->rootfd = -1;
	free(pc->os_pretty);
	pc->os_pretty = NULL;
	json_decref(pc->changes);
	pc->changes = NULL;
	json_decref(pc->backups);
	pc->backups = NULL;
	json_decref(pc->gone);
	pc->gone = NULL;
	rh_config_free(pc->own_cfg);
	pc->own_cfg = NULL;
}

int rh_pc_record(struct rh_pc *pc, const char *path, const char *action, const char *fmt, ...)
{
	char detail[1024], p[PATH_MAX + 1];
	json_t *backup, *o;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	snprintf(p, sizeof p, "%s%s", path[0] == '/' ? "" : "/", path);
	backup = json_object_get(pc->backups, p);
	o = json_pack("{s:s, s:s, s:O?, s:s}", "path", p, "action", action, "backup",
		      backup, "detail", detail);
	if (o == NULL || json_array_append_new(pc->changes, o) != 0)
		return RH_ERR_NOMEM;
	rh_log_info("%s%s: %s: %s", pc->dry_run ? "(dry run) " : "", p, action, detail);
	return 0;
}

json_t *rh_pc_report(const struct rh_pc *pc)
{
	return json_pack("{s:s, s:s, s:s, s:b, s:s?, s:O}", "root", pc->root, "family",
			 rh_pc_family_name(pc->family), "os", pc->os_pretty, "dry_run",
			 pc->dry_run, "backup_dir", pc->backup_rel[0] ? pc->backup_rel : NULL,
			 "changes", pc->changes);
}

int rh_pc_report_write(struct rh_pc *pc, const char *path)
{
	char tmp[PATH_MAX];
	json_t *j = rh_pc_report(pc);
	int fd, rc;

	if (j == NULL)
		return RH_ERR_NOMEM;
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp) {
		json_decref(j);
		return rh_seterr(RH_ERR_TOOBIG, "report path too long");
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		json_decref(j);
		return rh_seterr_errno(errno, "report %s", tmp);
	}
	rc = rh_json_dump_fd(fd, j, 1);
	json_decref(j);
	if (rc == 0 && fsync(fd) != 0)
		rc = rh_seterr_errno(errno, "fsync %s", tmp);
	close(fd);
	if (rc == 0 && rename(tmp, path) != 0)
		rc = rh_seterr_errno(errno, "rename %s to %s", tmp, path);
	if (rc < 0)
		unlink(tmp);
	return rc;
}
