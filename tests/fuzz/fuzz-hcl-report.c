/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the Azure HCL report parser; whatever parses must point inside the input. */
#include <stdlib.h>

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
	return 0;
}
