/* SPDX-License-Identifier: Apache-2.0 */
/* AES key wrap with padding (RFC 5649 known answers) and AES-GCM (lib/p11-aes). */
#include <errno.h>
#include <string.h>

#include "p11-aes.h"
#include "test.h"

static const uint8_t rfc5649_kek[24] = {
	0x58, 0x40, 0xdf, 0x6e, 0x29, 0xb0, 0x2a, 0xf1, 0xab, 0x49, 0x3b, 0x70,
	0x5b, 0xf1, 0x6e, 0xa1, 0xae, 0x83, 0x38, 0xf4, 0xdc, 0xc1, 0x76, 0xa8,
};

/* RFC 5649 section 6: 20 octets and 7 octets of key data under the 192-bit KEK. */
TEST(p11_aes_kwp_rfc5649_known_answers)
{
	static const uint8_t k20[] = { 0xc3, 0x7b, 0x7e, 0x64, 0x92, 0x58, 0x43, 0x40, 0xbe, 0xd1,
				       0x22, 0x07, 0x80, 0x89, 0x41, 0x15, 0x50, 0x68, 0xf7, 0x38 };
	static const uint8_t w20[] = { 0x13, 0x8b, 0xde, 0xaa, 0x9b, 0x8f, 0xa7, 0xfc, 0x61, 0xf9, 0x77,
				       0x42, 0xe7, 0x22, 0x48, 0xee, 0x5a, 0xe6, 0xae, 0x53, 0x60, 0xd1,
				       0xae, 0x6a, 0x5f, 0x54, 0xf3, 0x73, 0xfa, 0x54, 0x3b, 0x6a };
	static const uint8_t k7[] = { 0x46, 0x6f, 0x72, 0x50, 0x61, 0x73, 0x69 };
	static const uint8_t w7[] = { 0xaf, 0xbe, 0xb0, 0xf0, 0x7d, 0xfb, 0xf5, 0x41,
				      0x92, 0x00, 0xf2, 0xcc, 0xb5, 0x0b, 0xb2, 0x4f };
	uint8_t out[64];
	size_t len;

	ASSERT_EQ(p11_aes_kwp_wrap(rfc5649_kek, 24, k20, sizeof(k20), out, &len), 0);
	ASSERT_EQ(len, sizeof(w20));
	ASSERT_MEMEQ(out, w20, sizeof(w20));
	ASSERT_EQ(p11_aes_kwp_unwrap(rfc5649_kek, 24, w20, sizeof(w20), out, &len), 0);
	ASSERT_EQ(len, sizeof(k20));
	ASSERT_MEMEQ(out, k20, sizeof(k20));
	ASSERT_EQ(p11_aes_kwp_wrap(rfc5649_kek, 24, k7, sizeof(k7), out, &len), 0);
	ASSERT_EQ(len, sizeof(w7));
	ASSERT_MEMEQ(out, w7, sizeof(w7));
	ASSERT_EQ(p11_aes_kwp_unwrap(rfc5649_kek, 24, w7, sizeof(w7), out, &len), 0);
	ASSERT_EQ(len, sizeof(k7));
	ASSERT_MEMEQ(out, k7, sizeof(k7));
}

TEST(p11_aes_kwp_refuses_tampered_and_malformed)
{
	static const uint8_t key[32] = { 9 }, other[32] = { 10 };
	uint8_t in[40], w[64], out[64];
	size_t wl, len = 777;

	memset(in, 0x5a, sizeof(in));
	ASSERT_EQ(p11_aes_kwp_wrap(key, 32, in, sizeof(in), w, &wl), 0);
	ASSERT_EQ(wl, 48u);
	for (size_t i = 0; i < wl; i++) {
		w[i] ^= 0x01;
		ASSERT_EQ(p11_aes_kwp_unwrap(key, 32, w, wl, out, &len), -EBADMSG);
		w[i] ^= 0x01;
	}
	ASSERT_EQ(p11_aes_kwp_unwrap(other, 32, w, wl, out, &len), -EBADMSG);
	ASSERT_EQ(p11_aes_kwp_unwrap(key, 32, w, wl - 8, out, &len), -EBADMSG);
	ASSERT_EQ(p11_aes_kwp_unwrap(key, 32, w, wl - 1, out, &len), -EINVAL);
	ASSERT_EQ(p11_aes_kwp_unwrap(key, 32, w, 8, out, &len), -EINVAL);
	ASSERT_EQ(len, 777u);
	ASSERT_EQ(p11_aes_kwp_unwrap(key, 32, w, wl, out, &len), 0);
	ASSERT_MEMEQ(out, in, sizeof(in));
	ASSERT_EQ(p11_aes_kwp_wrap(key, 32, in, 0, w, &wl), -EMSGSIZE);
	ASSERT_EQ(p11_aes_kwp_wrap(key, 20, in, 8, w, &wl), -EINVAL);
}

/* GCM: NIST test case 16 (AES-256, 60-byte plaintext, 20-byte AAD, 96-bit IV), then refusals. */
TEST(p11_aes_gcm_known_answer_and_tamper)
{
	static const uint8_t key[32] = {
		0xfe, 0xff, 0xe9, 0x92, 0x86, 0x65, 0x73, 0x1c, 0x6d, 0x6a, 0x8f, 0x94, 0x67, 0x30, 0x83, 0x08,
		0xfe, 0xff, 0xe9, 0x92, 0x86, 0x65, 0x73, 0x1c, 0x6d, 0x6a, 0x8f, 0x94, 0x67, 0x30, 0x83, 0x08,
	};
	static const uint8_t iv[12] = { 0xca, 0xfe, 0xba, 0xbe, 0xfa, 0xce, 0xdb, 0xad, 0xde, 0xca, 0xf8, 0x88 };
	static const uint8_t aad[20] = { 0xfe, 0xed, 0xfa, 0xce, 0xde, 0xad, 0xbe, 0xef, 0xfe, 0xed,
					 0xfa, 0xce, 0xde, 0xad, 0xbe, 0xef, 0xab, 0xad, 0xda, 0xd2 };
	static const uint8_t pt[60] = {
		0xd9, 0x31, 0x32, 0x25, 0xf8, 0x84, 0x06, 0xe5, 0xa5, 0x59, 0x09, 0xc5, 0xaf, 0xf5, 0x26, 0x9a,
		0x86, 0xa7, 0xa9, 0x53, 0x15, 0x34, 0xf7, 0xda, 0x2e, 0x4c, 0x30, 0x3d, 0x8a, 0x31, 0x8a, 0x72,
		0x1c, 0x3c, 0x0c, 0x95, 0x95, 0x68, 0x09, 0x53, 0x2f, 0xcf, 0x0e, 0x24, 0x49, 0xa6, 0xb5, 0x25,
		0xb1, 0x6a, 0xed, 0xf5, 0xaa, 0x0d, 0xe6, 0x57, 0xba, 0x63, 0x7b, 0x39,
	};
	static const uint8_t tag[16] = { 0x76, 0xfc, 0x6e, 0xce, 0x0f, 0x4e, 0x17, 0x68,
					 0xcd, 0xdf, 0x88, 0x53, 0xbb, 0x2d, 0x55, 0x1b };
	static const uint8_t ct_head[8] = { 0x52, 0x2d, 0xc1, 0xf0, 0x99, 0x56, 0x7d, 0x07 };
	uint8_t out[80], back[80];
	size_t len, blen;

	ASSERT_EQ(p11_aes_gcm(key, true, iv, 12, aad, 20, 16, pt, 60, out, &len), 0);
	ASSERT_EQ(len, 76u);
	ASSERT_MEMEQ(out, ct_head, sizeof(ct_head));
	ASSERT_MEMEQ(out + 60, tag, 16);
	ASSERT_EQ(p11_aes_gcm(key, false, iv, 12, aad, 20, 16, out, len, back, &blen), 0);
	ASSERT_EQ(blen, 60u);
	ASSERT_MEMEQ(back, pt, 60);
	out[3] ^= 1;
	ASSERT_EQ(p11_aes_gcm(key, false, iv, 12, aad, 20, 16, out, len, back, &blen), -EBADMSG);
	out[3] ^= 1;
	ASSERT_EQ(p11_aes_gcm(key, false, iv, 12, aad, 19, 16, out, len, back, &blen), -EBADMSG);
	/* a 96-bit tag is the full tag's first 12 bytes; read as 12 of 76 bytes it is wrong */
	ASSERT_EQ(p11_aes_gcm(key, false, iv, 12, aad, 20, 12, out, len - 4, back, &blen), 0);
	ASSERT_EQ(p11_aes_gcm(key, false, iv, 12, aad, 20, 12, out, len, back, &blen), -EBADMSG);
	/* a 96-bit tag is the shortest */
	ASSERT_EQ(p11_aes_gcm(key, true, iv, 12, aad, 20, 8, pt, 60, out, &len), -EINVAL);
	ASSERT_EQ(p11_aes_gcm(key, true, iv, 4, aad, 20, 16, pt, 60, out, &len), -EINVAL);
}
