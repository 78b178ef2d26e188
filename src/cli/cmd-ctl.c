/* rehost ctl: client of the control plane's REST API (docs/api.md). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "rehost/api.h"
#include "rehost/err.h"
#include "rehost/json.h"
#include "rehost/num.h"

#define MAX_LIST 64
#define MAX_FILE (8u << 20)

void usage_ctl(FILE *out)
{
	fprintf(out,
		"usage: rehost ctl [--url URL] [--cacert FILE] [--insecure] [--config FILE] [--json]\n"
		"                  COMMAND [ARGS]\n"
		"\n"
		"Client of `rehost server`. Every request is signed with an access key.\n"
		"\n"
		"Commands:\n"
		"  sources list [--connection connected|disconnected] [--name PREFIX]\n"
		"               [--os-type linux|windows] [--limit N] [--offset N]\n"
		"  sources show ID | sources delete ID\n"
		"  sources estimate ID --bandwidth MBIT [--utilisation U] [--mode block|file]\n"
		"  tasks list [--state STATE] [--source ID] [--limit N] [--offset N]\n"
		"  tasks show ID\n"
		"  tasks create --file CONFIG.json\n"
		"  tasks create --source ID --target HOST[:PORT] --disk SIZE [--disk SIZE...]\n"
		"               [--name NAME] [--mode block|file] [--firmware bios|uefi]\n"
		"               [--os-type linux|windows] [--continuous-sync yes|no]\n"
		"               [--compress-threads auto|0-3] [--buffer-size 1M-8M]\n"
		"               [--rate-limit [HH:MM-HH:MM=]MBIT]... [--exclude PATH]...\n"
		"               [--sync-only PATH]... [--sync-exclude PATH]...\n"
		"               [--cpu-limit PCT] [--memory-limit SIZE] [--disk-limit SIZE]\n"
		"               [--network-check] [--bandwidth MBIT]\n"
		"  tasks set ID --file SETTINGS.json | tasks set ID KEY=JSON...\n"
		"  tasks start|pause|resume|sync|cutover|test|clear|delete ID\n"
		"  tasks watch ID [--interval SECONDS] [--timeout SECONDS]\n"
		"  raw METHOD PATH [--data JSON|@FILE]   print the answer; exit 0 on 2xx\n"
		"\n"
		"Server and keys come from the options, then the environment (REHOST_URL,\n"
		"REHOST_AK, REHOST_SK, REHOST_CACERT), then the config file\n"
		"(--config, REHOST_CTL_CONFIG or ~/.config/rehost/ctl.conf) with lines\n"
		"  url = https://host:8443\n"
		"  access_key = RHAK...\n"
		"  secret_key = ...\n"
		"  ca_cert = /path/server.pem\n"
		"  insecure = false\n"
		"A config file holding a secret key must not be readable by others.\n");
}

struct ctl {
	struct rh_api_opts o;
	bool json;
	char *cfg_url, *cfg_ak, *cfg_sk, *cfg_ca;
	struct rh_api_client *client;
};

/* ---- configuration ---- */

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int load_config(struct ctl *c, const char *path, bool explicit)
{
	char line[4096];
	struct stat stb;
	FILE *f;
	int n = 0;

	f = fopen(path, "re");
	if (f == NULL) {
		if (!explicit && errno == ENOENT)
			return 0;
		fprintf(stderr, "rehost: error: cannot read %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		char *eq, *k, *v;

		n++;
		k = trim(line);
		if (*k == '\0' || *k == '#' || *k == ';')
			continue;
		eq = strchr(k, '=');
		if (eq == NULL) {
			fprintf(stderr, "rehost: error: %s:%d: expected KEY = VALUE\n", path, n);
			fclose(f);
			return -1;
		}
		*eq = '\0';
		k = trim(k);
		v = trim(eq + 1);
		if (strcmp(k, "url") == 0) {
			free(c->cfg_url);
			c->cfg_url = strdup(v);
		} else if (strcmp(k, "access_key") == 0) {
			free(c->cfg_ak);
			c->cfg_ak = strdup(v);
		} else if (strcmp(k, "secret_key") == 0) {
			free(c->cfg_sk);
			c->cfg_sk = strdup(v);
			if (fstat(fileno(f), &stb) == 0 && (stb.st_mode & 077) != 0) {
				fprintf(stderr, "rehost: error: %s holds a secret key but group or others "
					"can read it; chmod 600 it\n", path);
				fclose(f);
				return -1;
			}
		} else if (strcmp(k, "ca_cert") == 0) {
			free(c->cfg_ca);
			c->cfg_ca = strdup(v);
		} else if (strcmp(k, "insecure") == 0) {
			c->o.insecure = strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "1") == 0;
		} else {
			fprintf(stderr, "rehost: error: %s:%d: unknown key '%s' (url, access_key, "
				"secret_key, ca_cert, insecure)\n", path, n, k);
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

static int connect_client(struct ctl *c)
{
	int rc;

	if (c->o.url == NULL)
		c->o.url = getenv("REHOST_URL") ? getenv("REHOST_URL") : c->cfg_url;
	if (c->o.ak == NULL)
		c->o.ak = getenv("REHOST_AK") ? getenv("REHOST_AK") : c->cfg_ak;
	if (c->o.sk == NULL)
		c->o.sk = getenv("REHOST_SK") ? getenv("REHOST_SK") : c->cfg_sk;
	if (c->o.ca_file == NULL)
		c->o.ca_file = getenv("REHOST_CACERT") ? getenv("REHOST_CACERT") : c->cfg_ca;
	if (c->o.url == NULL)
		return cli_usage_error("ctl", "no server URL: use --url, REHOST_URL or url = in the "
				       "config file");
	rc = rh_api_client_new(&c->o, &c->client);
	if (rc < 0) {
		cli_report(rc, NULL);
		return EXIT_FAIL;
	}
	return 0;
}

/* ---- output helpers ---- */

static const char *js(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "-";
}

static char *size_str(const json_t *v, char *buf, size_t len)
{
	if (!json_is_integer(v))
		snprintf(buf, len, "-");
	else
		rh_format_size((uint64_t)json_integer_value(v), buf, len);
	return buf;
}

static char *duration_str(const json_t *v, char *buf, size_t len)
{
	int64_t s = json_is_integer(v) ? json_integer_value(v) : -1;

	if (s < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%02" PRId64 ":%02" PRId64 ":%02" PRId64, s / 3600, s / 60 % 60, s % 60);
	return buf;
}

static void dump(const json_t *j)
{
	rh_json_dump_fd(STDOUT_FILENO, j, 1);
}

/* Run a call; print the error on failure. */
static int call(struct ctl *c, const char *method, const char *path, const json_t *body,
		json_t **out, const char *what)
{
	int rc = rh_api_call(c->client, method, path, body, out);

	if (rc < 0) {
		cli_report(rc, "%s", what);
		if (c->json && *out != NULL)
			dump(*out);
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

static void print_source(const json_t *s)
{
	char a[32], b[32];

	printf("id:              %s\n", js(s, "id"));
	printf("name:            %s\n", js(s, "name"));
	printf("connection:      %s (last heartbeat %s)\n", js(s, "connection"),
	       js(s, "last_heartbeat_at"));
	printf("os:              %s (%s, %s, %s)\n", js(s, "os"), js(s, "os_type"), js(s, "arch"),
	       js(s, "firmware"));
	printf("cpus, memory:    %" JSON_INTEGER_FORMAT ", %s\n",
	       json_integer_value(json_object_get(s, "cpus")),
	       size_str(json_object_get(s, "memory_bytes"), a, sizeof a));
	printf("disks:           %" JSON_INTEGER_FORMAT " (%s, %s used)\n",
	       json_integer_value(json_object_get(s, "disk_count")),
	       size_str(json_object_get(s, "disk_bytes"), a, sizeof a),
	       size_str(json_object_get(s, "used_bytes"), b, sizeof b));
	printf("ip:              %s\n", js(s, "ip"));
	printf("migratable:      %s (recommended mode: %s)\n",
	       json_is_true(json_object_get(s, "migratable")) ? "yes" : "no",
	       js(s, "recommended_mode"));
	printf("agent:           %s, registered %s\n", js(s, "agent_version"), js(s, "registered_at"));
}

static void progress_bar(const json_t *t, char *buf, size_t len)
{
	const json_t *p = json_object_get(t, "progress");
	double pct = json_number_value(json_object_get(p, "percent"));
	char bar[31], a[32], b[32], d[32];
	int fill = (int)lround(pct * 30 / 100);

	for (int i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[30] = '\0';
	snprintf(buf, len, "[%s] %5.1f%%  %8.1f Mbit/s  %s / %s  remaining %s  %s", bar, pct,
		 json_number_value(json_object_get(p, "rate_mbit_per_s")),
		 size_str(json_object_get(p, "migrated_bytes"), a, sizeof a),
		 size_str(json_object_get(p, "total_bytes"), b, sizeof b),
		 duration_str(json_object_get(p, "remaining_seconds"), d, sizeof d), js(t, "state"));
}

static void print_task(const json_t *t)
{
	const json_t *sub, *e = json_object_get(t, "error"), *est = json_object_get(t, "estimate");
	char line[256], a[32];
	size_t i;

	printf("id:              %s\n", js(t, "id"));
	printf("name:            %s\n", js(t, "name"));
	printf("source:          %s\n", js(t, "source_id"));
	printf("state:           %s%s%s\n", js(t, "state"),
	       json_is_string(json_object_get(t, "phase")) ? ", phase " : "",
	       json_is_string(json_object_get(t, "phase")) ? js(t, "phase") : "");
	printf("mode:            %s\n", js(t, "mode"));
	printf("target:          %s\n", js(json_object_get(json_object_get(t, "config"), "target"), "address"));
	progress_bar(t, line, sizeof line);
	printf("progress:        %s\n", line);
	printf("elapsed:         %s\n",
	       duration_str(json_object_get(json_object_get(t, "progress"), "elapsed_seconds"), a, sizeof a));
	if (json_is_object(est))
		printf("estimate:        %.2f h before migration (%s at %g Mbit/s, utilisation %g)\n",
		       json_number_value(json_object_get(est, "premigration_hours")),
		       size_str(json_object_get(est, "data_bytes"), a, sizeof a),
		       json_number_value(json_object_get(est, "bandwidth_mbit_per_s")),
		       json_number_value(json_object_get(est, "utilisation")));
	if (json_is_object(e))
		printf("error:           %s%s%s%s\nhint:            %s\n", js(e, "message"),
		       json_is_string(json_object_get(e, "code")) ? " [" : "",
		       json_is_string(json_object_get(e, "code")) ? js(e, "code") : "",
		       json_is_string(json_object_get(e, "code")) ? "]" : "", js(e, "hint"));
	{
		char *acts = json_dumps(json_object_get(t, "allowed_actions"), JSON_COMPACT);

		printf("actions:         %s\n", acts ? acts : "-");
		free(acts);
	}
	printf("created:         %s, updated %s\n", js(t, "created_at"), js(t, "updated_at"));
	if (json_array_size(json_object_get(t, "subtasks")) > 0)
		printf("subtasks:\n");
	json_array_foreach(json_object_get(t, "subtasks"), i, sub)
		printf("  %-45s %-8s %5.1f%%  %s .. %s\n", js(sub, "name"), js(sub, "state"),
		       json_number_value(json_object_get(sub, "progress_percent")),
		       js(sub, "started_at"), js(sub, "finished_at"));
}

/* ---- commands ---- */

static void add_q(char *buf, size_t len, const char *k, const char *v)
{
	size_t n = strlen(buf);

	if (v == NULL)
		return;
	snprintf(buf + n, len - n, "%c%s=", strchr(buf, '?') ? '&' : '?', k);
	n = strlen(buf);
	for (const unsigned char *p = (const unsigned char *)v; *p && n + 4 < len; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '_' || *p == '.' || *p == '~')
			buf[n++] = (char)*p;
		else
			n += (size_t)snprintf(buf + n, len - n, "%%%02X", *p);
	}
	buf[n] = '\0';
}

static int sources_cmd(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "connection", required_argument, NULL, 'c' }, { "name", required_argument, NULL, 'n' },
		{ "os-type", required_argument, NULL, 'o' }, { "limit", required_argument, NULL, 'l' },
		{ "offset", required_argument, NULL, 'f' }, { "bandwidth", required_argument, NULL, 'b' },
		{ "utilisation", required_argument, NULL, 'u' }, { "mode", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	const char *conn = NULL, *name = NULL, *os = NULL, *limit = NULL, *offset = NULL;
	const char *bw = NULL, *util = NULL, *mode = NULL;
	char path[1024];
	json_t *j = NULL, *it;
	size_t i;
	int o;

	if (argc < 2)
		return cli_usage_error("ctl", "sources needs list, show, delete or estimate");
	optind = 0; /* restart getopt after the verb (argv[1]) */
	while ((o = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
		switch (o) {
		case 'c': conn = optarg; break;
		case 'n': name = optarg; break;
		case 'o': os = optarg; break;
		case 'l': limit = optarg; break;
		case 'f': offset = optarg; break;
		case 'b': bw = optarg; break;
		case 'u': util = optarg; break;
		case 'm': mode = optarg; break;
		default: return cli_usage_error("ctl", "bad option");
		}
	}
	optind++;
	if (strcmp(argv[1], "list") == 0) {
		snprintf(path, sizeof path, "/v1/sources");
		add_q(path, sizeof path, "connection", conn);
		add_q(path, sizeof path, "name", name);
		add_q(path, sizeof path, "os_type", os);
		add_q(path, sizeof path, "limit", limit);
		add_q(path, sizeof path, "offset", offset);
		if (call(c, "GET", path, NULL, &j, "sources list") < 0)
			return EXIT_FAIL;
		if (c->json) {
			dump(j);
		} else {
			char a[32];

			printf("%-20s %-20s %-12s %-8s %-5s %-5s %-10s %s\n", "ID", "NAME", "CONNECTION",
			       "OS", "FW", "DISKS", "SIZE", "LAST HEARTBEAT");
			json_array_foreach(json_object_get(j, "items"), i, it)
				printf("%-20s %-20s %-12s %-8s %-5s %-5" JSON_INTEGER_FORMAT " %-10s %s\n",
				       js(it, "id"), js(it, "name"), js(it, "connection"), js(it, "os_type"),
				       js(it, "firmware"), json_integer_value(json_object_get(it, "disk_count")),
				       size_str(json_object_get(it, "disk_bytes"), a, sizeof a),
				       js(it, "last_heartbeat_at"));
			printf("(%zu of %" JSON_INTEGER_FORMAT " shown, offset %" JSON_INTEGER_FORMAT ")\n",
			       json_array_size(json_object_get(j, "items")),
			       json_integer_value(json_object_get(j, "total")),
			       json_integer_value(json_object_get(j, "offset")));
		}
		json_decref(j);
		return EXIT_OK;
	}
	if (optind + 1 != argc)
		return cli_usage_error("ctl", "sources %s needs one source ID", argv[1]);
	if (strcmp(argv[1], "show") == 0) {
		snprintf(path, sizeof path, "/v1/sources/%s", argv[optind]);
		if (call(c, "GET", path, NULL, &j, "sources show") < 0)
			return EXIT_FAIL;
		if (c->json)
			dump(j);
		else
			print_source(j);
	} else if (strcmp(argv[1], "delete") == 0) {
		snprintf(path, sizeof path, "/v1/sources/%s", argv[optind]);
		if (call(c, "DELETE", path, NULL, &j, "sources delete") < 0)
			return EXIT_FAIL;
		if (c->json)
			dump(j);
		else
			printf("deleted %s\n", argv[optind]);
	} else if (strcmp(argv[1], "estimate") == 0) {
		if (bw == NULL)
			return cli_usage_error("ctl", "estimate needs --bandwidth MBIT");
		snprintf(path, sizeof path, "/v1/sources/%s/estimate", argv[optind]);
		add_q(path, sizeof path, "bandwidth_mbit_per_s", bw);
		add_q(path, sizeof path, "utilisation", util);
		add_q(path, sizeof path, "mode", mode);
		if (call(c, "GET", path, NULL, &j, "estimate") < 0)
			return EXIT_FAIL;
		if (c->json) {
			dump(j);
		} else {
			char a[32];

			printf("%.2f h to copy %s (%s level) at %g Mbit/s with utilisation %g\n",
			       json_number_value(json_object_get(j, "premigration_hours")),
			       size_str(json_object_get(j, "data_bytes"), a, sizeof a), js(j, "mode"),
			       json_number_value(json_object_get(j, "bandwidth_mbit_per_s")),
			       json_number_value(json_object_get(j, "utilisation")));
		}
	} else {
		return cli_usage_error("ctl", "unknown sources command '%s'", argv[1]);
	}
	json_decref(j);
	return EXIT_OK;
}

static json_t *read_json_file(const char *path)
{
	json_t *j = NULL;
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	char *buf;
	size_t n;

	if (f == NULL) {
		fprintf(stderr, "rehost: error: cannot read %s: %s\n", path, strerror(errno));
		return NULL;
	}
	buf = malloc(MAX_FILE + 1);
	n = buf ? fread(buf, 1, MAX_FILE + 1, f) : 0;
	if (f != stdin)
		fclose(f);
	if (buf == NULL || rh_json_load(buf, n, MAX_FILE, &j) < 0) {
		fprintf(stderr, "rehost: error: %s: %s\n", path, buf ? rh_lasterr() : "out of memory");
		j = NULL;
	}
	free(buf);
	return j;
}

/* "[HH:MM-HH:MM=]MBIT" */
static json_t *rate_window(const char *s)
{
	const char *eq = strchr(s, '=');
	int64_t mbit;
	char from[6], to[6];

	if (rh_parse_i64(eq ? eq + 1 : s, 1, 100000, &mbit) < 0)
		return NULL;
	if (eq == NULL)
		return json_pack("{s:I}", "mbit_per_s", (json_int_t)mbit);
	if (eq - s != 11 || s[5] != '-')
		return NULL;
	memcpy(from, s, 5), from[5] = '\0';
	memcpy(to, s + 6, 5), to[5] = '\0';
	return json_pack("{s:s, s:s, s:I}", "from", from, "to", to, "mbit_per_s", (json_int_t)mbit);
}

static int task_create(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "file", required_argument, NULL, 'F' }, { "source", required_argument, NULL, 's' },
		{ "target", required_argument, NULL, 't' }, { "disk", required_argument, NULL, 'd' },
		{ "name", required_argument, NULL, 'n' }, { "mode", required_argument, NULL, 'm' },
		{ "firmware", required_argument, NULL, 'w' }, { "os-type", required_argument, NULL, 'o' },
		{ "continuous-sync", required_argument, NULL, 'C' },
		{ "compress-threads", required_argument, NULL, 'z' },
		{ "buffer-size", required_argument, NULL, 'b' },
		{ "rate-limit", required_argument, NULL, 'r' }, { "exclude", required_argument, NULL, 'x' },
		{ "sync-only", required_argument, NULL, 'y' },
		{ "sync-exclude", required_argument, NULL, 'X' },
		{ "cpu-limit", required_argument, NULL, 'U' },
		{ "memory-limit", required_argument, NULL, 'M' },
		{ "disk-limit", required_argument, NULL, 'D' },
		{ "network-check", no_argument, NULL, 'N' },
		{ "bandwidth", required_argument, NULL, 'B' },
		{ NULL, 0, NULL, 0 },
	};
	json_t *body = json_object(), *target = json_object(), *disks = json_array();
	json_t *limits = json_object(), *rates = json_array(), *j = NULL;
	json_t *excl = json_array(), *only = json_array(), *sexcl = json_array();
	const char *file = NULL;
	int o, status = EXIT_USAGE;
	uint64_t v;
	int64_t n;

	optind = 0;
	while ((o = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
		switch (o) {
		case 'F': file = optarg; break;
		case 's': json_object_set_new(body, "source_id", json_string(optarg)); break;
		case 't': json_object_set_new(target, "address", json_string(optarg)); break;
		case 'd':
			if (rh_parse_size(optarg, 1, INT64_MAX, &v) < 0) {
				cli_usage_error("ctl", "--disk %s: expected a size like 40G", optarg);
				goto out;
			}
			json_array_append_new(disks, json_pack("{s:I}", "size_bytes", (json_int_t)v));
			break;
		case 'n': json_object_set_new(body, "name", json_string(optarg)); break;
		case 'm': json_object_set_new(body, "mode", json_string(optarg)); break;
		case 'w': json_object_set_new(target, "firmware", json_string(optarg)); break;
		case 'o': json_object_set_new(target, "os_type", json_string(optarg)); break;
		case 'C':
			json_object_set_new(body, "continuous_sync",
					    json_boolean(strcmp(optarg, "yes") == 0 || strcmp(optarg, "true") == 0));
			break;
		case 'z':
			if (strcmp(optarg, "auto") == 0)
				json_object_set_new(body, "compress_threads", json_string("auto"));
			else if (rh_parse_i64(optarg, 0, 3, &n) == 0)
				json_object_set_new(body, "compress_threads", json_integer(n));
			else {
				cli_usage_error("ctl", "--compress-threads: auto or 0 to 3");
				goto out;
			}
			break;
		case 'b': case 'M': case 'D':
			if (rh_parse_size(optarg, 1, INT64_MAX, &v) < 0) {
				cli_usage_error("ctl", "expected a size like 4M, got '%s'", optarg);
				goto out;
			}
			if (o == 'b')
				json_object_set_new(body, "buffer_node_bytes", json_integer((json_int_t)v));
			else
				json_object_set_new(limits, o == 'M' ? "memory_bytes" : "disk_bytes_per_s",
						    json_integer((json_int_t)v));
			break;
		case 'U':
			if (rh_parse_i64(optarg, 1, 100, &n) < 0) {
				cli_usage_error("ctl", "--cpu-limit: 1 to 100 (percent)");
				goto out;
			}
			json_object_set_new(limits, "cpu_percent", json_integer(n));
			break;
		case 'r': {
			json_t *w = rate_window(optarg);

			if (w == NULL) {
				cli_usage_error("ctl", "--rate-limit: [HH:MM-HH:MM=]MBIT, got '%s'", optarg);
				goto out;
			}
			json_array_append_new(rates, w);
			break;
		}
		case 'x': json_array_append_new(excl, json_string(optarg)); break;
		case 'y': json_array_append_new(only, json_string(optarg)); break;
		case 'X': json_array_append_new(sexcl, json_string(optarg)); break;
		case 'N': json_object_set_new(body, "network_check", json_true()); break;
		case 'B': {
			char *end;
			double bw = strtod(optarg, &end);

			if (*end != '\0' || !(bw > 0)) {
				cli_usage_error("ctl", "--bandwidth: Mbit/s, e.g. 100");
				goto out;
			}
			json_object_set_new(body, "estimate", json_pack("{s:f}", "bandwidth_mbit_per_s", bw));
			break;
		}
		default:
			cli_usage_error("ctl", "bad option");
			goto out;
		}
	}
	optind++;
	if (optind != argc) {
		cli_usage_error("ctl", "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (file != NULL) {
		json_decref(body);
		body = read_json_file(file);
		if (body == NULL) {
			status = EXIT_FAIL;
			goto out;
		}
	} else {
		if (json_object_get(body, "source_id") == NULL || json_object_get(target, "address") == NULL ||
		    json_array_size(disks) == 0) {
			cli_usage_error("ctl", "tasks create needs --file, or --source, --target and --disk");
			goto out;
		}
		json_object_set(target, "disks", disks);
		json_object_set(body, "target", target);
		if (json_object_size(limits) > 0)
			json_object_set(body, "limits", limits);
		if (json_array_size(rates) > 0)
			json_object_set(body, "rate_limit", rates);
		if (json_array_size(excl) > 0)
			json_object_set(body, "exclude_paths", excl);
		if (json_array_size(only) > 0)
			json_object_set(body, "sync_only_paths", only);
		if (json_array_size(sexcl) > 0)
			json_object_set(body, "sync_exclude_paths", sexcl);
	}
	status = EXIT_FAIL;
	if (call(c, "POST", "/v1/tasks", body, &j, "tasks create") < 0)
		goto out;
	if (c->json)
		dump(j);
	else
		print_task(j);
	status = EXIT_OK;
out:
	json_decref(j);
	json_decref(body);
	json_decref(target);
	json_decref(disks);
	json_decref(limits);
	json_decref(rates);
	json_decref(excl);
	json_decref(only);
	json_decref(sexcl);
	return status;
}

static int task_set(struct ctl *c, int argc, char **argv)
{
	json_t *patch = NULL, *j = NULL;
	char path[512];
	int status = EXIT_FAIL;

	if (argc < 4)
		return cli_usage_error("ctl", "tasks set ID --file F | KEY=JSON...");
	if (strcmp(argv[3], "--file") == 0) {
		if (argc != 5)
			return cli_usage_error("ctl", "tasks set ID --file F");
		patch = read_json_file(argv[4]);
		if (patch == NULL)
			return EXIT_FAIL;
	} else {
		patch = json_object();
		for (int i = 3; i < argc; i++) {
			char *eq = strchr(argv[i], '=');
			json_t *v;

			if (eq == NULL) {
				json_decref(patch);
				return cli_usage_error("ctl", "expected KEY=JSON, got '%s'", argv[i]);
			}
			*eq = '\0';
			v = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
			if (v == NULL)
				v = json_string(eq + 1); /* bare words are strings */
			json_object_set_new(patch, argv[i], v);
		}
	}
	snprintf(path, sizeof path, "/v1/tasks/%s", argv[2]);
	if (call(c, "PATCH", path, patch, &j, "tasks set") == 0) {
		if (c->json)
			dump(j);
		else
			print_task(j);
		status = EXIT_OK;
	}
	json_decref(patch);
	json_decref(j);
	return status;
}

static int task_watch(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "interval", required_argument, NULL, 'i' }, { "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	int64_t interval = 2, timeout = 0;
	bool tty = isatty(STDOUT_FILENO);
	char path[512], line[512], last[512] = "";
	time_t start = time(NULL);
	int o;

	optind = 0;
	while ((o = getopt_long(argc - 2, argv + 2, "", opts, NULL)) != -1) {
		if (o == 'i' && rh_parse_i64(optarg, 1, 3600, &interval) == 0)
			continue;
		if (o == 't' && rh_parse_i64(optarg, 1, 864000, &timeout) == 0)
			continue;
		return cli_usage_error("ctl", "tasks watch ID [--interval S] [--timeout S]");
	}
	optind += 2;
	if (optind != argc)
		return cli_usage_error("ctl", "unexpected argument '%s'", argv[optind]);
	/* Only ^C ends a watch cleanly (exit 0); SIGTERM keeps its default. */
	cli_signals_init(CLI_SIG_INT, -1);
	snprintf(path, sizeof path, "/v1/tasks/%s", argv[2]);
	for (;;) {
		json_t *t = NULL, *subs, *sub, *cur = NULL;
		const char *state;
		size_t i;
		int status = -1;

		if (call(c, "GET", path, NULL, &t, "tasks watch") < 0)
			return EXIT_FAIL;
		progress_bar(t, line, sizeof line);
		subs = json_object_get(t, "subtasks");
		json_array_foreach(subs, i, sub)
			if (strcmp(js(sub, "state"), "running") == 0 ||
			    (cur == NULL && strcmp(js(sub, "state"), "pending") == 0))
				cur = sub;
		if (cur != NULL) {
			size_t n = strlen(line);

			snprintf(line + n, sizeof line - n, "  (%s)", js(cur, "name"));
		}
		if (tty) {
			printf("\r\033[K%s", line);
			fflush(stdout);
		} else if (strcmp(line, last) != 0) {
			printf("%s\n", line);
			fflush(stdout);
		}
		snprintf(last, sizeof last, "%s", line);
		state = js(t, "state");
		if (strcmp(state, "failed") == 0) {
			const json_t *e = json_object_get(t, "error");

			if (tty)
				printf("\n");
			fprintf(stderr, "rehost: error: task %s failed: %s%s%s%s\n", argv[2], js(e, "message"),
				json_is_string(json_object_get(e, "code")) ? " [" : "",
				json_is_string(json_object_get(e, "code")) ? js(e, "code") : "",
				json_is_string(json_object_get(e, "code")) ? "]" : "");
			if (json_is_string(json_object_get(e, "hint")))
				fprintf(stderr, "rehost: hint: %s\n", js(e, "hint"));
			status = EXIT_FAIL;
		} else if (strcmp(state, "completed") == 0 || strcmp(state, "continuous_sync") == 0 ||
			   strcmp(state, "awaiting_sync") == 0 || strcmp(state, "paused") == 0 ||
			   strcmp(state, "configured") == 0) {
			if (tty)
				printf("\n");
			printf("task %s is %s\n", argv[2], state);
			status = EXIT_OK;
		}
		json_decref(t);
		if (status >= 0)
			return status;
		if (cli_stop || (timeout > 0 && time(NULL) - start >= timeout)) {
			if (tty)
				printf("\n");
			fprintf(stderr, "rehost: watch stopped%s\n", cli_stop ? "" : " (timeout)");
			return cli_stop ? EXIT_OK : EXIT_FAIL;
		}
		for (int64_t s = 0; s < interval * 10 && !cli_stop; s++)
			usleep(100000);
	}
}

static int tasks_cmd(struct ctl *c, int argc, char **argv)
{
	static const char *const actions[] = { "start", "pause", "resume", "sync", "cutover", "test",
					       "clear", "delete" };
	char path[1024];
	json_t *j = NULL, *it;
	size_t i;

	if (argc < 2)
		return cli_usage_error("ctl", "tasks needs list, show, create, set, watch or an action");
	if (strcmp(argv[1], "create") == 0)
		return task_create(c, argc, argv);
	if (strcmp(argv[1], "list") == 0) {
		static const struct option opts[] = {
			{ "state", required_argument, NULL, 's' }, { "source", required_argument, NULL, 'S' },
			{ "limit", required_argument, NULL, 'l' }, { "offset", required_argument, NULL, 'o' },
			{ NULL, 0, NULL, 0 },
		};
		int o;

		snprintf(path, sizeof path, "/v1/tasks");
		optind = 0;
		while ((o = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
			if (o == '?')
				return cli_usage_error("ctl", "bad option");
			add_q(path, sizeof path, o == 's' ? "state" : o == 'S' ? "source_id"
					       : o == 'l' ? "limit" : "offset", optarg);
		}
		if (call(c, "GET", path, NULL, &j, "tasks list") < 0)
			return EXIT_FAIL;
		if (c->json) {
			dump(j);
		} else {
			char line[256];

			printf("%-22s %-16s %-20s %-15s %-5s %s\n", "ID", "NAME", "SOURCE", "STATE", "MODE",
			       "PROGRESS");
			json_array_foreach(json_object_get(j, "items"), i, it) {
				progress_bar(it, line, sizeof line);
				printf("%-22s %-16s %-20s %-15s %-5s %s\n", js(it, "id"), js(it, "name"),
				       js(it, "source_id"), js(it, "state"), js(it, "mode"), line);
			}
			printf("(%zu of %" JSON_INTEGER_FORMAT " shown)\n",
			       json_array_size(json_object_get(j, "items")),
			       json_integer_value(json_object_get(j, "total")));
		}
		json_decref(j);
		return EXIT_OK;
	}
	if (argc < 3)
		return cli_usage_error("ctl", "tasks %s needs a task ID", argv[1]);
	if (strcmp(argv[1], "set") == 0)
		return task_set(c, argc, argv);
	if (strcmp(argv[1], "watch") == 0)
		return task_watch(c, argc, argv);
	if (argc != 3)
		return cli_usage_error("ctl", "unexpected argument '%s'", argv[3]);
	if (strcmp(argv[1], "show") == 0) {
		snprintf(path, sizeof path, "/v1/tasks/%s", argv[2]);
		if (call(c, "GET", path, NULL, &j, "tasks show") < 0)
			return EXIT_FAIL;
	} else {
		for (i = 0; i < sizeof actions / sizeof actions[0]; i++)
			if (strcmp(argv[1], actions[i]) == 0)
				break;
		if (i == sizeof actions / sizeof actions[0])
			return cli_usage_error("ctl", "unknown tasks command '%s'", argv[1]);
		snprintf(path, sizeof path, "/v1/tasks/%s/actions/%s", argv[2], argv[1]);
		if (call(c, "POST", path, NULL, &j, argv[1]) < 0)
			return EXIT_FAIL;
	}
	if (c->json)
		dump(j);
	else if (json_is_true(json_object_get(j, "deleted")))
		printf("deleted %s\n", argv[2]);
	else if (strcmp(argv[1], "show") == 0)
		print_task(j);
	else
		printf("%s: %s -> %s\n", argv[2], argv[1], js(j, "state"));
	json_decref(j);
	return EXIT_OK;
}

static int raw_cmd(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' }, { "skew", required_argument, NULL, 's' },
		{ "nonce", required_argument, NULL, 'n' }, { "forge", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *data = NULL;
	char *body = NULL, *resp = NULL;
	long status = 0;
	int64_t skew;
	int o, rc;

	optind = 0;
	while ((o = getopt_long(argc - 2, argv + 2, "", opts, NULL)) != -1) {
		switch (o) {
		case 'd': data = optarg; break;
		case 's':
			if (rh_parse_i64(optarg, -86400 * 365, 86400 * 365, &skew) < 0)
				return cli_usage_error("ctl", "--skew SECONDS");
			rh_api_client_set_skew(c->client, (long)skew);
			break;
		case 'n': rh_api_client_set_nonce(c->client, optarg); break;
		case 'f': rh_api_client_set_forged_sk(c->client, "forgedforgedforgedforgedforgedforgedforg"); break;
		default: return cli_usage_error("ctl", "raw METHOD PATH [--data JSON|@FILE]");
		}
	}
	optind += 2;
	if (optind != argc)
		return cli_usage_error("ctl", "unexpected argument '%s'", argv[optind]);
	if (data != NULL && data[0] == '@') {
		FILE *f = fopen(data + 1, "re");
		size_t n;

		if (f == NULL) {
			fprintf(stderr, "rehost: error: cannot read %s: %s\n", data + 1, strerror(errno));
			return EXIT_FAIL;
		}
		body = calloc(1, MAX_FILE + 1);
		n = body ? fread(body, 1, MAX_FILE, f) : 0;
		fclose(f);
		if (body == NULL)
			return EXIT_FAIL;
		body[n] = '\0';
	} else if (data != NULL) {
		body = strdup(data);
	}
	rc = rh_api_request(c->client, argv[1], argv[2], body, body ? strlen(body) : 0, &status, &resp);
	free(body);
	if (rc < 0) {
		cli_report(rc, "%s %s", argv[1], argv[2]);
		return EXIT_FAIL;
	}
	fputs(resp, stdout);
	fprintf(stderr, "HTTP %ld\n", status);
	free(resp);
	return status >= 200 && status < 300 ? EXIT_OK : EXIT_FAIL;
}

int cmd_ctl(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' }, { "cacert", required_argument, NULL, 'c' },
		{ "insecure", no_argument, NULL, 'k' }, { "config", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' }, { "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl c = { 0 };
	const char *cfg = getenv("REHOST_CTL_CONFIG");
	char cfgbuf[4096];
	bool explicit = cfg != NULL;
	int o, status;
	int64_t t;

	optind = 1;
	while ((o = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (o) {
		case 'u': c.o.url = optarg; break;
		case 'c': c.o.ca_file = optarg; break;
		case 'k': c.o.insecure = true; break;
		case 'f': cfg = optarg; explicit = true; break;
		case 'j': c.json = true; break;
		case 't':
			if (rh_parse_i64(optarg, 1, 3600, &t) < 0)
				return cli_usage_error("ctl", "--timeout SECONDS");
			c.o.timeout_s = (long)t;
			break;
		default: return cli_usage_error("ctl", "bad option");
		}
	}
	if (optind >= argc)
		return cli_usage_error("ctl", "missing command (sources, tasks, raw)");
	if (cfg == NULL) {
		const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

		if (xdg != NULL && *xdg != '\0')
			snprintf(cfgbuf, sizeof cfgbuf, "%s/rehost/ctl.conf", xdg);
		else
			snprintf(cfgbuf, sizeof cfgbuf, "%s/.config/rehost/ctl.conf", home ? home : "/");
		cfg = cfgbuf;
	}
	if (load_config(&c, cfg, explicit) < 0) {
		status = EXIT_FAIL;
		goto out;
	}
	status = connect_client(&c);
	if (status != 0)
		goto out;
	argc -= optind;
	argv += optind;
	if (strcmp(argv[0], "sources") == 0)
		status = sources_cmd(&c, argc, argv);
	else if (strcmp(argv[0], "tasks") == 0)
		status = tasks_cmd(&c, argc, argv);
	else if (strcmp(argv[0], "raw") == 0 && argc >= 3)
		status = raw_cmd(&c, argc, argv);
	else
		status = cli_usage_error("ctl", "unknown command '%s' (sources, tasks, raw)", argv[0]);
out:
	rh_api_client_free(c.client);
	free(c.cfg_url);
	free(c.cfg_ak);
	free(c.cfg_sk);
	free(c.cfg_ca);
	return status;
}
