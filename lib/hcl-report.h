/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Azure HCL report (the OpenHCL paravisor's attestation report in vTPM NV index 0x01400001):
 *   0x000  4  signature "HCLA"
 *   0x004  4  version (1 or 2)
 *   0x008  4  report size: header + SNP report + runtime data, in bytes
 *   0x00C  4  request type (2: an attestation report)
 *   0x010 16  status and reserved (zero)
 *   0x020 1184 the SNP ATTESTATION_REPORT
 *   0x4C0  4  runtime data size (20 + claims size)
 *   0x4C4  4  runtime data version (1)
 *   0x4C8  4  report type (2: SNP)
 *   0x4CC  4  hash type (1 SHA-256, 2 SHA-384, 3 SHA-512)
 *   0x4D0  4  claims size
 *   0x4D4  .. claims: JSON (keys, vm-configuration, user-data)
 * then zero padding to the NV index size. The SNP report's REPORT_DATA starts with the hash of
 * the claims (the rest zero), which binds the claims (the vTPM's AK among them) to the report.
 * Pure functions over untrusted bytes; never log.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "snp-abi.h"

#define HCL_HEADER_SIZE 0x20u
#define HCL_RUNTIME_HEADER_SIZE 20u
#define HCL_REPORT_MAX (64u * 1024u)

enum hcl_hash_type {
	HCL_HASH_SHA256 = 1,
	HCL_HASH_SHA384 = 2,
	HCL_HASH_SHA512 = 3,
};

struct hcl_report {
	uint32_t version;
	enum hcl_hash_type hash_type;
	const uint8_t *snp_report; /* SNP_REPORT_SIZE bytes inside the parsed buffer */
	const char *claims;        /* claims_len bytes of JSON inside the parsed buffer */
	size_t claims_len;
};

/*
 * Parses buf[0..len): every size field consistent with the others and with len, the claims a
 * JSON object, anything after the runtime data zero. Returns 0 (pointers into buf) or
 * -EBADMSG (-EMSGSIZE past HCL_REPORT_MAX).
 */
int hcl_report_parse(const uint8_t *buf, size_t len, struct hcl_report *ret) _wur_;

/*
 * Whether the SNP report's REPORT_DATA binds the claims: the hash of the claims (by the
 * report's hash type) first, zeros after it. Returns 0, -EKEYREJECTED when it does not, or
 * -EIO.
 */
int hcl_report_check_binding(const struct hcl_report *h) _wur_;
