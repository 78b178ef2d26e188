/*
 * Running another program (update-initramfs, grub-mkconfig, resize2fs,
 * mtools...) with its output logged line by line and its last lines kept
 * for the error message.
 */
#ifndef REHOST_PROC_H
#define REHOST_PROC_H

#include <stdbool.h>
#include <stddef.h>

/* Called with each output line (NUL-terminated, without its newline;
 * borrowed for the call). Return 0 to go on, or a negative value to stop
 * the program: rh_run then kills it and returns that value. */
typedef int (*rh_run_line_fn)(const char *line, void *arg);

struct rh_run_opts {
	const char *chroot;          /* run chrooted in this directory; NULL: on the host */
	bool clean_env;              /* a fixed minimal environment (PATH, LANG=C,
				      * DEBIAN_FRONTEND=noninteractive) instead of ours */
	const char *const *env_add;  /* extra NAME=VALUE entries, NULL-terminated, or NULL */
	unsigned timeout_ms;         /* 0: wait as long as it runs; else kill it after this */
	rh_run_line_fn line_fn;      /* sees every output line; NULL: none */
	void *line_arg;              /* passed to line_fn */
	bool quiet;                  /* log the command and its output at debug level */
	int *status;                 /* NULL, or gets the raw waitpid status (-1 when
				      * the program did not run or was not reaped) */
};

/* Run argv (argv[0] a path, or a name searched in PATH plus the sbin
 * directories) with stdin from /dev/null and stdout+stderr logged at info
 * level; the last lines go to tail (NUL-terminated; tail may be NULL).
 * With a timeout or a line_fn, the program runs in a process group of its
 * own with a parent-death signal; stopping it kills (SIGKILL) that whole
 * group, and whatever it left there is killed when it exits. It is
 * always reaped before rh_run returns.
 * Returns the exit status 0..255 (127: could not be executed), or a
 * negative RH_ERR_* when it could not be started, died of a signal, or
 * ran past timeout_ms (RH_ERR_TIMEOUT), or line_fn's negative value. */
int rh_run(const char *const *argv, const struct rh_run_opts *o, char *tail, size_t tail_len);

#endif
