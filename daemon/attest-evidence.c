/* SPDX-License-Identifier: Apache-2.0 */
/* Evidence over 64 bytes of binding data, on either platform (attest-evidence.h). */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest-evidence.h"
#include "attest-hcl.h"
#include "attest-state.h"
#include "clock.h"
#include "hcl-evidence.h"
#include "hcl-report.h"
#include "log.h"
#include "snp-report.h"
#include "tpm2-hcl.h"
#include "tpm2-nv.h"
#include "wire.h"

void attest_evidence_done(struct attest_evidence *e)
{
	if (!e)
		return;
	free(e->report);
	free(e->certs);
	*e = (struct attest_evidence){};
}

/* An extended report at the VMPL this guest runs at: the firmware refuses a more privileged
 * one (an SVSM guest runs at VMPL 2), and a verifier's "vmpl" rule checks the report's. */
static int evidence_snp(struct manager *m, const uint8_t data[static ATTEST_EVIDENCE_DATA_SIZE],
			struct attest_evidence *ret, char *why, size_t whylen)
{
	_cleanup_free_ uint8_t *report = NULL;
	uint8_t *certs = NULL; /* set by the device layer only on success, then handed out */
	struct snp_status st = {};
	size_t certs_len = 0;
	int r;

	report = malloc(SNP_REPORT_SIZE);
	if (!report)
		return -ENOMEM;
	m->n_reports++;
	r = snp_dev_get_ext_report(m->dev, data, snp_dev_running_vmpl(m->dev), report, &certs,
				   &certs_len, &st);
	if (r < 0) {
		attest_describe_device_error(m, "the SNP report request failed", r, &st, why,
					     whylen);
		return r;
	}
	*ret = (struct attest_evidence){ .report = TAKE_PTR(report), .report_len = SNP_REPORT_SIZE,
					 .certs = certs, .certs_len = certs_len };
	return 0;
}

/* After a wait for the paravisor ran out, a non-administrator's request in the next minute is
 * refused at once: vhsmd serves one request at a time, and the report budgets count
 * requests, not the time each holds vhsmd (one every 10 s would keep it busy for everyone). */
#define EVIDENCE_HCL_QUIET_USEC (60ull * 1000000ull)

static bool hcl_quiet(const struct manager *m, char *why, size_t whylen)
{
	if ((m->request_peer && !m->request_peer->admin) &&
	    clock_mono_usec() < m->hcl_quiet_until_usec) {
		snprintf(why, whylen, "the paravisor gave no HCL report within %u s to a request "
			 "in the last minute: vhsmd does not wait for it again for a "
			 "non-administrator until a minute after that", ATTEST_HCL_WAIT_MS / 1000u);
		return true;
	}
	return false;
}

/* A fresh HCL report whose claims' user-data is data, checked before it leaves. */
static int evidence_vtpm(struct manager *m, const uint8_t data[static ATTEST_EVIDENCE_DATA_SIZE],
			 bool gated, struct attest_evidence *ret, char *why, size_t whylen)
{
	_cleanup_(tpm2_closep) struct tpm2 *t = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	/* Set only by the last call, which fails without setting it: no cleanup needed (and
	 * gcc 12's analyzer misreads one on the early returns). */
	uint8_t *certs = NULL;
	struct hcl_verify_result res = { .failed = -1 };
	uint8_t ak[HCL_AK_SPKI_MAX];
	size_t len = 0, certs_len = 0;
	int ak_len, r;

	r = tpm2_open(m->tcti, &t);
	if (r < 0) {
		snprintf(why, whylen, "no vTPM answers at %s: %s", m->tcti, strerror(-r));
		return r;
	}
	ak_len = attest_hcl_read_ak(t, ak, why, whylen);
	if (ak_len < 0)
		return ak_len;
	m->n_reports++;
	r = tpm2_hcl_read_fresh(t, data, ATTEST_HCL_WAIT_MS, &buf, &len, why, whylen);
	if (r < 0)
		return r;
	r = hcl_evidence_check(buf, len, ak, (size_t)ak_len, data, why, whylen);
	if (r == -ESTALE) {
		snprintf(why, whylen, "the vTPM at %s gave no HCL report for this request within "
			 "%u s: the paravisor did not answer the user data written to NV 0x%08x",
			 m->tcti, ATTEST_HCL_WAIT_MS / 1000u, TPM2_HCL_USER_DATA_INDEX);
		r = -ETIMEDOUT;
		m->hcl_quiet_until_usec = clock_mono_usec() + EVIDENCE_HCL_QUIET_USEC;
	} else if (r >= 0) {
		m->hcl_quiet_until_usec = 0;
	}
	if (r >= 0 && gated)
		r = attest_hcl_check(m, buf, len, ak, (size_t)ak_len, data, true, &res, why,
				     whylen);
	if (r < 0)
		return r;
	if (len > VHSM_WIRE_MAX_DATA || len > HCL_REPORT_MAX) {
		snprintf(why, whylen, "the vTPM's HCL report is %zu bytes (at most %u fit a reply)",
			 len, VHSM_WIRE_MAX_DATA);
		return -EMSGSIZE;
	}
	r = hcl_evidence_certs(m->collateral_dir, buf, len, &certs, &certs_len);
	if (r < 0) {
		snprintf(why, whylen, "cannot build the certificate table from the collateral "
			 "cache: %s", strerror(-r));
		return r;
	}
	*ret = (struct attest_evidence){ .report = TAKE_PTR(buf), .report_len = len,
					 .certs = certs, .certs_len = certs_len };
	return 0;
}

int attest_evidence_for(struct manager *m, const uint8_t data[static ATTEST_EVIDENCE_DATA_SIZE],
			bool gated, struct attest_evidence *ret, char *why, size_t whylen)
{
	if (m->root && hcl_quiet(m, why, whylen))
		return -ETIMEDOUT;
	if (m->root)
		return evidence_vtpm(m, data, gated, ret, why, whylen);
	return evidence_snp(m, data, ret, why, whylen);
}

int attest_evidence_for_message(struct manager *m, const uint8_t *msg, size_t len, bool gated,
				struct attest_evidence *ret, char *why, size_t whylen)
{
	uint8_t data[ATTEST_EVIDENCE_DATA_SIZE];
	unsigned int dlen = 0;

	/* SHA-512 fills the 64 bytes exactly. */
	if (!EVP_Digest(msg, len, data, &dlen, EVP_sha512(), NULL) || dlen != sizeof(data)) {
		snprintf(why, whylen, "SHA-512 failed");
		return vhsm_log_openssl(-EIO, "SHA-512");
	}
	return attest_evidence_for(m, data, gated, ret, why, whylen);
}
