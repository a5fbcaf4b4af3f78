/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wrapping tests: round trips, refusals (wrong KEK, wrong context, every byte flipped, every
 * truncation), the documented byte layout checked by decrypting with plain OpenSSL calls, and
 * HKDF against RFC 5869.
 */
#include <openssl/evp.h>

#include "secmem.h"
#include "test.h"
#include "wrap.h"

static const uint8_t kek_a[32] = { 0x4b, 0x45, 0x4b, 0x2d, 0x61, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
static const uint8_t kek_b[32] = { 0x4b, 0x45, 0x4b, 0x2d, 0x62, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
static const uint8_t dek[64] = { 0xde, 0xc0, 0xde, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13 };
#define CTX_A ((const uint8_t *)"luks:7f1c0e2a-uuid:keyslot=1")
#define CTX_A_LEN (sizeof("luks:7f1c0e2a-uuid:keyslot=1") - 1)

/* Fixed part of the header: magic, alg, name_len, version, salt, nonce, ct_len. */
#define HDR_FIXED (4 + 1 + 1 + 4 + 32 + 12 + 4)

static uint8_t *fill(size_t n, uint8_t seed)
{
	uint8_t *p = malloc(n);

	for (size_t i = 0; p && i < n; i++)
		p[i] = (uint8_t)(seed + i * 7);
	return p;
}

/* Unwraps and compares; returns the unwrap result, or -EILSEQ when the plaintext differs. */
static int unwrap_check(const uint8_t *kek, const uint8_t *blob, size_t len, const uint8_t *ctx,
			size_t ctx_len, const uint8_t *want, size_t want_len)
{
	uint8_t *pt = NULL;
	size_t pt_len = 0;
	int r;

	r = unwrap_key(kek, blob, len, ctx, ctx_len, &pt, &pt_len);
	if (r < 0)
		return r;
	if (pt_len != want_len || memcmp(pt, want, want_len) != 0)
		r = -EILSEQ;
	secmem_free(pt);
	return r;
}

TEST(wrap_roundtrip)
{
	static const size_t sizes[] = { 1, 32, 64, 1000, WRAP_PLAINTEXT_MAX };

	for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
		uint8_t *pt = fill(sizes[i], (uint8_t)i), *blob = NULL, *blob2 = NULL;
		size_t len = 0, len2 = 0;
		int r1, r2, r3, r4;

		ASSERT_TRUE(pt);
		r1 = wrap_key(kek_a, "tenant-kek", 3, NULL, 0, pt, sizes[i], &blob, &len);
		r2 = wrap_key(kek_a, "tenant-kek", 3, CTX_A, CTX_A_LEN, pt, sizes[i], &blob2,
			      &len2);
		r3 = r1 < 0 ? r1 : unwrap_check(kek_a, blob, len, NULL, 0, pt, sizes[i]);
		r4 = r2 < 0 ? r2 : unwrap_check(kek_a, blob2, len2, CTX_A, CTX_A_LEN, pt,
						sizes[i]);
		free(pt);
		free(blob);
		free(blob2);
		ASSERT_OK(r1);
		ASSERT_OK(r2);
		ASSERT_EQ(len, HDR_FIXED + strlen("tenant-kek") + sizes[i] + 16);
		ASSERT_EQ(r3, 0);
		ASSERT_EQ(r4, 0);
	}
}

TEST(wrap_context_binds)
{
	uint8_t *blob = NULL, *blob_noctx = NULL, *pt = (uint8_t *)1;
	size_t len, len2, pt_len = 99;
	int r[6];

	ASSERT_OK(wrap_key(kek_a, "k", 1, CTX_A, CTX_A_LEN, dek, sizeof(dek), &blob, &len));
	ASSERT_OK(wrap_key(kek_a, "k", 1, NULL, 0, dek, sizeof(dek), &blob_noctx, &len2));
	/* another context, a prefix of it, none at all; and a context where there was none */
	r[0] = unwrap_key(kek_a, blob, len, (const uint8_t *)"luks:other", 10, &pt, &pt_len);
	r[1] = unwrap_key(kek_a, blob, len, CTX_A, CTX_A_LEN - 1, &pt, &pt_len);
	r[2] = unwrap_key(kek_a, blob, len, NULL, 0, &pt, &pt_len);
	r[3] = unwrap_key(kek_a, blob_noctx, len2, CTX_A, CTX_A_LEN, &pt, &pt_len);
	/* a NULL context and an empty one are the same context */
	r[4] = unwrap_check(kek_a, blob_noctx, len2, (const uint8_t *)"", 0, dek, sizeof(dek));
	r[5] = unwrap_check(kek_a, blob, len, CTX_A, CTX_A_LEN, dek, sizeof(dek));
	free(blob);
	free(blob_noctx);
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(r[i], -EKEYREJECTED);
	ASSERT_EQ(r[4], 0);
	ASSERT_EQ(r[5], 0);
	/* outputs untouched on failure */
	ASSERT_TRUE(pt == (uint8_t *)1);
	ASSERT_EQ(pt_len, 99);
}

TEST(wrap_wrong_kek)
{
	uint8_t *blob = NULL, kek_c[32];
	size_t len;
	int r1, r2;

	memcpy(kek_c, kek_a, 32);
	kek_c[31] ^= 0x80; /* one bit of the KEK */
	ASSERT_OK(wrap_key(kek_a, "k", 1, CTX_A, CTX_A_LEN, dek, sizeof(dek), &blob, &len));
	r1 = unwrap_check(kek_b, blob, len, CTX_A, CTX_A_LEN, dek, sizeof(dek));
	r2 = unwrap_check(kek_c, blob, len, CTX_A, CTX_A_LEN, dek, sizeof(dek));
	free(blob);
	ASSERT_EQ(r1, -EKEYREJECTED);
	ASSERT_EQ(r2, -EKEYREJECTED);
}

TEST(wrap_every_byte_flip_refused)
{
	uint8_t *blob = NULL;
	size_t len;
	unsigned rejected = 0, malformed = 0;
	int bad = -1, bad_r = 0;

	ASSERT_OK(wrap_key(kek_a, "tenant-kek", 7, CTX_A, CTX_A_LEN, dek, sizeof(dek), &blob,
			   &len));
	for (size_t i = 0; i < len && bad < 0; i++)
		for (unsigned m = 0x01; m <= 0x80 && bad < 0; m <<= 7) {
			int r;

			blob[i] ^= (uint8_t)m;
			r = unwrap_check(kek_a, blob, len, CTX_A, CTX_A_LEN, dek, sizeof(dek));
			blob[i] ^= (uint8_t)m;
			if (r == -EKEYREJECTED)
				rejected++;
			else if (r == -EBADMSG)
				malformed++;
			else
				bad = (int)i, bad_r = r;
		}
	free(blob);
	if (bad >= 0)
		test_fail(__FILE__, __LINE__, "flip at offset %d: unwrap returned %d", bad, bad_r);
	ASSERT_EQ(bad, -1);
	ASSERT_EQ(rejected + malformed, 2 * len);
	/* Most bytes (salt, nonce, ciphertext, tag, version, name) reach the tag check. */
	ASSERT_GT(rejected, len);
}

TEST(wrap_truncated_or_extended_refused)
{
	uint8_t *blob = NULL, *big = NULL;
	struct wrap_info wi;
	size_t len;
	int bad = -1, r_ext, r_ext_parse;

	ASSERT_OK(wrap_key(kek_a, "k1", 2, NULL, 0, dek, 32, &blob, &len));
	for (size_t n = 0; n < len && bad < 0; n++) {
		/* a copy of exactly n bytes, so that ASan sees any read past the end */
		uint8_t *t = malloc(n ? n : 1);

		memcpy(t, blob, n);
		if (unwrap_check(kek_a, t, n, NULL, 0, dek, 32) != -EBADMSG ||
		    wrap_parse(t, n, &wi) != -EBADMSG)
			bad = (int)n;
		free(t);
	}
	big = malloc(len + 1);
	memcpy(big, blob, len);
	big[len] = 0;
	r_ext = unwrap_check(kek_a, big, len + 1, NULL, 0, dek, 32);
	r_ext_parse = wrap_parse(big, len + 1, &wi);
	free(big);
	free(blob);
	ASSERT_EQ(bad, -1);
	ASSERT_EQ(r_ext, -EBADMSG);
	ASSERT_EQ(r_ext_parse, -EBADMSG);
}

TEST(wrap_parse_info)
{
	static const char name[] = "kunde-schlüssel.prod"; /* UTF-8 is allowed */
	uint8_t *blob = NULL;
	struct wrap_info wi = {};
	size_t len;
	int r;

	ASSERT_OK(wrap_key(kek_a, name, 0xfedcba98u, CTX_A, CTX_A_LEN, dek, 48, &blob, &len));
	r = wrap_parse(blob, len, &wi);
	free(blob);
	ASSERT_EQ(r, 0);
	ASSERT_STREQ(wi.kek_name, name);
	ASSERT_EQ(wi.kek_version, 0xfedcba98u);
	ASSERT_EQ(wi.plaintext_len, 48);
}

TEST(wrap_fresh_salt_and_nonce)
{
	uint8_t *a = NULL, *b = NULL;
	size_t la, lb;
	size_t off = 4 + 1 + 1 + 1 + 4; /* salt of a blob for name "k" */
	bool salt_same, nonce_same, ct_same;

	ASSERT_OK(wrap_key(kek_a, "k", 1, NULL, 0, dek, sizeof(dek), &a, &la));
	ASSERT_OK(wrap_key(kek_a, "k", 1, NULL, 0, dek, sizeof(dek), &b, &lb));
	salt_same = memcmp(a + off, b + off, 32) == 0;
	nonce_same = memcmp(a + off + 32, b + off + 32, 12) == 0;
	ct_same = memcmp(a + HDR_FIXED + 1, b + HDR_FIXED + 1, sizeof(dek)) == 0;
	free(a);
	free(b);
	ASSERT_EQ(la, lb);
	ASSERT_FALSE(salt_same);
	ASSERT_FALSE(nonce_same);
	ASSERT_FALSE(ct_same);
}

/*
 * Decrypts a blob the way wrap.h describes the format, with plain OpenSSL calls: this pins the
 * byte layout, the HKDF info and the AAD (header || SHA-256(context)).
 */
static int decrypt_by_spec(const uint8_t *blob, size_t len, const uint8_t *ctx, size_t ctx_len,
			   uint8_t *out)
{
	size_t name_len = blob[5], hdr = HDR_FIXED + name_len, ct_len;
	const uint8_t *salt = blob + 6 + name_len + 4, *nonce = salt + 32;
	uint8_t key[32], h[32], tag[16];
	EVP_CIPHER_CTX *c;
	int n, ok;

	ct_len = le32_get(blob + hdr - 4);
	if (hdr + ct_len + 16 != len ||
	    kdf_hkdf_sha256(kek_a, 32, salt, 32, (const uint8_t *)"vhsm-wrap-v1", 12, key, 32) <
		    0 ||
	    EVP_Digest(ctx, ctx_len, h, NULL, EVP_sha256(), NULL) != 1)
		return -1;
	memcpy(tag, blob + hdr + ct_len, 16);
	c = EVP_CIPHER_CTX_new();
	ok = c && EVP_DecryptInit_ex2(c, EVP_aes_256_gcm(), key, nonce, NULL) == 1 &&
	     EVP_DecryptUpdate(c, NULL, &n, blob, (int)hdr) == 1 &&
	     EVP_DecryptUpdate(c, NULL, &n, h, 32) == 1 &&
	     EVP_DecryptUpdate(c, out, &n, blob + hdr, (int)ct_len) == 1 &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1 &&
	     EVP_DecryptFinal_ex(c, out + n, &n) == 1;
	EVP_CIPHER_CTX_free(c);
	return ok ? (int)ct_len : -1;
}

TEST(wrap_format_matches_spec)
{
	uint8_t *blob = NULL, out[64];
	size_t len;
	int r;

	ASSERT_OK(wrap_key(kek_a, "abc", 0x01020304, CTX_A, CTX_A_LEN, dek, sizeof(dek), &blob,
			   &len));
	ASSERT_MEMEQ(blob, "VHW1", 4);
	ASSERT_EQ(blob[4], 1);
	ASSERT_EQ(blob[5], 3);
	ASSERT_MEMEQ(blob + 6, "abc", 3);
	ASSERT_EQ(le32_get(blob + 9), 0x01020304);
	ASSERT_EQ(le32_get(blob + 9 + 4 + 32 + 12), sizeof(dek));
	r = decrypt_by_spec(blob, len, CTX_A, CTX_A_LEN, out);
	free(blob);
	ASSERT_EQ(r, (int)sizeof(dek));
	ASSERT_MEMEQ(out, dek, sizeof(dek));
}

/* A valid blob for name "k" with the byte at off set to v (or the length fields rewritten). */
static int parse_modified(size_t off, uint8_t v)
{
	uint8_t *blob = NULL;
	struct wrap_info wi;
	size_t len;
	int r;

	r = wrap_key(kek_a, "k", 1, NULL, 0, dek, 16, &blob, &len);
	if (r < 0)
		return -1000;
	blob[off] = v;
	r = wrap_parse(blob, len, &wi);
	free(blob);
	return r;
}

TEST(wrap_parse_malformed)
{
	/* offsets for name "k": magic 0-3, alg 4, name_len 5, name 6, version 7, ct_len 55 */
	ASSERT_EQ(parse_modified(0, 'v'), -EBADMSG);
	ASSERT_EQ(parse_modified(4, 0), -EBADMSG);
	ASSERT_EQ(parse_modified(4, 2), -EBADMSG);
	ASSERT_EQ(parse_modified(5, 0), -EBADMSG);
	ASSERT_EQ(parse_modified(5, 2), -EBADMSG);
	ASSERT_EQ(parse_modified(6, '/'), -EBADMSG);
	ASSERT_EQ(parse_modified(6, 0), -EBADMSG);
	ASSERT_EQ(parse_modified(6, '\n'), -EBADMSG);
	ASSERT_EQ(parse_modified(6, 0xc3), -EBADMSG); /* truncated UTF-8 sequence */
	ASSERT_EQ(parse_modified(55, 0), -EBADMSG);
	ASSERT_EQ(parse_modified(55, 17), -EBADMSG);
	ASSERT_EQ(parse_modified(58, 0x80), -EBADMSG); /* ct_len top byte */
	/* unchanged values still parse: the helper itself is sound */
	ASSERT_EQ(parse_modified(4, 1), 0);
	ASSERT_EQ(parse_modified(6, 'x'), 0);
	ASSERT_EQ(parse_modified(7, 0xff), 0);
}

TEST(wrap_input_limits)
{
	uint8_t *big = calloc(1, WRAP_PLAINTEXT_MAX + 1), *blob = (uint8_t *)1, *pt = NULL;
	char name[WRAP_NAME_MAX + 2];
	size_t len = 0, pt_len;
	int r[12];

	ASSERT_TRUE(big);
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	r[0] = wrap_key(kek_a, "k", 1, NULL, 0, big, WRAP_PLAINTEXT_MAX + 1, &blob, &len);
	r[1] = wrap_key(kek_a, "k", 1, big, WRAP_CONTEXT_MAX + 1, dek, 32, &blob, &len);
	r[2] = wrap_key(kek_a, name, 1, NULL, 0, dek, 32, &blob, &len);
	r[3] = wrap_key(kek_a, "k", 1, NULL, 0, dek, 0, &blob, &len);
	r[4] = wrap_key(kek_a, "", 1, NULL, 0, dek, 32, &blob, &len);
	r[5] = wrap_key(kek_a, "a/b", 1, NULL, 0, dek, 32, &blob, &len);
	r[6] = wrap_key(kek_a, "tab\there", 1, NULL, 0, dek, 32, &blob, &len);
	r[7] = wrap_key(kek_a, "over\xc0\xaflong", 1, NULL, 0, dek, 32, &blob, &len);
	r[8] = wrap_key(kek_a, "k", 1, NULL, 5, dek, 32, &blob, &len);
	r[9] = unwrap_key(kek_a, big, 100, big, WRAP_CONTEXT_MAX + 1, &pt, &pt_len);
	/* the largest name and context are fine */
	name[WRAP_NAME_MAX] = '\0';
	r[10] = wrap_key(kek_a, name, 1, big, WRAP_CONTEXT_MAX, dek, 32, &blob, &len);
	r[11] = r[10] < 0 ? r[10] :
			    unwrap_check(kek_a, blob, len, big, WRAP_CONTEXT_MAX, dek, 32);
	if (r[10] >= 0)
		free(blob);
	free(big);
	ASSERT_EQ(r[0], -EMSGSIZE);
	ASSERT_EQ(r[1], -EMSGSIZE);
	ASSERT_EQ(r[2], -EMSGSIZE);
	for (int i = 3; i <= 8; i++)
		ASSERT_EQ(r[i], -EINVAL);
	ASSERT_EQ(r[9], -EMSGSIZE);
	ASSERT_EQ(r[10], 0);
	ASSERT_EQ(r[11], 0);
	ASSERT_EQ(len, HDR_FIXED + WRAP_NAME_MAX + 32 + 16);
}

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

TEST(kdf_hkdf_rfc5869)
{
	/* RFC 5869 A.1 (test case 1) and A.3 (test case 3: no salt, no info), SHA-256 */
	uint8_t ikm[22], salt[13], info[10], okm[42], want[42];

	memset(ikm, 0x0b, sizeof(ikm));
	ASSERT_EQ(unhex("000102030405060708090a0b0c", salt), 13);
	ASSERT_EQ(unhex("f0f1f2f3f4f5f6f7f8f9", info), 10);
	ASSERT_EQ(unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
			"34007208d5b887185865",
			want),
		  42);
	ASSERT_OK(kdf_hkdf_sha256(ikm, 22, salt, 13, info, 10, okm, 42));
	ASSERT_MEMEQ(okm, want, 42);

	ASSERT_EQ(unhex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
			"9d201395faa4b61a96c8",
			want),
		  42);
	ASSERT_OK(kdf_hkdf_sha256(ikm, 22, NULL, 0, NULL, 0, okm, 42));
	ASSERT_MEMEQ(okm, want, 42);

	ASSERT_EQ(kdf_hkdf_sha256(ikm, 22, NULL, 0, NULL, 0, okm, 0), -EINVAL);
	ASSERT_EQ(kdf_hkdf_sha256(ikm, 22, NULL, 0, NULL, 0, okm, 255 * 32 + 1), -EINVAL);
	ASSERT_EQ(kdf_hkdf_sha256(NULL, 0, NULL, 0, NULL, 0, okm, 32), -EINVAL);
}

TEST(kdf_hkdf_long_info)
{
	/* Sealing passes its whole header (up to ~17 KiB) as info: it must work and matter. */
	uint8_t *info = fill(17000, 3), a[32], b[32];
	int r1, r2;

	ASSERT_TRUE(info);
	r1 = kdf_hkdf_sha256(kek_a, 32, NULL, 0, info, 17000, a, 32);
	info[16999] ^= 1;
	r2 = kdf_hkdf_sha256(kek_a, 32, NULL, 0, info, 17000, b, 32);
	free(info);
	ASSERT_OK(r1);
	ASSERT_OK(r2);
	ASSERT_MEMNE(a, b, 32);
}
