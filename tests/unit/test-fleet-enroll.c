/* SPDX-License-Identifier: Apache-2.0 */
/* Fleet enrollment (lib/fleet-enroll): REPORT_DATA, the CSR, the certificate checks. */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "fleet-enroll.h"
#include "test.h"

TEST(fleet_enroll_report_data_binds_key_nonce_expiry)
{
	static const uint8_t spki[] = "a public key", spki2[] = "another public key";
	uint8_t msg[FLEET_ENROLL_MSG_MAX], rd[64], rd2[64], want[64], h[32], nonce[65] = { 7, 8 };
	unsigned int n;
	int len;

	/* label || NUL || SHA-256(SPKI) || u8 nonce length || nonce || u64 BE expiry */
	len = fleet_enroll_message(spki, sizeof(spki), nonce, 2, 0x0102030405060708ull, msg);
	ASSERT_EQ(len, 21 + 32 + 1 + 2 + 8);
	ASSERT_MEMEQ(msg, "vhsm-fleet-enroll-v1\0", 21);
	ASSERT_TRUE(EVP_Digest(spki, sizeof(spki), h, &n, EVP_sha256(), NULL));
	ASSERT_MEMEQ(msg + 21, h, 32);
	ASSERT_EQ(msg[53], 2);
	ASSERT_MEMEQ(msg + 54, nonce, 2);
	ASSERT_MEMEQ(msg + 56, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	ASSERT_TRUE(EVP_Digest(msg, (size_t)len, want, &n, EVP_sha512(), NULL));
	ASSERT_EQ(fleet_enroll_report_data(spki, sizeof(spki), nonce, 2, 0x0102030405060708ull, rd), 0);
	ASSERT_MEMEQ(rd, want, 64);
	/* each input matters: key, nonce, its length, expiry */
	ASSERT_EQ(fleet_enroll_report_data(spki2, sizeof(spki2), nonce, 2, 0x0102030405060708ull, rd2), 0);
	ASSERT_MEMNE(rd, rd2, 64);
	ASSERT_EQ(fleet_enroll_report_data(spki, sizeof(spki), nonce, 1, 0x0102030405060708ull, rd2), 0);
	ASSERT_MEMNE(rd, rd2, 64);
	ASSERT_EQ(fleet_enroll_report_data(spki, sizeof(spki), nonce, 2, 0x0102030405060709ull, rd2), 0);
	ASSERT_MEMNE(rd, rd2, 64);
	ASSERT_EQ(fleet_enroll_report_data(spki, sizeof(spki), NULL, 0, 0x0102030405060708ull, rd2), 0);
	ASSERT_MEMNE(rd, rd2, 64);
	ASSERT_EQ(fleet_enroll_message(spki, sizeof(spki), nonce, 65, 1, msg), -EMSGSIZE);
	ASSERT_EQ(fleet_enroll_message(spki, sizeof(spki), nonce, 64, 1, msg),
		  (int)FLEET_ENROLL_MSG_MAX);
}

TEST(fleet_enroll_name_rule)
{
	ASSERT_TRUE(fleet_name_valid("cvm-a"));
	ASSERT_TRUE(fleet_name_valid("eu-west.cvm_01"));
	ASSERT_FALSE(fleet_name_valid(""));
	ASSERT_FALSE(fleet_name_valid(NULL));
	ASSERT_FALSE(fleet_name_valid("-x"));
	ASSERT_FALSE(fleet_name_valid(".x"));
	ASSERT_FALSE(fleet_name_valid("a b"));
	ASSERT_FALSE(fleet_name_valid("a/b"));
	ASSERT_FALSE(fleet_name_valid("a,CN=b"));
	char longname[FLEET_NAME_MAX + 2];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[FLEET_NAME_MAX + 1] = 0;
	ASSERT_FALSE(fleet_name_valid(longname));
	longname[FLEET_NAME_MAX] = 0;
	ASSERT_TRUE(fleet_name_valid(longname));
}

static EVP_PKEY *ec_key(void)
{
	return EVP_EC_gen("P-256");
}

static uint8_t *spki_of(EVP_PKEY *k, size_t *len)
{
	uint8_t *d = NULL;
	int n = i2d_PUBKEY(k, &d);
	*len = n > 0 ? (size_t)n : 0;
	return d;
}

TEST(fleet_enroll_csr_round_trip_and_tamper)
{
	EVP_PKEY *k = ec_key();
	uint8_t *der = NULL, *spki = NULL, *want;
	size_t len, spki_len, want_len;
	X509_REQ *req = NULL;
	char cn[FLEET_NAME_MAX + 1], why[256];

	ASSERT_TRUE(k != NULL);
	ASSERT_EQ(fleet_csr_make(k, "bad name", &der, &len), -EINVAL);
	ASSERT_EQ(fleet_csr_make(k, "cvm-a", &der, &len), 0);
	ASSERT_EQ(fleet_csr_parse(der, len, &req, cn, sizeof(cn), &spki, &spki_len, why,
				  sizeof(why)), 0);
	ASSERT_STREQ(cn, "cvm-a");
	want = spki_of(k, &want_len);
	ASSERT_EQ(spki_len, want_len);
	ASSERT_MEMEQ(spki, want, want_len);
	X509_REQ_free(req);
	free(spki);
	/* PEM too */
	BIO *b = BIO_new(BIO_s_mem());
	char *pem;
	ASSERT_TRUE(PEM_write_bio(b, "CERTIFICATE REQUEST", "", der, (long)len) > 0);
	long pl = BIO_get_mem_data(b, &pem);
	ASSERT_EQ(fleet_csr_parse((uint8_t *)pem, (size_t)pl, &req, cn, sizeof(cn), &spki,
				  &spki_len, why, sizeof(why)), 0);
	X509_REQ_free(req);
	free(spki);
	BIO_free(b);
	/* the signature's last byte: tampered */
	der[len - 1] ^= 1;
	req = NULL;
	ASSERT_EQ(fleet_csr_parse(der, len, &req, cn, sizeof(cn), &spki, &spki_len, why,
				  sizeof(why)), -EKEYREJECTED);
	ASSERT_TRUE(strstr(why, "tampered") != NULL);
	ASSERT_TRUE(req == NULL);
	der[len - 1] ^= 1;
	/* trailing bytes, truncation, junk */
	ASSERT_EQ(fleet_csr_parse(der, len - 1, &req, cn, sizeof(cn), &spki, &spki_len, why,
				  sizeof(why)), -EBADMSG);
	ASSERT_EQ(fleet_csr_parse((const uint8_t *)"junk", 4, &req, cn, sizeof(cn), &spki,
				  &spki_len, why, sizeof(why)), -EBADMSG);
	free(der);
	/* a CSR whose CN is no identity name */
	X509_REQ *r2 = X509_REQ_new();
	X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(r2), "CN", MBSTRING_UTF8,
				   (const unsigned char *)"evil,O=x", -1, -1, 0);
	X509_REQ_set_pubkey(r2, k);
	ASSERT_TRUE(X509_REQ_sign(r2, k, EVP_sha256()) > 0);
	der = NULL;
	int n = i2d_X509_REQ(r2, &der);
	ASSERT_EQ(fleet_csr_parse(der, (size_t)n, &req, cn, sizeof(cn), &spki, &spki_len, why,
				  sizeof(why)), -EBADMSG);
	ASSERT_TRUE(strstr(why, "CN") != NULL);
	OPENSSL_free(der);
	X509_REQ_free(r2);
	OPENSSL_free(want);
	EVP_PKEY_free(k);
}

#define T0 1900000000ll

static void ext(X509 *x, X509 *issuer, int nid, const char *v)
{
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, v);
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
}

/* A certificate for key with CN cn, signed by ca_key (issuer ca, or itself when NULL). */
static X509 *cert(EVP_PKEY *key, const char *cn, X509 *ca, EVP_PKEY *ca_key, bool is_ca,
		  const char *eku, long from, long to)
{
	X509 *x = X509_new();
	X509_NAME *nm = X509_NAME_new();
	time_t t0 = (time_t)T0;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 42);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, nm);
	X509_set_issuer_name(x, ca ? X509_get_subject_name(ca) : nm);
	X509_NAME_free(nm);
	X509_time_adj_ex(X509_getm_notBefore(x), 0, from, &t0);
	X509_time_adj_ex(X509_getm_notAfter(x), 0, to, &t0);
	X509_set_pubkey(x, key);
	ext(x, ca ? ca : x, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	if (is_ca)
		ext(x, x, NID_key_usage, "critical,keyCertSign");
	if (eku)
		ext(x, ca ? ca : x, NID_ext_key_usage, eku);
	X509_sign(x, ca_key, EVP_sha256());
	return x;
}

static size_t pem_of(X509 *const *v, size_t n, char *out, size_t cap)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	for (size_t i = 0; i < n; i++)
		PEM_write_bio_X509(b, v[i]);
	long l = BIO_get_mem_data(b, &p);
	size_t len = (size_t)l < cap ? (size_t)l : cap;
	memcpy(out, p, len);
	BIO_free(b);
	return len;
}

TEST(fleet_enroll_cert_check)
{
	EVP_PKEY *cak = ec_key(), *ocak = ec_key(), *k = ec_key(), *k2 = ec_key();
	X509 *ca = cert(cak, "fleet CA", NULL, cak, true, NULL, -86400, 30 * 86400);
	X509 *oca = cert(ocak, "other CA", NULL, ocak, true, NULL, -86400, 30 * 86400);
	X509 *good = cert(k, "cvm-a", ca, cak, false, "clientAuth", -300, 86400);
	X509 *noeku = cert(k, "cvm-a", ca, cak, false, NULL, -300, 86400);
	X509 *server = cert(k, "cvm-a", ca, cak, false, "serverAuth", -300, 86400);
	X509 *isca = cert(k, "cvm-a", ca, cak, true, "clientAuth", -300, 86400);
	X509 *other = cert(k, "cvm-a", oca, ocak, false, "clientAuth", -300, 86400);
	static char chain[16384], cap[8192];
	struct fleet_cert_info info;
	char why[512];
	size_t spki_len, spki2_len, cl, cal;
	uint8_t *spki = spki_of(k, &spki_len), *spki2 = spki_of(k2, &spki2_len);
	const uint8_t *c = (const uint8_t *)chain, *a = (const uint8_t *)cap;

	cal = pem_of(&ca, 1, cap, sizeof(cap));
	cl = pem_of(&good, 1, chain, sizeof(chain));
	ASSERT_EQ(fleet_cert_check(c, cl, a, cal, spki, spki_len, T0, &info, why, sizeof(why)), 0);
	ASSERT_TRUE(strstr(info.subject, "CN=cvm-a") != NULL);
	ASSERT_TRUE(strstr(info.issuer, "CN=fleet CA") != NULL);
	ASSERT_EQ(info.not_after, (uint64_t)T0 + 86400);
	ASSERT_FALSE(info.renewal_due);
	ASSERT_EQ(fleet_cert_key_matches(c, cl, spki, spki_len), 0);
	ASSERT_EQ(fleet_cert_key_matches(c, cl, spki2, spki2_len), -EKEYREJECTED);
	/* renewal due when less than a third is left; expired and not yet valid refused */
	ASSERT_EQ(fleet_cert_info(c, cl, T0 + 60000, &info), 0);
	ASSERT_TRUE(info.renewal_due);
	ASSERT_EQ(fleet_cert_check(c, cl, a, cal, spki, spki_len, T0 + 86400, &info, why,
				   sizeof(why)), -EKEYEXPIRED);
	ASSERT_TRUE(strstr(why, "expired") != NULL);
	ASSERT_EQ(fleet_cert_check(c, cl, a, cal, spki, spki_len, T0 - 400, &info, why,
				   sizeof(why)), -EKEYEXPIRED);
	/* another key */
	ASSERT_EQ(fleet_cert_check(c, cl, a, cal, spki2, spki2_len, T0, &info, why, sizeof(why)),
		  -EKEYREJECTED);
	ASSERT_TRUE(strstr(why, "another public key") != NULL);
	/* no CA given and none in the chain; the CA at the end of the chain */
	ASSERT_EQ(fleet_cert_check(c, cl, NULL, 0, spki, spki_len, T0, &info, why, sizeof(why)),
		  -EKEYREJECTED);
	ASSERT_TRUE(strstr(why, "no CA") != NULL);
	X509 *both[2] = { good, ca };
	cl = pem_of(both, 2, chain, sizeof(chain));
	ASSERT_EQ(fleet_cert_check(c, cl, NULL, 0, spki, spki_len, T0, &info, why, sizeof(why)), 0);
	/* ... but a given CA decides: the other CA does not verify it */
	size_t ocal = pem_of(&oca, 1, cap, sizeof(cap));
	ASSERT_EQ(fleet_cert_check(c, cl, a, ocal, spki, spki_len, T0, &info, why, sizeof(why)),
		  -EKEYREJECTED);
	ASSERT_TRUE(strstr(why, "does not chain") != NULL);
	cal = pem_of(&ca, 1, cap, sizeof(cap));
	/* signed by another CA */
	cl = pem_of(&other, 1, chain, sizeof(chain));
	ASSERT_EQ(fleet_cert_check(c, cl, a, cal, spki, spki_len, T0, &info, why, sizeof(why)),
		  -EKEYREJECTED);
	ASSERT_TRUE(strstr(why, "does not chain") != NULL);
	/* no clientAuth, serverAuth only, a CA certificate */
	cl = pem_of(&noeku, 1, chain, sizeof(chain));
	ASSERT_EQ(fleet_cert_check(c, cl, a, cal, spki, spki_len, T0, &info, why, sizeof(why)),
		  -EKEYREJECTED);
	ASSERT_TRUE(strstr(why, "clientAuth") != NULL);
	cl = pem_of(&server, 1, chain, sizeof(chain));
	ASSERT_EQ(fleet_cert_check(c, cl, a, cal, spki, spki_len, T0, &info, why, sizeof(why)),
		  -EKEYREJECTED);
	cl = pem_of(&isca, 1, chain, sizeof(chain));
	ASSERT_EQ(fleet_cert_check(c, cl, a, cal, spki, spki_len, T0, &info, why, sizeof(why)),
		  -EKEYREJECTED);
	ASSERT_TRUE(strstr(why, "CA certificate") != NULL);
	/* junk, and more certificates than a chain holds */
	ASSERT_EQ(fleet_cert_check((const uint8_t *)"junk", 4, a, cal, spki, spki_len, T0, &info,
				   why, sizeof(why)), -EBADMSG);
	X509 *many[FLEET_CHAIN_CERTS_MAX + 1];
	for (size_t i = 0; i < FLEET_CHAIN_CERTS_MAX + 1; i++)
		many[i] = good;
	cl = pem_of(many, FLEET_CHAIN_CERTS_MAX + 1, chain, sizeof(chain));
	ASSERT_EQ(fleet_cert_check(c, cl, a, cal, spki, spki_len, T0, &info, why, sizeof(why)),
		  -EBADMSG);
	X509 *xs[] = { ca, oca, good, noeku, server, isca, other };
	for (size_t i = 0; i < sizeof(xs) / sizeof(xs[0]); i++)
		X509_free(xs[i]);
	EVP_PKEY *ks[] = { cak, ocak, k, k2 };
	for (size_t i = 0; i < 4; i++)
		EVP_PKEY_free(ks[i]);
	OPENSSL_free(spki);
	OPENSSL_free(spki2);
}
