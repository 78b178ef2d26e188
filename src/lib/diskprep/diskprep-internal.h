/* Private to src/lib/diskprep. */
#ifndef REHOST_DISKPREP_INTERNAL_H
#define REHOST_DISKPREP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* run.c: run a system tool (found in PATH or the sbin directories) with
 * stdin from /dev/null and stdout+stderr captured; the last outlen-1
 * bytes are kept in out (NUL-terminated; out may be NULL). Returns its
 * exit status 0..255, or a negative RH_ERR_* when it could not run or
 * died of a signal (detail set). */
int diskprep_run(const char *const *argv, char *out, size_t outlen);

/* growfs.c: grow the filesystem or PV of blkid type `type` in
 * [offset, offset+size) of path to fill the range. Returns 0 when grown,
 * RH_ERR_UNSUPPORTED for types it cannot grow (detail says so), or an
 * error from the tool. */
int diskprep_growfs(const char *path, uint64_t offset, uint64_t size, const char *type);

#endif
