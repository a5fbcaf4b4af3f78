/* SPDX-License-Identifier: Apache-2.0 */
/* This CVM's Azure HCL report, read from the vTPM and verified (attest-hcl.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attest-hcl.h"
#include "hcl-report.h"
#include "tpm2-nv.h"

#define POLL_MS 50u

static int read_report(struct tpm2 *t, uint8_t **ret, size_t *ret_len, char *why, size_t whylen)
{
	int r = tpm2_nv_read(t, TPM2_HCL_REPORT_INDEX, ret, ret_len);

	if (r == -ENOENT)
		snprintf(why, whylen, "the vTPM holds no HCL report (NV index 0x%08x is not "
			 "defined): not an Azure paravisor CVM", TPM2_HCL_REPORT_INDEX);
	else if (r < 0)
		snprintf(why, whylen, "cannot read the HCL report at NV index 0x%08x: %s",
			 TPM2_HCL_REPORT_INDEX, strerror(-r));
	return r;
}

/* Whether buf's claims carry nonce as their user data. */
static bool carries(const uint8_t *buf, size_t len, const uint8_t *nonce)
{
	struct hcl_report h;
	struct hcl_claims c;

	return hcl_report_parse(buf, len, &h) == 0 &&
	       hcl_claims_parse(h.claims, h.claims_len, &c, NULL, 0) == 0 && c.have_user_data &&
	       memcmp(c.user_data, nonce, HCL_USER_DATA_SIZE) == 0;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * Writes nonce to the user-data index and reads the report until it carries the nonce or the
 * wait is over (a paravisor may regenerate it asynchronously). The last report read is handed
 * out either way: the verification refuses a stale one.
 */
static int fresh_report(struct tpm2 *t, const uint8_t *nonce, uint8_t **ret, size_t *ret_len,
			char *why, size_t whylen)
{
	const struct timespec poll = { .tv_nsec = POLL_MS * 1000000L };
	uint64_t start = mono_ms();
	int r = tpm2_nv_write(t, TPM2_HCL_USER_DATA_INDEX, nonce, HCL_USER_DATA_SIZE);

	if (r < 0) {
		snprintf(why, whylen, "cannot write the nonce to NV index 0x%08x: %s",
			 TPM2_HCL_USER_DATA_INDEX, strerror(-r));
		return r;
	}
	for (;;) {
		uint8_t *buf = NULL;
		size_t len = 0;
		r = read_report(t, &buf, &len, why, whylen);
		if (r < 0)
			return r;
		if (carries(buf, len, nonce) || mono_ms() - start >= ATTEST_HCL_WAIT_MS) {
			*ret = buf;
			*ret_len = len;
			return 0;
		}
		free(buf);
		nanosleep(&poll, NULL);
	}
}

int attest_hcl_verify(struct manager *m, struct tpm2 *t, const uint8_t *nonce,
		      bool require_persisted, struct hcl_verify_result *ret, char *why,
		      size_t whylen)
{
	_cleanup_free_ uint8_t *buf = NULL;
	uint8_t ak[HCL_AK_SPKI_MAX];
	size_t len = 0;
	int ak_len, r;

	r = nonce ? fresh_report(t, nonce, &buf, &len, why, whylen) :
		    read_report(t, &buf, &len, why, whylen);
	if (r < 0)
		return r;
	ak_len = tpm2_public_spki(t, TPM2_HCL_AK_HANDLE, ak, sizeof(ak));
	if (ak_len <= 0) {
		snprintf(why, whylen, "cannot read the vTPM's attestation key at 0x%08x: %s",
			 TPM2_HCL_AK_HANDLE, ak_len == -ENOENT ? "not persisted" :
			 strerror(ak_len < 0 ? -ak_len : EIO));
		return ak_len < 0 ? ak_len : -EIO;
	}
	const struct hcl_verify_opts o = {
		.collateral_dir = m->collateral_dir,
		.snp = {
			.trust_roots = (const uint8_t *const *)m->trust_roots,
			.trust_root_lens = m->trust_root_lens,
			.n_trust_roots = m->n_trust_roots,
		},
		.expect_ak_spki = ak,
		.expect_ak_spki_len = (size_t)ak_len,
		.expect_user_data = nonce,
		.require_tpm_persisted = require_persisted,
	};
	r = hcl_verify(buf, len, &o, ret);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		snprintf(why, whylen, "the vTPM's HCL report is refused: %s: %s",
			 hcl_check_name(ret->failed), ret->detail);
		return -EKEYREJECTED;
	}
	return 0;
}
