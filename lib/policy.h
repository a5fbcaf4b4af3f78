/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attestation policy: what a verified report must also satisfy before vhsm releases a key.
 * Parsed from JSON (json-c), strictly: unknown members, wrong types, bad hex lengths and
 * over-long lists are errors naming the member. Evaluation returns every violated rule by
 * its stable name. Library code; never logs. Format: docs/policy.md.
 *
 *   {
 *     "version": 1,
 *     "allow_debug": false,                    default false
 *     "allow_migration_agent": false,          default false (POLICY.MIGRATE_MA, REPORT_ID_MA)
 *     "allow_smt": true,                       default true (PLATFORM_INFO.SMT_EN)
 *     "require_single_socket": false,
 *     "allow_vlek": true,                      default true
 *     "products": ["milan","genoa","turin"],   default any
 *     "min_report_version": 2,
 *     "min_tcb": {"bootloader":3,"tee":0,"snp":8,"microcode":115,"fmc":0},  (REPORTED_TCB)
 *     "min_committed_tcb": {...},              same keys, applied to COMMITTED_TCB
 *     "min_guest_svn": 0,
 *     "min_abi": {"major":1,"minor":51},       firmware CURRENT_MAJOR/MINOR
 *     "vmpl": 0,                               exact VMPL required
 *     "measurements": ["<96 hex>", ...],       allowed MEASUREMENT values (any if absent)
 *     "host_data": ["<64 hex>", ...],
 *     "id_key_digests": ["<96 hex>", ...],
 *     "author_key_digests": ["<96 hex>", ...],
 *     "family_ids": ["<32 hex>", ...],
 *     "image_ids": ["<32 hex>", ...],
 *     "chip_ids": ["<128 hex>", ...],
 *     "report_data": "<128 hex>",              exact REPORT_DATA (rarely useful; for tests)
 *     "measurement_owner": "tenant"            or "provider": who decides what MEASUREMENT
 *                                              covers (default tenant; not a report rule)
 *     "require_crl": false,                    true: attestation fails without a cached AMD
 *                                              CRL (a revoking CRL always fails it)
 *     "provider_measured_sealing": "warn"      or "refuse": kek create with the derived-key
 *                                              profile where measurement_owner is "provider"
 *     "vtpm_ak_digests": ["<64 hex>", ...]     SHA-256 of the DER SubjectPublicKeyInfo of the
 *                                              vTPM attestation keys (an HCL report's claims'
 *                                              "HCLAkPub") whose HCL evidence vhsm-byok accepts
 *                                              (no report rule: snp_policy_allows_vtpm_ak)
 *   }
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "snp-report.h"

#define POLICY_MAX_SIZE (64u * 1024u)
#define POLICY_MAX_LIST 256u
#define POLICY_ERR_MAX 256

struct snp_policy;

/*
 * Parses a policy from json[0..len). On error returns -EBADMSG (or -EMSGSIZE past
 * POLICY_MAX_SIZE, -ENOMEM) and writes a one-line reason naming the member into err.
 * On success *ret is a new policy the caller frees with snp_policy_free().
 */
int snp_policy_parse(const char *json, size_t len, struct snp_policy **ret, char *err,
		     size_t errlen) _wur_;

/* The default policy (debug and migration agent refused, everything else allowed). */
int snp_policy_new_default(struct snp_policy **ret) _wur_;

struct snp_policy *snp_policy_free(struct snp_policy *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct snp_policy *, snp_policy_free);

/*
 * SHA-256 over a canonical serialisation of the parsed policy (independent of member order
 * and whitespace in the file). Used to pin a policy in sealed blobs and LUKS tokens.
 */
void snp_policy_digest(const struct snp_policy *p, uint8_t out[static 32]);

struct json_object;

/*
 * The effective policy as a JSON object in the file format, defaults filled in (what
 * `vhsmctl policy check` and `policy show` print). Parsing it gives the same digest.
 * Returns 0 and a new object in *ret, -ENOMEM, or -EINVAL. Never logs.
 */
int snp_policy_to_json(const struct snp_policy *p, struct json_object **ret) _wur_;

#define POLICY_MAX_VIOLATIONS 32

struct snp_policy_violation {
	const char *rule; /* stable name: "debug", "min_tcb.snp", "measurement", ... */
	char detail[160];
};

struct snp_policy_result {
	size_t n;
	struct snp_policy_violation v[POLICY_MAX_VIOLATIONS];
};

/*
 * Evaluates every rule against a parsed report of product prod. Fills *ret with every
 * violated rule. Returns 0 when none was violated, -EKEYREJECTED otherwise.
 */
int snp_policy_eval(const struct snp_policy *p, const struct snp_report *r, enum snp_product prod,
		    struct snp_policy_result *ret);

/*
 * Who owns the launch measurement. "provider": the cloud's firmware is the whole measured
 * launch (AWS, GCP; docs/byok.md): pinning MEASUREMENT, or the ID/author key the provider
 * signs its ID block with, pins the provider's firmware and not the code that runs in it.
 */
enum snp_measurement_owner {
	SNP_MEASUREMENT_OWNER_TENANT,
	SNP_MEASUREMENT_OWNER_PROVIDER,
	_SNP_MEASUREMENT_OWNER_MAX,
	_SNP_MEASUREMENT_OWNER_INVALID = -EINVAL,
};

/* What a policy pins about the guest: read by the BYOK tool to refuse an unpinned policy. */
struct snp_policy_pins {
	bool measurement; /* "measurements" non-empty */
	bool id_key;      /* "id_key_digests" non-empty */
	bool author_key;  /* "author_key_digests" non-empty */
	bool host_data;   /* "host_data" non-empty */
	bool chip_id;     /* "chip_ids" non-empty */
	bool has_vmpl;    /* "vmpl" present, with its value in vmpl */
	uint32_t vmpl;
	enum snp_measurement_owner measurement_owner;
	bool require_crl;                   /* "require_crl": true */
	bool refuse_provider_measured_seal; /* "provider_measured_sealing": "refuse" */
	bool vtpm_ak;                       /* "vtpm_ak_digests" non-empty */
};

/* Fills *ret from p. Never fails. */
void snp_policy_get_pins(const struct snp_policy *p, struct snp_policy_pins *ret);

/*
 * Whether p's "vtpm_ak_digests" lists ak_sha256, the SHA-256 of an HCL report's vTPM
 * attestation key (DER SubjectPublicKeyInfo). False when the policy lists none: an HCL report
 * is then bound to no particular VM. Never fails.
 */
bool snp_policy_allows_vtpm_ak(const struct snp_policy *p, const uint8_t ak_sha256[static 32]);
