/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PKCS#1 v1.5 decoding with implicit rejection (lib/rsa-ir): a well-formed block gives its
 * message; every malformed one (the Bleichenbacher/Marvin oracle's "bad padding" cases) gives
 * a synthetic message that depends only on the ciphertext and the key, never an error.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <string.h>

#include "rsa-ir.h"
#include "test.h"

#define K 256u

static void block(uint8_t em[K], size_t msg_len)
{
	em[0] = 0;
	em[1] = 2;
	for (size_t i = 2; i < K - msg_len - 1; i++)
		em[i] = (uint8_t)(i % 255 + 1); /* non-zero padding */
	em[K - msg_len - 1] = 0;
	for (size_t i = K - msg_len; i < K; i++)
		em[i] = (uint8_t)(0xa0 + i);
}

TEST(rsa_ir_valid_blocks_give_their_message)
{
	uint8_t em[K], c[K] = { 1 }, key[32] = { 2 }, out[K];
	size_t len;

	for (size_t m = 0; m <= K - 11; m += (m < 8 ? 1 : 37)) {
		block(em, m);
		ASSERT_EQ(rsa_ir_unpad(em, c, K, key, out, &len), 0);
		ASSERT_EQ(len, m);
		ASSERT_MEMEQ(out, em + K - m, m);
	}
	block(em, K - 11); /* the longest: exactly 8 bytes of padding */
	ASSERT_EQ(rsa_ir_unpad(em, c, K, key, out, &len), 0);
	ASSERT_EQ(len, K - 11);
}

TEST(rsa_ir_bad_padding_gives_synthetic_message)
{
	uint8_t em[K], c[K], key[32] = { 3 }, out[K], first[K];
	size_t len, first_len = 0;

	for (size_t i = 0; i < K; i++)
		c[i] = (uint8_t)(i * 7);
	/* each way a block can be malformed */
	for (int bad = 0; bad < 5; bad++) {
		block(em, 32);
		switch (bad) {
		case 0: em[0] = 1; break;                  /* first byte not 0 */
		case 1: em[1] = 1; break;                  /* block type 1 */
		case 2: em[K - 33] = 0x55; break;          /* no separator */
		case 3: block(em, K - 10); break;          /* only 7 bytes of padding */
		case 4: em[5] = 0; break;                  /* separator too early */
		}
		ASSERT_EQ(rsa_ir_unpad(em, c, K, key, out, &len), 0);
		ASSERT_LE(len, K - 11);
		if (bad == 0) {
			memcpy(first, out, len);
			first_len = len;
			continue;
		}
		/* the same synthetic message whatever the bad block was: nothing about em leaks */
		ASSERT_EQ(len, first_len);
		ASSERT_MEMEQ(out, first, len);
	}
	ASSERT_FALSE(first_len == 32 && memcmp(first, em + K - 32, 32) == 0);
	/* another ciphertext or another key: another synthetic message */
	c[0] ^= 1;
	ASSERT_EQ(rsa_ir_unpad(em, c, K, key, out, &len), 0);
	ASSERT_FALSE(len == first_len && memcmp(out, first, len) == 0);
	c[0] ^= 1;
	key[0] ^= 1;
	ASSERT_EQ(rsa_ir_unpad(em, c, K, key, out, &len), 0);
	ASSERT_FALSE(len == first_len && memcmp(out, first, len) == 0);
}

TEST(rsa_ir_synthetic_lengths_vary)
{
	uint8_t em[K] = { 1 }, c[K] = {}, key[32] = {}, out[K];
	size_t len, min = K, max = 0;

	for (int i = 0; i < 64; i++) {
		c[0] = (uint8_t)i;
		ASSERT_EQ(rsa_ir_unpad(em, c, K, key, out, &len), 0);
		ASSERT_LE(len, K - 11);
		min = len < min ? len : min;
		max = len > max ? len : max;
	}
	ASSERT_LT(min + 16, max); /* not a constant length that would mark a rejection */
}

TEST(rsa_ir_bounds)
{
	uint8_t em[K] = {}, c[K] = {}, key[32] = {}, out[K];
	size_t len = 12345;

	ASSERT_EQ(rsa_ir_unpad(em, c, 11, key, out, &len), -EINVAL);
	ASSERT_EQ(rsa_ir_unpad(em, c, 1025, key, out, &len), -EINVAL);
	ASSERT_EQ(len, 12345u);
}

/*
 * Differential test against OpenSSL's PKCS#1 v1.5 decryption (explicit rejection in 3.0):
 * blocks are encrypted raw under a real key, then decrypted by OpenSSL with the padding and
 * decoded here from the raw decryption. Every block OpenSSL accepts must give the same message;
 * every block it rejects must give a synthetic message, never the block's tail.
 */
static void crafted(uint8_t *em, size_t k, unsigned kind, const uint8_t *rnd)
{
	size_t sep = 2 + 8 + rnd[0] % (k - 11); /* a valid separator index: 10..k-1 */

	em[0] = 0;
	em[1] = 2;
	for (size_t i = 2; i < k; i++)
		em[i] = rnd[i] ? rnd[i] : 1;
	em[sep] = 0;
	switch (kind % 8) {
	case 0: break;                                    /* valid */
	case 1: em[sep] = 1; em[k - 1] = 0; break;        /* valid, the empty message */
	case 2: em[0] = rnd[1] | 1; break;                /* first byte not 0 */
	case 3: em[1] = (uint8_t)(rnd[2] % 2 ? 1 : 3); break; /* block type 1 or 3 */
	case 4: em[sep] = 1; break;                       /* no separator at all */
	case 5: em[2 + rnd[3] % 8] = 0; break;            /* padding shorter than 8 bytes */
	case 6: em[9] = 0; em[sep] = 0; break;            /* separator at index 9: 7 bytes */
	case 7: em[10] = 0; break;                        /* exactly 8 bytes of padding */
	}
}

TEST(rsa_ir_agrees_with_openssl)
{
	EVP_PKEY *pkey = EVP_RSA_gen(1024);
	size_t k = 128, accepted = 0, rejected = 0;
	uint8_t em[128], c[128], raw[128], out[128], ossl[128], rnd[128], key[32];

	ASSERT_TRUE(pkey != NULL);
	ASSERT_EQ(EVP_PKEY_get_size(pkey), (int)k);
	memset(key, 0x5a, sizeof(key));
	for (unsigned t = 0; t < 400; t++) {
		size_t len = 0, olen = sizeof(ossl), clen = sizeof(c), rlen = sizeof(raw);
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);
		int ok;

		ASSERT_TRUE(ctx != NULL);
		ASSERT_EQ(RAND_bytes(rnd, sizeof(rnd)), 1);
		crafted(em, k, t, rnd);
		/* raw RSA encryption of em (below the modulus: em[0] is 0 or the key's top byte
		 * is larger; a block at or above n is skipped) */
		ASSERT_EQ(EVP_PKEY_encrypt_init(ctx), 1);
		ASSERT_EQ(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING), 1);
		if (EVP_PKEY_encrypt(ctx, c, &clen, em, k) <= 0) {
			EVP_PKEY_CTX_free(ctx);
			continue;
		}
		ASSERT_EQ(EVP_PKEY_decrypt_init(ctx), 1);
		ASSERT_EQ(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING), 1);
		ASSERT_EQ(EVP_PKEY_decrypt(ctx, raw, &rlen, c, clen), 1);
		ASSERT_EQ(rlen, k);
		ASSERT_MEMEQ(raw, em, k);
		ASSERT_EQ(EVP_PKEY_decrypt_init(ctx), 1);
		ASSERT_EQ(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
		ok = EVP_PKEY_decrypt(ctx, ossl, &olen, c, clen) > 0;
		EVP_PKEY_CTX_free(ctx);

		ASSERT_EQ(rsa_ir_unpad(raw, c, k, key, out, &len), 0);
		ASSERT_LE(len, k - 11);
		if (ok) {
			accepted++;
			ASSERT_EQ(len, olen);
			ASSERT_MEMEQ(out, ossl, len);
		} else {
			rejected++;
			/* a synthetic message: not what follows the first zero byte of the block */
			size_t z = 2;
			while (z < k && raw[z] != 0)
				z++;
			ASSERT_FALSE(z < k && len == k - z - 1 && memcmp(out, raw + z + 1, len) == 0 &&
				     len > 0);
		}
		/* the result depends on the ciphertext and the key only: the same again */
		uint8_t again[128];
		size_t alen = 0;
		ASSERT_EQ(rsa_ir_unpad(raw, c, k, key, again, &alen), 0);
		ASSERT_EQ(alen, len);
		ASSERT_MEMEQ(again, out, len);
	}
	EVP_PKEY_free(pkey);
	ASSERT_LT(100u, accepted);
	ASSERT_LT(150u, rejected);
}
