/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AES-256 for PKCS#11 secret-key objects (CKM_AES_KEY_WRAP_PAD = RFC 5649 key wrap with
 * padding, CKM_AES_GCM), as vhsmd serves them under a KEK (KEK_WRAP_KWP and friends). The key
 * given here is the one to use; vhsmd passes a key derived from the KEK version per
 * mechanism (p11_aes_derive), never the KEK itself, so neither mechanism shares a key with the
 * other or with vhsm's own wrap format. Library code; never logs; keys and outputs in the
 * caller's (secret) memory.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define P11_AES_KWP_MAX 4096u   /* longest key KEK_WRAP_KWP wraps */
#define P11_AES_GCM_IV_MIN 8u
#define P11_AES_GCM_IV_MAX 128u
#define P11_AES_GCM_TAG_MIN 12u /* 96 bits: shorter tags are refused */

enum p11_aes_use { P11_AES_KWP, P11_AES_GCM };

/* The AES key of use from a KEK version: HKDF-SHA256(kek, info "vhsm-p11-kwp-v1" or
 * "vhsm-p11-gcm-v1"). 0 or -EIO. */
int p11_aes_derive(const uint8_t kek[static 32], enum p11_aes_use use, uint8_t ret[static 32]) _wur_;
/*
 * RFC 5649 wrap of in (1..P11_AES_KWP_MAX bytes) under key (key_len 16, 24 or 32 bytes: vhsmd
 * uses 32) into out (len rounded up to 8, plus 8 bytes). Returns 0 with *ret_len, -EMSGSIZE,
 * -EINVAL, -EIO.
 */
int p11_aes_kwp_wrap(const uint8_t *key, size_t key_len, const uint8_t *in, size_t len,
		     uint8_t *out, size_t *ret_len) _wur_;
/* RFC 5649 unwrap into out (len - 8 bytes): 0, -EBADMSG (integrity check failed), -EINVAL. */
int p11_aes_kwp_unwrap(const uint8_t *key, size_t key_len, const uint8_t *in, size_t len,
		       uint8_t *out, size_t *ret_len) _wur_;
/*
 * AES-256-GCM with the caller's IV (8..128 bytes) and AAD; tag_len 12..16 bytes. encrypt:
 * out = ciphertext || tag (len + tag_len bytes). decrypt: in = ciphertext || tag, out the
 * plaintext (len - tag_len bytes), -EBADMSG when the tag does not verify (out wiped).
 */
int p11_aes_gcm(const uint8_t key[static 32], bool encrypt, const uint8_t *iv, size_t iv_len,
		const uint8_t *aad, size_t aad_len, size_t tag_len, const uint8_t *in, size_t len,
		uint8_t *out, size_t *ret_len) _wur_;
