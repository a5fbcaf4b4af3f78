/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Policy parser fuzzer. Arbitrary bytes are either refused with a documented errno and a
 * reason, or parse; a parsed policy must digest and evaluate (for every product and an
 * unknown one) against a fixed synthetic report, with a result that agrees with the count.
 */
#include <stdlib.h>
#include <string.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct snp_report report = {
	.version = 3, .guest_svn = 1, .policy = 0x30000, .platform_info = 1,
	.reported_tcb = 0x5400000000000003ull, .committed_tcb = 0x5400000000000003ull,
	.current_major = 1, .current_minor = 55,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_(snp_policy_freep) struct snp_policy *p = NULL;
	struct snp_policy_result res;
	char err[POLICY_ERR_MAX] = "";
	uint8_t d[32];
	int r = snp_policy_parse((const char *)data, size, &p, err, sizeof(err));

	if (r < 0) {
		if ((r != -EBADMSG && r != -EMSGSIZE && r != -ENOMEM) || p || !err[0])
			abort();
		return 0;
	}
	snp_policy_digest(p, d);
	for (int prod = -1; prod <= _SNP_PRODUCT_MAX; prod++) {
		r = snp_policy_eval(p, &report, (enum snp_product)prod, &res);
		if ((r == 0) != (res.n == 0) || (r < 0 && r != -EKEYREJECTED) ||
		    res.n > POLICY_MAX_VIOLATIONS)
			abort();
		for (size_t i = 0; i < res.n; i++)
			if (!res.v[i].rule || !memchr(res.v[i].detail, 0, sizeof(res.v[i].detail)))
				abort();
	}
	return 0;
}
