/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wrapping of data-encryption keys (DEKs) and keyslot secrets under a KEK version.
 *
 * Format v2, written by wrap_key() (all integers LE):
 *   "VHW2" | u8 alg (1) | u8 purpose | u8 name_len | name | u32 kek_version | salt[32] |
 *   nonce[12] | u32 ct_len | ciphertext | tag[16]
 *   wrapping key = HKDF-SHA256(KEK, salt, info = "vhsm-wrap-v2")  (fresh key per wrap, so a
 *                  random GCM nonce can never repeat under one key)
 *   AAD          = header bytes (magic .. ct_len) || SHA-256(context)
 * The purpose (generic, DEK, LUKS keyslot secret) is in the authenticated header, so a blob
 * made for one purpose never unwraps as another: the public UNWRAP does not release a DEK or
 * a keyslot secret, and WRAP cannot mint one.
 * Format v1 ("VHW1", no purpose byte, info "vhsm-wrap-v1") is still read, never written. Its
 * purpose is implied by the context the reader passes: "vhsm-dek-v1\n" = DEK, "vhsm-luks2:" =
 * LUKS keyslot secret, any other = generic (see wrap_context_purpose()).
 * AES-256-GCM runs on AES-NI/PCLMUL; OpenSSL 3.0's AES-KWP does not (docs/sealing.md).
 * Library code; never logs.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define WRAP_NAME_MAX 255u
#define WRAP_PLAINTEXT_MAX 4096u
#define WRAP_CONTEXT_MAX 4096u
#define WRAP_BLOB_MAX (WRAP_PLAINTEXT_MAX + 512u)

/* What a blob is for; bound into the authenticated header. The values are the format's. */
enum wrap_purpose {
	WRAP_PURPOSE_GENERIC = 1, /* WRAP/UNWRAP/REWRAP of caller data */
	WRAP_PURPOSE_DEK = 2,	  /* a DEK registry file's key (daemon/dek.h) */
	WRAP_PURPOSE_LUKS = 3,	  /* a LUKS2 keyslot secret in a vhsm token */
	_WRAP_PURPOSE_MAX,
	_WRAP_PURPOSE_INVALID = -EINVAL,
};

/* Context prefixes reserved for the internal purposes (DEK, LUKS); WRAP refuses them. */
#define WRAP_CONTEXT_DEK_PREFIX	 "vhsm-dek-v1\n"
#define WRAP_CONTEXT_LUKS_PREFIX "vhsm-luks2:"

/* "generic", "DEK", "LUKS keyslot secret"; NULL for anything else. */
const char *wrap_purpose_to_string(enum wrap_purpose p);

/* The purpose a context is reserved for (DEK, LUKS), or WRAP_PURPOSE_GENERIC. Pure. */
enum wrap_purpose wrap_context_purpose(const uint8_t *ctx, size_t ctx_len);

struct wrap_info {
	char kek_name[WRAP_NAME_MAX + 1];
	uint32_t kek_version;
	size_t plaintext_len;
	uint8_t format;            /* 1 or 2 */
	enum wrap_purpose purpose; /* format 2 only; a v1 blob's is implied by its context */
};

/*
 * Wraps pt (1..WRAP_PLAINTEXT_MAX bytes) under kek (32 bytes, secmem) for kek_name/version
 * and purpose, binding ctx (0..WRAP_CONTEXT_MAX bytes, may be NULL). Returns 0 with a
 * malloc'ed format-2 blob; -EPERM when a generic blob's context is one reserved for another
 * purpose (wrap_context_purpose()), -EINVAL/-EMSGSIZE for bad arguments, -EIO.
 */
int wrap_key(const uint8_t kek[static 32], enum wrap_purpose purpose, const char *kek_name,
	     uint32_t kek_version, const uint8_t *ctx, size_t ctx_len, const uint8_t *pt,
	     size_t pt_len, uint8_t **ret_blob, size_t *ret_len) _wur_;

/* Parses the public part (which KEK and version). Pure; fuzzed. 0 or -EBADMSG. */
int wrap_parse(const uint8_t *blob, size_t len, struct wrap_info *ret) _wur_;

/*
 * Unwraps a blob made for purpose with the KEK version named in the blob (the caller looked
 * it up via wrap_parse). A format-2 blob must carry purpose; a format-1 blob's implied
 * purpose (from ctx) must be purpose. Returns 0 with the plaintext in fresh secmem,
 * -EBADMSG (malformed), -EMEDIUMTYPE (made for another purpose) or -EKEYREJECTED (wrong
 * key, wrong context or modified blob).
 */
int unwrap_key(const uint8_t kek[static 32], enum wrap_purpose purpose, const uint8_t *blob,
	       size_t len, const uint8_t *ctx, size_t ctx_len, uint8_t **ret_pt,
	       size_t *ret_len) _wur_;
