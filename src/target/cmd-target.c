/* rehost target: receive block replication into image files or devices. */
#define RH_LOG_COMPONENT "target"
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "rehost/dirs.h"
#include "rehost/err.h"
#include "rehost/gate.h"
#include "rehost/log.h"
#include "rehost/net.h"
#include "rehost/num.h"
#include "rehost/repl.h"
#include "rehost/tls.h"
#include "target/target.h"

#define MAX_DEVICES 64
#define DEFAULT_MAX_SESSIONS 32
/* A verified session's socket timeouts: a silent agent must not hold a
 * session (and the disks' lock) forever. */
#define SESSION_IO_TIMEOUT_S 60

void usage_target(FILE *out)
{
	fprintf(out,
		"usage: rehost target --keys DIR (--disk-dir DIR | --disk DEV...) [options]\n"
		"\n"
		"Listen for a source agent (rehost migrate) and write its disks.\n"
		"\n"
		"  --listen ADDR[:PORT]  address to listen on (default 0.0.0.0:8900; port 0\n"
		"                        picks a free port)\n"
		"  --port-file FILE      write the bound port to FILE once listening\n"
		"  --keys DIR            key directory from `rehost keygen` (target.pem,\n"
		"                        target.key, ca.pem)\n"
		"  --disk-dir DIR        write disk N to DIR/diskN.raw (sparse raw images)\n"
		"  --disk DEV            write to this block device or file (repeat, in order)\n"
		"  --state-dir DIR       checkpoint directory with --disk (default\n"
		"                        /var/lib/rehost/target)\n"
		"  --replace             let a new migration job overwrite another job's disks\n"
		"  --once                exit after the first job finishes (status 0) or fails;\n"
		"                        serves one session at a time\n"
		"  --max-sessions N      agents served at once (default 32); one more is\n"
		"                        refused with an error, not queued\n"
		"  --max-pending N       TLS handshakes in progress at most (default 64); a\n"
		"                        new connection beyond that evicts the oldest one\n"
		"  --handshake-timeout S seconds a connection has to complete its whole TLS\n"
		"                        handshake (default 10)\n"
		"\n"
		"Each disk is reported complete only after its data is on stable storage;\n"
		"if the agent or the target stops, running the same commands again resumes.\n"
		"Handshakes run concurrently, each bounded in time, and never delay a\n"
		"session; SIGINT or SIGTERM stops the sessions (their data stays durable).\n"
		"\n"
		"Working on the received disks (DISKS is --disk-dir DIR, or --disk DEV...\n"
		"[--state-dir DIR] as given to the listener):\n"
		"\n"
		"  rehost target snapshot DISKS --name NAME   snapshot all disks (names\n"
		"                        [a-z0-9-]{1,32}: `sync` before, `cutover` after the\n"
		"                        configuration changes); replaces one of that name\n"
		"  rehost target snapshot DISKS --delete NAME\n"
		"  rehost target snapshots DISKS [--json]      list: times, sizes, space used\n"
		"  rehost target rollback DISKS --to NAME      put a snapshot back, after\n"
		"                        checking its digests; refuses a damaged snapshot\n"
		"  rehost target grow (--disk-dir DIR [--disk N] | --disk DEV) [--size SIZE]\n"
		"                        [--no-grow-partition] [--no-grow-fs]\n"
		"                        fit the partition table to a larger disk (an image\n"
		"                        is extended to SIZE first), grow the last partition\n"
		"                        and its ext2/3/4, xfs or LVM PV; never shrinks\n"
		"  rehost target cutover DISKS [--firmware bios|uefi] [--report FILE]\n"
		"                        snapshot `sync`, run rehost postconf, snapshot\n"
		"                        `cutover` (see rehost target cutover --help)\n"
		"  rehost target firmware (--disk-dir DIR | --disk DEV) [--expect bios|uefi]\n"
		"                        [--json]  the firmware the boot disk needs; with\n"
		"                        --expect, fail when the target's differs\n"
		"\n"
		"These refuse to run while a replication session writes the disks.\n"
		"See docs/snapshots.md and docs/target.md.\n");
}

/* `rehost target WORD ...`: the subcommands on received disks (main.c
 * dispatches them and their --help). */
const struct cli_sub target_subcommands[] = {
	{ "snapshot", cmd_target_snapshot, usage_target_snapshot },
	{ "snapshots", cmd_target_snapshots, usage_target_snapshots },
	{ "rollback", cmd_target_rollback, usage_target_rollback },
	{ "grow", cmd_target_grow, usage_target_grow },
	{ "firmware", cmd_target_firmware, usage_target_firmware },
	{ "cutover", cmd_target_cutover, usage_target_cutover },
	{ NULL, NULL, NULL },
};

/* Self-pipe: the stop signals (cli_signals_init) and finished sessions
 * wake the accept loop. */
static int wake_pipe[2] = { -1, -1 };

static void drain_wake_pipe(void)
{
	char buf[64];

	while (read(wake_pipe[0], buf, sizeof buf) > 0)
		;
}

/* Accept, authenticate and serve until a signal or, with once, until the
 * first job has ended. Returns the exit status. */
static int listen_loop(struct rh_gate *g, struct target_sessions *ts, bool once)
{
	int status = EXIT_FAIL, job_rc = 0;

	while (!cli_stop) {
		struct rh_tls_conn *conn = NULL;
		struct timeval tv = { .tv_sec = SESSION_IO_TIMEOUT_S };
		/* Wake at least once a second, whatever happens. */
		int rc = rh_gate_wait(g, wake_pipe[0], 1000, &conn);

		drain_wake_pipe();
		if (target_sessions_reap(ts, &job_rc) > 0) {
			status = job_rc == 0 ? EXIT_OK : EXIT_FAIL;
			if (once) {
				rh_tls_close(conn);
				break;
			}
		}
		if (rc < 0) {
			rh_log_error("accepting connections: %s", rh_lasterr());
			rh_tls_close(conn);
			break;
		}
		if (rc == 0)
			continue;
		setsockopt(rh_tls_fd(conn), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(rh_tls_fd(conn), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		if (target_sessions_start(ts, conn) < 0)
			rh_log_error("%s", rh_lasterr());
	}
	if (cli_stop) {
		rh_log_info("stopping on signal %d: %u session%s aborted", (int)cli_stop,
			    target_sessions_serving(ts), target_sessions_serving(ts) == 1 ? "" : "s");
	}
	return status;
}

int cmd_target(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "port-file", required_argument, NULL, 'p' },
		{ "keys", required_argument, NULL, 'k' },
		{ "disk-dir", required_argument, NULL, 'D' },
		{ "disk", required_argument, NULL, 'd' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "replace", no_argument, NULL, 'r' },
		{ "once", no_argument, NULL, 'o' },
		{ "max-sessions", required_argument, NULL, 'S' },
		{ "max-pending", required_argument, NULL, 'P' },
		{ "handshake-timeout", required_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	const char *listen_addr = "0.0.0.0:8900", *port_file = NULL, *keys = NULL;
	const char *devices[MAX_DEVICES];
	struct rh_receiver_opts ro = { .state_dir = "/var/lib/rehost/target" };
	struct rh_tls_ctx *ctx = NULL;
	struct rh_gate *gate = NULL;
	struct target_sessions *ts = NULL;
	struct rh_gate_opts go = { 0 };
	int64_t max_sessions = DEFAULT_MAX_SESSIONS, max_pending = RH_GATE_DEFAULT_PENDING,
		hs_timeout = RH_GATE_DEFAULT_TIMEOUT_MS / 1000;
	struct rh_snap_target snapt;
	bool once = false;
	uint16_t port;
	int c, lfd, rc, status = EXIT_FAIL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l': listen_addr = optarg; break;
		case 'p': port_file = optarg; break;
		case 'k': keys = optarg; break;
		case 'D': ro.disk_dir = optarg; break;
		case 'd':
			if (ro.ndevices >= MAX_DEVICES)
				return cli_usage_error("target", "at most %d --disk", MAX_DEVICES);
			devices[ro.ndevices++] = optarg;
			break;
		case 's': ro.state_dir = optarg; break;
		case 'r': ro.replace = true; break;
		case 'o': once = true; break;
		case 'S':
			if (rh_parse_i64(optarg, 1, 1024, &max_sessions) < 0)
				return cli_usage_error("target", "--max-sessions %s: allowed 1 to 1024", optarg);
			break;
		case 'P':
			if (rh_parse_i64(optarg, 1, 4096, &max_pending) < 0)
				return cli_usage_error("target", "--max-pending %s: allowed 1 to 4096", optarg);
			break;
		case 'H':
			if (rh_parse_i64(optarg, 1, 600, &hs_timeout) < 0)
				return cli_usage_error("target", "--handshake-timeout %s: allowed 1 to 600 (s)", optarg);
			break;
		default: return cli_usage_error("target", "bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error("target", "unexpected argument '%s'", argv[optind]);
	if (keys == NULL)
		return cli_usage_error("target", "--keys DIR is required (create it with rehost keygen)");
	if ((ro.disk_dir == NULL) == (ro.ndevices == 0))
		return cli_usage_error("target", "give either --disk-dir or --disk");
	ro.devices = devices;
	snapt = (struct rh_snap_target){ .disk_dir = ro.disk_dir, .devices = ro.disk_dir ? NULL : devices,
					 .ndevices = ro.disk_dir ? 0 : ro.ndevices, .state_dir = ro.state_dir };
	if (ro.disk_dir == NULL && rh_mkdir_parents(ro.state_dir, 0700, "state directory") < 0) {
		cli_report(rh_lasterr_code(), NULL);
		return EXIT_FAIL;
	}

	rc = rh_tls_ctx_new(RH_TLS_TARGET, keys, &ctx);
	if (rc < 0) {
		cli_report(rc, "keys");
		return EXIT_FAIL;
	}
	lfd = rh_net_listen(listen_addr, RH_PROTO_DEFAULT_PORT, &port);
	if (lfd < 0) {
		cli_report(lfd, NULL);
		rh_tls_ctx_free(ctx);
		return EXIT_FAIL;
	}
	go.max_pending = (unsigned)max_pending;
	go.timeout_ms = (unsigned)hs_timeout * 1000;
	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		rh_seterr_errno(errno, "pipe");
		cli_report(rh_lasterr_code(), NULL);
		goto out;
	}
	/* --once keeps its meaning (one job, then exit) by serving one
	 * session at a time; another agent meanwhile is told the target is busy. */
	if ((rc = rh_gate_new(ctx, lfd, &go, &gate)) < 0 ||
	    (rc = target_sessions_new(&ro, &snapt, once ? 1 : (unsigned)max_sessions, wake_pipe[1],
				      &ts)) < 0) {
		cli_report(rc, NULL);
		goto out;
	}
	cli_signals_init(CLI_SIG_STOP | CLI_SIG_IGNORE_PIPE, wake_pipe[1]);
	rh_log_info("listening on %s (port %u), writing to %s", listen_addr, port,
		    ro.disk_dir ? ro.disk_dir : devices[0]);
	if (port_file != NULL && (rc = rh_net_write_port_file(port_file, port)) < 0) {
		cli_report(rc, NULL);
		goto out;
	}
	status = listen_loop(gate, ts, once);
out:
	/* Sessions first: they may still write through their connections. */
	target_sessions_free(ts);
	rh_gate_free(gate);
	close(lfd);
	for (int i = 0; i < 2; i++)
		if (wake_pipe[i] >= 0)
			close(wake_pipe[i]);
	rh_tls_ctx_free(ctx);
	return status;
}
