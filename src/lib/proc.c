/* Running another program with its output logged (include/rehost/proc.h). */
#define RH_LOG_COMPONENT "run"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rehost/err.h"
#include "rehost/log.h"
#include "rehost/proc.h"

extern char **environ;

#define SBIN_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define MAX_ENV 512u

static void log_lines(char *buf, size_t *len, bool flush, char *tail, size_t tail_len)
{
	char *start = buf, *nl;

	while ((nl = memchr(start, '\n', *len - (size_t)(start - buf))) != NULL ||
	       (flush && start < buf + *len)) {
		size_t l = nl ? (size_t)(nl - start) : *len - (size_t)(start - buf);

		rh_log_info("  | %.*s", (int)l, start);
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
		start += l + (nl ? 1 : 0);
	}
	*len -= (size_t)(start - buf);
	memmove(buf, start, *len);
}

/* The child's environment, built before fork (no allocation after it). */
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
	int pfd[2], status;
	pid_t pid;

	if (tail != NULL && tail_len > 0)
		tail[0] = '\0';
	env = make_env(o, pathbuf, sizeof pathbuf);
	if (env == NULL)
		return rh_seterr(RH_ERR_NOMEM, "out of memory");
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		free(env);
		return rh_seterr_errno(errno, "pipe");
	}
	rh_log_info("running%s: %s%s%s%s%s", o->chroot ? " in the target" : "", argv[0],
		    argv[1] ? " " : "", argv[1] ? argv[1] : "", argv[1] && argv[2] ? " " : "",
		    argv[1] && argv[2] ? argv[2] : "");
	pid = fork();
	if (pid < 0) {
		free(env);
		close(pfd[0]);
		close(pfd[1]);
		return rh_seterr_errno(errno, "fork");
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		if (o->chroot != NULL && (chroot(o->chroot) < 0 || chdir("/") < 0))
			_exit(126);
		/* execvpe searches the PATH of the calling environment. */
		environ = env;
		execvpe(argv[0], (char *const *)argv, env);
		dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	free(env);
	close(pfd[1]);
	for (;;) {
		ssize_t r = read(pfd[0], buf + len, sizeof buf - 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		/* A line longer than the buffer is logged in pieces. */
		log_lines(buf, &len, len == sizeof buf - 1, tail, tail_len);
	}
	log_lines(buf, &len, true, tail, tail_len);
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return rh_seterr_errno(errno, "waitpid");
	if (WIFSIGNALED(status))
		return rh_seterr(RH_ERR_IO, "%s was killed by signal %d", argv[0], WTERMSIG(status));
	return WEXITSTATUS(status);
}
