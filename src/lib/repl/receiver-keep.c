/*
 * What the target does with the data already written when a session
 * fails: fdatasync it and checkpoint it before the error is reported, so
 * that the same command resumes after it instead of sending it again.
 *
 * The hard case is a full disk: in --disk-dir mode the checkpoint lives on
 * the filesystem that just filled up, and writing it needs a new block.
 * So each writing session sets a little space aside in a reserve file and
 * gives it back, just before the last checkpoint, when the disk is full.
 */
#define RH_LOG_COMPONENT "target"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "receiver-internal.h"
#include "rehost/err.h"
#include "rehost/log.h"

#define RESERVE_FILE "rehost-target.reserve"
/* A checkpoint of 64 disks is about 20 KiB, written to a temporary file
 * before it replaces the old one; 1 MiB leaves room for the metadata. */
#define RESERVE_BYTES (1u << 20)

static void reserve_path(const struct receiver *r, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", r->state_dir, RESERVE_FILE);
}

void receiver_reserve(struct receiver *r)
{
	char path[4200];
	int fd;

	if (r->reserve_fd >= 0)
		return;
	reserve_path(r, path, sizeof path);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	/* Real blocks, not a sparse promise: that is the point. Without it
	 * (a filesystem without fallocate, or one already full) the session
	 * still runs; a full disk may then lose the last checkpoint interval. */
	if (posix_fallocate(fd, 0, RESERVE_BYTES) != 0) {
		rh_log_warn("cannot set aside %u KiB for the checkpoint in %s", RESERVE_BYTES >> 10,
			    r->state_dir);
		close(fd);
		unlink(path);
		return;
	}
	r->reserve_fd = fd;
}

void receiver_unreserve(struct receiver *r)
{
	char path[4200];

	if (r->reserve_fd < 0)
		return;
	reserve_path(r, path, sizeof path);
	unlink(path);
	close(r->reserve_fd);
	r->reserve_fd = -1;
}

void receiver_keep_written(struct receiver *r, int err)
{
	struct rh_err_saved saved;
	int rc;

	/* The record to report is err's: its own detail when the last error
	 * recorded is err, else err's description and default SMS code. */
	if (rh_lasterr_code() != err)
		rh_seterr(err, "%s", rh_strerror(err));
	rh_err_save(&saved);
	/* A failed round of the syncer is reported once; it is err or came
	 * after it, and must not stop the last checkpoint. */
	(void)receiver_syncer_wait(r);
	if (err == RH_ERR_NOSPACE)
		receiver_unreserve(r);
	rc = receiver_make_durable(r);
	if (rc == RH_ERR_NOSPACE && r->reserve_fd >= 0) {
		/* The disk filled up with this very checkpoint. */
		receiver_unreserve(r);
		rc = receiver_make_durable(r);
	}
	if (rc < 0)
		rh_log_warn("cannot checkpoint what was written before the error: %s", rh_lasterr());
	for (uint32_t i = 0; i < r->ndisks; i++)
		if (!r->sync && r->disks[i].state != RH_DISK_COMPLETE && r->disks[i].durable.off > 0)
			rh_log_info("disk %u: %llu bytes durable up to offset %llu; a rerun resumes there",
				    i, (unsigned long long)r->disks[i].durable.bytes,
				    (unsigned long long)r->disks[i].durable.off);
	rh_err_restore(&saved);
}
