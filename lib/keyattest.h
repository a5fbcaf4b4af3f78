/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key attestation: an SEV-SNP report whose REPORT_DATA binds a key pair's public key, made by
 * vhsmd (KEY_ATTEST, and once at creation for the certificate extension) and checked by
 * vhsm-byok verify-key. Pure functions; never log.
 *
 *   REPORT_DATA = SHA-512("vhsm-key-attest-v1" || 0x00 || SHA-256(SPKI DER) || nonce)
 *
 * The certificate extension KEY_ATTEST_OID (critical: no) holds the DER
 *   SEQUENCE { version INTEGER (1), spkiSha256 OCTET STRING (32), report OCTET STRING (1184) }
 * where report is the report made at creation with an empty nonce.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/* A private arc (ITU-T X.667: 2.25.<UUID>), registered nowhere else; .1 = key attestation. */
#define KEY_ATTEST_ARC "2.25.247258542550561428092271538759213504148"
#define KEY_ATTEST_OID KEY_ATTEST_ARC ".1"
#define KEY_ATTEST_LABEL "vhsm-key-attest-v1"
#define KEY_ATTEST_NONCE_MAX 64u
#define KEY_ATTEST_MSG_MAX (sizeof(KEY_ATTEST_LABEL) + 32u + KEY_ATTEST_NONCE_MAX)
#define KEY_ATTEST_REPORT_SIZE 1184u
/* 4 (SEQUENCE) + 3 (INTEGER) + 34 (hash) + 4 + 1184 (report) */
#define KEY_ATTEST_BINDING_SIZE (4u + 3u + 34u + 4u + KEY_ATTEST_REPORT_SIZE)

/*
 * The message whose SHA-512 is REPORT_DATA (vhsmd's report requests hash what they are given)
 * into out (KEY_ATTEST_MSG_MAX bytes). Returns its length, or -EMSGSIZE (nonce too long),
 * -EIO (digest failed).
 */
int key_attest_message(const uint8_t *spki, size_t spki_len, const uint8_t *nonce,
		       size_t nonce_len, uint8_t out[static KEY_ATTEST_MSG_MAX]) _wur_;
/* REPORT_DATA for spki and nonce: 0, -EMSGSIZE, -EIO. */
int key_attest_report_data(const uint8_t *spki, size_t spki_len, const uint8_t *nonce,
			   size_t nonce_len, uint8_t ret[static 64]) _wur_;
/* The extension's DER for spki and report into out. 0 or -EIO. */
int key_attest_binding_encode(const uint8_t *spki, size_t spki_len,
			      const uint8_t report[static KEY_ATTEST_REPORT_SIZE],
			      uint8_t out[static KEY_ATTEST_BINDING_SIZE]) _wur_;
/*
 * Parses the extension's DER (exactly the layout above): 0 with pointers into der, or
 * -EBADMSG.
 */
int key_attest_binding_decode(const uint8_t *der, size_t len, const uint8_t **ret_spki_sha256,
			      const uint8_t **ret_report) _wur_;
