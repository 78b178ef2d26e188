/* postconf on RHEL-family trees: CentOS 7 from VMware (network-scripts
 * ifcfg, bond, route file, global gateway, SysV VMware tools, SELinux
 * enforcing, xorg.conf, dracut, GRUB_DISABLE_LINUX_UUID) and Rocky 9 from
 * a cloud (NetworkManager keyfiles, resume=UUID, SELinux permissive). Each
 * tree goes through a dry run, a run and a second run (pc_family_run). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pc-tree.h"
#include "rehost/err.h"
#include "rehost/log.h"

#define ROOT_UUID "c0ffee00-1111-2222-3333-444444444444"
#define BOOT_UUID "b0070000-1111-2222-3333-444444444444"
#define SWAP_UUID "5aa50000-1111-2222-3333-444444444444"

static const char dracut_dropin[] =
	"# Written by rehost postconf: the target boots on KVM/virtio. The\n"
	"# initramfs is built in a chroot on the migration host, where\n"
	"# host-only mode would pick the host's drivers, not the target's:\n"
	"# build a generic image and add the virtio drivers.\n"
	"add_drivers+=\" virtio_pci virtio_blk virtio_scsi virtio_net virtio_console \"\n"
	"hostonly=\"no\"\n";

/* ---- CentOS 7 ---- */

static void build_centos7(const char *root)
{
	tree_put(root, "etc/os-release",
		 "NAME=\"CentOS Linux\"\nVERSION=\"7 (Core)\"\nID=\"centos\"\nID_LIKE=\"rhel fedora\"\n"
		 "PRETTY_NAME=\"CentOS Linux 7 (Core)\"\n");
	tree_put(root, "etc/centos-release", "CentOS Linux release 7.9.2009 (Core)\n");
	tree_link(root, "etc/redhat-release", "centos-release");
	tree_put(root, "etc/fstab",
		 "\n#\n# /etc/fstab\n# Created by anaconda on Tue Mar  3 10:00:00 2020\n#\n"
		 "/dev/mapper/centos-root /                       xfs     defaults        0 0\n"
		 "UUID=7e57-old-boot /boot                   xfs     defaults        0 0\n"
		 "/dev/mapper/centos-swap swap                    swap    defaults        0 0\n");
	tree_put(root, "etc/sysconfig/network-scripts/ifcfg-eth0",
		 "TYPE=Ethernet\n"
		 "BOOTPROTO=none\n"
		 "DEFROUTE=yes\n"
		 "NAME=eth0\n"
		 "UUID=5fb06bd0-0bb0-7ffb-45f1-d6edd65f3e03\n"
		 "DEVICE=eth0\n"
		 "ONBOOT=yes\n"
		 "IPADDR=192.168.1.10\n"
		 "PREFIX=24\n"
		 "GATEWAY=192.168.1.1\n"
		 "DNS1=8.8.8.8\n"
		 "HWADDR=00:50:56:aa:bb:cc\n");
	tree_put(root, "etc/sysconfig/network-scripts/ifcfg-lo",
		 "DEVICE=lo\nIPADDR=127.0.0.1\nNETMASK=255.0.0.0\nONBOOT=yes\n");
	tree_put(root, "etc/sysconfig/network-scripts/ifcfg-bond0",
		 "DEVICE=bond0\nTYPE=Bond\nBOOTPROTO=none\nIPADDR=10.9.9.9\nPREFIX=24\n");
	tree_put(root, "etc/sysconfig/network-scripts/ifcfg-eth1",
		 "DEVICE=eth1\nMASTER=bond0\nSLAVE=yes\nBOOTPROTO=none\nHWADDR=00:50:56:aa:bb:dd\n");
	tree_put(root, "etc/sysconfig/network-scripts/ifcfg-eth0.bak", "BOOTPROTO=none\n");
	tree_put(root, "etc/sysconfig/network-scripts/route-eth0", "10.20.0.0/16 via 192.168.1.254\n");
	tree_put(root, "etc/sysconfig/network-scripts/ifup-eth", "#!/bin/bash\n");
	tree_put(root, "etc/sysconfig/network", "NETWORKING=yes\nHOSTNAME=old\nGATEWAY=192.168.1.1\n");
	tree_put(root, "etc/udev/rules.d/70-persistent-net.rules",
		 "SUBSYSTEM==\"net\", ATTR{address}==\"00:50:56:aa:bb:cc\", NAME=\"eth0\"\n");
	tree_put(root, "etc/selinux/config", "# comment\nSELINUX=enforcing\nSELINUXTYPE=targeted\n");
	tree_put_mode(root, "etc/rc.d/init.d/vmware-tools", "#!/bin/sh\n", 0755);
	tree_link(root, "etc/init.d", "rc.d/init.d");
	tree_link(root, "etc/rc.d/rc3.d/S03vmware-tools", "../init.d/vmware-tools");
	tree_link(root, "etc/rc.d/rc5.d/S03vmware-tools", "../init.d/vmware-tools");
	tree_link(root, "etc/rc.d/rc0.d/K99vmware-tools", "../init.d/vmware-tools");
	tree_link(root, "etc/rc3.d", "rc.d/rc3.d");
	tree_put(root, "etc/motd", "Authorized uses only.\n");
	tree_put(root, "etc/X11/xorg.conf",
		 "Section \"Device\"\n"
		 "    Identifier  \"VMware SVGA\"\n"
		 "    Driver      \"vmware\"\n"
		 "    BusID       \"PCI:0:15:0\"\n"
		 "EndSection\n"
		 "Section \"InputDevice\"\n"
		 "    Driver \"vmmouse\"\n"
		 "EndSection\n");
	tree_put(root, "etc/dracut.conf", "# see dracut.conf.d\n");
	tree_mkdir(root, "etc/dracut.conf.d");
	tree_put(root, "etc/default/grub",
		 "GRUB_TIMEOUT=5\n"
		 "GRUB_DISTRIBUTOR=\"$(sed 's, release .*$,,g' /etc/system-release)\"\n"
		 "GRUB_DEFAULT=saved\n"
		 "GRUB_DISABLE_SUBMENU=true\n"
		 "GRUB_TERMINAL_OUTPUT=\"console\"\n"
		 "GRUB_CMDLINE_LINUX=\"crashkernel=auto resume=/dev/mapper/centos-swap "
		 "rd.lvm.lv=centos/root rd.lvm.lv=centos/swap rhgb quiet\"\n"
		 "GRUB_DISABLE_RECOVERY=\"true\"\n"
		 "GRUB_DISABLE_LINUX_UUID=true\n");
}

static void check_centos7(const char *root, struct rh_pc *pc)
{
	assert_int_equal(pc->family, RH_PC_RHEL);
	assert_string_equal(pc->os_pretty, "CentOS Linux 7 (Core)");
	assert_file(root, "etc/fstab",
		    "\n#\n# /etc/fstab\n# Created by anaconda on Tue Mar  3 10:00:00 2020\n#\n"
		    "# rehost: /dev/mapper/centos-root /                       xfs     defaults        0 0\n"
		    "UUID=" ROOT_UUID " /                       xfs     defaults        0 0\n"
		    "# rehost: UUID=7e57-old-boot /boot                   xfs     defaults        0 0\n"
		    "UUID=" BOOT_UUID " /boot                   xfs     defaults        0 0\n"
		    "# rehost: /dev/mapper/centos-swap swap                    swap    defaults        0 0\n"
		    "UUID=" SWAP_UUID " swap                    swap    defaults        0 0\n");
	assert_file(root, "etc/sysconfig/network-scripts/ifcfg-eth0",
		    "TYPE=Ethernet\n"
		    "BOOTPROTO=dhcp\n"
		    "DEFROUTE=yes\n"
		    "NAME=eth0\n"
		    "DEVICE=eth0\n"
		    "ONBOOT=yes\n");
	/* Loopback, bond and bond port, editor backups and scripts stay. */
	assert_file(root, "etc/sysconfig/network-scripts/ifcfg-lo",
		    "DEVICE=lo\nIPADDR=127.0.0.1\nNETMASK=255.0.0.0\nONBOOT=yes\n");
	assert_file(root, "etc/sysconfig/network-scripts/ifcfg-bond0",
		    "DEVICE=bond0\nTYPE=Bond\nBOOTPROTO=none\nIPADDR=10.9.9.9\nPREFIX=24\n");
	assert_file(root, "etc/sysconfig/network-scripts/ifcfg-eth1",
		    "DEVICE=eth1\nMASTER=bond0\nSLAVE=yes\nBOOTPROTO=none\nHWADDR=00:50:56:aa:bb:dd\n");
	assert_file(root, "etc/sysconfig/network-scripts/ifcfg-eth0.bak", "BOOTPROTO=none\n");
	assert_false(tree_exists(root, "etc/sysconfig/network-scripts/route-eth0"));
	assert_true(tree_exists(root, "etc/sysconfig/network-scripts/ifup-eth"));
	/* eth0 is configured: no fallback file. */
	assert_int_equal(pc_count(pc, "/etc/sysconfig/network-scripts/ifcfg-eth0", "created"), 0);
	assert_file(root, "etc/sysconfig/network",
		    "NETWORKING=yes\nHOSTNAME=old\n# rehost: GATEWAY=192.168.1.1\n");
	assert_false(tree_exists(root, "etc/udev/rules.d/70-persistent-net.rules"));
	assert_file(root, ".autorelabel", "");
	assert_false(tree_exists(root, "etc/rc.d/init.d/vmware-tools"));
	assert_false(tree_exists(root, "etc/rc.d/rc3.d/S03vmware-tools"));
	assert_false(tree_exists(root, "etc/rc.d/rc5.d/S03vmware-tools"));
	assert_false(tree_exists(root, "etc/rc.d/rc0.d/K99vmware-tools"));
	assert_file(root, "etc/motd", "");
	assert_file(root, "etc/X11/xorg.conf",
		    "Section \"Device\"\n"
		    "    Identifier  \"VMware SVGA\"\n"
		    "    Driver \"modesetting\" # rehost: was vmware\n"
		    "    # rehost: BusID       \"PCI:0:15:0\"\n"
		    "EndSection\n"
		    "Section \"InputDevice\"\n"
		    "    Driver \"vmmouse\"\n"
		    "EndSection\n");
	{
		char *bak = tree_get(root, "etc/X11/xorg.conf.bak");

		assert_non_null(bak);
		assert_non_null(strstr(bak, "Driver      \"vmware\""));
		free(bak);
	}
	assert_file(root, "etc/dracut.conf.d/90-rehost-virtio.conf", dracut_dropin);
	assert_false(tree_exists(root, "etc/initramfs-tools"));
	assert_file(root, "etc/default/grub",
		    "GRUB_TIMEOUT=5\n"
		    "GRUB_DISTRIBUTOR=\"$(sed 's, release .*$,,g' /etc/system-release)\"\n"
		    "GRUB_DEFAULT=saved\n"
		    "GRUB_DISABLE_SUBMENU=true\n"
		    "GRUB_TERMINAL_OUTPUT=\"console\"\n"
		    "GRUB_CMDLINE_LINUX=\"crashkernel=auto resume=/dev/mapper/centos-swap "
		    "rd.lvm.lv=centos/root rd.lvm.lv=centos/swap rhgb quiet console=tty0 "
		    "console=ttyS0,115200n8\"\n"
		    "GRUB_DISABLE_RECOVERY=\"true\"\n"
		    "# rehost: GRUB_DISABLE_LINUX_UUID=true\n"
		    "\n"
		    "# rehost: settings for the KVM target\n"
		    "GRUB_TERMINAL=\"console serial\"\n"
		    "GRUB_SERIAL_COMMAND=\"serial --unit=0 --speed=115200\"\n");
}

static void test_centos7_ifcfg(void **state)
{
	const struct rh_pc_fs fs[] = { { "/", ROOT_UUID, "xfs", "/dev/mapper/centos-root" },
				       { "/boot", BOOT_UUID, "xfs", NULL },
				       { "swap", SWAP_UUID, "swap", NULL } };
	char *root = tree_new();

	(void)state;
	build_centos7(root);
	assert_int_equal(pc_family_run(root, fs, 3, NULL, check_centos7), 17);
	tree_rm(root);
	free(root);
}

/* ---- Rocky 9 ---- */

static const char rocky_keyfile[] =
	"[connection]\n"
	"id=ens192\n"
	"uuid=0f3d1c1e-7d9a-4f8e-9a55-0d0ad1e7a111\n"
	"type=ethernet\n"
	"autoconnect-priority=-999\n"
	"interface-name=ens192\n"
	"\n"
	"[ethernet]\n"
	"mac-address=00:50:56:AA:BB:CC\n"
	"\n"
	"[ipv4]\n"
	"address1=10.0.0.5/24,10.0.0.1\n"
	"dns=10.0.0.2;\n"
	"method=manual\n"
	"\n"
	"[ipv6]\n"
	"addr-gen-mode=eui64\n"
	"method=auto\n"
	"\n"
	"[proxy]\n";

static const char wifi_keyfile[] = "[connection]\nid=home\ntype=wifi\ninterface-name=wlp2s0\n"
				   "\n[ipv4]\naddress1=192.168.0.9/24\nmethod=manual\n";

static void build_rocky9(const char *root)
{
	tree_put(root, "etc/os-release",
		 "NAME=\"Rocky Linux\"\nVERSION=\"9.3 (Blue Onyx)\"\nID=\"rocky\"\n"
		 "ID_LIKE=\"rhel centos fedora\"\nPRETTY_NAME=\"Rocky Linux 9.3 (Blue Onyx)\"\n");
	tree_put(root, "etc/fstab",
		 "/dev/mapper/rl-root     /                       xfs     defaults        0 0\n"
		 "UUID=3e1f-old-boot /boot                   xfs     defaults        0 0\n"
		 "/dev/mapper/rl-swap     none                    swap    defaults        0 0\n");
	tree_put_mode(root, "etc/NetworkManager/system-connections/ens192.nmconnection",
		      rocky_keyfile, 0600);
	tree_put_mode(root, "etc/NetworkManager/system-connections/home.nmconnection",
		      wifi_keyfile, 0600);
	tree_mkdir(root, "etc/sysconfig/network-scripts"); /* empty on RHEL 9 */
	tree_put(root, "etc/selinux/config", "SELINUX=permissive\nSELINUXTYPE=targeted\n");
	tree_link(root, "etc/systemd/system/multi-user.target.wants/oracle-cloud-agent.service",
		  "/usr/lib/systemd/system/oracle-cloud-agent.service");
	tree_link(root, "etc/systemd/system/multi-user.target.wants/qemu-guest-agent.service",
		  "/usr/lib/systemd/system/qemu-guest-agent.service");
	tree_mkdir(root, "etc/dracut.conf.d");
	tree_put(root, "etc/default/grub",
		 "GRUB_TIMEOUT=5\n"
		 "GRUB_DISTRIBUTOR=\"$(sed 's, release .*$,,g' /etc/system-release)\"\n"
		 "GRUB_DEFAULT=saved\n"
		 "GRUB_DISABLE_SUBMENU=true\n"
		 "GRUB_TERMINAL_OUTPUT=\"console\"\n"
		 "GRUB_CMDLINE_LINUX=\"crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M "
		 "resume=UUID=9d3c1a2b-old rd.lvm.lv=rl/root console=ttyS0,115200n8\"\n"
		 "GRUB_DISABLE_RECOVERY=\"true\"\n"
		 "GRUB_ENABLE_BLSCFG=true\n"
		 "GRUB_TERMINAL=\"serial console\"\n"
		 "GRUB_SERIAL_COMMAND=\"serial --speed=115200\"\n");
}

static void check_rocky9(const char *root, struct rh_pc *pc)
{
	char p[PATH_MAX];
	struct stat st;

	assert_int_equal(pc->family, RH_PC_RHEL);
	assert_file(root, "etc/NetworkManager/system-connections/ens192.nmconnection",
		    "[connection]\n"
		    "id=ens192\n"
		    "uuid=0f3d1c1e-7d9a-4f8e-9a55-0d0ad1e7a111\n"
		    "type=ethernet\n"
		    "autoconnect-priority=-999\n"
		    "\n"
		    "[ethernet]\n"
		    "\n"
		    "[ipv4]\n"
		    "method=auto\n"
		    "\n"
		    "[ipv6]\n"
		    "addr-gen-mode=eui64\n"
		    "method=auto\n"
		    "\n"
		    "[proxy]\n");
	snprintf(p, sizeof p, "%s/etc/NetworkManager/system-connections/ens192.nmconnection", root);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_file(root, "etc/NetworkManager/system-connections/home.nmconnection", wifi_keyfile);
	/* No ifcfg files: no eth0 fallback. */
	assert_false(tree_exists(root, "etc/sysconfig/network-scripts/ifcfg-eth0"));
	assert_file(root, ".autorelabel", "");
	assert_false(tree_exists(root, "etc/systemd/system/multi-user.target.wants/oracle-cloud-agent.service"));
	assert_true(tree_exists(root, "etc/systemd/system/multi-user.target.wants/qemu-guest-agent.service"));
	assert_file(root, "etc/dracut.conf.d/90-rehost-virtio.conf", dracut_dropin);
	/* resume= follows the new swap; serial settings were there already. */
	assert_file(root, "etc/default/grub",
		    "GRUB_TIMEOUT=5\n"
		    "GRUB_DISTRIBUTOR=\"$(sed 's, release .*$,,g' /etc/system-release)\"\n"
		    "GRUB_DEFAULT=saved\n"
		    "GRUB_DISABLE_SUBMENU=true\n"
		    "GRUB_TERMINAL_OUTPUT=\"console\"\n"
		    "GRUB_CMDLINE_LINUX=\"crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M "
		    "resume=UUID=" SWAP_UUID " rd.lvm.lv=rl/root console=ttyS0,115200n8 console=tty0\"\n"
		    "GRUB_DISABLE_RECOVERY=\"true\"\n"
		    "GRUB_ENABLE_BLSCFG=true\n"
		    "GRUB_TERMINAL=\"serial console\"\n"
		    "GRUB_SERIAL_COMMAND=\"serial --speed=115200\"\n");
}

static void test_rocky9_keyfile(void **state)
{
	const struct rh_pc_fs fs[] = { { "/", ROOT_UUID, NULL, NULL },
				       { "/boot", BOOT_UUID, NULL, NULL },
				       { "swap", SWAP_UUID, NULL, NULL } };
	char *root = tree_new();

	(void)state;
	build_rocky9(root);
	assert_int_equal(pc_family_run(root, fs, 3, NULL, check_rocky9), 8);
	tree_rm(root);
	free(root);
}

/* An expansion in GRUB_CMDLINE_LINUX: extended by a line after it. */
static void check_expansion(const char *root, struct rh_pc *pc)
{
	(void)pc;
	assert_file(root, "etc/default/grub",
		    "X=\"a\"\n"
		    "GRUB_CMDLINE_LINUX=\"$X rhgb\"\n"
		    "GRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX console=tty0 console=ttyS0,115200n8\"\n"
		    "GRUB_TERMINAL=serial\n"
		    "\n"
		    "# rehost: settings for the KVM target\n"
		    "GRUB_SERIAL_COMMAND=\"serial --unit=0 --speed=115200\"\n");
}

static void test_grub_expansion(void **state)
{
	const struct rh_pc_fs fs[] = { { "/", ROOT_UUID, NULL, NULL } };
	char *root = tree_new();
	struct rh_pc pc;
	const char *const bad[] = { "console=ttyS0 $(reboot)", NULL };

	(void)state;
	tree_put(root, "etc/os-release", "ID=fedora\n");
	tree_put(root, "etc/fstab", "UUID=" ROOT_UUID " / ext4 defaults 0 1\n");
	tree_put(root, "etc/default/grub", "X=\"a\"\nGRUB_CMDLINE_LINUX=\"$X rhgb\"\nGRUB_TERMINAL=serial\n");
	assert_int_equal(pc_family_run(root, fs, 1, NULL, check_expansion), 1);
	/* Arguments that are not one plain word are refused. */
	assert_int_equal(rh_pc_open(&pc, root, NULL, false), 0);
	assert_int_equal(rh_pc_grub_defaults(&pc, bad), RH_ERR_INVAL);
	assert_non_null(strstr(rh_lasterr(), "$(reboot)"));
	{
		const char *const bad_driver[] = { "virtio_blk\nMODULES=dep", NULL };

		assert_int_equal(rh_pc_initramfs_config(&pc, bad_driver), RH_ERR_INVAL);
	}
	rh_pc_release(&pc);
	tree_rm(root);
	free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_centos7_ifcfg),
		cmocka_unit_test(test_rocky9_keyfile),
		cmocka_unit_test(test_grub_expansion),
	};

	rh_log_set_level(RH_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
