/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Constant-time helper tests: results are checked against plain libc references (memcmp,
 * "%02x", isxdigit/strtoul) over every byte and character value.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct.h"
#include "test.h"

TEST(ct_memeq_equal_and_different)
{
	uint8_t a[64], b[64];

	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = b[i] = (uint8_t)(i * 13);
	ASSERT_TRUE(ct_memeq(a, b, sizeof(a)));
	ASSERT_TRUE(ct_memeq(a, b, 0));

	b[63] ^= 0x80; /* last byte */
	ASSERT_FALSE(ct_memeq(a, b, sizeof(a)));
	ASSERT_TRUE(ct_memeq(a, b, 63));
	b[63] ^= 0x80;

	/* Every single-bit difference anywhere is seen. */
	for (size_t i = 0; i < sizeof(a) * 8; i++) {
		b[i / 8] ^= (uint8_t)(1u << (i % 8));
		ASSERT_FALSE(ct_memeq(a, b, sizeof(a)));
		b[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	ASSERT_TRUE(ct_memeq(a, b, sizeof(a)));
}

TEST(ct_hex_roundtrip_all_bytes)
{
	uint8_t in[256], out[256];
	char hex[2 * 256 + 1], ref[2 * 256 + 1], upper[2 * 256 + 1];

	for (size_t i = 0; i < sizeof(in); i++) {
		in[i] = (uint8_t)i;
		snprintf(ref + 2 * i, 3, "%02x", (unsigned)i);
	}
	memset(hex, 'X', sizeof(hex));
	ct_hex_encode(hex, in, sizeof(in));
	ASSERT_STREQ(hex, ref);

	memset(out, 0, sizeof(out));
	ASSERT_EQ(ct_hex_decode(out, sizeof(out), hex, strlen(hex)), 0);
	ASSERT_MEMEQ(out, in, sizeof(in));

	/* Upper case decodes to the same bytes. */
	for (size_t i = 0; i < sizeof(hex); i++)
		upper[i] = (char)toupper((unsigned char)hex[i]);
	ASSERT_TRUE(strcmp(upper, hex) != 0);
	memset(out, 0, sizeof(out));
	ASSERT_EQ(ct_hex_decode(out, sizeof(out), upper, strlen(upper)), 0);
	ASSERT_MEMEQ(out, in, sizeof(in));
}

TEST(ct_hex_encode_empty)
{
	char hex[1] = { 'X' };

	ct_hex_encode(hex, (const uint8_t *)"", 0);
	ASSERT_EQ(hex[0], '\0');
	ASSERT_EQ(ct_hex_decode(NULL, 0, "", 0), 0);
}

TEST(ct_hex_decode_every_char)
{
	/* Each character value in either position of a pair: accepted exactly when isxdigit(). */
	for (unsigned c = 0; c < 256; c++) {
		char s[3];
		uint8_t out = 0xee;
		int r;
		bool hex = isxdigit((int)c);

		s[0] = (char)c;
		s[1] = '7';
		s[2] = '\0';
		r = ct_hex_decode(&out, 1, s, 2);
		if (hex) {
			ASSERT_EQ(r, 0);
			ASSERT_EQ(out, strtoul(s, NULL, 16));
		} else {
			ASSERT_EQ(r, -EBADMSG);
			ASSERT_EQ(out, 0);
		}
		s[0] = '7';
		s[1] = (char)c;
		out = 0xee;
		r = ct_hex_decode(&out, 1, s, 2);
		if (hex) {
			ASSERT_EQ(r, 0);
			ASSERT_EQ(out, strtoul(s, NULL, 16));
		} else {
			ASSERT_EQ(r, -EBADMSG);
			ASSERT_EQ(out, 0);
		}
	}
}

TEST(ct_hex_decode_rejects)
{
	static const char *const bad[] = {
		"0g11", "g011", "011g", "01 1", " 011", "0111 ", "01G1", "01:1", "01/1", "01@1",
		"01`1", "01\x80" "1", "01\xff" "1", "01\xb0" "1", "-011", "0x11",
	};
	uint8_t out[2];

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		memset(out, 0xaa, sizeof(out));
		ASSERT_EQ(ct_hex_decode(out, 2, bad[i], strlen(bad[i]) == 5 ? 5 : 4), -EBADMSG);
		/* out is wiped, including bytes decoded before the bad character. */
		ASSERT_EQ(out[0], 0);
		ASSERT_EQ(out[1], 0);
	}
	/* A NUL inside the declared length is not hex either. */
	memset(out, 0xaa, sizeof(out));
	ASSERT_EQ(ct_hex_decode(out, 2, "01\0" "1", 4), -EBADMSG);
	ASSERT_EQ(out[0], 0);
}

TEST(ct_hex_decode_wrong_length)
{
	uint8_t out[4];

	memset(out, 0xaa, sizeof(out));
	ASSERT_EQ(ct_hex_decode(out, 4, "0011223", 7), -EBADMSG); /* odd */
	ASSERT_TRUE(mem_is_zero(out, sizeof(out)));
	memset(out, 0xaa, sizeof(out));
	ASSERT_EQ(ct_hex_decode(out, 4, "001122", 6), -EBADMSG); /* short */
	ASSERT_TRUE(mem_is_zero(out, sizeof(out)));
	memset(out, 0xaa, sizeof(out));
	ASSERT_EQ(ct_hex_decode(out, 4, "0011223344", 10), -EBADMSG); /* long */
	ASSERT_TRUE(mem_is_zero(out, sizeof(out)));
	memset(out, 0xaa, sizeof(out));
	ASSERT_EQ(ct_hex_decode(out, 1, "0", 1), -EBADMSG);
	ASSERT_EQ(out[0], 0);
	ASSERT_EQ(ct_hex_decode(NULL, 0, "00", 2), -EBADMSG);

	memset(out, 0xaa, sizeof(out));
	ASSERT_EQ(ct_hex_decode(out, 4, "00112233", 8), 0);
	ASSERT_EQ(out[0], 0x00);
	ASSERT_EQ(out[3], 0x33);
}
