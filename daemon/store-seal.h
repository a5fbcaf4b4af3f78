/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sealing for the store's files (store-seal.c): seal at the current attested state and
 * unseal with this CVM's derived key, or with the vTPM for the vtpm profile (seal-vtpm.h),
 * chosen by the profile in the blob's header. Used by the KEK files, exchange keys and sealed copies;
 * the caller has passed the attestation gate.
 */
#pragma once

#include "vhsmd.h"

/*
 * Whether a caller may choose profile for a new key here: on the vtpm platform (m->root) the
 * derived-key profiles strict and author are refused (-EOPNOTSUPP, with why naming vtpm as the
 * one to use): there is no SNP firmware to derive their keys, and the root that stands in for
 * it serves vhsmd's own keys only. 0 otherwise.
 */
int store_profile_allowed(const struct manager *m, enum seal_profile profile, char *why,
			  size_t whylen);

/* The profile a new key gets when the caller names none: "strict", or on the vtpm platform
 * "vtpm" (the only one there). */
const char *store_profile_default(const struct manager *m);

/*
 * Seals pt under profile at the current attested state: fills the blob's parameters and
 * binding and returns a malloc'ed blob, or -errno with why filled ("sealing WHAT failed", the
 * firmware's refusal of the sealing key, or for vtpm -EOPNOTSUPP/-EKEYREJECTED when the
 * platform cannot seal to its vTPM). Outputs are set only on success.
 */
int store_seal_now(struct manager *m, enum seal_profile profile, const char *label,
		   const void *meta, size_t meta_len, const uint8_t *pt, size_t pt_len,
		   const char *what, struct seal_params *ret_params,
		   struct seal_binding *ret_binding, uint8_t **ret_blob, size_t *ret_len,
		   char *why, size_t whylen);

/*
 * Unseals blob (header h, already parsed) with this CVM's derived key or vTPM: 0 with the plaintext
 * in fresh secmem, or -EKEYREJECTED with why explaining which sealed field differs (or, with
 * no valid report, "WHAT does not unseal"), -ENOMEM or the device's -errno. Outputs are set
 * only on success.
 */
int store_unseal_now(struct manager *m, const struct seal_header *h, const uint8_t *blob,
		     size_t len, const char *what, uint8_t **ret_pt, size_t *ret_len, char *why,
		     size_t whylen);
