/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vtpm sealing profile (seal.h) for the store: the key that takes the SNP derived key's
 * place is 32 random bytes the vTPM seals (lib/tpm2-seal: a sealed object under the SRK whose
 * policy is PCR 7) and only this vTPM, with PCR 7 as it was, unseals. Sealing is refused
 * unless the vTPM's HCL report verifies with claims that say tpm-persisted: true (a vTPM whose
 * state is dropped at reboot would lose every KEK). store-seal.c dispatches here by profile.
 */
#pragma once

#include "vhsmd.h"

/*
 * Whether the vtpm profile can seal here now: a vTPM configured and answering, its HCL report
 * verified (attest-hcl.h) with tpm-persisted: true. Returns 0, -EOPNOTSUPP (no vTPM, or no
 * HCL report: the profile is not supported on this platform) or -EKEYREJECTED (the report or
 * its claims refused), with why naming the cause.
 */
int seal_vtpm_check(struct manager *m, char *why, size_t whylen);

/*
 * Seals pt with the vtpm profile (after seal_vtpm_check): params and binding as the caller
 * filled them (profile SEAL_PROFILE_VTPM). Returns 0 and a malloc'ed blob, or -errno with why.
 * Outputs are set only on success.
 */
int seal_vtpm_seal(struct manager *m, const struct seal_params *params,
		   const struct seal_binding *binding, const char *label, const void *meta,
		   size_t meta_len, const uint8_t *pt, size_t pt_len, const char *what,
		   uint8_t **ret_blob, size_t *ret_len, char *why, size_t whylen);

/*
 * Unseals a vtpm blob (header h parsed from it): 0 with the plaintext in fresh secmem;
 * -EKEYREJECTED when the vTPM refuses its object (another vTPM, a reset state, PCR 7 changed)
 * or the blob was modified; -EOPNOTSUPP without a vTPM; with why. Outputs set only on success.
 */
int seal_vtpm_unseal(struct manager *m, const struct seal_header *h, const uint8_t *blob,
		     size_t len, const char *what, uint8_t **ret_pt, size_t *ret_len, char *why,
		     size_t whylen);
