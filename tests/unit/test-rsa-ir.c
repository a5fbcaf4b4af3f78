/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PKCS#1 v1.5 decoding with implicit rejection (lib/rsa-ir): a well-formed block gives its
 * message; every malformed one (the Bleichenbacher/Marvin oracle's "bad padding" cases) gives
 * a synthetic message that depends only on the ciphertext and the key, never an error.
 */
#include <errno.h>
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
