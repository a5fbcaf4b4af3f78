/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sealing for the store (store-seal.h). The sealing key is derived by the firmware
 * (MSG_KEY_REQ) from the blob's parameters and lives in secure memory for one call; the vtpm
 * profile's comes from the vTPM instead (seal-vtpm.c). On the vtpm platform the "firmware" is
 * the platform root (root-vtpm.c), behind the same device call. Everything else is one path.
 */
#include <stdio.h>
#include <string.h>

#include "root-vtpm.h"
#include "seal-vtpm.h"
#include "secmem.h"
#include "store-seal.h"

static int derive_key(struct manager *m, const struct seal_params *p, uint8_t *key, char *why,
		      size_t whylen)
{
	struct snp_key_request kr;
	struct snp_status st = {};
	int r;

	seal_key_request(p, &kr);
	r = snp_dev_get_derived_key(m->dev, &kr, key, &st);
	if (r == -EREMOTEIO && p->vmpl < snp_dev_running_vmpl(m->dev))
		snprintf(why, whylen, "firmware refused the sealing key (status %s): sealed at VMPL "
			 "%u, this guest runs at VMPL %u and cannot derive a more privileged VMPL's key",
			 snp_fw_status_name(st.msg_status), p->vmpl, snp_dev_running_vmpl(m->dev));
	else if (r == -EREMOTEIO)
		snprintf(why, whylen, "firmware refused the sealing key (status %s): the TCB or "
			 "guest SVN the key was sealed at is above this CVM's (rollback?)",
			 snp_fw_status_name(st.msg_status));
	else if (r < 0 && m->root)
		snprintf(why, whylen, "the platform root gives no key: %s",
			 root_vtpm_error(m->root)[0] ? root_vtpm_error(m->root) : strerror(-r));
	else if (r < 0)
		snprintf(why, whylen, "derived key request failed: %s", strerror(-r));
	return r == -EREMOTEIO ? -EKEYREJECTED : r;
}

/* Seals with the firmware's derived key for params (profiles strict and author). */
static int seal_derived(struct manager *m, const struct seal_params *params,
			const struct seal_binding *binding, const char *label, const void *meta,
			size_t meta_len, const uint8_t *pt, size_t pt_len, const char *what,
			uint8_t **ret_blob, size_t *ret_len, char *why, size_t whylen)
{
	_cleanup_secmem_ uint8_t *dkey = secmem_alloc(32);
	int r;

	if (!dkey)
		return -ENOMEM;
	r = derive_key(m, params, dkey, why, whylen);
	if (r < 0)
		return r;
	r = seal_blob(dkey, params, binding, label, meta, meta_len, pt, pt_len, ret_blob, ret_len);
	if (r < 0)
		snprintf(why, whylen, "sealing %s failed: %s", what, strerror(-r));
	return r;
}

int store_profile_allowed(const struct manager *m, enum seal_profile profile, char *why,
			  size_t whylen)
{
	if (!m->root || seal_profile_uses_tpm(profile))
		return 0;
	snprintf(why, whylen, "the %s sealing profile is not supported on the vtpm platform: it "
		 "seals with the SNP firmware's derived key, and this CVM has no SNP guest device "
		 "(vhsmd runs with its vTPM's platform root); use --profile vtpm",
		 seal_profile_to_string(profile));
	return -EOPNOTSUPP;
}

const char *store_profile_default(const struct manager *m)
{
	return m->root ? "vtpm" : "strict";
}

int store_seal_now(struct manager *m, enum seal_profile profile, const char *label,
		   const void *meta, size_t meta_len, const uint8_t *pt, size_t pt_len,
		   const char *what, struct seal_params *ret_params,
		   struct seal_binding *ret_binding, uint8_t **ret_blob, size_t *ret_len,
		   char *why, size_t whylen)
{
	struct seal_params params;
	struct seal_binding binding;
	uint8_t *blob;
	size_t len;
	int r;

	seal_params_from_report(profile, &m->attest.report, &params);
	seal_binding_from_report(&m->attest.report, m->policy_digest, &binding);
	if (seal_profile_uses_tpm(profile))
		r = seal_vtpm_seal(m, &params, &binding, label, meta, meta_len, pt, pt_len, what,
				   &blob, &len, why, whylen);
	else
		r = seal_derived(m, &params, &binding, label, meta, meta_len, pt, pt_len, what,
				 &blob, &len, why, whylen);
	if (r < 0)
		return r;
	*ret_params = params;
	*ret_binding = binding;
	*ret_blob = blob;
	*ret_len = len;
	return 0;
}

int store_unseal_now(struct manager *m, const struct seal_header *h, const uint8_t *blob,
		     size_t len, const char *what, uint8_t **ret_pt, size_t *ret_len, char *why,
		     size_t whylen)
{
	_cleanup_secmem_ uint8_t *dkey = NULL;
	int r;

	if (seal_profile_uses_tpm(h->params.profile))
		return seal_vtpm_unseal(m, h, blob, len, what, ret_pt, ret_len, why, whylen);
	dkey = secmem_alloc(32);
	if (!dkey)
		return -ENOMEM;
	r = derive_key(m, &h->params, dkey, why, whylen);
	if (r < 0)
		return r;
	r = unseal_blob(dkey, blob, len, ret_pt, ret_len);
	if (r < 0) {
		if (m->attest.report_valid)
			seal_explain_failure(h, &m->attest.report, m->attest.product, why, whylen);
		else
			snprintf(why, whylen, "%s does not unseal", what);
		return -EKEYREJECTED;
	}
	return 0;
}
