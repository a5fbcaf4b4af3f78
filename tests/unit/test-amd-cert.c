/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for amd-cert: pinned roots, PEM/DER loading, AMD VCEK/VLEK extensions. */
#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "amd-cert.h"
#include "certtable.h"
#include "test.h"

/* SHA-256 of each pinned DER, from SNP-ABI.md section 4.1. */
static const char *const root_sha256[_SNP_PRODUCT_MAX][_AMD_ROOT_KIND_MAX] = {
	[SNP_PRODUCT_MILAN] =
		{
			"69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd",
			"67d303bd3905fd38db8b20e0793699870e7fa612eaad5dec358293fd8c0bac1b",
			"c5e081f59b7efab1fe2f8b505e159704e72f29cab7ef7cf628a05a42439082f5",
		},
	[SNP_PRODUCT_GENOA] =
		{
			"4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1",
			"5464738c1546aed5f2cecf1dc98c5c960a92e8913238a61711bc90ec6e828521",
			"197e610743a917d6b9bb982a5a9226ccc0a15b611be0619e626aca9151457372",
		},
	[SNP_PRODUCT_TURIN] =
		{
			"1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a",
			"5b77ef5fe7a7a004fd9032668fba9d0fda22f88c4442069a479636a6ae3b3185",
			"104e10a8bd060a3c20a434261a57d0588fd65a88915b4f65b08bdecaf8df1a3c",
		},
};

static const char *const product_dir[_SNP_PRODUCT_MAX] = {"milan", "genoa", "turin"};
static const char *const kind_file[_AMD_ROOT_KIND_MAX] = {"ark.pem", "ask.pem", "asvk.pem"};

static X509 *root_x509(enum snp_product p, enum amd_root_kind k)
{
	size_t len = 0;
	const uint8_t *der = amd_root_der(p, k, &len);
	const unsigned char *q = der;

	return der ? d2i_X509(NULL, &q, (long)len) : NULL;
}

TEST(amdcert_roots_sha256)
{
	for (int p = 0; p < _SNP_PRODUCT_MAX; p++)
		for (int k = 0; k < _AMD_ROOT_KIND_MAX; k++) {
			size_t len = 0;
			const uint8_t *der = amd_root_der(p, k, &len);
			uint8_t md[32];
			char hex[65];
			unsigned int mdlen = 0;

			ASSERT_TRUE(der != NULL);
			ASSERT_GT(len, 1000);
			ASSERT_TRUE(EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL));
			for (int i = 0; i < 32; i++)
				snprintf(hex + 2 * i, 3, "%02x", md[i]);
			ASSERT_STREQ(hex, root_sha256[p][k]);
		}
}

TEST(amdcert_roots_invalid_args)
{
	size_t len = 12345;

	ASSERT_TRUE(amd_root_der(_SNP_PRODUCT_INVALID, AMD_ROOT_ARK, &len) == NULL);
	ASSERT_TRUE(amd_root_der(_SNP_PRODUCT_MAX, AMD_ROOT_ARK, &len) == NULL);
	ASSERT_TRUE(amd_root_der((enum snp_product) - 1, AMD_ROOT_ASK, &len) == NULL);
	ASSERT_TRUE(amd_root_der(SNP_PRODUCT_MILAN, _AMD_ROOT_KIND_MAX, &len) == NULL);
	ASSERT_TRUE(amd_root_der(SNP_PRODUCT_MILAN, (enum amd_root_kind) - 1, &len) == NULL);
	ASSERT_EQ(len, 12345); /* untouched on failure */
	ASSERT_TRUE(amd_root_der(SNP_PRODUCT_TURIN, AMD_ROOT_ASVK, NULL) != NULL);
}

/* The compiled-in copies are the certificates in the vectors (data/amd-roots is a copy). */
TEST(amdcert_roots_match_vectors)
{
	for (int p = 0; p < _SNP_PRODUCT_MAX; p++)
		for (int k = 0; k < _AMD_ROOT_KIND_MAX; k++) {
			char rel[64];
			uint8_t *der = NULL;
			size_t len = 0, plen = 0;
			const uint8_t *pinned = amd_root_der(p, k, &plen);

			snprintf(rel, sizeof(rel), "amd-roots/%s/%s", product_dir[p], kind_file[k]);
			ASSERT_OK(amd_cert_load_file(test_vector(rel), &der, &len));
			bool same = len == plen && memcmp(der, pinned, len) == 0;
			free(der);
			ASSERT_TRUE(same);
		}
}

TEST(amdcert_roots_chain)
{
	for (int p = 0; p < _SNP_PRODUCT_MAX; p++) {
		X509 *ark = root_x509(p, AMD_ROOT_ARK), *ask = root_x509(p, AMD_ROOT_ASK);
		X509 *asvk = root_x509(p, AMD_ROOT_ASVK);
		X509 *other = root_x509((p + 1) % _SNP_PRODUCT_MAX, AMD_ROOT_ARK);
		EVP_PKEY *k = ark ? X509_get0_pubkey(ark) : NULL;
		EVP_PKEY *ko = other ? X509_get0_pubkey(other) : NULL;
		bool ok =
			ark && ask && asvk && k && ko &&
			X509_NAME_cmp(X509_get_subject_name(ark), X509_get_issuer_name(ark)) == 0 &&
			X509_verify(ark, k) == 1 && X509_verify(ask, k) == 1 &&
			X509_verify(asvk, k) == 1 &&
			/* and another product's ARK signs none of them */
			X509_verify(ask, ko) != 1 && X509_verify(asvk, ko) != 1 &&
			X509_verify(ark, ko) != 1;

		X509_free(ark);
		X509_free(ask);
		X509_free(asvk);
		X509_free(other);
		ERR_clear_error();
		ASSERT_TRUE(ok);
	}
}

TEST(amdcert_load_pem_and_der_agree)
{
	uint8_t *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;

	/* vcek-thim.pem is the same certificate as vcek.der, fetched from Azure THIM. */
	ASSERT_OK(amd_cert_load_file(test_vector("milan-v2-azure-constellation/vcek.der"), &a,
				     &alen));
	ASSERT_OK(amd_cert_load_file(test_vector("milan-v2-azure-constellation/vcek-thim.pem"), &b,
				     &blen));
	bool same = alen == blen && memcmp(a, b, alen) == 0;
	free(a);
	free(b);
	ASSERT_TRUE(same);
}

TEST(amdcert_to_der_rejects_garbage)
{
	size_t len = 0, plen = 0;
	const uint8_t *pinned = amd_root_der(SNP_PRODUCT_GENOA, AMD_ROOT_ASK, &plen);
	static uint8_t sentinel;
	uint8_t *buf = malloc(AMD_CERT_MAX + 1), *der = &sentinel;
	static const char pem_key[] =
		"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";

	ASSERT_TRUE(buf != NULL);
	memcpy(buf, pinned, plen);
	/* trailing byte, truncation, flipped outer tag, empty, oversize, other PEM types */
	buf[plen] = 0;
	int r1 = amd_cert_to_der(buf, plen + 1, &der, &len);
	int r2 = amd_cert_to_der(buf, plen - 1, &der, &len);
	buf[0] = 0x31;
	int r3 = amd_cert_to_der(buf, plen, &der, &len);
	int r4 = amd_cert_to_der(buf, 0, &der, &len);
	memset(buf, 'A', AMD_CERT_MAX + 1);
	int r5 = amd_cert_to_der(buf, AMD_CERT_MAX + 1, &der, &len);
	int r6 = amd_cert_to_der((const uint8_t *)pem_key, sizeof(pem_key) - 1, &der, &len);
	free(buf);
	ASSERT_EQ(r1, -EBADMSG);
	ASSERT_EQ(r2, -EBADMSG);
	ASSERT_EQ(r3, -EBADMSG);
	ASSERT_EQ(r4, -EBADMSG);
	ASSERT_EQ(r5, -EMSGSIZE);
	ASSERT_EQ(r6, -EBADMSG);
	ASSERT_TRUE(der == &sentinel); /* outputs untouched */
	ASSERT_EQ(len, 0);
	ASSERT_EQ(amd_cert_load_file("/nonexistent/vhsm-cert.pem", &der, &len), -ENOENT);
}

static int load_ext(const char *rel, struct amd_vek_ext *ext)
{
	uint8_t *der = NULL;
	size_t len = 0;
	int r = amd_cert_load_file(test_vector(rel), &der, &len);

	if (r >= 0)
		r = amd_vek_ext_parse(der, len, ext);
	free(der);
	return r;
}

TEST(amdcert_ext_milan_vcek)
{
	struct amd_vek_ext e;
	size_t rlen = 0;
	uint8_t *report = test_read_file(test_vector("milan-v2-virtee/report.bin"), &rlen);
	uint8_t chip[64];

	memcpy(chip, report + 0x1A0, 64);
	free(report);
	ASSERT_OK(load_ext("milan-v2-virtee/vcek.der", &e));
	ASSERT_TRUE(e.has_struct_version);
	ASSERT_EQ(e.struct_version, 0);
	ASSERT_STREQ(e.product_name, "Milan-B0");
	ASSERT_TRUE(e.has_bl && e.has_tee && e.has_snp && e.has_ucode);
	ASSERT_FALSE(e.has_fmc);
	ASSERT_EQ(e.bl_spl, 3);
	ASSERT_EQ(e.tee_spl, 0);
	ASSERT_EQ(e.snp_spl, 8);
	ASSERT_EQ(e.ucode_spl, 115);
	ASSERT_EQ(e.hwid_len, 64);
	ASSERT_MEMEQ(e.hwid, chip, 64);
	ASSERT_STREQ(e.csp_id, "");
}

TEST(amdcert_ext_turin_vcek)
{
	struct amd_vek_ext e;
	static const uint8_t hwid[8] = {0x3b, 0x42, 0x09, 0x2f, 0x69, 0xc6, 0x56, 0xd3};

	ASSERT_OK(load_ext("turin-v5-oak/vcek.der", &e));
	ASSERT_EQ(e.struct_version, 1);
	ASSERT_STREQ(e.product_name, "Turin");
	ASSERT_TRUE(e.has_fmc);
	ASSERT_EQ(e.fmc_spl, 0);
	ASSERT_EQ(e.bl_spl, 1);
	ASSERT_EQ(e.tee_spl, 0);
	ASSERT_EQ(e.snp_spl, 2);
	ASSERT_EQ(e.ucode_spl, 71);
	ASSERT_EQ(e.hwid_len, 8);
	ASSERT_MEMEQ(e.hwid, hwid, 8);
}

TEST(amdcert_ext_vlek)
{
	struct amd_vek_ext e;

	ASSERT_OK(load_ext("milan-v3-vlek-aws-constellation/vlek.pem", &e));
	ASSERT_STREQ(e.product_name, "Milan");
	ASSERT_STREQ(e.csp_id, "CN=cc-eu-west-1.amazonaws.com");
	ASSERT_EQ(e.hwid_len, 0);
	ASSERT_EQ(e.bl_spl, 4);
	ASSERT_EQ(e.snp_spl, 24);
	ASSERT_EQ(e.ucode_spl, 217); /* a two-byte INTEGER (02 02 00 d9) */
}

TEST(amdcert_ext_hwid_both_encodings)
{
	struct amd_vek_ext raw, wrapped;
	uint8_t want[64];

	for (int i = 0; i < 64; i++)
		want[i] = (uint8_t)i;
	ASSERT_OK(load_ext("neg-vcek-hwid-encoding-trustee/vcek-hwid-raw-badsig.der", &raw));
	ASSERT_OK(load_ext("neg-vcek-hwid-encoding-trustee/vcek-hwid-octetstring-badsig.der",
			   &wrapped));
	ASSERT_EQ(raw.hwid_len, 64);
	ASSERT_EQ(wrapped.hwid_len, 64);
	ASSERT_MEMEQ(raw.hwid, wrapped.hwid, 64);
	ASSERT_MEMEQ(raw.hwid, want, 64);
}

/* ---- synthetic certificates with hand-made AMD extensions ---- */

struct raw_ext {
	const char *oid; /* suffix after 1.3.6.1.4.1.3704.1. */
	const uint8_t *val;
	size_t len;
};

/* A self-signed P-256 certificate carrying exts; returns malloc'ed DER. */
static int make_cert(const struct raw_ext *exts, size_t n, uint8_t **ret, size_t *ret_len)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	unsigned char *der = NULL;
	int len = -1;
	bool ok = key && x && X509_set_version(x, 2) && X509_set_pubkey(x, key) &&
		  X509_gmtime_adj(X509_getm_notBefore(x), 0) &&
		  X509_gmtime_adj(X509_getm_notAfter(x), 3600);

	for (size_t i = 0; ok && i < n; i++) {
		char txt[64];
		snprintf(txt, sizeof(txt), "%s%s", AMD_OID_PREFIX, exts[i].oid);
		ASN1_OBJECT *obj = OBJ_txt2obj(txt, 1);
		ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
		X509_EXTENSION *e = NULL;
		ok = obj && os && ASN1_OCTET_STRING_set(os, exts[i].val, (int)exts[i].len) &&
		     (e = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) && X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
		ASN1_OCTET_STRING_free(os);
		ASN1_OBJECT_free(obj);
	}
	if (ok && X509_sign(x, key, EVP_sha256()) > 0)
		len = i2d_X509(x, &der);
	X509_free(x);
	EVP_PKEY_free(key);
	if (len <= 0)
		return -EIO;
	*ret = malloc((size_t)len);
	memcpy(*ret, der, (size_t)len);
	*ret_len = (size_t)len;
	OPENSSL_free(der);
	return 0;
}

static int parse_synthetic(const struct raw_ext *exts, size_t n, struct amd_vek_ext *e)
{
	uint8_t *der = NULL;
	size_t len = 0;
	int r = make_cert(exts, n, &der, &len);

	if (r < 0)
		return -999;
	r = amd_vek_ext_parse(der, len, e);
	free(der);
	return r;
}

#define EXT(o, ...)                                                                                \
	{                                                                                          \
		o, (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})          \
	}

TEST(amdcert_ext_synthetic_good)
{
	struct amd_vek_ext e;
	const struct raw_ext exts[] = {
		EXT("1", 0x02, 0x01, 0x00),
		EXT("2", 0x16, 0x05, 'G', 'e', 'n', 'o', 'a'),
		EXT("3.1", 0x02, 0x01, 0x0a),
		EXT("3.2", 0x02, 0x01, 0x00),
		EXT("3.3", 0x02, 0x01, 0x17),
		EXT("3.8", 0x02, 0x02, 0x00, 0xff),
		EXT("3.9", 0x02, 0x01, 0x05),
		EXT("4", 0x04, 0x08, 1, 2, 3, 4, 5, 6, 7, 8), /* wrapped 8-byte hwID */
		EXT("99", 0x05, 0x00),			      /* unknown AMD OID: ignored */
	};

	ASSERT_EQ(parse_synthetic(exts, ELEMENTSOF(exts), &e), 0);
	ASSERT_STREQ(e.product_name, "Genoa");
	ASSERT_EQ(e.bl_spl, 10);
	ASSERT_EQ(e.snp_spl, 23);
	ASSERT_EQ(e.ucode_spl, 255);
	ASSERT_TRUE(e.has_fmc);
	ASSERT_EQ(e.fmc_spl, 5);
	ASSERT_EQ(e.hwid_len, 8);
	ASSERT_EQ(e.hwid[0], 1);
	ASSERT_EQ(e.hwid[7], 8);

	/* a raw 8-byte hwID that looks like an OCTET STRING header stays raw */
	const struct raw_ext raw8[] = {EXT("4", 0x04, 0x06, 1, 2, 3, 4, 5, 6)};
	ASSERT_EQ(parse_synthetic(raw8, 1, &e), 0);
	ASSERT_EQ(e.hwid_len, 8);
	ASSERT_EQ(e.hwid[0], 0x04);
}

TEST(amdcert_ext_synthetic_malformed)
{
	struct amd_vek_ext e;
	uint8_t big[67] = {0x04, 0x41};
	const struct raw_ext bad[][2] = {
		{EXT("3.3", 0x02, 0x02, 0x01, 0x00)},		 /* 256 */
		{EXT("3.1", 0x02, 0x01, 0xff)},			 /* -1 */
		{EXT("3.8", 0x02, 0x02, 0x00, 0x05)},		 /* non-minimal DER */
		{EXT("3.2", 0x02, 0x01, 0x05, 0x00)},		 /* trailing byte */
		{EXT("3.5", 0x04, 0x01, 0x00)},			 /* reserved SPL not an INTEGER */
		{EXT("3.9", 0x02, 0x00)},			 /* empty INTEGER */
		{EXT("2", 0x0c, 0x05, 'M', 'i', 'l', 'a', 'n')}, /* UTF8String, not IA5 */
		{EXT("2", 0x16, 0x02, 'M', 0x00)},		 /* control character */
		{EXT("5", 0x16, 0x00)},				 /* empty cspID */
		{EXT("1", 0x01, 0x01, 0x00)},			 /* BOOLEAN structVersion */
		{{"4", big, 65}},				 /* raw hwID of 65 bytes */
		{{"4", big, 67}},				 /* wrapped hwID of 65 bytes */
		{{"4", big, 0}},				 /* empty hwID */
		{EXT("3.3", 0x02, 0x01, 0x01), EXT("3.3", 0x02, 0x01, 0x02)}, /* duplicate */
	};

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		size_t n = bad[i][1].oid ? 2 : 1;
		int r = parse_synthetic(bad[i], n, &e);
		if (r != -EBADMSG)
			fprintf(stderr, "    case %zu: %d\n", i, r);
		ASSERT_EQ(r, -EBADMSG);
	}
	ASSERT_EQ(amd_vek_ext_parse((const uint8_t *)"\x30\x00", 2, &e), -EBADMSG);
}

TEST(amdcert_bundle_roles)
{
	const char *chain = test_vector("amd-roots/milan/cert_chain_vcek.pem");
	size_t ark_len, ask_len, l1 = 0, l2 = 0, l3 = 0;
	const uint8_t *ark = amd_root_der(SNP_PRODUCT_MILAN, AMD_ROOT_ARK, &ark_len);
	const uint8_t *ask = amd_root_der(SNP_PRODUCT_MILAN, AMD_ROOT_ASK, &ask_len);
	uint8_t *a = NULL, *b = NULL, *c = NULL;

	ASSERT_OK(amd_cert_load_file_role(chain, AMD_CERT_ARK, &a, &l1));
	ASSERT_OK(amd_cert_load_file_role(chain, AMD_CERT_INTERMEDIATE, &b, &l2));
	/* No leaf in a KDS chain: the first certificate (the ASK) is returned. */
	ASSERT_OK(amd_cert_load_file_role(chain, AMD_CERT_LEAF, &c, &l3));
	bool ok = l1 == ark_len && memcmp(a, ark, ark_len) == 0 && l2 == ask_len &&
		  memcmp(b, ask, ask_len) == 0 && l3 == ask_len && memcmp(c, ask, ask_len) == 0;
	free(a);
	free(b);
	free(c);
	ASSERT_TRUE(ok);
}

TEST(amdcert_is_asvk)
{
	size_t n;
	const uint8_t *asvk = amd_root_der(SNP_PRODUCT_GENOA, AMD_ROOT_ASVK, &n);
	static const uint8_t junk[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };

	ASSERT_TRUE(amd_cert_is_asvk(asvk, n));
	const uint8_t *ask = amd_root_der(SNP_PRODUCT_GENOA, AMD_ROOT_ASK, &n);
	ASSERT_FALSE(amd_cert_is_asvk(ask, n));
	const uint8_t *ark = amd_root_der(SNP_PRODUCT_GENOA, AMD_ROOT_ARK, &n);
	ASSERT_FALSE(amd_cert_is_asvk(ark, n));
	ASSERT_FALSE(amd_cert_is_asvk(junk, sizeof(junk)));
	ASSERT_EQ(ERR_peek_error(), 0);
}

TEST(amdcert_pick_from_table)
{
	size_t vcek_len, vlek_pem_len, ask_len, ark_len, tlen, vlek_len;
	uint8_t *vcek = test_read_file(test_vector("milan-v3-oak/vcek.der"), &vcek_len);
	uint8_t *vlek_pem = test_read_file(test_vector("milan-v3-vlek-aws-constellation/vlek.pem"),
					   &vlek_pem_len);
	const uint8_t *ask = amd_root_der(SNP_PRODUCT_MILAN, AMD_ROOT_ASK, &ask_len);
	const uint8_t *ark = amd_root_der(SNP_PRODUCT_MILAN, AMD_ROOT_ARK, &ark_len);
	uint8_t *vlek = NULL, *table = NULL;
	const struct certtable_entry *v = NULL, *a = NULL, *r = NULL;
	struct certtable t;
	bool ok;

	ok = amd_cert_to_der(vlek_pem, vlek_pem_len, &vlek, &vlek_len) == 0;
	const enum snp_cert_kind kinds[] = { SNP_CERT_VCEK, SNP_CERT_VLEK, SNP_CERT_ASK, SNP_CERT_ARK };
	const uint8_t *ders[] = { vcek, vlek, ask, ark };
	const size_t lens[] = { vcek_len, vlek_len, ask_len, ark_len };
	ok = ok && certtable_build(kinds, ders, lens, 4, &table, &tlen) == 0 &&
	     certtable_parse(table, tlen, &t) == 0;
	/* VCEK-signed: the VCEK and the ASK (a VCEK-chain intermediate). */
	if (ok) {
		amd_cert_pick_from_table(&t, SNP_SIGNING_KEY_VCEK, &v, &a, &r);
		ok = v && v->len == vcek_len && a && a->len == ask_len && r && r->len == ark_len;
	}
	/* VLEK-signed: the VLEK, and no intermediate (the ASK slot holds the VCEK chain's). */
	if (ok) {
		amd_cert_pick_from_table(&t, SNP_SIGNING_KEY_VLEK, &v, &a, &r);
		ok = v && v->len == vlek_len && memcmp(v->data, vlek, vlek_len) == 0 && !a && r;
	}
	free(vcek);
	free(vlek_pem);
	free(vlek);
	free(table);
	ASSERT_TRUE(ok);
}
