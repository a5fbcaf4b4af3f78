/* SPDX-License-Identifier: Apache-2.0 */
/* An attestation's findings and policy result (attest-state.h). */
#include <stdio.h>
#include <string.h>

#include "attest-state.h"

static void append_reason(char *buf, size_t len, const char *what)
{
	size_t used = strlen(buf);

	if (used + 2 < len)
		snprintf(buf + used, len - used, "%s%s", used ? "," : "", what);
}

void attest_add_finding(struct attest_state *a, const char *check, const char *detail)
{
	append_reason(a->failures, sizeof(a->failures), check);
	if (a->n_findings >= ELEMENTSOF(a->findings))
		return;
	struct attest_finding *f = &a->findings[a->n_findings++];
	snprintf(f->check, sizeof(f->check), "%s", check);
	snprintf(f->detail, sizeof(f->detail), "%s", detail);
}

bool attest_apply_policy(const struct manager *m, const struct snp_report *report,
			 enum snp_product product, struct attest_state *a)
{
	struct snp_policy_result pr = {};

	a->report = *report;
	a->report_valid = true;
	a->product = product;
	/* An unknown product fails the policy's "product" rule (and the verifier). */
	if (snp_policy_eval(m->policy, report, product, &pr) < 0)
		for (size_t i = 0; i < pr.n; i++)
			attest_add_finding(a, pr.v[i].rule, pr.v[i].detail);
	return pr.n == 0;
}

void attest_describe_device_error(const struct manager *m, const char *what, int r,
				  const struct snp_status *st, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s: %s", what, strerror(-r));

	if (st->msg_status && n >= 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, " (firmware status %s, 0x%x)",
			      snp_fw_status_name(st->msg_status), st->msg_status);
	if (snp_dev_locked_out(m->dev) && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n,
			 "; the guest driver disabled the VMPCK: no request works until the VM reboots");
}
