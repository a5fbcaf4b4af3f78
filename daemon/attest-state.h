/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Filling an attestation's result (struct attest_state): its findings and the policy applied
 * to its report. Shared by the gate on SNP (attest.c) and on the vtpm platform
 * (attest-vtpm.c), below both.
 */
#pragma once

#include <stdbool.h>

#include "vhsmd.h"

/* Records a failed check or rule in a: its name in failures, and what was seen vs required. */
void attest_add_finding(struct attest_state *a, const char *check, const char *detail);

/* Records report as the last one in a and applies m's policy to it: false when a rule failed
 * (each one a finding). */
bool attest_apply_policy(const struct manager *m, const struct snp_report *report,
			 enum snp_product product, struct attest_state *a);

/* What an operator needs to act on a failed SNP report request (what: its leading words, e.g.
 * "report request failed"): errno, firmware status, and the VMPCK lockout. */
void attest_describe_device_error(const struct manager *m, const char *what, int r,
				  const struct snp_status *st, char *buf, size_t len);
