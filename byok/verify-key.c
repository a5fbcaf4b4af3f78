/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsm-byok verify-key (verify-key.h): the third party's check that a key pair's private key
 * was generated in, and is held by, a vhsmd in a CVM that satisfies the customer's policy.
 * The file is `vhsmctl key attest`'s: {"format":"vhsm-key-attestation-v1", "name", "nonce"
 * (hex), "spki", "report", "certs" (base64)}; REPORT_DATA = lib/keyattest's binding of the SPKI
 * and the nonce. vhsmd generates key pairs inside and has no operation that exports a private
 * key, so a policy that pins vhsmd's code makes the report a statement about the key.
 */
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "ct.h"
#include "evidence.h"
#include "fileio.h"
#include "json.h"
#include "keyattest.h"
#include "openssl-util.h"
#include "out.h"
#include "snp-abi.h"
#include "verify-key.h"

#define err(...) out_err(__VA_ARGS__)
#define KEY_ATTEST_FILE_MAX EVIDENCE_FILE_MAX

struct key_file {
	const char *format, *name, *nonce, *spki, *report, *certs;
};

static const struct json_field key_file_table[] = {
	{ "format", json_type_string, json_dispatch_string, offsetof(struct key_file, format),
	  JSON_MANDATORY, 1, 64 },
	{ "name", json_type_string, json_dispatch_string, offsetof(struct key_file, name),
	  JSON_MANDATORY, 1, 255 },
	{ "nonce", json_type_string, json_dispatch_string, offsetof(struct key_file, nonce),
	  JSON_MANDATORY, 0, 128 },
	{ "spki", json_type_string, json_dispatch_string, offsetof(struct key_file, spki),
	  JSON_MANDATORY, 4, 8192 },
	{ "report", json_type_string, json_dispatch_string, offsetof(struct key_file, report),
	  JSON_MANDATORY, 4, EVIDENCE_REPORT_B64_MAX },
	{ "certs", json_type_string, json_dispatch_string, offsetof(struct key_file, certs),
	  JSON_MANDATORY, 0, 48 * 1024 },
	{}
};

struct key_evidence {
	char name[256];
	uint8_t spki[4096];
	size_t spki_len;
	struct evidence ev;
};

_Static_assert(KEY_ATTEST_NONCE_MAX <= EVIDENCE_NONCE_MAX, "the attestation's nonce fits");

static int load(const char *path, struct key_evidence *e)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	struct key_file f = {};
	int r = evidence_parse(path, KEY_ATTEST_FILE_MAX, "a key attestation", key_file_table, &f,
			       &f.format, "vhsm-key-attestation-v1", &o);

	if (r != EXIT_OK)
		return r;
	snprintf(e->name, sizeof(e->name), "%s", f.name);
	r = evidence_decode(path, f.nonce, f.report, f.certs, &e->ev);
	if (r != EXIT_OK)
		return r;
	if (ct_base64_decode_str(f.spki, e->spki, sizeof(e->spki), &e->spki_len) < 0) {
		err("%s: spki: not base64 of at most %zu bytes", path, sizeof(e->spki));
		return EXIT_REJECTED;
	}
	return EXIT_OK;
}

/* The SPKI (DER) of a public key or certificate file, PEM or DER. */
static int expected_spki(const char *path, uint8_t **ret, size_t *ret_len)
{
	_cleanup_free_ uint8_t *buf = NULL;
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	size_t len;
	int n, r = fileio_read_all(path, KEY_ATTEST_FILE_MAX, &buf, &len);

	if (r < 0)
		return r;
	BIO *b = BIO_new_mem_buf(buf, (int)len);
	if (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL) {
		(void)BIO_reset(b);
		k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	}
	BIO_free(b);
	if (!x && !k) {
		const uint8_t *p = buf;
		x = openssl_x509_from_der(buf, len, KEY_ATTEST_FILE_MAX);
		if (!x)
			k = d2i_PUBKEY(NULL, &p, (long)len);
	}
	ERR_clear_error();
	if (x)
		k = X509_get_pubkey(x);
	X509_free(x);
	*ret = NULL;
	n = k ? i2d_PUBKEY(k, ret) : -1;
	EVP_PKEY_free(k);
	if (n <= 0)
		return -EBADMSG;
	*ret_len = (size_t)n;
	return 0;
}

static bool check_binding(const struct key_evidence *e, const struct verify_result *res)
{
	uint8_t want[64];
	bool c = key_attest_report_data(e->spki, e->spki_len, e->ev.nonce, e->ev.nonce_len,
					want) == 0 && verify_binds(res, want);

	out_check(c ? "pass" : "fail", "key_binding", "%s %s",
		  res->hcl ? "the HCL claims' user-data" : "REPORT_DATA", c
		  ? "binds this public key and nonce"
		  : "does not bind this public key and nonce (substituted or modified)");
	return c;
}

static bool check_nonce(const struct byok_verify_opts *o, const struct key_evidence *e)
{
	bool c;

	if (!o->nonce) {
		out_check("warn", "freshness", "no --nonce: the report may be an old one, replayed");
		return true;
	}
	c = evidence_nonce_is(&e->ev, o->nonce);
	out_check(c ? "pass" : "fail", "freshness", c ? "the report binds the given nonce"
						   : "the attestation's nonce is not the one given");
	return c;
}

static bool check_expected(const char *expect_key, const struct key_evidence *e)
{
	uint8_t *spki = NULL;
	size_t len;
	bool c;

	if (!expect_key)
		return true;
	if (expected_spki(expect_key, &spki, &len) < 0) {
		out_check("fail", "key_match", "%s is no public key or certificate", expect_key);
		return false;
	}
	c = len == e->spki_len && memcmp(spki, e->spki, len) == 0;
	OPENSSL_free(spki);
	out_check(c ? "pass" : "fail", "key_match", c ? "the attested key is %s's"
						   : "the attested key is not %s's", expect_key);
	return c;
}

int verify_key_attestation(const struct byok_verify_opts *o, const char *path,
			   const char *expect_key)
{
	_cleanup_(snp_policy_freep) struct snp_policy *pol = NULL;
	_cleanup_free_ struct key_evidence *e = calloc(1, sizeof(*e));
	struct verify_result res = {};
	uint8_t fp[32];
	char hex[65];
	unsigned int n;
	bool ok;
	int r;

	if (!e)
		return EXIT_ERROR;
	if (!path || !o->policy) {
		err("verify-key FILE --policy FILE is required");
		return EXIT_USAGE;
	}
	r = load(path, e);
	if (r != EXIT_OK) {
		evidence_done(&e->ev);
		return r;
	}
	r = verify_load_policy(o->policy, &pol);
	if (r != EXIT_OK) {
		evidence_done(&e->ev);
		return r;
	}
	EVP_Digest(e->spki, e->spki_len, fp, &n, EVP_sha256(), NULL);
	ct_hex_encode(hex, fp, sizeof(fp));
	out_say("key pair %s, public key sha256 %s", e->name, hex);
	ok = verify_evidence(o, e->ev.report, e->ev.report_len, e->ev.certs, e->ev.certs_len,
			      pol, "", &res);
	ok &= check_binding(e, &res);
	ok &= check_nonce(o, e);
	ok &= check_expected(expect_key, e);
	evidence_done(&e->ev);
	if (!ok) {
		err("refused: %s does not prove that the key was made in a CVM the policy accepts",
		    path);
		return EXIT_REJECTED;
	}
	out_say("the private key of %s was generated in and is held by a vhsmd whose CVM "
		"satisfies %s", e->name, o->policy);
	return EXIT_OK;
}
