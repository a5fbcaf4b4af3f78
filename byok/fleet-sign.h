/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsm-byok fleet-sign (fleet-sign.c): the fleet CA's side of attested enrollment
 * (docs/fleet.md "Enrollment"). Checks a `vhsmctl fleet enroll` bundle with the same verifier
 * and policy engine as `vhsm-byok verify` and, only when every check passed, issues a
 * short-lived clientAuth certificate for the CSR's key.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "fleet-enroll.h"
#include "verify.h"

/* Longest certificate fleet-sign issues: renewal means a fresh attestation. */
#define FLEET_SIGN_LIFETIME_MAX_SEC (30u * 24u * 3600u)
#define FLEET_SIGN_LIFETIME_DEFAULT_SEC (24u * 3600u)

struct fleet_sign_opts {
	const char *bundle;   /* the enrollment bundle */
	const char *ca_cert;  /* PEM: the fleet CA's certificate */
	const char *ca_key;   /* PEM: its private key, mode 0600 or stricter, owned by us or root */
	const char *out;      /* PEM: the issued certificate, then the CA's */
	uint64_t lifetime;    /* seconds */
	bool secure_heap;     /* OpenSSL's secure heap is locked: the CA key may be loaded */
};

/*
 * Verifies the bundle (pinning, evidence, freshness, CSR signature, binding) and issues the
 * certificate. Prints every check through out.h. Returns EXIT_OK, EXIT_REJECTED (a check
 * failed: the reasons named), EXIT_USAGE or EXIT_ERROR.
 */
int fleet_sign(const struct byok_verify_opts *o, const struct fleet_sign_opts *s);
