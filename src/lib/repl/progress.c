/*
 * The figures of struct rh_repl_progress from the sender's byte counters,
 * sampled at most once a second. Rates are over the last 5 s, before and
 * after compression, as the seed measures them (INVENTORY §2.2). Showing
 * them is the caller's business (the rh_migrate_opts callback).
 */
#include "repl-internal.h"
#include "rehost/repl.h"

bool repl_progress_sample(struct repl_progress *p, uint64_t sent, bool force,
			  struct rh_repl_progress *out)
{
	double t = out->elapsed_s;
	uint64_t total = out->total_bytes, done = out->replicated_bytes;
	unsigned h = p->nhist % REPL_PROGRESS_HIST, old;

	if (!force && p->nhist > 0 && t - p->hist[(p->nhist - 1) % REPL_PROGRESS_HIST].t < 1.0)
		return false;
	p->hist[h].t = t;
	p->hist[h].raw = sent;
	p->hist[h].wire = out->wire_bytes;
	p->nhist++;
	/* Five intervals back: the sample about 5 s ago, else the first one. */
	old = p->nhist > 6 ? (p->nhist - 6) % REPL_PROGRESS_HIST : 0;
	out->rate = 0;
	out->wire_rate = 0;
	if (t - p->hist[old].t > 0.2) {
		out->rate = (double)(sent - p->hist[old].raw) / (t - p->hist[old].t);
		out->wire_rate = (double)(out->wire_bytes - p->hist[old].wire) / (t - p->hist[old].t);
	} else if (t > 0) {
		/* No window yet (a job shorter than a sample interval): the
		 * average since the start, not a misleading 0. */
		out->rate = (double)sent / t;
		out->wire_rate = (double)out->wire_bytes / t;
	}
	out->remaining_s = -1;
	if (out->rate > 0 && total >= done)
		out->remaining_s = (double)(total - done) / out->rate;
	out->percent = total ? 100.0 * (double)done / (double)total : 100.0;
	return true;
}
