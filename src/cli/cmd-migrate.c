/*
 * rehost migrate / rehost sync / rehost verify (block mode): one-shot block
 * replication between an agent and a `rehost target`. The three share
 * addressing, keys, state directory, pipeline options and progress.
 */
#define RH_LOG_COMPONENT "migrate"
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "rehost/config.h"
#include "rehost/err.h"
#include "rehost/freeze.h"
#include "rehost/log.h"
#include "rehost/num.h"
#include "rehost/repl.h"

#define MAX_DISKS 64

static const char common_help[] =
	"  --to HOST[:PORT]      target address (port default 8900)\n"
	"  --keys DIR            key directory from `rehost keygen` (agent.pem, agent.key, ca.pem)\n"
	"  --state-dir DIR       agent state: job id, chunk hashes (default /var/lib/rehost/agent)\n"
	"  --progress MODE       bar (default on a terminal), log (a line every few\n"
	"                        seconds), json (one object per line on stdout), none\n"
	"  -c, --config FILE     rehost.conf for defaults ([replication] section)\n";

static const char pipeline_help[] =
	"  --compress MODE       off, auto (default: idle cores, at most 3) or 1..3 threads\n"
	"  --buffer-mb N         buffer node size, 1..8 MiB (default 4; 6 nodes)\n"
	"  --limit-mbps N        cap the data stream at N Mbit/s (default: unlimited)\n"
	"  --limit-window HH:MM-HH:MM=MBIT\n"
	"                        a different cap during a local time window (repeat;\n"
	"                        0 = unlimited); outside all windows --limit-mbps applies\n";

void usage_migrate(FILE *out)
{
	fprintf(out,
		"usage: rehost migrate --disk PATH [--disk PATH...] --to HOST[:PORT] --keys DIR [options]\n"
		"\n"
		"Copy source disks (block devices or image files), in order, to a\n"
		"`rehost target`: partition tables and boot areas whole, partitions by\n"
		"their used blocks. Running the same command again after any interruption\n"
		"resumes from the target's durable checkpoint.\n"
		"\n%s%s"
		"  --new-job             start a new job instead of resuming the last one\n",
		common_help, pipeline_help);
}

void usage_sync(FILE *out)
{
	fprintf(out,
		"usage: rehost sync --disk PATH [--disk PATH...] --to HOST[:PORT] --keys DIR [options]\n"
		"\n"
		"Bring the target of a finished `rehost migrate` up to date: both sides\n"
		"hash every used 64 KiB chunk, and only chunks that differ are sent.\n"
		"Chunks written on the target since the last sync are overwritten and\n"
		"counted. An interrupted sync is simply run again. Use the same --disk\n"
		"list and --state-dir as the migration.\n"
		"\n%s%s"
		"  --continuous          repeat until stopped (SIGINT/SIGTERM), logging each cycle\n"
		"  --interval S          seconds between continuous cycles (default 60)\n"
		"  --freeze MOUNTPOINT   for a consistent final pass: sync, then freeze these\n"
		"                        filesystems (FIFREEZE), sync again, thaw (repeat)\n"
		"  --freeze-timeout S    thaw after at most S seconds whatever happens (default 30)\n",
		common_help, pipeline_help);
}

/* Used by `rehost verify` for block mode. */
void usage_verify_block(FILE *out)
{
	fprintf(out,
		"usage: rehost verify --disk PATH [--disk PATH...] --to HOST[:PORT] --keys DIR [options]\n"
		"\n"
		"Block mode: hash every used 64 KiB chunk of the source disks and of the\n"
		"target's copies, and list the chunks that differ. Nothing is written.\n"
		"Exit 0 when identical, 1 when chunks differ or on error.\n"
		"\n%s",
		common_help);
}

static int parse_compress(const char *v, int *out)
{
	int64_t n;

	if (strcmp(v, "auto") == 0)
		return *out = -1, 0;
	if (strcmp(v, "off") == 0)
		return *out = 0, 0;
	if (rh_parse_i64(v, 0, 3, &n) < 0)
		return -1;
	*out = (int)n;
	return 0;
}

struct freeze_ctx {
	const char *mounts[RH_FREEZE_MAX];
	size_t n;
	unsigned timeout;
	struct rh_freeze *f;
};

static void report_error(const char *cmd, int rc)
{
	cli_report(rc, "%s", cmd);
	/* Only for failures a rerun can get past; not for refusals. */
	if (rc == RH_ERR_CONNECT || rc == RH_ERR_TIMEOUT || rc == RH_ERR_PROTO ||
	    rc == RH_ERR_IO || rc == RH_ERR_NOSPACE || rc == RH_ERR_CORRUPT || rc == RH_ERR_INTR)
		fprintf(stderr, "rehost: data sent so far is kept; run the same command again to resume\n");
}

static const char *count_or_unknown(uint64_t v, char *buf, size_t len)
{
	if (v == UINT64_MAX)
		return "unknown (first sync)";
	snprintf(buf, len, "%" PRIu64, v);
	return buf;
}

/* One sync pass; logs the cycle. */
static int sync_pass(struct rh_migrate_opts *o, unsigned cycle, struct rh_migrate_stats *st)
{
	char a[32], b[32];
	int rc = rh_migrate_run(o, st);

	if (rc < 0)
		return rc;
	rh_log_info("sync cycle %u: %" PRIu64 " chunks compared, %" PRIu64 " differed, %" PRIu64
		    " bytes sent (%" PRIu64 " on the wire); source chunks changed since the last sync: %s; target chunks changed: %s; duration %.2f s",
		    cycle, st->chunks_compared, st->chunks_differ, st->sent_raw, st->sent_wire,
		    count_or_unknown(st->source_changed, a, sizeof a),
		    count_or_unknown(st->target_changed, b, sizeof b), st->seconds);
	return 0;
}

static int run_verify(struct rh_migrate_opts *o)
{
	struct rh_migrate_stats st;
	int rc = rh_migrate_run(o, &st);

	if (rc < 0) {
		report_error("verify", rc);
		return EXIT_FAIL;
	}
	for (size_t i = 0; i < st.chunks_differ && i < 8; i++)
		printf("differs: disk %u, bytes %" PRIu64 "..%" PRIu64 "\n", st.first_mismatch_disk[i],
		       st.first_mismatch[i], st.first_mismatch[i] + RH_SYNC_CHUNK - 1);
	if (st.chunks_differ > 8)
		printf("... and %" PRIu64 " more chunks\n", st.chunks_differ - 8);
	printf("verify: %" PRIu64 " chunks compared (%" PRIu64 " bytes hashed on the source), %" PRIu64
	       " differ: %s\n", st.chunks_compared, st.hashed_bytes, st.chunks_differ,
	       st.chunks_differ ? "target DIFFERS from source" : "target matches source");
	return st.chunks_differ ? EXIT_FAIL : EXIT_OK;
}

static int run_sync(struct rh_migrate_opts *o, bool continuous, unsigned interval,
		    struct freeze_ctx *fc)
{
	struct rh_migrate_stats st;
	unsigned cycle = 1;
	int rc;

	if (fc->n > 0) {
		double frozen = 0;
		int rc2;

		/* Warm pass while the source runs, then a short frozen pass. */
		rc = sync_pass(o, cycle++, &st);
		if (rc < 0)
			goto fail;
		/* Frozen before the comparison, so hashes and data both come
		 * from one point in time. */
		rh_log_info("final pass: freezing %zu filesystem%s for at most %u s", fc->n,
			    fc->n == 1 ? "" : "s", fc->timeout);
		rc = rh_freeze_begin(fc->mounts, fc->n, fc->timeout, &fc->f);
		if (rc < 0)
			goto fail;
		rc = sync_pass(o, cycle, &st);
		rc2 = rh_freeze_end(fc->f, &frozen);
		fc->f = NULL;
		printf("final sync: %" PRIu64 " bytes sent, filesystems frozen for %.3f s\n",
		       st.sent_raw, frozen);
		if (rc == 0)
			rc = rc2;
		if (rc < 0)
			goto fail;
		return EXIT_OK;
	}
	do {
		time_t next = time(NULL) + interval;

		rc = sync_pass(o, cycle++, &st);
		if (rc < 0 && !continuous)
			goto fail;
		if (rc < 0)
			report_error("sync", rc); /* continuous: keep trying */
		while (continuous && !cli_stop && time(NULL) < next)
			sleep(1);
	} while (continuous && !cli_stop);
	if (!continuous)
		printf("sync: %" PRIu64 " chunks compared, %" PRIu64 " differed, %" PRIu64 " bytes sent\n",
		       st.chunks_compared, st.chunks_differ, st.sent_raw);
	return EXIT_OK;
fail:
	report_error("sync", rc);
	return EXIT_FAIL;
}

int cli_repl_run(const char *cmd, enum rh_repl_mode mode, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "disk", required_argument, NULL, 'd' },
		{ "to", required_argument, NULL, 't' },
		{ "keys", required_argument, NULL, 'k' },
		{ "compress", required_argument, NULL, 'z' },
		{ "buffer-mb", required_argument, NULL, 'b' },
		{ "limit-mbps", required_argument, NULL, 'l' },
		{ "limit-window", required_argument, NULL, 'w' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "new-job", no_argument, NULL, 'n' },
		{ "progress", required_argument, NULL, 'p' },
		{ "config", required_argument, NULL, 'c' },
		{ "continuous", no_argument, NULL, 'C' },
		{ "interval", required_argument, NULL, 'i' },
		{ "freeze", required_argument, NULL, 'F' },
		{ "freeze-timeout", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	const char *disks[MAX_DISKS], *config = NULL, *compress = NULL, *progress = NULL;
	const char *windows[RH_RATESCHED_MAX];
	size_t nwindows = 0;
	struct rh_migrate_opts o = { .mode = mode, .state_dir = "/var/lib/rehost/agent" };
	struct cli_repl_progress pr = { .interval_s = 5, .cmd = cmd };
	struct freeze_ctx fc = { .timeout = 30 };
	struct rh_migrate_stats st;
	struct rh_config *cfg = NULL;
	int64_t buffer_mb = 0, limit = -1, interval = 60, ftimeout;
	bool continuous = false;
	int c, rc;

	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		/* Options that make no sense for this command are usage errors. */
		if ((strchr("nzblw", c) && mode == RH_REPL_VERIFY) ||
		    (strchr("CiFT", c) && mode != RH_REPL_SYNC) || (c == 'n' && mode != RH_REPL_MIGRATE))
			return cli_usage_error(cmd, "option not valid for rehost %s", cmd);
		switch (c) {
		case 'd':
			if (o.ndisks >= MAX_DISKS)
				return cli_usage_error(cmd, "at most %d --disk", MAX_DISKS);
			disks[o.ndisks++] = optarg;
			break;
		case 't': o.target = optarg; break;
		case 'k': o.key_dir = optarg; break;
		case 'z': compress = optarg; break;
		case 'b':
			if (rh_parse_i64(optarg, 1, 8, &buffer_mb) < 0)
				return cli_usage_error(cmd, "--buffer-mb %s: allowed 1 to 8 (MiB)", optarg);
			break;
		case 'l':
			if (rh_parse_i64(optarg, 1, 100000, &limit) < 0)
				return cli_usage_error(cmd, "--limit-mbps %s: allowed 1 to 100000 (Mbit/s)", optarg);
			break;
		case 'w':
			if (nwindows >= RH_RATESCHED_MAX)
				return cli_usage_error(cmd, "at most %u --limit-window", RH_RATESCHED_MAX);
			windows[nwindows++] = optarg;
			break;
		case 's': o.state_dir = optarg; break;
		case 'n': o.new_job = true; break;
		case 'p': progress = optarg; break;
		case 'c': config = optarg; break;
		case 'C': continuous = true; break;
		case 'i':
			if (rh_parse_i64(optarg, 1, 86400, &interval) < 0)
				return cli_usage_error(cmd, "--interval %s: allowed 1 to 86400 (s)", optarg);
			break;
		case 'F':
			if (fc.n >= RH_FREEZE_MAX)
				return cli_usage_error(cmd, "at most %d --freeze", RH_FREEZE_MAX);
			fc.mounts[fc.n++] = optarg;
			break;
		case 'T':
			if (rh_parse_i64(optarg, 1, 3600, &ftimeout) < 0)
				return cli_usage_error(cmd, "--freeze-timeout %s: allowed 1 to 3600 (s)", optarg);
			fc.timeout = (unsigned)ftimeout;
			break;
		default: return cli_usage_error(cmd, "bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	if (o.ndisks == 0 || o.target == NULL || o.key_dir == NULL)
		return cli_usage_error(cmd, "--disk, --to and --keys are required");
	if (continuous && fc.n > 0)
		return cli_usage_error(cmd, "--freeze is for a one-shot final sync, not --continuous");

	/* Defaults come from rehost.conf; command-line options win. */
	if ((rc = rh_config_new(&cfg)) < 0 ||
	    (config != NULL && (rc = rh_config_load_file(cfg, config)) < 0)) {
		cli_report(rc, NULL);
		rh_config_free(cfg);
		return EXIT_FAIL;
	}
	o.compress_threads = (int)rh_config_int(cfg, "replication", "compress_threads");
	if (buffer_mb == 0)
		buffer_mb = rh_config_int(cfg, "replication", "buffer_node_mb");
	if (limit < 0)
		limit = rh_config_int(cfg, "replication", "rate_limit_mbit");
	o.rates.default_mbit = (uint64_t)limit;
	if (nwindows == 0) {
		size_t n;
		const char *const *w = rh_config_list(cfg, "replication", "rate_windows", &n);

		for (size_t i = 0; i < n && i < RH_RATESCHED_MAX; i++)
			rh_ratesched_add(&o.rates, w[i]); /* validated when the file was read */
	}
	for (size_t i = 0; i < nwindows; i++) {
		if (rh_ratesched_add(&o.rates, windows[i]) < 0) {
			rh_config_free(cfg);
			return cli_usage_error(cmd, "--limit-window: %s", rh_lasterr());
		}
	}
	rh_config_free(cfg);
	if (compress != NULL && parse_compress(compress, &o.compress_threads) < 0)
		return cli_usage_error(cmd, "--compress %s: allowed off, auto, 1, 2, 3", compress);
	o.node_size = (uint32_t)buffer_mb << 20;
	if (cli_repl_progress_mode(progress, &pr.mode) < 0)
		return cli_usage_error(cmd, "--progress %s: allowed bar, log, json, none", progress);
	if (pr.mode != CLI_PROGRESS_NONE) {
		o.progress = cli_repl_progress_show;
		o.progress_arg = &pr;
	}
	o.disks = disks;
	/* A stopped sync (continuous or not) ends its cycle and says so; a
	 * migrate is simply killed: it resumes from the target's checkpoint. */
	if (mode == RH_REPL_SYNC) {
		cli_signals_init(CLI_SIG_STOP | CLI_SIG_IGNORE_PIPE, -1);
		return run_sync(&o, continuous, (unsigned)interval, &fc);
	}
	cli_signals_init(CLI_SIG_IGNORE_PIPE, -1);
	if (mode == RH_REPL_VERIFY)
		return run_verify(&o);
	rc = rh_migrate_run(&o, &st);
	if (rc < 0) {
		report_error(cmd, rc);
		return EXIT_FAIL;
	}
	rh_log_info("migration complete: %zu disks, %" PRIu64 " bytes planned, %" PRIu64
		    " sent (%" PRIu64 " on the wire, %" PRIu64 " already on the target) in %.1f s",
		    o.ndisks, st.total_bytes, st.sent_raw, st.sent_wire, st.skipped_resume, st.seconds);
	return EXIT_OK;
}

int cmd_migrate(int argc, char **argv)
{
	return cli_repl_run("migrate", RH_REPL_MIGRATE, argc, argv);
}

int cmd_sync(int argc, char **argv)
{
	return cli_repl_run("sync", RH_REPL_SYNC, argc, argv);
}
