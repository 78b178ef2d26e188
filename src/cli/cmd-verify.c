/*
 * rehost verify: compare a migrated target with its source.
 *
 * Two modes share the command. File mode (this file) compares directory
 * trees: `--files` or `--source`/`--target` select it. Anything else is
 * block mode, handled by cmd_verify_block() in cmd-verify-block.c.
 */
#define RH_LOG_COMPONENT "verify"
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "rehost/dirs.h"
#include "rehost/err.h"
#include "rehost/fileverify.h"
#include "rehost/json.h"
#include "rehost/log.h"
#include "rehost/num.h"

#define DEFAULT_STATE_DIR "/var/lib/rehost/agent"
#define MAX_SHOWN 20 /* mismatches echoed to stderr; the result log has all */

enum progress_mode { PROGRESS_LOG, PROGRESS_JSON, PROGRESS_NONE };

void usage_verify(FILE *out)
{
	fprintf(out,
		"usage: rehost verify --files --source DIR --target DIR [--mode quick|crc]\n"
		"                     [--recheck] [--log-dir DIR] [--json] [--progress log|json|none]\n"
		"\n"
		"File mode compares the target directory tree with the source tree (the\n"
		"target's filesystem mounted here). It never follows symlinks (their targets\n"
		"are compared) and never crosses a mount point (reported as skipped).\n"
		"Block mode is described below.\n"
		"\n"
		"  --files               file mode (implied by --source/--target)\n"
		"  --source DIR          source tree\n"
		"  --target DIR          target tree\n"
		"  --mode quick|crc      quick: type, size, modification time (default);\n"
		"                        crc: type, size and CRC-64 of every file's content\n"
		"  --recheck             retest only the entries the last result log lists\n"
		"                        (mode defaults to that run's mode)\n"
		"  --log-dir DIR         where " RH_FVERIFY_LOG_NAME " and\n"
		"                        " RH_FVERIFY_SUMMARY_NAME " go (default: --state-dir)\n"
		"  --state-dir DIR       agent state directory (default " DEFAULT_STATE_DIR ")\n"
		"  --json                print the JSON summary on stdout (verdict on stderr)\n"
		"  --progress MODE       log (default: `verify speed: ...` every few seconds),\n"
		"                        json (one object per line on stdout) or none\n"
		"  --interval S          seconds between progress reports (default 5)\n"
		"\n"
		"Limits (seed): more than %u entries in one directory: the directory is\n"
		"skipped and reported; source paths of %u bytes or more: skipped and\n"
		"reported; the roots / /etc /dev /sys /usr /boot /run /proc are refused.\n"
		"\n"
		"Exit status: 0 the trees are identical (skipped entries are listed but do\n"
		"not count as mismatches), 1 mismatches were found or verify failed,\n"
		"2 usage error.\n",
		RH_FVERIFY_MAX_DIR_ENTRIES, RH_FVERIFY_MAX_PATH);
	fputc('\n', out);
	usage_verify_block(out);
}

struct cli_state {
	enum progress_mode progress;
	unsigned shown;
	uint64_t total;
};

static void on_progress(const struct rh_fverify_progress *p, void *arg)
{
	struct cli_state *cs = arg;

	if (cs->progress == PROGRESS_JSON) {
		printf("{\"event\":\"progress\",\"elapsed_s\":%.1f,\"percent\":%.1f,\"files\":%" PRIu64
		       ",\"total_files\":%" PRIu64 ",\"checked_bytes\":%" PRIu64 ",\"total_bytes\":%" PRIu64
		       ",\"read_bytes\":%" PRIu64 ",\"rate_mbps\":%.2f,\"mismatches\":%" PRIu64
		       ",\"final\":%s}\n",
		       p->elapsed_s, p->percent, p->files, p->total_files, p->bytes_checked,
		       p->total_bytes, p->bytes_read, p->rate / 1e6, p->mismatches,
		       p->final ? "true" : "false");
		fflush(stdout);
	} else if (cs->progress == PROGRESS_LOG) {
		rh_log_info("verify speed: %.2f MB/s, progress: %.1f, files: %" PRIu64
			    ", checked size: %" PRIu64 ", mismatches: %" PRIu64,
			    p->rate / 1e6, p->percent, p->files, p->bytes_checked, p->mismatches);
	}
}

static void on_entry(enum rh_fverify_kind kind, const char *path, const char *detail, void *arg)
{
	struct cli_state *cs = arg;

	cs->total++;
	if (cs->shown++ < MAX_SHOWN)
		fprintf(stderr, "rehost verify: %s %s: %s\n", rh_fverify_kind_name(kind), path, detail);
	else if (cs->shown == MAX_SHOWN + 1)
		fprintf(stderr, "rehost verify: ... more in the result log\n");
}

static void print_verdict(FILE *f, const struct rh_fverify_stats *st, const char *log)
{
	char sz[32], kinds[256] = "";
	size_t o = 0;

	rh_format_size(st->bytes_checked, sz, sizeof sz);
	for (int k = 0; k < RH_FV_NMISMATCH; k++) {
		if (st->count[k] == 0)
			continue;
		o += (size_t)snprintf(kinds + o, sizeof kinds - o, "%s%" PRIu64 " %s", o ? ", " : "",
				      st->count[k], rh_fverify_kind_name((enum rh_fverify_kind)k));
		if (o >= sizeof kinds)
			break;
	}
	if (st->mismatches == 0)
		fprintf(f, "verify %s%s: identical: %" PRIu64 " files, %" PRIu64 " directories, %s checked "
			"in %.1f s", rh_fverify_mode_name(st->mode), st->recheck ? " recheck" : "",
			st->files_checked, st->dirs_checked, sz, st->seconds);
	else
		fprintf(f, "verify %s%s: %" PRIu64 " MISMATCHES (%s) in %" PRIu64 " files, %" PRIu64
			" directories, %s checked in %.1f s", rh_fverify_mode_name(st->mode),
			st->recheck ? " recheck" : "", st->mismatches, kinds, st->files_checked,
			st->dirs_checked, sz, st->seconds);
	if (st->count[RH_FV_SKIPPED])
		fprintf(f, "; %" PRIu64 " skipped", st->count[RH_FV_SKIPPED]);
	fprintf(f, "; result log %s\n", log);
}

static int verify_files(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "files", no_argument, NULL, 'f' },
		{ "source", required_argument, NULL, 's' },
		{ "target", required_argument, NULL, 't' },
		{ "mode", required_argument, NULL, 'm' },
		{ "recheck", no_argument, NULL, 'r' },
		{ "log-dir", required_argument, NULL, 'l' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "progress", required_argument, NULL, 'p' },
		{ "interval", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	struct rh_fverify_opts o = { .mode = RH_FVERIFY_DEFAULT };
	struct rh_fverify_stats st;
	struct cli_state cs = { .progress = PROGRESS_LOG };
	const char *log_dir = NULL, *state_dir = DEFAULT_STATE_DIR;
	char *result_log = NULL, *summary = NULL;
	bool json = false;
	int64_t interval = 5;
	int c, rc, ret = EXIT_FAIL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f': break;
		case 's': o.source = optarg; break;
		case 't': o.target = optarg; break;
		case 'm':
			if (strcmp(optarg, "quick") == 0)
				o.mode = RH_FVERIFY_QUICK;
			else if (strcmp(optarg, "crc") == 0)
				o.mode = RH_FVERIFY_CRC;
			else
				return cli_usage_error("verify", "--mode %s: allowed quick, crc", optarg);
			break;
		case 'r': o.recheck = true; break;
		case 'l': log_dir = optarg; break;
		case 'S': state_dir = optarg; break;
		case 'j': json = true; break;
		case 'p':
			if (strcmp(optarg, "log") == 0)
				cs.progress = PROGRESS_LOG;
			else if (strcmp(optarg, "json") == 0)
				cs.progress = PROGRESS_JSON;
			else if (strcmp(optarg, "none") == 0)
				cs.progress = PROGRESS_NONE;
			else
				return cli_usage_error("verify", "--progress %s: allowed log, json, none", optarg);
			break;
		case 'i':
			if (rh_parse_i64(optarg, 1, 3600, &interval) < 0)
				return cli_usage_error("verify", "--interval %s: allowed 1 to 3600 (seconds)", optarg);
			break;
		default: return cli_usage_error("verify", "bad option (file mode)");
		}
	}
	if (optind != argc)
		return cli_usage_error("verify", "unexpected argument '%s'", argv[optind]);
	if (o.source == NULL || o.target == NULL)
		return cli_usage_error("verify", "file mode needs --source DIR and --target DIR");
	if (log_dir == NULL)
		log_dir = state_dir;
	if ((rc = rh_mkdir_parents(log_dir, 0750, "log directory")) < 0) {
		cli_report(rc, "verify");
		return EXIT_FAIL;
	}
	if (asprintf(&result_log, "%s/%s", log_dir, RH_FVERIFY_LOG_NAME) < 0 ||
	    asprintf(&summary, "%s/%s", log_dir, RH_FVERIFY_SUMMARY_NAME) < 0) {
		fprintf(stderr, "rehost: out of memory\n");
		return EXIT_FAIL; /* a failed asprintf leaves its pointer undefined */
	}
	o.result_log = result_log;
	o.summary_path = summary;
	o.on_entry = on_entry;
	o.entry_arg = &cs;
	if (cs.progress != PROGRESS_NONE) {
		o.progress = on_progress;
		o.progress_arg = &cs;
		o.progress_interval = (double)interval;
	}
	o.stop = &cli_stop;
	cli_signals_init(CLI_SIG_STOP, -1);

	rc = rh_fverify_run(&o, &st);
	if (rc < 0) {
		cli_report(rc, "verify");
		if (rc == RH_ERR_INTR)
			fprintf(stderr, "rehost: stopped; the previous result log (if any) was kept\n");
		goto out;
	}
	if (json) {
		json_t *j = rh_fverify_summary_json(&st, result_log);

		if (j != NULL) {
			json_object_set_new(j, "event", json_string("summary"));
			rh_json_dump_fd(STDOUT_FILENO, j, 0);
			json_decref(j);
		}
	}
	print_verdict(json || cs.progress == PROGRESS_JSON ? stderr : stdout, &st, result_log);
	ret = st.mismatches == 0 ? EXIT_OK : EXIT_FAIL;
out:
	free(result_log);
	free(summary);
	return ret;
}

/* File mode when --files, --source or --target appears; block mode otherwise. */
static bool wants_file_mode(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0)
			break;
		if (strcmp(a, "--files") == 0 || strcmp(a, "--source") == 0 ||
		    strcmp(a, "--target") == 0 || strncmp(a, "--source=", 9) == 0 ||
		    strncmp(a, "--target=", 9) == 0)
			return true;
	}
	return false;
}

int cmd_verify(int argc, char **argv)
{
	if (wants_file_mode(argc, argv))
		return verify_files(argc, argv);
	return cmd_verify_block(argc, argv);
}
