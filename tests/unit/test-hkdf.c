/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HKDF-SHA256 (lib/hkdf.h): the RFC 5869 test vectors A.1-A.3, equality with OpenSSL's own
 * EVP_KDF HKDF over many lengths of salt, info, key and output (including several output
 * blocks and the maximum), a long info, and the argument refusals; HMAC-SHA256 against RFC
 * 4231 and OpenSSL's HMAC(); the plain SHA-256 on the kept context against FIPS 180-2 and
 * OpenSSL's EVP_Digest().
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "hkdf.h"
#include "test.h"

static int unhex(const char *s, uint8_t *out)
{
	size_t n = strlen(s) / 2;

	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return (int)n;
}

static uint8_t *fill(size_t n, uint8_t seed)
{
	uint8_t *p = malloc(n ? n : 1);

	for (size_t i = 0; p && i < n; i++)
		p[i] = (uint8_t)(seed + i * 7 + (i >> 8));
	return p;
}

int test_openssl_hkdf(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt,
		      size_t salt_len, const uint8_t *info, size_t info_len, uint8_t *out,
		      size_t out_len)
{
	char digest[] = "SHA256";
	OSSL_PARAM params[5], *p = params;
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
	EVP_KDF_CTX *c = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	int ok;

	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)(uintptr_t)ikm,
						 ikm_len);
	if (salt_len)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
							 (void *)(uintptr_t)salt, salt_len);
	if (info_len)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
							 (void *)(uintptr_t)info, info_len);
	*p = OSSL_PARAM_construct_end();
	ok = c && EVP_KDF_derive(c, out, out_len, params) == 1;
	EVP_KDF_CTX_free(c);
	EVP_KDF_free(kdf);
	return ok ? 0 : -1;
}

TEST(hkdf_rfc5869_a1)
{
	uint8_t ikm[22], salt[13], info[10], okm[42], want[42];

	memset(ikm, 0x0b, sizeof(ikm));
	ASSERT_EQ(unhex("000102030405060708090a0b0c", salt), 13);
	ASSERT_EQ(unhex("f0f1f2f3f4f5f6f7f8f9", info), 10);
	ASSERT_EQ(unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
			"34007208d5b887185865",
			want),
		  42);
	ASSERT_OK(hkdf_sha256(ikm, 22, salt, 13, info, 10, okm, 42));
	ASSERT_MEMEQ(okm, want, 42);
}

TEST(hkdf_rfc5869_a2_long_inputs)
{
	uint8_t ikm[80], salt[80], info[80], okm[82], want[82];

	for (unsigned i = 0; i < 80; i++) {
		ikm[i] = (uint8_t)i;
		salt[i] = (uint8_t)(0x60 + i);
		info[i] = (uint8_t)(0xb0 + i);
	}
	ASSERT_EQ(unhex("b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
			"59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
			"cc30c58179ec3e87c14c01d5c1f3434f1d87",
			want),
		  82);
	ASSERT_OK(hkdf_sha256(ikm, 80, salt, 80, info, 80, okm, 82));
	ASSERT_MEMEQ(okm, want, 82);
}

TEST(hkdf_rfc5869_a3_no_salt_no_info)
{
	uint8_t ikm[22], okm[42], want[42];

	memset(ikm, 0x0b, sizeof(ikm));
	ASSERT_EQ(unhex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
			"9d201395faa4b61a96c8",
			want),
		  42);
	ASSERT_OK(hkdf_sha256(ikm, 22, NULL, 0, NULL, 0, okm, 42));
	ASSERT_MEMEQ(okm, want, 42);
}

/* One comparison with EVP_KDF; returns 0 when both agree. */
static int hkdf_agrees(size_t ikm_len, size_t salt_len, size_t info_len, size_t out_len)
{
	uint8_t *ikm = fill(ikm_len, 1), *salt = fill(salt_len, 2), *info = fill(info_len, 3);
	uint8_t *a = calloc(1, out_len), *b = calloc(1, out_len);
	int r = -1;

	if (ikm && salt && info && a && b &&
	    hkdf_sha256(ikm, ikm_len, salt_len ? salt : NULL, salt_len, info_len ? info : NULL,
			info_len, a, out_len) == 0 &&
	    test_openssl_hkdf(ikm, ikm_len, salt, salt_len, info, info_len, b, out_len) == 0)
		r = memcmp(a, b, out_len) == 0 ? 0 : -1;
	free(ikm);
	free(salt);
	free(info);
	free(a);
	free(b);
	return r;
}

TEST(hkdf_equals_openssl_evp_kdf)
{
	static const size_t ikm[] = { 1, 16, 32, 64, 65, 200 };
	static const size_t salt[] = { 0, 1, 13, 32, 64, 65, 300 };
	static const size_t info[] = { 0, 1, 12, 31, 32, 33, 100, 4096 };
	static const size_t out[] = { 1, 16, 31, 32, 33, 64, 65, 100, HKDF_SHA256_OUT_MAX };

	for (size_t i = 0; i < ELEMENTSOF(ikm); i++)
		for (size_t s = 0; s < ELEMENTSOF(salt); s++)
			for (size_t n = 0; n < ELEMENTSOF(info); n++)
				for (size_t o = 0; o < ELEMENTSOF(out); o++) {
					int r = hkdf_agrees(ikm[i], salt[s], info[n], out[o]);

					if (r != 0)
						fprintf(stderr, "ikm %zu salt %zu info %zu out %zu\n",
							ikm[i], salt[s], info[n], out[o]);
					ASSERT_EQ(r, 0);
				}
}

TEST(hkdf_long_info)
{
	/* Sealing passes its whole header (up to ~17 KiB) as info: it must work and matter. */
	uint8_t *info = fill(17000, 3), key[32] = { 7 }, a[32], b[32];
	int r1, r2;

	ASSERT_TRUE(info);
	r1 = hkdf_sha256(key, 32, NULL, 0, info, 17000, a, 32);
	info[16999] ^= 1;
	r2 = hkdf_sha256(key, 32, NULL, 0, info, 17000, b, 32);
	free(info);
	ASSERT_OK(r1);
	ASSERT_OK(r2);
	ASSERT_MEMNE(a, b, 32);
}

TEST(hkdf_refuses_bad_arguments)
{
	uint8_t ikm[22] = { 1 }, okm[32];

	ASSERT_EQ(hkdf_sha256(ikm, 22, NULL, 0, NULL, 0, okm, 0), -EINVAL);
	ASSERT_EQ(hkdf_sha256(ikm, 22, NULL, 0, NULL, 0, okm, HKDF_SHA256_OUT_MAX + 1), -EINVAL);
	ASSERT_EQ(hkdf_sha256(NULL, 0, NULL, 0, NULL, 0, okm, 32), -EINVAL);
	ASSERT_EQ(hkdf_sha256(ikm, 0, NULL, 0, NULL, 0, okm, 32), -EINVAL);
	ASSERT_EQ(hkdf_sha256(ikm, 22, NULL, 5, NULL, 0, okm, 32), -EINVAL);
	ASSERT_EQ(hkdf_sha256(ikm, 22, NULL, 0, NULL, 5, okm, 32), -EINVAL);
	ASSERT_EQ(hkdf_sha256(ikm, 22, NULL, 0, NULL, 0, NULL, 32), -EINVAL);
}

TEST(hkdf_inputs_matter)
{
	uint8_t k1[32] = { 1 }, k2[32] = { 2 }, s1[32] = { 3 }, s2[32] = { 4 }, a[32], b[32];

	ASSERT_OK(hkdf_sha256(k1, 32, s1, 32, (const uint8_t *)"x", 1, a, 32));
	ASSERT_OK(hkdf_sha256(k2, 32, s1, 32, (const uint8_t *)"x", 1, b, 32));
	ASSERT_MEMNE(a, b, 32);
	ASSERT_OK(hkdf_sha256(k1, 32, s2, 32, (const uint8_t *)"x", 1, b, 32));
	ASSERT_MEMNE(a, b, 32);
	ASSERT_OK(hkdf_sha256(k1, 32, s1, 32, (const uint8_t *)"y", 1, b, 32));
	ASSERT_MEMNE(a, b, 32);
}

TEST(hmac_rfc4231)
{
	/* RFC 4231 test cases 1, 2 and 6 (a 131-byte key, hashed first), HMAC-SHA-256. */
	uint8_t key[131], md[32], want[32];

	memset(key, 0x0b, 20);
	ASSERT_EQ(unhex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", want),
		  32);
	ASSERT_OK(hkdf_hmac_sha256(key, 20, "Hi There", 8, md));
	ASSERT_MEMEQ(md, want, 32);

	ASSERT_EQ(unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", want),
		  32);
	ASSERT_OK(hkdf_hmac_sha256((const uint8_t *)"Jefe", 4, "what do ya want for nothing?", 28,
				   md));
	ASSERT_MEMEQ(md, want, 32);

	memset(key, 0xaa, sizeof(key));
	ASSERT_EQ(unhex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", want),
		  32);
	ASSERT_OK(hkdf_hmac_sha256(key, 131,
				   "Test Using Larger Than Block-Size Key - Hash Key First", 54, md));
	ASSERT_MEMEQ(md, want, 32);
}

TEST(hmac_equals_openssl_hmac)
{
	static const size_t keys[] = { 0, 1, 32, 63, 64, 65, 200 };
	static const size_t lens[] = { 0, 1, 55, 56, 64, 300, 5000 };

	for (size_t i = 0; i < ELEMENTSOF(keys); i++)
		for (size_t j = 0; j < ELEMENTSOF(lens); j++) {
			uint8_t *k = fill(keys[i], 9), *d = fill(lens[j], 5), a[32], b[32];
			unsigned n = 0;
			int r = hkdf_hmac_sha256(keys[i] ? k : NULL, keys[i], lens[j] ? d : NULL,
						 lens[j], a);
			bool same = HMAC(EVP_sha256(), k, (int)keys[i], d, lens[j], b, &n) && n == 32 &&
				    memcmp(a, b, 32) == 0;

			free(k);
			free(d);
			ASSERT_OK(r);
			ASSERT_TRUE(same);
		}
	ASSERT_EQ(hkdf_hmac_sha256(NULL, 3, "x", 1, (uint8_t[32]){}), -EINVAL);
	ASSERT_EQ(hkdf_hmac_sha256((const uint8_t *)"k", 1, NULL, 3, (uint8_t[32]){}), -EINVAL);
}

TEST(sha256_digest_equals_openssl)
{
	static const size_t lens[] = { 0, 1, 55, 56, 64, 4096, 5000 };
	/* FIPS 180-2 B.1: SHA-256("abc"), split over the three parts. */
	static const uint8_t abc[32] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae,
		0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61,
		0xf2, 0x00, 0x15, 0xad,
	};
	uint8_t out[32];

	ASSERT_OK(hkdf_sha256_digest("a", 1, "b", 1, "c", 1, out));
	ASSERT_MEMEQ(out, abc, 32);
	for (size_t i = 0; i < ELEMENTSOF(lens); i++)
		for (size_t j = 0; j < ELEMENTSOF(lens); j++) {
			uint8_t *p = fill(lens[i], 3), *q = fill(lens[j], 7), *all, a[32], b[32];
			unsigned n = 0;

			all = malloc(lens[i] + lens[j] + 1);
			ASSERT_TRUE(all != NULL);
			memcpy(all, p, lens[i]);
			memcpy(all + lens[i], q, lens[j]);
			all[lens[i] + lens[j]] = '\n';
			int r = hkdf_sha256_digest(lens[i] ? p : NULL, lens[i], lens[j] ? q : NULL,
						   lens[j], "\n", 1, a);
			bool same = EVP_Digest(all, lens[i] + lens[j] + 1, b, &n, EVP_sha256(), NULL) &&
				    n == 32 && memcmp(a, b, 32) == 0;

			free(p);
			free(q);
			free(all);
			ASSERT_OK(r);
			ASSERT_TRUE(same);
		}
	ASSERT_EQ(hkdf_sha256_digest(NULL, 1, NULL, 0, NULL, 0, out), -EINVAL);
	ASSERT_EQ(hkdf_sha256_digest(NULL, 0, NULL, 0, NULL, 2, out), -EINVAL);
}
