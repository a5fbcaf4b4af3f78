/* SPDX-License-Identifier: Apache-2.0 */
/* lib/collateral: the cache of AMD certificates and CRLs, filed by what they say. */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "collateral.h"
#include "ct.h"
#include "fileio.h"
#include "snp-report.h"
#include "test.h"

static uint8_t *vec(const char *rel, size_t *len)
{
	return test_read_file(test_vector(rel), len);
}

static bool exists(const char *dir, const char *rel)
{
	_cleanup_free_ char *p = NULL;
	struct stat st;

	return asprintf(&p, "%s/%s", dir, rel) >= 0 && stat(p, &st) == 0;
}

static int import(const char *dir, const uint8_t *buf, size_t len, struct collateral_added *a)
{
	char err[256] = "";

	return collateral_import(dir, buf, len, a, err, sizeof(err));
}

/* A genuine VCEK is filed under the id its report asks for, and found again. */
TEST(collateral_vcek_filed_by_report_id)
{
	const char *dir = test_tmpdir();
	size_t rl, vl, kl, al;
	_cleanup_free_ uint8_t *raw = vec("milan-v2-trustee/report.bin", &rl);
	_cleanup_free_ uint8_t *vcek = vec("milan-v2-trustee/vcek.der", &vl);
	_cleanup_free_ uint8_t *ask = vec("milan-v2-trustee/ask.pem", &kl);
	_cleanup_free_ uint8_t *ark = vec("milan-v2-trustee/ark.pem", &al);
	struct snp_report r;
	struct collateral_id id, cid;
	struct collateral_added a = {};
	struct collateral c = {};

	ASSERT_EQ(snp_report_parse(raw, rl, &r), 0);
	ASSERT_EQ(collateral_id_from_report(&r, SNP_PRODUCT_MILAN, &id), 0);
	ASSERT_EQ(collateral_id_from_vcek(vcek, vl, &cid), 0);
	ASSERT_EQ(cid.product, SNP_PRODUCT_MILAN);
	ASSERT_EQ(cid.hwid_len, 64);
	ASSERT_MEMEQ(cid.hwid, id.hwid, 64);
	ASSERT_EQ(cid.tcb, id.tcb);

	ASSERT_EQ(import(dir, vcek, vl, &a), 0);
	ASSERT_EQ(a.vcek, 1);
	ASSERT_EQ(import(dir, ask, kl, &a), 0);
	ASSERT_EQ(a.ask, 1);
	ASSERT_EQ(import(dir, ark, al, &a), 0);
	ASSERT_EQ(a.ark, 1);
	ASSERT_EQ(collateral_lookup(dir, &id, true, false, &c), 0);
	ASSERT_TRUE(c.vek && c.ask && c.ark && !c.crl);
	ASSERT_EQ(c.vek_len, vl);
	ASSERT_MEMEQ(c.vek, vcek, vl);
	collateral_done(&c);

	/* Another TCB (a firmware update) or another chip has no VCEK cached. */
	struct collateral_id other = id;
	other.tcb ^= 1ull << 56;
	ASSERT_EQ(collateral_lookup(dir, &other, true, false, &c), 0);
	ASSERT_TRUE(c.vek == NULL && c.ask != NULL);
	collateral_done(&c);
	other = id;
	other.hwid[0] ^= 1;
	ASSERT_EQ(collateral_lookup(dir, &other, true, false, &c), 0);
	ASSERT_TRUE(c.vek == NULL);
	collateral_done(&c);
	/* The VLEK chain wants the ASVK, not the ASK. */
	ASSERT_EQ(collateral_lookup(dir, &id, false, true, &c), 0);
	ASSERT_TRUE(c.vek == NULL && c.ask == NULL && c.ark != NULL);
	collateral_done(&c);
}

/* Turin: 8-byte hwID, the fmcSPL in the KDS URL. A certificate table imports all it holds. */
TEST(collateral_turin_and_certtable)
{
	const char *dir = test_tmpdir();
	size_t tl, vl;
	_cleanup_free_ uint8_t *table = vec("certtable-synthetic-turin/certs.bin", &tl);
	_cleanup_free_ uint8_t *vcek = vec("turin-v5-oak/vcek.der", &vl);
	struct collateral_added a = {};
	struct collateral_id id;

	ASSERT_EQ(import(dir, table, tl, &a), 0);
	ASSERT_EQ(a.vcek, 1);
	ASSERT_EQ(a.ask, 1);
	ASSERT_EQ(a.ark, 1);
	ASSERT_TRUE(exists(dir, "turin/ask.der") && exists(dir, "turin/ark.der"));
	ASSERT_EQ(collateral_id_from_vcek(vcek, vl, &id), 0);
	ASSERT_EQ(id.product, SNP_PRODUCT_TURIN);
	ASSERT_EQ(id.hwid_len, 8);
	_cleanup_free_ char *u = collateral_kds_vcek_url("https://kds.example", &id);
	ASSERT_TRUE(u != NULL);
	ASSERT_TRUE(strncmp(u, "https://kds.example/vcek/v1/Turin/", 34) == 0);
	ASSERT_EQ(strcspn(u + 34, "?"), 16);
	ASSERT_TRUE(strstr(u, "?fmcSPL=") != NULL && strstr(u, "&ucodeSPL=") != NULL);
	_cleanup_free_ char *ch = collateral_kds_chain_url("https://kds.example", SNP_PRODUCT_MILAN,
							   true);
	ASSERT_STREQ(ch, "https://kds.example/vlek/v1/Milan/cert_chain");
	_cleanup_free_ char *cr = collateral_kds_crl_url("https://kds.example", SNP_PRODUCT_GENOA,
							 false);
	ASSERT_STREQ(cr, "https://kds.example/vcek/v1/Genoa/crl");
}

/* Azure THIM JSON and ACI's base64 of it: the VCEK and the chain. */
TEST(collateral_thim_json_and_aci_base64)
{
	const char *dir = test_tmpdir();
	size_t vl, kl, al;
	_cleanup_free_ uint8_t *vcek = vec("milan-v2-azure-hcl-trustee/vcek.pem", &vl);
	_cleanup_free_ uint8_t *ask = vec("milan-v2-azure-hcl-trustee/ask.pem", &kl);
	_cleanup_free_ uint8_t *ark = vec("milan-v2-azure-hcl-trustee/ark.pem", &al);
	struct collateral_added a = {};
	char dir2[2048];

	/* JSON string escaping of PEM: newlines as \n. */
	size_t cap = 2 * (vl + kl + al) + 256, n = 0;
	_cleanup_free_ char *json = malloc(cap);
	ASSERT_TRUE(json != NULL);
	n += (size_t)snprintf(json + n, cap - n, "{\"cacheControl\":\"86400\",\"vcekCert\":\"");
	for (size_t i = 0; i < vl; i++)
		n += (size_t)snprintf(json + n, cap - n, vcek[i] == '\n' ? "\\n" : "%c", vcek[i]);
	n += (size_t)snprintf(json + n, cap - n, "\",\"tcbm\":\"DB18000000000003\","
					       "\"certificateChain\":\"");
	for (size_t i = 0; i < kl + al; i++) {
		uint8_t ch = i < kl ? ask[i] : ark[i - kl];
		n += (size_t)snprintf(json + n, cap - n, ch == '\n' ? "\\n" : "%c", ch);
	}
	n += (size_t)snprintf(json + n, cap - n, "\"}");
	ASSERT_EQ(import(dir, (uint8_t *)json, n, &a), 0);
	ASSERT_EQ(a.vcek, 1);
	ASSERT_EQ(a.ask, 1);
	ASSERT_EQ(a.ark, 1);

	_cleanup_free_ char *b64 = malloc(CT_BASE64_LEN(n) + 2);
	ASSERT_TRUE(b64 != NULL);
	ct_base64_encode(b64, (uint8_t *)json, n);
	strcat(b64, "\n");
	snprintf(dir2, sizeof(dir2), "%s/aci", dir);
	ASSERT_EQ(import(dir2, (uint8_t *)b64, strlen(b64), &a), 0);
	ASSERT_EQ(a.vcek, 1);
	ASSERT_TRUE(exists(dir2, "milan/ask.der") && exists(dir2, "milan/ark.der"));

	/* A THIM answer without its chain, or with a non-string member, is refused whole. */
	char err[256] = "";
	snprintf(dir2, sizeof(dir2), "%s/bad", dir);
	const char *not_string = "{\"vcekCert\":5}";
	ASSERT_EQ(collateral_import(dir2, (const uint8_t *)not_string, strlen(not_string), &a, err,
				    sizeof(err)), -EBADMSG);
	ASSERT_TRUE(strstr(err, "vcekCert") != NULL);
	char *chain = strstr(json, "certificateChain");
	ASSERT_TRUE(chain != NULL);
	chain[0] = 'C'; /* a good VCEK, but no "certificateChain" member */
	ASSERT_EQ(collateral_import(dir2, (uint8_t *)json, n, &a, err, sizeof(err)), -EBADMSG);
	ASSERT_TRUE(strstr(err, "certificateChain") != NULL);
	ASSERT_FALSE(exists(dir2, "milan"));
}

/* Refusals: nothing is written unless the whole source parses. */
TEST(collateral_refuses_malformed_and_vlek_only)
{
	const char *dir = test_tmpdir();
	size_t vl, ll, al;
	_cleanup_free_ uint8_t *vcek = vec("milan-v2-trustee/vcek.der", &vl);
	_cleanup_free_ uint8_t *vlek = vec("milan-v2-vlek-aws-constellation/vlek.pem", &ll);
	_cleanup_free_ uint8_t *ark = vec("milan-v2-trustee/ark.pem", &al);
	char err[256] = "";
	struct collateral_added a = {};

	ASSERT_EQ(collateral_import(dir, vcek, vl - 1, &a, err, sizeof(err)), -EBADMSG);
	ASSERT_EQ(collateral_import(dir, vlek, ll, &a, err, sizeof(err)), -EBADMSG);
	ASSERT_TRUE(strstr(err, "VLEK") != NULL);
	ASSERT_EQ(collateral_import(dir, (const uint8_t *)"hello", 5, &a, err, sizeof(err)),
		  -EBADMSG);
	ASSERT_EQ(collateral_import(dir, (const uint8_t *)"", 0, &a, err, sizeof(err)), -EBADMSG);
	/* A bundle with one good and one damaged certificate writes neither. */
	size_t bl = al + 80;
	_cleanup_free_ uint8_t *bundle = malloc(bl);
	ASSERT_TRUE(bundle != NULL);
	memcpy(bundle, ark, al);
	memcpy(bundle + al, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", 58);
	ASSERT_LT(collateral_import(dir, bundle, al + 58, &a, err, sizeof(err)), 0);
	ASSERT_FALSE(exists(dir, "milan"));
	/* Too large. */
	ASSERT_EQ(collateral_import(dir, vcek, COLLATERAL_FILE_MAX + 1, &a, err, sizeof(err)),
		  -EMSGSIZE);
	struct collateral c;
	struct collateral_id id = { .product = SNP_PRODUCT_MILAN, .hwid_len = 64 };
	char missing[2048];
	snprintf(missing, sizeof(missing), "%s/none", dir);
	ASSERT_EQ(collateral_lookup(missing, &id, true, false, &c), -ENOENT);
}

/* A CRL by "ARK-<product>", made here; an older CRL never replaces a newer one. */
static size_t make_crl(const char *issuer_cn, long last_update_offset, uint8_t **ret)
{
	X509_CRL *crl = X509_CRL_new();
	X509_NAME *n = X509_NAME_new();
	EVP_PKEY *k = EVP_EC_gen("P-384");
	ASN1_TIME *t = ASN1_TIME_adj(NULL, time(NULL), 0, last_update_offset);
	ASN1_TIME *nt = ASN1_TIME_adj(NULL, time(NULL), 30, last_update_offset);
	unsigned char *der = NULL;
	int len = -1;

	if (crl && n && k && t && nt &&
	    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)issuer_cn, -1,
				       -1, 0) &&
	    X509_CRL_set_version(crl, 1) && X509_CRL_set_issuer_name(crl, n) &&
	    X509_CRL_set1_lastUpdate(crl, t) && X509_CRL_set1_nextUpdate(crl, nt) &&
	    X509_CRL_sign(crl, k, EVP_sha384()))
		len = i2d_X509_CRL(crl, &der);
	X509_CRL_free(crl);
	X509_NAME_free(n);
	EVP_PKEY_free(k);
	ASN1_TIME_free(t);
	ASN1_TIME_free(nt);
	*ret = len > 0 ? der : NULL;
	return len > 0 ? (size_t)len : 0;
}

TEST(collateral_crl_filed_and_not_rolled_back)
{
	const char *dir = test_tmpdir();
	uint8_t *newer = NULL, *older = NULL, *foreign = NULL;
	size_t nl = make_crl("ARK-Genoa", 0, &newer), ol = make_crl("ARK-Genoa", -86400, &older);
	size_t fl = make_crl("Some CA", 0, &foreign);
	struct collateral_added a = {};
	struct collateral_id id = { .product = SNP_PRODUCT_GENOA, .hwid_len = 64 };
	struct collateral c = {};
	char err[256] = "";

	ASSERT_TRUE(newer && older && foreign);
	ASSERT_EQ(import(dir, newer, nl, &a), 0);
	ASSERT_EQ(a.crl, 1);
	ASSERT_EQ(import(dir, older, ol, &a), 0); /* accepted, but not filed over the newer */
	ASSERT_EQ(collateral_lookup(dir, &id, false, false, &c), 0);
	ASSERT_EQ(c.crl_len, nl);
	ASSERT_MEMEQ(c.crl, newer, nl);
	collateral_done(&c);
	ASSERT_EQ(collateral_import(dir, foreign, fl, &a, err, sizeof(err)), -EBADMSG);
	ASSERT_TRUE(strstr(err, "ARK") != NULL);
	OPENSSL_free(newer);
	OPENSSL_free(older);
	OPENSSL_free(foreign);
}
