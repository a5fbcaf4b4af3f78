/* SPDX-License-Identifier: Apache-2.0 */
/* lib/report-evidence: an evidence file's report member opens as an SNP report (REPORT_DATA
 * bound) or as the genuine Azure HCL report (the claims' user data bound, after the claims
 * binding); tampered, truncated, oversized or foreign input is refused, naming the step. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "hcl-report.h"
#include "report-evidence.h"
#include "test.h"

#define HCL_VEC "milan-v2-azure-hcl-trustee/orig/hcl-report.bin"
#define SNP_VEC "milan-v2-trustee/report.bin"
#define CLAIMS_OFF 0x4D4u
#define UD_HEX "\"user-data\":\""

/*
 * An HCL report like the vector's with other claims: the sizes rewritten and REPORT_DATA the
 * SHA-256 of the claims, as a paravisor would make it (the AMD signature no longer verifies,
 * which report_evidence_open does not check). *len: its length. malloc.
 */
static uint8_t *hcl_with_claims(const uint8_t *vec, const char *claims, size_t *len)
{
	size_t cl = strlen(claims), total = CLAIMS_OFF + cl;
	uint8_t *b = calloc(1, total);
	unsigned int n = 0;

	if (!b)
		return NULL;
	memcpy(b, vec, CLAIMS_OFF);
	memcpy(b + CLAIMS_OFF, claims, cl);
	le32_put(b + 8, (uint32_t)total);
	le32_put(b + 0x4C0, (uint32_t)(HCL_RUNTIME_HEADER_SIZE + cl));
	le32_put(b + 0x4D0, (uint32_t)cl);
	memset(b + 0x20 + SNP_R_REPORT_DATA, 0, 64);
	if (!EVP_Digest(claims, cl, b + 0x20 + SNP_R_REPORT_DATA, &n, EVP_sha256(), NULL)) {
		free(b);
		return NULL;
	}
	*len = total;
	return b;
}

/* The vector's claims (NUL-terminated, malloc). */
static char *vec_claims(const uint8_t *vec)
{
	return strndup((const char *)vec + CLAIMS_OFF, le32_get(vec + 0x4D0));
}

TEST(report_evidence_genuine_hcl)
{
	size_t len = 0;
	_cleanup_free_ uint8_t *buf = test_read_file(test_vector(HCL_VEC), &len);
	static const uint8_t zero[64];
	struct report_evidence e;
	struct report_evidence_error err = {};
	uint8_t ak[32];
	unsigned int n;

	ASSERT_EQ(report_evidence_open(buf, len, &e, &err), 0);
	ASSERT_TRUE(e.hcl);
	ASSERT_TRUE(e.snp_report == buf + HCL_HEADER_SIZE);
	ASSERT_EQ(e.hcl_version, 1);
	ASSERT_EQ(e.hash_type, HCL_HASH_SHA256);
	/* The genuine report was made with all-zero user data: that is what it binds. */
	ASSERT_TRUE(memcmp(e.bound, zero, 64) == 0);
	ASSERT_STREQ(e.claims.vm_unique_id, "911B0EF8-9DBA-48B0-B275-4E4DF2D39252");
	ASSERT_TRUE(EVP_Digest(e.claims.ak_spki, e.claims.ak_spki_len, ak, &n, EVP_sha256(), NULL));
	ASSERT_TRUE(memcmp(ak, e.ak_sha256, 32) == 0);
	/* Not REPORT_DATA: that is the hash of the claims. */
	ASSERT_FALSE(memcmp(e.bound, buf + HCL_HEADER_SIZE + SNP_R_REPORT_DATA, 64) == 0);
	/* Read to its own size (without the NV index's zero padding) it opens alike. */
	ASSERT_EQ(report_evidence_open(buf, CLAIMS_OFF + 1110, &e, &err), 0);
	ASSERT_TRUE(e.hcl);
}

TEST(report_evidence_binds_the_user_data)
{
	size_t len = 0, hl = 0;
	_cleanup_free_ uint8_t *vec = test_read_file(test_vector(HCL_VEC), &len);
	_cleanup_free_ char *claims = vec_claims(vec);
	struct report_evidence e;
	uint8_t want[64];

	ASSERT_TRUE(claims != NULL);
	char *ud = strstr(claims, UD_HEX);
	ASSERT_TRUE(ud != NULL);
	ud += strlen(UD_HEX);
	for (size_t i = 0; i < 64; i++) {
		want[i] = (uint8_t)(0xa0 + i);
		ud[2 * i] = "0123456789abcdef"[want[i] >> 4];
		ud[2 * i + 1] = "0123456789ABCDEF"[want[i] & 15];
	}
	_cleanup_free_ uint8_t *h = hcl_with_claims(vec, claims, &hl);
	ASSERT_TRUE(h != NULL);
	ASSERT_EQ(report_evidence_open(h, hl, &e, NULL), 0);
	ASSERT_TRUE(e.hcl);
	ASSERT_TRUE(memcmp(e.bound, want, 64) == 0);
	/* Padded with zeros to the NV index size: the same. */
	_cleanup_free_ uint8_t *padded = calloc(1, 2600);
	ASSERT_TRUE(padded != NULL);
	memcpy(padded, h, hl);
	ASSERT_EQ(report_evidence_open(padded, 2600, &e, NULL), 0);
	ASSERT_TRUE(memcmp(e.bound, want, 64) == 0);
	/* Padding that is not zero: refused at the layout. */
	padded[2599] = 1;
	struct report_evidence_error err = {};
	ASSERT_EQ(report_evidence_open(padded, 2600, &e, &err), -EBADMSG);
	ASSERT_EQ(err.step, REPORT_EVIDENCE_HCL_PARSE);
}

TEST(report_evidence_snp_report)
{
	size_t len = 0;
	_cleanup_free_ uint8_t *buf = test_read_file(test_vector(SNP_VEC), &len);
	struct report_evidence e;

	ASSERT_EQ(len, SNP_REPORT_SIZE);
	ASSERT_EQ(report_evidence_open(buf, len, &e, NULL), 0);
	ASSERT_FALSE(e.hcl);
	ASSERT_TRUE(e.snp_report == buf);
	ASSERT_TRUE(memcmp(e.bound, buf + SNP_R_REPORT_DATA, 64) == 0);
	/* Any REPORT_DATA is what it binds: the caller's binding check decides. */
	buf[SNP_R_REPORT_DATA + 5] ^= 0x40;
	ASSERT_EQ(report_evidence_open(buf, len, &e, NULL), 0);
	ASSERT_TRUE(memcmp(e.bound, buf + SNP_R_REPORT_DATA, 64) == 0);
}

TEST(report_evidence_tampered_hcl_refused)
{
	size_t len = 0;
	_cleanup_free_ uint8_t *buf = test_read_file(test_vector(HCL_VEC), &len);
	struct report_evidence e, keep;
	struct report_evidence_error err = {};

	memset(&keep, 0x77, sizeof(keep));
	e = keep;
	/* A claim changed (vmUniqueId, still valid JSON): no longer the claims REPORT_DATA binds. */
	char *id = strstr((char *)buf + CLAIMS_OFF, "911B0EF8");
	ASSERT_TRUE(id != NULL);
	id[0] = '8';
	ASSERT_EQ(report_evidence_open(buf, len, &e, &err), -EKEYREJECTED);
	ASSERT_EQ(err.step, REPORT_EVIDENCE_BINDING);
	ASSERT_STREQ(report_evidence_step_name(err.step), "claims_binding");
	ASSERT_TRUE(strstr(err.detail, "hash of the claims") != NULL);
	ASSERT_TRUE(memcmp(&e, &keep, sizeof(e)) == 0); /* untouched on failure */
	id[0] = '9';
	/* The user data changed to bind other evidence: the same. */
	char *ud = strstr((char *)buf + CLAIMS_OFF, UD_HEX);
	ASSERT_TRUE(ud != NULL);
	ud[strlen(UD_HEX) + 10] = '1';
	ASSERT_EQ(report_evidence_open(buf, len, &e, &err), -EKEYREJECTED);
	ASSERT_EQ(err.step, REPORT_EVIDENCE_BINDING);
	ud[strlen(UD_HEX) + 10] = '0';
	/* One bit of REPORT_DATA flipped, anywhere in its 64 bytes. */
	for (size_t i = 0; i < 64; i++) {
		buf[HCL_HEADER_SIZE + SNP_R_REPORT_DATA + i] ^= 0x01;
		if (report_evidence_open(buf, len, &e, &err) != -EKEYREJECTED ||
		    err.step != REPORT_EVIDENCE_BINDING)
			test_fail(__FILE__, __LINE__, "REPORT_DATA byte %zu flipped accepted", i);
		buf[HCL_HEADER_SIZE + SNP_R_REPORT_DATA + i] ^= 0x01;
	}
	ASSERT_EQ(report_evidence_open(buf, len, &e, &err), 0);
}

TEST(report_evidence_hcl_without_user_data_refused)
{
	size_t len = 0, hl = 0;
	_cleanup_free_ uint8_t *vec = test_read_file(test_vector(HCL_VEC), &len);
	_cleanup_free_ char *claims = vec_claims(vec);
	struct report_evidence e;
	struct report_evidence_error err = {};

	ASSERT_TRUE(claims != NULL);
	char *ud = strstr(claims, "," UD_HEX);
	ASSERT_TRUE(ud != NULL);
	strcpy(ud, "}"); /* the claims without "user-data", correctly bound */
	_cleanup_free_ uint8_t *h = hcl_with_claims(vec, claims, &hl);
	ASSERT_TRUE(h != NULL);
	ASSERT_EQ(report_evidence_open(h, hl, &e, &err), -EBADMSG);
	ASSERT_EQ(err.step, REPORT_EVIDENCE_USER_DATA);
	ASSERT_STREQ(report_evidence_step_name(err.step), "user_data");
	ASSERT_TRUE(strstr(err.detail, "no user-data") != NULL);

	/* Claims without an AK: refused at the claims, naming the reason. */
	_cleanup_free_ uint8_t *noak = hcl_with_claims(vec, "{\"keys\":[],\"vm-configuration\":{}}",
						       &hl);
	ASSERT_TRUE(noak != NULL);
	ASSERT_EQ(report_evidence_open(noak, hl, &e, &err), -EBADMSG);
	ASSERT_EQ(err.step, REPORT_EVIDENCE_CLAIMS);
	ASSERT_TRUE(strstr(err.detail, "HCLAkPub") != NULL);
}

TEST(report_evidence_malformed_refused)
{
	size_t len = 0, slen = 0;
	_cleanup_free_ uint8_t *buf = test_read_file(test_vector(HCL_VEC), &len);
	_cleanup_free_ uint8_t *snp = test_read_file(test_vector(SNP_VEC), &slen);
	_cleanup_free_ uint8_t *big = calloc(1, REPORT_EVIDENCE_MAX + 2);
	struct report_evidence e;
	struct report_evidence_error err = {};

	ASSERT_TRUE(big != NULL);
	/* Truncated anywhere: the HCL layout does not hold. */
	for (size_t n = 4; n < CLAIMS_OFF + 1110; n += 29) {
		if (n == SNP_REPORT_SIZE)
			continue; /* exactly 1184 bytes is an SNP report, below */
		err.step = _REPORT_EVIDENCE_STEP_INVALID;
		if (report_evidence_open(buf, n, &e, &err) != -EBADMSG ||
		    err.step != REPORT_EVIDENCE_HCL_PARSE)
			test_fail(__FILE__, __LINE__, "HCL report cut to %zu accepted", n);
	}
	/* An HCL report cut to 1184 bytes is taken as an SNP report, whose signature then fails
	 * (its "REPORT_DATA" is bytes of the HCL report, not a binding anyone made). */
	ASSERT_EQ(report_evidence_open(buf, SNP_REPORT_SIZE, &e, &err), 0);
	ASSERT_FALSE(e.hcl);
	/* SNP reports cut short or lengthened. */
	ASSERT_EQ(report_evidence_open(snp, slen - 1, &e, &err), -EBADMSG);
	ASSERT_EQ(err.step, REPORT_EVIDENCE_FORMAT);
	ASSERT_TRUE(strstr(err.detail, "neither an SNP report") != NULL);
	memcpy(big, snp, slen);
	ASSERT_EQ(report_evidence_open(big, slen + 1, &e, &err), -EBADMSG);
	ASSERT_EQ(err.step, REPORT_EVIDENCE_FORMAT);
	ASSERT_EQ(report_evidence_open(big, 0, &e, &err), -EBADMSG);
	ASSERT_EQ(report_evidence_open(NULL, 0, &e, &err), -EBADMSG);
	/* Oversized, HCL or not. */
	memset(big, 0, REPORT_EVIDENCE_MAX + 2);
	ASSERT_EQ(report_evidence_open(big, REPORT_EVIDENCE_MAX + 1, &e, &err), -EMSGSIZE);
	ASSERT_EQ(err.step, REPORT_EVIDENCE_FORMAT);
	memcpy(big, buf, len);
	ASSERT_EQ(report_evidence_open(big, REPORT_EVIDENCE_MAX + 1, &e, &err), -EMSGSIZE);
	ASSERT_EQ(err.step, REPORT_EVIDENCE_HCL_PARSE);
	/* At the limit, zero-padded: still the genuine report. */
	ASSERT_EQ(report_evidence_open(big, REPORT_EVIDENCE_MAX, &e, &err), 0);
	ASSERT_TRUE(e.hcl);
	/* Garbage: random-looking bytes with and without the signature. */
	for (size_t i = 0; i < 2600; i++)
		big[i] = (uint8_t)(i * 151u + 7u);
	ASSERT_EQ(report_evidence_open(big, 2600, &e, &err), -EBADMSG);
	ASSERT_EQ(err.step, REPORT_EVIDENCE_FORMAT);
	memcpy(big, "HCLA", 4);
	ASSERT_EQ(report_evidence_open(big, 2600, &e, &err), -EBADMSG);
	ASSERT_EQ(err.step, REPORT_EVIDENCE_HCL_PARSE);
	/* Every step has a name; out of range has none. */
	for (int s = 0; s < _REPORT_EVIDENCE_STEP_MAX; s++)
		ASSERT_TRUE(report_evidence_step_name(s) != NULL);
	ASSERT_TRUE(report_evidence_step_name(_REPORT_EVIDENCE_STEP_MAX) == NULL);
}
