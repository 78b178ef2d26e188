/*
 * Freezing source filesystems (FIFREEZE) for a consistent final sync.
 *
 * A frozen filesystem blocks every writer, so the freeze is bounded twice:
 * rh_freeze_end() thaws in the normal path, and a watchdog process forked
 * by rh_freeze_begin() thaws when the timeout expires or when this process
 * dies for any reason (kill -9 included: its end of a pipe closes).
 */
#ifndef REHOST_FREEZE_H
#define REHOST_FREEZE_H

#include <stddef.h>

#define RH_FREEZE_MAX 64

struct rh_freeze;

/* Freeze the filesystems mounted at mounts[0..n) in order. On failure every
 * one already frozen is thawed and an error returned (RH_ERR_PERM,
 * RH_ERR_UNSUPPORTED for filesystems without freeze support, RH_ERR_BUSY
 * when already frozen, ...). timeout_s (1..3600) bounds the freeze. */
int rh_freeze_begin(const char *const *mounts, size_t n, unsigned timeout_s,
		    struct rh_freeze **out);

/* Thaw everything, stop the watchdog, free f, and report how long the
 * filesystems were frozen. Returns 0, or RH_ERR_TIMEOUT when the watchdog
 * had already thawed them (the final pass was then not consistent). */
int rh_freeze_end(struct rh_freeze *f, double *seconds);

#endif
