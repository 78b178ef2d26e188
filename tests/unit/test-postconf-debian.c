/* postconf on Debian-family trees: Debian 12 moved from VMware with
 * ifupdown and a static address, Ubuntu 22.04 from a cloud with netplan,
 * networkd and the cloud image's grub.d settings, a Debian desktop whose
 * netplan renders with NetworkManager, and the disable_platform_service
 * key. Each tree goes through a dry run, a run and a second run
 * (pc_family_run); the checks compare whole files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pc-tree.h"
#include "rehost/config.h"
#include "rehost/err.h"
#include "rehost/log.h"

#define ROOT_UUID "11111111-2222-3333-4444-555555555555"
#define SWAP_UUID "66666666-7777-8888-9999-000000000000"

/* ---- Debian 12 from VMware: ifupdown, static ---- */

static const char deb_interfaces[] =
	"# This file describes the network interfaces available on your system\n"
	"source /etc/network/interfaces.d/*\n"
	"\n"
	"# The loopback network interface\n"
	"auto lo\n"
	"iface lo inet loopback\n"
	"\n"
	"# The primary network interface\n"
	"auto ens192\n"
	"iface ens192 inet static\n"
	"\taddress 10.0.0.5/24\n"
	"\tgateway 10.0.0.1\n"
	"\tdns-nameservers 10.0.0.2\n"
	"\tdns-search example.com\n"
	"\tmtu 1500\n"
	"\n"
	"iface ens192 inet6 static\n"
	"\taddress 2001:db8::5/64\n"
	"\tgateway 2001:db8::1\n";

static void build_debian(const char *root)
{
	tree_put(root, "etc/os-release",
		 "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n"
		 "VERSION_ID=\"12\"\nID=debian\n");
	tree_put(root, "etc/debian_version", "12.5\n");
	tree_put(root, "etc/fstab",
		 "# /etc/fstab: static file system information.\n"
		 "UUID=0a1b2c3d-old / ext4 errors=remount-ro 0 1\n"
		 "UUID=0a1b2c3d-swap none swap sw 0 0\n"
		 "/dev/sr0 /media/cdrom0 udf,iso9660 user,noauto 0 0\n");
	tree_put(root, "etc/network/interfaces", deb_interfaces);
	tree_put(root, "etc/network/interfaces.d/ens224",
		 "allow-hotplug ens224\n"
		 "iface ens224 inet static\n"
		 "    address 192.168.10.5\n"
		 "    netmask 255.255.255.0\n");
	tree_put(root, "etc/udev/rules.d/70-persistent-net.rules",
		 "SUBSYSTEM==\"net\", ACTION==\"add\", ATTR{address}==\"00:50:56:aa:bb:cc\", "
		 "NAME=\"eth0\"\n");
	tree_put(root, "etc/udev/rules.d/80-lan.rules",
		 "# keep the LAN name\n"
		 "SUBSYSTEM==\"net\", ATTRS{address}==\"00:50:56:aa:bb:dd\", NAME=\"lan0\"\n");
	tree_put(root, "etc/udev/rules.d/99-disk.rules",
		 "KERNEL==\"sd*\", ATTR{queue/scheduler}=\"none\"\n");
	tree_put(root, "etc/cloud/cloud.cfg", "datasource_list: [ VMware ]\n");
	tree_link(root, "etc/systemd/system/multi-user.target.wants/open-vm-tools.service",
		  "/lib/systemd/system/open-vm-tools.service");
	tree_link(root, "etc/systemd/system/vmtoolsd.service",
		  "/lib/systemd/system/open-vm-tools.service");
	tree_link(root, "etc/systemd/system/multi-user.target.wants/qemu-guest-agent.service",
		  "/lib/systemd/system/qemu-guest-agent.service");
	tree_link(root, "etc/systemd/system/multi-user.target.wants/walinuxagent.service",
		  "/lib/systemd/system/walinuxagent.service");
	tree_link(root, "etc/systemd/system/google-guest-agent.service", "/dev/null"); /* masked */
	tree_link(root, "etc/systemd/system/multi-user.target.wants/google-oslogin-cache.timer",
		  "/lib/systemd/system/google-oslogin-cache.timer");
	tree_put(root, "etc/motd", "\nThe programs included with the Debian GNU/Linux system...\n");
	tree_put(root, "etc/initramfs-tools/modules",
		 "# List of modules that you want to include in your initramfs.\n"
		 "# Syntax:  module_name [args ...]\n"
		 "virtio-blk\n");
	tree_put(root, "etc/initramfs-tools/initramfs.conf", "MODULES=dep\nBUSYBOX=auto\n");
	tree_put(root, "etc/default/grub",
		 "GRUB_DEFAULT=0\n"
		 "GRUB_TIMEOUT=5\n"
		 "GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\n"
		 "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\n"
		 "GRUB_CMDLINE_LINUX=\"resume=/dev/sda5\"\n"
		 "#GRUB_TERMINAL=console\n");
}

static void check_debian(const char *root, struct rh_pc *pc)
{
	assert_int_equal(pc->family, RH_PC_DEBIAN);
	assert_file(root, "etc/fstab",
		    "# /etc/fstab: static file system information.\n"
		    "# rehost: UUID=0a1b2c3d-old / ext4 errors=remount-ro 0 1\n"
		    "UUID=" ROOT_UUID " / ext4 errors=remount-ro 0 1\n"
		    "# rehost: UUID=0a1b2c3d-swap none swap sw 0 0\n"
		    "UUID=" SWAP_UUID " none swap sw 0 0\n"
		    "/dev/sr0 /media/cdrom0 udf,iso9660 user,noauto 0 0\n");
	assert_file(root, "etc/network/interfaces",
		    "# This file describes the network interfaces available on your system\n"
		    "source /etc/network/interfaces.d/*\n"
		    "\n"
		    "# The loopback network interface\n"
		    "auto lo\n"
		    "iface lo inet loopback\n"
		    "\n"
		    "# The primary network interface\n"
		    "# rehost: auto ens192\n"
		    "allow-hotplug ens192\n"
		    "iface ens192 inet dhcp\n"
		    "\t# rehost: address 10.0.0.5/24\n"
		    "\t# rehost: gateway 10.0.0.1\n"
		    "\t# rehost: dns-nameservers 10.0.0.2\n"
		    "\tdns-search example.com\n"
		    "\tmtu 1500\n"
		    "\n"
		    "# rehost: iface ens192 inet6 static\n"
		    "\t# rehost: address 2001:db8::5/64\n"
		    "\t# rehost: gateway 2001:db8::1\n"
		    "\n"
		    "# rehost: DHCP on the names a virtio NIC may get on the KVM target\n"
		    "allow-hotplug eth0\niface eth0 inet dhcp\n"
		    "allow-hotplug ens3\niface ens3 inet dhcp\n"
		    "allow-hotplug enp0s3\niface enp0s3 inet dhcp\n"
		    "allow-hotplug enp1s0\niface enp1s0 inet dhcp\n"
		    "allow-hotplug ens2\niface ens2 inet dhcp\n"
		    "allow-hotplug enp0s2\niface enp0s2 inet dhcp\n");
	assert_file(root, "etc/network/interfaces.d/ens224",
		    "allow-hotplug ens224\n"
		    "iface ens224 inet dhcp\n"
		    "    # rehost: address 192.168.10.5\n"
		    "    # rehost: netmask 255.255.255.0\n");
	assert_false(tree_exists(root, "etc/udev/rules.d/70-persistent-net.rules"));
	assert_false(tree_exists(root, "etc/udev/rules.d/80-lan.rules"));
	assert_true(tree_exists(root, "etc/udev/rules.d/99-disk.rules"));
	assert_false(tree_exists(root, "etc/cloud/cloud.cfg"));
	assert_file(root, "etc/cloud/cloud-init.disabled", "");
	assert_false(tree_exists(root, "etc/systemd/system/multi-user.target.wants/open-vm-tools.service"));
	assert_false(tree_exists(root, "etc/systemd/system/vmtoolsd.service"));
	assert_false(tree_exists(root, "etc/systemd/system/multi-user.target.wants/walinuxagent.service"));
	assert_false(tree_exists(root, "etc/systemd/system/multi-user.target.wants/google-oslogin-cache.timer"));
	/* The KVM agent and a mask stay. */
	assert_true(tree_exists(root, "etc/systemd/system/multi-user.target.wants/qemu-guest-agent.service"));
	assert_true(tree_exists(root, "etc/systemd/system/google-guest-agent.service"));
	assert_file(root, "etc/motd", "");
	assert_false(tree_exists(root, ".autorelabel"));
	/* virtio-blk is virtio_blk: not repeated. */
	assert_file(root, "etc/initramfs-tools/modules",
		    "# List of modules that you want to include in your initramfs.\n"
		    "# Syntax:  module_name [args ...]\n"
		    "virtio-blk\n"
		    "# rehost: virtio drivers for the KVM target\n"
		    "virtio_pci\nvirtio_scsi\nvirtio_net\nvirtio_console\n");
	assert_int_equal(pc_count(pc, "/etc/initramfs-tools/conf.d", "created"), 1);
	assert_file(root, "etc/initramfs-tools/conf.d/zz-rehost-virtio",
		    "# Written by rehost postconf: the initramfs is built in a chroot on the\n"
		    "# migration host, where MODULES=dep would pick the host's drivers (or\n"
		    "# fail to find the root device). Include the usual storage and network\n"
		    "# drivers instead; the virtio ones are also listed in ../modules.\n"
		    "MODULES=most\n");
	assert_false(tree_exists(root, "etc/dracut.conf.d"));
	assert_file(root, "etc/default/grub",
		    "GRUB_DEFAULT=0\n"
		    "GRUB_TIMEOUT=5\n"
		    "GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\n"
		    "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\n"
		    "GRUB_CMDLINE_LINUX=\"console=tty0 console=ttyS0,115200n8\"\n"
		    "#GRUB_TERMINAL=console\n"
		    "\n"
		    "# rehost: settings for the KVM target\n"
		    "GRUB_TERMINAL=\"console serial\"\n"
		    "GRUB_SERIAL_COMMAND=\"serial --unit=0 --speed=115200\"\n");
	/* The removed rules file is in the backup, as it was. */
	{
		char rel[PATH_MAX * 2];

		snprintf(rel, sizeof rel, "%s/etc/udev/rules.d/80-lan.rules", pc->backup_rel + 1);
		assert_true(tree_exists(root, rel));
	}
	assert_int_equal(pc_count(pc, "/etc/network/interfaces", "modified"), 1);
	assert_int_equal(pc_count(pc, "/etc/fstab", "modified"), 2);
}

static void test_debian_ifupdown(void **state)
{
	const struct rh_pc_fs fs[] = { { "/", ROOT_UUID, "ext4", NULL },
				       { "swap", SWAP_UUID, "swap", NULL } };
	char *root = tree_new();

	(void)state;
	build_debian(root);
	assert_int_equal(pc_family_run(root, fs, 2, NULL, check_debian), 17);
	tree_rm(root);
	free(root);
}

/* ---- Ubuntu 22.04 from a cloud: netplan, networkd, grub.d ---- */

static void build_ubuntu(const char *root)
{
	tree_put(root, "usr/lib/os-release",
		 "PRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\nNAME=\"Ubuntu\"\nID=ubuntu\nID_LIKE=debian\n");
	tree_link(root, "etc/os-release", "../usr/lib/os-release");
	tree_put(root, "etc/fstab",
		 "LABEL=cloudimg-rootfs\t/\t ext4\tdiscard,errors=remount-ro\t0 1\n"
		 "UUID=ABCD-1234\t/boot/efi\tvfat\tumask=0077\t0 1\n");
	tree_put_mode(root, "etc/netplan/50-cloud-init.yaml",
		      "# This file is generated from information provided by the datasource.\n"
		      "network:\n"
		      "    ethernets:\n"
		      "        ens5:\n"
		      "            dhcp4: true\n"
		      "            match:\n"
		      "                macaddress: 02:aa:bb:cc:dd:ee\n"
		      "            set-name: ens5\n"
		      "    version: 2\n",
		      0600);
	tree_put(root, "etc/network/interfaces", "# ifupdown has been replaced by netplan(5)\n");
	tree_put(root, "etc/systemd/network/10-static.network",
		 "[Match]\nName=ens5\n\n[Network]\nAddress=10.1.2.3/24\nGateway=10.1.2.1\n");
	tree_put(root, "etc/systemd/network/10-ens5.link",
		 "[Match]\nMACAddress=02:aa:bb:cc:dd:ee\n\n[Link]\nName=ens5\n");
	tree_put(root, "etc/systemd/network/99-default.link", "[Link]\nNamePolicy=kernel path\n");
	tree_put(root, "etc/cloud/cloud.cfg", "users: [default]\n");
	tree_put(root, "etc/init/google-accounts-daemon.conf", "start on stopped networking\n");
	tree_link(root,
		  "etc/systemd/system/multi-user.target.wants/snap.amazon-ssm-agent.amazon-ssm-agent.service",
		  "/etc/systemd/system/snap.amazon-ssm-agent.amazon-ssm-agent.service");
	tree_put(root, "etc/systemd/system/snap.amazon-ssm-agent.amazon-ssm-agent.service",
		 "[Service]\n");
	tree_link(root, "etc/motd", "/run/motd.dynamic"); /* leads nowhere in the tree */
	tree_put(root, "etc/initramfs-tools/initramfs.conf", "MODULES=most\n");
	tree_put(root, "etc/default/grub",
		 "GRUB_DEFAULT=0\n"
		 "GRUB_TIMEOUT_STYLE=hidden\n"
		 "GRUB_TIMEOUT=0\n"
		 "GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\n"
		 "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet splash\"\n"
		 "GRUB_CMDLINE_LINUX=\"\"");
	tree_put(root, "etc/default/grub.d/50-cloudimg-settings.cfg",
		 "# Cloud Image specific Grub settings for Generic Cloud Images\n"
		 "GRUB_RECORDFAIL_TIMEOUT=0\n"
		 "GRUB_TIMEOUT=0\n"
		 "GRUB_CMDLINE_LINUX_DEFAULT=\"console=tty1 console=ttyS0\"\n"
		 "GRUB_TERMINAL=console\n");
	tree_put(root, "etc/default/grub.d/40-force-partuuid.cfg",
		 "# Force boot without an initramfs by setting GRUB_FORCE_PARTUUID\n"
		 "GRUB_FORCE_PARTUUID=6ab1e0a4-01\n");
}

static void check_ubuntu(const char *root, struct rh_pc *pc)
{
	char p[PATH_MAX];
	struct stat st;

	assert_int_equal(pc->family, RH_PC_DEBIAN);
	assert_string_equal(pc->os_pretty, "Ubuntu 22.04.4 LTS");
	assert_file(root, "etc/fstab",
		    "# rehost: LABEL=cloudimg-rootfs\t/\t ext4\tdiscard,errors=remount-ro\t0 1\n"
		    "UUID=" ROOT_UUID "\t/\t ext4\tdiscard,errors=remount-ro\t0 1\n"
		    "UUID=ABCD-1234\t/boot/efi\tvfat\tumask=0077\t0 1\n");
	assert_false(tree_exists(root, "etc/netplan/50-cloud-init.yaml"));
	assert_file(root, "etc/netplan/50-rehost-dhcp.yaml",
		    "# Written by rehost postconf: DHCP on every Ethernet NIC of the KVM\n"
		    "# target, whatever name it gets. The source's files are in the\n"
		    "# postconf backup directory (/var/backups/rehost-postconf).\n"
		    "network:\n"
		    "  version: 2\n"
		    "  ethernets:\n"
		    "    rehost-dhcp:\n"
		    "      match:\n"
		    "        name: \"e*\"\n"
		    "      dhcp4: true\n");
	snprintf(p, sizeof p, "%s/etc/netplan/50-rehost-dhcp.yaml", root);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_file(root, "etc/network/interfaces", "# ifupdown has been replaced by netplan(5)\n");
	assert_false(tree_exists(root, "etc/systemd/network/10-static.network"));
	assert_false(tree_exists(root, "etc/systemd/network/10-ens5.link"));
	assert_true(tree_exists(root, "etc/systemd/network/99-default.link"));
	assert_file(root, "etc/systemd/network/80-rehost-dhcp.network",
		    "# Written by rehost postconf: DHCP on every Ethernet NIC of the KVM\n"
		    "# target, whatever name it gets.\n"
		    "[Match]\nName=e*\n\n[Network]\nDHCP=ipv4\n");
	assert_false(tree_exists(root, "etc/init/google-accounts-daemon.conf"));
	assert_file(root, "etc/backup_googleconf/google-accounts-daemon.conf",
		    "start on stopped networking\n");
	assert_false(tree_exists(root,
		"etc/systemd/system/multi-user.target.wants/snap.amazon-ssm-agent.amazon-ssm-agent.service"));
	/* A unit file (not a link) stays. */
	assert_true(tree_exists(root, "etc/systemd/system/snap.amazon-ssm-agent.amazon-ssm-agent.service"));
	assert_int_equal(pc_count(pc, "/etc/motd", NULL), 0);
	assert_file(root, "etc/initramfs-tools/modules",
		    "# rehost: virtio drivers for the KVM target\n"
		    "virtio_pci\nvirtio_blk\nvirtio_scsi\nvirtio_net\nvirtio_console\n");
	assert_false(tree_exists(root, "etc/initramfs-tools/conf.d"));
	assert_file(root, "etc/default/grub",
		    "GRUB_DEFAULT=0\n"
		    "GRUB_TIMEOUT_STYLE=hidden\n"
		    "GRUB_TIMEOUT=0\n"
		    "GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\n"
		    "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet splash\"\n"
		    "GRUB_CMDLINE_LINUX=\"console=tty0 console=ttyS0,115200n8\"\n"
		    "\n"
		    "# rehost: settings for the KVM target\n"
		    "GRUB_SERIAL_COMMAND=\"serial --unit=0 --speed=115200\"\n");
	assert_file(root, "etc/default/grub.d/50-cloudimg-settings.cfg",
		    "# Cloud Image specific Grub settings for Generic Cloud Images\n"
		    "GRUB_RECORDFAIL_TIMEOUT=0\n"
		    "GRUB_TIMEOUT=0\n"
		    "GRUB_CMDLINE_LINUX_DEFAULT=\"console=tty1 console=ttyS0\"\n"
		    "GRUB_TERMINAL=\"console serial\"\n");
	assert_file(root, "etc/default/grub.d/40-force-partuuid.cfg",
		    "# Force boot without an initramfs by setting GRUB_FORCE_PARTUUID\n"
		    "# rehost: GRUB_FORCE_PARTUUID=6ab1e0a4-01\n");
}

static void test_ubuntu_netplan(void **state)
{
	const struct rh_pc_fs fs[] = { { "/", ROOT_UUID, NULL, NULL },
				       { "/boot/efi", "abcd-1234", "vfat", NULL } };
	char *root = tree_new();

	(void)state;
	build_ubuntu(root);
	assert_int_equal(pc_family_run(root, fs, 2, NULL, check_ubuntu), 14);
	tree_rm(root);
	free(root);
}

/* ---- Debian desktop: netplan rendered by NetworkManager ---- */

static void check_nm_renderer(const char *root, struct rh_pc *pc)
{
	char *v = tree_get(root, "etc/netplan/50-rehost-dhcp.yaml");

	(void)pc;
	assert_non_null(v);
	assert_non_null(strstr(v, "  version: 2\n  renderer: NetworkManager\n  ethernets:\n"));
	free(v);
	assert_false(tree_exists(root, "etc/netplan/01-network-manager-all.yaml"));
	assert_false(tree_exists(root, "etc/netplan/90-static.yaml"));
	assert_true(tree_exists(root, "etc/netplan/README"));
}

static void test_debian_netplan_nm(void **state)
{
	const struct rh_pc_fs fs[] = { { "/", ROOT_UUID, NULL, NULL } };
	char *root = tree_new();

	(void)state;
	tree_put(root, "etc/os-release", "ID=debian\n");
	tree_put(root, "etc/fstab", "UUID=" ROOT_UUID " / ext4 defaults 0 1\n");
	tree_put(root, "etc/netplan/01-network-manager-all.yaml",
		 "network:\n  version: 2\n  renderer: NetworkManager\n");
	tree_put(root, "etc/netplan/90-static.yaml",
		 "network:\n  ethernets:\n    eth0:\n      addresses: [10.0.0.9/24]\n");
	tree_put(root, "etc/netplan/README", "not yaml\n");
	assert_int_equal(pc_family_run(root, fs, 1, NULL, check_nm_renderer), 3);
	tree_rm(root);
	free(root);
}

/* ---- [linux] disable_platform_service = false ---- */

static void check_platform_kept(const char *root, struct rh_pc *pc)
{
	(void)pc;
	assert_true(tree_exists(root, "etc/systemd/system/multi-user.target.wants/walinuxagent.service"));
	assert_true(tree_exists(root, "etc/rc2.d/S01aegis"));
	assert_false(tree_exists(root, "etc/rc2.d/S01vmware-tools"));
}

static void check_platform_dropped(const char *root, struct rh_pc *pc)
{
	(void)pc;
	assert_false(tree_exists(root, "etc/systemd/system/multi-user.target.wants/walinuxagent.service"));
	assert_false(tree_exists(root, "etc/rc2.d/S01aegis"));
	assert_true(tree_exists(root, "etc/rc2.d/S01qemu-guest-agent"));
}

static void test_platform_service_key(void **state)
{
	const struct rh_pc_fs fs[] = { { "/", ROOT_UUID, NULL, NULL } };
	struct rh_config *cfg = NULL;

	(void)state;
	assert_int_equal(rh_config_new(&cfg), 0);
	assert_int_equal(rh_config_set(cfg, "linux", "disable_platform_service", "false", "test"), 0);
	for (int pass = 0; pass < 2; pass++) {
		char *root = tree_new();

		tree_put(root, "etc/os-release", "ID=debian\n");
		tree_put(root, "etc/fstab", "UUID=" ROOT_UUID " / ext4 defaults 0 1\n");
		tree_link(root, "etc/systemd/system/multi-user.target.wants/walinuxagent.service",
			  "/lib/systemd/system/walinuxagent.service");
		tree_link(root, "etc/rc2.d/S01aegis", "../init.d/aegis");
		tree_link(root, "etc/rc2.d/S01vmware-tools", "../init.d/vmware-tools");
		tree_link(root, "etc/rc2.d/S01qemu-guest-agent", "../init.d/qemu-guest-agent");
		if (pass == 0)
			assert_int_equal(pc_family_run(root, fs, 1, cfg, check_platform_kept), 1);
		else
			assert_int_equal(pc_family_run(root, fs, 1, NULL, check_platform_dropped), 3);
		tree_rm(root);
		free(root);
	}
	rh_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_debian_ifupdown),
		cmocka_unit_test(test_ubuntu_netplan),
		cmocka_unit_test(test_debian_netplan_nm),
		cmocka_unit_test(test_platform_service_key),
	};

	rh_log_set_level(RH_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
