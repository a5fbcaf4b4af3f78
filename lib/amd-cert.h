/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AMD certificate helpers: loading PEM/DER, the pinned AMD roots shipped with vhsm, and the
 * AMD X.509 extensions of VCEK/VLEK certificates (OID 1.3.6.1.4.1.3704.1.*): structVersion,
 * productName, the TCB SPLs, hwID (raw or OCTET STRING wrapped) and cspID.
 * Never logs except through vhsm_log_debug.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "snp-report.h"

#define AMD_OID_PREFIX "1.3.6.1.4.1.3704.1."
#define AMD_HWID_MAX 64u
#define AMD_CERT_MAX (64u * 1024u) /* largest certificate we accept, DER or PEM */

/* What the AMD extensions of a VCEK/VLEK say. has_* tell which were present. */
struct amd_vek_ext {
	bool has_struct_version;
	int64_t struct_version;
	char product_name[32]; /* empty when absent */
	bool has_bl, has_tee, has_snp, has_ucode, has_fmc;
	uint8_t bl_spl, tee_spl, snp_spl, ucode_spl, fmc_spl;
	size_t hwid_len; /* 0 when absent; 64 on Milan/Genoa, 8 on Turin */
	uint8_t hwid[AMD_HWID_MAX];
	char csp_id[128]; /* VLEK only; empty when absent */
};

/*
 * Reads one certificate (PEM or DER, detected) from path; at most AMD_CERT_MAX bytes.
 * Returns 0 with a malloc'ed DER copy, or -errno (-EBADMSG when not a certificate).
 */
int amd_cert_load_file(const char *path, uint8_t **ret_der, size_t *ret_len) _wur_;

/* Same for a buffer (PEM text or DER bytes). The output is a fresh DER copy. */
int amd_cert_to_der(const uint8_t *buf, size_t len, uint8_t **ret_der, size_t *ret_len) _wur_;

/* The role a certificate plays in an AMD chain, by its subject CN. */
enum amd_cert_role {
	AMD_CERT_ANY,
	AMD_CERT_ARK,          /* "ARK-<Product>" */
	AMD_CERT_INTERMEDIATE, /* "SEV-<Product>" (ASK) or "SEV-VLEK-<Product>" (ASVK) */
	AMD_CERT_LEAF,         /* "SEV-VCEK" or "SEV-VLEK" */
};

/*
 * Like amd_cert_to_der()/amd_cert_load_file(), but from a PEM bundle (a KDS cert_chain, a
 * host's chain file) takes the certificate that plays role; when none does, the first one (so
 * a wrong certificate fails a verifier check by name rather than failing to load).
 */
int amd_cert_to_der_role(const uint8_t *buf, size_t len, enum amd_cert_role role,
			 uint8_t **ret_der, size_t *ret_len) _wur_;
int amd_cert_load_file_role(const char *path, enum amd_cert_role role, uint8_t **ret_der,
			    size_t *ret_len) _wur_;

/*
 * Whether the DER certificate is the intermediate for a VLEK chain (CN "SEV-VLEK-<Product>",
 * the ASVK) rather than a VCEK chain (CN "SEV-<Product>", the ASK). GHCB certificate tables
 * have one slot for either, so a caller picks by this. False for anything unparsable.
 */
bool amd_cert_is_asvk(const uint8_t *der, size_t len);

struct certtable;
struct certtable_entry;

/*
 * The certificates of a GHCB table that verify a report signed by signing_key
 * (SNP_SIGNING_KEY_*): the VLEK for a VLEK-signed report, else the VCEK (the other kind only
 * when the table lacks it, so the verifier names the mismatch); the table's one ASK slot only
 * when it is the intermediate of that chain (else NULL: the pinned copy applies); the ARK.
 * Outputs may be NULL when absent.
 */
void amd_cert_pick_from_table(const struct certtable *t, uint32_t signing_key,
			      const struct certtable_entry **ret_vek,
			      const struct certtable_entry **ret_ask,
			      const struct certtable_entry **ret_ark);

/*
 * Parses the AMD extensions of a DER VCEK/VLEK. An SPL extension that is present but not a
 * DER INTEGER in 0..255, an hwID longer than 64 bytes, or a malformed productName gives
 * -EBADMSG. Returns 0 and fills *ret.
 */
int amd_vek_ext_parse(const uint8_t *der, size_t len, struct amd_vek_ext *ret) _wur_;

/* Pinned AMD roots compiled into vhsm (copies of AMD's published ARK/ASK/ASVK). */
enum amd_root_kind { AMD_ROOT_ARK, AMD_ROOT_ASK, AMD_ROOT_ASVK, _AMD_ROOT_KIND_MAX };

/*
 * Returns the DER of the pinned certificate for product p and kind k (static storage,
 * never freed), or NULL for an invalid argument. *ret_len gets the length.
 */
const uint8_t *amd_root_der(enum snp_product p, enum amd_root_kind k, size_t *ret_len);
