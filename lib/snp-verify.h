/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attestation evidence verifier: report structure, report signature (ECDSA P-384 over bytes
 * 0x000-0x29F, R/S little-endian), certificate chain VCEK -> ASK (VLEK -> ASVK) -> ARK with the
 * ARK pinned per product, VCEK TCB extensions == REPORTED_TCB, hwID == CHIP_ID, validity at an
 * injectable time. Every check has a stable name (snp_check_name) used by the CLI, the audit
 * log and tests. With a CRL, also that the ARK has not revoked the ASK/ASVK. Used unchanged
 * by vhsmd, vhsmctl and the customer tool.
 * Library code: logs at debug level only.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "macro.h"
#include "snp-report.h"

enum snp_check {
	SNP_CHECK_REPORT_PARSE,   /* "report_parse": length 0x4A0, known VERSION */
	SNP_CHECK_MBZ_FIELDS,     /* "mbz_fields": reserved areas, POLICY bit 17, signer-info bits */
	SNP_CHECK_SIGNATURE_ALGO, /* "signature_algo": SIGNATURE_ALGO == 1 (ECDSA P-384 SHA-384) */
	SNP_CHECK_PRODUCT,        /* "product": product known and consistent (CPUID vs certs) */
	SNP_CHECK_SIGNER_MATCH,   /* "signer_match": SIGNING_KEY matches the leaf (VCEK/VLEK) */
	SNP_CHECK_ARK_PINNED,     /* "ark_pinned": ARK equals the pinned root of the product */
	SNP_CHECK_ARK_SELF,       /* "ark_self": ARK is self-signed (RSA-PSS) */
	SNP_CHECK_ASK_BY_ARK,     /* "ask_by_ark": ASK (or ASVK for VLEK) issued and signed by ARK */
	SNP_CHECK_VEK_BY_ASK,     /* "vek_by_ask": VCEK by ASK, VLEK by ASVK */
	SNP_CHECK_CERT_VALIDITY,  /* "cert_validity": every certificate valid at the check time */
	SNP_CHECK_REPORT_SIG,     /* "report_sig": ECDSA P-384 signature by the leaf key */
	SNP_CHECK_TCB_MATCH,      /* "tcb_match": leaf SPL extensions == REPORTED_TCB */
	SNP_CHECK_HWID_MATCH,     /* "hwid_match": VCEK hwID == CHIP_ID (VLEK: not applicable) */
	SNP_CHECK_CRL,            /* "crl": the ARK's CRL (when given) is signed by the ARK, current,
				   * and does not revoke the ASK/ASVK (no CRL: not applicable) */
	_SNP_CHECK_MAX,
	_SNP_CHECK_INVALID = -EINVAL,
};

/* Stable lower-case name of a check ("report_sig"), or NULL. */
const char *snp_check_name(enum snp_check c);

enum snp_check_state {
	SNP_CHECK_NOT_RUN = 0, /* skipped because an earlier check it depends on failed */
	SNP_CHECK_PASS,
	SNP_CHECK_FAIL,
	SNP_CHECK_NOT_APPLICABLE, /* e.g. hwid_match for a VLEK */
};

#define SNP_CHECK_DETAIL_MAX 160

struct snp_verify_result {
	enum snp_check_state state[_SNP_CHECK_MAX];
	char detail[_SNP_CHECK_MAX][SNP_CHECK_DETAIL_MAX]; /* human-readable reason, may be "" */
	enum snp_product product;   /* _SNP_PRODUCT_INVALID when unknown */
	uint32_t signing_key;       /* SNP_SIGNING_KEY_* from the report */
	bool trusted_by_extra_root; /* chain ends in a --trust-root ARK, not an AMD root */
	bool report_parsed;
	struct snp_report report;   /* valid when report_parsed */
};

/*
 * The evidence: raw report bytes and DER certificates. vek is the VCEK or VLEK (required).
 * ask (ASK or ASVK) and ark are optional: when NULL, the pinned copies for the product are
 * used. All buffers are untrusted.
 */
struct snp_evidence {
	const uint8_t *report;
	size_t report_len;
	const uint8_t *vek;
	size_t vek_len;
	const uint8_t *ask;
	size_t ask_len;
	const uint8_t *ark;
	size_t ark_len;
};

struct snp_verify_opts {
	/* Additional trusted ARKs (DER), e.g. the simulator's; AMD roots are always trusted. */
	const uint8_t *const *trust_roots;
	const size_t *trust_root_lens;
	size_t n_trust_roots;
	time_t at; /* time of the validity check; 0 = now */
	/* AMD's CRL for the product's ARK (KDS /vcek/v1/{product}/crl or .../vlek/...), DER or
	 * PEM, untrusted: checked only when given; require_crl makes a missing CRL a failure. */
	const uint8_t *crl;
	size_t crl_len;
	bool require_crl;
};

/*
 * Runs every check it can, recording each in *ret (which is always filled, also on failure).
 * Returns 0 when every applicable check passed, -EKEYREJECTED when at least one failed, or
 * another -errno (-ENOMEM) when it could not run.
 */
int snp_verify(const struct snp_evidence *ev, const struct snp_verify_opts *opts,
	       struct snp_verify_result *ret);

/* Name of the first failed check in r, or NULL when none failed. */
const char *snp_verify_first_failure(const struct snp_verify_result *r);
