/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AES-256-GCM tests: the AES-256 test cases of the GCM specification (McGrew and Viega,
 * test cases 13, 14 and 16, also in NIST's gcmEncryptExtIV256 set), round trips, the AAD
 * split, and refusals: every flipped tag, ciphertext, AAD, nonce or key bit is -EKEYREJECTED
 * with the output wiped and the OpenSSL error queue empty.
 */
#include <limits.h>

#include <openssl/err.h>

#include "aead.h"
#include "test.h"

/* Decodes a hex string of exactly 2*n digits into out. */
static void unhex(uint8_t *out, size_t n, const char *hex)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			abort();
		out[i] = (uint8_t)v;
	}
}

TEST(aead_gcm_spec_vectors_zero)
{
	uint8_t key[32] = {}, nonce[12] = {}, pt[16] = {}, ct[16], tag[16], want[16];

	/* Test case 13: empty plaintext and AAD, so the tag is all there is. */
	ASSERT_EQ(aead_gcm_encrypt(key, nonce, NULL, 0, NULL, 0, NULL, 0, NULL, tag), 0);
	unhex(want, 16, "530f8afbc74536b9a963b4f1c4cb738b");
	ASSERT_MEMEQ(tag, want, 16);
	ASSERT_EQ(aead_gcm_decrypt(key, nonce, NULL, 0, NULL, 0, NULL, 0, NULL, tag), 0);
	tag[15] ^= 1;
	ASSERT_EQ(aead_gcm_decrypt(key, nonce, NULL, 0, NULL, 0, NULL, 0, NULL, tag),
		  -EKEYREJECTED);

	/* Test case 14: one zero block. */
	ASSERT_EQ(aead_gcm_encrypt(key, nonce, NULL, 0, NULL, 0, pt, 16, ct, tag), 0);
	unhex(want, 16, "cea7403d4d606b6e074ec5d3baf39d18");
	ASSERT_MEMEQ(ct, want, 16);
	unhex(want, 16, "d0d1c8a799996bf0265b98b5d48ab919");
	ASSERT_MEMEQ(tag, want, 16);
	ASSERT_EQ(ERR_peek_error(), 0);
}

/* Test case 16: 60 bytes of plaintext, 20 bytes of AAD. */
#define TC16_KEY "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"
#define TC16_IV "cafebabefacedbaddecaf888"
#define TC16_AAD "feedfacedeadbeeffeedfacedeadbeefabaddad2"
#define TC16_PT                                                                                    \
	"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"                         \
	"1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
#define TC16_CT                                                                                    \
	"522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"                         \
	"8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
#define TC16_TAG "76fc6ece0f4e1768cddf8853bb2d551b"

struct tc16 {
	uint8_t key[32], nonce[12], aad[20], pt[60], ct[60], tag[16];
};

static void tc16_load(struct tc16 *v)
{
	unhex(v->key, 32, TC16_KEY);
	unhex(v->nonce, 12, TC16_IV);
	unhex(v->aad, 20, TC16_AAD);
	unhex(v->pt, 60, TC16_PT);
	unhex(v->ct, 60, TC16_CT);
	unhex(v->tag, 16, TC16_TAG);
}

TEST(aead_gcm_spec_vector_aad)
{
	struct tc16 v;
	uint8_t out[60], tag[16];
	int r;

	tc16_load(&v);
	ASSERT_EQ(aead_gcm_encrypt(v.key, v.nonce, v.aad, 20, NULL, 0, v.pt, 60, out, tag), 0);
	ASSERT_MEMEQ(out, v.ct, 60);
	ASSERT_MEMEQ(tag, v.tag, 16);
	/* The AAD is aad || aad2 wherever it is split, and either part may carry all of it. */
	for (size_t cut = 0; cut <= 20; cut++) {
		memset(tag, 0, sizeof(tag));
		r = aead_gcm_encrypt(v.key, v.nonce, v.aad, cut, v.aad + cut, 20 - cut, v.pt, 60,
				     out, tag);
		ASSERT_EQ(r, 0);
		ASSERT_MEMEQ(out, v.ct, 60);
		ASSERT_MEMEQ(tag, v.tag, 16);
	}
	ASSERT_EQ(aead_gcm_encrypt(v.key, v.nonce, NULL, 0, v.aad, 20, v.pt, 60, out, tag), 0);
	ASSERT_MEMEQ(tag, v.tag, 16);
	ASSERT_EQ(aead_gcm_decrypt(v.key, v.nonce, v.aad, 7, v.aad + 7, 13, v.ct, 60, out, v.tag),
		  0);
	ASSERT_MEMEQ(out, v.pt, 60);
	/* in place, both ways */
	memcpy(out, v.pt, 60);
	ASSERT_EQ(aead_gcm_encrypt(v.key, v.nonce, v.aad, 20, NULL, 0, out, 60, out, tag), 0);
	ASSERT_MEMEQ(out, v.ct, 60);
	ASSERT_EQ(aead_gcm_decrypt(v.key, v.nonce, v.aad, 20, NULL, 0, out, 60, out, tag), 0);
	ASSERT_MEMEQ(out, v.pt, 60);
	ASSERT_EQ(ERR_peek_error(), 0);
}

/* Decrypts v with one bit of one input flipped; returns the result, or -EILSEQ when the
 * output was not wiped after a refusal. */
static int tc16_open_flipped(const struct tc16 *good, int which, size_t bit)
{
	struct tc16 v = *good;
	uint8_t *targets[] = { v.key, v.nonce, v.aad, v.ct, v.tag };
	uint8_t out[60];
	int r;

	targets[which][bit / 8] ^= (uint8_t)(1u << (bit % 8));
	memset(out, 0xa5, sizeof(out));
	r = aead_gcm_decrypt(v.key, v.nonce, v.aad, 12, v.aad + 12, 8, v.ct, 60, out, v.tag);
	if (r == -EKEYREJECTED && !mem_is_zero(out, sizeof(out)))
		return -EILSEQ;
	return r;
}

TEST(aead_gcm_tampered_rejected)
{
	static const size_t bits[] = { 32 * 8, 12 * 8, 20 * 8, 60 * 8, 16 * 8 };
	static const char *const names[] = { "key", "nonce", "aad", "ciphertext", "tag" };
	struct tc16 v;

	tc16_load(&v);
	ASSERT_EQ(tc16_open_flipped(&v, 3, 0), -EKEYREJECTED);
	for (int w = 0; w < 5; w++)
		for (size_t b = 0; b < bits[w]; b++) {
			int r = tc16_open_flipped(&v, w, b);

			if (r != -EKEYREJECTED)
				test_fail(__FILE__, __LINE__, "%s bit %zu: %d", names[w], b, r);
		}
	ASSERT_FALSE(test_failed());
	ASSERT_EQ(ERR_peek_error(), 0);
}

TEST(aead_gcm_wrong_aad_shape)
{
	struct tc16 v;
	uint8_t out[60];

	tc16_load(&v);
	/* Dropping the AAD, or moving a byte from the AAD to the ciphertext, is refused. */
	ASSERT_EQ(aead_gcm_decrypt(v.key, v.nonce, NULL, 0, NULL, 0, v.ct, 60, out, v.tag),
		  -EKEYREJECTED);
	ASSERT_EQ(aead_gcm_decrypt(v.key, v.nonce, v.aad, 19, NULL, 0, v.ct, 60, out, v.tag),
		  -EKEYREJECTED);
	ASSERT_EQ(aead_gcm_decrypt(v.key, v.nonce, v.aad, 20, NULL, 0, v.ct, 59, out, v.tag),
		  -EKEYREJECTED);
	ASSERT_EQ(aead_gcm_decrypt(v.key, v.nonce, v.aad, 20, v.aad, 20, v.ct, 60, out, v.tag),
		  -EKEYREJECTED);
	ASSERT_EQ(ERR_peek_error(), 0);
}

TEST(aead_gcm_round_trip)
{
	uint8_t key[32], nonce[12], pt[1000], ct[1000], out[1000], tag[16], tag2[16];
	static const uint8_t aad[] = "header", aad2[32] = { 0xc7 };

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 13 + 1);
	memset(nonce, 0x5c, sizeof(nonce));
	for (size_t i = 0; i < sizeof(pt); i++)
		pt[i] = (uint8_t)(i * 31);
	for (size_t len = 0; len <= sizeof(pt); len += len < 40 ? 1 : 241) {
		ASSERT_EQ(aead_gcm_encrypt(key, nonce, aad, 6, aad2, 32, pt, len, ct, tag), 0);
		if (len >= 16)
			ASSERT_MEMNE(ct, pt, 16);
		memset(out, 0, sizeof(out));
		ASSERT_EQ(aead_gcm_decrypt(key, nonce, aad, 6, aad2, 32, ct, len, out, tag), 0);
		ASSERT_MEMEQ(out, pt, len);
		/* deterministic: same inputs, same output */
		ASSERT_EQ(aead_gcm_encrypt(key, nonce, aad, 6, aad2, 32, pt, len, out, tag2), 0);
		ASSERT_MEMEQ(out, ct, len);
		ASSERT_MEMEQ(tag2, tag, 16);
	}
	ASSERT_EQ(ERR_peek_error(), 0);
}

TEST(aead_gcm_bad_arguments)
{
	uint8_t key[32] = {}, nonce[12] = {}, buf[16] = {}, tag[16] = {};
	const size_t huge = (size_t)INT_MAX + 1;

	ASSERT_EQ(aead_gcm_encrypt(key, nonce, NULL, 1, NULL, 0, buf, 16, buf, tag), -EINVAL);
	ASSERT_EQ(aead_gcm_encrypt(key, nonce, NULL, 0, NULL, 1, buf, 16, buf, tag), -EINVAL);
	ASSERT_EQ(aead_gcm_encrypt(key, nonce, NULL, 0, NULL, 0, NULL, 16, buf, tag), -EINVAL);
	ASSERT_EQ(aead_gcm_encrypt(key, nonce, NULL, 0, NULL, 0, buf, 16, NULL, tag), -EINVAL);
	ASSERT_EQ(aead_gcm_decrypt(key, nonce, NULL, 0, NULL, 0, buf, 16, NULL, tag), -EINVAL);
	/* Lengths EVP's int cannot carry are refused before any byte is read. */
	ASSERT_EQ(aead_gcm_encrypt(key, nonce, NULL, 0, NULL, 0, buf, huge, buf, tag), -EMSGSIZE);
	ASSERT_EQ(aead_gcm_decrypt(key, nonce, buf, huge, NULL, 0, buf, 16, buf, tag), -EMSGSIZE);
	ASSERT_EQ(ERR_peek_error(), 0);
}
