/*
 * Running another program (update-initramfs, grub-mkconfig, resize2fs,
 * mtools...) with its output logged line by line and its last lines kept
 * for the error message.
 */
#ifndef REHOST_PROC_H
#define REHOST_PROC_H

#include <stdbool.h>
#include <stddef.h>

struct rh_run_opts {
	const char *chroot;          /* run chrooted in this directory; NULL: on the host */
	bool clean_env;              /* a fixed minimal environment (PATH, LANG=C,
				      * DEBIAN_FRONTEND=noninteractive) instead of ours */
	const char *const *env_add;  /* extra NAME=VALUE entries, NULL-terminated, or NULL */
};

/* Run argv (argv[0] a path, or a name searched in PATH plus the sbin
 * directories) with stdin from /dev/null and stdout+stderr logged at info
 * level; the last lines go to tail (NUL-terminated; tail may be NULL).
 * Returns the exit status 0..255 (127: could not be executed), or a
 * negative RH_ERR_* when it could not be started or died of a signal. */
int rh_run(const char *const *argv, const struct rh_run_opts *o, char *tail, size_t tail_len);

#endif
