/* postconf on SUSE trees: SLES 15 moved from VMware (wicked ifcfg with a
 * bridge, routes, btrfs subvolumes in fstab, dracut and INITRD_MODULES,
 * gfxterm grub) and SLES 11 (no os-release, SuSE-release, eth0 missing so
 * a fallback ifcfg-eth0 is written). Each tree goes through a dry run, a
 * run and a second run (pc_family_run). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pc-tree.h"
#include "rehost/err.h"
#include "rehost/log.h"

#define ROOT_UUID "5e5e0000-aaaa-bbbb-cccc-dddddddddddd"
#define SWAP_UUID "5e5e1111-aaaa-bbbb-cccc-dddddddddddd"

static void build_sles15(const char *root)
{
	tree_put(root, "etc/os-release",
		 "NAME=\"SLES\"\nVERSION=\"15-SP5\"\nID=\"sles\"\nID_LIKE=\"suse\"\n"
		 "PRETTY_NAME=\"SUSE Linux Enterprise Server 15 SP5\"\n");
	tree_put(root, "etc/fstab",
		 "UUID=0ld0-btrfs  /                       btrfs  defaults                      0  0\n"
		 "UUID=0ld0-btrfs  /var                    btrfs  subvol=/@/var                 0  0\n"
		 "UUID=0ld0-btrfs  /.snapshots             btrfs  subvol=/@/.snapshots          0  0\n"
		 "UUID=0ld0-swap   swap                    swap   defaults                      0  0\n");
	tree_put(root, "etc/sysconfig/network/ifcfg-eth0",
		 "BOOTPROTO='static'\n"
		 "STARTMODE='auto'\n"
		 "IPADDR='192.168.5.20/24'\n"
		 "NAME='VMXNET3 Ethernet Controller'\n"
		 "LLADDR='00:50:56:aa:bb:cc'\n");
	tree_put(root, "etc/sysconfig/network/ifcfg-lo",
		 "IPADDR=127.0.0.1\nNETMASK=255.0.0.0\nSTARTMODE=nfsroot\nBOOTPROTO=static\n");
	tree_put(root, "etc/sysconfig/network/ifcfg-br0",
		 "BOOTPROTO='static'\nBRIDGE='yes'\nBRIDGE_PORTS='eth1'\nIPADDR='10.1.1.1/24'\n");
	tree_put(root, "etc/sysconfig/network/routes", "default 192.168.5.1 - -\n10.0.0.0/8 10.1.1.254 - br0\n");
	tree_put(root, "etc/sysconfig/network/ifroute-eth0", "172.16.0.0/12 192.168.5.254 - eth0\n");
	tree_put(root, "etc/sysconfig/network/config", "NETCONFIG_DNS_POLICY=\"auto\"\n");
	tree_put(root, "etc/sysconfig/kernel",
		 "## Type: string\n"
		 "INITRD_MODULES=\"vmw_pvscsi virtio-blk\"\n"
		 "NO_KMS_IN_INITRD=\"no\"\n");
	tree_mkdir(root, "etc/dracut.conf.d");
	tree_put(root, "etc/default/grub",
		 "GRUB_DISTRIBUTOR=\n"
		 "GRUB_DEFAULT=saved\n"
		 "GRUB_TIMEOUT=8\n"
		 "GRUB_CMDLINE_LINUX_DEFAULT=\"splash=silent resume=/dev/sda2 quiet showopts "
		 "crashkernel=175M,high\"\n"
		 "GRUB_CMDLINE_LINUX=\"\"\n"
		 "GRUB_TERMINAL=\"gfxterm\"\n"
		 "GRUB_GFXMODE=\"auto\"\n");
}

static void check_sles15(const char *root, struct rh_pc *pc)
{
	assert_int_equal(pc->family, RH_PC_SUSE);
	assert_file(root, "etc/fstab",
		    "# rehost: UUID=0ld0-btrfs  /                       btrfs  defaults                      0  0\n"
		    "UUID=" ROOT_UUID "  /                       btrfs  defaults                      0  0\n"
		    "# rehost: UUID=0ld0-btrfs  /var                    btrfs  subvol=/@/var                 0  0\n"
		    "UUID=" ROOT_UUID "  /var                    btrfs  subvol=/@/var                 0  0\n"
		    "# rehost: UUID=0ld0-btrfs  /.snapshots             btrfs  subvol=/@/.snapshots          0  0\n"
		    "UUID=" ROOT_UUID "  /.snapshots             btrfs  subvol=/@/.snapshots          0  0\n"
		    "# rehost: UUID=0ld0-swap   swap                    swap   defaults                      0  0\n"
		    "UUID=" SWAP_UUID "   swap                    swap   defaults                      0  0\n");
	assert_file(root, "etc/sysconfig/network/ifcfg-eth0",
		    "BOOTPROTO='dhcp'\n"
		    "STARTMODE='auto'\n"
		    "NAME='VMXNET3 Ethernet Controller'\n");
	assert_file(root, "etc/sysconfig/network/ifcfg-lo",
		    "IPADDR=127.0.0.1\nNETMASK=255.0.0.0\nSTARTMODE=nfsroot\nBOOTPROTO=static\n");
	assert_file(root, "etc/sysconfig/network/ifcfg-br0",
		    "BOOTPROTO='static'\nBRIDGE='yes'\nBRIDGE_PORTS='eth1'\nIPADDR='10.1.1.1/24'\n");
	assert_file(root, "etc/sysconfig/network/routes",
		    "# rehost: default 192.168.5.1 - -\n10.0.0.0/8 10.1.1.254 - br0\n");
	assert_false(tree_exists(root, "etc/sysconfig/network/ifroute-eth0"));
	assert_false(tree_exists(root, "etc/sysconfig/network/ifcfg-eth0.rehost"));
	assert_file(root, "etc/sysconfig/kernel",
		    "## Type: string\n"
		    "INITRD_MODULES=\"vmw_pvscsi virtio-blk virtio_pci virtio_scsi virtio_net "
		    "virtio_console\"\n"
		    "NO_KMS_IN_INITRD=\"no\"\n");
	assert_true(tree_exists(root, "etc/dracut.conf.d/90-rehost-virtio.conf"));
	assert_false(tree_exists(root, ".autorelabel"));
	assert_file(root, "etc/default/grub",
		    "GRUB_DISTRIBUTOR=\n"
		    "GRUB_DEFAULT=saved\n"
		    "GRUB_TIMEOUT=8\n"
		    "GRUB_CMDLINE_LINUX_DEFAULT=\"splash=silent quiet showopts crashkernel=175M,high\"\n"
		    "GRUB_CMDLINE_LINUX=\"console=tty0 console=ttyS0,115200n8\"\n"
		    "GRUB_TERMINAL=\"console serial\"\n"
		    "GRUB_GFXMODE=\"auto\"\n"
		    "\n"
		    "# rehost: settings for the KVM target\n"
		    "GRUB_SERIAL_COMMAND=\"serial --unit=0 --speed=115200\"\n");
}

static void test_sles15_ifcfg(void **state)
{
	const struct rh_pc_fs fs[] = { { "/", ROOT_UUID, "btrfs", NULL },
				       { "swap", SWAP_UUID, NULL, NULL } };
	char *root = tree_new();

	(void)state;
	build_sles15(root);
	assert_int_equal(pc_family_run(root, fs, 2, NULL, check_sles15), 10);
	tree_rm(root);
	free(root);
}

/* SLES 11: no os-release; the NIC was em1 on the source. */
static void check_sles11(const char *root, struct rh_pc *pc)
{
	assert_int_equal(pc->family, RH_PC_SUSE);
	assert_string_equal(pc->os_pretty, "SUSE Linux Enterprise Server 11 (x86_64)");
	assert_file(root, "etc/sysconfig/network/ifcfg-em1",
		    "STARTMODE='onboot'\nBOOTPROTO='dhcp'\n");
	assert_file(root, "etc/sysconfig/network/ifcfg-eth0",
		    "# Written by rehost postconf: DHCP on the first virtio NIC of the KVM target.\n"
		    "BOOTPROTO='dhcp'\nSTARTMODE='auto'\n");
	assert_int_equal(pc_count(pc, "/etc/sysconfig/network/ifcfg-eth0", "created"), 1);
}

static void test_sles11_fallback(void **state)
{
	const struct rh_pc_fs fs[] = { { "/", ROOT_UUID, NULL, NULL } };
	char *root = tree_new();

	(void)state;
	tree_put(root, "etc/SuSE-release",
		 "SUSE Linux Enterprise Server 11 (x86_64)\nVERSION = 11\nPATCHLEVEL = 4\n");
	tree_put(root, "etc/fstab", "/dev/sda2 / ext3 acl,user_xattr 1 1\n");
	/* BOOTPROTO unset means static on SUSE. */
	tree_put(root, "etc/sysconfig/network/ifcfg-em1",
		 "STARTMODE='onboot'\nIPADDR='10.3.3.3'\nNETMASK='255.255.255.0'\n");
	assert_int_equal(pc_family_run(root, fs, 1, NULL, check_sles11), 3);
	tree_rm(root);
	free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sles15_ifcfg),
		cmocka_unit_test(test_sles11_fallback),
	};

	rh_log_set_level(RH_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
