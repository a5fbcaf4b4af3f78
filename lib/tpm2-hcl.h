/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Whether the (v)TPM holds an Azure HCL report and what it says, without verifying its
 * chain (that is vhsmctl attestation hcl): the NV index 0x01400001 present, the HCLA layout
 * and claims parsed, the claims bound by REPORT_DATA, tpm-persisted. For vhsmd's platform
 * description. Library code; never logs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "hcl-attest.h"

enum tpm2_hcl_state {
	TPM2_HCL_NO_TPM,    /* no TPM answers at the TCTI */
	TPM2_HCL_ABSENT,    /* a TPM without the index: not an Azure paravisor CVM */
	TPM2_HCL_UNREADABLE, /* the index exists but cannot be read */
	TPM2_HCL_MALFORMED, /* read, but not an HCL report, or its claims are not bound */
	TPM2_HCL_PRESENT,   /* an HCL report whose claims REPORT_DATA binds */
};

struct tpm2_hcl_probe {
	enum tpm2_hcl_state state;
	enum hcl_tpm_persisted tpm_persisted; /* when PRESENT */
	char detail[160];                      /* one phrase on why not PRESENT */
};

/* "no-tpm", "absent", "unreadable", "malformed", "present". */
const char *tpm2_hcl_state_to_string(enum tpm2_hcl_state s);

/* Probes the TPM at tcti (NULL: TPM2_TCTI_DEFAULT). Always fills *ret. */
void tpm2_hcl_probe(const char *tcti, struct tpm2_hcl_probe *ret);
