/* rehost target snapshot | snapshots | rollback (docs/snapshots.md). */
#define RH_LOG_COMPONENT "target"
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "rehost/err.h"
#include "rehost/json.h"
#include "rehost/num.h"
#include "rehost/snap.h"
#include "target/target.h"

enum { OPT_DISK_DIR = 1000, OPT_DISK, OPT_STATE_DIR, OPT_NAME, OPT_DELETE, OPT_TO, OPT_JSON };

static const struct option common_opts[] = {
	{ "disk-dir", required_argument, NULL, OPT_DISK_DIR },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "delete", required_argument, NULL, OPT_DELETE },
	{ "to", required_argument, NULL, OPT_TO },
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

static const char *opt_name(int val)
{
	for (const struct option *o = common_opts; o->name; o++)
		if (o->val == val)
			return o->name;
	return "?";
}

#define DISKS_HELP \
	"DISKS is --disk-dir DIR (the listener's), or --disk DEV... [--state-dir DIR]\n" \
	"(default state directory " TARGET_DEFAULT_STATE_DIR "). Refuses to run while a\n" \
	"replication session writes the disks. See docs/snapshots.md.\n"

void usage_target_snapshot(FILE *out)
{
	fprintf(out,
		"usage: rehost target snapshot DISKS --name NAME\n"
		"       rehost target snapshot DISKS --delete NAME\n"
		"\n"
		"Snapshot every received disk under NAME ([a-z0-9-]{1,32}), replacing a\n"
		"snapshot of that name; cutover takes `sync` before and `cutover` after its\n"
		"changes. Files are reflinked where the filesystem allows, else copied\n"
		"sparsely; each disk's XXH3 digest is recorded for rollback. --delete\n"
		"removes one.\n\n" DISKS_HELP);
}

void usage_target_snapshots(FILE *out)
{
	fprintf(out,
		"usage: rehost target snapshots DISKS [--json]\n"
		"\n"
		"List the snapshots of the received disks: name, creation time, disk count,\n"
		"size and space used.\n\n" DISKS_HELP);
}

void usage_target_rollback(FILE *out)
{
	fprintf(out,
		"usage: rehost target rollback DISKS --to NAME\n"
		"\n"
		"Put snapshot NAME back on the received disks, after checking its digests;\n"
		"a damaged snapshot is refused and the disks are left as they are. The\n"
		"digests are checked again after the copy.\n\n" DISKS_HELP);
}

struct snap_args {
	struct target_disks disks;
	struct rh_snap_target t;
	const char *name, *delete_name, *to;
	bool json;
};

/* Parse the options of one subcommand; allowed lists the option values
 * it takes beyond the disk selection. */
static int parse(const char *cmd, int argc, char **argv, const int *allowed, struct snap_args *a)
{
	int c, rc;

	memset(a, 0, sizeof *a);
	optind = 1;
	while ((c = getopt_long(argc, argv, "", common_opts, NULL)) != -1) {
		bool ok = c == OPT_DISK_DIR || c == OPT_DISK || c == OPT_STATE_DIR;

		for (const int *p = allowed; *p; p++)
			ok = ok || c == *p;
		if (c == '?')
			return cli_usage_error(cmd, "bad option");
		if (!ok)
			return cli_usage_error(cmd, "--%s does not apply here", opt_name(c));
		switch (c) {
		case OPT_DISK_DIR: a->disks.disk_dir = optarg; break;
		case OPT_DISK:
			if ((rc = target_disks_add(cmd, &a->disks, optarg)) != 0)
				return rc;
			break;
		case OPT_STATE_DIR: a->disks.state_dir = optarg; break;
		case OPT_NAME: a->name = optarg; break;
		case OPT_DELETE: a->delete_name = optarg; break;
		case OPT_TO: a->to = optarg; break;
		case OPT_JSON: a->json = true; break;
		}
	}
	if (optind != argc)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	return target_disks_finish(cmd, &a->disks, &a->t);
}

static const char *where(const struct snap_args *a)
{
	return a->disks.disk_dir ? a->disks.disk_dir : a->disks.state_dir;
}

int cmd_target_snapshot(int argc, char **argv)
{
	static const int allowed[] = { OPT_NAME, OPT_DELETE, 0 };
	const char *cmd = "target snapshot";
	struct rh_snap_stats st;
	struct snap_args a;
	char sz[32], wr[32];
	int rc = parse(cmd, argc, argv, allowed, &a);

	if (rc != 0)
		return rc;
	if ((a.name == NULL) == (a.delete_name == NULL))
		return cli_usage_error(cmd, "give --name NAME (take a snapshot) or --delete NAME");
	if (a.delete_name != NULL) {
		rc = rh_snap_delete(&a.t, a.delete_name);
		if (rc < 0) {
			cli_report(rc, "snapshot --delete %s", a.delete_name);
			return EXIT_FAIL;
		}
		printf("deleted snapshot %s of %s\n", a.delete_name, where(&a));
		return EXIT_OK;
	}
	rc = rh_snap_create(&a.t, a.name, &st);
	if (rc < 0) {
		cli_report(rc, "snapshot %s", a.name);
		return EXIT_FAIL;
	}
	printf("snapshot %s of %s: %s, %u of the disks reflinked, %s written in %.1f s\n", a.name,
	       where(&a), rh_format_size(st.bytes, sz, sizeof sz), st.reflinked,
	       rh_format_size(st.written, wr, sizeof wr), st.seconds);
	return EXIT_OK;
}

int cmd_target_rollback(int argc, char **argv)
{
	static const int allowed[] = { OPT_TO, 0 };
	const char *cmd = "target rollback";
	struct rh_snap_stats st;
	struct snap_args a;
	char sz[32], rd[32];
	int rc = parse(cmd, argc, argv, allowed, &a);

	if (rc != 0)
		return rc;
	if (a.to == NULL)
		return cli_usage_error(cmd, "--to NAME is required (rehost target snapshots lists the names)");
	rc = rh_snap_rollback(&a.t, a.to, &st);
	if (rc < 0) {
		cli_report(rc, "rollback to %s", a.to);
		return EXIT_FAIL;
	}
	printf("rolled %s back to snapshot %s: %s, digests verified (%s read) in %.1f s\n",
	       where(&a), a.to, rh_format_size(st.bytes, sz, sizeof sz),
	       rh_format_size(st.read, rd, sizeof rd), st.seconds);
	return EXIT_OK;
}

static int print_json(const struct snap_args *a, const struct rh_snap_info *v, size_t n)
{
	json_t *j = json_pack("{s:s, s:[]}", "dir", where(a), "snapshots");
	json_t *arr = j ? json_object_get(j, "snapshots") : NULL;
	int rc;

	if (j == NULL)
		return RH_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_pack("{s:s, s:s, s:I, s:I, s:[]}", "name", v[i].name, "created",
				      v[i].created, "size", (json_int_t)v[i].size, "used",
				      (json_int_t)v[i].used, "disks");

		if (s == NULL || json_array_append_new(arr, s) < 0) {
			json_decref(j);
			return RH_ERR_NOMEM;
		}
		for (size_t k = 0; k < v[i].ndisks; k++) {
			const struct rh_snap_disk *d = &v[i].disks[k];

			json_array_append_new(json_object_get(s, "disks"),
					      json_pack("{s:s, s:s, s:I, s:s, s:s}", "file", d->file,
							"source", d->source, "size", (json_int_t)d->size,
							"digest", d->digest, "method", d->method));
		}
	}
	rc = rh_json_dump_fd(1, j, 1);
	json_decref(j);
	return rc;
}

int cmd_target_snapshots(int argc, char **argv)
{
	static const int allowed[] = { OPT_JSON, 0 };
	const char *cmd = "target snapshots";
	struct rh_snap_info *v = NULL;
	struct snap_args a;
	size_t n = 0;
	uint64_t used = 0;
	char sz[32], us[32];
	int rc = parse(cmd, argc, argv, allowed, &a);

	if (rc != 0)
		return rc;
	rc = rh_snap_list(&a.t, &v, &n);
	if (rc < 0) {
		cli_report(rc, "snapshots");
		return EXIT_FAIL;
	}
	if (a.json) {
		rc = print_json(&a, v, n);
		free(v);
		if (rc < 0) {
			cli_report(rc, "snapshots");
			return EXIT_FAIL;
		}
		return EXIT_OK;
	}
	if (n == 0) {
		printf("no snapshots of %s\n", where(&a));
		free(v);
		return EXIT_OK;
	}
	printf("%-32s  %-20s  %5s  %12s  %12s  %s\n", "NAME", "CREATED", "DISKS", "SIZE", "USED",
	       "METHOD");
	for (size_t i = 0; i < n; i++) {
		printf("%-32s  %-20s  %5zu  %12s  %12s  %s\n", v[i].name, v[i].created, v[i].ndisks,
		       rh_format_size(v[i].size, sz, sizeof sz), rh_format_size(v[i].used, us, sizeof us),
		       v[i].disks[0].method);
		used += v[i].used;
	}
	printf("%zu snapshot%s, %s allocated (reflinked blocks shared with the disks count in full)\n",
	       n, n == 1 ? "" : "s", rh_format_size(used, us, sizeof us));
	free(v);
	return EXIT_OK;
}
