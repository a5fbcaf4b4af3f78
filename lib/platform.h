/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the confidential VM this runs in offers (report path, VMPL, signer, vTPM) and what the
 * chosen sealing protects against there, in one plain sentence (docs/platforms.md). The
 * probes read only sysfs/dev paths below a root directory (a fake tree in tests); the
 * assessment is a pure function of the facts. Library code; never logs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "policy.h"

struct platform_facts {
	/* probed (platform_probe) */
	bool sev_guest;           /* <root>/dev/sev-guest exists */
	bool configfs_tsm;        /* <root>/sys/kernel/config/tsm/report exists */
	bool vtpm;                /* <root>/dev/tpmrm0 exists */
	bool hcl_report;          /* the vTPM holds an Azure HCL report (lib/tpm2-hcl) */
	int sysfs_vmpl;           /* <root>/sys/devices/system/cpu/sev/vmpl, -1 when absent */
	/* from vhsmd (status) */
	bool simulated;           /* the daemon uses the simulator */
	bool vtpm_root;           /* vhsmd runs on the vtpm platform (its root, HCL reports) */
	bool have_report;         /* the fields below come from a report */
	uint32_t vmpl;            /* the report's VMPL */
	bool vlek;                /* signed by a VLEK (the provider's key) */
	bool chip_id_masked;      /* CHIP_ID all zero (MASK_CHIP_ID) */
	enum snp_measurement_owner owner;
};

/* Fills the probed members of *f from the tree below root ("" or "/" for the real one). */
void platform_probe(const char *root, struct platform_facts *f);

/* "configfs-tsm", "ioctl (/dev/sev-guest)", "simulator", "vtpm HCL report (NV 0x01400001)"
 * or "none". */
const char *platform_report_path(const struct platform_facts *f);

/*
 * One sentence: what a KEK sealed with the SNP derived key is protected against here, and what
 * to use where that is not enough. Writes into buf (always NUL-terminated) and returns it.
 */
const char *platform_protection(const struct platform_facts *f, char *buf, size_t len);

/* The warning (or refusal reason) for a derived-key KEK where the provider owns the
 * measurement. */
#define PLATFORM_PROVIDER_SEAL_WARNING                                                              \
	"the policy says the provider owns the launch measurement (measurement_owner: "          \
	"provider): the provider, or any tenant launching the same firmware on this chip, can "   \
	"derive this KEK's sealing key; it protects against disk theft only. Use a fleet key "     \
	"manager as the durable root (docs/platforms.md)"
