/*
 * Target side of incremental sync and block verify. The agent sends the
 * hashes of the source's used chunks; the target hashes the same chunks of
 * its disk, answers with the chunks that differ (NEED), and, for a sync,
 * receives them. The hashes of what the target holds are kept in
 * rehost-sums-diskN.bin, so the next sync also reports how many chunks were
 * written on the target in between (the seed overwrites them: §2.8).
 */
#define RH_LOG_COMPONENT "target"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "receiver-internal.h"
#include "rehost/endian.h"
#include "rehost/err.h"
#include "rehost/log.h"

static void sums_name(uint32_t disk, char *buf, size_t len)
{
	snprintf(buf, len, "rehost-sums-disk%u.bin", disk);
}

/* Make room for n entries in s (contents kept). */
static int grow(struct repl_sums *s, size_t n)
{
	uint64_t *ni = realloc(s->idx, (n ? n : 1) * sizeof *s->idx);
	uint8_t (*nh)[16];

	if (ni == NULL)
		return RH_ERR_NOMEM;
	s->idx = ni;
	nh = realloc(s->hash, (n ? n : 1) * sizeof *s->hash);
	if (nh == NULL)
		return RH_ERR_NOMEM;
	s->hash = nh;
	return 0;
}

int receiver_sync_sums(struct receiver *r, const struct rh_sums *m)
{
	struct repl_sums *p = &r->pending;
	uint64_t nchunks;

	if (!r->sync || m->disk >= r->ndisks)
		return rh_seterr(RH_ERR_PROTO, "SUMS outside a sync session or for disk %u", m->disk);
	if (p->n > 0 && r->pending_disk != m->disk)
		return rh_seterr(RH_ERR_PROTO, "SUMS for disk %u before disk %u ended", m->disk,
				 r->pending_disk);
	nchunks = (r->disks[m->disk].size + RH_SYNC_CHUNK - 1) / RH_SYNC_CHUNK;
	if (p->n + m->count > nchunks)
		return rh_seterr(RH_ERR_PROTO, "more SUMS than disk %u has chunks", m->disk);
	if (grow(p, p->n + m->count) < 0 || grow(&r->mine, p->n + m->count) < 0)
		return RH_ERR_NOMEM;
	for (uint32_t i = 0; i < m->count; i++) {
		const uint8_t *e = m->entries + (size_t)i * RH_PROTO_SUM_SIZE;
		uint64_t idx = rh_be64dec(e);

		/* Strictly increasing and inside the disk: checked before use. */
		if (idx >= nchunks || (p->n > 0 && idx <= p->idx[p->n - 1]))
			return rh_seterr(RH_ERR_PROTO, "SUMS chunk %" PRIu64 " out of order or range", idx);
		p->idx[p->n] = idx;
		memcpy(p->hash[p->n], e + 8, RH_SYNC_HASH_LEN);
		r->mine.idx[p->n] = idx;
		p->n++;
	}
	r->pending_disk = m->disk;
	/* Hash our copies of these chunks now, while the agent hashes its
	 * next batch: the two sides' reads overlap instead of adding up. */
	{
		struct repl_sums view = { r->mine.idx + r->mine.n, r->mine.hash + r->mine.n,
					  p->n - r->mine.n };
		int rc = repl_sums_hash(r->disks[m->disk].fd, r->disks[m->disk].size, &view,
					&r->mine_read);

		if (rc < 0)
			return rc;
		r->mine.n = p->n;
	}
	return 0;
}

static int send_need(struct receiver *r, uint32_t disk, const uint64_t *idx, size_t n)
{
	uint8_t *buf = r->frame; /* free between frames: the request was consumed */

	while (n > 0) {
		uint32_t k = (uint32_t)(n < RH_PROTO_NEED_MAX ? n : RH_PROTO_NEED_MAX);
		size_t hl = rh_proto_put_list_hdr(buf, RH_FRAME_BUF_SIZE, RH_MSG_NEED, disk, k);
		int rc;

		for (uint32_t i = 0; i < k; i++)
			rh_be64enc(buf + hl + 8 * (size_t)i, idx[i]);
		rc = rh_tls_write(r->c, buf, hl + 8 * (size_t)k);
		if (rc < 0)
			return rc;
		idx += k;
		n -= k;
	}
	return 0;
}

int receiver_sync_compare(struct receiver *r, uint32_t disk)
{
	struct repl_sums mine = { 0 }, old = { 0 };
	struct tdisk *d;
	uint64_t *need = NULL, changed = 0, read = 0;
	uint8_t buf[RH_PROTO_HDR_SIZE + RH_PROTO_POS_SIZE];
	struct rh_position end = { .disk = disk };
	char name[64];
	size_t nneed = 0;
	int rc;

	if (!r->sync || disk >= r->ndisks || (r->pending.n > 0 && r->pending_disk != disk))
		return rh_seterr(RH_ERR_PROTO, "SUMS_END for disk %u unexpected", disk);
	d = &r->disks[disk];
	/* Our hashes were computed as the sums arrived. */
	mine = r->mine;
	read = r->mine_read;
	memset(&r->mine, 0, sizeof r->mine);
	r->mine_read = 0;
	mine.n = r->pending.n;
	/* Chunks written on the target since the last sync (or the copy). */
	sums_name(disk, name, sizeof name);
	rc = repl_sums_load(r->state_dir, name, d->size / RH_SYNC_CHUNK + 1, &old);
	if (rc == RH_ERR_NOTFOUND || rc == RH_ERR_CORRUPT) {
		if (rc == RH_ERR_CORRUPT)
			rh_log_warn("ignoring %s: %s", name, rh_lasterr());
		changed = UINT64_MAX; /* unknown: first sync after the copy */
	} else if (rc < 0) {
		goto out;
	} else {
		for (size_t i = 0; i < mine.n; i++) {
			const uint8_t *h = repl_sums_find(&old, mine.idx[i]);

			if (h != NULL && memcmp(h, mine.hash[i], RH_SYNC_HASH_LEN) != 0)
				changed++;
		}
	}
	need = malloc((mine.n ? mine.n : 1) * sizeof *need);
	if (need == NULL) {
		rc = RH_ERR_NOMEM;
		goto out;
	}
	/* What the agent must send before DISK_END: exactly these chunks. */
	d->exp_bytes = 0;
	d->exp_sum = 0;
	for (size_t i = 0; i < mine.n; i++) {
		if (memcmp(mine.hash[i], r->pending.hash[i], RH_SYNC_HASH_LEN) != 0) {
			uint64_t off = mine.idx[i] * RH_SYNC_CHUNK;
			uint64_t len = d->size - off < RH_SYNC_CHUNK ? d->size - off : RH_SYNC_CHUNK;

			need[nneed++] = mine.idx[i];
			d->exp_bytes += len;
			d->exp_sum = rh_proto_sum_add(d->exp_sum, rh_proto_range_sum(off, len));
		}
	}
	rh_log_info("disk %u: compared %zu chunks (%" PRIu64 " bytes read): %zu differ, %s%" PRIu64
		    " changed on the target since the last sync", disk, mine.n, read, nneed,
		    changed == UINT64_MAX ? "unknown (first sync) / " : "",
		    changed == UINT64_MAX ? 0 : changed);
	rc = send_need(r, disk, need, nneed);
	if (rc < 0)
		goto out;
	end.offset = nneed;
	end.bytes = changed;
	/* Sync DATA arrives in increasing order from here, and is counted
	 * for this session only: the checkpoint's figures are the copy's. */
	d->written = (struct rpos){ 0 };
	d->planned = true;
	rc = rh_tls_write(r->c, buf, rh_proto_put_pos(buf, sizeof buf, RH_MSG_NEED_END, &end));
	if (r->verify) {
		repl_sums_release(&r->pending); /* nothing will be written */
		d->finished = rc == 0;
	}
out:
	free(need);
	repl_sums_release(&mine);
	repl_sums_release(&old);
	return rc;
}

int receiver_sync_disk_end(struct receiver *r, const struct rh_disk_end *e)
{
	uint32_t disk = e->disk;
	char name[64];
	int rc;

	if (r->verify)
		return rh_seterr(RH_ERR_PROTO, "DISK_END in a verify session");
	if (disk >= r->ndisks || r->disks[disk].finished)
		return rh_seterr(RH_ERR_PROTO, "DISK_END for disk %u unexpected", disk);
	if (r->pending.n > 0 && r->pending_disk != disk)
		return rh_seterr(RH_ERR_PROTO, "DISK_END for disk %u during disk %u", disk,
				 r->pending_disk);
	/* Data first, then the hashes that describe it; and only data that is
	 * what the comparison asked for: else the stored hashes would claim
	 * chunks the target does not hold, and the next sync would skip them. */
	rc = receiver_make_durable(r);
	if (rc < 0)
		return rc;
	rc = receiver_check_received(r, e, "sync");
	if (rc < 0)
		return rc;
	sums_name(disk, name, sizeof name);
	rc = repl_sums_save(r->state_dir, name, &r->pending);
	if (rc < 0)
		return rc;
	repl_sums_release(&r->pending);
	r->disks[disk].finished = true;
	rh_log_info("disk %u synced: %s, %" PRIu64 " bytes received", disk, r->disks[disk].path,
		    r->disks[disk].written.bytes);
	return receiver_send_pos(r, RH_MSG_DISK_DONE, disk);
}
