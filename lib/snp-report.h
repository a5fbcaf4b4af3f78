/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ATTESTATION_REPORT parsing (versions 2, 3, 4 and 5), TCB_VERSION decoding for the legacy
 * (Milan/Genoa) and Turin layouts, must-be-zero checks, and product identification from
 * CPUID. Pure functions over untrusted bytes: no I/O, no allocation, never logs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "snp-abi.h"

enum snp_product {
	SNP_PRODUCT_MILAN,
	SNP_PRODUCT_GENOA,
	SNP_PRODUCT_TURIN,
	_SNP_PRODUCT_MAX,
	_SNP_PRODUCT_INVALID = -EINVAL,
};

/* "milan", "genoa", "turin"; NULL for anything else. */
const char *snp_product_to_string(enum snp_product p);
/* Case-insensitive "milan"/"genoa"/"turin"; _SNP_PRODUCT_INVALID otherwise. */
enum snp_product snp_product_from_string(const char *s);
/* AMD's capitalised name used in certificates and KDS URLs: "Milan", "Genoa", "Turin". */
const char *snp_product_kds_name(enum snp_product p);

/* A TCB_VERSION, decoded. fmc is only meaningful on Turin (0 elsewhere). */
struct snp_tcb {
	uint8_t fmc;
	uint8_t bootloader;
	uint8_t tee;
	uint8_t snp;
	uint8_t microcode;
};

/*
 * Decodes a raw TCB_VERSION with the product's layout (Turin: FMC, BL, TEE, SNP at bytes
 * 0-3; Milan/Genoa: BL 0, TEE 1, SNP 6, microcode 7). Returns 0, or -EINVAL for a bad
 * product. Reserved bytes are not checked here (see snp_tcb_reserved_ok()).
 */
int snp_tcb_decode(uint64_t raw, enum snp_product p, struct snp_tcb *ret);
/* Inverse of snp_tcb_decode(). */
uint64_t snp_tcb_encode(const struct snp_tcb *t, enum snp_product p);
/* True when the reserved bytes of raw are zero for the product's layout. */
bool snp_tcb_reserved_ok(uint64_t raw, enum snp_product p);
/* True when every component of a is >= the same component of b (fmc only on Turin). */
bool snp_tcb_ge(const struct snp_tcb *a, const struct snp_tcb *b, enum snp_product p);

/* A parsed report; integers converted to host order, byte arrays copied as they are. */
struct snp_report {
	uint32_t version;
	uint32_t guest_svn;
	uint64_t policy;
	uint8_t family_id[16];
	uint8_t image_id[16];
	uint32_t vmpl;
	uint32_t signature_algo;
	uint64_t current_tcb;
	uint64_t platform_info;
	uint32_t signer_info;
	uint8_t report_data[64];
	uint8_t measurement[48];
	uint8_t host_data[32];
	uint8_t id_key_digest[48];
	uint8_t author_key_digest[48];
	uint8_t report_id[32];
	uint8_t report_id_ma[32];
	uint64_t reported_tcb;
	bool has_cpuid; /* version >= 3 */
	uint8_t cpuid_fam_id;
	uint8_t cpuid_mod_id;
	uint8_t cpuid_step;
	uint8_t chip_id[64];
	uint64_t committed_tcb;
	uint8_t current_build, current_minor, current_major;
	uint8_t committed_build, committed_minor, committed_major;
	uint64_t launch_tcb;
	bool has_mit_vectors; /* version >= 5 */
	uint64_t launch_mit_vector;
	uint64_t current_mit_vector;
	uint8_t sig_r[SNP_SIG_COMPONENT_LEN]; /* little-endian as in the report */
	uint8_t sig_s[SNP_SIG_COMPONENT_LEN];
};

/* Signing key from signer info bits 4:2: SNP_SIGNING_KEY_VCEK, _VLEK, _NONE or reserved. */
static inline uint32_t snp_report_signing_key(const struct snp_report *r)
{
	return (r->signer_info & SNP_SIGNER_SIGNING_KEY_MASK) >> SNP_SIGNER_SIGNING_KEY_SHIFT;
}

/*
 * SIGNING_KEY of a raw, not yet parsed report (to pick certificates before verifying);
 * SNP_SIGNING_KEY_VCEK when len is too short to hold the signer-info field.
 */
static inline uint32_t snp_report_raw_signing_key(const uint8_t *raw, size_t len)
{
	if (!raw || len < SNP_R_SIGNER_INFO + 4)
		return SNP_SIGNING_KEY_VCEK;
	return (le32_get(raw + SNP_R_SIGNER_INFO) & SNP_SIGNER_SIGNING_KEY_MASK) >>
	       SNP_SIGNER_SIGNING_KEY_SHIFT;
}

/*
 * Parses an ATTESTATION_REPORT. len must be exactly SNP_REPORT_SIZE (-EMSGSIZE otherwise);
 * VERSION must be 2, 3, 4 or 5 (-EPROTONOSUPPORT otherwise). Does not check reserved fields
 * or the signature. Returns 0 and fills *ret, or a negative errno and leaves *ret untouched.
 */
int snp_report_parse(const uint8_t *buf, size_t len, struct snp_report *ret) _wur_;

/*
 * Checks every must-be-zero / must-be-one area of a raw report for its version: reserved
 * bytes (0x04C, 0x188/0x18B-0x19F, 0x1EB, 0x1EF, 0x1F8/0x208-0x29F), the zero extension of
 * R and S (bytes 48-71), the unsigned tail 0x330-0x49F, POLICY bit 17 (must be 1) and bits
 * 63:26, signer-info bits 31:5, and on Turin CHIP_ID bytes 8-63 (pass the product, or
 * _SNP_PRODUCT_INVALID when unknown). Returns 0, or -EBADMSG with *ret_field (if not NULL)
 * pointing at a static name of the first offending area.
 */
int snp_report_check_reserved(const uint8_t raw[static SNP_REPORT_SIZE], enum snp_product p,
			      const char **ret_field);

/*
 * Product from CPUID_FAM_ID/CPUID_MOD_ID (v3+): family 0x19 models 0x00-0x0F Milan,
 * 0x10-0x1F and 0xA0-0xAF Genoa; family 0x1A models 0x00-0x11 Turin. Returns the product,
 * -ENODATA for a v2 report (no CPUID), -EPROTONOSUPPORT for an unknown family/model.
 */
int snp_report_product_from_cpuid(const struct snp_report *r);
