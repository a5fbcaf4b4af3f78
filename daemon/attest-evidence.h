/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Evidence over 64 bytes of binding data D: what the BYOK exchange-key bundle, a BYOK backup,
 * KEY_ATTEST, FLEET_ENROLL and ATTESTATION_REPORT carry (docs/PROTOCOL.md "Evidence").
 *   SNP platform:  an extended report at the VMPL vhsmd runs at, REPORT_DATA = D, with the
 *                  host's certificate table.
 *   vtpm platform: a fresh Azure HCL report from the vTPM whose claims' user-data is D (written
 *                  to NV 0x01400002 for the paravisor to answer), with a certificate table
 *                  built from the collateral cache (VCEK, ASK, ARK of the SNP report inside).
 * Requests run on the event loop only, so the device and the vTPM see one at a time.
 */
#pragma once

#include "vhsmd.h"

#define ATTEST_EVIDENCE_DATA_SIZE 64u

struct attest_evidence {
	uint8_t *report;   /* malloc: an SNP report (SNP_REPORT_SIZE) or an HCL report (whole) */
	size_t report_len;
	uint8_t *certs;    /* malloc: a GHCB certificate table; NULL when there is none */
	size_t certs_len;
};

/* Frees the members and empties *e; NULL is accepted. */
void attest_evidence_done(struct attest_evidence *e);

/*
 * Fresh evidence over data on this CVM's platform. gated: the caller passed the attestation
 * gate, and an HCL report is verified whole as the gate verifies it (the SNP report's chain
 * with the collateral cache, this vTPM's AK, tpm-persisted); otherwise (ATTESTATION_REPORT,
 * which also serves to fetch missing collateral) only that it is this vTPM's bound answer to
 * data. Counts a report request. Returns 0 with *ret filled (owned by the caller), or -errno
 * with why naming the cause: -ETIMEDOUT when the paravisor did not answer within
 * ATTEST_HCL_WAIT_MS, -EKEYREJECTED when the HCL report fails a check, -EMSGSIZE when it is
 * larger than a reply carries, the device's errno on SNP. *ret untouched on failure. Does not
 * log.
 */
int attest_evidence_for(struct manager *m, const uint8_t data[static ATTEST_EVIDENCE_DATA_SIZE],
			bool gated, struct attest_evidence *ret, char *why, size_t whylen) _wur_;

/* Fresh evidence over SHA-512(msg[0..len)), as attest_evidence_for(). */
int attest_evidence_for_message(struct manager *m, const uint8_t *msg, size_t len, bool gated,
				struct attest_evidence *ret, char *why, size_t whylen) _wur_;
