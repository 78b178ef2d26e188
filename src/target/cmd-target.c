/* rehost target: receive block replication into image files or devices. */
#define RH_LOG_COMPONENT "target"
#include <errno.h>
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
#include "rehost/log.h"
#include "rehost/net.h"
#include "rehost/repl.h"
#include "rehost/tls.h"
#include "target/target.h"

#define MAX_DEVICES 64

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
		"  --once                exit after the first job finishes (status 0) or fails\n"
		"\n"
		"Each disk is reported complete only after its data is on stable storage;\n"
		"if the agent or the target stops, running the same commands again resumes.\n"
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

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
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
		{ NULL, 0, NULL, 0 },
	};
	const char *listen_addr = "0.0.0.0:8900", *port_file = NULL, *keys = NULL;
	const char *devices[MAX_DEVICES];
	struct rh_receiver_opts ro = { .state_dir = "/var/lib/rehost/target" };
	struct rh_tls_ctx *ctx = NULL;
	struct rh_snap_target snapt;
	struct sigaction sa = { .sa_handler = on_signal };
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
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	rh_log_info("listening on %s (port %u), writing to %s", listen_addr, port,
		    ro.disk_dir ? ro.disk_dir : devices[0]);
	if (port_file != NULL && (rc = rh_net_write_port_file(port_file, port)) < 0) {
		cli_report(rc, NULL);
		goto out;
	}

	while (!stopping) {
		struct rh_tls_conn *conn = NULL;
		struct timeval tv = { .tv_sec = 60 };
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			rh_log_error("accept: %s", strerror(errno));
			continue;
		}
		/* A silent peer must not hold the target forever. */
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		rc = rh_tls_handshake(ctx, fd, &conn);
		if (rc < 0) {
			rh_log_warn("refused connection: %s", rh_lasterr());
			close(fd);
			continue;
		}
		rh_log_info("agent %s connected", rh_tls_peer_name(conn));
		/* Disks configured at cutover no longer match the source: the next
		 * job starts from the sync snapshot (the seed's purpose for it). */
		rc = target_unconfigure(&snapt);
		if (rc < 0) {
			rh_log_error("refusing the job: %s", rh_lasterr());
			rh_tls_close(conn);
			continue;
		}
		rc = rh_receiver_serve(conn, &ro);
		rh_tls_close(conn);
		if (rc == 0) {
			rh_log_info("job finished; all disks on stable storage");
			status = EXIT_OK;
		} else {
			const char *sms = rh_lasterr_sms();

			rh_log_error("job stopped: %s%s%s%s", rh_lasterr(), sms ? " [" : "",
				     sms ? sms : "", sms ? "]" : "");
			status = EXIT_FAIL;
		}
		if (once)
			break;
	}
out:
	close(lfd);
	rh_tls_ctx_free(ctx);
	return status;
}
