/* SPDX-License-Identifier: Apache-2.0 */
/*
 * This CVM's Azure HCL report, as vhsmd checks it (lib/hcl-attest): read from the vTPM's NV
 * 0x01400001 and verified whole with the daemon's collateral cache and trust roots: the claims
 * bound by REPORT_DATA, the SNP report and its AMD chain, the claims' AK equal to this vTPM's
 * AK (0x81000003), and on request the claims' tpm-persisted and a fresh nonce.
 */
#pragma once

#include "hcl-attest.h"
#include "vhsmd.h"

struct tpm2;

/*
 * Verifies the HCL report in the vTPM t. nonce (HCL_USER_DATA_SIZE bytes) or NULL: when set,
 * it is written to NV 0x01400002 first and the report the paravisor then writes must carry it
 * (waited for up to ATTEST_HCL_WAIT_MS). Returns 0; -ENOENT (no HCL report: not a paravisor
 * CVM), -EKEYREJECTED (a check failed) or another -errno, with why naming the cause. *ret is
 * filled whenever the report was read (ret->failed names the failed check). Does not log.
 */
int attest_hcl_verify(struct manager *m, struct tpm2 *t, const uint8_t *nonce,
		      bool require_persisted, struct hcl_verify_result *ret, char *why,
		      size_t whylen);

/*
 * This vTPM's attestation key (0x81000003) as DER SubjectPublicKeyInfo into ak. Returns its
 * length, or -errno with why naming the cause.
 */
int attest_hcl_read_ak(struct tpm2 *t, uint8_t ak[static HCL_AK_SPKI_MAX], char *why,
		       size_t whylen);

/*
 * The verification of attest_hcl_verify() over an HCL report already read (buf[0..len)),
 * against ak (this vTPM's AK) and nonce (or NULL). Same returns, *ret and why.
 */
int attest_hcl_check(struct manager *m, const uint8_t *buf, size_t len, const uint8_t *ak,
		     size_t ak_len, const uint8_t *nonce, bool require_persisted,
		     struct hcl_verify_result *ret, char *why, size_t whylen);

#define ATTEST_HCL_WAIT_MS 10000u
