/* SPDX-License-Identifier: Apache-2.0 */
/* The attestation gate on the vtpm platform (attest-vtpm.c), below attest.c. */
#pragma once

#include "vhsmd.h"

/*
 * The gate on the vtpm platform (attest-vtpm.c, m->root set): a fresh HCL report from the
 * vTPM for a random nonce, verified whole (claims binding, the SNP report and its chain, this
 * vTPM's AK, the nonce answered, tpm-persisted true), the policy applied to the SNP report in
 * it, then the platform root made usable (created at the first pass on an empty store).
 * Fills *a (a->ok, findings). Returns 0 when it passed, -EKEYREJECTED, or -errno when no
 * report could be read (a->error says why). Does not log.
 */
int attest_vtpm(struct manager *m, struct attest_state *a);
