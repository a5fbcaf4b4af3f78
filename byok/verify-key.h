/* SPDX-License-Identifier: Apache-2.0 */
/* vhsm-byok verify-key: checking a key attestation made by `vhsmctl key attest`. */
#pragma once

#include "verify.h"

/*
 * Verifies the key attestation file path: the report and its AMD chain, the policy (which
 * must pin the guest's code, as for wrap), the VMPL, that REPORT_DATA binds the file's public
 * key and nonce, the nonce against o->nonce (hex) when given, and, when expect_key names a
 * public key or certificate file (PEM or DER), that it is the attested key. Prints every
 * check. EXIT_OK, EXIT_REJECTED, EXIT_USAGE or EXIT_ERROR.
 */
int verify_key_attestation(const struct byok_verify_opts *o, const char *path,
			   const char *expect_key);
