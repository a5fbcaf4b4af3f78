/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wrapping tests: round trips, refusals (wrong KEK, wrong context, every byte flipped, every
 * truncation), and the documented byte layout checked by decrypting with plain OpenSSL calls
 * (HKDF through EVP_KDF, not lib/hkdf.c).
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

/* Fixed part of the v2 header: magic, alg, purpose, name_len, version, salt, nonce, ct_len. */
#define HDR_FIXED (4 + 1 + 1 + 1 + 4 + 32 + 12 + 4)

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

	r = unwrap_key(kek, WRAP_PURPOSE_GENERIC, blob, len, ctx, ctx_len, &pt, &pt_len);
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
		r1 = wrap_key(kek_a, WRAP_PURPOSE_GENERIC, "tenant-kek", 3, NULL, 0, pt, sizes[i],
			      &blob, &len);
		r2 = wrap_key(kek_a, WRAP_PURPOSE_GENERIC, "tenant-kek", 3, CTX_A, CTX_A_LEN, pt,
			      sizes[i], &blob2, &len2);
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

	ASSERT_OK(wrap_key(kek_a, WRAP_PURPOSE_GENERIC, "k", 1, CTX_A, CTX_A_LEN, dek, sizeof(dek),
			   &blob, &len));
	ASSERT_OK(wrap_key(kek_a, WRAP_PURPOSE_GENERIC, "k", 1, NULL, 0, dek, sizeof(dek),
			   &blob_noctx, &len2));
	/* another context, a prefix of it, none at all; and a context where there was none */
	r[0] = unwrap_key(kek_a, WRAP_PURPOSE_GENERIC, blob, len, (const uint8_t *)"luks:other", 10,
			  &pt, &pt_len);
	r[1] = unwrap_key(kek_a, WRAP_PURPOSE_GENERIC, blob, len, CTX_A, CTX_A_LEN - 1, &pt,
			  &pt_len);
	r[2] = unwrap_key(kek_a, WRAP_PURPOSE_GENERIC, blob, len, NULL, 0, &pt, &pt_len);
	r[3] = unwrap_key(kek_a, WRAP_PURPOSE_GENERIC, blob_noctx, len2, CTX_A, CTX_A_LEN, &pt,
			  &pt_len);
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
	ASSERT_OK(wrap_key(kek_a, WRAP_PURPOSE_GENERIC, "k", 1, CTX_A, CTX_A_LEN, dek, sizeof(dek),
			   &blob, &len));
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

	ASSERT_OK(wrap_key(kek_a, WRAP_PURPOSE_GENERIC, "tenant-kek", 7, CTX_A, CTX_A_LEN, dek,
			   sizeof(dek), &blob, &len));
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

	ASSERT_OK(wrap_key(kek_a, WRAP_PURPOSE_GENERIC, "k1", 2, NULL, 0, dek, 32, &blob, &len));
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

	ASSERT_OK(wrap_key(kek_a, WRAP_PURPOSE_GENERIC, name, 0xfedcba98u, CTX_A, CTX_A_LEN, dek,
			   48, &blob, &len));
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

	ASSERT_OK(
		wrap_key(kek_a, WRAP_PURPOSE_GENERIC, "k", 1, NULL, 0, dek, sizeof(dek), &a, &la));
	ASSERT_OK(
		wrap_key(kek_a, WRAP_PURPOSE_GENERIC, "k", 1, NULL, 0, dek, sizeof(dek), &b, &lb));
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
	size_t name_len = blob[6], hdr = HDR_FIXED + name_len, ct_len;
	const uint8_t *salt = blob + 7 + name_len + 4, *nonce = salt + 32;
	uint8_t key[32], h[32], tag[16];
	EVP_CIPHER_CTX *c;
	int n, ok;

	ct_len = le32_get(blob + hdr - 4);
	if (hdr + ct_len + 16 != len ||
	    test_openssl_hkdf(kek_a, 32, salt, 32, (const uint8_t *)"vhsm-wrap-v2", 12, key,
			      32) < 0 ||
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

	ASSERT_OK(wrap_key(kek_a, WRAP_PURPOSE_GENERIC, "abc", 0x01020304, CTX_A, CTX_A_LEN, dek,
			   sizeof(dek), &blob, &len));
	ASSERT_MEMEQ(blob, "VHW2", 4);
	ASSERT_EQ(blob[4], 1);
	ASSERT_EQ(blob[5], WRAP_PURPOSE_GENERIC);
	ASSERT_EQ(blob[6], 3);
	ASSERT_MEMEQ(blob + 7, "abc", 3);
	ASSERT_EQ(le32_get(blob + 10), 0x01020304);
	ASSERT_EQ(le32_get(blob + 10 + 4 + 32 + 12), sizeof(dek));
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

	r = wrap_key(kek_a, WRAP_PURPOSE_GENERIC, "k", 1, NULL, 0, dek, 16, &blob, &len);
	if (r < 0)
		return -1000;
	blob[off] = v;
	r = wrap_parse(blob, len, &wi);
	free(blob);
	return r;
}

TEST(wrap_parse_malformed)
{
	/* offsets for name "k": magic 0-3, alg 4, purpose 5, name_len 6, name 7, version 8,
	 * ct_len 56 */
	ASSERT_EQ(parse_modified(0, 'v'), -EBADMSG);
	ASSERT_EQ(parse_modified(3, '3'), -EBADMSG); /* no format 3 */
	ASSERT_EQ(parse_modified(4, 0), -EBADMSG);
	ASSERT_EQ(parse_modified(4, 2), -EBADMSG);
	ASSERT_EQ(parse_modified(5, 0), -EBADMSG); /* no purpose 0 or 4 */
	ASSERT_EQ(parse_modified(5, 4), -EBADMSG);
	ASSERT_EQ(parse_modified(6, 0), -EBADMSG);
	ASSERT_EQ(parse_modified(6, 2), -EBADMSG);
	ASSERT_EQ(parse_modified(7, '/'), -EBADMSG);
	ASSERT_EQ(parse_modified(7, 0), -EBADMSG);
	ASSERT_EQ(parse_modified(7, '\n'), -EBADMSG);
	ASSERT_EQ(parse_modified(7, 0xc3), -EBADMSG); /* truncated UTF-8 sequence */
	ASSERT_EQ(parse_modified(56, 0), -EBADMSG);
	ASSERT_EQ(parse_modified(56, 17), -EBADMSG);
	ASSERT_EQ(parse_modified(59, 0x80), -EBADMSG); /* ct_len top byte */
	/* unchanged values still parse: the helper itself is sound */
	ASSERT_EQ(parse_modified(4, 1), 0);
	ASSERT_EQ(parse_modified(5, WRAP_PURPOSE_LUKS), 0);
	ASSERT_EQ(parse_modified(7, 'x'), 0);
	ASSERT_EQ(parse_modified(8, 0xff), 0);
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
	r[0] = wrap_key(kek_a, WRAP_PURPOSE_GENERIC, "k", 1, NULL, 0, big, WRAP_PLAINTEXT_MAX + 1,
			&blob, &len);
	r[1] = wrap_key(kek_a, WRAP_PURPOSE_GENERIC, "k", 1, big, WRAP_CONTEXT_MAX + 1, dek, 32,
			&blob, &len);
	r[2] = wrap_key(kek_a, WRAP_PURPOSE_GENERIC, name, 1, NULL, 0, dek, 32, &blob, &len);
	r[3] = wrap_key(kek_a, WRAP_PURPOSE_GENERIC, "k", 1, NULL, 0, dek, 0, &blob, &len);
	r[4] = wrap_key(kek_a, WRAP_PURPOSE_GENERIC, "", 1, NULL, 0, dek, 32, &blob, &len);
	r[5] = wrap_key(kek_a, WRAP_PURPOSE_GENERIC, "a/b", 1, NULL, 0, dek, 32, &blob, &len);
	r[6] = wrap_key(kek_a, WRAP_PURPOSE_GENERIC, "tab\there", 1, NULL, 0, dek, 32, &blob, &len);
	r[7] = wrap_key(kek_a, WRAP_PURPOSE_GENERIC, "over\xc0\xaflong", 1, NULL, 0, dek, 32, &blob,
			&len);
	r[8] = wrap_key(kek_a, WRAP_PURPOSE_GENERIC, "k", 1, NULL, 5, dek, 32, &blob, &len);
	r[9] = unwrap_key(kek_a, WRAP_PURPOSE_GENERIC, big, 100, big, WRAP_CONTEXT_MAX + 1, &pt,
			  &pt_len);
	/* the largest name and context are fine */
	name[WRAP_NAME_MAX] = '\0';
	r[10] = wrap_key(kek_a, WRAP_PURPOSE_GENERIC, name, 1, big, WRAP_CONTEXT_MAX, dek, 32,
			 &blob, &len);
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

/* Wraps dek[0..32) for purpose under ctx, then unwraps it as purpose want. */
static int purpose_roundtrip(enum wrap_purpose purpose, const char *ctx, enum wrap_purpose want)
{
	uint8_t *blob = NULL, *pt = NULL;
	size_t len, pt_len;
	int r;

	r = wrap_key(kek_a, purpose, "k", 1, (const uint8_t *)ctx, strlen(ctx), dek, 32, &blob,
		     &len);
	if (r < 0)
		return r;
	r = unwrap_key(kek_a, want, blob, len, (const uint8_t *)ctx, strlen(ctx), &pt, &pt_len);
	if (r >= 0 && (pt_len != 32 || memcmp(pt, dek, 32) != 0))
		r = -EILSEQ;
	secmem_free(pt);
	free(blob);
	return r;
}

TEST(wrap_purpose_bound)
{
	static const enum wrap_purpose all[] = { WRAP_PURPOSE_GENERIC, WRAP_PURPOSE_DEK,
						 WRAP_PURPOSE_LUKS };

	/* a blob unwraps only as the purpose it was made for, whatever the context */
	for (size_t i = 0; i < ELEMENTSOF(all); i++)
		for (size_t j = 0; j < ELEMENTSOF(all); j++)
			ASSERT_EQ(purpose_roundtrip(all[i], "vol1", all[j]),
				  i == j ? 0 : -EMEDIUMTYPE);
	/* the attack of a LUKS token's secret or a DEK blob fed to the generic unwrap */
	ASSERT_EQ(purpose_roundtrip(WRAP_PURPOSE_LUKS, "vhsm-luks2:0c3e7c9e", WRAP_PURPOSE_GENERIC),
		  -EMEDIUMTYPE);
	ASSERT_EQ(purpose_roundtrip(WRAP_PURPOSE_DEK, "vhsm-dek-v1\nd\n32\n0\n", WRAP_PURPOSE_GENERIC),
		  -EMEDIUMTYPE);
	ASSERT_EQ(purpose_roundtrip(WRAP_PURPOSE_LUKS, "vhsm-luks2:0c3e7c9e", WRAP_PURPOSE_LUKS), 0);
	/* generic wraps cannot mint blobs under the reserved contexts */
	ASSERT_EQ(purpose_roundtrip(WRAP_PURPOSE_GENERIC, "vhsm-luks2:0c3e7c9e", WRAP_PURPOSE_LUKS),
		  -EPERM);
	ASSERT_EQ(purpose_roundtrip(WRAP_PURPOSE_GENERIC, "vhsm-dek-v1\nd", WRAP_PURPOSE_DEK), -EPERM);
	/* other contexts, also ones that merely start like the reserved ones, are caller data */
	ASSERT_EQ(purpose_roundtrip(WRAP_PURPOSE_GENERIC, "vhsm-luks2", WRAP_PURPOSE_GENERIC), 0);
	ASSERT_EQ(purpose_roundtrip(WRAP_PURPOSE_GENERIC, "vhsm-dek-v2", WRAP_PURPOSE_GENERIC), 0);
	ASSERT_EQ(purpose_roundtrip(0, "vol1", 0), -EINVAL);
	ASSERT_EQ(purpose_roundtrip(_WRAP_PURPOSE_MAX, "vol1", _WRAP_PURPOSE_MAX), -EINVAL);
}

TEST(wrap_purpose_v2_rewritten_as_v1_refused)
{
	/* Dropping the purpose byte and the "2" turns a LUKS blob into a well-formed v1 blob;
	 * it must not unwrap under the generic purpose with a context of its choosing, nor as
	 * LUKS (other HKDF info, other AAD). */
	static const char ctx[] = "vhsm-luks2:0c3e7c9e";
	uint8_t *blob = NULL, *pt = NULL;
	size_t len, pt_len;
	int r1, r2;

	ASSERT_OK(wrap_key(kek_a, WRAP_PURPOSE_LUKS, "k", 1, (const uint8_t *)ctx, strlen(ctx), dek,
			   32, &blob, &len));
	blob[3] = '1';
	memmove(blob + 5, blob + 6, len - 6);
	r1 = unwrap_key(kek_a, WRAP_PURPOSE_LUKS, blob, len - 1, (const uint8_t *)ctx, strlen(ctx),
			&pt, &pt_len);
	r2 = unwrap_key(kek_a, WRAP_PURPOSE_GENERIC, blob, len - 1, (const uint8_t *)"x", 1, &pt,
			&pt_len);
	free(blob);
	ASSERT_EQ(r1, -EKEYREJECTED);
	ASSERT_EQ(r2, -EKEYREJECTED);
}

/*
 * Format-1 blobs written by the previous release's wrap_key() (before the purpose byte):
 * KEK 32 x 0x5a, KEK name "old-kek" version 1, plaintext bytes 0..31, under a generic
 * context, a DEK context and a LUKS context. They must keep unwrapping for the purpose their
 * context implies, and only for it.
 */
static const char v1_generic[] =
	"5648573101076f6c642d6b656b01000000b19d9545b8cc540da237237741fabe7d7971e210438f58"
	"109d02af19938f1999bca176e42c07a95ac51510a1200000007454dd423cdeeccf9c8d9f4b22cbc3"
	"c003869968e8d723019ddcef67a7cf18446810718810876615fa6b3d944ff8f319";
static const char v1_dek[] =
	"5648573101076f6c642d6b656b010000009eb48f7809dbbe72725bdfc59301392b07afa53bc9df92"
	"1a512cf79eae578b7375772729b2b89f4c8af95432200000001f8954fa6c939cd7bfc4f0b60c54ce"
	"90c2d180fbefa3c4e46fff3136e54a5a7404810ee17f2acf7d448418726ab27eb5";
static const char v1_luks[] =
	"5648573101076f6c642d6b656b01000000cd575bf5634504ab26981bbc4a9fc599ac7451f81dfd10"
	"7ca47403eb59046bb80fbad553da652275c87dd6da20000000e1b3392fdbea504b07cfdcf5efd594"
	"d008bbeb1d9daa0d8b8bfbee99067242c6e14676707ae83a2d0b42e63d68ad246a";
#define V1_CTX_GENERIC "vol1"
#define V1_CTX_DEK "vhsm-dek-v1\nold-dek\n32\n600\nuid:0:unwrap"
#define V1_CTX_LUKS "vhsm-luks2:0c3e7c9e-9b51-4a2f-8d3c-5e0f1a2b3c4d"

static int v1_unwrap(const char *hex, enum wrap_purpose purpose, const char *ctx)
{
	uint8_t kek[32], blob[256], want[32], *pt = NULL;
	struct wrap_info wi;
	size_t pt_len;
	int n, r;

	memset(kek, 0x5a, sizeof(kek));
	for (size_t i = 0; i < sizeof(want); i++)
		want[i] = (uint8_t)i;
	n = unhex(hex, blob);
	if (n <= 0 || wrap_parse(blob, (size_t)n, &wi) < 0 || wi.format != 1 ||
	    strcmp(wi.kek_name, "old-kek") != 0 || wi.kek_version != 1)
		return -1000;
	r = unwrap_key(kek, purpose, blob, (size_t)n, (const uint8_t *)ctx, strlen(ctx), &pt,
		       &pt_len);
	if (r >= 0 && (pt_len != 32 || memcmp(pt, want, 32) != 0))
		r = -EILSEQ;
	secmem_free(pt);
	return r;
}

TEST(wrap_v1_blobs_keep_their_implied_purpose)
{
	ASSERT_EQ(v1_unwrap(v1_generic, WRAP_PURPOSE_GENERIC, V1_CTX_GENERIC), 0);
	ASSERT_EQ(v1_unwrap(v1_dek, WRAP_PURPOSE_DEK, V1_CTX_DEK), 0);
	ASSERT_EQ(v1_unwrap(v1_luks, WRAP_PURPOSE_LUKS, V1_CTX_LUKS), 0);
	/* the attack on old blobs: a DEK or a keyslot secret through the generic unwrap */
	ASSERT_EQ(v1_unwrap(v1_dek, WRAP_PURPOSE_GENERIC, V1_CTX_DEK), -EMEDIUMTYPE);
	ASSERT_EQ(v1_unwrap(v1_luks, WRAP_PURPOSE_GENERIC, V1_CTX_LUKS), -EMEDIUMTYPE);
	/* nor does a generic v1 blob pass for an internal one */
	ASSERT_EQ(v1_unwrap(v1_generic, WRAP_PURPOSE_LUKS, V1_CTX_GENERIC), -EMEDIUMTYPE);
	ASSERT_EQ(v1_unwrap(v1_generic, WRAP_PURPOSE_DEK, V1_CTX_GENERIC), -EMEDIUMTYPE);
	/* and the context still binds */
	ASSERT_EQ(v1_unwrap(v1_generic, WRAP_PURPOSE_GENERIC, "vol2"), -EKEYREJECTED);
	ASSERT_EQ(v1_unwrap(v1_luks, WRAP_PURPOSE_LUKS, "vhsm-luks2:other"), -EKEYREJECTED);
}
