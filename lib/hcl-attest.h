/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attestation from an Azure HCL report (lib/hcl-report parses the layout): the runtime claims
 * (the vTPM's attestation key, the VM configuration, the user data) and the verification of
 * the whole report: the claims bound by REPORT_DATA, the SNP report and its AMD chain (the
 * VCEK from the collateral cache, which THIM JSON fills), and optionally the AK and the user
 * data the caller expects. Every input is untrusted. Library code; never logs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "snp-verify.h"

#define HCL_USER_DATA_SIZE 64u
#define HCL_AK_SPKI_MAX 1024u /* DER SubjectPublicKeyInfo of an RSA key up to 4096 bits */

/* What "vm-configuration" says about the vTPM's state across reboots. */
enum hcl_tpm_persisted {
	HCL_TPM_PERSISTED_UNKNOWN = 0, /* the member is absent (older paravisors) */
	HCL_TPM_PERSISTED_NO,          /* the vTPM's state is dropped on reboot */
	HCL_TPM_PERSISTED_YES,
};

struct hcl_claims {
	uint8_t ak_spki[HCL_AK_SPKI_MAX]; /* "HCLAkPub" as DER SubjectPublicKeyInfo */
	size_t ak_spki_len;
	uint8_t user_data[HCL_USER_DATA_SIZE]; /* "user-data" (hex in the claims) */
	bool have_user_data;
	enum hcl_tpm_persisted tpm_persisted;
	int secure_boot; /* "secure-boot": 1, 0, or -1 when absent */
	int tpm_enabled; /* "tpm-enabled": 1, 0, or -1 when absent */
	char vm_unique_id[64]; /* "vmUniqueId", "" when absent */
};

/*
 * Parses the claims JSON claims[0..len): "keys" must hold an RSA JWK with kid "HCLAkPub"
 * (n, e in base64url), "vm-configuration" an object; "user-data" when present 128 hex digits.
 * Returns 0, or -EBADMSG with the reason in err.
 */
int hcl_claims_parse(const char *claims, size_t len, struct hcl_claims *ret, char *err,
		     size_t errlen) _wur_;

/* The checks of hcl_verify(), in order; each has a stable name (hcl_check_name). */
enum hcl_check {
	HCL_CHECK_PARSE,     /* "hcl_parse": the HCLA layout */
	HCL_CHECK_CLAIMS,    /* "claims": the claims name an AK and a VM configuration */
	HCL_CHECK_BINDING,   /* "claims_binding": REPORT_DATA = hash of the claims, zeros after */
	HCL_CHECK_SNP,       /* "snp_report": the SNP report and its AMD chain (snp_verify) */
	HCL_CHECK_AK,        /* "ak_match": the claims' AK is the expected one */
	HCL_CHECK_USER_DATA, /* "user_data": the claims' user data is the expected nonce */
	HCL_CHECK_PERSISTED, /* "tpm_persisted": the claims say the vTPM's state persists */
	_HCL_CHECK_MAX,
};

const char *hcl_check_name(enum hcl_check c);

struct hcl_verify_opts {
	const char *collateral_dir;     /* the VCEK, ASK, ARK (and CRL) for the report; NULL: none */
	struct snp_verify_opts snp;     /* trust roots, check time, CRL requirement */
	const uint8_t *expect_ak_spki;  /* NULL: not checked */
	size_t expect_ak_spki_len;
	const uint8_t *expect_user_data; /* HCL_USER_DATA_SIZE bytes; NULL: not checked */
	bool require_tpm_persisted;     /* "tpm-persisted" must be true (absent fails too) */
};

struct hcl_verify_result {
	bool passed[_HCL_CHECK_MAX];
	int failed;                     /* first failed enum hcl_check, -1 when none */
	char detail[256];               /* why the first failed check failed */
	struct hcl_claims claims;       /* valid once HCL_CHECK_CLAIMS passed */
	struct snp_verify_result snp;   /* valid once HCL_CHECK_SNP ran */
	char collateral[192];           /* where the certificates came from */
	uint32_t version;
};

/*
 * Verifies the HCL report buf[0..len) as above, stopping at the first failed check, and
 * records every check in *ret (always filled). Returns 0 when all checks passed,
 * -EBADMSG when the report or its claims are malformed, -EKEYREJECTED when a check failed,
 * or -ENOMEM.
 */
int hcl_verify(const uint8_t *buf, size_t len, const struct hcl_verify_opts *o,
	       struct hcl_verify_result *ret);
