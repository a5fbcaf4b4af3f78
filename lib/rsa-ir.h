/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RSA PKCS#1 v1.5 decryption padding with implicit rejection, in constant time: against
 * Bleichenbacher/Marvin padding oracles. OpenSSL 3.0 (Debian 12) decodes PKCS#1 v1.5 without
 * implicit rejection, so vhsmd decrypts with RSA_NO_PADDING and decodes here.
 *
 * For a ciphertext whose padding is wrong, the result is not an error but a synthetic message
 * derived from the ciphertext and the private key, of a pseudo-random length, as in
 * draft-irtf-cfrg-rsa-guidance (and OpenSSL 3.2):
 *
 *   kdk   = HMAC-SHA256(key = SHA-256(d as k big-endian bytes), C as k bytes)
 *   PRF(label, n bytes) = HMAC-SHA256(kdk, be16(i) || label || be16(8n)), i = 0, 1, ...
 *   synthetic message = PRF("message", k); 128 candidate lengths = PRF("length", 256) as
 *   big-endian u16, each masked to the bits of k-11; the last one <= k-11 is the length.
 *
 * The check of the padding, the choice between the real and the synthetic message and their
 * lengths take the same time and memory accesses for every input. Library code; never logs.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define RSA_IR_KEY_SIZE 32u

/*
 * SHA-256 of the private exponent d, given as k big-endian bytes: the key of kdk. 0 or -EIO.
 */
int rsa_ir_key(const uint8_t *d_be, size_t k, uint8_t ret[static RSA_IR_KEY_SIZE]) _wur_;
/*
 * Decodes em (the raw RSA result, k bytes, 11 < k <= 1024) for ciphertext c (k bytes) into
 * out (k bytes, secret memory): the message is out[0 .. *ret_len). A wrong padding yields the
 * synthetic message instead, indistinguishably. Returns 0, or -EINVAL (k out of range) /
 * -EIO (HMAC failed); *ret_len is set only on success.
 */
int rsa_ir_unpad(const uint8_t *em, const uint8_t *c, size_t k,
		 const uint8_t key[static RSA_IR_KEY_SIZE], uint8_t *out, size_t *ret_len) _wur_;
