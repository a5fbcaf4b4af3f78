/* SPDX-License-Identifier: Apache-2.0 */
/* What this CVM offers and what sealing protects against here (see platform.h). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "platform.h"

static bool path_exists(const char *root, const char *rel)
{
	char p[4096];
	struct stat st;

	snprintf(p, sizeof(p), "%s%s", strcmp(root, "/") == 0 ? "" : root, rel);
	return stat(p, &st) == 0;
}

/* The running VMPL from sysfs (Linux 6.11), or -1. */
static int read_vmpl(const char *root)
{
	char p[4096];
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0;

	snprintf(p, sizeof(p), "%s/sys/devices/system/cpu/sev/vmpl",
		 strcmp(root, "/") == 0 ? "" : root);
	if (fileio_read_all(p, 16, &buf, &len) < 0 || len == 0 || buf[0] < '0' || buf[0] > '3' ||
	    (len > 1 && buf[1] != '\n'))
		return -1;
	return buf[0] - '0';
}

void platform_probe(const char *root, struct platform_facts *f)
{
	if (!root)
		root = "";
	f->sev_guest = path_exists(root, "/dev/sev-guest");
	f->configfs_tsm = path_exists(root, "/sys/kernel/config/tsm/report");
	f->vtpm = path_exists(root, "/dev/tpmrm0");
	f->sysfs_vmpl = read_vmpl(root);
}

const char *platform_report_path(const struct platform_facts *f)
{
	if (f->vtpm_root)
		return "vtpm HCL report (NV 0x01400001)";
	if (f->simulated)
		return "simulator";
	if (f->configfs_tsm)
		return "configfs-tsm";
	if (f->sev_guest)
		return "ioctl (/dev/sev-guest)";
	return "none";
}

/* The sentence for SNP hardware with these facts. */
static void protection_hw(const struct platform_facts *f, char *buf, size_t len)
{
	uint32_t vmpl = f->have_report ? f->vmpl : f->sysfs_vmpl > 0 ? (uint32_t)f->sysfs_vmpl : 0;

	if (f->vtpm_root)
		snprintf(buf, len, "vtpm platform root: keys are sealed to this vTPM (inside "
			 "the paravisor's TEE) and its PCR 7; protects against disk theft, the host "
			 "outside the paravisor and other VMs; the paravisor, and so the provider who "
			 "measures it, can unseal them, and a reset of the vTPM loses them: use a "
			 "fleet key manager as the durable root");
	else if (!f->simulated && !f->sev_guest && !f->configfs_tsm)
		snprintf(buf, len, "no SEV-SNP guest interface%s: no derived key here, so nothing can "
			 "be sealed to this CVM with it; use a fleet key manager", f->hcl_report ?
			 " (Azure paravisor CVM: its vTPM, inside the TEE, attests through the HCL "
			 "report; run vhsmd with --platform vtpm)" : f->vtpm ?
			 " (a paravisor such as Azure's hides SNP; this vTPM holds no HCL report)" :
			 "");
	else if (f->owner == SNP_MEASUREMENT_OWNER_PROVIDER)
		snprintf(buf, len, "derived key: protects against disk theft; the launch measurement "
			 "is the provider's firmware, so the provider can derive it; use a fleet key "
			 "manager as the durable root");
	else if (vmpl > 0)
		snprintf(buf, len, "derived key at VMPL %u: protects against disk theft, the host "
			 "and other tenants if the tenant owns the measured launch; the more "
			 "privileged VMPL (the SVSM or paravisor) can derive it too", vmpl);
	else
		snprintf(buf, len, "derived key: protects against disk theft, the host and other "
			 "tenants, as long as the measured launch is the tenant's own "
			 "(measurement_owner: tenant)");
}

const char *platform_protection(const struct platform_facts *f, char *buf, size_t len)
{
	char hw[400];

	if (!f->simulated) {
		protection_hw(f, buf, len);
		return buf;
	}
	/* The simulator protects nothing; what the same facts would mean on hardware is what a
	 * test or a trial deployment wants to see. */
	protection_hw(f, hw, sizeof(hw));
	snprintf(buf, len, "SIMULATOR: nothing is protected (tests only); on SNP hardware: %s", hw);
	return buf;
}
