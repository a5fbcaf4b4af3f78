/* SPDX-License-Identifier: Apache-2.0 */
/* Opening the "report" member of a piece of evidence (see report-evidence.h). */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "report-evidence.h"

static const char *const step_names[_REPORT_EVIDENCE_STEP_MAX] = {
	[REPORT_EVIDENCE_FORMAT] = "report_format",
	[REPORT_EVIDENCE_HCL_PARSE] = "hcl_parse",
	[REPORT_EVIDENCE_CLAIMS] = "claims",
	[REPORT_EVIDENCE_BINDING] = "claims_binding",
	[REPORT_EVIDENCE_USER_DATA] = "user_data",
};

const char *report_evidence_step_name(enum report_evidence_step s)
{
	return s >= 0 && s < _REPORT_EVIDENCE_STEP_MAX ? step_names[s] : NULL;
}

static _printf_(4, 5) int refuse(struct report_evidence_error *err, enum report_evidence_step s,
				 int r, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return r;
	err->step = s;
	va_start(ap, fmt);
	vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
	va_end(ap);
	return r;
}

/* An HCL report: layout, claims, the claims bound by REPORT_DATA, the user data present. */
static int open_hcl(const uint8_t *buf, size_t len, struct report_evidence *e,
		    struct report_evidence_error *err)
{
	struct hcl_report h;
	char why[256] = "";
	unsigned int n = 0;
	int r;

	r = hcl_report_parse(buf, len, &h);
	if (r == -EMSGSIZE)
		return refuse(err, REPORT_EVIDENCE_HCL_PARSE, r, "the HCL report is %zu bytes, "
			      "more than the limit of %u", len, HCL_REPORT_MAX);
	if (r < 0)
		return refuse(err, REPORT_EVIDENCE_HCL_PARSE, -EBADMSG, "not a well-formed HCL "
			      "report (HCLA header, sizes, claims JSON or padding)");
	r = hcl_claims_parse(h.claims, h.claims_len, &e->claims, why, sizeof(why));
	if (r < 0)
		return refuse(err, REPORT_EVIDENCE_CLAIMS, -EBADMSG, "the HCL claims: %s", why);
	r = hcl_report_check_binding(&h);
	if (r == -EKEYREJECTED)
		return refuse(err, REPORT_EVIDENCE_BINDING, r, "REPORT_DATA is not the hash of the "
			      "claims: the claims were changed or belong to another report");
	if (r < 0)
		return refuse(err, REPORT_EVIDENCE_BINDING, -EIO, "cannot hash the claims");
	if (!e->claims.have_user_data)
		return refuse(err, REPORT_EVIDENCE_USER_DATA, -EBADMSG, "the claims carry no "
			      "user-data: the HCL report binds nothing of this evidence");
	if (!EVP_Digest(e->claims.ak_spki, e->claims.ak_spki_len, e->ak_sha256, &n, EVP_sha256(),
			NULL) || n != sizeof(e->ak_sha256)) {
		ERR_clear_error();
		return refuse(err, REPORT_EVIDENCE_CLAIMS, -EIO, "cannot hash the claims' AK");
	}
	memcpy(e->bound, e->claims.user_data, sizeof(e->bound));
	e->snp_report = h.snp_report;
	e->hcl = true;
	e->hcl_version = h.version;
	e->hash_type = h.hash_type;
	return 0;
}

int report_evidence_open(const uint8_t *buf, size_t len, struct report_evidence *ret,
			 struct report_evidence_error *err)
{
	struct report_evidence e = {};
	int r;

	if (!ret || (!buf && len > 0))
		return refuse(err, REPORT_EVIDENCE_FORMAT, -EINVAL, "invalid arguments");
	if (len == SNP_REPORT_SIZE) {
		e.snp_report = buf;
		memcpy(e.bound, buf + SNP_R_REPORT_DATA, sizeof(e.bound));
	} else if (len >= 4 && memcmp(buf, "HCLA", 4) == 0) {
		r = open_hcl(buf, len, &e, err);
		if (r < 0)
			return r;
	} else if (len > REPORT_EVIDENCE_MAX)
		return refuse(err, REPORT_EVIDENCE_FORMAT, -EMSGSIZE, "the report is %zu bytes, "
			      "more than the limit of %u", len, REPORT_EVIDENCE_MAX);
	else
		return refuse(err, REPORT_EVIDENCE_FORMAT, -EBADMSG, "the report is %zu bytes: "
			      "neither an SNP report (%u bytes) nor an HCL report (\"HCLA\")", len,
			      SNP_REPORT_SIZE);
	*ret = e;
	return 0;
}
