/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsm-byok: verifying a CVM's exchange-key bundle, and the evidence of a backup, before a
 * key is given away (docs/byok.md, "What a successful wrap guarantees"). Prints every check
 * through byok/out.c; reads nothing but the files named in the options.
 */
#pragma once

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "byok.h"
#include "policy.h"
#include "snp-verify.h"

enum { EXIT_OK = 0, EXIT_REJECTED = 1, EXIT_USAGE = 2, EXIT_ERROR = 3 };

struct byok_verify_opts {
	const char *bundle, *policy;          /* files */
	const char *nonce;                    /* --nonce (hex) or NULL */
	const char *expect_name;              /* --expect-name or NULL */
	const uint8_t *const *trust_roots;    /* --trust-root ARKs (DER) */
	const size_t *trust_root_lens;
	size_t n_trust_roots;
	const uint8_t *crl;                   /* --crl, or NULL */
	size_t crl_len;
	bool require_crl;
	const char *collateral_dir;           /* --collateral-dir: cached certificates and CRL */
	bool gives_key;        /* wrap/rewrap: refuse what verify only warns about */
	bool accept_any_guest; /* --accept-any-guest */
	bool allow_test_root;  /* --allow-test-root */
};

/* A verified bundle: its contents and the exchange public key. */
struct verified {
	struct byok_bundle b;
	EVP_PKEY *pub;
	bool test_root; /* the chain ended in a --trust-root */
};
/* Empties v (accepts an empty one). */
void verified_done(struct verified *v);

/* t as "YYYY-MM-DDTHH:MM:SSZ" in buf (or "@t" when out of range). Returns buf. */
const char *verify_iso_time(uint64_t t, char buf[static 32]);

/* Reads and parses a policy file; EXIT_OK with *ret, or EXIT_ERROR after saying why. */
int verify_load_policy(const char *path, struct snp_policy **ret);

/* One piece of evidence verified: the inner SNP report's checks and what the evidence binds. */
struct verify_result {
	struct snp_verify_result vr; /* the SNP report's checks (an HCL report's inner one) */
	bool opened;                 /* the report member opened and parsed: bound is valid */
	bool pinned;                 /* the "pinning" check passed (or only warned) */
	bool hcl;                    /* an HCL report (the vtpm platform) */
	uint8_t bound[64];           /* REPORT_DATA, or the HCL claims' user-data */
	uint8_t ak_sha256[32];       /* HCL: SHA-256 of the claims' vTPM AK */
	char vm_unique_id[64];       /* HCL: the claims' vmUniqueId, "" when absent */
};

/*
 * Verifies one report member (an SNP report or an HCL report, lib/report-evidence) with its
 * GHCB certificate table: for HCL the layout, claims binding and user data; the "pinning"
 * check (the policy pins the guest's code in a tenant-owned measurement, or for HCL the
 * paravisor's; only a warning when verifying, a loud one with accept_any_guest); then on the SNP
 * report the verifier's checks (with the CRL), the root (a --trust-root needs
 * allow_test_root when giving a key), the policy and the VMPL; for HCL the policy's
 * vtpm_ak_digests must list the claims' AK (refused otherwise, verifying or giving). Check
 * names get prefix (e.g. "backup."). True when all passed; *ret always filled (zeroed first).
 * The caller checks its binding with verify_binds().
 */
bool verify_evidence(const struct byok_verify_opts *o, const uint8_t *report, size_t report_len,
		     const uint8_t *certs, size_t certs_len, const struct snp_policy *pol,
		     const char *prefix, struct verify_result *ret);

/* Whether the verified evidence binds want (the caller's 64-byte binding); constant time. */
bool verify_binds(const struct verify_result *r, const uint8_t want[static 64]);

/*
 * Loads o->bundle and verifies all of it (pinning, evidence, binding, lifetime, nonce, name).
 * EXIT_OK with v filled (caller calls verified_done either way), EXIT_REJECTED, EXIT_USAGE or
 * EXIT_ERROR.
 */
int verify_bundle(const struct byok_verify_opts *o, struct verified *v);
