/*
 * Machine facts: kernel release and architecture, hostname, CPUs, memory,
 * firmware (BIOS/UEFI), hypervisor and para-virtualisation, raw devices.
 * All from /proc and /sys under the root, so a prepared tree can stand in
 * for a machine; uname() is only a fallback on the live system.
 */
#define RH_LOG_COMPONENT "inspect"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "inspect/internal.h"
#include "rehost/err.h"
#include "rehost/log.h"
#include "rehost/num.h"

/* "MemTotal:       16314416 kB" -> bytes. */
static bool meminfo_value(const char *text, const char *key, uint64_t *bytes)
{
	const char *p = text;
	size_t kl = strlen(key);

	while (p && *p) {
		if (strncmp(p, key, kl) == 0 && p[kl] == ':') {
			unsigned long long kb;

			if (sscanf(p + kl + 1, " %llu", &kb) == 1 && kb < (1ull << 50)) {
				*bytes = kb * 1024;
				return true;
			}
			return false;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return false;
}

static void cpuinfo(struct rh_inventory *inv, const struct inv_root *r, bool *hv_flag,
		    const char **arch_guess)
{
	char *text = NULL, *cur, *line;
	unsigned n = 0;
	bool lm = false, x86 = false;

	*hv_flag = false;
	*arch_guess = NULL;
	if (root_read(r, "/proc/cpuinfo", INV_MAX_FILE, &text, NULL) < 0)
		return;
	cur = text;
	while ((line = text_next_line(&cur)) != NULL) {
		char *colon = strchr(line, ':');
		char *k, *v;

		if (colon == NULL)
			continue;
		*colon = '\0';
		k = text_trim(line);
		v = text_trim(colon + 1);
		if (strcmp(k, "processor") == 0 && isdigit((unsigned char)*v)) {
			n++;
		} else if (strcmp(k, "flags") == 0 && n <= 1) {
			char *save = NULL;

			x86 = true;
			for (char *w = strtok_r(v, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
				if (strcmp(w, "hypervisor") == 0)
					*hv_flag = true;
				else if (strcmp(w, "lm") == 0)
					lm = true;
			}
		} else if (strcmp(k, "CPU architecture") == 0 && n <= 1) {
			*arch_guess = strcmp(v, "8") == 0 ? "aarch64" : "arm";
		}
	}
	if (*arch_guess == NULL && x86)
		*arch_guess = lm ? "x86_64" : "i686";
	inv->cpus = n;
	free(text);
}

static const char *dmi_hypervisor(const char *vendor, const char *product)
{
	static const struct { const char *needle, *name; } table[] = {
		{ "QEMU", "kvm" }, { "KVM", "kvm" }, { "OpenStack", "kvm" },
		{ "Red Hat", "kvm" }, { "Nutanix", "kvm" }, { "Alibaba", "kvm" },
		{ "Tencent", "kvm" }, { "Huawei", "kvm" }, { "Google", "kvm" },
		{ "VMware", "vmware" }, { "Microsoft", "hyperv" },
		{ "innotek", "virtualbox" }, { "VirtualBox", "virtualbox" },
		{ "Xen", "xen" }, { "Amazon EC2", "kvm" }, { "Parallels", "parallels" },
		{ "Bochs", "kvm" },
	};

	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if ((vendor && strstr(vendor, table[i].needle)) ||
		    (product && strstr(product, table[i].needle)))
			return table[i].name;
	return NULL;
}

static void virtualization(struct rh_inventory *inv, const struct inv_root *r, bool hv_flag)
{
	const char *type = root_read_line(inv, r, "/sys/hypervisor/type");
	const char *guest = root_read_line(inv, r, "/sys/hypervisor/guest_type");
	const char *vendor = root_read_line(inv, r, "/sys/class/dmi/id/sys_vendor");
	const char *product = root_read_line(inv, r, "/sys/class/dmi/id/product_name");
	const char *hv = dmi_hypervisor(vendor, product);

	if (vendor || product)
		inv->virt_product = inv_printf(inv, "%s%s%s", vendor ? vendor : "",
					       vendor && product ? " " : "", product ? product : "");
	if (type != NULL && strcmp(type, "xen") == 0) {
		hv = "xen";
		/* Xen PV guests: guest_type "PV" (Linux >= 4.9); older kernels
		 * have no DMI table in a PV guest. */
		if (guest != NULL)
			inv->paravirt = strcmp(guest, "PV") == 0;
		else
			inv->paravirt = vendor == NULL && product == NULL &&
					root_exists(r, "/proc/xen");
	}
	if (hv == NULL && hv_flag)
		hv = "unknown";
	inv->hypervisor = hv;
}

static int raw_devices(struct rh_inventory *inv, const struct inv_root *r)
{
	DIR *d = root_opendir(r, "/sys/class/raw");
	struct dirent *de;
	int rc = 0;

	if (d == NULL)
		return 0;
	/* rawctl is the control node; rawN are bound raw devices. */
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "raw", 3) == 0 && isdigit((unsigned char)de->d_name[3]))
			rc = strv_add(inv, &inv->tools.raw_devices,
				      inv_printf(inv, "/dev/raw/%s", de->d_name));
	}
	closedir(d);
	return rc;
}

int system_collect(struct rh_inventory *inv, const struct inv_root *r)
{
	const char *arch_guess;
	struct utsname u;
	char *text = NULL;
	bool hv_flag;

	inv->kernel = root_read_line(inv, r, "/proc/sys/kernel/osrelease");
	inv->arch = root_read_line(inv, r, "/proc/sys/kernel/arch");
	inv->hostname = root_read_line(inv, r, "/proc/sys/kernel/hostname");
	if (inv->hostname == NULL)
		inv->hostname = root_read_line(inv, r, "/etc/hostname");
	if (r->host && uname(&u) == 0) {
		if (inv->kernel == NULL)
			inv->kernel = inv_strdup(inv, u.release);
		if (inv->arch == NULL)
			inv->arch = inv_strdup(inv, u.machine);
		if (inv->hostname == NULL)
			inv->hostname = inv_strdup(inv, u.nodename);
	}
	cpuinfo(inv, r, &hv_flag, &arch_guess);
	if (inv->arch == NULL && arch_guess != NULL)
		inv->arch = arch_guess;
	if (root_read(r, "/proc/meminfo", INV_MAX_FILE, &text, NULL) == 0) {
		meminfo_value(text, "MemTotal", &inv->mem_total);
		meminfo_value(text, "MemAvailable", &inv->mem_available);
		free(text);
	}
	inv->uefi = root_exists(r, "/sys/firmware/efi");
	virtualization(inv, r, hv_flag);
	rh_log_debug("kernel %s, arch %s, %u CPUs, firmware %s",
		     inv->kernel ? inv->kernel : "?", inv->arch ? inv->arch : "?", inv->cpus,
		     inv->uefi ? "UEFI" : "BIOS");
	return raw_devices(inv, r);
}
