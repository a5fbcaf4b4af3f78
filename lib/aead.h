/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AES-256-GCM with a 96-bit nonce and a 128-bit tag (OpenSSL EVP), for sealed blobs, wrapped
 * keys and the daemon's in-memory shield. The AAD is aad || aad2, so that a caller can bind a
 * header and a separately computed value without concatenating them first; either part may
 * be empty (NULL with length 0). Nonce uniqueness per key is the caller's business.
 * Keys are used where the caller keeps them (secmem) and never copied; OpenSSL clears its own
 * key schedule when the context is freed. Library code: logs OpenSSL failures at debug level
 * (vhsm_log_openssl) and leaves the OpenSSL error queue empty.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define AEAD_GCM_KEY_SIZE   32u
#define AEAD_GCM_NONCE_SIZE 12u
#define AEAD_GCM_TAG_SIZE   16u

/*
 * Encrypts in[0..len) into out[0..len) (out may equal in) and writes the tag. Returns 0,
 * -EINVAL (a NULL buffer with a nonzero length), -EMSGSIZE (a length above INT_MAX) or -EIO
 * (OpenSSL failed; out and tag then hold nothing usable).
 */
int aead_gcm_encrypt(const uint8_t key[static AEAD_GCM_KEY_SIZE],
		     const uint8_t nonce[static AEAD_GCM_NONCE_SIZE], const uint8_t *aad,
		     size_t aad_len, const uint8_t *aad2, size_t aad2_len, const uint8_t *in,
		     size_t len, uint8_t *out, uint8_t tag[static AEAD_GCM_TAG_SIZE]) _wur_;

/*
 * Decrypts in[0..len) into out[0..len) (out may equal in) and checks the tag in constant
 * time. Returns 0, -EKEYREJECTED when the tag does not verify (wrong key, nonce or AAD, or a
 * modified ciphertext or tag), -EINVAL, -EMSGSIZE or -EIO as aead_gcm_encrypt(). After
 * -EKEYREJECTED or -EIO out[0..len) is wiped, so no unauthenticated plaintext is handed out;
 * after -EINVAL or -EMSGSIZE nothing was read or written.
 */
int aead_gcm_decrypt(const uint8_t key[static AEAD_GCM_KEY_SIZE],
		     const uint8_t nonce[static AEAD_GCM_NONCE_SIZE], const uint8_t *aad,
		     size_t aad_len, const uint8_t *aad2, size_t aad2_len, const uint8_t *in,
		     size_t len, uint8_t *out, const uint8_t tag[static AEAD_GCM_TAG_SIZE]) _wur_;
