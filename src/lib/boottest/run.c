/*
 * Run a boot test: start QEMU, watch its serial console (and, with BIOS,
 * the BIOS text screen that SeaBIOS mirrors to a second serial port) until a login prompt, a fatal failure, QEMU's exit or the
 * timeout; then stop QEMU (SIGTERM, SIGKILL after a grace period), reap
 * it, remove the private temp files, and explain the verdict.
 */
#define RH_LOG_COMPONENT "boot-test"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rehost/accel.h"
#include "rehost/boottest.h"
#include "rehost/err.h"
#include "rehost/log.h"
#include "rehost/proc.h"

/* A partial line this long without new bytes is looked at as a line:
 * prompts ("login: ", "grub rescue> ") and SeaBIOS's final "No bootable
 * device." end without a newline. */
#define PARTIAL_IDLE_S 1.0
/* After a fatal line, keep reading while the rest of the message arrives
 * (for the tail, and a more specific rule): until this much quiet... */
#define SETTLE_QUIET_S 1.5
/* ...but no longer than this. */
#define SETTLE_MAX_S 5.0
/* SIGTERM to SIGKILL. QEMU exits at once on SIGTERM; this is for a QEMU
 * stuck in I/O. */
#define STOP_GRACE_S 10.0
#define STDERR_MAX 8192u
#define SCREEN_TAIL 20u

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One console stream: its pipe, its line buffer, when it last spoke. */
struct run;
struct stream {
	struct run *run;
	int fd;                     /* read end, -1 when closed */
	enum rh_bt_source src;
	struct rh_bt_console *con;
	double last_byte;
	uint64_t partial_checked;   /* byte count at which the partial line was checked */
};

struct run {
	const struct rh_bt_opts *o;
	struct rh_bt_watch w;
	struct stream ser, scr;
	int err_fd;
	char err_buf[STDERR_MAX + 1];
	size_t err_len;
	int log_fd;
	bool log_failed;
	struct rh_proc proc;        /* QEMU */
	bool started, reaped;
	int status;                 /* QEMU's raw wait status once reaped */
	bool settle;                /* a fatal line came: reading the rest */
	double t0, verdict_at;
	char tmpdir[4096];
	char vars[4096 + 32];
	char sercon[4096 + 32];
};

static int on_line(const char *line, void *arg)
{
	struct stream *s = arg;

	rh_bt_watch_line(&s->run->w, s->src, line, false);
	return 0;
}

static void log_write(struct run *r, const char *buf, size_t len)
{
	while (r->log_fd >= 0 && len > 0 && !r->log_failed) {
		ssize_t n = write(r->log_fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rh_log_warn("console log: %s; no longer written", strerror(errno));
			r->log_failed = true;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

/* Read what a stream has. Returns 1 when data came, 0 when none, -1 at
 * EOF (the stream is closed). */
static int pump(struct run *r, struct stream *s)
{
	char buf[4096];
	ssize_t n;

	if (s->fd < 0)
		return 0;
	n = read(s->fd, buf, sizeof buf);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : (close(s->fd), s->fd = -1, -1);
	if (n == 0) {
		close(s->fd);
		s->fd = -1;
		return -1;
	}
	if (s->src == RH_BT_SERIAL)
		log_write(r, buf, (size_t)n);
	rh_bt_console_feed(s->con, buf, (size_t)n, on_line, s);
	s->last_byte = now_s();
	return 1;
}

static void pump_stderr(struct run *r)
{
	char buf[1024];
	ssize_t n;

	if (r->err_fd < 0)
		return;
	n = read(r->err_fd, buf, sizeof buf);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		close(r->err_fd);
		r->err_fd = -1;
		return;
	}
	/* Keep the beginning: QEMU's first error is the one that matters. */
	if (r->err_len < STDERR_MAX) {
		size_t k = (size_t)n < STDERR_MAX - r->err_len ? (size_t)n : STDERR_MAX - r->err_len;

		memcpy(r->err_buf + r->err_len, buf, k);
		r->err_len += k;
		r->err_buf[r->err_len] = '\0';
	}
}

/* Look at an idle partial line once. */
static void check_partial(struct run *r, struct stream *s, double t)
{
	const char *p = rh_bt_console_partial(s->con);
	uint64_t b = rh_bt_console_bytes(s->con);

	if (*p == '\0' || s->partial_checked == b || t - s->last_byte < PARTIAL_IDLE_S)
		return;
	s->partial_checked = b;
	rh_bt_watch_line(&r->w, s->src, p, true);
}

static void reap(struct run *r, bool block)
{
	if (!r->started || r->reaped)
		return;
	/* An error (ECHILD) means there is nothing left to wait for. */
	if (rh_proc_wait(&r->proc, block ? 0 : RH_PROC_NOHANG) != 0) {
		r->reaped = true;
		r->status = r->proc.status;
	}
}

/* Wait for readable pipes up to ms milliseconds, then read them all. */
static void poll_streams(struct run *r, int ms)
{
	struct pollfd pf[3];
	nfds_t n = 0;

	if (r->ser.fd >= 0)
		pf[n++] = (struct pollfd){ .fd = r->ser.fd, .events = POLLIN };
	if (r->scr.fd >= 0)
		pf[n++] = (struct pollfd){ .fd = r->scr.fd, .events = POLLIN };
	if (r->err_fd >= 0)
		pf[n++] = (struct pollfd){ .fd = r->err_fd, .events = POLLIN };
	if (n == 0) {
		/* All pipes closed: QEMU is gone or going; do not spin. */
		usleep((useconds_t)ms * 1000);
		return;
	}
	if (poll(pf, n, ms) <= 0)
		return;
	/* Read a bounded amount per round so one chatty stream cannot
	 * starve the clock checks. */
	for (int i = 0; i < 16; i++) {
		int got = 0;

		got += pump(r, &r->ser) > 0;
		got += pump(r, &r->scr) > 0;
		pump_stderr(r);
		if (got == 0)
			break;
	}
}

/* Stop QEMU if it still runs: SIGTERM, keep draining its pipes, SIGKILL
 * after the grace period; always reaped afterwards. */
static void stop_qemu(struct run *r)
{
	double dl;

	reap(r, false);
	if (!r->started || r->reaped)
		return;
	rh_proc_kill(&r->proc, SIGTERM);
	dl = now_s() + STOP_GRACE_S;
	while (!r->reaped && now_s() < dl) {
		poll_streams(r, 50);
		reap(r, false);
	}
	if (!r->reaped) {
		rh_log_warn("QEMU (pid %d) ignored SIGTERM for %.0f s; killing it", (int)r->proc.pid,
			    STOP_GRACE_S);
		rh_proc_kill(&r->proc, SIGKILL);
		reap(r, true);
	}
}

static int write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600), rc = 0;

	if (fd < 0)
		return rh_seterr_errno(errno, "%s", path);
	if (write(fd, buf, len) != (ssize_t)len)
		rc = rh_seterr_errno(errno ? errno : EIO, "write %s", path);
	if (close(fd) < 0 && rc == 0)
		rc = rh_seterr_errno(errno, "close %s", path);
	return rc;
}

static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in, out, rc = 0;
	ssize_t n;

	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return rh_seterr_errno(errno, "OVMF variables template %s", from);
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		rc = rh_seterr_errno(errno, "%s", to);
		close(in);
		return rc;
	}
	while ((n = read(in, buf, sizeof buf)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = rh_seterr_errno(errno, "read %s", from);
			break;
		}
		for (ssize_t o = 0; o < n;) {
			ssize_t w = write(out, buf + o, (size_t)(n - o));

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				rc = rh_seterr_errno(errno, "write %s", to);
				goto out;
			}
			o += w;
		}
	}
out:
	if (close(out) < 0 && rc == 0)
		rc = rh_seterr_errno(errno, "close %s", to);
	close(in);
	return rc;
}

/* Whether the QEMU binary can be run: a name is looked up in PATH, so
 * that a missing QEMU is a clear error instead of a failed boot. */
static int find_binary(const char *name)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (strchr(name, '/') != NULL) {
		if (access(name, X_OK) == 0)
			return 0;
		return rh_seterr_errno(errno, "QEMU binary %s", name);
	}
	if (path == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path != '\0') {
		size_t l = strcspn(path, ":");

		if ((size_t)snprintf(buf, sizeof buf, "%.*s/%s", (int)l, path, name) < sizeof buf &&
		    access(buf, X_OK) == 0)
			return 0;
		path += l;
		if (*path == ':')
			path++;
	}
	return rh_seterr(RH_ERR_NOTFOUND,
			 "%s not found in PATH: install QEMU (Debian: qemu-system-x86) or "
			 "name the binary with --qemu", name);
}

/* Copy src (NULL: "") into dst of len bytes, cut to fit. */
static void set_text(char *dst, size_t len, const char *src)
{
	size_t n = src != NULL ? strlen(src) : 0;

	if (n >= len)
		n = len - 1;
	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

/* First line of QEMU's stderr that says something, without the
 * "qemu-system-x86_64: " prefix: an error before any warning (QEMU warns
 * about the fw_cfg name SeaBIOS needs on every run). */
static void qemu_error_line(const char *err, char *out, size_t len)
{
	out[0] = '\0';
	for (int pass = 0; pass < 2 && out[0] == '\0'; pass++) {
		for (const char *p = err; *p != '\0';) {
			size_t l = strcspn(p, "\n");
			const char *q = p;
			size_t ql = l;
			const char *colon = memchr(q, ':', ql);

			if (strncmp(q, "qemu-system", 11) == 0 && colon != NULL) {
				ql -= (size_t)(colon + 1 - q);
				q = colon + 1;
				while (ql > 0 && *q == ' ') {
					q++;
					ql--;
				}
			}
			if (ql > 0 && (pass == 1 || memmem(q, ql, "warning:", 8) == NULL)) {
				/* Sanitised like console text: QEMU echoes file names. */
				size_t o = 0;

				for (size_t i = 0; i < ql && o + 1 < len; i++)
					out[o++] = q[i] >= 0x20 && q[i] < 0x7f ? q[i] : '?';
				out[o] = '\0';
				return;
			}
			p += l;
			if (*p == '\n')
				p++;
		}
	}
}

static void explain(struct run *r, struct rh_bt_result *res)
{
	const struct rh_bt_watch *w = &r->w;
	const struct rh_bt_opts *o = r->o;

	res->passed = res->reason == RH_BT_R_LOGIN;
	if (res->passed) {
		set_text(res->matched, sizeof res->matched, w->login_line);
		return;
	}
	if (res->reason == RH_BT_R_FATAL) {
		res->rule = w->fatal;
		set_text(res->matched, sizeof res->matched, w->fatal_line);
		res->matched_screen = w->fatal_source == RH_BT_SCREEN;
		set_text(res->cause, sizeof res->cause, w->fatal->cause);
		set_text(res->action, sizeof res->action, w->fatal->action);
		if (w->hint != NULL) {
			res->hint = w->hint;
			set_text(res->hint_line, sizeof res->hint_line, w->hint_line);
		}
		return;
	}
	if (res->reason == RH_BT_R_STOPPED) {
		set_text(res->cause, sizeof res->cause, "the boot test was interrupted");
		return;
	}
	if (res->reason == RH_BT_R_QEMU_ERROR) {
		char line[512], how[64];

		qemu_error_line(res->qemu_stderr, line, sizeof line);
		if (WIFSIGNALED(res->qemu_status))
			snprintf(how, sizeof how, "killed by signal %d", WTERMSIG(res->qemu_status));
		else
			snprintf(how, sizeof how, "exit status %d", WEXITSTATUS(res->qemu_status));
		snprintf(res->cause, sizeof res->cause, "QEMU failed (%s): %s", how,
			 line[0] ? line : "no message");
		if (strcmp(res->accel, "kvm") == 0 && o->accel == RH_ACCEL_KVM)
			/* Asked for KVM: a broken KVM fails loudly, with the way out. */
			set_text(res->action, sizeof res->action,
				 "Read QEMU's message. KVM was forced with --accel kvm: if the "
				 "message is about KVM (an MSR, kvm_*), KVM does not work on this "
				 "host; run with --accel auto (probes KVM and falls back to TCG) "
				 "or --accel tcg. Otherwise check the disk files, --memory and "
				 "--cpus, and the QEMU binary (--qemu).");
		else
			set_text(res->action, sizeof res->action,
				 "Read QEMU's message: check the disk files (readable, not in use by "
				 "another QEMU or rehost target: QEMU locks them), --memory and --cpus "
				 "against the host, and the QEMU binary (--qemu).");
		return;
	}
	/* Timeout or the guest reset/powered off: the last warning sign is
	 * the best explanation there is. */
	if (w->hint != NULL) {
		res->rule = w->hint;
		set_text(res->matched, sizeof res->matched, w->hint_line);
		res->matched_screen = w->hint_source == RH_BT_SCREEN;
		set_text(res->cause, sizeof res->cause, w->hint->cause);
		set_text(res->action, sizeof res->action, w->hint->action);
	} else if (res->console_bytes == 0 || !w->os_seen) {
		/* Forced KVM on a BIOS guest, and not even the BIOS screen
		 * (COM2) got a byte: KVM never ran the guest. */
		bool kvm_silent = o->firmware == RH_BT_BIOS && o->accel == RH_ACCEL_KVM &&
				  rh_bt_console_bytes(r->scr.con) == 0;

		if (res->console_bytes > 0)
			/* Firmware and boot loader lines only (OVMF and GRUB
			 * under UEFI print on ttyS0 themselves). */
			snprintf(res->cause, sizeof res->cause,
				 "nothing from the kernel reached the serial console: only the "
				 "firmware and boot loader printed there. The kernel command "
				 "line may lack console=ttyS0, or the boot hangs before the "
				 "kernel starts (or the kernel runs with 'quiet' and hangs "
				 "silently)");
		else if (o->firmware == RH_BT_BIOS && w->firmware_booted_disk)
			snprintf(res->cause, sizeof res->cause,
				 "the guest printed nothing on the serial console: the BIOS "
				 "started the boot loader on disk 0, but neither GRUB nor the "
				 "kernel wrote to ttyS0 (its kernel command line may lack "
				 "console=ttyS0), or the boot hangs before the kernel starts");
		else if (kvm_silent)
			/* Not even SeaBIOS spoke: QEMU never ran the guest. */
			snprintf(res->cause, sizeof res->cause,
				 "nothing at all came from the guest, not even from the BIOS: "
				 "KVM (forced with --accel kvm) may hang on this host");
		else
			snprintf(res->cause, sizeof res->cause,
				 "the guest printed nothing on the serial console: its kernel "
				 "command line may lack console=ttyS0, or the boot hangs in the "
				 "firmware or boot loader");
		if (kvm_silent && res->console_bytes == 0)
			set_text(res->action, sizeof res->action,
				 "Run with --accel auto, which probes KVM and falls back to TCG "
				 "when it does not work, or with --accel tcg.");
		else
			set_text(res->action, sizeof res->action,
				 "Add console=ttyS0,115200 (after console=tty0) to the kernel command "
				 "line in /etc/default/grub (GRUB_CMDLINE_LINUX) and regenerate "
				 "grub.cfg (rehost postconf does both), then test again.");
	} else if (res->reason == RH_BT_R_TIMEOUT) {
		snprintf(res->cause, sizeof res->cause,
			 "no login prompt on the serial console within %u s and no known "
			 "failure message: the boot may just be slow (%s), hang in a service, "
			 "or run no getty on ttyS0",
			 o->timeout_s,
			 strcmp(res->accel, "tcg") == 0 ? "full emulation without KVM" : "busy host");
		set_text(res->action, sizeof res->action,
			 "Read the console tail; raise --timeout; make sure a getty runs on "
			 "ttyS0 (systemd starts serial-getty@ttyS0 when console=ttyS0 is on "
			 "the kernel command line).");
	}
	if (res->reason == RH_BT_R_QEMU_EXIT) {
		char cause[2 * sizeof res->cause];

		/* -no-reboot turns a guest reset into QEMU's exit. */
		snprintf(cause, sizeof cause,
			 "the guest reset or powered off before a login prompt (a reboot after "
			 "a failure, a triple fault, or a boot loader that reboots)%s%s",
			 res->cause[0] ? "; " : "", res->cause);
		set_text(res->cause, sizeof res->cause, cause);
		if (res->action[0] == '\0')
			set_text(res->action, sizeof res->action,
				 "Read the console tail for what happened before the reset.");
	}
}

static int copy_tail(const struct rh_bt_console *c, size_t max, char ***out, size_t *n)
{
	size_t cnt = rh_bt_console_tail_count(c), from = cnt > max ? cnt - max : 0;

	*out = calloc(cnt - from + 1, sizeof **out);
	if (*out == NULL)
		return RH_ERR_NOMEM;
	*n = 0;
	for (size_t i = from; i < cnt; i++) {
		if (((*out)[(*n)++] = strdup(rh_bt_console_tail_line(c, i))) == NULL)
			return RH_ERR_NOMEM;
	}
	return 0;
}

void rh_bt_result_free(struct rh_bt_result *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->ntail; i++)
		free(r->tail[i]);
	free(r->tail);
	for (size_t i = 0; i < r->nscreen_tail; i++)
		free(r->screen_tail[i]);
	free(r->screen_tail);
	free(r->qemu_stderr);
	rh_bt_argv_free(r->argv);
	free(r);
}

static int check_opts(const struct rh_bt_opts *o)
{
	if (o->ndisks == 0 || o->disks == NULL || o->ndisks > RH_BT_MAX_DISKS)
		return rh_seterr(RH_ERR_INVAL, "%zu disks: 1 to %u", o->ndisks, RH_BT_MAX_DISKS);
	if (o->memory_mib < 64 || o->memory_mib > 1048576)
		return rh_seterr(RH_ERR_RANGE, "memory %u MiB: 64 to 1048576", o->memory_mib);
	if (o->cpus < 1 || o->cpus > 64)
		return rh_seterr(RH_ERR_RANGE, "%u CPUs: 1 to 64", o->cpus);
	if (o->timeout_s == 0)
		return rh_seterr(RH_ERR_RANGE, "timeout of 0 s");
	if (o->tail_lines > RH_BT_MAX_TAIL)
		return rh_seterr(RH_ERR_RANGE, "tail of %u lines (at most %u)", o->tail_lines,
				 RH_BT_MAX_TAIL);
	if (o->accel != RH_ACCEL_AUTO && o->accel != RH_ACCEL_KVM && o->accel != RH_ACCEL_TCG)
		return rh_seterr(RH_ERR_INVAL, "accelerator %d: auto, kvm or tcg", (int)o->accel);
	return 0;
}

/* The private files of this run in a new temp directory: the OVMF
 * variables (UEFI: the firmware writes them, so each run gets a copy of
 * the template) or SeaBIOS's serial console setting (BIOS). code gets
 * the OVMF code path. */
static int make_private_files(struct run *r, char *code, size_t len)
{
	const struct rh_bt_opts *o = r->o;
	char vars_tpl[4096];
	int rc;

	snprintf(r->tmpdir, sizeof r->tmpdir, "%s/rehost-boot-test.XXXXXX",
		 getenv("TMPDIR") != NULL && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(r->tmpdir) == NULL) {
		rc = rh_seterr_errno(errno, "temporary directory %s", r->tmpdir);
		r->tmpdir[0] = '\0';
		return rc;
	}
	if (o->firmware != RH_BT_UEFI) {
		/* fw_cfg integers are little-endian binary: COM2's 0x2f8. */
		static const unsigned char com2[2] = { 0xf8, 0x02 };

		snprintf(r->sercon, sizeof r->sercon, "%s/sercon-port", r->tmpdir);
		if ((rc = write_file(r->sercon, com2, sizeof com2)) < 0)
			unlink(r->sercon);
		return rc;
	}
	if (o->ovmf_code != NULL) {
		set_text(code, len, o->ovmf_code);
		if (o->ovmf_vars == NULL)
			return rh_seterr(RH_ERR_INVAL,
					 "--ovmf-code without --ovmf-vars: name the "
					 "variables template that belongs to %s", code);
		set_text(vars_tpl, sizeof vars_tpl, o->ovmf_vars);
		if (access(code, R_OK) < 0)
			return rh_seterr_errno(errno, "OVMF code %s", code);
	} else if ((rc = rh_bt_find_ovmf(code, vars_tpl, len)) < 0) {
		return rc;
	}
	snprintf(r->vars, sizeof r->vars, "%s/OVMF_VARS.fd", r->tmpdir);
	if ((rc = copy_file(vars_tpl, r->vars)) < 0) {
		unlink(r->vars);
		return rc;
	}
	rh_log_info("UEFI firmware %s, variables copied from %s", code, vars_tpl);
	return 0;
}

/* Set-up: the accelerator, the private files, QEMU's command line and
 * the console log. */
static int run_prepare(struct run *r, struct rh_bt_result *res, char ***argv)
{
	const struct rh_bt_opts *o = r->o;
	struct rh_accel_opts ao = { .want = o->accel, .qemu = o->qemu, .kernel = o->probe_kernel };
	struct rh_accel_choice ac;
	char code[4096];
	const char *accel;
	int rc;

	if ((rc = rh_bt_console_new(o->tail_lines, &r->ser.con)) < 0 ||
	    (rc = rh_bt_console_new(SCREEN_TAIL, &r->scr.con)) < 0)
		return rc;
	/* The probe logs the one line that says which and why. */
	if ((rc = rh_accel_choose(&ao, &ac)) < 0)
		return rc;
	accel = rh_accel_name(ac.accel);
	set_text(res->accel, sizeof res->accel, accel);
	set_text(res->accel_reason, sizeof res->accel_reason, ac.reason);
	if ((rc = make_private_files(r, code, sizeof code)) < 0)
		return rc;
	if ((rc = rh_bt_build_argv(o, accel, o->firmware == RH_BT_BIOS ? "/dev/fd/3" : NULL,
				   r->sercon, code, r->vars, argv)) < 0)
		return rc;
	if (o->console_log != NULL) {
		r->log_fd = open(o->console_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
		if (r->log_fd < 0)
			return rh_seterr_errno(errno, "console log %s", o->console_log);
	}
	return 0;
}

/* Start QEMU: the serial console (ttyS0) on its stdout, stderr kept for
 * the error message, and with BIOS the screen copy on descriptor 3. */
static int run_start(struct run *r, char **argv)
{
	const struct rh_bt_opts *o = r->o;
	int scr_p[2] = { -1, -1 }, rc;

	if (o->firmware == RH_BT_BIOS && pipe2(scr_p, O_CLOEXEC) < 0)
		return rh_seterr_errno(errno, "pipes for QEMU");
	if (rh_log_enabled(RH_LOG_DEBUG1)) {
		char line[4096];
		size_t l = 0;

		for (size_t i = 0; argv[i] != NULL && l < sizeof line; i++)
			l += (size_t)snprintf(line + l, sizeof line - l, "%s%s", i ? " " : "", argv[i]);
		rh_log_debug("running %s", line);
	}
	r->proc = (struct rh_proc){
		.argv = (const char *const *)argv,
		.in = { RH_PROC_NULL, -1 },
		.out = { RH_PROC_PIPE, -1 },
		.err = { RH_PROC_PIPE, -1 },
		.fds = &scr_p[1],
		.nfds = scr_p[1] >= 0 ? 1 : 0,
		/* Its own process group: a ^C at the terminal reaches
		 * rehost, which stops QEMU itself. The parent-death signal
		 * covers rehost being killed outright: QEMU must not
		 * outlive it. */
		.flags = RH_PROC_PGROUP,
		.pdeathsig = SIGTERM,
	};
	rc = rh_proc_start(&r->proc);
	if (scr_p[1] >= 0)
		close(scr_p[1]);
	if (rc < 0) {
		if (scr_p[0] >= 0)
			close(scr_p[0]);
		return rc;
	}
	r->started = true;
	r->t0 = now_s();
	/* The streams own the read ends from here. */
	r->ser.fd = r->proc.out.fd;
	r->err_fd = r->proc.err.fd;
	r->proc.out.fd = r->proc.err.fd = -1;
	r->scr.fd = scr_p[0];
	fcntl(r->ser.fd, F_SETFL, O_NONBLOCK);
	fcntl(r->err_fd, F_SETFL, O_NONBLOCK);
	if (r->scr.fd >= 0)
		fcntl(r->scr.fd, F_SETFL, O_NONBLOCK);
	r->ser.last_byte = r->scr.last_byte = r->t0;
	rh_log_info("QEMU started (pid %d): %zu disk%s on %s, %s, %u MiB, %u CPU%s, timeout %u s",
		    (int)r->proc.pid, o->ndisks, o->ndisks == 1 ? "" : "s", rh_bt_bus_name(o->bus),
		    rh_bt_firmware_name(o->firmware), o->memory_mib, o->cpus,
		    o->cpus == 1 ? "" : "s", o->timeout_s);
	return 0;
}

/* QEMU has exited: read what it wrote before it went, then judge
 * (bounded: nothing else should hold the pipes open). */
static enum rh_bt_reason judge_exit(struct run *r)
{
	double dl = now_s() + 2.0;

	while ((r->ser.fd >= 0 || r->scr.fd >= 0 || r->err_fd >= 0) && now_s() < dl)
		poll_streams(r, 100);
	rh_bt_console_flush(r->ser.con, on_line, &r->ser);
	rh_bt_console_flush(r->scr.con, on_line, &r->scr);
	r->verdict_at = r->settle ? r->verdict_at : now_s();
	if (r->w.state == RH_BT_LOGIN)
		return RH_BT_R_LOGIN;
	if (r->w.state == RH_BT_FATAL)
		return RH_BT_R_FATAL;
	if (WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0)
		return RH_BT_R_QEMU_EXIT;
	return RH_BT_R_QEMU_ERROR;
}

/* Tell the caller how far the boot got: the last console line, or
 * before the guest says anything, the BIOS screen's. */
static void report_progress(struct run *r, double t)
{
	size_t n = rh_bt_console_tail_count(r->ser.con);
	const char *last = rh_bt_console_partial(r->ser.con);
	struct rh_bt_progress p = {
		.seconds = t - r->t0,
		.console_lines = rh_bt_console_lines(r->ser.con),
	};

	if (*last == '\0' && n > 0)
		last = rh_bt_console_tail_line(r->ser.con, n - 1);
	p.last_line = last;
	n = rh_bt_console_tail_count(r->scr.con);
	p.screen_line = rh_bt_console_partial(r->scr.con);
	if (*p.screen_line == '\0' && n > 0)
		p.screen_line = rh_bt_console_tail_line(r->scr.con, n - 1);
	r->o->progress(&p, r->o->progress_arg);
}

/* Watch the consoles until there is a verdict: a login prompt, a fatal
 * line (and the rest of its message), QEMU's exit, the timeout or the
 * caller's stop flag. Returns the reason; r->verdict_at says when. */
static enum rh_bt_reason run_watch(struct run *r)
{
	const struct rh_bt_opts *o = r->o;
	double next_progress = r->t0 + o->progress_s;

	for (;;) {
		double t;

		poll_streams(r, 200);
		t = now_s();
		check_partial(r, &r->ser, t);
		check_partial(r, &r->scr, t);
		if (r->w.state == RH_BT_LOGIN) {
			r->verdict_at = t;
			return RH_BT_R_LOGIN;
		}
		if (r->w.state == RH_BT_FATAL && !r->settle) {
			r->settle = true;
			r->verdict_at = t;
			rh_log_debug("fatal line (%s): %s; reading the rest", r->w.fatal->id,
				     r->w.fatal_line);
		}
		if (r->settle) {
			double quiet = t - (r->ser.last_byte > r->scr.last_byte ? r->ser.last_byte
										 : r->scr.last_byte);

			if (quiet >= SETTLE_QUIET_S || t - r->verdict_at >= SETTLE_MAX_S)
				return RH_BT_R_FATAL;
		}
		reap(r, false);
		if (r->reaped)
			return judge_exit(r);
		if (!r->settle && t - r->t0 >= o->timeout_s) {
			r->verdict_at = t;
			return RH_BT_R_TIMEOUT;
		}
		if (o->stop != NULL && *o->stop) {
			r->verdict_at = t;
			return RH_BT_R_STOPPED;
		}
		if (o->progress_s > 0 && o->progress != NULL && t >= next_progress) {
			report_progress(r, t);
			next_progress += o->progress_s;
		}
	}
}

/* After the verdict: stop QEMU, and fill res with what was seen and the
 * explanation. */
static int run_verdict(struct run *r, struct rh_bt_result *res)
{
	const struct rh_bt_opts *o = r->o;

	stop_qemu(r);
	res->qemu_status = r->status;
	/* A prompt without newline belongs in the tail. */
	rh_bt_console_flush(r->ser.con, NULL, NULL);
	rh_bt_console_flush(r->scr.con, NULL, NULL);
	res->seconds = r->verdict_at - r->t0;
	res->console_bytes = rh_bt_console_bytes(r->ser.con);
	res->console_lines = rh_bt_console_lines(r->ser.con);
	if ((res->qemu_stderr = strdup(r->err_buf)) == NULL ||
	    copy_tail(r->ser.con, o->tail_lines, &res->tail, &res->ntail) < 0 ||
	    copy_tail(r->scr.con, SCREEN_TAIL, &res->screen_tail, &res->nscreen_tail) < 0)
		return RH_ERR_NOMEM;
	explain(r, res);
	return 0;
}

/* Stop QEMU if it still runs, close everything, remove the private
 * files; r is freed. */
static void run_cleanup(struct run *r)
{
	const struct rh_bt_opts *o = r->o;

	stop_qemu(r);
	if (r->ser.fd >= 0)
		close(r->ser.fd);
	if (r->scr.fd >= 0)
		close(r->scr.fd);
	if (r->err_fd >= 0)
		close(r->err_fd);
	if (r->log_fd >= 0 && close(r->log_fd) < 0)
		rh_log_warn("console log %s: %s", o->console_log, strerror(errno));
	if (r->vars[0] != '\0')
		unlink(r->vars);
	if (r->sercon[0] != '\0')
		unlink(r->sercon);
	if (r->tmpdir[0] != '\0' && rmdir(r->tmpdir) < 0)
		rh_log_warn("cannot remove %s: %s", r->tmpdir, strerror(errno));
	rh_bt_console_free(r->ser.con);
	rh_bt_console_free(r->scr.con);
	free(r);
}

int rh_bt_run(const struct rh_bt_opts *o, struct rh_bt_result **out)
{
	struct run *r = NULL;
	struct rh_bt_result *res = NULL;
	char **argv = NULL;
	int rc;

	*out = NULL;
	if ((rc = check_opts(o)) < 0)
		return rc;
	if (rh_bt_rules_builtin() == NULL)
		return rh_seterr(RH_ERR_INTERNAL, "data/boot-failures.tsv did not load: %s",
				 rh_lasterr());
	if ((rc = find_binary(o->qemu != NULL ? o->qemu : "qemu-system-x86_64")) < 0)
		return rc;
	r = calloc(1, sizeof *r);
	res = calloc(1, sizeof *res);
	if (r == NULL || res == NULL) {
		free(r);
		free(res);
		return RH_ERR_NOMEM;
	}
	r->o = o;
	r->ser.fd = r->scr.fd = r->err_fd = r->log_fd = -1;
	r->ser.run = r->scr.run = r;
	r->ser.src = RH_BT_SERIAL;
	r->scr.src = RH_BT_SCREEN;
	res->qemu_status = -1;
	rh_bt_watch_init(&r->w, NULL);
	if ((rc = run_prepare(r, res, &argv)) < 0 || (rc = run_start(r, argv)) < 0)
		goto out;
	res->reason = run_watch(r);
	if ((rc = run_verdict(r, res)) < 0)
		goto out;
	res->argv = argv;
	argv = NULL;
	*out = res;
	res = NULL;
out:
	run_cleanup(r);
	rh_bt_argv_free(argv);
	rh_bt_result_free(res);
	return rc;
}
