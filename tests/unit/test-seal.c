/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sealing tests: round trips, every single-byte modification and truncation of a sealed blob,
 * the documented layout (decrypted here with plain OpenSSL calls), limits, profiles, failure
 * explanations, and end to end through the production device layer against the simulator's
 * firmware (strict and author profiles, host change, TCB reseal and rollback).
 */
#include <stdio.h>

#include <openssl/evp.h>

#include "../../sim/sim.h"
#include "seal.h"
#include "secmem.h"
#include "snp-dev.h"
#include "snp-report.h"
#include "test.h"
#include "wrap.h"

static const uint8_t dkey_a[32] = { 0xd1, 0x4e, 0x01, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13 };
static const uint8_t dkey_b[32] = { 0xd1, 0x4e, 0x02, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13 };
/* a KEK-versions record as vhsmd would seal it */
static const uint8_t secret[64] = { 0x5e, 0xc2, 0xe7, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144 };
static const uint8_t pol_digest[32] = { 0x90, 0x11, 0xc7, 0xd1, 0x9e, 0x57 };
static const uint8_t meta[40] = "kek versions 1,2; state enabled; ...";

/* Offsets of the fixed header (see seal.c and docs/sealing.md). */
#define OFF_PROFILE 0x0a
#define OFF_VMPL 0x0b
#define OFF_TCB 0x13
#define OFF_MEASUREMENT 0x1b
#define OFF_LABEL_LEN 0xb3
#define OFF_LABEL 0xb4
#define HDR_FIXED 0xe8

/* A Milan-like report with recognisable fields. */
static struct snp_report test_report(void)
{
	struct snp_tcb t = { .bootloader = 4, .tee = 0, .snp = 22, .microcode = 213 };
	struct snp_report r = {
		.version = 3,
		.guest_svn = 5,
		.policy = 0x30000,
		.vmpl = 1,
	};

	for (int i = 0; i < 48; i++)
		r.measurement[i] = (uint8_t)(0x5a + i);
	for (int i = 0; i < 16; i++) {
		r.family_id[i] = (uint8_t)(0xf0 + i);
		r.image_id[i] = (uint8_t)(0x10 + i);
	}
	for (int i = 0; i < 64; i++)
		r.chip_id[i] = (uint8_t)(i * 3);
	r.committed_tcb = snp_tcb_encode(&t, SNP_PRODUCT_MILAN);
	r.current_tcb = r.reported_tcb = r.committed_tcb;
	return r;
}

static void test_inputs(enum seal_profile prof, struct seal_params *p, struct seal_binding *b)
{
	struct snp_report r = test_report();

	seal_params_from_report(prof, &r, p);
	seal_binding_from_report(&r, pol_digest, b);
}

static uint8_t *fill(size_t n, uint8_t seed)
{
	uint8_t *p = malloc(n);

	for (size_t i = 0; p && i < n; i++)
		p[i] = (uint8_t)(seed ^ (i * 13));
	return p;
}

/* Unseals and compares; returns the unseal result, or -EILSEQ when the plaintext differs. */
static int unseal_check(const uint8_t *key, const uint8_t *blob, size_t len, const uint8_t *want,
			size_t want_len)
{
	uint8_t *pt = NULL;
	size_t pt_len = 0;
	int r;

	r = unseal_blob(key, blob, len, &pt, &pt_len);
	if (r < 0)
		return r;
	if (pt_len != want_len || memcmp(pt, want, want_len) != 0 || secmem_size(pt) < pt_len)
		r = -EILSEQ;
	secmem_free(pt);
	return r;
}

/* A blob of a 64-byte secret under dkey_a, label "kek-1", 40 bytes of meta. */
static int make_blob(enum seal_profile prof, uint8_t **ret, size_t *ret_len)
{
	struct seal_params p;
	struct seal_binding b;

	test_inputs(prof, &p, &b);
	return seal_blob(dkey_a, &p, &b, "kek-1", meta, sizeof(meta), secret, 64, ret, ret_len);
}

TEST(seal_roundtrip_sizes)
{
	static const size_t sizes[] = { 1, 32, 64, SEAL_PLAINTEXT_MAX };
	struct seal_params p;
	struct seal_binding b;

	test_inputs(SEAL_PROFILE_STRICT, &p, &b);
	for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
		uint8_t *pt = fill(sizes[i], (uint8_t)i), *blob = NULL;
		size_t len = 0;
		int r1, r2;

		ASSERT_TRUE(pt);
		r1 = seal_blob(dkey_a, &p, &b, "kek-1", meta, sizeof(meta), pt, sizes[i], &blob,
			       &len);
		r2 = r1 < 0 ? r1 : unseal_check(dkey_a, blob, len, pt, sizes[i]);
		free(pt);
		free(blob);
		ASSERT_EQ(r1, 0);
		ASSERT_EQ(len, HDR_FIXED + 5 + sizeof(meta) + sizes[i] + 16);
		ASSERT_EQ(r2, 0);
	}
}

TEST(seal_roundtrip_largest)
{
	/* Largest label, meta and plaintext together: also the longest HKDF info. */
	uint8_t *pt = fill(SEAL_PLAINTEXT_MAX, 1), *m = fill(SEAL_META_MAX, 2), *blob = NULL;
	char label[SEAL_LABEL_MAX + 1];
	struct seal_params p;
	struct seal_binding b;
	struct seal_header h;
	size_t len = 0;
	int r1, r2, r3;

	ASSERT_TRUE(pt && m);
	memset(label, 'L', SEAL_LABEL_MAX);
	label[SEAL_LABEL_MAX] = '\0';
	test_inputs(SEAL_PROFILE_AUTHOR, &p, &b);
	r1 = seal_blob(dkey_a, &p, &b, label, m, SEAL_META_MAX, pt, SEAL_PLAINTEXT_MAX, &blob,
		       &len);
	r2 = r1 < 0 ? r1 : unseal_check(dkey_a, blob, len, pt, SEAL_PLAINTEXT_MAX);
	r3 = r1 < 0 ? r1 : seal_parse_header(blob, len, &h);
	if (r3 >= 0 && (h.meta_len != SEAL_META_MAX || memcmp(h.meta, m, SEAL_META_MAX) != 0))
		r3 = -EILSEQ;
	free(pt);
	free(m);
	free(blob);
	ASSERT_EQ(r1, 0);
	ASSERT_EQ(r2, 0);
	ASSERT_EQ(r3, 0);
	ASSERT_LE(len, SEAL_BLOB_MAX);
	ASSERT_STREQ(h.label, label);
}

TEST(seal_wrong_key_rejected)
{
	uint8_t *blob = NULL, *pt = (uint8_t *)1, k[32];
	size_t len, pt_len = 7;
	int r1, r2;

	ASSERT_OK(make_blob(SEAL_PROFILE_STRICT, &blob, &len));
	memcpy(k, dkey_a, 32);
	k[17] ^= 0x04;
	r1 = unseal_blob(dkey_b, blob, len, &pt, &pt_len);
	r2 = unseal_blob(k, blob, len, &pt, &pt_len);
	free(blob);
	ASSERT_EQ(r1, -EKEYREJECTED);
	ASSERT_EQ(r2, -EKEYREJECTED);
	ASSERT_TRUE(pt == (uint8_t *)1);
	ASSERT_EQ(pt_len, 7);
}

TEST(seal_every_byte_modification_refused)
{
	static const uint8_t masks[] = { 0x01, 0x80, 0xff };
	uint8_t *blob = NULL;
	size_t len;
	unsigned rejected = 0, malformed = 0, n = 0;
	int bad = -1, bad_r = 0;

	ASSERT_OK(make_blob(SEAL_PROFILE_STRICT, &blob, &len));
	ASSERT_EQ(unseal_check(dkey_a, blob, len, secret, 64), 0);
	for (size_t i = 0; i < len && bad < 0; i++)
		for (size_t m = 0; m < ELEMENTSOF(masks) && bad < 0; m++) {
			int r;

			blob[i] ^= masks[m];
			r = unseal_check(dkey_a, blob, len, secret, 64);
			blob[i] ^= masks[m];
			n++;
			if (r == -EKEYREJECTED)
				rejected++;
			else if (r == -EBADMSG)
				malformed++;
			else
				bad = (int)i, bad_r = r;
		}
	free(blob);
	if (bad >= 0)
		test_fail(__FILE__, __LINE__, "modified byte %d: unseal returned %d", bad, bad_r);
	ASSERT_EQ(bad, -1);
	ASSERT_EQ(rejected + malformed, n);
	/* Only structural bytes may be refused as malformed; the rest must hit the tag check. */
	ASSERT_GT(rejected, malformed);
}

TEST(seal_truncated_or_extended_refused)
{
	uint8_t *blob = NULL, *big;
	struct seal_header h;
	size_t len;
	int bad = -1, r1, r2;

	ASSERT_OK(make_blob(SEAL_PROFILE_AUTHOR, &blob, &len));
	for (size_t n = 0; n < len && bad < 0; n++) {
		/* an exact-size copy, so ASan catches reads past the end */
		uint8_t *t = malloc(n ? n : 1);

		memcpy(t, blob, n);
		if (unseal_check(dkey_a, t, n, secret, 64) != -EBADMSG ||
		    seal_parse_header(t, n, &h) != -EBADMSG)
			bad = (int)n;
		free(t);
	}
	big = malloc(len + 1);
	memcpy(big, blob, len);
	big[len] = 0;
	r1 = unseal_check(dkey_a, big, len + 1, secret, 64);
	r2 = seal_parse_header(big, len + 1, &h);
	free(big);
	free(blob);
	ASSERT_EQ(bad, -1);
	ASSERT_EQ(r1, -EBADMSG);
	ASSERT_EQ(r2, -EBADMSG);
}

TEST(seal_parse_header_fields)
{
	struct seal_params p;
	struct seal_binding b;
	struct seal_header h;
	uint8_t *blob = NULL;
	size_t len;
	int r;

	test_inputs(SEAL_PROFILE_AUTHOR, &p, &b);
	p.vmpl = 2;
	p.guest_svn = 0x01020304;
	p.tcb_version = 0x8877665544332211ull;
	b.guest_policy = 0x1234567890abcdefull;
	ASSERT_OK(seal_blob(dkey_a, &p, &b, "prod-kek.v2", meta, sizeof(meta), secret, 33, &blob,
			    &len));
	r = seal_parse_header(blob, len, &h);
	if (r < 0)
		free(blob);
	ASSERT_EQ(r, 0);
	ASSERT_EQ(h.format, 1);
	ASSERT_EQ(h.params.profile, SEAL_PROFILE_AUTHOR);
	ASSERT_EQ(h.params.vmpl, 2);
	ASSERT_EQ(h.params.guest_svn, 0x01020304);
	ASSERT_TRUE(h.params.tcb_version == 0x8877665544332211ull);
	ASSERT_MEMEQ(&h.binding, &b, sizeof(b));
	ASSERT_STREQ(h.label, "prod-kek.v2");
	ASSERT_EQ(h.meta_len, sizeof(meta));
	ASSERT_TRUE(h.meta == blob + OFF_LABEL + 11 + 4);
	ASSERT_MEMEQ(h.meta, meta, sizeof(meta));
	ASSERT_EQ(h.header_len, HDR_FIXED + 11 + sizeof(meta));
	ASSERT_EQ(h.ciphertext_len, 33);
	free(blob);

	/* no meta at all */
	ASSERT_OK(seal_blob(dkey_a, &p, &b, "x", NULL, 0, secret, 1, &blob, &len));
	r = seal_parse_header(blob, len, &h);
	free(blob);
	ASSERT_EQ(r, 0);
	ASSERT_EQ(h.meta_len, 0);
	ASSERT_EQ(len, HDR_FIXED + 1 + 1 + 16);
}

/*
 * Decrypts a blob as docs/sealing.md describes it, with plain OpenSSL: pins the layout, the
 * HKDF salt and info ("vhsm-seal-v1" || header) and the AAD (the header).
 */
static int decrypt_by_spec(const uint8_t *key, const uint8_t *blob, size_t len, uint8_t *out)
{
	size_t label_len = blob[OFF_LABEL_LEN], meta_len, hdr, ct_len;
	const uint8_t *salt, *nonce;
	uint8_t k[32], tag[16], *info;
	EVP_CIPHER_CTX *c;
	int n, ok;

	meta_len = le32_get(blob + OFF_LABEL + label_len);
	hdr = HDR_FIXED + label_len + meta_len;
	salt = blob + hdr - 48;
	nonce = blob + hdr - 16;
	ct_len = le32_get(blob + hdr - 4);
	if (hdr + ct_len + 16 != len || !(info = malloc(12 + hdr)))
		return -1;
	memcpy(info, "vhsm-seal-v1", 12);
	memcpy(info + 12, blob, hdr);
	ok = test_openssl_hkdf(key, 32, salt, 32, info, 12 + hdr, k, 32) == 0;
	free(info);
	memcpy(tag, blob + hdr + ct_len, 16);
	c = EVP_CIPHER_CTX_new();
	ok = ok && c && EVP_DecryptInit_ex2(c, EVP_aes_256_gcm(), k, nonce, NULL) == 1 &&
	     EVP_DecryptUpdate(c, NULL, &n, blob, (int)hdr) == 1 &&
	     EVP_DecryptUpdate(c, out, &n, blob + hdr, (int)ct_len) == 1 &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1 &&
	     EVP_DecryptFinal_ex(c, out + n, &n) == 1;
	EVP_CIPHER_CTX_free(c);
	return ok ? (int)ct_len : -1;
}

TEST(seal_format_matches_spec)
{
	struct seal_params p;
	struct seal_binding b;
	uint8_t *blob = NULL, out[64];
	size_t len;
	int r;

	test_inputs(SEAL_PROFILE_STRICT, &p, &b);
	ASSERT_OK(seal_blob(dkey_a, &p, &b, "kek-1", meta, sizeof(meta), secret, 64, &blob, &len));
	ASSERT_MEMEQ(blob, "VHSMSEAL", 8);
	ASSERT_EQ(blob[8], 1);
	ASSERT_EQ(blob[9], 0);
	ASSERT_EQ(blob[OFF_PROFILE], 0);
	ASSERT_EQ(le32_get(blob + OFF_VMPL), 1);
	ASSERT_TRUE(le64_get(blob + OFF_TCB) == p.tcb_version);
	ASSERT_MEMEQ(blob + OFF_MEASUREMENT, b.measurement, 48);
	ASSERT_EQ(blob[OFF_LABEL_LEN], 5);
	ASSERT_MEMEQ(blob + OFF_LABEL, "kek-1", 5);
	r = decrypt_by_spec(dkey_a, blob, len, out);
	free(blob);
	ASSERT_EQ(r, 64);
	ASSERT_MEMEQ(out, secret, 64);
}

/* make_blob() with one header byte replaced; returns parse and unseal results. */
static int modified(size_t off, uint8_t v, int *ret_unseal)
{
	uint8_t *blob = NULL;
	struct seal_header h;
	size_t len;
	int r;

	if (make_blob(SEAL_PROFILE_STRICT, &blob, &len) < 0)
		return -1000;
	blob[off] = v;
	r = seal_parse_header(blob, len, &h);
	*ret_unseal = unseal_check(dkey_a, blob, len, secret, 64);
	free(blob);
	return r;
}

TEST(seal_parse_header_strict)
{
	int u;

	ASSERT_EQ(modified(8, 2, &u), -EPROTONOSUPPORT); /* format 2 */
	ASSERT_EQ(u, -EBADMSG);
	ASSERT_EQ(modified(9, 1, &u), -EPROTONOSUPPORT); /* format 0x0101 */
	ASSERT_EQ(modified(8, 0, &u), -EPROTONOSUPPORT);
	ASSERT_EQ(modified(0, 'v', &u), -EBADMSG); /* magic */
	ASSERT_EQ(modified(OFF_PROFILE, 2, &u), -EBADMSG);
	ASSERT_EQ(u, -EBADMSG);
	ASSERT_EQ(modified(OFF_PROFILE, 0xff, &u), -EBADMSG);
	ASSERT_EQ(modified(OFF_VMPL, 4, &u), -EBADMSG);
	ASSERT_EQ(modified(OFF_LABEL_LEN, 0, &u), -EBADMSG);
	ASSERT_EQ(modified(OFF_LABEL + 3, '/', &u), -EBADMSG);
	ASSERT_EQ(modified(OFF_LABEL + 3, 0, &u), -EBADMSG);
	ASSERT_EQ(modified(OFF_LABEL + 3, 0x1b, &u), -EBADMSG);
	ASSERT_EQ(modified(OFF_LABEL + 3, 0xff, &u), -EBADMSG);
	ASSERT_EQ(modified(OFF_LABEL + 5 + 3, 0x01, &u), -EBADMSG); /* meta length > max */
	/* a valid but different profile parses and then fails authentication */
	ASSERT_EQ(modified(OFF_PROFILE, 1, &u), 0);
	ASSERT_EQ(u, -EKEYREJECTED);
	ASSERT_EQ(modified(OFF_VMPL, 3, &u), 0);
	ASSERT_EQ(u, -EKEYREJECTED);
	ASSERT_EQ(modified(OFF_LABEL + 3, 'X', &u), 0);
	ASSERT_EQ(u, -EKEYREJECTED);
}

TEST(seal_input_limits)
{
	uint8_t *big = calloc(1, SEAL_META_MAX + 1), *blob = (uint8_t *)1;
	char label[SEAL_LABEL_MAX + 2];
	struct seal_params p, badp;
	struct seal_binding b;
	size_t len = 0;
	int r[14];

	ASSERT_TRUE(big);
	memset(label, 'a', sizeof(label) - 1);
	label[sizeof(label) - 1] = '\0';
	test_inputs(SEAL_PROFILE_STRICT, &p, &b);
	r[0] = seal_blob(dkey_a, &p, &b, "k", NULL, 0, big, SEAL_PLAINTEXT_MAX + 1, &blob, &len);
	r[1] = seal_blob(dkey_a, &p, &b, "k", big, SEAL_META_MAX + 1, secret, 32, &blob, &len);
	r[2] = seal_blob(dkey_a, &p, &b, label, NULL, 0, secret, 32, &blob, &len);
	r[3] = seal_blob(dkey_a, &p, &b, "", NULL, 0, secret, 32, &blob, &len);
	r[4] = seal_blob(dkey_a, &p, &b, "a/b", NULL, 0, secret, 32, &blob, &len);
	r[5] = seal_blob(dkey_a, &p, &b, "new\nline", NULL, 0, secret, 32, &blob, &len);
	r[6] = seal_blob(dkey_a, &p, &b, "bad\xed\xa0\x80utf8", NULL, 0, secret, 32, &blob, &len);
	r[7] = seal_blob(dkey_a, &p, &b, "k", NULL, 0, secret, 0, &blob, &len);
	r[8] = seal_blob(dkey_a, &p, &b, "k", NULL, 5, secret, 32, &blob, &len);
	badp = p;
	badp.profile = _SEAL_PROFILE_MAX;
	r[9] = seal_blob(dkey_a, &badp, &b, "k", NULL, 0, secret, 32, &blob, &len);
	badp = p;
	badp.vmpl = 4;
	r[10] = seal_blob(dkey_a, &badp, &b, "k", NULL, 0, secret, 32, &blob, &len);
	r[11] = seal_parse_header(big, SEAL_BLOB_MAX + 1, &(struct seal_header){});
	free(big);
	/* blobs with a valid UTF-8 label */
	r[12] = seal_blob(dkey_a, &p, &b, "clé-€-😀", NULL, 0, secret, 32, &blob, &len);
	if (r[12] >= 0)
		free(blob);
	ASSERT_EQ(r[0], -EMSGSIZE);
	ASSERT_EQ(r[1], -EMSGSIZE);
	ASSERT_EQ(r[2], -EMSGSIZE);
	for (int i = 3; i <= 10; i++)
		ASSERT_EQ(r[i], -EINVAL);
	ASSERT_EQ(r[11], -EBADMSG);
	ASSERT_EQ(r[12], 0);
}

TEST(seal_profiles)
{
	struct seal_params p = { .profile = SEAL_PROFILE_STRICT, .vmpl = 1, .guest_svn = 3,
				 .tcb_version = 0xd500000000000004ull };
	struct snp_key_request kr;

	ASSERT_EQ(seal_profile_field_select(SEAL_PROFILE_STRICT), 0x39);
	ASSERT_EQ(seal_profile_field_select(SEAL_PROFILE_AUTHOR), 0x37);
	ASSERT_EQ(seal_profile_field_select(SEAL_PROFILE_STRICT),
		  SNP_FIELD_MEASUREMENT | SNP_FIELD_POLICY | SNP_FIELD_GUEST_SVN |
			  SNP_FIELD_TCB_VERSION);
	ASSERT_EQ(seal_profile_field_select(SEAL_PROFILE_AUTHOR),
		  SNP_FIELD_FAMILY_ID | SNP_FIELD_IMAGE_ID | SNP_FIELD_POLICY |
			  SNP_FIELD_GUEST_SVN | SNP_FIELD_TCB_VERSION);
	ASSERT_EQ(seal_profile_field_select(_SEAL_PROFILE_MAX), 0);
	ASSERT_STREQ(seal_profile_to_string(SEAL_PROFILE_STRICT), "strict");
	ASSERT_STREQ(seal_profile_to_string(SEAL_PROFILE_AUTHOR), "author");
	ASSERT_TRUE(seal_profile_to_string(_SEAL_PROFILE_MAX) == NULL);
	ASSERT_EQ(seal_profile_from_string("strict"), SEAL_PROFILE_STRICT);
	ASSERT_EQ(seal_profile_from_string("author"), SEAL_PROFILE_AUTHOR);
	ASSERT_EQ(seal_profile_from_string("Strict"), _SEAL_PROFILE_INVALID);
	ASSERT_EQ(seal_profile_from_string(""), _SEAL_PROFILE_INVALID);
	ASSERT_EQ(seal_profile_from_string(NULL), _SEAL_PROFILE_INVALID);

	seal_key_request(&p, &kr);
	ASSERT_EQ(kr.root_key_select, 0);
	ASSERT_EQ(kr.key_sel, 0);
	ASSERT_EQ(kr.field_select, 0x39);
	ASSERT_EQ(kr.vmpl, 1);
	ASSERT_EQ(kr.guest_svn, 3);
	ASSERT_TRUE(kr.tcb_version == 0xd500000000000004ull);
	p.profile = SEAL_PROFILE_AUTHOR;
	seal_key_request(&p, &kr);
	ASSERT_EQ(kr.field_select, 0x37);
}

/* A vtpm blob of the 64-byte secret under dkey_a (standing in for the key the TPM object
 * seals), with a 100-byte stand-in TPM object. */
static const uint8_t tpm_obj[100] = { 0x56, 0x54, 0x50, 0x53, 1, 0, 0x80 };

static int make_vtpm_blob(uint8_t **ret, size_t *ret_len)
{
	struct seal_params p;
	struct seal_binding b;

	test_inputs(SEAL_PROFILE_VTPM, &p, &b);
	return seal_blob_vtpm(dkey_a, &p, &b, tpm_obj, sizeof(tpm_obj), "kek-1", meta,
			      sizeof(meta), secret, 64, ret, ret_len);
}

TEST(seal_vtpm_profile_and_object)
{
	struct seal_params p, strict;
	struct seal_binding b;
	struct seal_header h;
	uint8_t *blob = NULL, *x = NULL;
	size_t len, xl;

	ASSERT_STREQ(seal_profile_to_string(SEAL_PROFILE_VTPM), "vtpm");
	ASSERT_EQ(seal_profile_from_string("vtpm"), SEAL_PROFILE_VTPM);
	ASSERT_TRUE(seal_profile_uses_tpm(SEAL_PROFILE_VTPM));
	ASSERT_FALSE(seal_profile_uses_tpm(SEAL_PROFILE_STRICT));
	ASSERT_EQ(seal_profile_field_select(SEAL_PROFILE_VTPM), 0);
	test_inputs(SEAL_PROFILE_VTPM, &p, &b);
	test_inputs(SEAL_PROFILE_STRICT, &strict, &b);
	/* No vtpm blob without its TPM object, and no TPM object in another profile's blob. */
	ASSERT_EQ(seal_blob(dkey_a, &p, &b, "k", NULL, 0, secret, 32, &x, &xl), -EINVAL);
	ASSERT_EQ(seal_blob_vtpm(dkey_a, &strict, &b, tpm_obj, sizeof(tpm_obj), "k", NULL, 0,
				 secret, 32, &x, &xl), -EINVAL);
	ASSERT_EQ(seal_blob_vtpm(dkey_a, &p, &b, tpm_obj, 0, "k", NULL, 0, secret, 32, &x, &xl),
		  -EINVAL);
	ASSERT_TRUE(x == NULL);

	ASSERT_OK(make_vtpm_blob(&blob, &len));
	ASSERT_OK(seal_parse_header(blob, len, &h));
	ASSERT_EQ(h.params.profile, SEAL_PROFILE_VTPM);
	ASSERT_EQ(h.tpm_object_len, sizeof(tpm_obj));
	ASSERT_TRUE(memcmp(h.tpm_object, tpm_obj, sizeof(tpm_obj)) == 0);
	ASSERT_EQ(h.header_len, 0xe8u + 5 + sizeof(meta) + 2 + sizeof(tpm_obj));
	ASSERT_EQ(len, h.header_len + 64 + 16);
	ASSERT_EQ(unseal_check(dkey_a, blob, len, secret, 64), 0);
	ASSERT_EQ(unseal_check(dkey_b, blob, len, secret, 64), -EKEYREJECTED);
	free(blob);
}

TEST(seal_vtpm_every_byte_and_profile_change_refused)
{
	uint8_t *blob = NULL;
	struct seal_header h;
	size_t len, obj_off;
	int bad = -1, bad_r = 0;

	ASSERT_OK(make_vtpm_blob(&blob, &len));
	ASSERT_OK(seal_parse_header(blob, len, &h));
	obj_off = (size_t)(h.tpm_object - blob);
	for (size_t i = 0; i < len && bad < 0; i++) {
		blob[i] ^= 0x01;
		int r = unseal_check(dkey_a, blob, len, secret, 64);
		blob[i] ^= 0x01;
		if (r != -EKEYREJECTED && r != -EBADMSG)
			bad = (int)i, bad_r = r;
		/* The TPM object is authenticated: changing it is caught by the tag. */
		if (i >= obj_off && i < obj_off + h.tpm_object_len && r != -EKEYREJECTED)
			bad = (int)i, bad_r = r;
	}
	if (bad >= 0)
		test_fail(__FILE__, __LINE__, "modified byte %d: unseal returned %d", bad, bad_r);
	ASSERT_EQ(bad, -1);
	/* The profile byte turned to strict or author: never the plaintext, whatever key. */
	for (uint8_t prof = 0; prof < 2; prof++) {
		blob[0x0a] = prof;
		ASSERT_TRUE(unseal_check(dkey_a, blob, len, secret, 64) < 0);
		ASSERT_TRUE(unseal_check(dkey_b, blob, len, secret, 64) < 0);
	}
	free(blob);
}

TEST(seal_params_and_binding_from_report)
{
	struct snp_report r = test_report();
	struct seal_params p;
	struct seal_binding b;
	uint8_t h[32];

	r.current_tcb = r.committed_tcb + 0x0100000000000000ull; /* current differs: not used */
	seal_params_from_report(SEAL_PROFILE_AUTHOR, &r, &p);
	ASSERT_EQ(p.profile, SEAL_PROFILE_AUTHOR);
	ASSERT_EQ(p.vmpl, 1);
	ASSERT_EQ(p.guest_svn, 5);
	ASSERT_TRUE(p.tcb_version == r.committed_tcb);
	seal_binding_from_report(&r, pol_digest, &b);
	ASSERT_EQ(EVP_Digest(r.chip_id, 64, h, NULL, EVP_sha256(), NULL), 1);
	ASSERT_MEMEQ(b.chip_id_sha256, h, 32);
	ASSERT_MEMEQ(b.measurement, r.measurement, 48);
	ASSERT_MEMEQ(b.family_id, r.family_id, 16);
	ASSERT_MEMEQ(b.image_id, r.image_id, 16);
	ASSERT_MEMEQ(b.policy_digest, pol_digest, 32);
	ASSERT_TRUE(b.guest_policy == r.policy);
}

/* The explanation of a blob sealed on test_report() for the CVM described by cur. */
static int explain(enum seal_profile prof, const struct snp_report *cur, char *buf, size_t len)
{
	uint8_t *blob = NULL;
	struct seal_header h;
	size_t blen;
	int r;

	r = make_blob(prof, &blob, &blen);
	if (r >= 0)
		r = seal_parse_header(blob, blen, &h);
	if (r >= 0)
		r = seal_explain_failure(&h, cur, SNP_PRODUCT_MILAN, buf, len);
	free(blob);
	return r;
}

TEST(seal_explain_failure_reasons)
{
	struct snp_report cur;
	struct snp_tcb t;
	char buf[512];

	cur = test_report();
	ASSERT_OK(explain(SEAL_PROFILE_STRICT, &cur, buf, sizeof(buf)));
	ASSERT_STREQ(buf, "the sealed blob was modified or the derived key differs");

	cur.measurement[0] = 0x9c;
	ASSERT_OK(explain(SEAL_PROFILE_STRICT, &cur, buf, sizeof(buf)));
	ASSERT_STREQ(buf, "sealed to measurement 5a5b5c5d5e5f6061..., this CVM runs "
			  "9c5b5c5d5e5f6061...");
	/* the author profile does not bind the measurement */
	ASSERT_OK(explain(SEAL_PROFILE_AUTHOR, &cur, buf, sizeof(buf)));
	ASSERT_STREQ(buf, "the sealed blob was modified or the derived key differs");
	cur.image_id[15] = 0;
	ASSERT_OK(explain(SEAL_PROFILE_AUTHOR, &cur, buf, sizeof(buf)));
	ASSERT_STREQ(buf, "sealed to image ID 101112131415161718191a1b1c1d1e1f, this CVM has "
			  "101112131415161718191a1b1c1d1e00");

	cur = test_report();
	cur.chip_id[63] ^= 1;
	ASSERT_OK(explain(SEAL_PROFILE_AUTHOR, &cur, buf, sizeof(buf)));
	ASSERT_STREQ(buf, "sealed on another chip (host change): restore from escrow");

	cur = test_report();
	ASSERT_OK(snp_tcb_decode(cur.committed_tcb, SNP_PRODUCT_MILAN, &t));
	t.snp--; /* one component lower, others higher: still a rollback */
	t.microcode++;
	cur.committed_tcb = snp_tcb_encode(&t, SNP_PRODUCT_MILAN);
	ASSERT_OK(explain(SEAL_PROFILE_STRICT, &cur, buf, sizeof(buf)));
	ASSERT_STREQ(buf, "TCB rollback: sealed at TCB bl=4 tee=0 snp=22 ucode=213, committed TCB "
			  "is bl=4 tee=0 snp=21 ucode=214");
	/* a newer committed TCB is not a reason */
	t.snp += 2;
	cur.committed_tcb = snp_tcb_encode(&t, SNP_PRODUCT_MILAN);
	ASSERT_OK(explain(SEAL_PROFILE_STRICT, &cur, buf, sizeof(buf)));
	ASSERT_STREQ(buf, "the sealed blob was modified or the derived key differs");

	cur = test_report();
	cur.guest_svn = 4;
	cur.policy |= SNP_POLICY_DEBUG;
	ASSERT_OK(explain(SEAL_PROFILE_STRICT, &cur, buf, sizeof(buf)));
	ASSERT_STREQ(buf, "sealed at guest SVN 5, this CVM launched with 4; sealed under guest "
			  "policy 0x30000, this CVM runs 0xb0000");
}

TEST(seal_explain_failure_small_buffer)
{
	struct snp_report cur = test_report();
	char buf[24];

	memset(buf, 'x', sizeof(buf));
	cur.chip_id[0] ^= 1;
	cur.measurement[1] ^= 1;
	ASSERT_OK(explain(SEAL_PROFILE_STRICT, &cur, buf, sizeof(buf)));
	ASSERT_EQ(strlen(buf), sizeof(buf) - 1);
	ASSERT_TRUE(strncmp(buf, "sealed on another chip", 22) == 0);
	ASSERT_OK(explain(SEAL_PROFILE_STRICT, &cur, buf, 1));
	ASSERT_EQ(buf[0], '\0');
	ASSERT_OK(explain(SEAL_PROFILE_STRICT, &cur, NULL, 0));
}

/* ---- end to end: production device layer, simulated firmware ---- */

/*
 * A transport that hands guest requests straight to the simulator's firmware model for the
 * state in ctx (owned by the test, which edits it to model relaunches and host changes). It
 * skips the simulated CA: reports are signed with the chip's derived VCEK, and no RSA-4096
 * key has to be generated.
 */
static int cvm_guest_request(void *ctx, enum snp_ioctl_nr nr, struct snp_guest_request *io)
{
	const struct sim_state *s = ctx;
	void *req = (void *)(uintptr_t)io->req_data, *resp = (void *)(uintptr_t)io->resp_data;

	if (nr == SNP_IOCTL_GET_DERIVED_KEY) {
		struct snp_derived_key_resp kr;
		int r = sim_fw_derived_key(s, req, &kr);

		if (r >= 0)
			memcpy(resp, &kr, sizeof(kr));
		explicit_bzero(&kr, sizeof(kr));
		return r;
	}
	if (nr == SNP_IOCTL_GET_REPORT) {
		_cleanup_(EVP_PKEY_freep) EVP_PKEY *vcek = NULL;
		struct snp_tcb tcb = sim_state_reported_tcb(s);
		int r = sim_vcek_derive(s, &tcb, &vcek);

		return r < 0 ? r : sim_fw_report(s, vcek, req, resp);
	}
	return -ENOTTY;
}

static void cvm_close(void *ctx)
{
	(void)ctx;
}

static const struct snp_transport_ops cvm_ops = {
	.name = "seal-test",
	.simulated = true,
	.guest_request = cvm_guest_request,
	.close = cvm_close,
};

static int cvm_report(struct sim_state *s, struct snp_report *ret)
{
	_cleanup_(snp_dev_closep) struct snp_dev *d = NULL;
	uint8_t data[64] = { 's', 'e', 'a', 'l' }, raw[SNP_REPORT_SIZE];
	struct snp_status st;
	int r;

	r = snp_dev_open_transport(&cvm_ops, s, &d);
	if (r >= 0)
		r = snp_dev_get_report(d, data, 0, 1, raw, &st);
	return r < 0 ? r : snp_report_parse(raw, sizeof(raw), ret);
}

/* The derived key for p, in fresh secmem. */
static int cvm_derive(struct sim_state *s, const struct seal_params *p, uint8_t **ret,
		      struct snp_status *ret_st)
{
	_cleanup_(snp_dev_closep) struct snp_dev *d = NULL;
	_cleanup_secmem_ uint8_t *key = secmem_alloc(32);
	struct snp_key_request kr;
	int r;

	if (!key)
		return -ENOMEM;
	seal_key_request(p, &kr);
	r = snp_dev_open_transport(&cvm_ops, s, &d);
	if (r >= 0)
		r = snp_dev_get_derived_key(d, &kr, key, ret_st);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(key);
	return 0;
}

/* What vhsmd does to seal a KEK: fresh report, params and binding from it, derive, seal. */
static int cvm_seal(struct sim_state *s, enum seal_profile prof, const uint8_t *pt,
		    size_t pt_len, uint8_t **ret, size_t *ret_len)
{
	_cleanup_secmem_ uint8_t *key = NULL;
	struct snp_report rep;
	struct seal_params p;
	struct seal_binding b;
	struct snp_status st;
	int r;

	r = cvm_report(s, &rep);
	if (r < 0)
		return r;
	seal_params_from_report(prof, &rep, &p);
	seal_binding_from_report(&rep, pol_digest, &b);
	r = cvm_derive(s, &p, &key, &st);
	if (r < 0)
		return r;
	return seal_blob(key, &p, &b, "tenant-kek", NULL, 0, pt, pt_len, ret, ret_len);
}

/* ... and to unseal: the key request comes from the blob's header. */
static int cvm_unseal(struct sim_state *s, const uint8_t *blob, size_t len, const uint8_t *want,
		      size_t want_len, struct snp_status *ret_st)
{
	_cleanup_secmem_ uint8_t *key = NULL;
	struct seal_header h;
	int r;

	r = seal_parse_header(blob, len, &h);
	if (r >= 0)
		r = cvm_derive(s, &h.params, &key, ret_st);
	return r < 0 ? r : unseal_check(key, blob, len, want, want_len);
}

static int cvm_explain(struct sim_state *s, const uint8_t *blob, size_t len, char *buf,
		       size_t buf_len)
{
	struct snp_report rep;
	struct seal_header h;
	int r;

	r = seal_parse_header(blob, len, &h);
	if (r >= 0)
		r = cvm_report(s, &rep);
	return r < 0 ? r : seal_explain_failure(&h, &rep, s->product, buf, buf_len);
}

static int cvm_new(struct sim_state **ret)
{
	_cleanup_(sim_state_freep) struct sim_state *s = NULL;
	int r;

	r = sim_state_new(SNP_PRODUCT_MILAN, &s);
	if (r < 0)
		return r;
	s->guest_svn = 2;
	memset(s->family_id, 0xfa, sizeof(s->family_id));
	memset(s->image_id, 0x1d, sizeof(s->image_id));
	*ret = TAKE_PTR(s);
	return 0;
}

TEST(seal_sim_strict_profile)
{
	_cleanup_(sim_state_freep) struct sim_state *s = NULL;
	uint8_t *blob = NULL;
	struct snp_status st;
	size_t len;
	char why[256] = "";
	int r[3];

	ASSERT_OK(cvm_new(&s));
	ASSERT_OK(cvm_seal(s, SEAL_PROFILE_STRICT, secret, 32, &blob, &len));
	r[0] = cvm_unseal(s, blob, len, secret, 32, &st);
	/* relaunch of a re-measured image: same chip, family and image ID */
	s->measurement[47] ^= 0x01;
	r[1] = cvm_unseal(s, blob, len, secret, 32, &st);
	r[2] = cvm_explain(s, blob, len, why, sizeof(why));
	free(blob);
	ASSERT_EQ(r[0], 0);
	ASSERT_EQ(r[1], -EKEYREJECTED);
	ASSERT_EQ(r[2], 0);
	ASSERT_TRUE(strncmp(why, "sealed to measurement ", 22) == 0);
}

TEST(seal_sim_author_profile)
{
	_cleanup_(sim_state_freep) struct sim_state *s = NULL;
	uint8_t *blob = NULL;
	struct snp_status st;
	size_t len;
	char why[256] = "", why2[256] = "";
	int r[6];

	ASSERT_OK(cvm_new(&s));
	ASSERT_OK(cvm_seal(s, SEAL_PROFILE_AUTHOR, secret, 64, &blob, &len));
	r[0] = cvm_unseal(s, blob, len, secret, 64, &st);
	/* a re-measured update signed by the same ID-block author still unseals */
	s->measurement[0] ^= 0xff;
	r[1] = cvm_unseal(s, blob, len, secret, 64, &st);
	/* another image ID does not */
	s->image_id[0] ^= 0x01;
	r[2] = cvm_unseal(s, blob, len, secret, 64, &st);
	r[3] = cvm_explain(s, blob, len, why, sizeof(why));
	/* back to the sealed image, but on another host: another chip secret and CHIP_ID */
	s->image_id[0] ^= 0x01;
	s->chip_secret[5] ^= 0x10;
	s->chip_id[0] ^= 0x10;
	r[4] = cvm_unseal(s, blob, len, secret, 64, &st);
	r[5] = cvm_explain(s, blob, len, why2, sizeof(why2));
	free(blob);
	ASSERT_EQ(r[0], 0);
	ASSERT_EQ(r[1], 0);
	ASSERT_EQ(r[2], -EKEYREJECTED);
	ASSERT_EQ(r[3], 0);
	ASSERT_TRUE(strncmp(why, "sealed to image ID ", 19) == 0);
	ASSERT_EQ(r[4], -EKEYREJECTED);
	ASSERT_EQ(r[5], 0);
	ASSERT_STREQ(why2, "sealed on another chip (host change): restore from escrow");
}

TEST(seal_sim_reseal_and_rollback)
{
	_cleanup_(sim_state_freep) struct sim_state *s = NULL;
	struct snp_tcb old_tcb;
	uint8_t *blob1 = NULL, *blob2 = NULL;
	struct snp_status st = {};
	size_t len1, len2;
	char why[256] = "";
	int r[6];

	ASSERT_OK(cvm_new(&s));
	old_tcb = s->committed_tcb;
	ASSERT_OK(cvm_seal(s, SEAL_PROFILE_STRICT, secret, 32, &blob1, &len1));
	/* firmware update: the old blob still unseals (its TCB is below the committed one) */
	s->current_tcb.snp++;
	s->committed_tcb.snp++;
	r[0] = cvm_unseal(s, blob1, len1, secret, 32, &st);
	/* reseal at the new TCB */
	r[1] = cvm_seal(s, SEAL_PROFILE_STRICT, secret, 32, &blob2, &len2);
	/* rollback to the old firmware: the firmware refuses to derive the newer key */
	s->current_tcb = s->committed_tcb = old_tcb;
	r[2] = r[1] < 0 ? r[1] : cvm_unseal(s, blob2, len2, secret, 32, &st);
	r[3] = r[1] < 0 ? r[1] : cvm_explain(s, blob2, len2, why, sizeof(why));
	/* and the key the old firmware can derive does not open the new blob */
	r[4] = -1;
	if (r[1] >= 0) {
		_cleanup_secmem_ uint8_t *k = NULL;
		struct seal_header h;
		struct snp_status st2;

		r[4] = seal_parse_header(blob2, len2, &h);
		h.params.tcb_version = snp_tcb_encode(&old_tcb, s->product);
		if (r[4] >= 0)
			r[4] = cvm_derive(s, &h.params, &k, &st2);
		if (r[4] >= 0)
			r[4] = unseal_check(k, blob2, len2, secret, 32);
	}
	r[5] = cvm_unseal(s, blob1, len1, secret, 32, &(struct snp_status){});
	free(blob1);
	free(blob2);
	ASSERT_EQ(r[0], 0);
	ASSERT_EQ(r[1], 0);
	ASSERT_EQ(r[2], -EREMOTEIO);
	ASSERT_EQ(st.msg_status, SNP_FW_INVALID_PARAM);
	ASSERT_EQ(r[3], 0);
	ASSERT_TRUE(strncmp(why, "TCB rollback: ", 14) == 0);
	ASSERT_EQ(r[4], -EKEYREJECTED);
	ASSERT_EQ(r[5], 0);
}
