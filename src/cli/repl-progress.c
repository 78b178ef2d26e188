/*
 * How migrate, sync and block verify show progress (--progress): a
 * one-line bar, a log line in the seed's field names, or JSON lines, and
 * for the hashing phase of sync and verify lines of their own;
 * docs/replication.md, "Progress". The library computes the figures (struct rh_repl_progress)
 * and calls cli_repl_progress_show; tests and docs match this text, so
 * change it only with them.
 */
#define RH_LOG_COMPONENT "migrate"
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "rehost/log.h"
#include "rehost/num.h"

int cli_repl_progress_mode(const char *arg, enum cli_progress_mode *out)
{
	if (arg == NULL)
		*out = isatty(STDERR_FILENO) ? CLI_PROGRESS_BAR : CLI_PROGRESS_LOG;
	else if (strcmp(arg, "bar") == 0)
		*out = CLI_PROGRESS_BAR;
	else if (strcmp(arg, "log") == 0)
		*out = CLI_PROGRESS_LOG;
	else if (strcmp(arg, "json") == 0)
		*out = CLI_PROGRESS_JSON;
	else if (strcmp(arg, "none") == 0)
		*out = CLI_PROGRESS_NONE;
	else
		return -1;
	return 0;
}

static void show_json(const struct rh_repl_progress *p)
{
	printf("{\"elapsed_s\":%.1f,\"total_bytes\":%" PRIu64 ",\"replicated_bytes\":%" PRIu64
	       ",\"durable_bytes\":%" PRIu64 ",\"wire_bytes\":%" PRIu64
	       ",\"rate_mbit\":%.1f,\"wire_rate_mbit\":%.1f,\"remaining_s\":%.0f}\n",
	       p->elapsed_s, p->total_bytes, p->replicated_bytes, p->durable_bytes, p->wire_bytes,
	       p->rate * 8 / 1e6, p->wire_rate * 8 / 1e6, p->remaining_s);
	/* A reader of the pipe sees each line as it happens. */
	fflush(stdout);
}

/* The hashing phase of sync and block verify (docs/replication.md,
 * "Progress"): its own key set, so that the copy's lines keep theirs. */
static void show_hash_json(const struct rh_repl_progress *p)
{
	printf("{\"phase\":\"hash\",\"elapsed_s\":%.1f,\"total_bytes\":%" PRIu64
	       ",\"hashed_bytes\":%" PRIu64 ",\"percent\":%.1f,\"rate_mbit\":%.1f,\"remaining_s\":%.0f}\n",
	       p->elapsed_s, p->total_bytes, p->replicated_bytes, p->percent, p->rate * 8 / 1e6,
	       p->remaining_s);
	fflush(stdout);
}

/* What both bars show: the bar itself, the percentage, done and total
 * sizes, and the time left ("?" while unknown). */
struct bar_text {
	int pct;
	char bar[31], eta[32], total[32], done[32];
};

static void bar_text(const struct rh_repl_progress *p, struct bar_text *b)
{
	int w;

	b->pct = (int)p->percent;
	w = b->pct * 30 / 100;
	rh_format_size(p->total_bytes, b->total, sizeof b->total);
	rh_format_size(p->replicated_bytes, b->done, sizeof b->done);
	memset(b->bar, '#', (size_t)w);
	memset(b->bar + w, '.', (size_t)(30 - w));
	b->bar[30] = '\0';
	if (p->remaining_s >= 0)
		snprintf(b->eta, sizeof b->eta, "%.0fs", p->remaining_s);
	else
		snprintf(b->eta, sizeof b->eta, "?");
}

static void show_hash_bar(const struct rh_repl_progress *p)
{
	struct bar_text b;

	bar_text(p, &b);
	fprintf(stderr, "\rhashing [%s] %3d%% %s/%s %.0f MB/s ETA %s   ", b.bar, b.pct, b.done,
		b.total, p->rate / 1e6, b.eta);
	if (p->final)
		fputc('\n', stderr);
}

static void show_hash_log(const struct rh_repl_progress *p, const char *cmd)
{
	char tb[32], db[32], eta[32] = "?";

	rh_format_size(p->total_bytes, tb, sizeof tb);
	rh_format_size(p->replicated_bytes, db, sizeof db);
	if (p->remaining_s >= 0)
		snprintf(eta, sizeof eta, "%.0f", p->remaining_s);
	rh_log_info("%s hashing: %.1f %%, %s of %s, %.0f MB/s, remaining %s s", cmd ? cmd : "sync",
		    p->percent, db, tb, p->rate / 1e6, eta);
}

static void show_bar(const struct rh_repl_progress *p)
{
	struct bar_text b;

	bar_text(p, &b);
	/* \r redraws the line in place; the final call ends it. */
	fprintf(stderr, "\r[%s] %3d%% %s/%s %.0f Mbit/s (wire %.0f) ETA %s   ", b.bar, b.pct,
		b.done, b.total, p->rate * 8 / 1e6, p->wire_rate * 8 / 1e6, b.eta);
	if (p->final)
		fputc('\n', stderr);
}

void cli_repl_progress_show(const struct rh_repl_progress *p, void *arg)
{
	struct cli_repl_progress *r = arg;
	double last = r->last_s;

	/* Elapsed time starts again with every run (each sync cycle). */
	r->last_s = p->final ? 0 : p->elapsed_s;
	if (p->phase == RH_PHASE_HASH) {
		switch (r->mode) {
		case CLI_PROGRESS_JSON:
			show_hash_json(p);
			break;
		case CLI_PROGRESS_BAR:
			show_hash_bar(p);
			break;
		case CLI_PROGRESS_LOG:
			if (p->final || (unsigned)p->elapsed_s / r->interval_s != (unsigned)last / r->interval_s)
				show_hash_log(p, r->cmd);
			break;
		case CLI_PROGRESS_NONE:
			break;
		}
		return;
	}
	switch (r->mode) {
	case CLI_PROGRESS_JSON:
		show_json(p);
		break;
	case CLI_PROGRESS_BAR:
		show_bar(p);
		break;
	case CLI_PROGRESS_LOG:
		/* A line when the clock enters a new interval, and at the end. */
		if (p->final || (unsigned)p->elapsed_s / r->interval_s != (unsigned)last / r->interval_s)
			rh_log_info("migrate speed: %.2f Mbit/s, wire speed: %.2f Mbit/s, progress: %.1f, total size: %" PRIu64
				    ", replicate size: %" PRIu64 ", remaining: %.0f s",
				    p->rate * 8 / 1e6, p->wire_rate * 8 / 1e6, p->percent, p->total_bytes,
				    p->replicated_bytes, p->remaining_s < 0 ? 0 : p->remaining_s);
		break;
	case CLI_PROGRESS_NONE:
		break;
	}
}
