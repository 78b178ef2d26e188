/*
 * Running other programs: the one way rehost starts a child process.
 *
 * rh_proc_start/rh_proc_wait/rh_proc_finish (src/lib/proc.c) start a
 * program, or a function in a forked child, with its descriptors,
 * process group and parent-death signal set up; git's run-command.c is
 * the model. rh_run (src/lib/run.c) is built on them for the common case:
 * a tool (update-initramfs, grub-mkconfig, resize2fs, mtools...) whose
 * output is logged line by line and whose last lines are kept for the
 * error message.
 */
#ifndef REHOST_PROC_H
#define REHOST_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* What one of the child's descriptors 0, 1, 2 is. */
enum rh_proc_io {
	RH_PROC_INHERIT = 0, /* ours, shared */
	RH_PROC_NULL,        /* /dev/null */
	RH_PROC_PIPE,        /* a new pipe: rh_proc_start puts our end (the write end
			      * for stdin, the read end otherwise) in fd; it is
			      * close-on-exec and blocking */
	RH_PROC_FD,          /* the descriptor in fd (borrowed: the caller closes it) */
	RH_PROC_STDOUT,      /* stderr only: wherever stdout goes */
};

struct rh_proc_stream {
	enum rh_proc_io how;
	int fd;              /* see how; with RH_PROC_PIPE, -1 until started and
			      * after rh_proc_finish closed it */
};

enum rh_proc_flags {
	/* A process group of its own (its id is the pid): a ^C at the
	 * terminal then reaches only us, and rh_proc_kill reaches whatever
	 * the program started too. */
	RH_PROC_PGROUP = 1 << 0,
};

/* rh_proc_wait flags. */
enum rh_proc_wait_flags {
	RH_PROC_NOHANG = 1 << 0, /* return 0 at once when it still runs */
	RH_PROC_NOREAP = 1 << 1, /* leave it a zombie (its pid, and so its process
				  * group id, stay taken); status is not set */
};

/* Extra descriptors a child can be given (as 3, 4, ...). */
#define RH_PROC_MAX_FDS 8

/*
 * One child. The caller zeroes it, sets what to run and how, and calls
 * rh_proc_start; everything else is set by the calls. Strings and arrays
 * are borrowed and need to live only until rh_proc_start returns.
 */
struct rh_proc {
	const char *const *argv;   /* program and arguments, NULL-terminated; argv[0]
				    * is a path, or a name searched in the PATH of
				    * envp (of ours when envp is NULL) */
	int (*fn)(void *arg);      /* instead of argv: call fn(fn_arg) in the forked
				    * child and _exit with what it returns; it must
				    * be fork-safe (in a threaded process, only
				    * async-signal-safe calls) */
	void *fn_arg;
	char *const *envp;         /* the program's environment; NULL: ours */
	const char *chroot_dir;    /* chroot here (and chdir "/") first; NULL: none */
	const char *cwd;           /* then chdir here; NULL: stay */
	struct rh_proc_stream in, out, err; /* zeroed: inherited */
	const int *fds;            /* fds[i] becomes the child's descriptor 3 + i
				    * (borrowed); NULL when nfds is 0 */
	size_t nfds;               /* at most RH_PROC_MAX_FDS */
	unsigned flags;            /* enum rh_proc_flags */
	int pdeathsig;             /* signal the child gets when the thread that
				    * started it ends; 0: none */

	/* Set by the calls. */
	pid_t pid;                 /* > 0 from a successful start until reaped; 0 otherwise */
	int status;                /* raw wait status once reaped; -1 before */
	int start_errno;           /* when rh_proc_start failed in the child: the
				    * errno of the step that failed (exec: ENOENT,
				    * EACCES...); 0 otherwise */
};

/* Start p. In the child, only async-signal-safe calls run between fork
 * and exec (everything is prepared before fork), and a close-on-exec
 * pipe carries a failure back, so this returns only once the program
 * runs (or fn was entered), or with the reason it could not: then
 * p->start_errno is set when a step in the child failed, the child is
 * reaped, and no descriptor is left open. An exit status of 127 is
 * therefore always the program's own.
 * The child's signal mask is emptied; with argv, its caught signals are
 * reset to the default, SIGPIPE too (an ignored SIGPIPE would be
 * inherited through exec). Returns 0, or a negative RH_ERR_* (RH_ERR_NOTFOUND
 * when the program does not exist). */
int rh_proc_start(struct rh_proc *p);

/* Wait for p to exit (flags: enum rh_proc_wait_flags). Returns 1 when it
 * has exited (reaped unless RH_PROC_NOREAP: p->status set, p->pid 0),
 * 0 when it still runs (RH_PROC_NOHANG), or a negative RH_ERR_*.
 * A p that was never started or is already reaped returns 1. */
int rh_proc_wait(struct rh_proc *p, unsigned flags);

/* Wait for p to exit and reap it, then close our ends of its pipes that
 * are still open. Returns 0 (the status is in p->status), or a negative
 * RH_ERR_* when waiting failed. */
int rh_proc_finish(struct rh_proc *p);

/* Send sig to p's process group (RH_PROC_PGROUP), or to p alone; nothing
 * once it is reaped. */
void rh_proc_kill(const struct rh_proc *p, int sig);

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
 * Returns the exit status 0..255, or a negative RH_ERR_* when it could
 * not be started (RH_ERR_NOTFOUND: no such program), died of a signal, or
 * ran past timeout_ms (RH_ERR_TIMEOUT), or line_fn's negative value. */
int rh_run(const char *const *argv, const struct rh_run_opts *o, char *tail, size_t tail_len);

#endif
