/* SPDX-License-Identifier: Apache-2.0 */
/* lib/hcl-report: the genuine Azure HCL report parses, binds its claims and verifies; every
 * tampering fails; lib/hcl-attest: the claims and the whole verification. */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>

#include "amd-cert.h"
#include "collateral.h"
#include "hcl-attest.h"
#include "openssl-util.h"
#include "hcl-report.h"
#include "snp-verify.h"
#include "test.h"

#define HCL_VEC "milan-v2-azure-hcl-trustee/orig/hcl-report.bin"

static int verify_embedded(const struct hcl_report *h)
{
	size_t vl = 0;
	_cleanup_free_ uint8_t *pem = test_read_file(
		test_vector("milan-v2-azure-hcl-trustee/vcek.pem"), &vl);
	_cleanup_free_ uint8_t *vcek = NULL;
	size_t vcek_len = 0;
	struct snp_verify_result vr;

	if (amd_cert_to_der(pem, vl, &vcek, &vcek_len) < 0)
		return -EIO;
	const struct snp_evidence ev = {
		.report = h->snp_report, .report_len = SNP_REPORT_SIZE,
		.vek = vcek, .vek_len = vcek_len,
	};
	/* the vector's VCEK is valid until 2030 */
	const struct snp_verify_opts vo = { .at = 1735689600 };
	return snp_verify(&ev, &vo, &vr);
}

TEST(hcl_genuine_report)
{
	size_t len = 0;
	_cleanup_free_ uint8_t *buf = test_read_file(test_vector(HCL_VEC), &len);
	struct hcl_report h;

	ASSERT_EQ(len, 2600);
	ASSERT_EQ(hcl_report_parse(buf, len, &h), 0);
	ASSERT_EQ(h.version, 1);
	ASSERT_EQ(h.hash_type, HCL_HASH_SHA256);
	ASSERT_EQ(h.claims_len, 1110);
	ASSERT_TRUE(memcmp(h.claims, "{\"keys\":[", 9) == 0);
	ASSERT_TRUE(h.snp_report == buf + 0x20);
	ASSERT_EQ(hcl_report_check_binding(&h), 0);
	ASSERT_EQ(verify_embedded(&h), 0);
}

TEST(hcl_tampered_reports_fail)
{
	size_t len = 0;
	_cleanup_free_ uint8_t *buf = test_read_file(test_vector(HCL_VEC), &len);
	struct hcl_report h;

	/* A changed claim (e.g. another AK, "tpm-persisted" flipped) breaks the binding. */
	uint8_t *claims = buf + 0x4D4;
	claims[100] ^= 0x01;
	ASSERT_EQ(hcl_report_parse(buf, len, &h), 0);
	ASSERT_EQ(hcl_report_check_binding(&h), -EKEYREJECTED);
	claims[100] ^= 0x01;
	/* A changed REPORT_DATA binds, but the AMD signature no longer verifies. */
	buf[0x20 + 0x50] ^= 0x80;
	ASSERT_EQ(hcl_report_parse(buf, len, &h), 0);
	ASSERT_EQ(hcl_report_check_binding(&h), -EKEYREJECTED);
	ASSERT_EQ(verify_embedded(&h), -EKEYREJECTED);
	buf[0x20 + 0x50] ^= 0x80;
	/* The measurement changed: the signature fails. */
	buf[0x20 + 0x90] ^= 0x01;
	ASSERT_EQ(hcl_report_parse(buf, len, &h), 0);
	ASSERT_EQ(verify_embedded(&h), -EKEYREJECTED);
	buf[0x20 + 0x90] ^= 0x01;
	ASSERT_EQ(hcl_report_parse(buf, len, &h), 0);
	ASSERT_EQ(verify_embedded(&h), 0);
}

TEST(hcl_malformed_reports_refused)
{
	size_t len = 0;
	_cleanup_free_ uint8_t *buf = test_read_file(test_vector(HCL_VEC), &len);
	struct hcl_report h;
	/* offset, xor: signature, version, total size, request type, reserved, runtime size,
	 * runtime version, report type, hash type, claims size, padding, claims JSON */
	static const struct { size_t off; uint8_t x; } flips[] = {
		{ 0x000, 0x01 }, { 0x004, 0x04 }, { 0x008, 0x01 }, { 0x00C, 0x01 }, { 0x014, 0x01 },
		{ 0x4C0, 0x01 }, { 0x4C4, 0x02 }, { 0x4C8, 0x01 }, { 0x4CC, 0x04 }, { 0x4D0, 0x01 },
		{ 2599, 0x01 }, { 0x4D4, 0x01 },
	};

	for (size_t i = 0; i < ELEMENTSOF(flips); i++) {
		buf[flips[i].off] ^= flips[i].x;
		if (hcl_report_parse(buf, len, &h) != -EBADMSG)
			test_fail(__FILE__, __LINE__, "flip at 0x%zx accepted", flips[i].off);
		buf[flips[i].off] ^= flips[i].x;
	}
	ASSERT_EQ(hcl_report_parse(buf, len, &h), 0);
	/* Truncated anywhere before the end of the claims. */
	for (size_t n = 0; n < 0x4D4 + 1110; n += 37)
		if (hcl_report_parse(buf, n, &h) != -EBADMSG)
			test_fail(__FILE__, __LINE__, "truncation to %zu accepted", n);
	/* Without the zero padding it still parses (a report read to its own size). */
	ASSERT_EQ(hcl_report_parse(buf, 0x4D4 + 1110, &h), 0);
	ASSERT_EQ(hcl_report_parse(buf, HCL_REPORT_MAX + 1, &h), -EMSGSIZE);
}

/* Appends s to json as a JSON string body (newlines escaped). */
static size_t json_str(char *json, size_t cap, size_t n, const uint8_t *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		n += (size_t)snprintf(json + n, cap - n, s[i] == '\n' ? "\\n" : "%c", s[i]);
	return n;
}

/* A collateral cache filled from THIM JSON made of the vector's VCEK and chain, the way
 * Azure's instance metadata service hands them out. */
static const char *thim_cache(void)
{
	const char *dir = test_tmpdir();
	size_t vl = 0, kl = 0, al = 0, n = 0;
	_cleanup_free_ uint8_t *vcek = test_read_file(
		test_vector("milan-v2-azure-hcl-trustee/vcek.pem"), &vl);
	_cleanup_free_ uint8_t *ask = test_read_file(
		test_vector("milan-v2-azure-hcl-trustee/ask.pem"), &kl);
	_cleanup_free_ uint8_t *ark = test_read_file(
		test_vector("milan-v2-azure-hcl-trustee/ark.pem"), &al);
	size_t cap = 2 * (vl + kl + al) + 256;
	_cleanup_free_ char *json = malloc(cap);
	struct collateral_added a = {};
	char err[256];

	if (!json)
		return NULL;
	n += (size_t)snprintf(json + n, cap - n, "{\"vcekCert\":\"");
	n = json_str(json, cap, n, vcek, vl);
	n += (size_t)snprintf(json + n, cap - n, "\",\"tcbm\":\"DB18000000000003\","
					       "\"certificateChain\":\"");
	n = json_str(json, cap, n, ask, kl);
	n = json_str(json, cap, n, ark, al);
	n += (size_t)snprintf(json + n, cap - n, "\"}");
	if (collateral_import(dir, (uint8_t *)json, n, &a, err, sizeof(err)) < 0 || a.vcek != 1)
		return NULL;
	return dir;
}

/* the vector's VCEK is valid until 2030 */
#define HCL_AT 1735689600

TEST(hcl_verify_genuine_with_thim_collateral)
{
	size_t len = 0;
	_cleanup_free_ uint8_t *buf = test_read_file(test_vector(HCL_VEC), &len);
	const char *cache = thim_cache();
	struct hcl_verify_result res;
	static const uint8_t zero[HCL_USER_DATA_SIZE];

	ASSERT_TRUE(cache != NULL);
	struct hcl_verify_opts o = { .collateral_dir = cache, .snp = { .at = HCL_AT } };
	ASSERT_EQ(hcl_verify(buf, len, &o, &res), 0);
	ASSERT_EQ(res.failed, -1);
	for (int c = 0; c < _HCL_CHECK_MAX; c++)
		ASSERT_TRUE(res.passed[c]);
	ASSERT_EQ(res.version, 1);
	/* The AK is the claims' RSA-2048 key. */
	const unsigned char *p = res.claims.ak_spki;
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *ak = d2i_PUBKEY(NULL, &p, (long)res.claims.ak_spki_len);
	ASSERT_TRUE(ak != NULL);
	ASSERT_EQ(EVP_PKEY_get_bits(ak), 2048);
	ASSERT_TRUE(EVP_PKEY_is_a(ak, "RSA"));
	_cleanup_(BN_freep) BIGNUM *n = NULL;
	ASSERT_TRUE(EVP_PKEY_get_bn_param(ak, "n", &n) == 1);
	uint8_t nb[256];
	ASSERT_EQ(BN_bn2bin(n, nb), 256);
	ASSERT_TRUE(nb[0] == 0xa9 && nb[1] == 0x1e && nb[2] == 0xcb && nb[3] == 0xa8);
	/* This paravisor predates "tpm-persisted": unknown, never taken for persisted. */
	ASSERT_EQ(res.claims.tpm_persisted, HCL_TPM_PERSISTED_UNKNOWN);
	ASSERT_EQ(res.claims.secure_boot, 1);
	ASSERT_EQ(res.claims.tpm_enabled, 1);
	ASSERT_STREQ(res.claims.vm_unique_id, "911B0EF8-9DBA-48B0-B275-4E4DF2D39252");
	ASSERT_TRUE(res.claims.have_user_data);
	ASSERT_TRUE(memcmp(res.claims.user_data, zero, sizeof(zero)) == 0);
	ASSERT_TRUE(res.collateral[0] != '\0');

	/* Expecting exactly what the claims say passes. */
	uint8_t akcopy[HCL_AK_SPKI_MAX];
	size_t aklen = res.claims.ak_spki_len;
	memcpy(akcopy, res.claims.ak_spki, aklen);
	o.expect_ak_spki = akcopy;
	o.expect_ak_spki_len = aklen;
	o.expect_user_data = zero;
	ASSERT_EQ(hcl_verify(buf, len, &o, &res), 0);

	/* This report does not say whether the vTPM persists: refused where that is required. */
	o.require_tpm_persisted = true;
	ASSERT_EQ(hcl_verify(buf, len, &o, &res), -EKEYREJECTED);
	ASSERT_EQ(res.failed, HCL_CHECK_PERSISTED);
	ASSERT_TRUE(strstr(res.detail, "no tpm-persisted") != NULL);
}

TEST(hcl_verify_refusals)
{
	size_t len = 0, olen = 0;
	_cleanup_free_ uint8_t *buf = test_read_file(test_vector(HCL_VEC), &len);
	_cleanup_free_ uint8_t *other = test_read_file(test_vector("milan-v2-trustee/report.bin"),
						       &olen);
	const char *cache = thim_cache();
	struct hcl_verify_result res;
	uint8_t nonce[HCL_USER_DATA_SIZE];

	ASSERT_TRUE(cache != NULL);
	ASSERT_EQ(olen, SNP_REPORT_SIZE);
	struct hcl_verify_opts o = { .collateral_dir = cache, .snp = { .at = HCL_AT } };

	/* No VCEK for the chip: refused at the SNP report, naming the cache. */
	struct hcl_verify_opts none = { .snp = { .at = HCL_AT } };
	ASSERT_EQ(hcl_verify(buf, len, &none, &res), -EKEYREJECTED);
	ASSERT_EQ(res.failed, HCL_CHECK_SNP);
	ASSERT_TRUE(strstr(res.detail, "no VCEK") != NULL);

	/* A fresh nonce that the report does not carry: stale or replayed. */
	memset(nonce, 0x5a, sizeof(nonce));
	o.expect_user_data = nonce;
	ASSERT_EQ(hcl_verify(buf, len, &o, &res), -EKEYREJECTED);
	ASSERT_EQ(res.failed, HCL_CHECK_USER_DATA);
	ASSERT_TRUE(res.passed[HCL_CHECK_SNP]);
	o.expect_user_data = NULL;

	/* Another AK (the claims' own EK stands in for "this vTPM's key"): not this VM. */
	struct hcl_report h;
	ASSERT_EQ(hcl_report_parse(buf, len, &h), 0);
	const char *ek = strstr(h.claims, "\"kid\":\"HCLEkPub\"");
	ASSERT_TRUE(ek != NULL);
	_cleanup_free_ char *swapped = strndup(h.claims, h.claims_len);
	ASSERT_TRUE(swapped != NULL);
	memcpy(swapped + (ek - h.claims) + 7, "HCLAkPub", 8);     /* the EK is now first AK */
	memcpy(strstr(swapped, "HCLAkPub"), "HCLXkPub", 8);       /* the real AK renamed */
	struct hcl_claims ekc;
	char err[256];
	ASSERT_EQ(hcl_claims_parse(swapped, h.claims_len, &ekc, err, sizeof(err)), 0);
	o.expect_ak_spki = ekc.ak_spki;
	o.expect_ak_spki_len = ekc.ak_spki_len;
	ASSERT_EQ(hcl_verify(buf, len, &o, &res), -EKEYREJECTED);
	ASSERT_EQ(res.failed, HCL_CHECK_AK);
	o.expect_ak_spki = NULL;

	/* A claim changed (vmUniqueId, still valid JSON): the hash no longer binds it. */
	char *id = strstr((char *)buf + 0x4D4, "911B0EF8");
	ASSERT_TRUE(id != NULL);
	id[7] = '9';
	ASSERT_EQ(hcl_verify(buf, len, &o, &res), -EKEYREJECTED);
	ASSERT_EQ(res.failed, HCL_CHECK_BINDING);
	id[7] = '8';

	/* The claims' AK swapped for the EK in place (same length): the binding fails. */
	memcpy(buf + 0x4D4, swapped, h.claims_len);
	ASSERT_EQ(hcl_verify(buf, len, &o, &res), -EKEYREJECTED);
	ASSERT_EQ(res.failed, HCL_CHECK_BINDING);
	ASSERT_EQ(memcmp(res.claims.ak_spki, ekc.ak_spki, ekc.ak_spki_len), 0);

	/* The SNP report of another VM on another chip behind these claims: no binding. */
	_cleanup_free_ uint8_t *orig = test_read_file(test_vector(HCL_VEC), &len);
	memcpy(buf, orig, len);
	memcpy(buf + 0x20, other, SNP_REPORT_SIZE);
	ASSERT_EQ(hcl_verify(buf, len, &o, &res), -EKEYREJECTED);
	ASSERT_EQ(res.failed, HCL_CHECK_BINDING);

	/* Malformed: refused at the parse, nothing else runs. */
	memcpy(buf, orig, len);
	buf[0] = 'X';
	ASSERT_EQ(hcl_verify(buf, len, &o, &res), -EBADMSG);
	ASSERT_EQ(res.failed, HCL_CHECK_PARSE);
	ASSERT_FALSE(res.passed[HCL_CHECK_SNP]);
	memcpy(buf, orig, len);
	ASSERT_EQ(hcl_verify(buf, len, &o, &res), 0);
}

static int claims(const char *json, struct hcl_claims *c, char *err, size_t errlen)
{
	return hcl_claims_parse(json, strlen(json), c, err, errlen);
}

#define AK_JWK "{\"kid\":\"HCLAkPub\",\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"" \
	"qR7LqAABDczZDIJxh4YuOOp_0EiqZ0TvLsy8ZoLd3OMHs-1mLF4rNkW4d5vHgF5UwOHcLIMWnrjHr5cPop_pvnapqYv" \
	"v1hQVBwhfOV4EedT27Fp2N2Jrj54JVc500a5s8ogiOTTm3bJ86VCoKGn3Ou2WMPWGYbIOTInVfJYsASUXeihOBO6r_DFD" \
	"jzNP-XOW_YinXf7Xj_Gbcp0Pngwz8OHqnQrb9cyMe-sSbcUVdHoaj3CcAmjGvvhpyIzKxCjHg_LqUBmVx5xtKfZSreee" \
	"rQvOsoDRKcx2_S-oDt6eP1jsXFldIpqbSM34qA3gBkve6xy1jVEUrclNgxFtMI5PDQ\"}"

TEST(hcl_claims_members)
{
	struct hcl_claims c;
	char err[256] = "";

	ASSERT_EQ(claims("{\"keys\":[" AK_JWK "],\"vm-configuration\":{\"tpm-persisted\":false}}",
			 &c, err, sizeof(err)), 0);
	ASSERT_EQ(c.tpm_persisted, HCL_TPM_PERSISTED_NO);
	ASSERT_FALSE(c.have_user_data);
	ASSERT_EQ(c.secure_boot, -1);
	ASSERT_EQ(claims("{\"keys\":[" AK_JWK "],\"vm-configuration\":{\"tpm-persisted\":true},"
			 "\"user-data\":\"" "0102030405060708091011121314151617181920212223242526272829"
			 "30313233343536373839404142434445464748495051525354555657585960616263aB\"}",
			 &c, err, sizeof(err)), 0);
	ASSERT_EQ(c.tpm_persisted, HCL_TPM_PERSISTED_YES);
	ASSERT_TRUE(c.have_user_data);
	ASSERT_EQ(c.user_data[0], 0x01);
	ASSERT_EQ(c.user_data[63], 0xab);

	static const struct { const char *json, *why; } bad[] = {
		{ "{\"vm-configuration\":{}}", "\"keys\"" },
		{ "{\"keys\":[],\"vm-configuration\":{}}", "HCLAkPub" },
		{ "{\"keys\":[{\"kid\":\"HCLAkPub\",\"kty\":\"EC\"}],\"vm-configuration\":{}}",
		  "not an RSA key" },
		{ "{\"keys\":[{\"kid\":\"HCLAkPub\",\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"qR7L\"}],"
		  "\"vm-configuration\":{}}", "2048 to 4096" },
		{ "{\"keys\":[{\"kid\":\"HCLAkPub\",\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"*\"}],"
		  "\"vm-configuration\":{}}", "2048 to 4096" },
		{ "{\"keys\":[" AK_JWK "]}", "vm-configuration" },
		{ "{\"keys\":[" AK_JWK "],\"vm-configuration\":{\"tpm-persisted\":\"false\"}}",
		  "not a boolean" },
		{ "{\"keys\":[" AK_JWK "],\"vm-configuration\":{},\"user-data\":\"00\"}", "128 hex" },
		{ "{\"keys\":[" AK_JWK "],\"vm-configuration\":{},\"user-data\":5}", "128 hex" },
		{ "[1]", "JSON object" },
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		err[0] = '\0';
		if (claims(bad[i].json, &c, err, sizeof(err)) != -EBADMSG || !strstr(err, bad[i].why))
			test_fail(__FILE__, __LINE__, "claims %zu: '%s'", i, err);
	}
}
