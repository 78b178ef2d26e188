/* Running a tool with its output logged line by line (include/rehost/proc.h),
 * on the one child-process API of src/lib/proc.c. */
#define RH_LOG_COMPONENT "run"
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rehost/err.h"
#include "rehost/log.h"
#include "rehost/proc.h"

extern char **environ;

#define SBIN_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define MAX_ENV 512u

/* Log the complete lines in buf (and the rest when flush), keep the
 * newest in tail and show each to line_fn. Returns 0, or line_fn's
 * negative value (the lines after that one stay in buf). */
static int log_lines(char *buf, size_t *len, bool flush, const struct rh_run_opts *o, char *tail,
		     size_t tail_len)
{
	char *start = buf, *nl;
	int stop = 0;

	while (stop == 0 &&
	       ((nl = memchr(start, '\n', *len - (size_t)(start - buf))) != NULL ||
		(flush && start < buf + *len))) {
		size_t l = nl ? (size_t)(nl - start) : *len - (size_t)(start - buf);
		size_t whole = l;

		if (o->quiet)
			rh_log_debug("  | %.*s", (int)l, start);
		else
			rh_log_info("  | %.*s", (int)l, start);
		if (o->line_fn != NULL) {
			char line[8192];
			size_t k = l < sizeof line - 1 ? l : sizeof line - 1;

			memcpy(line, start, k);
			line[k] = '\0';
			stop = o->line_fn(line, o->line_arg);
			if (stop > 0)
				stop = 0;
		}
		if (tail != NULL && tail_len > 1) {
			/* Keep the newest lines: drop from the front when full. */
			size_t have = strlen(tail), need = l + 1;

			if (need >= tail_len)
				need = tail_len - 1, l = need - 1;
			if (have + need >= tail_len) {
				size_t drop = have + need - (tail_len - 1);
				char *cut = memchr(tail + drop, '\n', have - drop);

				drop = cut ? (size_t)(cut - tail) + 1 : have;
				memmove(tail, tail + drop, have - drop + 1);
				have -= drop;
			}
			memcpy(tail + have, start, l);
			tail[have + l] = '\n';
			tail[have + l + 1] = '\0';
		}
		start += whole + (nl ? 1 : 0);
	}
	*len -= (size_t)(start - buf);
	memmove(buf, start, *len);
	return stop;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The program's environment, built before it starts (no allocation after
 * fork). */
static char **make_env(const struct rh_run_opts *o, char *pathbuf, size_t pathlen)
{
	static const char *const clean[] = {
		"LANG=C", "LC_ALL=C", "HOME=/root", "TERM=dumb", "DEBIAN_FRONTEND=noninteractive",
	};
	char **env = calloc(MAX_ENV + 1, sizeof *env);
	size_t n = 0;
	const char *path = getenv("PATH");

	if (env == NULL)
		return NULL;
	/* Tools such as resize2fs live in sbin, which a non-login PATH may lack. */
	if (o->clean_env || path == NULL || path[0] == '\0')
		snprintf(pathbuf, pathlen, "PATH=%s", SBIN_PATH);
	else
		snprintf(pathbuf, pathlen, "PATH=%s:%s", path, SBIN_PATH);
	env[n++] = pathbuf;
	if (o->clean_env) {
		for (size_t i = 0; i < sizeof clean / sizeof clean[0]; i++)
			env[n++] = (char *)clean[i];
	} else {
		for (char **e = environ; *e != NULL && n < MAX_ENV / 2; e++)
			if (strncmp(*e, "PATH=", 5) != 0)
				env[n++] = *e;
	}
	for (const char *const *a = o->env_add; a != NULL && *a != NULL && n < MAX_ENV; a++)
		env[n++] = (char *)*a;
	env[n] = NULL;
	return env;
}

int rh_run(const char *const *argv, const struct rh_run_opts *o, char *tail, size_t tail_len)
{
	char buf[8192], pathbuf[4096];
	char **env;
	size_t len = 0;
	int rc, stop = 0;
	/* A program we may have to stop gets a process group of its own,
	 * so that stopping it also stops what it started (a wrapper
	 * script's children); it must not outlive rehost. */
	bool killable = o->timeout_ms > 0 || o->line_fn != NULL, timed_out = false;
	struct rh_proc p = {
		.argv = argv,
		.chroot_dir = o->chroot,
		.in = { RH_PROC_NULL, -1 },
		.out = { RH_PROC_PIPE, -1 },
		.err = { RH_PROC_STDOUT, -1 },
		.flags = killable ? RH_PROC_PGROUP : 0,
		.pdeathsig = killable ? SIGKILL : 0,
	};
	double deadline = 0;

	if (tail != NULL && tail_len > 0)
		tail[0] = '\0';
	if (o->status != NULL)
		*o->status = -1;
	env = make_env(o, pathbuf, sizeof pathbuf);
	if (env == NULL)
		return rh_seterr(RH_ERR_NOMEM, "out of memory");
	p.envp = env;
	RH_LOG_(o->quiet ? RH_LOG_DEBUG1 : RH_LOG_INFO, "running%s: %s%s%s%s%s",
		o->chroot ? " in the target" : "", argv[0], argv[1] ? " " : "",
		argv[1] ? argv[1] : "", argv[1] && argv[2] ? " " : "",
		argv[1] && argv[2] ? argv[2] : "");
	rc = rh_proc_start(&p);
	free(env);
	if (rc < 0)
		return rc;
	if (o->timeout_ms > 0)
		deadline = now_ms() + o->timeout_ms;
	while (stop == 0) {
		struct pollfd pf = { .fd = p.out.fd, .events = POLLIN };
		int ms = -1, pr;
		ssize_t r;

		if (o->timeout_ms > 0) {
			double left = deadline - now_ms();

			if (left <= 0) {
				timed_out = true;
				break;
			}
			ms = left < 1e9 ? (int)left + 1 : 1000000000;
		}
		pr = poll(&pf, 1, ms);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0)
			continue;
		r = read(p.out.fd, buf + len, sizeof buf - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		/* A line longer than the buffer is logged in pieces. */
		stop = log_lines(buf, &len, len == sizeof buf - 1, o, tail, tail_len);
	}
	if (stop == 0 && !timed_out)
		stop = log_lines(buf, &len, true, o, tail, tail_len);
	close(p.out.fd);
	p.out.fd = -1;
	if (killable && (stop != 0 || timed_out))
		rh_proc_kill(&p, SIGKILL);
	/* Wait for the exit without reaping: while the zombie holds its
	 * pid, the group id cannot name anyone else, so what the program
	 * left in its group can still be killed. A deadline still applies:
	 * a program may close its output and go on running. */
	for (bool killed = stop != 0 || timed_out;;) {
		rc = rh_proc_wait(&p, RH_PROC_NOREAP |
					      (o->timeout_ms > 0 && !killed ? RH_PROC_NOHANG : 0));
		if (rc < 0)
			return rc;
		if (rc == 1)
			break;
		if (o->timeout_ms > 0 && now_ms() >= deadline) {
			timed_out = killed = true;
			rh_proc_kill(&p, SIGKILL);
			continue;
		}
		usleep(20000);
	}
	if (killable)
		rh_proc_kill(&p, SIGKILL);
	if ((rc = rh_proc_finish(&p)) < 0)
		return rc;
	if (o->status != NULL)
		*o->status = p.status;
	if (stop != 0)
		return stop;
	if (timed_out)
		return rh_seterr(RH_ERR_TIMEOUT, "%s still ran after %u ms; killed", argv[0],
				 o->timeout_ms);
	if (WIFSIGNALED(p.status))
		return rh_seterr(RH_ERR_IO, "%s was killed by signal %d (%s)", argv[0],
				 WTERMSIG(p.status), strsignal(WTERMSIG(p.status)));
	return WEXITSTATUS(p.status);
}
