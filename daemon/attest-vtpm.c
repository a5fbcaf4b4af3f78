/* SPDX-License-Identifier: Apache-2.0 */
/* The attestation gate on the vtpm platform: fresh HCL reports (attest-vtpm.h). */
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "attest-hcl.h"
#include "attest-state.h"
#include "attest-vtpm.h"
#include "journal.h"
#include "root-vtpm.h"
#include "tpm2-nv.h"

/* The verified HCL report's SNP report under the policy, and the root behind the keys. */
static int attest_vtpm_accept(struct manager *m, struct tpm2 *t,
			      const struct hcl_verify_result *res, struct attest_state *a)
{
	char why[512] = "";
	bool policy_ok;

	snprintf(a->collateral, sizeof(a->collateral), "%s", res->collateral);
	policy_ok = attest_apply_policy(m, &res->snp.report, res->snp.product, a);
	if (!policy_ok)
		return -EKEYREJECTED;
	/* Only a vTPM that just proved itself inside the TEE gets (or opens) the root. */
	if (root_vtpm_ensure(m->root, t, why, sizeof(why)) < 0) {
		/* The cause, not only the check's name, is what a refused request shows. */
		snprintf(a->error, sizeof(a->error), "%s", why);
		attest_add_finding(a, "platform_root", why);
		return -EKEYREJECTED;
	}
	if (root_vtpm_created(m->root))
		log_msg(LOG_NOTICE, "created the platform root %s/" ROOT_VTPM_FILE ", sealed to "
			"this vTPM's PCR 7", m->state_dir);
	a->ok = true;
	return 0;
}

int attest_vtpm(struct manager *m, struct attest_state *a)
{
	_cleanup_(tpm2_closep) struct tpm2 *t = NULL;
	struct hcl_verify_result res = { .failed = -1 };
	uint8_t nonce[HCL_USER_DATA_SIZE];
	char why[512] = "";
	int r;

	snprintf(a->source, sizeof(a->source), "hcl-report");
	if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
		snprintf(a->error, sizeof(a->error), "random number generator failed");
		attest_add_finding(a, "device", a->error);
		return -EIO;
	}
	r = tpm2_open(m->tcti, &t);
	if (r < 0) {
		snprintf(a->error, sizeof(a->error), "no vTPM answers at %s: %s", m->tcti,
			 strerror(-r));
		attest_add_finding(a, "device", a->error);
		return r;
	}
	m->n_reports++;
	/* The nonce goes to the paravisor through NV 0x01400002; the report it writes back must
	 * carry it in its claims, which REPORT_DATA binds: a stored or replayed report fails. */
	r = attest_hcl_verify(m, t, nonce, true, &res, why, sizeof(why));
	if (r < 0 && r != -EKEYREJECTED) {
		snprintf(a->error, sizeof(a->error), "%s", why);
		attest_add_finding(a, "device", a->error);
		return r;
	}
	if (r < 0) {
		/* The SNP report inside is shown (status) even when a later check failed. */
		if (res.snp.report_parsed) {
			a->report = res.snp.report;
			a->report_valid = true;
			a->product = res.snp.product;
		}
		snprintf(a->error, sizeof(a->error), "%s", why);
		attest_add_finding(a, res.failed >= 0 ? hcl_check_name(res.failed) : "hcl_report",
				   why);
		return r;
	}
	return attest_vtpm_accept(m, t, &res, a);
}
