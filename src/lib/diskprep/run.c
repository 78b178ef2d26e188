/* Running the system's filesystem tools (resize2fs, xfs_growfs, pvresize):
 * they are the only safe way to grow those structures. */
#define RH_LOG_COMPONENT "diskprep"
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "diskprep-internal.h"
#include "rehost/err.h"
#include "rehost/log.h"

extern char **environ;

/* Filesystem tools live in sbin, which a non-login root PATH may lack. */
static int find_tool(const char *name, char *out, size_t len)
{
	const char *path = getenv("PATH");
	char dirs[4096];
	char *save = NULL;

	if (strchr(name, '/') != NULL) {
		snprintf(out, len, "%s", name);
		return 0;
	}
	snprintf(dirs, sizeof dirs, "%s:/usr/sbin:/sbin:/usr/bin:/bin", path ? path : "");
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		if (*d == '\0')
			continue;
		snprintf(out, len, "%s/%s", d, name);
		if (access(out, X_OK) == 0)
			return 0;
	}
	return rh_seterr(RH_ERR_NOTFOUND, "%s not found; install it (e2fsprogs, xfsprogs or lvm2)", name);
}

int diskprep_run(const char *const *argv, char *out, size_t outlen)
{
	char prog[4096], tail[4096];
	char **envp = NULL;
	posix_spawn_file_actions_t fa;
	size_t n = 0, tlen = 0;
	int pfd[2] = { -1, -1 }, status, rc;
	pid_t pid;
	ssize_t r;

	if (out != NULL && outlen > 0)
		out[0] = '\0';
	rc = find_tool(argv[0], prog, sizeof prog);
	if (rc < 0)
		return rc;
	while (environ[n])
		n++;
	envp = calloc(n + 2, sizeof *envp);
	if (envp == NULL)
		return RH_ERR_NOMEM;
	memcpy(envp, environ, n * sizeof *envp);
	envp[n] = "LVM_SUPPRESS_FD_WARNINGS=1"; /* our descriptors are CLOEXEC anyway */
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		free(envp);
		return rh_seterr_errno(errno, "pipe");
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
	rh_log_debug("running %s", prog);
	rc = posix_spawn(&pid, prog, &fa, NULL, (char *const *)argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	close(pfd[1]);
	if (rc != 0) {
		close(pfd[0]);
		return rh_seterr_errno(rc, "cannot run %s", prog);
	}
	/* Keep the tail: the last lines say why a tool failed. */
	while ((r = read(pfd[0], tail + tlen, sizeof tail - 1 - tlen)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		tlen += (size_t)r;
		if (tlen == sizeof tail - 1) {
			memmove(tail, tail + tlen / 2, tlen - tlen / 2);
			tlen -= tlen / 2;
		}
	}
	close(pfd[0]);
	tail[tlen] = '\0';
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return rh_seterr_errno(errno, "waitpid %s", prog);
	if (out != NULL && outlen > 0) {
		size_t keep = tlen < outlen - 1 ? tlen : outlen - 1;

		memcpy(out, tail + tlen - keep, keep);
		out[keep] = '\0';
	}
	if (WIFSIGNALED(status))
		return rh_seterr(RH_ERR_IO, "%s died of signal %d", prog, WTERMSIG(status));
	return WEXITSTATUS(status);
}
