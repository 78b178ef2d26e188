/* One writer at a time on a target's disks: the receiver (for a session)
 * and snapshot, rollback and grow each hold an flock on DIR/.lock, so a
 * snapshot never copies a disk that an agent is writing, and a rollback
 * never rewrites one under it. flock, not a PID file: the kernel drops it
 * when the holder dies, so a crash never leaves the disks locked. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "rehost/err.h"
#include "rehost/io.h"
#include "rehost/repl.h"

int rh_target_lock(const char *dir, const char *what, int *fd_out)
{
	char path[4096], holder[160] = "";
	int fd, n;
	size_t got;

	*fd_out = -1;
	n = snprintf(path, sizeof path, "%s/.lock", dir);
	if (n < 0 || (size_t)n >= sizeof path)
		return rh_seterr(RH_ERR_TOOBIG, "directory name too long: %s", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return rh_seterr_errno(errno, "cannot open lock file %s", path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		if (e != EWOULDBLOCK) {
			close(fd);
			return rh_seterr_errno(e, "cannot lock %s", path);
		}
		/* The holder wrote who it is; a short file or a torn or failed
		 * read only shortens the message (its error is replaced below). */
		(void)rh_pread_full(fd, holder, sizeof holder - 1, 0, &got);
		holder[got] = '\0';
		holder[strcspn(holder, "\n")] = '\0';
		close(fd);
		return rh_seterr(RH_ERR_BUSY,
				 "the target disks in %s are busy (%s holds %s); run this again when it has finished",
				 dir, holder[0] ? holder : "another rehost process", path);
	}
	n = snprintf(holder, sizeof holder, "%s, pid %ld\n", what, (long)getpid());
	if (ftruncate(fd, 0) == 0 && n > 0)
		(void)!pwrite(fd, holder, (size_t)n < sizeof holder ? (size_t)n : sizeof holder - 1, 0);
	*fd_out = fd;
	return 0;
}

void rh_target_unlock(int fd)
{
	if (fd < 0)
		return;
	/* Leave the file: removing it would race with a new locker that
	 * opened it before the unlink and would lock a deleted inode. */
	(void)!ftruncate(fd, 0);
	close(fd);
}
