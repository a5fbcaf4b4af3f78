/* SPDX-License-Identifier: Apache-2.0 */
/* vhsmd's evidence on the vtpm platform: the HCL report's answer and its certificates. */
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "certtable.h"
#include "collateral.h"
#include "hcl-evidence.h"
#include "hcl-report.h"
#include "report-evidence.h"
#include "snp-report.h"

int hcl_evidence_check(const uint8_t *buf, size_t len, const uint8_t *ak, size_t ak_len,
		       const uint8_t data[static HCL_USER_DATA_SIZE], char *why, size_t whylen)
{
	struct report_evidence e;
	struct report_evidence_error err = {};
	int r = report_evidence_open(buf, len, &e, &err);

	/* Opened as a verifier opens it (report-evidence.h): the same checks on both sides. */
	if (r == -ENOMEM || r == -EIO)
		return r;
	if ((r < 0 && err.step == REPORT_EVIDENCE_USER_DATA) ||
	    (r == 0 && e.hcl && CRYPTO_memcmp(e.bound, data, HCL_USER_DATA_SIZE) != 0)) {
		snprintf(why, whylen, "the HCL report's user-data is not this request's");
		return -ESTALE;
	}
	if (r < 0 || !e.hcl) {
		snprintf(why, whylen, "the HCL report is malformed or its claims are not bound by "
			 "its SNP report: %s", r < 0 ? err.detail : "an SNP report alone");
		return -EBADMSG;
	}
	if (e.claims.ak_spki_len != ak_len || CRYPTO_memcmp(e.claims.ak_spki, ak, ak_len) != 0) {
		snprintf(why, whylen, "the HCL report names another attestation key than this "
			 "vTPM's");
		return -EKEYREJECTED;
	}
	return 0;
}

int hcl_evidence_certs(const char *dir, const uint8_t *buf, size_t len, uint8_t **ret,
		       size_t *ret_len)
{
	_cleanup_(collateral_done) struct collateral hold = {};
	struct hcl_report h;
	enum snp_cert_kind kinds[3];
	const uint8_t *ders[3];
	size_t lens[3], n = 0;
	char summary[192];

	if (hcl_report_parse(buf, len, &h) < 0)
		return -EBADMSG;
	struct snp_evidence ev = { .report = h.snp_report, .report_len = SNP_REPORT_SIZE };
	collateral_complete_evidence(dir, h.snp_report, &ev, &hold, summary, sizeof(summary));
	if (ev.vek) {
		bool vlek = snp_report_raw_signing_key(h.snp_report, SNP_REPORT_SIZE) ==
			    SNP_SIGNING_KEY_VLEK;
		kinds[n] = vlek ? SNP_CERT_VLEK : SNP_CERT_VCEK;
		ders[n] = ev.vek;
		lens[n++] = ev.vek_len;
	}
	if (ev.ask) {
		kinds[n] = SNP_CERT_ASK;
		ders[n] = ev.ask;
		lens[n++] = ev.ask_len;
	}
	if (ev.ark) {
		kinds[n] = SNP_CERT_ARK;
		ders[n] = ev.ark;
		lens[n++] = ev.ark_len;
	}
	return certtable_build(kinds, ders, lens, n, ret, ret_len);
}
