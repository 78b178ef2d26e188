/* rehost migrate: one-shot block replication of source disks to a target. */
#define RH_LOG_COMPONENT "migrate"
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "rehost/config.h"
#include "rehost/err.h"
#include "rehost/log.h"
#include "rehost/num.h"
#include "rehost/repl.h"

#define MAX_DISKS 64

void usage_migrate(FILE *out)
{
	fprintf(out,
		"usage: rehost migrate --disk PATH [--disk PATH...] --to HOST[:PORT] --keys DIR [options]\n"
		"\n"
		"Copy source disks (block devices or image files), in order, to a\n"
		"`rehost target`. Running the same command again after any interruption\n"
		"resumes from the target's durable checkpoint.\n"
		"\n"
		"  --to HOST[:PORT]      target address (port default 8900)\n"
		"  --keys DIR            key directory from `rehost keygen` (agent.pem, agent.key, ca.pem)\n"
		"  --compress MODE       off, auto (default: idle cores, at most 3) or 1..3 threads\n"
		"  --buffer-mb N         buffer node size, 1..8 MiB (default 4; 6 nodes)\n"
		"  --limit-mbps N        cap the data stream at N Mbit/s (default: unlimited)\n"
		"  --limit-window HH:MM-HH:MM=MBIT\n"
		"                        a different cap during a local time window (repeat;\n"
		"                        0 = unlimited); outside all windows --limit-mbps applies\n"
		"  --state-dir DIR       agent checkpoint (default /var/lib/rehost/agent)\n"
		"  --new-job             start a new job instead of resuming the last one\n"
		"  --progress MODE       bar (default on a terminal), log (a line every few\n"
		"                        seconds), json (one object per line on stdout), none\n"
		"  -c, --config FILE     rehost.conf for defaults ([replication] section)\n");
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

int cmd_migrate(int argc, char **argv)
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
		{ NULL, 0, NULL, 0 },
	};
	const char *disks[MAX_DISKS], *config = NULL, *compress = NULL, *progress = NULL;
	const char *windows[RH_RATESCHED_MAX];
	size_t nwindows = 0;
	struct rh_migrate_opts o = { .state_dir = "/var/lib/rehost/agent", .progress_interval = 5 };
	struct rh_migrate_stats st;
	struct rh_config *cfg = NULL;
	int64_t buffer_mb = 0, limit = -1;
	int c, rc;

	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (o.ndisks >= MAX_DISKS)
				return cli_usage_error("migrate", "at most %d --disk", MAX_DISKS);
			disks[o.ndisks++] = optarg;
			break;
		case 't': o.target = optarg; break;
		case 'k': o.key_dir = optarg; break;
		case 'z': compress = optarg; break;
		case 'b':
			if (rh_parse_i64(optarg, 1, 8, &buffer_mb) < 0)
				return cli_usage_error("migrate", "--buffer-mb %s: allowed 1 to 8 (MiB)", optarg);
			break;
		case 'l':
			if (rh_parse_i64(optarg, 1, 100000, &limit) < 0)
				return cli_usage_error("migrate", "--limit-mbps %s: allowed 1 to 100000 (Mbit/s)", optarg);
			break;
		case 'w':
			if (nwindows >= RH_RATESCHED_MAX)
				return cli_usage_error("migrate", "at most %u --limit-window", RH_RATESCHED_MAX);
			windows[nwindows++] = optarg;
			break;
		case 's': o.state_dir = optarg; break;
		case 'n': o.new_job = true; break;
		case 'p': progress = optarg; break;
		case 'c': config = optarg; break;
		default: return cli_usage_error("migrate", "bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error("migrate", "unexpected argument '%s'", argv[optind]);
	if (o.ndisks == 0 || o.target == NULL || o.key_dir == NULL)
		return cli_usage_error("migrate", "--disk, --to and --keys are required");

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
			return cli_usage_error("migrate", "--limit-window: %s", rh_lasterr());
		}
	}
	rh_config_free(cfg);
	if (compress != NULL && parse_compress(compress, &o.compress_threads) < 0)
		return cli_usage_error("migrate", "--compress %s: allowed off, auto, 1, 2, 3", compress);
	o.node_size = (uint32_t)buffer_mb << 20;
	if (progress == NULL)
		o.progress = isatty(STDERR_FILENO) ? RH_PROGRESS_BAR : RH_PROGRESS_LOG;
	else if (strcmp(progress, "bar") == 0)
		o.progress = RH_PROGRESS_BAR;
	else if (strcmp(progress, "log") == 0)
		o.progress = RH_PROGRESS_LOG;
	else if (strcmp(progress, "json") == 0)
		o.progress = RH_PROGRESS_JSON;
	else if (strcmp(progress, "none") == 0)
		o.progress = RH_PROGRESS_NONE;
	else
		return cli_usage_error("migrate", "--progress %s: allowed bar, log, json, none", progress);
	o.disks = disks;
	signal(SIGPIPE, SIG_IGN);

	rc = rh_migrate_run(&o, &st);
	if (rc < 0) {
		cli_report(rc, "migrate");
		/* Only for failures a rerun can get past; not for refusals. */
		if (rc == RH_ERR_CONNECT || rc == RH_ERR_TIMEOUT || rc == RH_ERR_PROTO ||
		    rc == RH_ERR_IO || rc == RH_ERR_NOSPACE || rc == RH_ERR_CORRUPT || rc == RH_ERR_INTR)
			fprintf(stderr, "rehost: data sent so far is kept; run the same command again to resume\n");
		return EXIT_FAIL;
	}
	rh_log_info("migration complete: %zu disks, %" PRIu64 " bytes planned, %" PRIu64
		    " sent (%" PRIu64 " on the wire, %" PRIu64 " already on the target) in %.1f s",
		    o.ndisks, st.total_bytes, st.sent_raw, st.sent_wire, st.skipped_resume, st.seconds);
	return EXIT_OK;
}
