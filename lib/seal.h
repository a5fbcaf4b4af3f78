/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sealing: binds secrets (KEK versions) to this confidential VM with the SNP derived key.
 *
 *   derived key = MSG_KEY_REQ(root VCEK, fields of the profile, vmpl, guest_svn, pinned TCB)
 *   seal key    = HKDF-SHA256(derived key, salt = 32 random bytes per blob,
 *                             info = "vhsm-seal-v1" || header bytes)
 *   blob        = header || AES-256-GCM(seal key, nonce, plaintext, AAD = header) || tag
 *
 * The header is public but authenticated: it names the key request parameters (so the same
 * derived key can be requested again), a binding summary (measurement, family/image ID,
 * chip-ID hash, guest policy, policy digest: used only to explain a refusal), a label (the
 * KEK name) and caller metadata. Any change to any byte makes unseal fail.
 * Profiles: "strict" = MEASUREMENT|POLICY|GUEST_SVN|TCB_VERSION; "author" = FAMILY_ID|
 * IMAGE_ID|POLICY|GUEST_SVN|TCB_VERSION (survives re-measured updates by the same ID-block
 * author). Both pin the TCB at seal time; re-sealing at a newer TCB makes a rollback fail.
 * "vtpm" (Azure paravisor CVMs, no derived key): the key that takes the derived key's place is
 * 32 random bytes sealed by the vTPM (lib/tpm2-seal: under the SRK, policy on PCR 7), and that
 * TPM object is part of the authenticated header; the KEY_REQ parameters are recorded but
 * unused. The same HKDF and AES-GCM then seal the plaintext, so the store's format, labels and
 * metadata are one for every profile.
 * Library code; never logs. The caller obtains the derived key (snp-dev) and keeps it in
 * secmem.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "snp-dev.h"
#include "snp-report.h"

enum seal_profile {
	SEAL_PROFILE_STRICT,
	SEAL_PROFILE_AUTHOR,
	SEAL_PROFILE_VTPM,
	_SEAL_PROFILE_MAX,
	_SEAL_PROFILE_INVALID = -EINVAL,
};

const char *seal_profile_to_string(enum seal_profile p); /* "strict" / "author" / "vtpm" */
enum seal_profile seal_profile_from_string(const char *s);
/* The KEY_REQ fields the profile binds (0 for vtpm, which derives no key). */
uint64_t seal_profile_field_select(enum seal_profile p);
/* Whether the profile's key comes from the SNP firmware (strict, author) or the vTPM. */
bool seal_profile_uses_tpm(enum seal_profile p);

/* Parameters of the MSG_KEY_REQ a blob was sealed with. */
struct seal_params {
	enum seal_profile profile;
	uint32_t vmpl;
	uint32_t guest_svn;
	uint64_t tcb_version; /* the pinned TCB (COMMITTED_TCB of the report at seal time) */
};

/* Parameters for sealing now, from a fresh verified report of this CVM. */
void seal_params_from_report(enum seal_profile p, const struct snp_report *r,
			     struct seal_params *ret);
/* The MSG_KEY_REQ to send for params p (root VCEK, KEY_SEL 0). */
void seal_key_request(const struct seal_params *p, struct snp_key_request *ret);

/* What the blob was sealed to, for explanations only (authenticated, not secret). */
struct seal_binding {
	uint8_t measurement[48];
	uint8_t family_id[16];
	uint8_t image_id[16];
	uint8_t chip_id_sha256[32];
	uint64_t guest_policy;
	uint8_t policy_digest[32]; /* attestation policy in force when sealed */
};
void seal_binding_from_report(const struct snp_report *r, const uint8_t policy_digest[static 32],
			      struct seal_binding *ret);

#define SEAL_LABEL_MAX 255u
#define SEAL_META_MAX (16u * 1024u)
#define SEAL_PLAINTEXT_MAX (16u * 1024u)
#define SEAL_TPM_OBJECT_MAX 1024u /* lib/tpm2-seal's TPM2_SEAL_BLOB_MAX */
#define SEAL_BLOB_MAX (64u * 1024u)

struct seal_header {
	uint16_t format;              /* 1 */
	struct seal_params params;
	struct seal_binding binding;
	char label[SEAL_LABEL_MAX + 1];
	const uint8_t *meta;          /* points into the parsed blob */
	size_t meta_len;
	const uint8_t *tpm_object;    /* vtpm: the sealed TPM object (into the blob), else NULL */
	size_t tpm_object_len;
	size_t header_len;            /* bytes covered as AAD */
	size_t ciphertext_len;
};

/*
 * Seals pt[0..pt_len) (<= SEAL_PLAINTEXT_MAX) under derived_key. label is 1..255 printable
 * bytes; meta (<= SEAL_META_MAX) is public authenticated data. Returns 0 and a malloc'ed blob
 * (no secrets in it), or -EINVAL/-EMSGSIZE/-ENOMEM/-EIO.
 */
int seal_blob(const uint8_t derived_key[static 32], const struct seal_params *p,
	      const struct seal_binding *b, const char *label, const uint8_t *meta,
	      size_t meta_len, const uint8_t *pt, size_t pt_len, uint8_t **ret_blob,
	      size_t *ret_len) _wur_;

/*
 * seal_blob() for the vtpm profile: key is the secret the TPM object tpm_obj[0..obj_len)
 * (1..SEAL_TPM_OBJECT_MAX bytes) seals, and the object goes into the authenticated header.
 * p->profile must be SEAL_PROFILE_VTPM (and seal_blob() refuses it: -EINVAL).
 */
int seal_blob_vtpm(const uint8_t key[static 32], const struct seal_params *p,
		   const struct seal_binding *b, const uint8_t *tpm_obj, size_t obj_len,
		   const char *label, const uint8_t *meta, size_t meta_len, const uint8_t *pt,
		   size_t pt_len, uint8_t **ret_blob, size_t *ret_len) _wur_;

/*
 * Parses the public header of a blob without decrypting (pure; fuzzed). Returns 0, -EBADMSG
 * (malformed, unknown profile, lengths that do not add up) or -EPROTONOSUPPORT (format).
 */
int seal_parse_header(const uint8_t *blob, size_t len, struct seal_header *ret) _wur_;

/*
 * Unseals. Returns 0 with the plaintext in fresh secmem (caller frees with secmem_free), or
 * -EBADMSG (malformed) or -EKEYREJECTED (authentication failed: tampered, or another CVM,
 * measurement, chip or TCB). Nothing is written on failure.
 */
int unseal_blob(const uint8_t derived_key[static 32], const uint8_t *blob, size_t len,
		uint8_t **ret_pt, size_t *ret_len) _wur_;

/*
 * After a failed unseal: compares the header's binding with the current report and writes a
 * one-line reason ("sealed to measurement 5a..., this CVM runs 9c..."; "sealed at TCB snp=9,
 * committed TCB is snp=8 (rollback?)"; "sealed on another chip"; or "sealed blob was
 * modified" when everything matches). Returns 0.
 */
int seal_explain_failure(const struct seal_header *h, const struct snp_report *current,
			 enum snp_product prod, char *buf, size_t len);
