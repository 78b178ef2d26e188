/*
 * The KVM probe (include/rehost/accel.h): boot a real Linux kernel under
 * KVM, with the CPU model the real run would use, and wait for "Linux
 * version" on its serial console. That line comes from the kernel, so
 * firmware running is not mistaken for a working KVM. No initrd: the
 * kernel's first line is all that is needed, and QEMU is stopped as soon
 * as it arrives.
 */
#define RH_LOG_COMPONENT "accel"
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rehost/accel.h"
#include "rehost/err.h"
#include "rehost/log.h"
#include "rehost/proc.h"

/* Enough for a distribution kernel to decompress and print its banner. */
#define PROBE_MEMORY "256"

int rh_accel_find_kernel(const char *configured, const char *boot_dir, char *path, size_t len)
{
	struct utsname u;
	char best[512] = "";
	DIR *d;
	struct dirent *e;

	if (configured != NULL && configured[0] != '\0') {
		if (access(configured, R_OK) < 0)
			return rh_seterr(RH_ERR_NOTFOUND, "probe kernel %s: %s", configured,
					 strerror(errno));
		snprintf(path, len, "%s", configured);
		return 0;
	}
	if (uname(&u) == 0 &&
	    (size_t)snprintf(path, len, "%s/vmlinuz-%s", boot_dir, u.release) < len &&
	    access(path, R_OK) == 0)
		return 0;
	/* Another installed kernel boots just as well: the probe tests
	 * QEMU and KVM, not the kernel. */
	d = opendir(boot_dir);
	while (d != NULL && (e = readdir(d)) != NULL) {
		char p[4096];

		if (strncmp(e->d_name, "vmlinuz-", 8) != 0 || strlen(e->d_name) >= sizeof best)
			continue;
		if ((size_t)snprintf(p, sizeof p, "%s/%s", boot_dir, e->d_name) >= sizeof p ||
		    access(p, R_OK) < 0)
			continue;
		if (best[0] == '\0' || strverscmp(e->d_name, best) > 0)
			snprintf(best, sizeof best, "%s", e->d_name);
	}
	if (d != NULL)
		closedir(d);
	if (best[0] != '\0' &&
	    (size_t)snprintf(path, len, "%s/%s", boot_dir, best) < len)
		return 0;
	path[0] = '\0';
	return rh_seterr(RH_ERR_NOTFOUND, "no readable %s/vmlinuz-%s nor other %s/vmlinuz-*",
			 boot_dir, uname(&u) == 0 ? u.release : "RELEASE", boot_dir);
}

struct probe {
	bool banner;          /* "Linux version" seen */
	char first[160];      /* first line that is not a warning, cleaned */
	char first_warn[160]; /* first warning line, if nothing else came */
};

/* Copy a line as one printable line without QEMU's "qemu-system-x86_64: "
 * prefix (the binary is named elsewhere). */
static void clean_line(const char *line, char *out, size_t len)
{
	const char *colon = strstr(line, ": ");
	size_t o = 0;

	if (strncmp(line, "qemu-system", 11) == 0 && colon != NULL)
		line = colon + 2;
	if (strncmp(line, "error: ", 7) == 0)
		line += 7;
	for (; *line != '\0' && o + 1 < len; line++)
		if (*line != '\r')
			out[o++] = *line >= 0x20 && *line < 0x7f ? *line : '?';
	out[o] = '\0';
}

static int on_line(const char *line, void *arg)
{
	struct probe *p = arg;

	if (strstr(line, "Linux version") != NULL) {
		p->banner = true;
		/* Stop QEMU: the answer is in. */
		return RH_ERR_INTR;
	}
	if (strspn(line, " \r\t") == strlen(line))
		return 0;
	if (strstr(line, "warning:") != NULL) {
		if (p->first_warn[0] == '\0')
			clean_line(line, p->first_warn, sizeof p->first_warn);
	} else if (p->first[0] == '\0') {
		clean_line(line, p->first, sizeof p->first);
	}
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum rh_accel_verdict rh_accel_probe(const char *qemu, const char *kernel, unsigned timeout_s,
				     char *reason, size_t len)
{
	struct probe p = { .banner = false };
	const char *argv[] = {
		qemu != NULL ? qemu : "qemu-system-x86_64",
		"-nodefaults", "-no-user-config", "-machine", "pc",
		"-accel", "kvm", "-cpu", rh_accel_cpu(RH_ACCEL_KVM),
		"-m", PROBE_MEMORY, "-smp", "1", "-display", "none", "-no-reboot",
		"-kernel", kernel,
		/* panic=-1 with -no-reboot: the kernel's panic (no root
		 * file system) ends QEMU should it get that far. */
		"-append", "console=ttyS0 panic=-1",
		"-chardev", "stdio,id=ser0,signal=off", "-serial", "chardev:ser0",
		NULL,
	};
	int status = -1;
	struct rh_run_opts o = {
		.timeout_ms = timeout_s * 1000u,
		.line_fn = on_line,
		.line_arg = &p,
		.quiet = true,
		.status = &status,
	};
	const char *said;
	double t0 = now_s();
	int rc;

	rh_log_debug("probing KVM: %s -accel kvm -cpu %s -kernel %s, %u s deadline", argv[0],
		     rh_accel_cpu(RH_ACCEL_KVM), kernel, timeout_s);
	rc = rh_run(argv, &o, NULL, 0);
	if (p.banner) {
		snprintf(reason, len, "a Linux kernel printed its banner under KVM (-cpu %s) after "
			 "%.1f s", rh_accel_cpu(RH_ACCEL_KVM), now_s() - t0);
		return RH_ACCEL_WORKS;
	}
	said = p.first[0] ? p.first : p.first_warn;
	if (rc == RH_ERR_TIMEOUT) {
		snprintf(reason, len, "KVM unusable: qemu printed no 'Linux version' within %u s%s%s",
			 timeout_s, said[0] ? "; it said: " : " (silent: hangs)", said);
		return RH_ACCEL_BROKEN;
	}
	if (status == -1) {
		snprintf(reason, len, "could not run the KVM probe: %s", rh_lasterr());
		return RH_ACCEL_NO_RUN;
	}
	if ((WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT) ||
	    (WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGABRT))
		snprintf(reason, len, "KVM unusable: qemu aborted: %s", said[0] ? said : "no message");
	else if (WIFSIGNALED(status))
		snprintf(reason, len, "KVM unusable: qemu was killed by signal %d: %s",
			 WTERMSIG(status), said[0] ? said : "no message");
	else
		snprintf(reason, len, "KVM unusable: qemu exited with status %d before the kernel "
			 "printed 'Linux version': %s", WEXITSTATUS(status),
			 said[0] ? said : "no message");
	return RH_ACCEL_BROKEN;
}
