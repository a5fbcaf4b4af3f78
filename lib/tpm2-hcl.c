/* SPDX-License-Identifier: Apache-2.0 */
/* Whether the vTPM holds an Azure HCL report (see tpm2-hcl.h). */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ct.h"
#include "hcl-report.h"
#include "tpm2-hcl.h"
#include "tpm2-nv.h"

const char *tpm2_hcl_state_to_string(enum tpm2_hcl_state s)
{
	static const char *const names[] = {
		[TPM2_HCL_NO_TPM] = "no-tpm",
		[TPM2_HCL_ABSENT] = "absent",
		[TPM2_HCL_UNREADABLE] = "unreadable",
		[TPM2_HCL_MALFORMED] = "malformed",
		[TPM2_HCL_PRESENT] = "present",
	};
	return (unsigned)s < ELEMENTSOF(names) ? names[s] : "unknown";
}

static void set(struct tpm2_hcl_probe *p, enum tpm2_hcl_state s, const char *detail)
{
	p->state = s;
	snprintf(p->detail, sizeof(p->detail), "%s", detail);
}

static void probe_report(struct tpm2 *t, struct tpm2_hcl_probe *ret)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct hcl_report h;
	struct hcl_claims c;
	char err[160];
	uint8_t d[32];
	unsigned int dl = 0;
	size_t len = 0;
	int r = tpm2_nv_read(t, TPM2_HCL_REPORT_INDEX, &buf, &len);

	if (r == -ENOENT) {
		set(ret, TPM2_HCL_ABSENT, "NV index 0x01400001 is not defined");
	} else if (r < 0) {
		snprintf(err, sizeof(err), "NV index 0x01400001 cannot be read: %s", strerror(-r));
		set(ret, TPM2_HCL_UNREADABLE, err);
	} else if (hcl_report_parse(buf, len, &h) < 0) {
		set(ret, TPM2_HCL_MALFORMED, "NV index 0x01400001 holds no HCL report");
	} else if (hcl_claims_parse(h.claims, h.claims_len, &c, err, sizeof(err)) < 0) {
		set(ret, TPM2_HCL_MALFORMED, err);
	} else if (hcl_report_check_binding(&h) < 0) {
		set(ret, TPM2_HCL_MALFORMED, "REPORT_DATA does not bind the claims");
	} else if (!EVP_Digest(c.ak_spki, c.ak_spki_len, d, &dl, EVP_sha256(), NULL) ||
		   dl != sizeof(d)) {
		set(ret, TPM2_HCL_MALFORMED, "cannot hash the claims' attestation key");
	} else {
		ret->tpm_persisted = c.tpm_persisted;
		ct_hex_encode(ret->ak_sha256, d, sizeof(d));
		set(ret, TPM2_HCL_PRESENT, "");
	}
}

void tpm2_hcl_probe(const char *tcti, struct tpm2_hcl_probe *ret)
{
	_cleanup_(tpm2_closep) struct tpm2 *t = NULL;

	*ret = (struct tpm2_hcl_probe){};
	if (tpm2_open(tcti, &t) < 0) {
		char why[160];
		snprintf(why, sizeof(why), "cannot open the TPM at %.100s", tcti ?: TPM2_TCTI_DEFAULT);
		set(ret, TPM2_HCL_NO_TPM, why);
	} else
		probe_report(t, ret);
}

int tpm2_hcl_read(struct tpm2 *t, uint8_t **ret, size_t *ret_len, char *why, size_t whylen)
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

#define TPM2_HCL_POLL_MS 50u

int tpm2_hcl_read_fresh(struct tpm2 *t, const uint8_t nonce[static HCL_USER_DATA_SIZE],
			uint64_t wait_ms, uint8_t **ret, size_t *ret_len, char *why,
			size_t whylen)
{
	const struct timespec poll = { .tv_nsec = TPM2_HCL_POLL_MS * 1000000L };
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
		r = tpm2_hcl_read(t, &buf, &len, why, whylen);
		if (r < 0)
			return r;
		if (carries(buf, len, nonce) || mono_ms() - start >= wait_ms) {
			*ret = buf;
			*ret_len = len;
			return 0;
		}
		free(buf);
		nanosleep(&poll, NULL);
	}
}
