/*
 * Directories rehost creates for its own state, keys and logs.
 */
#ifndef REHOST_DIRS_H
#define REHOST_DIRS_H

#include <sys/types.h>

/* Create directory path and every missing parent, each with mode (before
 * the umask); directories that exist are left as they are. what names the
 * directory in the error ("state directory"). A first run on a fresh
 * machine needs this: /var/lib/rehost does not exist until rehost makes it.
 * Returns 0, RH_ERR_INVAL (empty or over-long path) or the errno-based
 * error of the component that could not be made (detail names it, and the
 * existing non-directory when that is the cause). */
int rh_mkdir_parents(const char *path, mode_t mode, const char *what);

#endif
