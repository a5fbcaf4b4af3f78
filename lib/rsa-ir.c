/* SPDX-License-Identifier: Apache-2.0 */
/* PKCS#1 v1.5 decryption padding with implicit rejection (rsa-ir.h). */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#include "rsa-ir.h"

#define RSA_IR_K_MAX 1024u /* RSA-8192 */

/* All-ones when a == b, else 0; no branch on the values. */
static uint32_t ct_eq(uint32_t a, uint32_t b)
{
	uint32_t x = a ^ b;

	return (uint32_t)0 - (uint32_t)(((x | (0u - x)) >> 31) ^ 1u);
}

/* All-ones when a < b (both < 2^31), else 0. */
static uint32_t ct_lt(uint32_t a, uint32_t b)
{
	return (uint32_t)0 - ((a - b) >> 31);
}

static uint32_t ct_select(uint32_t mask, uint32_t a, uint32_t b)
{
	return (mask & a) | (~mask & b);
}

int rsa_ir_key(const uint8_t *d_be, size_t k, uint8_t ret[static RSA_IR_KEY_SIZE])
{
	unsigned int n = 0;

	return EVP_Digest(d_be, k, ret, &n, EVP_sha256(), NULL) && n == 32 ? 0 : -EIO;
}

static int hmac(const uint8_t *key, const uint8_t *in, size_t n, uint8_t out[static 32])
{
	size_t len = 0;

	return EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, 32, in, n, out, 32, &len) &&
			       len == 32
		       ? 0
		       : -EIO;
}

/* PRF(kdk, label, n bytes) into out. */
static int prf(const uint8_t kdk[static 32], const char *label, uint8_t *out, size_t n)
{
	uint8_t in[2 + 16 + 2], block[32];
	size_t l = strlen(label), bits = n * 8;
	int r = 0;

	memcpy(in + 2, label, l);
	in[2 + l] = (uint8_t)(bits >> 8);
	in[3 + l] = (uint8_t)bits;
	for (size_t i = 0, off = 0; r == 0 && off < n; i++, off += 32) {
		in[0] = (uint8_t)(i >> 8);
		in[1] = (uint8_t)i;
		r = hmac(kdk, in, 4 + l, block);
		memcpy(out + off, block, n - off < 32 ? n - off : 32);
	}
	OPENSSL_cleanse(block, sizeof(block));
	return r;
}

/* The synthetic message's length: the last candidate <= max (k-11), else 0. */
static uint32_t synthetic_length(const uint8_t cand[static 256], uint32_t max)
{
	uint32_t mask = max, len = 0;

	for (unsigned s = 1; s < 32; s <<= 1)
		mask |= mask >> s;
	for (size_t i = 0; i < 128; i++) {
		uint32_t l = ((uint32_t)cand[2 * i] << 8 | cand[2 * i + 1]) & mask;
		len = ct_select(ct_lt(l, max + 1), l, len);
	}
	return len;
}

/* The length of the real message if em is well padded (mask all-ones), else mask 0. */
static uint32_t real_length(const uint8_t *em, uint32_t k, uint32_t *ret_good)
{
	uint32_t good = ct_eq(em[0], 0) & ct_eq(em[1], 2), found = 0, zero = 0;

	for (uint32_t i = 2; i < k; i++) {
		uint32_t is_zero = ct_eq(em[i], 0);
		zero = ct_select(~found & is_zero, i, zero);
		found |= is_zero;
	}
	/* at least 8 bytes of padding: the separator is at index 10 or later */
	good &= found & ~ct_lt(zero, 10);
	*ret_good = good;
	return k - zero - 1;
}

int rsa_ir_unpad(const uint8_t *em, const uint8_t *c, size_t k,
		 const uint8_t key[static RSA_IR_KEY_SIZE], uint8_t *out, size_t *ret_len)
{
	uint8_t kdk[32], cand[256];
	uint32_t good, len, synth_len;
	int r;

	if (k <= 11 || k > RSA_IR_K_MAX)
		return -EINVAL;
	r = EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, RSA_IR_KEY_SIZE, c, k, kdk, 32,
		      &(size_t){ 0 }) ? 0 : -EIO;
	if (r == 0)
		r = prf(kdk, "message", out, k);
	if (r == 0)
		r = prf(kdk, "length", cand, sizeof(cand));
	if (r == 0) {
		synth_len = synthetic_length(cand, (uint32_t)k - 11);
		len = real_length(em, (uint32_t)k, &good);
		len = ct_select(good, len, synth_len);
		/* Both messages end at em's end: pick byte by byte, then move the tail to the
		 * front (its length is the result's, which the caller returns anyway). */
		for (size_t i = 0; i < k; i++)
			out[i] = (uint8_t)ct_select(good, em[i], out[i]);
		memmove(out, out + k - len, len);
		*ret_len = len;
	}
	OPENSSL_cleanse(kdk, sizeof(kdk));
	OPENSSL_cleanse(cand, sizeof(cand));
	return r;
}
