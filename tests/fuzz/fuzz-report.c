/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes report parsing, the reserved-area checks for every product and CPUID product lookup. */
#include <stdlib.h>

#include "snp-report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum snp_product products[] = { _SNP_PRODUCT_INVALID, SNP_PRODUCT_MILAN,
						      SNP_PRODUCT_GENOA, SNP_PRODUCT_TURIN };
	struct snp_report r;

	/* Also for unsupported versions: the checker must refuse them and name a field. */
	for (size_t i = 0; size == SNP_REPORT_SIZE && i < ELEMENTSOF(products); i++) {
		const char *field = NULL;
		if (snp_report_check_reserved(data, products[i], &field) < 0 && !field)
			abort();
	}
	if (snp_report_parse(data, size, &r) < 0)
		return 0;
	(void)snp_report_product_from_cpuid(&r);
	for (int p = 0; p < _SNP_PRODUCT_MAX; p++) {
		struct snp_tcb t;
		/* With clean reserved bytes, decode and encode are inverses. */
		if (snp_tcb_decode(r.reported_tcb, p, &t) < 0 ||
		    (snp_tcb_reserved_ok(r.reported_tcb, p) &&
		     snp_tcb_encode(&t, p) != r.reported_tcb))
			abort();
	}
	return 0;
}
