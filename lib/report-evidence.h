/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The "report" member of a piece of evidence (the BYOK exchange-key bundle, a BYOK backup, a
 * key attestation, a fleet enrollment, an ATTESTATION_REPORT reply) holds EITHER
 *   - an SNP ATTESTATION_REPORT (exactly SNP_REPORT_SIZE bytes) whose REPORT_DATA is the
 *     64-byte binding the evidence makes, OR
 *   - on the vtpm platform (an Azure paravisor CVM), the whole HCL report (lib/hcl-report.h,
 *     "HCLA" first, at most HCL_REPORT_MAX bytes, zero padding allowed) whose runtime claims'
 *     "user-data" is that binding; the inner SNP report's REPORT_DATA is the hash of the claims.
 * A verifier opens it here, and only here: it gets the SNP report to run the AMD chain and
 * the policy on, and the 64 bytes the evidence binds (REPORT_DATA, or the claims' user data
 * once the claims binding was checked), plus for HCL the claims (the vTPM's AK among them).
 * Pure over untrusted bytes, bounded; never logs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hcl-attest.h"
#include "hcl-report.h"
#include "macro.h"
#include "snp-abi.h"

/* The largest report member: an HCL report. */
#define REPORT_EVIDENCE_MAX HCL_REPORT_MAX
#define REPORT_EVIDENCE_BOUND_SIZE 64u

/* The steps of report_evidence_open(), in order; each has a stable name. */
enum report_evidence_step {
	REPORT_EVIDENCE_FORMAT,    /* "report_format": an SNP report or an HCL report */
	REPORT_EVIDENCE_HCL_PARSE, /* "hcl_parse": the HCLA layout */
	REPORT_EVIDENCE_CLAIMS,    /* "claims": the claims name an AK and a VM configuration */
	REPORT_EVIDENCE_BINDING,   /* "claims_binding": REPORT_DATA = hash of the claims */
	REPORT_EVIDENCE_USER_DATA, /* "user_data": the claims carry the 64-byte binding */
	_REPORT_EVIDENCE_STEP_MAX,
	_REPORT_EVIDENCE_STEP_INVALID = -EINVAL,
};

/* The step's stable name (as above), or NULL out of range. */
const char *report_evidence_step_name(enum report_evidence_step s);

struct report_evidence {
	const uint8_t *snp_report;                     /* SNP_REPORT_SIZE bytes inside the input */
	uint8_t bound[REPORT_EVIDENCE_BOUND_SIZE];     /* what the evidence binds */
	bool hcl;                                      /* an HCL report (the vtpm platform) */
	/* HCL only: */
	uint32_t hcl_version;
	enum hcl_hash_type hash_type;
	struct hcl_claims claims;
	uint8_t ak_sha256[32];                         /* SHA-256 of claims.ak_spki (the pin) */
};

/* Why report_evidence_open() refused: the step that failed and a one-line reason. */
struct report_evidence_error {
	enum report_evidence_step step;
	char detail[192];
};

/*
 * Opens the report member buf[0..len) as above. On success returns 0 and fills *ret
 * (snp_report points into buf: keep buf alive). On failure leaves *ret alone, fills *err
 * (when not NULL) and returns -EBADMSG (neither an SNP nor an HCL report, malformed layout
 * or claims, no "user-data" in the claims), -EMSGSIZE (longer than REPORT_EVIDENCE_MAX),
 * -EKEYREJECTED (the claims are not the ones the SNP report binds) or -ENOMEM/-EIO.
 * Verifies no signature: the caller runs the AMD chain and the policy on ret->snp_report.
 */
int report_evidence_open(const uint8_t *buf, size_t len, struct report_evidence *ret,
			 struct report_evidence_error *err) _wur_;
