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
#include <stdint.h>

#include "hcl-attest.h"
#include "tpm2-nv.h"

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
	/* When PRESENT: SHA-256 of the claims' AK (DER SubjectPublicKeyInfo), hex: what a
	 * customer's policy pins as "vtpm_ak_digests" (the gate checks it is this vTPM's AK). */
	char ak_sha256[65];
	char detail[160];                      /* one phrase on why not PRESENT */
};

/* "no-tpm", "absent", "unreadable", "malformed", "present". */
const char *tpm2_hcl_state_to_string(enum tpm2_hcl_state s);

/* Probes the TPM at tcti (NULL: TPM2_TCTI_DEFAULT). Always fills *ret. */
void tpm2_hcl_probe(const char *tcti, struct tpm2_hcl_probe *ret);

/*
 * Reads the HCL report (NV 0x01400001) into *ret (malloc'ed). Returns 0, -ENOENT when the index
 * is not defined (not an Azure paravisor CVM), or another -errno; why names the cause.
 */
int tpm2_hcl_read(struct tpm2 *t, uint8_t **ret, size_t *ret_len, char *why, size_t whylen);

/*
 * Writes nonce to the user-data index (NV 0x01400002) and reads the report until its claims
 * carry the nonce or wait_ms passed (the paravisor regenerates it asynchronously). The last
 * report read is handed out either way: the verification refuses a stale one. 0 or -errno with
 * why.
 */
int tpm2_hcl_read_fresh(struct tpm2 *t, const uint8_t nonce[static HCL_USER_DATA_SIZE],
			uint64_t wait_ms, uint8_t **ret, size_t *ret_len, char *why,
			size_t whylen);
