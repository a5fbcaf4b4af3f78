/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wrapping of data-encryption keys (DEKs) and keyslot secrets under a KEK version.
 *
 * Format v1 (all integers LE):
 *   "VHW1" | u8 alg (1) | u8 name_len | name | u32 kek_version | salt[32] | nonce[12] |
 *   u32 ct_len | ciphertext | tag[16]
 *   wrapping key = HKDF-SHA256(KEK, salt, info = "vhsm-wrap-v1")  (fresh key per wrap, so a
 *                  random GCM nonce can never repeat under one key)
 *   AAD          = header bytes (magic .. ct_len) || SHA-256(context)
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

struct wrap_info {
	char kek_name[WRAP_NAME_MAX + 1];
	uint32_t kek_version;
	size_t plaintext_len;
};

/*
 * Wraps pt (1..WRAP_PLAINTEXT_MAX bytes) under kek (32 bytes, secmem) for kek_name/version,
 * binding ctx (0..WRAP_CONTEXT_MAX bytes, may be NULL). Returns 0 with a malloc'ed blob.
 */
int wrap_key(const uint8_t kek[static 32], const char *kek_name, uint32_t kek_version,
	     const uint8_t *ctx, size_t ctx_len, const uint8_t *pt, size_t pt_len,
	     uint8_t **ret_blob, size_t *ret_len) _wur_;

/* Parses the public part (which KEK and version). Pure; fuzzed. 0 or -EBADMSG. */
int wrap_parse(const uint8_t *blob, size_t len, struct wrap_info *ret) _wur_;

/*
 * Unwraps with the KEK version named in the blob (the caller looked it up via wrap_parse).
 * Returns 0 with the plaintext in fresh secmem, -EBADMSG (malformed) or -EKEYREJECTED
 * (wrong key, wrong context or modified blob).
 */
int unwrap_key(const uint8_t kek[static 32], const uint8_t *blob, size_t len, const uint8_t *ctx,
	       size_t ctx_len, uint8_t **ret_pt, size_t *ret_len) _wur_;

/* HKDF-SHA256 (EVP_KDF). out_len <= 255*32. Returns 0 or -EIO. */
int kdf_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
		    const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len) _wur_;
