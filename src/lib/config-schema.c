/*
 * The rehost.conf schema. Ranges and defaults come from the seed service
 * (INVENTORY §2.3-§2.7, §2.13, §2.14, §7.1); docs/config.md documents every
 * entry and tests/unit/test-config.c checks that it does.
 */
#include "rehost/checked.h"
#include "rehost/config.h"
#include "rehost/ratesched.h"

static const struct rh_cfg_keyword log_levels[] = {
	{ "fatal", 0 }, { "error", 0 }, { "warn", 0 }, { "info", 0 },
	{ "debug", 0 }, { "debug1", 0 }, { "debug2", 0 }, { "debug3", 0 },
	{ NULL, 0 },
};

/* Compression threads: "auto" picks min(3, idle cores) at start (§2.3). */
static const struct rh_cfg_keyword compress_words[] = {
	{ "auto", -1 }, { "off", 0 }, { NULL, 0 },
};

static const struct rh_cfg_keyword migration_modes[] = {
	{ "auto", 0 }, { "block", 0 }, { "file", 0 }, { NULL, 0 },
};

#define INT(s, k, lo, hi, u, d, h) \
	{ s, k, RH_CFG_INT, lo, hi, u, NULL, false, 0, d, h, NULL }
#define INT_OR_EMPTY(s, k, lo, hi, u, ev, d, h) \
	{ s, k, RH_CFG_INT, lo, hi, u, NULL, true, ev, d, h, NULL }
#define INT_WORDS(s, k, lo, hi, u, w, d, h) \
	{ s, k, RH_CFG_INT, lo, hi, u, w, false, 0, d, h, NULL }
#define BOOL(s, k, d, h) { s, k, RH_CFG_BOOL, 0, 0, NULL, NULL, false, 0, d, h, NULL }
#define STR(s, k, d, h) { s, k, RH_CFG_STRING, 0, 0, NULL, NULL, false, 0, d, h, NULL }
#define ENUM(s, k, w, d, h) { s, k, RH_CFG_ENUM, 0, 0, NULL, w, false, 0, d, h, NULL }
#define LIST(s, k, d, h) { s, k, RH_CFG_LIST, 0, 0, NULL, NULL, false, 0, d, h, NULL }
#define LIST_CHECKED(s, k, d, h, fn) \
	{ s, k, RH_CFG_LIST, 0, 0, NULL, NULL, false, 0, d, h, fn }

static int check_rate_window(const char *item)
{
	struct rh_ratesched tmp = { 0 };

	return rh_ratesched_add(&tmp, item);
}

static const struct rh_cfg_key schema[] = {
	ENUM("log", "level", log_levels, "info",
	     "least severe level written"),
	STR("log", "file", "",
	    "also append log lines to this file (empty: stderr only)"),

	STR("agent", "server", "",
	    "control-plane URL, e.g. https://rehost.example:8443 (empty: no server)"),
	STR("agent", "state_dir", "/var/lib/rehost",
	    "directory for the source identity, checkpoints and logs"),
	BOOL("agent", "tls_verify", "true",
	     "verify the control plane's TLS certificate (seed: servercheck)"),
	INT("agent", "heartbeat_interval", 5, 3600, "s", "30",
	    "seconds between heartbeats to the control plane"),
	INT("agent", "heartmonitor_days", 1, 365, "days", "30",
	    "idle days after which the agent disconnects (seed: heartmonitorday)"),
	INT("agent", "disk_rescan_interval", 60, 86400, "s", "3600",
	    "seconds between re-collections of the disk inventory (SMS.0515)"),
	STR("agent", "target_ip", "",
	    "override the target address recorded at migration start (seed: targetip)"),

	ENUM("replication", "mode", migration_modes, "auto",
	     "block, file, or auto (block when the source is eligible)"),
	INT("replication", "port", 1, 65535, NULL, "8900",
	    "TCP port of the target's data listener"),
	INT_WORDS("replication", "compress_threads", 0, 3, "threads", compress_words, "auto",
		  "zstd compression threads; auto = min(3, idle cores), off = 0"),
	INT("replication", "buffer_node_mb", 1, 8, "MiB", "4",
	    "size of each of the 6 buffer nodes"),
	INT_OR_EMPTY("replication", "rate_limit_mbit", 1, 100000, "Mbit/s", 0, "",
		     "bandwidth cap on the data stream (empty: unlimited)"),
	LIST_CHECKED("replication", "rate_windows", "",
		     "time-of-day caps HH:MM-HH:MM=MBIT (0 = unlimited), override rate_limit_mbit",
		     check_rate_window),

	INT_OR_EMPTY("limits", "cpu_percent", 1, 100, "%", 0, "",
		     "cgroup CPU limit as a share of all cores (empty: unlimited)"),
	INT_OR_EMPTY("limits", "memory_mb", 200, 1000, "MB", 0, "",
		     "cgroup memory limit (empty: unlimited)"),
	INT_OR_EMPTY("limits", "disk_mbps", 10, 1000, "MB/s", 0, "",
		     "cgroup source disk read/write limit (empty: unlimited)"),

	INT("file", "migrate_processes", 1, 4, "processes", "1",
	    "upper bound of parallel transfers during the full file-level copy"),
	INT("file", "sync_processes", 1, 4, "processes", "1",
	    "upper bound of parallel transfers during a file-level sync"),
	LIST("file", "tar_exclude_dir", "/proc/*,/sys/*,/lost+found/*,/var/lib/ntp/proc/*",
	     "paths never copied by the full file-level copy"),
	LIST("file", "rsync_exclude_dir",
	     "/proc/*,/sys/*,/lost+found/*,/var/lib/ntp/proc/*,/boot/*,/boot/efi/*,"
	     "/etc/fstab,/etc/*,/etc/X11/*,/root/initrd_bak/*,/lib/modules/*,"
	     "/boot/grub2/x86_64-efi/*,/boot/grub2/i386-pc/*",
	     "paths never synced, so target fix-ups are not overwritten"),

	LIST("linux", "support_filesystem", "ext2,ext3,ext4,xfs,vfat,btrfs",
	     "filesystems a source may use (others: SMS.6509)"),
	STR("linux", "network_dev", "",
	    "NIC to report when several have a default gateway (SMS.0410)"),
	STR("linux", "network_macaddr", "",
	    "MAC address to report with network_dev, dash-separated"),
	STR("linux", "network_ipaddr", "",
	    "IP address to report with network_dev"),
	LIST("linux", "fstab_tmp_filesystem", "tmpfs,devpts,devtmpfs,sysfs,proc,ramfs",
	     "fstab filesystem types left alone by the target fix-up"),
	LIST("linux", "fstab_ignore_mount_path", "",
	     "fstab mount points the target fix-up comments out"),
	LIST("linux", "fstab_keep_mount_path", "",
	     "fstab mount points the target fix-up keeps unchanged"),
	INT("linux", "inode_used_limit", 1, 4000000000LL, "inodes", "2000000",
	    "file-level: warn when a source filesystem uses more inodes"),
	BOOL("linux", "disable_platform_service", "true",
	     "disable the source cloud's guest agents on the target"),

	INT("recovery", "auto_start_interval_seconds", 10, 86400, "s", "1800",
	    "wait before restarting a task after a network-class error"),
	INT("recovery", "auto_start_max_retry_times", 0, 1000, "retries", "3",
	    "automatic restarts before a manual start is needed (0: never)"),
	INT("recovery", "auto_start_each_addition_seconds", 0, 86400, "s", "10",
	    "added to the interval after each retry"),
};

const struct rh_cfg_key *rh_config_schema(size_t *n)
{
	*n = RH_ARRAY_SIZE(schema);
	return schema;
}
