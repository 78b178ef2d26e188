/* rehost server: the control plane (REST API, access keys, store). */
#define RH_LOG_COMPONENT "server"
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "cli/cli.h"
#include "rehost/auth.h"
#include "rehost/dirs.h"
#include "rehost/err.h"
#include "rehost/json.h"
#include "rehost/log.h"
#include "rehost/net.h"
#include "rehost/num.h"
#include "rehost/store.h"
#include "server/server.h"

#define DEFAULT_STATE_DIR "/var/lib/rehost/server"
#define DEFAULT_PORT 8443
#define MAX_SANS 16
#define META_KEY_CHECK "master_key_check"
#define KEY_CHECK_TEXT "rehost master key check"

void usage_server(FILE *out)
{
	fprintf(out,
		"usage: rehost server [options]\n"
		"       rehost server keys create [--tenant NAME] [--description TEXT] [--json] [options]\n"
		"       rehost server keys list [--json] [options]\n"
		"       rehost server keys disable|enable ACCESS_KEY [options]\n"
		"\n"
		"Run the control plane: the REST API /v1 (docs/api.md) over HTTPS, with\n"
		"requests signed by access keys (AK/SK), sources, tasks and their state\n"
		"machine (docs/lifecycle.md) kept in SQLite or PostgreSQL.\n"
		"\n"
		"  --listen ADDR:PORT     address to listen on (default 0.0.0.0:%d; port 0\n"
		"                         picks a free port)\n"
		"  --port-file FILE       write the bound port to FILE once listening\n"
		"  --db URL               sqlite:PATH (default sqlite:STATE_DIR/rehost.db, WAL\n"
		"                         mode) or postgresql://... (replicas may share it)\n"
		"  --db-pool N            database connections (default 8)\n"
		"  --state-dir DIR        master key and certificate (default %s)\n"
		"  --master-key FILE      key that encrypts stored secrets (default\n"
		"                         STATE_DIR/master.key, created 0600 on first start;\n"
		"                         replicas sharing a database need the same file)\n"
		"  --tls-cert FILE        certificate (PEM); with --tls-key. Default: a\n"
		"  --tls-key FILE         self-signed STATE_DIR/server.pem made on first start\n"
		"  --tls-name NAME        extra host name or IP for the generated certificate\n"
		"  --plain-http           no TLS (only behind a TLS-terminating proxy)\n"
		"  --heartbeat-interval S seconds between agent heartbeats (default 30)\n"
		"  --heartbeat-timeout S  seconds without a heartbeat before a source counts as\n"
		"                         disconnected (default 90)\n",
		DEFAULT_PORT, DEFAULT_STATE_DIR);
}

struct opts {
	const char *listen, *port_file, *db, *state_dir, *master_key, *cert, *key;
	const char *names[MAX_SANS];
	size_t nnames;
	bool plain;
	int64_t pool, hb_interval, hb_timeout;
	/* keys */
	const char *tenant, *description;
	bool json;
	char db_buf[4200], mk_buf[4200], cert_buf[4200], key_buf[4200];
};

static int parse_opts(int argc, char **argv, struct opts *o, int *first_arg)
{
	static const struct option lopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "port-file", required_argument, NULL, 'p' },
		{ "db", required_argument, NULL, 'd' },
		{ "db-pool", required_argument, NULL, 'P' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "master-key", required_argument, NULL, 'm' },
		{ "tls-cert", required_argument, NULL, 'c' },
		{ "tls-key", required_argument, NULL, 'k' },
		{ "tls-name", required_argument, NULL, 'n' },
		{ "plain-http", no_argument, NULL, 'H' },
		{ "heartbeat-interval", required_argument, NULL, 'i' },
		{ "heartbeat-timeout", required_argument, NULL, 't' },
		{ "tenant", required_argument, NULL, 'T' },
		{ "description", required_argument, NULL, 'D' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->listen = "0.0.0.0:8443";
	o->state_dir = DEFAULT_STATE_DIR;
	o->pool = 8;
	o->hb_interval = 30;
	o->hb_timeout = 90;
	o->tenant = "default";
	o->description = "";
	optind = 1;
	while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (c) {
		case 'l': o->listen = optarg; break;
		case 'p': o->port_file = optarg; break;
		case 'd': o->db = optarg; break;
		case 'P':
			if (rh_parse_i64(optarg, 1, 64, &o->pool) < 0)
				return cli_usage_error("server", "--db-pool must be 1 to 64");
			break;
		case 's': o->state_dir = optarg; break;
		case 'm': o->master_key = optarg; break;
		case 'c': o->cert = optarg; break;
		case 'k': o->key = optarg; break;
		case 'n':
			if (o->nnames >= MAX_SANS - 4)
				return cli_usage_error("server", "too many --tls-name");
			o->names[o->nnames++] = optarg;
			break;
		case 'H': o->plain = true; break;
		case 'i':
			if (rh_parse_i64(optarg, 1, 3600, &o->hb_interval) < 0)
				return cli_usage_error("server", "--heartbeat-interval must be 1 to 3600");
			break;
		case 't':
			if (rh_parse_i64(optarg, 1, 86400, &o->hb_timeout) < 0)
				return cli_usage_error("server", "--heartbeat-timeout must be 1 to 86400");
			break;
		case 'T': o->tenant = optarg; break;
		case 'D': o->description = optarg; break;
		case 'j': o->json = true; break;
		default: return cli_usage_error("server", "bad option");
		}
	}
	if ((o->cert == NULL) != (o->key == NULL))
		return cli_usage_error("server", "give --tls-cert and --tls-key together");
	if (o->db == NULL) {
		snprintf(o->db_buf, sizeof o->db_buf, "sqlite:%s/rehost.db", o->state_dir);
		o->db = o->db_buf;
	}
	if (o->master_key == NULL) {
		snprintf(o->mk_buf, sizeof o->mk_buf, "%s/master.key", o->state_dir);
		o->master_key = o->mk_buf;
	}
	*first_arg = optind;
	return 0;
}

static int make_state_dir(const char *dir)
{
	return rh_mkdir_parents(dir, 0700, "state directory");
}

/* Open the store with the master key; check that the key is the one the
 * database's secrets were sealed with. */
static int open_store(struct opts *o, unsigned char key[RH_AUTH_MASTER_KEY_LEN], bool create_key,
		      struct rh_store **st)
{
	char *check = NULL, *plain = NULL;
	bool created = false;
	int rc;

	*st = NULL;
	if (create_key) {
		rc = make_state_dir(o->state_dir);
		if (rc < 0)
			return rc;
	}
	rc = rh_auth_master_key_load(o->master_key, create_key, &created, key);
	if (rc < 0)
		return rc;
	if (created)
		rh_log_info("created master key %s", o->master_key);
	rc = rh_store_open(o->db, (unsigned)o->pool, st);
	if (rc < 0)
		return rc;
	rc = rh_store_meta_get(*st, META_KEY_CHECK, &check);
	if (rc == RH_ERR_NOTFOUND) {
		rc = rh_auth_seal(key, "meta", KEY_CHECK_TEXT, &check);
		if (rc == 0)
			rc = rh_store_meta_add(*st, META_KEY_CHECK, check);
		if (rc == RH_ERR_EXISTS) { /* another replica was first */
			free(check);
			check = NULL;
			rc = rh_store_meta_get(*st, META_KEY_CHECK, &check);
		}
	}
	if (rc == 0 && check != NULL) {
		rc = rh_auth_unseal(key, "meta", check, &plain);
		if (rc < 0)
			rc = rh_seterr(RH_ERR_AUTH, "the master key %s does not match the database %s "
				       "(its secrets were sealed with another key; replicas must share "
				       "one master key file)", o->master_key, o->db);
	}
	free(check);
	free(plain);
	if (rc < 0) {
		rh_store_free(*st);
		*st = NULL;
	}
	return rc;
}

static int cmd_keys(struct opts *o, int argc, char **argv)
{
	unsigned char mk[RH_AUTH_MASTER_KEY_LEN];
	struct rh_store *st = NULL;
	const char *verb = argv[0];
	int status = EXIT_FAIL, rc;

	if (strcmp(verb, "create") != 0 && strcmp(verb, "list") != 0 && strcmp(verb, "disable") != 0 &&
	    strcmp(verb, "enable") != 0)
		return cli_usage_error("server", "unknown keys command '%s' (create, list, disable, "
				       "enable)", verb);
	if ((strcmp(verb, "disable") == 0 || strcmp(verb, "enable") == 0) && argc != 2)
		return cli_usage_error("server", "usage: rehost server keys %s ACCESS_KEY", verb);
	if ((strcmp(verb, "create") == 0 || strcmp(verb, "list") == 0) && argc != 1)
		return cli_usage_error("server", "unexpected argument '%s'", argv[1]);
	if (strcmp(verb, "create") == 0 &&
	    (*o->tenant == '\0' || strlen(o->tenant) > 64 || strpbrk(o->tenant, " \t/\"\\") != NULL))
		return cli_usage_error("server", "--tenant must be 1 to 64 characters without blanks");
	rc = open_store(o, mk, strcmp(verb, "create") == 0, &st);
	if (rc < 0) {
		cli_report(rc, "keys %s", verb);
		goto out;
	}
	if (strcmp(verb, "create") == 0) {
		char ak[RH_AUTH_AK_LEN + 1], sk[RH_AUTH_SK_LEN + 1], *sealed = NULL;
		struct rh_store_key k = { 0 };

		rc = rh_auth_new_key(ak, sk);
		if (rc == 0)
			rc = rh_auth_seal(mk, ak, sk, &sealed);
		k.ak = ak;
		k.tenant = (char *)o->tenant;
		k.secret_enc = sealed;
		k.description = (char *)o->description;
		k.enabled = true;
		k.created_at = time(NULL);
		if (rc == 0)
			rc = rh_store_key_add(st, &k);
		free(sealed);
		if (rc < 0) {
			cli_report(rc, "keys create");
		} else {
			if (o->json)
				printf("{\"access_key\": \"%s\", \"secret_key\": \"%s\", \"tenant\": \"%s\"}\n",
				       ak, sk, o->tenant);
			else
				printf("access_key: %s\nsecret_key: %s\ntenant: %s\n"
				       "# The secret key is shown only now; store it safely.\n",
				       ak, sk, o->tenant);
			status = EXIT_OK;
		}
		OPENSSL_cleanse(sk, sizeof sk);
	} else if (strcmp(verb, "list") == 0) {
		json_t *keys = NULL, *k;
		size_t i;

		rc = rh_store_key_list(st, &keys);
		if (rc < 0) {
			cli_report(rc, "keys list");
			goto out;
		}
		if (o->json) {
			rh_json_dump_fd(STDOUT_FILENO, keys, 1);
		} else {
			printf("%-22s %-16s %-9s %-21s %s\n", "ACCESS KEY", "TENANT", "STATE", "CREATED",
			       "DESCRIPTION");
			json_array_foreach(keys, i, k)
				printf("%-22s %-16s %-9s %-21s %s\n",
				       json_string_value(json_object_get(k, "access_key")),
				       json_string_value(json_object_get(k, "tenant")),
				       json_string_value(json_object_get(k, "state")),
				       json_string_value(json_object_get(k, "created_at")),
				       json_string_value(json_object_get(k, "description")));
		}
		json_decref(keys);
		status = EXIT_OK;
	} else {
		rc = rh_store_key_set_enabled(st, argv[1], strcmp(verb, "enable") == 0);
		if (rc < 0) {
			cli_report(rc, "keys %s", verb);
		} else {
			printf("%s: %sd\n", argv[1], verb);
			status = EXIT_OK;
		}
	}
out:
	OPENSSL_cleanse(mk, sizeof mk);
	rh_store_free(st);
	return status;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (f == NULL) {
		rh_seterr_errno(errno, "cannot open %s", path);
		return NULL;
	}
	buf = calloc(1, 1u << 20);
	n = buf ? fread(buf, 1, (1u << 20) - 1, f) : 0;
	fclose(f);
	if (buf != NULL && n == 0) {
		free(buf);
		rh_seterr(RH_ERR_IO, "%s is empty", path);
		return NULL;
	}
	return buf;
}

static void command_hook(void *arg, const char *source_id)
{
	struct server *srv = arg;

	(void)source_id;
	pthread_mutex_lock(&srv->lock);
	srv->cmd_generation++;
	pthread_cond_broadcast(&srv->cond);
	pthread_mutex_unlock(&srv->lock);
}

static int load_tls(struct opts *o, char **cert_pem, char **key_pem)
{
	struct stat stb;
	int rc;

	*cert_pem = *key_pem = NULL;
	if (o->cert == NULL) {
		char host[256];
		const char *names[MAX_SANS];
		size_t n = 0;
		uint16_t port;

		snprintf(o->cert_buf, sizeof o->cert_buf, "%s/server.pem", o->state_dir);
		snprintf(o->key_buf, sizeof o->key_buf, "%s/server.key", o->state_dir);
		o->cert = o->cert_buf;
		o->key = o->key_buf;
		if (stat(o->cert, &stb) < 0) {
			names[n++] = "localhost";
			names[n++] = "127.0.0.1";
			names[n++] = "::1";
			if (rh_net_split_addr(o->listen, DEFAULT_PORT, host, sizeof host, &port) == 0 &&
			    *host && strcmp(host, "0.0.0.0") != 0 && strcmp(host, "::") != 0 &&
			    strcmp(host, "127.0.0.1") != 0 && strcmp(host, "localhost") != 0)
				names[n++] = host;
			for (size_t i = 0; i < o->nnames && n < MAX_SANS; i++)
				names[n++] = o->names[i];
			rc = tlsgen_self_signed(o->cert, o->key, names, n);
			if (rc < 0)
				return rc;
			rh_log_info("created a self-signed certificate %s (clients: --cacert %s)",
				    o->cert, o->cert);
		}
	}
	if (stat(o->key, &stb) == 0 && (stb.st_mode & 077) != 0)
		return rh_seterr(RH_ERR_PERM, "TLS key %s is accessible by group or others; chmod 600 it",
				 o->key);
	*cert_pem = read_file(o->cert);
	*key_pem = *cert_pem ? read_file(o->key) : NULL;
	if (*key_pem == NULL) {
		free(*cert_pem);
		*cert_pem = NULL;
		return rh_lasterr_code() ? rh_lasterr_code() : RH_ERR_IO;
	}
	return 0;
}

int cmd_server(int argc, char **argv)
{
	struct opts *o = calloc(1, sizeof *o);
	struct server srv = { 0 };
	struct http_server *http = NULL;
	struct http_opts ho = { .listen_fd = -1 };
	char *cert_pem = NULL, *key_pem = NULL;
	int first = 0, rc, status = EXIT_FAIL;
	uint16_t port;

	if (o == NULL)
		return EXIT_FAIL;
	rc = parse_opts(argc, argv, o, &first);
	if (rc != 0) {
		free(o);
		return rc;
	}
	if (first < argc && strcmp(argv[first], "keys") == 0) {
		if (first + 1 >= argc) {
			free(o);
			return cli_usage_error("server", "keys needs create, list, disable or enable");
		}
		status = cmd_keys(o, argc - first - 1, argv + first + 1);
		free(o);
		return status;
	}
	if (first != argc) {
		free(o);
		return cli_usage_error("server", "unexpected argument '%s'", argv[first]);
	}

	pthread_mutex_init(&srv.lock, NULL);
	pthread_cond_init(&srv.cond, NULL);
	srv.heartbeat_interval = o->hb_interval;
	srv.heartbeat_timeout = o->hb_timeout;
	srv.started_at = time(NULL);
	rc = open_store(o, srv.master_key, true, &srv.store);
	if (rc < 0) {
		cli_report(rc, "database %s", o->db);
		goto out;
	}
	rh_store_set_heartbeat_timeout(srv.store, o->hb_timeout);
	rh_store_set_command_hook(srv.store, command_hook, &srv);
	if (!o->plain) {
		rc = load_tls(o, &cert_pem, &key_pem);
		if (rc < 0) {
			cli_report(rc, "TLS");
			goto out;
		}
	}
	ho.listen_fd = rh_net_listen(o->listen, DEFAULT_PORT, &port);
	if (ho.listen_fd < 0) {
		cli_report(ho.listen_fd, "--listen %s", o->listen);
		goto out;
	}
	ho.tls = !o->plain;
	ho.cert_pem = cert_pem;
	ho.key_pem = key_pem;
	/* Before the threads start: any of them may write to a closed socket. */
	cli_signals_init(CLI_SIG_IGNORE_PIPE, -1);
	rc = http_start(&srv, &ho, &http);
	if (rc < 0) {
		cli_report(rc, NULL);
		goto out;
	}
	rh_log_info("listening on %s (port %u, %s), database %s (%s)", o->listen, port,
		    o->plain ? "plain HTTP" : "HTTPS", o->db, rh_store_backend(srv.store));
	cli_signals_init(CLI_SIG_STOP, -1);
	if (o->port_file != NULL && (rc = rh_net_write_port_file(o->port_file, port)) < 0) {
		cli_report(rc, NULL);
		goto out;
	}
	while (!cli_stop)
		pause();
	rh_log_info("stopping on signal %d", (int)cli_stop);
	status = EXIT_OK;
out:
	srv.stopping = 1;
	pthread_mutex_lock(&srv.lock);
	pthread_cond_broadcast(&srv.cond);
	pthread_mutex_unlock(&srv.lock);
	http_stop(http);
	if (ho.listen_fd >= 0)
		close(ho.listen_fd);
	rh_store_free(srv.store);
	OPENSSL_cleanse(srv.master_key, sizeof srv.master_key);
	if (key_pem != NULL)
		OPENSSL_cleanse(key_pem, strlen(key_pem));
	free(cert_pem);
	free(key_pem);
	pthread_mutex_destroy(&srv.lock);
	pthread_cond_destroy(&srv.cond);
	free(o);
	return status;
}
