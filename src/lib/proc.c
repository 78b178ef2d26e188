/*
 * Starting a child process (include/rehost/proc.h), after git's
 * run-command.c. Everything the child needs (descriptors, the list of
 * paths to try, the shell fallback's argv) is made before fork, because
 * after fork in a threaded process only async-signal-safe calls are
 * allowed: another thread may have held malloc's or stdio's lock. A
 * close-on-exec pipe carries the failing step and its errno back; its
 * end-of-file means exec succeeded.
 */
#define RH_LOG_COMPONENT "proc"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rehost/err.h"
#include "rehost/proc.h"

extern char **environ;

/* glibc's execvp default when PATH is unset. */
#define DEFAULT_PATH "/bin:/usr/bin"

/* The step that failed in the child, as reported through the pipe. */
enum step { STEP_FD, STEP_PGROUP, STEP_CHROOT, STEP_CWD, STEP_EXEC };

static const char *const step_name[] = {
	[STEP_FD] = "descriptor set-up",
	[STEP_PGROUP] = "process group",
	[STEP_CHROOT] = "chroot",
	[STEP_CWD] = "chdir",
	[STEP_EXEC] = "exec",
};

struct report {
	int step; /* enum step */
	int err;  /* its errno */
};

/* What the child does, prepared before fork. */
struct plan {
	int src[3 + RH_PROC_MAX_FDS]; /* descriptor for the child's 0, 1, 2, 3...; -1: keep */
	size_t nsrc;
	int err_to_out;               /* stderr is a copy of stdout */
	char **paths;                 /* exec candidates, NULL-terminated (argv mode) */
	char **sh_argv;               /* "sh", slot for the path, argv[1..]: for ENOEXEC */
	char *const *envp;
	sigset_t mask;                /* the child's signal mask */
	int ours[7];                  /* descriptors only the set-up needs, -1: none */
	pid_t parent;
	int report_fd;                /* write end of the report pipe */
};

static void plan_free(struct plan *pl)
{
	free(pl->paths);
	free(pl->sh_argv);
}

static const char *env_path(char *const *envp)
{
	if (envp == NULL)
		return getenv("PATH");
	for (char *const *e = envp; *e != NULL; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			return *e + 5;
	return NULL;
}

/* The paths execvp would try, in one allocation: the pointer array,
 * then the strings. */
static int make_paths(const char *name, char *const *envp, char ***out)
{
	const char *path = env_path(envp), *p;
	size_t n = 1, bytes, nl = strlen(name);
	char **v, *s;

	if (strchr(name, '/') != NULL)
		path = NULL;
	else if (path == NULL)
		path = DEFAULT_PATH;
	for (p = path; p != NULL && *p != '\0'; p++)
		n += *p == ':';
	bytes = (n + 1) * sizeof *v + (path ? strlen(path) : 0) + n * (nl + 3);
	v = malloc(bytes);
	if (v == NULL)
		return RH_ERR_NOMEM;
	s = (char *)(v + n + 1);
	if (path == NULL) {
		v[0] = memcpy(s, name, nl + 1);
		v[1] = NULL;
		*out = v;
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		size_t l = strcspn(path, ":");

		/* An empty element is the current directory, as for execvp. */
		v[i] = s;
		if (l == 0)
			*s++ = '.';
		memcpy(s, path, l);
		s += l;
		*s++ = '/';
		memcpy(s, name, nl + 1);
		s += nl + 1;
		path += l + (path[l] == ':');
	}
	v[n] = NULL;
	*out = v;
	return 0;
}

/* argv for running a script without "#!" through /bin/sh, as execvp
 * does; slot 1 is filled in the child. */
static int make_sh_argv(const char *const *argv, char ***out)
{
	size_t n = 0;
	char **v;

	while (argv[n] != NULL)
		n++;
	v = calloc(n + 2, sizeof *v);
	if (v == NULL)
		return RH_ERR_NOMEM;
	v[0] = (char *)"sh";
	for (size_t i = 1; i < n; i++)
		v[i + 1] = (char *)argv[i];
	*out = v;
	return 0;
}

static _Noreturn void child_fail(int fd, enum step step, int err)
{
	struct report r = { .step = (int)step, .err = err };

	/* Nothing to do if this fails: the parent then sees a plain exit. */
	(void)!write(fd, &r, sizeof r);
	_exit(127);
}

/* Put the planned descriptors in place. Every source is first copied
 * above the target range, so that no dup2 onto 0..nsrc-1 overwrites a
 * source still to be placed. */
static void child_fds(struct plan *pl)
{
	int tmp[3 + RH_PROC_MAX_FDS];
	int top = (int)pl->nsrc, orig = pl->report_fd;

	pl->report_fd = fcntl(orig, F_DUPFD_CLOEXEC, top);
	if (pl->report_fd < 0)
		_exit(127);
	/* Only one write end may stay open: a function child holding a
	 * second would keep the parent waiting for end-of-file. */
	close(orig);
	for (size_t i = 0; i < pl->nsrc; i++) {
		tmp[i] = -1;
		if (pl->src[i] >= 0 && (tmp[i] = fcntl(pl->src[i], F_DUPFD_CLOEXEC, top)) < 0)
			child_fail(pl->report_fd, STEP_FD, errno);
	}
	/* dup2 clears close-on-exec on the copy. */
	for (size_t i = 0; i < pl->nsrc; i++)
		if (tmp[i] >= 0 && dup2(tmp[i], (int)i) < 0)
			child_fail(pl->report_fd, STEP_FD, errno);
	if (pl->err_to_out && dup2(1, 2) < 0)
		child_fail(pl->report_fd, STEP_FD, errno);
	/* Exec would close these (close-on-exec); a function child must
	 * not keep them either, or a pipe never reports end-of-file. A
	 * number below top is now one of the child's own. */
	for (size_t i = 0; i < pl->nsrc; i++)
		if (tmp[i] >= 0)
			close(tmp[i]);
	for (size_t i = 0; i < sizeof pl->ours / sizeof pl->ours[0]; i++)
		if (pl->ours[i] >= top)
			close(pl->ours[i]);
}

/* The child: only async-signal-safe calls. */
static _Noreturn void child(const struct rh_proc *p, struct plan *pl)
{
	int err = ENOENT;
	bool eacces = false;

	if ((p->flags & RH_PROC_PGROUP) && setpgid(0, 0) < 0)
		child_fail(pl->report_fd, STEP_PGROUP, errno);
	if (p->pdeathsig != 0) {
		prctl(PR_SET_PDEATHSIG, p->pdeathsig);
		/* The parent may have died before the prctl. */
		if (getppid() != pl->parent)
			_exit(127);
	}
	if (p->argv != NULL) {
		/* A handler of ours must not run here, and an ignored
		 * SIGPIPE would survive exec. */
		for (int sig = 1; sig < NSIG; sig++) {
			struct sigaction sa;

			if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL &&
			    (sa.sa_handler != SIG_IGN || sig == SIGPIPE)) {
				sa.sa_handler = SIG_DFL;
				sa.sa_flags = 0;
				sigaction(sig, &sa, NULL);
			}
		}
	}
	child_fds(pl);
	if (p->chroot_dir != NULL && (chroot(p->chroot_dir) < 0 || chdir("/") < 0))
		child_fail(pl->report_fd, STEP_CHROOT, errno);
	if (p->cwd != NULL && chdir(p->cwd) < 0)
		child_fail(pl->report_fd, STEP_CWD, errno);
	sigprocmask(SIG_SETMASK, &pl->mask, NULL);
	if (p->fn != NULL) {
		close(pl->report_fd);
		_exit(p->fn(p->fn_arg));
	}
	for (char **path = pl->paths; *path != NULL; path++) {
		execve(*path, (char *const *)p->argv, pl->envp);
		if (errno == ENOEXEC) {
			pl->sh_argv[1] = *path;
			execve("/bin/sh", pl->sh_argv, pl->envp);
		}
		err = errno;
		/* execvp's rules: try the next directory on these, remember
		 * a permission problem, stop on anything else. */
		if (err == EACCES)
			eacces = true;
		else if (err != ENOENT && err != ENOTDIR && err != ESTALE && err != ENODEV &&
			 err != ETIMEDOUT)
			break;
	}
	child_fail(pl->report_fd, STEP_EXEC, eacces && err != ENOEXEC ? EACCES : err);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static const char *proc_name(const struct rh_proc *p)
{
	return p->argv != NULL ? p->argv[0] : "a child process";
}

/* Make the descriptor for one of the child's 0, 1, 2: *child_end for
 * the child (to be closed after fork when we made it), our end in s->fd. */
static int open_stream(struct rh_proc_stream *s, bool input, int null_fd, int *child_end,
		       bool *made)
{
	int pp[2];

	*made = false;
	switch (s->how) {
	case RH_PROC_INHERIT:
	case RH_PROC_STDOUT:
		*child_end = -1;
		return 0;
	case RH_PROC_NULL:
		*child_end = null_fd;
		return 0;
	case RH_PROC_FD:
		*child_end = s->fd;
		return s->fd >= 0 ? 0 : rh_seterr(RH_ERR_INVAL, "descriptor %d for a child", s->fd);
	case RH_PROC_PIPE:
		if (pipe2(pp, O_CLOEXEC) < 0)
			return rh_seterr_errno(errno, "pipe");
		*child_end = pp[input ? 0 : 1];
		s->fd = pp[input ? 1 : 0];
		*made = true;
		return 0;
	}
	return rh_seterr(RH_ERR_INVAL, "stream kind %d", (int)s->how);
}

static int check(const struct rh_proc *p)
{
	if ((p->argv == NULL || p->argv[0] == NULL) == (p->fn == NULL))
		return rh_seterr(RH_ERR_INVAL, "a child runs either a program or a function");
	if (p->nfds > RH_PROC_MAX_FDS || (p->nfds > 0 && p->fds == NULL))
		return rh_seterr(RH_ERR_INVAL, "%zu extra descriptors (at most %d)", p->nfds,
				 RH_PROC_MAX_FDS);
	if (p->in.how == RH_PROC_STDOUT || p->out.how == RH_PROC_STDOUT)
		return rh_seterr(RH_ERR_INVAL, "only stderr can go where stdout goes");
	return 0;
}

/* Wait for the child's report: end-of-file when exec (or fn) was reached. */
static int read_report(int fd, struct report *r)
{
	size_t got = 0;

	while (got < sizeof *r) {
		ssize_t n = read(fd, (char *)r + got, sizeof *r - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got == sizeof *r;
}

int rh_proc_start(struct rh_proc *p)
{
	struct rh_proc_stream *streams[3] = { &p->in, &p->out, &p->err };
	struct plan pl = { .nsrc = 3 + p->nfds, .envp = p->envp ? p->envp : environ };
	int child_end[3] = { -1, -1, -1 }, null_fd = -1, rep[2] = { -1, -1 }, rc, e;
	bool made[3] = { false, false, false };
	struct report r;
	sigset_t all, old;
	pid_t pid;

	p->pid = 0;
	p->status = -1;
	p->start_errno = 0;
	for (int i = 0; i < 3; i++)
		if (streams[i]->how == RH_PROC_PIPE)
			streams[i]->fd = -1;
	if ((rc = check(p)) < 0)
		return rc;
	if (p->argv != NULL && ((rc = make_paths(p->argv[0], pl.envp, &pl.paths)) < 0 ||
				(rc = make_sh_argv(p->argv, &pl.sh_argv)) < 0)) {
		rc = rh_seterr(rc, "out of memory");
		goto fail;
	}
	if ((p->in.how == RH_PROC_NULL || p->out.how == RH_PROC_NULL ||
	     p->err.how == RH_PROC_NULL) &&
	    (null_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
		rc = rh_seterr_errno(errno, "/dev/null");
		goto fail;
	}
	for (int i = 0; i < 3; i++)
		if ((rc = open_stream(streams[i], i == 0, null_fd, &child_end[i], &made[i])) < 0)
			goto fail;
	if (pipe2(rep, O_CLOEXEC) < 0) {
		rc = rh_seterr_errno(errno, "pipe");
		goto fail;
	}
	for (int i = 0; i < 3; i++)
		pl.src[i] = child_end[i];
	for (size_t i = 0; i < p->nfds; i++)
		pl.src[3 + i] = p->fds[i];
	pl.err_to_out = p->err.how == RH_PROC_STDOUT;
	pl.ours[0] = null_fd;
	for (int i = 0; i < 3; i++) {
		pl.ours[1 + i] = made[i] ? streams[i]->fd : -1;
		pl.ours[4 + i] = made[i] ? child_end[i] : -1;
	}
	pl.report_fd = rep[1];
	pl.parent = getpid();
	/* Signals stay blocked from fork until the child has reset its
	 * handlers: a handler of ours must not run in the child. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pl.mask = old;
	if (p->argv != NULL)
		sigemptyset(&pl.mask);
	pid = fork();
	if (pid == 0)
		child(p, &pl);
	e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close_fd(&rep[1]);
	if (pid < 0) {
		rc = rh_seterr_errno(e, "cannot start %s: fork", proc_name(p));
		goto fail;
	}
	/* Also here: a kill of the group before the child's own setpgid
	 * would otherwise miss it. */
	if (p->flags & RH_PROC_PGROUP)
		setpgid(pid, pid);
	if (read_report(rep[0], &r)) {
		while (waitpid(pid, &p->status, 0) < 0 && errno == EINTR)
			;
		p->start_errno = r.err;
		rc = rh_seterr_errno(r.err, "cannot run %s: %s", proc_name(p),
				     r.step >= 0 && r.step <= STEP_EXEC ? step_name[r.step] : "?");
		goto fail;
	}
	p->pid = pid;
	rc = 0;
	goto out;
fail:
	for (int i = 0; i < 3; i++)
		if (made[i])
			close_fd(&streams[i]->fd);
out:
	for (int i = 0; i < 3; i++)
		if (made[i])
			close(child_end[i]);
	close_fd(&rep[0]);
	close_fd(&rep[1]);
	close_fd(&null_fd);
	plan_free(&pl);
	return rc;
}

int rh_proc_wait(struct rh_proc *p, unsigned flags)
{
	if (p->pid <= 0)
		return 1;
	for (;;) {
		pid_t got;

		if (flags & RH_PROC_NOREAP) {
			siginfo_t si;

			memset(&si, 0, sizeof si);
			if (waitid(P_PID, (id_t)p->pid, &si,
				   WEXITED | WNOWAIT | (flags & RH_PROC_NOHANG ? WNOHANG : 0)) < 0) {
				if (errno == EINTR)
					continue;
				return rh_seterr_errno(errno, "waitid");
			}
			return si.si_pid == p->pid;
		}
		got = waitpid(p->pid, &p->status, flags & RH_PROC_NOHANG ? WNOHANG : 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return rh_seterr_errno(errno, "waitpid");
		if (got == 0)
			return 0;
		p->pid = 0;
		return 1;
	}
}

int rh_proc_finish(struct rh_proc *p)
{
	int rc = rh_proc_wait(p, 0);

	if (p->in.how == RH_PROC_PIPE)
		close_fd(&p->in.fd);
	if (p->out.how == RH_PROC_PIPE)
		close_fd(&p->out.fd);
	if (p->err.how == RH_PROC_PIPE)
		close_fd(&p->err.fd);
	return rc < 0 ? rc : 0;
}

void rh_proc_kill(const struct rh_proc *p, int sig)
{
	if (p->pid <= 0)
		return;
	if (!(p->flags & RH_PROC_PGROUP) || kill(-p->pid, sig) < 0)
		kill(p->pid, sig);
}
