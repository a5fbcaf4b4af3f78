/* SPDX-License-Identifier: Apache-2.0 */
/*
 * BYOK tests: CKM_RSA_AES_KEY_WRAP round trips in both OAEP variants and their layout checked
 * with plain OpenSSL calls (the RSA-OAEP part, then the RFC 5649 part),
 * refusals (other key, other variant, every truncation, flipped bytes), the BYOK file and
 * bundle formats, REPORT_DATA, key sets and PKCS#11 URIs.
 */
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "byok.h"
#include "json.h"
#include "p11uri.h"
#include "secmem.h"
#include "test.h"

static EVP_PKEY *rsa_key(void)
{
	static EVP_PKEY *k;

	if (!k)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
	return k;
}

static EVP_PKEY *rsa_key2(void)
{
	static EVP_PKEY *k;

	if (!k)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	return k;
}

static const uint8_t kek[32] = { 0x6b, 0x65, 0x6b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13 };

TEST(byok_kwp_sizes_and_integrity)
{
	/* RFC 5649's examples use AES-192 KEKs; here: sizes (8 bytes of integrity block, input
	 * padded to 8) and the integrity check. vhsmd accepting SoftHSM2's CKM_AES_KEY_WRAP_PAD
	 * output (tests/integration/test-byok-pkcs11.sh) checks interoperability. */
	uint8_t out[64], back[64];
	size_t n = 0, m = 0;

	ASSERT_OK(byok_kwp(true, kek, kek, 32, out, &n));
	ASSERT_EQ(n, 40);
	ASSERT_OK(byok_kwp(false, kek, out, n, back, &m));
	ASSERT_EQ(m, 32);
	ASSERT_MEMEQ(back, kek, 32);
	out[3] ^= 1;
	ASSERT_EQ(byok_kwp(false, kek, out, n, back, &m), -EKEYREJECTED);
	/* 7 bytes: padded to 8, one AES block: 16 bytes of output. */
	ASSERT_OK(byok_kwp(true, kek, (const uint8_t *)"1234567", 7, out, &n));
	ASSERT_EQ(n, 16);
	ASSERT_OK(byok_kwp(false, kek, out, n, back, &m));
	ASSERT_EQ(m, 7);
}

static void roundtrip(enum byok_enc enc)
{
	uint8_t *ct = NULL, *pt = NULL;
	size_t ct_len = 0, pt_len = 0;

	ASSERT_OK(byok_rsa_aes_wrap(rsa_key(), enc, kek, 32, &ct, &ct_len));
	ASSERT_EQ(ct_len, 384 + 40);
	ASSERT_OK(byok_rsa_aes_unwrap(rsa_key(), enc, ct, ct_len, &pt, &pt_len));
	ASSERT_EQ(pt_len, 32);
	ASSERT_MEMEQ(pt, kek, 32);
	pt = secmem_free(pt);
	/* The other OAEP digest, another key: refused. */
	ASSERT_EQ(byok_rsa_aes_unwrap(rsa_key(), enc == BYOK_ENC_RSA_AES_KEY_WRAP_256 ?
				      BYOK_ENC_CKM_RSA_AES_KEY_WRAP : BYOK_ENC_RSA_AES_KEY_WRAP_256,
				      ct, ct_len, &pt, &pt_len), -EKEYREJECTED);
	ASSERT_TRUE(byok_rsa_aes_unwrap(rsa_key2(), enc, ct, ct_len, &pt, &pt_len) < 0);
	/* Every truncation and a flip in each part. */
	for (size_t l = 0; l < ct_len; l += 7)
		ASSERT_TRUE(byok_rsa_aes_unwrap(rsa_key(), enc, ct, l, &pt, &pt_len) < 0);
	for (size_t i = 0; i < ct_len; i += 53) {
		ct[i] ^= 0x20;
		ASSERT_TRUE(byok_rsa_aes_unwrap(rsa_key(), enc, ct, ct_len, &pt, &pt_len) < 0);
		ct[i] ^= 0x20;
	}
	ASSERT_TRUE(pt == NULL);
	free(ct);
}

TEST(byok_rsa_aes_roundtrip_sha256)
{
	roundtrip(BYOK_ENC_RSA_AES_KEY_WRAP_256);
}

TEST(byok_rsa_aes_roundtrip_sha1)
{
	roundtrip(BYOK_ENC_CKM_RSA_AES_KEY_WRAP);
}

/* The layout: RSA-OAEP(SHA-256) of the AES key first, then KWP of the target, by hand. */
TEST(byok_rsa_aes_layout)
{
	uint8_t *ct = NULL, aes[512], back[64];
	size_t ct_len = 0, alen = sizeof(aes), m = 0;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, rsa_key(), NULL);

	ASSERT_OK(byok_rsa_aes_wrap(rsa_key(), BYOK_ENC_RSA_AES_KEY_WRAP_256, kek, 32, &ct,
				    &ct_len));
	ASSERT_TRUE(ctx && EVP_PKEY_decrypt_init(ctx) > 0);
	ASSERT_TRUE(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0);
	ASSERT_TRUE(EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, "SHA256", NULL) > 0);
	ASSERT_TRUE(EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, "SHA256", NULL) > 0);
	ASSERT_TRUE(EVP_PKEY_decrypt(ctx, aes, &alen, ct, 384) > 0);
	ASSERT_EQ(alen, 32);
	ASSERT_OK(byok_kwp(false, aes, ct + 384, ct_len - 384, back, &m));
	ASSERT_EQ(m, 32);
	ASSERT_MEMEQ(back, kek, 32);
	EVP_PKEY_CTX_free(ctx);
	free(ct);
}

TEST(byok_file_format_parse)
{
	uint8_t ct[100];
	struct byok_file f = { .kid = "vhsm-xk-0011", .enc = BYOK_ENC_RSA_AES_KEY_WRAP_256,
			       .kind = BYOK_KIND_BACKUP, .kek = "esc", .ciphertext = ct,
			       .ciphertext_len = sizeof(ct) };
	struct byok_file g = {};
	char *json = NULL, err[160] = "";

	for (size_t i = 0; i < sizeof(ct); i++)
		ct[i] = (uint8_t)(i * 37 + 0xfb); /* produces '-' and '_' in base64url */
	ASSERT_OK(byok_file_format(&f, "unit", &json));
	ASSERT_TRUE(strstr(json, "\"schema_version\":\"1.0.0\"") != NULL);
	ASSERT_TRUE(strstr(json, "\"alg\":\"dir\"") != NULL);
	ASSERT_TRUE(strchr(strstr(json, "\"ciphertext\":\"") + 14, '=') == NULL ||
		    strchr(strstr(json, "\"ciphertext\":\"") + 14, '=') >
			    strchr(strstr(json, "\"ciphertext\":\"") + 14, '"'));
	char *nl = NULL;
	ASSERT_TRUE(asprintf(&nl, "%s\n", json) > 0);
	ASSERT_OK(byok_file_parse(nl, strlen(nl), &g, err, sizeof(err))); /* trailing newline */
	byok_file_done(&g);
	free(nl);
	ASSERT_OK(byok_file_parse(json, strlen(json), &g, err, sizeof(err)));
	ASSERT_STREQ(g.kid, f.kid);
	ASSERT_STREQ(g.kek, "esc");
	ASSERT_EQ(g.kind, BYOK_KIND_BACKUP);
	ASSERT_EQ(g.ciphertext_len, sizeof(ct));
	ASSERT_MEMEQ(g.ciphertext, ct, sizeof(ct));
	byok_file_done(&g);
	free(json);
}

TEST(byok_file_refusals)
{
	static const struct {
		const char *json, *member;
	} bad[] = {
		{ "[]", "BYOK file must be a JSON object" },
		{ "{\"schema_version\":\"1.0.0\",\"header\":{\"kid\":\"k\",\"alg", "truncated or malformed JSON at offset 50: unexpected end" },
		{ "{\"schema_version\":\"1.0.0\"}", "header" },
		{ "{\"schema_version\":\"2.0\",\"header\":{},\"ciphertext\":\"AA\"}", "schema_version" },
		{ "{\"schema_version\":\"1.0.0\",\"header\":{\"kid\":\"k\",\"alg\":\"RSA\",\"enc\":"
		  "\"RSA_AES_KEY_WRAP_256\"},\"ciphertext\":\"AAAA\"}", "header.alg" },
		{ "{\"schema_version\":\"1.0.0\",\"header\":{\"kid\":\"k\",\"alg\":\"dir\",\"enc\":"
		  "\"AES\"},\"ciphertext\":\"AAAA\"}", "header.enc" },
		{ "{\"schema_version\":\"1.0.0\",\"header\":{\"kid\":\"k k\",\"alg\":\"dir\",\"enc\":"
		  "\"RSA_AES_KEY_WRAP_256\"},\"ciphertext\":\"AAAA\"}", "header.kid" },
		{ "{\"schema_version\":\"1.0.0\",\"header\":{\"kid\":\"k\",\"alg\":\"dir\",\"enc\":"
		  "\"RSA_AES_KEY_WRAP_256\"},\"ciphertext\":\"A!AA\"}", "ciphertext" },
		{ "{\"schema_version\":\"1.0.0\",\"header\":{\"kid\":\"k\",\"alg\":\"dir\",\"enc\":"
		  "\"RSA_AES_KEY_WRAP_256\"},\"ciphertext\":\"AAAA\",\"x\":1}", "unknown member" },
		{ "{\"schema_version\":\"1.0.0\",\"header\":{\"kid\":\"k\",\"alg\":\"dir\",\"enc\":"
		  "\"RSA_AES_KEY_WRAP_256\"},\"ciphertext\":\"AAAA\",\"vhsm\":{\"kind\":\"x\"}}",
		  "vhsm.kind" },
		{ "{\"schema_version\":\"1.0.0\",\"header\":{\"kid\":\"k\",\"alg\":\"dir\",\"enc\":"
		  "\"RSA_AES_KEY_WRAP_256\"},\"ciphertext\":\"AAAA\"} trailing",
		  "truncated or malformed JSON at offset 109" },
	};
	struct byok_file f = {};
	char err[160];

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		err[0] = 0;
		ASSERT_EQ(byok_file_parse(bad[i].json, strlen(bad[i].json), &f, err, sizeof(err)),
			  -EBADMSG);
		if (!strstr(err, bad[i].member))
			fprintf(stderr, "    case %zu: \"%s\"\n", i, err);
		ASSERT_TRUE(strstr(err, bad[i].member) != NULL);
		ASSERT_TRUE(f.ciphertext == NULL);
	}
}

TEST(byok_bundle_roundtrip_and_binding)
{
	uint8_t spki_buf[16] = { 0x30 }, rep[1184] = { 3 }, nonce[32] = { 9 }, d1[64], d2[64];
	struct byok_bundle b = { .kid = "vhsm-xk-00", .kek = "k1", .created = 10, .expires = 20,
				 .spki = spki_buf, .spki_len = sizeof(spki_buf), .report = rep,
				 .report_len = sizeof(rep) };
	struct byok_bundle c = {};
	char *json = NULL, err[160] = "", kid[BYOK_KID_MAX + 1];

	memcpy(b.nonce, nonce, 32);
	ASSERT_OK(byok_bundle_format(&b, &json));
	ASSERT_OK(byok_bundle_parse(json, strlen(json), &c, err, sizeof(err)));
	ASSERT_STREQ(c.kek, "k1");
	ASSERT_EQ(c.expires, 20);
	ASSERT_EQ(c.report_len, sizeof(rep));
	ASSERT_TRUE(c.certs == NULL);
	byok_bundle_done(&c);
	free(json);

	/* REPORT_DATA depends on every bound input. */
	ASSERT_OK(byok_report_data(spki_buf, 16, nonce, 20, "k1", d1));
	ASSERT_OK(byok_report_data(spki_buf, 16, nonce, 20, "k1", d2));
	ASSERT_MEMEQ(d1, d2, 64);
	ASSERT_OK(byok_report_data(spki_buf, 16, nonce, 21, "k1", d2));
	ASSERT_MEMNE(d1, d2, 64);
	ASSERT_OK(byok_report_data(spki_buf, 16, nonce, 20, "k2", d2));
	ASSERT_MEMNE(d1, d2, 64);
	nonce[0] ^= 1;
	ASSERT_OK(byok_report_data(spki_buf, 16, nonce, 20, "k1", d2));
	ASSERT_MEMNE(d1, d2, 64);
	spki_buf[5] = 1;
	nonce[0] ^= 1;
	ASSERT_OK(byok_report_data(spki_buf, 16, nonce, 20, "k1", d2));
	ASSERT_MEMNE(d1, d2, 64);
	ASSERT_OK(byok_kid_from_spki(spki_buf, 16, kid));
	ASSERT_EQ(strlen(kid), strlen(BYOK_KID_PREFIX) + 32);
}

TEST(byok_keyset)
{
	uint8_t keys[2 * 32], *buf = NULL;
	size_t len = 0;
	struct byok_keyset ks = { .name = "esc", .flags = BYOK_KEYSET_FLAG_EXPORTABLE,
				  .retention_days = 30, .n = 2, .version = { 1, 2 },
				  .created = { 100, 200 } }, d;

	for (size_t i = 0; i < sizeof(keys); i++)
		keys[i] = (uint8_t)i;
	ASSERT_OK(byok_keyset_encode(&ks, keys, &buf, &len));
	ASSERT_TRUE(byok_is_keyset(buf, len));
	ASSERT_OK(byok_keyset_decode(buf, len, &d));
	ASSERT_STREQ(d.name, "esc");
	ASSERT_EQ(d.n, 2);
	ASSERT_EQ(d.version[1], 2);
	ASSERT_EQ(d.created[1], 200);
	ASSERT_EQ(d.retention_days, 30);
	ASSERT_MEMEQ(d.keys, keys, sizeof(keys));
	for (size_t l = 0; l < len; l++)
		ASSERT_EQ(byok_keyset_decode(buf, l, &d), -EBADMSG);
	buf[len - 64 - 12] = 1; /* version 2 -> 1: no longer increasing */
	ASSERT_EQ(byok_keyset_decode(buf, len, &d), -EBADMSG);
	secmem_free(buf);
	ASSERT_FALSE(byok_is_keyset(kek, 32));
}

TEST(p11uri_parse)
{
	struct p11uri u;
	char err[160];

	ASSERT_OK(p11uri_parse("pkcs11:token=my%20token;object=kek;id=%01%ff;type=secret-key"
			       "?module-path=/usr/lib/x.so&pin-source=file:/run/pin", &u, err,
			       sizeof(err)));
	ASSERT_STREQ(u.token, "my token");
	ASSERT_STREQ(u.object, "kek");
	ASSERT_TRUE(u.has_id && u.id_len == 2 && u.id[0] == 1 && u.id[1] == 0xff);
	ASSERT_STREQ(u.module_path, "/usr/lib/x.so");
	ASSERT_STREQ(u.pin_source, "file:/run/pin");
	ASSERT_TRUE(u.pin_value == NULL);
	p11uri_done(&u);
	ASSERT_OK(p11uri_parse("pkcs11:token=t?pin-value=1234", &u, err, sizeof(err)));
	ASSERT_STREQ(u.pin_value, "1234");
	p11uri_done(&u);
	ASSERT_TRUE(u.pin_value == NULL);

	static const char *const bad[] = {
		"pkcs12:token=t", "pkcs11:token", "pkcs11:foo=bar", "pkcs11:token=%4",
		"pkcs11:token=%zz", "pkcs11:token=a%00b", "pkcs11:type=private",
		"pkcs11:token=t?pin-value=1&pin-source=/x", "pkcs11:token=t?bogus=1",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		err[0] = 0;
		ASSERT_EQ(p11uri_parse(bad[i], &u, err, sizeof(err)), -EBADMSG);
		ASSERT_TRUE(err[0] != 0);
	}
}

/* Replaces the first "from" in json by "to" and parses the bundle; returns the error. */
static int bundle_with(const char *json, const char *from, const char *to, char *err,
		       size_t errlen)
{
	struct byok_bundle b = {};
	const char *at = strstr(json, from);
	char *m = NULL;
	int r;

	if (!at)
		return -ENOENT;
	if (asprintf(&m, "%.*s%s%s", (int)(at - json), json, to, at + strlen(from)) < 0)
		return -ENOMEM;
	err[0] = 0;
	r = byok_bundle_parse(m, strlen(m), &b, err, errlen);
	free(m);
	if (r >= 0)
		byok_bundle_done(&b);
	else if (b.spki || b.report || b.certs)
		return -EIO; /* outputs left on failure */
	return r;
}

TEST(byok_bundle_strict_members)
{
	static const struct {
		const char *from, *to, *err;
	} bad[] = {
		{ "\"key_ops\":[", "\"key_ops\":[ \"wrap\",", "key_ops: [\"import\"] expected" },
		{ "\"key_ops\":[", "\"key_ops\":[ 1,", "key_ops[0]: expected a string" },
		{ "\"key_ops\":[\n    \"import\"\n  ]", "\"key_ops\":\"import\"",
		  "key_ops: expected a list" },
		{ "\"key_ops\":[\n    \"import\"\n  ]", "\"key_ops\":[]",
		  "key_ops: [\"import\"] expected" },
		{ "\"key_ops\":[\n    \"import\"\n  ]", "\"key_ops\":[\"import\",\"import\"]",
		  "key_ops: [\"import\"] expected" },
		{ "\"key_ops\":[\n    \"import\"\n  ],", "", "key_ops: missing" },
		{ "\"key_size\":3072", "\"key_size\":\"3072\"", "key_size: expected an integer" },
		{ "\"key_size\":3072", "\"key_size\":3072.0", "key_size: expected an integer" },
		{ "\"key_size\":3072", "\"key_size\":2048", "key_size: 2048 is out of range 3072..3072" },
		{ "\"key_size\":3072,", "", "key_size: missing" },
		{ "\"created\":10", "\"created\":\"10\"", "created: expected an integer" },
		{ "\"created\":10", "\"created\":-1", "created: -1 is out of range" },
		{ "\"expires\":20", "\"expires\":2e1", "expires: expected an integer" },
		{ "\"kek\":\"k1\"", "\"kek\":\"k/1\"", "kek: invalid name 'k/1': names are 1-64" },
		{ "\"kek\":\"k1\"", "\"kek\":\"k\\u202e1\"", "kek: invalid name 'k\\xe2\\x80\\xae1'" },
		{ "\"kek\":\"k1\"", "\"kek\":1", "kek: expected a string" },
		{ "\"version\":1", "\"version\":\"1\"", "version: expected an integer" },
		{ "\"version\":1", "\"version\":1, \"version\":1", "version: duplicate member" },
		{ "\"version\":1", "\"version\":1, \"extra\":1", "extra: unknown member" },
		{ "\"nonce\"", "\"Nonce\"", "Nonce: unknown member" },
		{ "\"report\":\"", "\"report\":\"!", "report: not base64" },
	};
	uint8_t spki_buf[16] = { 0x30 }, rep[1184] = { 3 };
	struct byok_bundle b = { .kid = "vhsm-xk-00", .kek = "k1", .created = 10, .expires = 20,
				 .spki = spki_buf, .spki_len = sizeof(spki_buf), .report = rep,
				 .report_len = sizeof(rep) };
	char *json = NULL, err[JSON_ERR_MAX];

	ASSERT_OK(byok_bundle_format(&b, &json));
	ASSERT_EQ(bundle_with(json, "\"kek\"", "\"kek\"", err, sizeof(err)), 0);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		int r = bundle_with(json, bad[i].from, bad[i].to, err, sizeof(err));

		if (r != -EBADMSG || strncmp(err, bad[i].err, strlen(bad[i].err)) != 0) {
			test_fail(__FILE__, __LINE__, "case %zu: r=%d \"%s\", expected \"%s\"", i, r,
				  err, bad[i].err);
			break;
		}
	}
	free(json);
}

TEST(byok_file_strict_members)
{
	static const char head[] = "{\"schema_version\":\"1.0.0\",\"header\":{\"kid\":\"k\",\"alg\":"
				   "\"dir\",\"enc\":\"RSA_AES_KEY_WRAP_256\"},\"ciphertext\":\"AAAA\"";
	static const struct {
		const char *tail, *err;
	} bad[] = {
		{ ",\"vhsm\":{\"kind\":\"import\",\"versions\":[1]}}", "vhsm.versions: unknown member" },
		{ ",\"vhsm\":{\"kind\":\"import\",\"created\":1}}", "vhsm.created: unknown member" },
		{ ",\"vhsm\":{\"kind\":\"import\",\"kek\":\"-a\"}}", "vhsm.kek: invalid name '-a'" },
		{ ",\"vhsm\":{\"kind\":\"import\",\"kek\":\"a\\nb\"}}", "vhsm.kek: invalid name 'a\\x0ab'" },
		{ ",\"vhsm\":{\"kek\":\"a\"}}", "vhsm.kind: missing" },
		{ ",\"vhsm\":{\"kind\":1}}", "vhsm.kind: expected a string" },
		{ ",\"vhsm\":[]}", "vhsm: expected an object" },
		{ ",\"generator\":7}", "generator: expected a string" },
		{ ",\"header\":{}}", "header: duplicate member" },
		{ ",\"vhsm\":{\"kind\":\"import\",\"kind\":\"backup\"}}", "vhsm.kind: duplicate member" },
	};
	struct byok_file f = {};
	char json[512], err[JSON_ERR_MAX];

	snprintf(json, sizeof(json), "%s,\"vhsm\":{\"kind\":\"backup\",\"kek\":\"a\"}}", head);
	ASSERT_OK(byok_file_parse(json, strlen(json), &f, err, sizeof(err)));
	ASSERT_STREQ(f.kek, "a");
	byok_file_done(&f);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		snprintf(json, sizeof(json), "%s%s", head, bad[i].tail);
		err[0] = 0;
		if (byok_file_parse(json, strlen(json), &f, err, sizeof(err)) != -EBADMSG ||
		    strncmp(err, bad[i].err, strlen(bad[i].err)) != 0 || f.ciphertext) {
			test_fail(__FILE__, __LINE__, "case %zu: \"%s\", expected \"%s\"", i, err,
				  bad[i].err);
			break;
		}
	}
}

TEST(byok_backup_evidence_members_and_binding)
{
	uint8_t ct[64], rep[32], certs[16], d1[64], d2[64];
	struct byok_file f = { .kid = "vhsm-bk-00ff", .enc = BYOK_ENC_RSA_AES_KEY_WRAP_256,
			       .kind = BYOK_KIND_BACKUP, .kek = "esc", .ciphertext = ct,
			       .ciphertext_len = sizeof(ct), .report = rep,
			       .report_len = sizeof(rep), .certs = certs,
			       .certs_len = sizeof(certs) };
	struct byok_file g = {};
	char *json = NULL, err[160] = "";

	memset(ct, 0x11, sizeof(ct));
	memset(rep, 0x22, sizeof(rep));
	memset(certs, 0x33, sizeof(certs));
	ASSERT_OK(byok_file_format(&f, "unit", &json));
	ASSERT_OK(byok_file_parse(json, strlen(json), &g, err, sizeof(err)));
	ASSERT_EQ(g.report_len, sizeof(rep));
	ASSERT_MEMEQ(g.report, rep, sizeof(rep));
	ASSERT_EQ(g.certs_len, sizeof(certs));
	ASSERT_MEMEQ(g.certs, certs, sizeof(certs));
	byok_file_done(&g);
	free(json);

	/* Only a backup carries a report, and certificates need a report. */
	static const char *const bad[] = {
		"{\"schema_version\":\"1.0.0\",\"header\":{\"kid\":\"k\",\"alg\":\"dir\",\"enc\":"
		"\"RSA_AES_KEY_WRAP_256\"},\"ciphertext\":\"AAAA\",\"vhsm\":{\"kind\":\"import\","
		"\"report\":\"AAAA\"}}",
		"{\"schema_version\":\"1.0.0\",\"header\":{\"kid\":\"k\",\"alg\":\"dir\",\"enc\":"
		"\"RSA_AES_KEY_WRAP_256\"},\"ciphertext\":\"AAAA\",\"vhsm\":{\"kind\":\"backup\","
		"\"certificates\":\"AAAA\"}}",
		"{\"schema_version\":\"1.0.0\",\"header\":{\"kid\":\"k\",\"alg\":\"dir\",\"enc\":"
		"\"RSA_AES_KEY_WRAP_256\"},\"ciphertext\":\"AAAA\",\"vhsm\":{\"kind\":\"backup\","
		"\"report\":\"!\"}}",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		ASSERT_EQ(byok_file_parse(bad[i], strlen(bad[i]), &g, err, sizeof(err)), -EBADMSG);
		ASSERT_TRUE(strstr(err, "vhsm.") != NULL || strstr(err, "report") != NULL);
	}

	/* The binding covers the ciphertext, the escrow key id and the KEK name. */
	ASSERT_OK(byok_backup_report_data(ct, sizeof(ct), "vhsm-bk-00ff", "esc", d1));
	ct[63] ^= 1;
	ASSERT_OK(byok_backup_report_data(ct, sizeof(ct), "vhsm-bk-00ff", "esc", d2));
	ASSERT_MEMNE(d1, d2, 64);
	ct[63] ^= 1;
	ASSERT_OK(byok_backup_report_data(ct, sizeof(ct), "vhsm-bk-00fe", "esc", d2));
	ASSERT_MEMNE(d1, d2, 64);
	ASSERT_OK(byok_backup_report_data(ct, sizeof(ct), "vhsm-bk-00ff", "esd", d2));
	ASSERT_MEMNE(d1, d2, 64);
	ASSERT_OK(byok_backup_report_data(ct, sizeof(ct), "vhsm-bk-00ff", "esc", d2));
	ASSERT_MEMEQ(d1, d2, 64);
	ASSERT_EQ(byok_backup_report_data(ct, 0, "vhsm-bk-00ff", "esc", d2), -EINVAL);
}

/* A report member holds an SNP report or a whole HCL report (up to BYOK_REPORT_MAX bytes, with
 * its certificates still within the file limit); one byte more is refused, naming the member. */
TEST(byok_report_member_admits_hcl_reports)
{
	static uint8_t spki_buf[16] = { 0x30 }, certs[BYOK_CERTS_MAX], ct[BYOK_CIPHERTEXT_MAX];
	_cleanup_free_ uint8_t *rep = calloc(1, BYOK_REPORT_MAX + 1);
	struct byok_bundle b = { .kid = "vhsm-xk-00", .kek = "k1", .created = 10, .expires = 20,
				 .spki = spki_buf, .spki_len = sizeof(spki_buf), .report = rep,
				 .report_len = BYOK_REPORT_MAX, .certs = certs,
				 .certs_len = sizeof(certs) };
	struct byok_file f = { .kid = "vhsm-bk-00ff", .enc = BYOK_ENC_RSA_AES_KEY_WRAP_256,
			       .kind = BYOK_KIND_BACKUP, .kek = "esc", .ciphertext = ct,
			       .ciphertext_len = sizeof(ct), .report = rep,
			       .report_len = BYOK_REPORT_MAX, .certs = certs,
			       .certs_len = sizeof(certs) };
	struct byok_bundle c = {};
	struct byok_file g = {};
	char err[160] = "";

	ASSERT_TRUE(rep != NULL);
	memcpy(rep, "HCLA", 4);
	_cleanup_free_ char *json = NULL, *fjson = NULL, *big = NULL, *fbig = NULL;
	ASSERT_OK(byok_bundle_format(&b, &json));
	ASSERT_TRUE(strlen(json) <= BYOK_JSON_MAX);
	ASSERT_OK(byok_bundle_parse(json, strlen(json), &c, err, sizeof(err)));
	ASSERT_EQ(c.report_len, BYOK_REPORT_MAX);
	ASSERT_MEMEQ(c.report, rep, 4);
	byok_bundle_done(&c);
	ASSERT_OK(byok_file_format(&f, "unit", &fjson));
	ASSERT_TRUE(strlen(fjson) <= BYOK_JSON_MAX);
	ASSERT_OK(byok_file_parse(fjson, strlen(fjson), &g, err, sizeof(err)));
	ASSERT_EQ(g.report_len, BYOK_REPORT_MAX);
	byok_file_done(&g);

	b.report_len = f.report_len = BYOK_REPORT_MAX + 1;
	b.certs_len = f.certs_len = 16;
	ASSERT_OK(byok_bundle_format(&b, &big));
	ASSERT_EQ(byok_bundle_parse(big, strlen(big), &c, err, sizeof(err)), -EBADMSG);
	ASSERT_TRUE(strstr(err, "report") != NULL);
	ASSERT_OK(byok_file_format(&f, "unit", &fbig));
	ASSERT_EQ(byok_file_parse(fbig, strlen(fbig), &g, err, sizeof(err)), -EBADMSG);
	ASSERT_TRUE(strstr(err, "vhsm.report") != NULL);
}
