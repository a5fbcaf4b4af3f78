/* SPDX-License-Identifier: Apache-2.0 */
/* This CVM's Azure HCL report, read from the vTPM and verified (attest-hcl.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest-hcl.h"
#include "hcl-report.h"
#include "policy.h"
#include "tpm2-hcl.h"
#include "tpm2-nv.h"

int attest_hcl_read_ak(struct tpm2 *t, uint8_t ak[static HCL_AK_SPKI_MAX], char *why,
		       size_t whylen)
{
	int ak_len = tpm2_public_spki(t, TPM2_HCL_AK_HANDLE, ak, HCL_AK_SPKI_MAX);

	if (ak_len <= 0) {
		snprintf(why, whylen, "cannot read the vTPM's attestation key at 0x%08x: %s",
			 TPM2_HCL_AK_HANDLE, ak_len == -ENOENT ? "not persisted" :
			 strerror(ak_len < 0 ? -ak_len : EIO));
		return ak_len < 0 ? ak_len : -EIO;
	}
	return ak_len;
}

int attest_hcl_check(struct manager *m, const uint8_t *buf, size_t len, const uint8_t *ak,
		     size_t ak_len, const uint8_t *nonce, bool require_persisted,
		     struct hcl_verify_result *ret, char *why, size_t whylen)
{
	struct snp_policy_pins pins = {};
	if (m->policy)
		snp_policy_get_pins(m->policy, &pins);
	/* The ARK's CRL comes from the collateral cache (hcl_verify); the policy may require it. */
	const struct hcl_verify_opts o = {
		.collateral_dir = m->collateral_dir,
		.snp = {
			.trust_roots = (const uint8_t *const *)m->trust_roots,
			.trust_root_lens = m->trust_root_lens,
			.n_trust_roots = m->n_trust_roots,
			.require_crl = pins.require_crl,
		},
		.expect_ak_spki = ak,
		.expect_ak_spki_len = ak_len,
		.expect_user_data = nonce,
		.require_tpm_persisted = require_persisted,
	};
	int r = hcl_verify(buf, len, &o, ret);

	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		snprintf(why, whylen, "the vTPM's HCL report is refused: %s: %s",
			 hcl_check_name(ret->failed), ret->detail);
		return -EKEYREJECTED;
	}
	return 0;
}

int attest_hcl_verify(struct manager *m, struct tpm2 *t, const uint8_t *nonce,
		      bool require_persisted, struct hcl_verify_result *ret, char *why,
		      size_t whylen)
{
	_cleanup_free_ uint8_t *buf = NULL;
	uint8_t ak[HCL_AK_SPKI_MAX];
	size_t len = 0;
	int ak_len, r;

	r = nonce ? tpm2_hcl_read_fresh(t, nonce, ATTEST_HCL_WAIT_MS, &buf, &len, why, whylen) :
		    tpm2_hcl_read(t, &buf, &len, why, whylen);
	if (r < 0)
		return r;
	ak_len = attest_hcl_read_ak(t, ak, why, whylen);
	if (ak_len < 0)
		return ak_len;
	return attest_hcl_check(m, buf, len, ak, (size_t)ak_len, nonce, require_persisted, ret,
				why, whylen);
}
