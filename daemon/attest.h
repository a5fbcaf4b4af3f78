/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attestation gate: vhsmd releases nothing until a fresh report of this CVM, its certificate
 * chain and the configured policy all verify. It re-attests before the first unseal, when the
 * interval has passed, and when a caller asks for a fresh attestation.
 */
#pragma once

#include "vhsmd.h"

/* Runs an attestation now and records the result in m->attest (and the audit log). */
int attest_now(struct manager *m);

/*
 * Ensures a passing attestation no older than the interval. fresh=true ("each use"): one made
 * during the current request or no older than m->attest_fresh_usec; a new one for a
 * non-administrator's request is charged to its report budgets first.
 * Returns 0, or -EKEYREJECTED with the failed checks/rules in why, -EAGAIN with the exhausted
 * budget in why (no report requested), or -errno from the device.
 */
int attest_require(struct manager *m, bool fresh, char *why, size_t whylen);
