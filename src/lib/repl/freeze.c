/* FIFREEZE/FITHAW with a watchdog process that always thaws. */
#define RH_LOG_COMPONENT "freeze"
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "rehost/err.h"
#include "rehost/freeze.h"
#include "rehost/log.h"
#include "rehost/proc.h"

struct rh_freeze {
	int fds[RH_FREEZE_MAX];   /* directory fds of the frozen mounts */
	size_t n;
	struct rh_proc watchdog;  /* its stdin is a pipe: closing our end (in.fd) wakes it */
	struct timespec t0;
};

static void thaw_all(const int *fds, size_t n)
{
	/* Thaw in reverse order; EINVAL means "not frozen", which is fine. */
	for (size_t i = n; i-- > 0;)
		ioctl(fds[i], FITHAW, 0);
}

struct watchdog_arg {
	const struct rh_freeze *f;
	unsigned timeout_s;
};

/* The watchdog, in a forked child: only async-signal-safe calls (the
 * caller may have threads). */
static int watchdog_main(void *arg)
{
	const struct watchdog_arg *a = arg;
	struct pollfd pfd = { .fd = 0, .events = POLLIN };
	struct sigaction ign = { .sa_handler = SIG_IGN };

	/* A ^C to the group must not skip the thaw. */
	sigaction(SIGINT, &ign, NULL);
	sigaction(SIGTERM, &ign, NULL);
	/* Wakes on the timeout, or when the parent closes the pipe or dies. */
	while (poll(&pfd, 1, (int)a->timeout_s * 1000) < 0 && errno == EINTR)
		;
	thaw_all(a->f->fds, a->f->n);
	return 0;
}

int rh_freeze_begin(const char *const *mounts, size_t n, unsigned timeout_s,
		    struct rh_freeze **out)
{
	struct rh_freeze *f;
	struct watchdog_arg wa = { .timeout_s = timeout_s };
	bool started = false;
	int rc = 0;

	*out = NULL;
	if (n == 0 || n > RH_FREEZE_MAX || timeout_s < 1 || timeout_s > 3600)
		return rh_seterr(RH_ERR_INVAL, "freeze: 1 to %d mount points and a timeout of 1 to 3600 s",
				 RH_FREEZE_MAX);
	f = calloc(1, sizeof *f);
	if (f == NULL)
		return RH_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		f->fds[i] = open(mounts[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (f->fds[i] < 0) {
			rc = rh_seterr_errno(errno, "cannot open mount point %s", mounts[i]);
			f->n = i;
			goto fail;
		}
		f->n = i + 1;
	}
	/* The watchdog exists before anything is frozen. */
	wa.f = f;
	f->watchdog = (struct rh_proc){
		.fn = watchdog_main,
		.fn_arg = &wa,
		.in = { RH_PROC_PIPE, -1 },
	};
	if ((rc = rh_proc_start(&f->watchdog)) < 0)
		goto fail;
	started = true;
	clock_gettime(CLOCK_MONOTONIC, &f->t0);
	for (size_t i = 0; i < n; i++) {
		if (ioctl(f->fds[i], FIFREEZE, 0) < 0) {
			int e = errno;

			rc = rh_seterr(e == EOPNOTSUPP ? RH_ERR_UNSUPPORTED : rh_err_from_errno(e),
				       "cannot freeze %s: %s%s", mounts[i], strerror(e),
				       e == EBUSY ? " (already frozen?)" : "");
			thaw_all(f->fds, i);
			goto fail;
		}
		rh_log_info("froze %s", mounts[i]);
	}
	*out = f;
	return 0;
fail:
	if (started) {
		close(f->watchdog.in.fd);
		f->watchdog.in.fd = -1;
		rh_proc_finish(&f->watchdog);
	}
	for (size_t i = 0; i < f->n; i++)
		close(f->fds[i]);
	free(f);
	return rc;
}

int rh_freeze_end(struct rh_freeze *f, double *seconds)
{
	struct timespec t1;
	int rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	*seconds = (double)(t1.tv_sec - f->t0.tv_sec) + (double)(t1.tv_nsec - f->t0.tv_nsec) / 1e9;
	thaw_all(f->fds, f->n);
	/* Was the watchdog already gone, i.e. did the timeout thaw first? */
	if (rh_proc_wait(&f->watchdog, RH_PROC_NOHANG) == 1)
		rc = rh_seterr(RH_ERR_TIMEOUT,
			       "the freeze timeout expired before the final pass ended; the filesystems were thawed early, so that pass was not consistent");
	/* Wakes it, if it still waits; then it is reaped. */
	close(f->watchdog.in.fd);
	f->watchdog.in.fd = -1;
	rh_proc_finish(&f->watchdog);
	for (size_t i = 0; i < f->n; i++)
		close(f->fds[i]);
	rh_log_info("thawed %zu filesystem%s after %.3f s", f->n, f->n == 1 ? "" : "s", *seconds);
	free(f);
	return rc;
}
