/* SPDX-License-Identifier: Apache-2.0 */
/* The vtpm sealing profile (seal-vtpm.h). */
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "attest-hcl.h"
#include "seal-vtpm.h"
#include "secmem.h"
#include "tpm2-nv.h"
#include "tpm2-seal.h"

#define VTPM_KEY_SIZE 32u

/* The vTPM the daemon was given (--tcti, or /dev/tpmrm0), or -EOPNOTSUPP saying there is none. */
static int vtpm_open(struct manager *m, struct tpm2 **ret, char *why, size_t whylen)
{
	int r;

	if (!m->tcti) {
		snprintf(why, whylen, "the vtpm sealing profile is not supported here: no vTPM "
			 "(/dev/tpmrm0 is absent and vhsmd has no --tcti)");
		return -EOPNOTSUPP;
	}
	r = tpm2_open(m->tcti, ret);
	if (r < 0) {
		snprintf(why, whylen, "the vtpm sealing profile is not supported here: no TPM "
			 "answers at %s (%s)", m->tcti, strerror(-r));
		return -EOPNOTSUPP;
	}
	return 0;
}

static int vtpm_check(struct manager *m, struct tpm2 *t, char *why, size_t whylen)
{
	struct hcl_verify_result res;
	int r = attest_hcl_verify(m, t, NULL, true, &res, why, whylen);

	if (r == -ENOENT) {
		snprintf(why, whylen, "the vtpm sealing profile is not supported here: the vTPM "
			 "holds no Azure HCL report (NV 0x%08x), so nothing shows it runs inside "
			 "the TEE", TPM2_HCL_REPORT_INDEX);
		return -EOPNOTSUPP;
	}
	if (r < 0 && res.failed == HCL_CHECK_PERSISTED)
		snprintf(why, whylen, "the vtpm sealing profile is refused: the HCL report's claims "
			 "say tpm-persisted is not true (%s): the vTPM's state does not survive a "
			 "reboot and a KEK sealed to it would be lost", res.detail);
	return r;
}

int seal_vtpm_check(struct manager *m, char *why, size_t whylen)
{
	_cleanup_(tpm2_closep) struct tpm2 *t = NULL;
	int r = vtpm_open(m, &t, why, whylen);

	return r < 0 ? r : vtpm_check(m, t, why, whylen);
}

/* gcc 12's -fanalyzer reports the cleanup pointers below as uninitialised on early-return
 * paths, although each is initialised at its declaration: the false positive op-byok.c
 * describes. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-use-of-uninitialized-value"
int seal_vtpm_seal(struct manager *m, const struct seal_params *params,
		   const struct seal_binding *binding, const char *label, const void *meta,
		   size_t meta_len, const uint8_t *pt, size_t pt_len, const char *what,
		   uint8_t **ret_blob, size_t *ret_len, char *why, size_t whylen)
{
	_cleanup_(tpm2_closep) struct tpm2 *t = NULL;
	_cleanup_secmem_ uint8_t *key = NULL;
	_cleanup_free_ uint8_t *obj = NULL;
	size_t obj_len;
	int r;

	r = vtpm_open(m, &t, why, whylen);
	if (r < 0)
		return r;
	/* Every seal (create, rotate, a state change) checks the platform again. */
	r = vtpm_check(m, t, why, whylen);
	if (r < 0)
		return r;
	key = secmem_alloc(VTPM_KEY_SIZE);
	if (!key)
		return -ENOMEM;
	if (RAND_priv_bytes(key, VTPM_KEY_SIZE) != 1) {
		snprintf(why, whylen, "random number generator failed");
		return -EIO;
	}
	r = tpm2_seal(t, TPM2_SEAL_PCRS_DEFAULT, key, VTPM_KEY_SIZE, &obj, &obj_len);
	if (r < 0) {
		snprintf(why, whylen, "the vTPM cannot seal %s: %s%s", what, strerror(-r),
			 r == -EACCES ? " (the owner hierarchy has a password)" : "");
		return r;
	}
	r = seal_blob_vtpm(key, params, binding, obj, obj_len, label, meta, meta_len, pt, pt_len,
			   ret_blob, ret_len);
	if (r < 0)
		snprintf(why, whylen, "sealing %s failed: %s", what, strerror(-r));
	return r;
}

int seal_vtpm_unseal(struct manager *m, const struct seal_header *h, const uint8_t *blob,
		     size_t len, const char *what, uint8_t **ret_pt, size_t *ret_len, char *why,
		     size_t whylen)
{
	_cleanup_(tpm2_closep) struct tpm2 *t = NULL;
	_cleanup_secmem_ uint8_t *key = NULL;
	size_t key_len = 0;
	int r;

	r = vtpm_open(m, &t, why, whylen);
	if (r < 0)
		return r;
	r = tpm2_unseal(t, h->tpm_object, h->tpm_object_len, &key, &key_len);
	if (r == -EKEYREJECTED || r == -EBADMSG) {
		snprintf(why, whylen, "the vTPM refuses the sealed object of %s: sealed by another "
			 "vTPM (or this vTPM's state was reset), or PCR 7 (the Secure Boot policy) "
			 "changed since it was sealed", what);
		return -EKEYREJECTED;
	}
	if (r < 0) {
		snprintf(why, whylen, "the vTPM cannot unseal %s: %s", what, strerror(-r));
		return r;
	}
	if (key_len != VTPM_KEY_SIZE) {
		snprintf(why, whylen, "%s was modified (its vTPM object holds no sealing key)", what);
		return -EKEYREJECTED;
	}
	r = unseal_blob(key, blob, len, ret_pt, ret_len);
	if (r < 0) {
		snprintf(why, whylen, "%s was modified (it does not authenticate under the key "
			 "its vTPM object seals)", what);
		return -EKEYREJECTED;
	}
	return 0;
}
#pragma GCC diagnostic pop
