/*
 * The QEMU command line of a boot test, and the firmware files it needs.
 *
 * The machine is a plain KVM-class server: one VGA, the disks on the
 * chosen bus with only disk 0 bootable (-boot strict=on: the firmware
 * must not fall back to another disk or the network and hide a broken
 * boot disk), a virtio NIC on user networking without an option ROM (a
 * PXE attempt would only delay a failed boot), the first serial port on
 * QEMU's stdout, and -snapshot so that every write goes to a temporary
 * overlay: a boot test never changes the target disks. With BIOS, the
 * BIOS text screen is mirrored to the second serial port (see below).
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rehost/accel.h"
#include "rehost/boottest.h"
#include "rehost/err.h"

#define MAX_ARGS 128

struct argv_b {
	char **v;
	size_t n;
	int rc;
};

static void add(struct argv_b *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct argv_b *a, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	if (a->rc < 0)
		return;
	if (a->n + 1 >= MAX_ARGS) {
		a->rc = rh_seterr(RH_ERR_INTERNAL, "QEMU command line longer than %d words", MAX_ARGS);
		return;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0) {
		a->rc = RH_ERR_NOMEM;
		s = NULL;
	}
	va_end(ap);
	if (s != NULL)
		a->v[a->n++] = s;
}

/* QEMU option values separate keys with commas; a comma in a value (a
 * file name) is written twice. Returns a new string or NULL. */
static char *qemu_escape(const char *s)
{
	size_t n = strlen(s), extra = 0;
	char *o, *p;

	for (size_t i = 0; i < n; i++)
		extra += s[i] == ',';
	o = malloc(n + extra + 1);
	if (o == NULL)
		return NULL;
	p = o;
	for (size_t i = 0; i < n; i++) {
		*p++ = s[i];
		if (s[i] == ',')
			*p++ = ',';
	}
	*p = '\0';
	return o;
}

void rh_bt_argv_free(char **argv)
{
	if (argv == NULL)
		return;
	for (size_t i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

/* PIIX IDE has two channels of two; q35's AHCI has six ports; virtio
 * uses one PCI slot per disk. */
unsigned rh_bt_bus_max_disks(enum rh_bt_bus b)
{
	switch (b) {
	case RH_BT_IDE:
		return 4;
	case RH_BT_SATA:
		return 6;
	case RH_BT_VIRTIO:
	case RH_BT_SCSI:
		break;
	}
	return RH_BT_MAX_DISKS;
}

static const char *machine_for(enum rh_bt_firmware fw, enum rh_bt_bus bus)
{
	/* SATA is q35's own AHCI; IDE exists only on pc (i440fx + PIIX).
	 * Otherwise pc for BIOS (what most KVM hosts still give a BIOS
	 * guest) and q35 for UEFI (OVMF's usual companion). */
	if (bus == RH_BT_SATA)
		return "q35";
	if (bus == RH_BT_IDE)
		return "pc";
	return fw == RH_BT_UEFI ? "q35" : "pc";
}

int rh_bt_build_argv(const struct rh_bt_opts *o, const char *accel, const char *screen_path,
		     const char *sercon_file, const char *code_path, const char *vars_path,
		     char ***argv)
{
	struct argv_b a = { .v = NULL };
	int rc;

	*argv = NULL;
	if (o->ndisks == 0 || o->ndisks > rh_bt_bus_max_disks(o->bus))
		return rh_seterr(RH_ERR_INVAL, "%zu disks: the %s bus takes 1 to %u here", o->ndisks,
				 rh_bt_bus_name(o->bus), rh_bt_bus_max_disks(o->bus));
	if (o->firmware == RH_BT_UEFI && (code_path == NULL || vars_path == NULL))
		return rh_seterr(RH_ERR_INVAL, "UEFI boot test without OVMF files");
	a.v = calloc(MAX_ARGS, sizeof *a.v);
	if (a.v == NULL)
		return RH_ERR_NOMEM;

	add(&a, "%s", o->qemu != NULL ? o->qemu : "qemu-system-x86_64");
	add(&a, "-nodefaults");
	add(&a, "-no-user-config");
	add(&a, "-name");
	add(&a, "rehost-boot-test");
	add(&a, "-machine");
	add(&a, "%s", machine_for(o->firmware, o->bus));
	add(&a, "-accel");
	add(&a, "%s", accel);
	/* The model the accelerator probe tested (accel.h). */
	add(&a, "-cpu");
	add(&a, "%s", rh_accel_cpu(strcmp(accel, "kvm") == 0 ? RH_ACCEL_KVM : RH_ACCEL_TCG));
	add(&a, "-m");
	add(&a, "%u", o->memory_mib);
	add(&a, "-smp");
	add(&a, "%u", o->cpus);
	add(&a, "-display");
	add(&a, "none");
	add(&a, "-device");
	add(&a, "VGA");
	add(&a, "-no-reboot");
	add(&a, "-snapshot");
	add(&a, "-boot");
	add(&a, "strict=on");
	if (o->firmware == RH_BT_UEFI) {
		char *c = qemu_escape(code_path), *v = qemu_escape(vars_path);

		if (c == NULL || v == NULL) {
			free(c);
			free(v);
			rc = RH_ERR_NOMEM;
			goto out;
		}
		add(&a, "-drive");
		add(&a, "if=pflash,format=raw,unit=0,readonly=on,file=%s", c);
		add(&a, "-drive");
		add(&a, "if=pflash,format=raw,unit=1,file=%s", v);
		free(c);
		free(v);
	}
	if (o->bus == RH_BT_SCSI) {
		add(&a, "-device");
		add(&a, "virtio-scsi-pci,id=scsi0");
	}
	for (size_t i = 0; i < o->ndisks; i++) {
		const char *boot = i == 0 ? ",bootindex=0" : "";
		char *p = qemu_escape(o->disks[i].path);

		if (p == NULL) {
			rc = RH_ERR_NOMEM;
			goto out;
		}
		add(&a, "-drive");
		add(&a, "file=%s,format=%s,if=none,id=disk%zu", p,
		    rh_img_format_name(o->disks[i].format), i);
		free(p);
		add(&a, "-device");
		switch (o->bus) {
		case RH_BT_VIRTIO:
			add(&a, "virtio-blk-pci,drive=disk%zu%s", i, boot);
			break;
		case RH_BT_SCSI:
			add(&a, "scsi-hd,drive=disk%zu,bus=scsi0.0,channel=0,scsi-id=%zu,lun=0%s", i,
			    i, boot);
			break;
		case RH_BT_SATA:
			add(&a, "ide-hd,drive=disk%zu,bus=ide.%zu%s", i, i, boot);
			break;
		case RH_BT_IDE:
			add(&a, "ide-hd,drive=disk%zu,bus=ide.%zu,unit=%zu%s", i, i / 2, i % 2, boot);
			break;
		}
	}
	add(&a, "-netdev");
	add(&a, "user,id=net0");
	add(&a, "-device");
	add(&a, "virtio-net-pci,netdev=net0,romfile=");
	/* The first serial port is QEMU's stdout (a pipe to us); signal=off
	 * so that a ^C in the guest's output is just a byte. */
	add(&a, "-chardev");
	add(&a, "stdio,id=ser0,signal=off");
	add(&a, "-serial");
	add(&a, "chardev:ser0");
	if (screen_path != NULL && sercon_file != NULL) {
		char *p = qemu_escape(screen_path), *f = qemu_escape(sercon_file);

		if (p == NULL || f == NULL) {
			free(p);
			free(f);
			rc = RH_ERR_NOMEM;
			goto out;
		}
		/* SeaBIOS and GRUB (before its grub.cfg switches to a serial
		 * terminal) print through the BIOS onto the VGA screen, which
		 * nobody sees here. SeaBIOS's serial console mirrors that
		 * screen to a port named in fw_cfg: COM2 (0x2f8), so that it
		 * never mixes with the guest's own ttyS0. */
		add(&a, "-chardev");
		add(&a, "file,id=scr0,path=%s", p);
		add(&a, "-serial");
		add(&a, "chardev:scr0");
		add(&a, "-fw_cfg");
		add(&a, "name=etc/sercon-port,file=%s", f);
		free(p);
		free(f);
	}
	rc = a.rc;
out:
	if (rc < 0) {
		rh_bt_argv_free(a.v);
		return rc;
	}
	*argv = a.v;
	return 0;
}

int rh_bt_find_ovmf(char *code, char *vars, size_t len)
{
	/* code, vars: pairs as distributions ship them, preferred first.
	 * The 4 MiB Debian build is the current one; the 2 MiB pair is kept
	 * for older hosts. Secure-boot builds need SMM and enrolled keys and
	 * are not used. */
	static const char *const pairs[][2] = {
		{ "/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd" },
		{ "/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd" },
		{ "/usr/share/edk2/ovmf/OVMF_CODE.fd", "/usr/share/edk2/ovmf/OVMF_VARS.fd" },
		{ "/usr/share/edk2/x64/OVMF_CODE.4m.fd", "/usr/share/edk2/x64/OVMF_VARS.4m.fd" },
		{ "/usr/share/qemu/ovmf-x86_64-code.bin", "/usr/share/qemu/ovmf-x86_64-vars.bin" },
	};

	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		if (access(pairs[i][0], R_OK) == 0 && access(pairs[i][1], R_OK) == 0) {
			snprintf(code, len, "%s", pairs[i][0]);
			snprintf(vars, len, "%s", pairs[i][1]);
			return 0;
		}
	}
	return rh_seterr(RH_ERR_NOTFOUND,
			 "no OVMF UEFI firmware found (looked for %s and %s, and the Fedora, "
			 "Arch and SUSE places): install the ovmf package, or name the files "
			 "with --ovmf-code and --ovmf-vars", pairs[0][0], pairs[0][1]);
}
