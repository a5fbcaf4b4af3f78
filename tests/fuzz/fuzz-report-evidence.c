/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the opening of an evidence file's report member (an SNP report or an HCL report):
 * what opens points inside the input and binds what its kind says it binds. */
#include <stdlib.h>
#include <string.h>

#include "report-evidence.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct report_evidence e;
	struct report_evidence_error err;
	int r = report_evidence_open(data, size, &e, &err);

	if (r < 0) {
		if (!report_evidence_step_name(err.step) || !memchr(err.detail, 0, sizeof(err.detail)))
			abort();
		return 0;
	}
	if (e.snp_report < data || e.snp_report + SNP_REPORT_SIZE > data + size)
		abort();
	if (e.hcl ? !e.claims.have_user_data ||
		    memcmp(e.bound, e.claims.user_data, sizeof(e.bound)) != 0 ||
		    e.claims.ak_spki_len == 0 || e.claims.ak_spki_len > sizeof(e.claims.ak_spki)
		  : size != SNP_REPORT_SIZE ||
		    memcmp(e.bound, data + SNP_R_REPORT_DATA, sizeof(e.bound)) != 0)
		abort();
	return 0;
}
