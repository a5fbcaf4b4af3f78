/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the Azure HCL report parser and its claims parser; whatever parses must point inside
 * the input, and parsed claims hold a bounded AK. */
#include <stdlib.h>

#include "hcl-attest.h"
#include "hcl-report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hcl_report h;

	if (hcl_report_parse(data, size, &h) < 0)
		return 0;
	if (h.snp_report != data + HCL_HEADER_SIZE || (const uint8_t *)h.claims < data ||
	    (const uint8_t *)h.claims + h.claims_len > data + size)
		abort();
	int r = hcl_report_check_binding(&h);
	if (r != 0 && r != -EKEYREJECTED)
		abort();
	struct hcl_claims c;
	char err[256];
	r = hcl_claims_parse(h.claims, h.claims_len, &c, err, sizeof(err));
	if ((r != 0 && r != -EBADMSG) || (r == 0 && (c.ak_spki_len == 0 ||
						     c.ak_spki_len > sizeof(c.ak_spki))))
		abort();
	return 0;
}
