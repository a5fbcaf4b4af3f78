/* SPDX-License-Identifier: Apache-2.0 */
/* BYOK formats and the CKM_RSA_AES_KEY_WRAP scheme (see byok.h, docs/byok.md). */
#include <json-c/json.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "byok.h"
#include "hcl-report.h"
#include "json.h"
#include "ct.h"
#include "log.h"
#include "openssl-util.h"
#include "secmem.h"
#include "text.h"

_Static_assert(BYOK_NAME_MAX == TEXT_KEY_NAME_MAX, "one name rule");

#define BYOK_SCHEMA_VERSION "1.0.0"
#define KEYSET_MAGIC "VHSMKS01"
#define KEYSET_MAGIC_LEN 8u
#define KEYSET_ENTRY (4u + 8u + 32u)

static const char *const enc_names[_BYOK_ENC_MAX] = {
	[BYOK_ENC_RSA_AES_KEY_WRAP_256] = "RSA_AES_KEY_WRAP_256",
	[BYOK_ENC_CKM_RSA_AES_KEY_WRAP] = "CKM_RSA_AES_KEY_WRAP",
};

const char *byok_enc_to_string(enum byok_enc e)
{
	return e >= 0 && e < _BYOK_ENC_MAX ? enc_names[e] : NULL;
}

enum byok_enc byok_enc_from_string(const char *s)
{
	for (int i = 0; i < _BYOK_ENC_MAX; i++)
		if (s && strcmp(s, enc_names[i]) == 0)
			return (enum byok_enc)i;
	return _BYOK_ENC_INVALID;
}

/* ---- base64 (standard for vhsm's own members, base64url for Azure's "ciphertext") ---- */

/* lib/ct's codec into a malloc'ed string: standard and padded, or url-safe and unpadded. */
static char *b64_encode(const uint8_t *in, size_t len, bool url)
{
	char *out = len <= SIZE_MAX / 2 ? malloc(CT_BASE64_LEN(len) + 1) : NULL;

	if (!out)
		return NULL;
	if (url)
		(void)ct_base64url_encode(out, in, len);
	else
		ct_base64_encode(out, in, len);
	return out;
}

/* Decodes standard or url-safe base64 (padding optional); 1 .. max bytes. */
static int b64_decode(const char *in, size_t max, uint8_t **ret, size_t *ret_len)
{
	size_t len = strlen(in);
	_cleanup_free_ uint8_t *out = NULL;
	int n;

	if (len == 0 || len > 4 * (max / 3 + 2))
		return -EBADMSG;
	out = malloc(max ? max : 1);
	if (!out)
		return -ENOMEM;
	n = ct_base64_decode_full(out, max, in, len, CT_BASE64_URL_TOO | CT_BASE64_PAD_OPTIONAL);
	if (n <= 0) /* malformed, over max, or empty */
		return -EBADMSG;
	*ret_len = (size_t)n;
	*ret = TAKE_PTR(out);
	return 0;
}

/* ---- JSON: lib/json's strict parser and one dispatch table per object ---- */

static int fail(char *err, size_t errlen, const char *member, const char *what)
{
	return json_fail(err, errlen, -EBADMSG, "%s: %s", member, what);
}

/* Decodes the base64 member s (NULL when absent and optional) into a malloc'ed buffer. */
static int get_b64(const char *s, const char *k, size_t max, bool required, uint8_t **ret,
		   size_t *ret_len, char *err, size_t errlen)
{
	int r;

	if (!s)
		return required ? fail(err, errlen, k, "missing") : 0;
	r = b64_decode(s, max, ret, ret_len);
	if (r == -EBADMSG)
		return fail(err, errlen, k, "not base64 of an acceptable length");
	return r;
}

_Static_assert(BYOK_REPORT_MAX == HCL_REPORT_MAX, "a report member holds an HCL report");

/* A string member holding base64 of at most max bytes: bounded before decoding. */
#define B64_FIELD(n, st, m, max, fl)                                                              \
	{ n, json_type_string, json_dispatch_string, offsetof(st, m), fl, 1, 4 * ((max) / 3 + 2) }

/*
 * A kid names a key, but is not a key name: "vhsm-xk-<hex>", "vhsm-bk-<hex>", or an Azure key
 * identifier (a URL), so besides the key-name characters it allows ':' and '/'; 1..128
 * characters of [A-Za-z0-9_.:/-]. No control characters, spaces or non-ASCII bytes either.
 */
static bool kid_valid(const char *kid)
{
	size_t n = strlen(kid);

	if (n == 0 || n > BYOK_KID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((kid[i] >= 'a' && kid[i] <= 'z') || (kid[i] >= 'A' && kid[i] <= 'Z') ||
		      (kid[i] >= '0' && kid[i] <= '9') || strchr("-_.:/", kid[i])))
			return false;
	return true;
}

/* ---- bundle ---- */

void byok_bundle_done(struct byok_bundle *b)
{
	free(b->spki);
	free(b->report);
	free(b->certs);
	*b = (struct byok_bundle){};
}

/* The bundle's members as json_dispatch() leaves them; strings borrowed from the tree. */
struct bundle_json {
	const char *type, *kid, *nonce, *public_key, *report, *certificates;
	char kek[BYOK_NAME_MAX + 1];
	uint64_t version, created, expires;
	uint32_t key_size;
	struct json_object *key_ops;
};

/* key_ops: a list of strings; the only operation an exchange key has is "import". */
static int dispatch_key_ops(struct json_object *v, const char *path, const struct json_field *f,
			    void *p, char *err, size_t errlen)
{
	char e[JSON_PATH_MAX];
	size_t n = json_object_array_length(v);

	(void)f;
	for (size_t i = 0; i < n; i++)
		if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_string))
			return json_fail(err, errlen, -EBADMSG, "%s: expected a string",
					 json_path(e, path, NULL, i));
	if (n != 1 || strcmp(json_object_get_string(json_object_array_get_idx(v, 0)), "import") != 0)
		return json_fail(err, errlen, -EBADMSG, "%s: [\"import\"] expected", path);
	*(struct json_object **)p = v;
	return 0;
}

#define BUNDLE_FIELD(n, t, fn, m, fl, lo, hi)                                                      \
	{ n, t, fn, offsetof(struct bundle_json, m), fl, lo, hi }
static const struct json_field bundle_table[] = {
	BUNDLE_FIELD("type", json_type_string, json_dispatch_string, type, JSON_MANDATORY, 1, 64),
	BUNDLE_FIELD("version", json_type_int, json_dispatch_uint64, version, JSON_MANDATORY, 0,
		     INT64_MAX),
	BUNDLE_FIELD("kid", json_type_string, json_dispatch_string, kid, JSON_MANDATORY, 1,
		     BYOK_KID_MAX),
	BUNDLE_FIELD("kek", json_type_string, json_dispatch_key_name, kek, JSON_MANDATORY, 0, 0),
	BUNDLE_FIELD("created", json_type_int, json_dispatch_uint64, created, JSON_MANDATORY, 0,
		     INT64_MAX),
	BUNDLE_FIELD("expires", json_type_int, json_dispatch_uint64, expires, JSON_MANDATORY, 0,
		     INT64_MAX),
	BUNDLE_FIELD("key_ops", json_type_array, dispatch_key_ops, key_ops, JSON_MANDATORY, 0, 0),
	BUNDLE_FIELD("key_size", json_type_int, json_dispatch_uint32, key_size, JSON_MANDATORY,
		     BYOK_RSA_BITS, BYOK_RSA_BITS),
	BUNDLE_FIELD("nonce", json_type_string, json_dispatch_string, nonce, JSON_MANDATORY, 1,
		     2 * BYOK_NONCE_SIZE),
	B64_FIELD("public_key", struct bundle_json, public_key, BYOK_SPKI_MAX, JSON_MANDATORY),
	B64_FIELD("report", struct bundle_json, report, BYOK_REPORT_MAX, JSON_MANDATORY),
	B64_FIELD("certificates", struct bundle_json, certificates, BYOK_CERTS_MAX, 0),
	{}
};

static int bundle_members(const struct bundle_json *j, struct byok_bundle *b, char *err,
			  size_t errlen)
{
	if (strcmp(j->type, "vhsm-exchange-key") != 0)
		return fail(err, errlen, "type", "not \"vhsm-exchange-key\"");
	if (j->version != 1)
		return fail(err, errlen, "version", "unsupported (1 expected)");
	if (!kid_valid(j->kid))
		return fail(err, errlen, "kid", "invalid characters or length");
	if (ct_hex_decode(b->nonce, sizeof(b->nonce), j->nonce, strlen(j->nonce)) < 0)
		return fail(err, errlen, "nonce", "64 hex digits expected");
	strcpy(b->kid, j->kid);
	strcpy(b->kek, j->kek);
	b->created = j->created;
	b->expires = j->expires;
	return 0;
}

int byok_bundle_parse(const char *json, size_t len, struct byok_bundle *ret, char *err,
		      size_t errlen)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	struct bundle_json j = {};
	struct byok_bundle b = {};
	int r;

	r = json_parse(json, len, BYOK_JSON_MAX, "exchange-key bundle", &o, err, errlen);
	if (r < 0)
		return r;
	r = json_dispatch(o, NULL, bundle_table, &j, err, errlen);
	if (r >= 0)
		r = bundle_members(&j, &b, err, errlen);
	if (r >= 0)
		r = get_b64(j.public_key, "public_key", BYOK_SPKI_MAX, true, &b.spki, &b.spki_len,
			    err, errlen);
	if (r >= 0)
		r = get_b64(j.report, "report", BYOK_REPORT_MAX, true, &b.report, &b.report_len,
			    err, errlen);
	if (r >= 0)
		r = get_b64(j.certificates, "certificates", BYOK_CERTS_MAX, false, &b.certs,
			    &b.certs_len, err, errlen);
	if (r < 0) {
		byok_bundle_done(&b);
		return r;
	}
	*ret = b;
	return 0;
}

int byok_bundle_format(const struct byok_bundle *b, char **ret)
{
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();
	_cleanup_free_ char *pk = b64_encode(b->spki, b->spki_len, false);
	_cleanup_free_ char *rep = b64_encode(b->report, b->report_len, false);
	_cleanup_free_ char *certs = b->certs ? b64_encode(b->certs, b->certs_len, false) : NULL;
	char nonce[2 * BYOK_NONCE_SIZE + 1];
	json_object *ops = json_object_new_array();

	if (!o || !pk || !rep || !ops || (b->certs && !certs)) {
		json_object_put(ops);
		return -ENOMEM;
	}
	ct_hex_encode(nonce, b->nonce, sizeof(b->nonce));
	json_object_array_add(ops, json_object_new_string("import"));
	json_object_object_add(o, "type", json_object_new_string("vhsm-exchange-key"));
	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "kid", json_object_new_string(b->kid));
	json_object_object_add(o, "kek", json_object_new_string(b->kek));
	json_object_object_add(o, "created", json_object_new_int64((int64_t)b->created));
	json_object_object_add(o, "expires", json_object_new_int64((int64_t)b->expires));
	json_object_object_add(o, "key_ops", ops);
	json_object_object_add(o, "key_size", json_object_new_int(BYOK_RSA_BITS));
	json_object_object_add(o, "nonce", json_object_new_string(nonce));
	json_object_object_add(o, "public_key", json_object_new_string(pk));
	json_object_object_add(o, "report", json_object_new_string(rep));
	if (certs)
		json_object_object_add(o, "certificates", json_object_new_string(certs));
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							       JSON_C_TO_STRING_NOSLASHESCAPE);
	*ret = s ? strdup(s) : NULL;
	return *ret ? 0 : -ENOMEM;
}

static int sha(const EVP_MD *md, const uint8_t *p, size_t n, uint8_t *out)
{
	unsigned int l = 0;

	if (!EVP_Digest(p, n, out, &l, md, NULL))
		return vhsm_log_openssl(-EIO, "digest");
	return 0;
}

int byok_kid_from_spki(const uint8_t *spki, size_t len, char *out)
{
	uint8_t h[32];
	int r = sha(EVP_sha256(), spki, len, h);

	if (r < 0)
		return r;
	memcpy(out, BYOK_KID_PREFIX, sizeof(BYOK_KID_PREFIX));
	ct_hex_encode(out + strlen(BYOK_KID_PREFIX), h, 16);
	return 0;
}

int byok_spki_fingerprint(const uint8_t *spki, size_t len, char out[static 65])
{
	uint8_t h[32];
	int r = sha(EVP_sha256(), spki, len, h);

	if (r < 0)
		return r;
	ct_hex_encode(out, h, sizeof(h));
	return 0;
}

int byok_report_data(const uint8_t *spki, size_t spki_len, const uint8_t nonce[static 32],
		     uint64_t expires, const char *kek, uint8_t out[static 64])
{
	uint8_t buf[sizeof(BYOK_REPORT_DATA_LABEL) + 32 + 32 + 8 + 1 + BYOK_NAME_MAX];
	size_t kl = strlen(kek), n = 0;
	int r;

	if (kl > BYOK_NAME_MAX)
		return -EINVAL;
	memcpy(buf, BYOK_REPORT_DATA_LABEL, sizeof(BYOK_REPORT_DATA_LABEL)); /* with the NUL */
	n = sizeof(BYOK_REPORT_DATA_LABEL);
	r = sha(EVP_sha256(), spki, spki_len, buf + n);
	if (r < 0)
		return r;
	n += 32;
	memcpy(buf + n, nonce, 32);
	n += 32;
	for (int i = 0; i < 8; i++)
		buf[n++] = (uint8_t)(expires >> (8 * i));
	buf[n++] = (uint8_t)kl;
	memcpy(buf + n, kek, kl);
	n += kl;
	return sha(EVP_sha512(), buf, n, out);
}

int byok_backup_report_data(const uint8_t *ct, size_t ct_len, const char *kid, const char *kek,
			    uint8_t out[static 64])
{
	uint8_t buf[sizeof(BYOK_BACKUP_REPORT_DATA_LABEL) + 32 + 1 + BYOK_KID_MAX + 1 +
		    BYOK_NAME_MAX];
	size_t kl = strlen(kid), nl = strlen(kek), n;
	int r;

	if (kl > BYOK_KID_MAX || nl > BYOK_NAME_MAX || !ct || ct_len == 0)
		return -EINVAL;
	memcpy(buf, BYOK_BACKUP_REPORT_DATA_LABEL, sizeof(BYOK_BACKUP_REPORT_DATA_LABEL));
	n = sizeof(BYOK_BACKUP_REPORT_DATA_LABEL);
	r = sha(EVP_sha256(), ct, ct_len, buf + n);
	if (r < 0)
		return r;
	n += 32;
	buf[n++] = (uint8_t)kl;
	memcpy(buf + n, kid, kl);
	n += kl;
	buf[n++] = (uint8_t)nl;
	memcpy(buf + n, kek, nl);
	n += nl;
	return sha(EVP_sha512(), buf, n, out);
}

/* ---- BYOK file ---- */

void byok_file_done(struct byok_file *f)
{
	free(f->ciphertext);
	free(f->report);
	free(f->certs);
	*f = (struct byok_file){};
}

/* The file's members as json_dispatch() leaves them; strings borrowed from the tree. */
struct file_json {
	const char *schema_version, *ciphertext, *generator;
	struct json_object *header, *vhsm;
	const char *kid, *alg, *enc; /* header */
	const char *kind;            /* vhsm */
	char kek[BYOK_NAME_MAX + 1]; /* vhsm */
	const char *report, *certificates; /* vhsm: a backup's evidence */
};

#define FILE_FIELD(n, t, fn, m, fl, lo, hi) { n, t, fn, offsetof(struct file_json, m), fl, lo, hi }
static const struct json_field file_table[] = {
	FILE_FIELD("schema_version", json_type_string, json_dispatch_string, schema_version,
		   JSON_MANDATORY, 1, 16),
	FILE_FIELD("header", json_type_object, json_dispatch_borrow, header, JSON_MANDATORY, 0, 0),
	B64_FIELD("ciphertext", struct file_json, ciphertext, BYOK_CIPHERTEXT_MAX, JSON_MANDATORY),
	FILE_FIELD("generator", json_type_string, json_dispatch_string, generator, 0, 0, 256),
	FILE_FIELD("vhsm", json_type_object, json_dispatch_borrow, vhsm, 0, 0, 0),
	{}
};
static const struct json_field file_header_table[] = {
	FILE_FIELD("kid", json_type_string, json_dispatch_string, kid, JSON_MANDATORY, 1,
		   BYOK_KID_MAX),
	FILE_FIELD("alg", json_type_string, json_dispatch_string, alg, JSON_MANDATORY, 1, 16),
	FILE_FIELD("enc", json_type_string, json_dispatch_string, enc, JSON_MANDATORY, 1, 32),
	{}
};
static const struct json_field file_vhsm_table[] = {
	FILE_FIELD("kind", json_type_string, json_dispatch_string, kind, JSON_MANDATORY, 1, 16),
	FILE_FIELD("kek", json_type_string, json_dispatch_key_name, kek, 0, 0, 0),
	B64_FIELD("report", struct file_json, report, BYOK_REPORT_MAX, 0),
	B64_FIELD("certificates", struct file_json, certificates, BYOK_CERTS_MAX, 0),
	{}
};

static int file_members(const struct file_json *j, struct byok_file *f, char *err,
			size_t errlen)
{
	if (!kid_valid(j->kid))
		return fail(err, errlen, "header.kid", "invalid characters or length");
	if (strcmp(j->alg, "dir") != 0)
		return fail(err, errlen, "header.alg", "only \"dir\" is defined");
	f->enc = byok_enc_from_string(j->enc);
	if (f->enc < 0)
		return fail(err, errlen, "header.enc",
			    "not RSA_AES_KEY_WRAP_256 or CKM_RSA_AES_KEY_WRAP");
	/* Without a "vhsm" member (as Azure tooling writes it) the file is an import. */
	if (!j->kind || strcmp(j->kind, "import") == 0)
		f->kind = BYOK_KIND_IMPORT;
	else if (strcmp(j->kind, "backup") == 0)
		f->kind = BYOK_KIND_BACKUP;
	else
		return fail(err, errlen, "vhsm.kind", "not \"import\" or \"backup\"");
	strcpy(f->kid, j->kid);
	strcpy(f->kek, j->kek);
	return 0;
}

/* A backup's evidence (vhsm.report, vhsm.certificates): only a backup carries it. */
static int file_evidence(const struct file_json *j, struct byok_file *f, char *err,
			 size_t errlen)
{
	int r;

	if (j->certificates && !j->report)
		return fail(err, errlen, "vhsm.certificates", "present without vhsm.report");
	if (j->report && f->kind != BYOK_KIND_BACKUP)
		return fail(err, errlen, "vhsm.report", "only a backup carries a report");
	r = get_b64(j->report, "vhsm.report", BYOK_REPORT_MAX, false, &f->report, &f->report_len,
		    err, errlen);
	if (r >= 0)
		r = get_b64(j->certificates, "vhsm.certificates", BYOK_CERTS_MAX, false, &f->certs,
			    &f->certs_len, err, errlen);
	return r;
}

int byok_file_parse(const char *json, size_t len, struct byok_file *ret, char *err, size_t errlen)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	struct file_json j = {};
	struct byok_file f = {};
	int r;

	r = json_parse(json, len, BYOK_JSON_MAX, "BYOK file", &o, err, errlen);
	if (r < 0)
		return r;
	r = json_dispatch(o, NULL, file_table, &j, err, errlen);
	if (r >= 0 && strcmp(j.schema_version, BYOK_SCHEMA_VERSION) != 0)
		r = fail(err, errlen, "schema_version", "not \"1.0.0\"");
	if (r >= 0)
		r = json_dispatch(j.header, "header", file_header_table, &j, err, errlen);
	if (r >= 0 && j.vhsm)
		r = json_dispatch(j.vhsm, "vhsm", file_vhsm_table, &j, err, errlen);
	if (r >= 0)
		r = file_members(&j, &f, err, errlen);
	if (r >= 0)
		r = get_b64(j.ciphertext, "ciphertext", BYOK_CIPHERTEXT_MAX, true, &f.ciphertext,
			    &f.ciphertext_len, err, errlen);
	if (r >= 0)
		r = file_evidence(&j, &f, err, errlen);
	if (r < 0) {
		byok_file_done(&f);
		return r;
	}
	*ret = f;
	return 0;
}

int byok_file_format(const struct byok_file *f, const char *generator, char **ret)
{
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();
	json_object *h = json_object_new_object(), *v = json_object_new_object();
	_cleanup_free_ char *ct = b64_encode(f->ciphertext, f->ciphertext_len, true);
	_cleanup_free_ char *rep = f->report ? b64_encode(f->report, f->report_len, false) : NULL;
	_cleanup_free_ char *certs = f->certs ? b64_encode(f->certs, f->certs_len, false) : NULL;

	if (!o || !h || !v || !ct || !byok_enc_to_string(f->enc) || (f->report && !rep) ||
	    (f->certs && !certs)) {
		json_object_put(h);
		json_object_put(v);
		return !o || !h || !v || !ct ? -ENOMEM : -EINVAL;
	}
	json_object_object_add(o, "schema_version", json_object_new_string(BYOK_SCHEMA_VERSION));
	json_object_object_add(h, "kid", json_object_new_string(f->kid));
	json_object_object_add(h, "alg", json_object_new_string("dir"));
	json_object_object_add(h, "enc", json_object_new_string(byok_enc_to_string(f->enc)));
	json_object_object_add(o, "header", h);
	json_object_object_add(o, "ciphertext", json_object_new_string(ct));
	json_object_object_add(o, "generator", json_object_new_string(generator ? generator : ""));
	json_object_object_add(v, "kind", json_object_new_string(
						  f->kind == BYOK_KIND_BACKUP ? "backup" : "import"));
	if (f->kek[0])
		json_object_object_add(v, "kek", json_object_new_string(f->kek));
	if (rep)
		json_object_object_add(v, "report", json_object_new_string(rep));
	if (certs)
		json_object_object_add(v, "certificates", json_object_new_string(certs));
	json_object_object_add(o, "vhsm", v);
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							       JSON_C_TO_STRING_NOSLASHESCAPE);
	*ret = s ? strdup(s) : NULL;
	return *ret ? 0 : -ENOMEM;
}

/* ---- crypto ---- */

int byok_kwp(bool enc, const uint8_t key[static 32], const uint8_t *in, size_t in_len,
	     uint8_t *out, size_t *out_len)
{
	_cleanup_(EVP_CIPHER_freep) EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, "AES-256-WRAP-PAD", NULL);
	_cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int l1 = 0, l2 = 0;

	if (!c || !ctx || in_len > 8192)
		return vhsm_log_openssl(-EIO, "AES-256-WRAP-PAD");
	if (!EVP_CipherInit_ex2(ctx, c, key, NULL, enc ? 1 : 0, NULL) ||
	    !EVP_CipherUpdate(ctx, out, &l1, in, (int)in_len) ||
	    !EVP_CipherFinal_ex(ctx, out + l1, &l2))
		return vhsm_log_openssl(enc ? -EIO : -EKEYREJECTED, "AES-KWP");
	*out_len = (size_t)l1 + (size_t)l2;
	return 0;
}

static int oaep_ctx(EVP_PKEY *key, bool enc, enum byok_enc e, EVP_PKEY_CTX **ret)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	const char *md = e == BYOK_ENC_CKM_RSA_AES_KEY_WRAP ? "SHA1" : "SHA256";

	if (!ctx)
		return vhsm_log_openssl(-ENOMEM, "EVP_PKEY_CTX");
	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA || EVP_PKEY_get_bits(key) < 2048 ||
	    (enc ? EVP_PKEY_encrypt_init(ctx) : EVP_PKEY_decrypt_init(ctx)) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, md, NULL) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, md, NULL) <= 0) {
		EVP_PKEY_CTX_free(ctx);
		return vhsm_log_openssl(-EINVAL, "RSA-OAEP setup");
	}
	*ret = ctx;
	return 0;
}

int byok_rsa_aes_wrap(EVP_PKEY *pub, enum byok_enc enc, const uint8_t *pt, size_t pt_len,
		      uint8_t **ret, size_t *ret_len)
{
	_cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = NULL;
	_cleanup_secmem_ uint8_t *k = NULL;
	_cleanup_free_ uint8_t *out = NULL;
	size_t rsa_len = 0, kwp_len = 0;
	int r;

	if (pt_len == 0 || pt_len > 4096 || enc < 0 || enc >= _BYOK_ENC_MAX)
		return -EINVAL;
	r = oaep_ctx(pub, true, enc, &ctx);
	if (r < 0)
		return r;
	k = secmem_alloc(BYOK_AES_KEY_SIZE);
	if (!k)
		return -ENOMEM;
	if (RAND_priv_bytes(k, BYOK_AES_KEY_SIZE) != 1)
		return vhsm_log_openssl(-EIO, "RAND_priv_bytes");
	if (EVP_PKEY_encrypt(ctx, NULL, &rsa_len, k, BYOK_AES_KEY_SIZE) <= 0)
		return vhsm_log_openssl(-EIO, "RSA-OAEP size");
	out = malloc(rsa_len + pt_len + 16);
	if (!out)
		return -ENOMEM;
	if (EVP_PKEY_encrypt(ctx, out, &rsa_len, k, BYOK_AES_KEY_SIZE) <= 0)
		return vhsm_log_openssl(-EIO, "RSA-OAEP");
	r = byok_kwp(true, k, pt, pt_len, out + rsa_len, &kwp_len);
	if (r < 0)
		return r;
	*ret_len = rsa_len + kwp_len;
	*ret = TAKE_PTR(out);
	return 0;
}

int byok_rsa_aes_unwrap(EVP_PKEY *priv, enum byok_enc enc, const uint8_t *ct, size_t ct_len,
			uint8_t **ret, size_t *ret_len)
{
	_cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = NULL;
	_cleanup_secmem_ uint8_t *k = NULL, *pt = NULL;
	size_t mod, klen, pt_len = 0;
	int r;

	if (enc < 0 || enc >= _BYOK_ENC_MAX)
		return -EINVAL;
	r = oaep_ctx(priv, false, enc, &ctx);
	if (r < 0)
		return r;
	mod = (size_t)EVP_PKEY_get_size(priv);
	/* KWP output is at least 16 bytes and a multiple of 8. */
	if (ct_len < mod + 16 || (ct_len - mod) % 8 || ct_len - mod > 4096 + 8)
		return -EBADMSG;
	k = secmem_alloc(mod);
	pt = secmem_alloc(ct_len - mod);
	if (!k || !pt)
		return -ENOMEM;
	klen = mod;
	if (EVP_PKEY_decrypt(ctx, k, &klen, ct, mod) <= 0 || klen != BYOK_AES_KEY_SIZE)
		return vhsm_log_openssl(-EKEYREJECTED, "RSA-OAEP decrypt");
	r = byok_kwp(false, k, ct + mod, ct_len - mod, pt, &pt_len);
	if (r < 0)
		return -EKEYREJECTED;
	if (pt_len == 0)
		return -EKEYREJECTED;
	*ret_len = pt_len;
	*ret = TAKE_PTR(pt);
	return 0;
}

int byok_pubkey_load(const uint8_t *buf, size_t len, EVP_PKEY **ret)
{
	_cleanup_(BIO_freep) BIO *bio = NULL;
	EVP_PKEY *k = NULL;
	const unsigned char *p = buf;

	if (len == 0 || len > 16384)
		return -EMSGSIZE;
	if (len > 10 && memcmp(buf, "-----BEGIN", 10) == 0) {
		bio = BIO_new_mem_buf(buf, (int)len);
		if (bio)
			k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	} else {
		k = d2i_PUBKEY(NULL, &p, (long)len);
		if (k && p != buf + len) {
			EVP_PKEY_free(k);
			k = NULL;
		}
	}
	if (!k)
		return vhsm_log_openssl(-EBADMSG, "public key");
	if (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA) {
		EVP_PKEY_free(k);
		return -EBADMSG;
	}
	*ret = k;
	return 0;
}

int byok_pubkey_spki(EVP_PKEY *pkey, uint8_t **ret, size_t *ret_len)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(pkey, &der);

	if (n <= 0)
		return vhsm_log_openssl(-EIO, "i2d_PUBKEY");
	*ret = malloc((size_t)n);
	if (!*ret) {
		OPENSSL_free(der);
		return -ENOMEM;
	}
	memcpy(*ret, der, (size_t)n);
	OPENSSL_free(der);
	*ret_len = (size_t)n;
	return 0;
}

/* ---- key set ---- */

bool byok_is_keyset(const uint8_t *buf, size_t len)
{
	return len >= KEYSET_MAGIC_LEN && memcmp(buf, KEYSET_MAGIC, KEYSET_MAGIC_LEN) == 0;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int byok_keyset_encode(const struct byok_keyset *ks, const uint8_t *keys, uint8_t **ret,
		       size_t *ret_len)
{
	size_t nl = strlen(ks->name), len, o;
	uint8_t *b;

	if (nl == 0 || nl > BYOK_NAME_MAX || ks->n == 0 || ks->n > BYOK_KEYSET_MAX_VERSIONS)
		return -EINVAL;
	len = KEYSET_MAGIC_LEN + 1 + nl + 1 + 4 + 4 + (size_t)ks->n * KEYSET_ENTRY;
	b = secmem_alloc(len);
	if (!b)
		return -ENOMEM;
	memcpy(b, KEYSET_MAGIC, KEYSET_MAGIC_LEN);
	o = KEYSET_MAGIC_LEN;
	b[o++] = (uint8_t)nl;
	memcpy(b + o, ks->name, nl);
	o += nl;
	b[o++] = ks->flags;
	put_le(b + o, ks->retention_days, 4), o += 4;
	put_le(b + o, ks->n, 4), o += 4;
	for (uint32_t i = 0; i < ks->n; i++) {
		put_le(b + o, ks->version[i], 4), o += 4;
		put_le(b + o, ks->created[i], 8), o += 8;
	}
	memcpy(b + o, keys, (size_t)ks->n * 32);
	*ret = b;
	*ret_len = len;
	return 0;
}

int byok_keyset_decode(const uint8_t *buf, size_t len, struct byok_keyset *ret)
{
	struct byok_keyset ks = {};
	size_t o = KEYSET_MAGIC_LEN, nl;

	if (!byok_is_keyset(buf, len) || len < o + 1)
		return -EBADMSG;
	nl = buf[o++];
	if (nl == 0 || nl > BYOK_NAME_MAX || len < o + nl + 9)
		return -EBADMSG;
	memcpy(ks.name, buf + o, nl);
	o += nl;
	if (!text_key_name_valid(ks.name))
		return -EBADMSG;
	ks.flags = buf[o++];
	ks.retention_days = (uint32_t)get_le(buf + o, 4), o += 4;
	ks.n = (uint32_t)get_le(buf + o, 4), o += 4;
	if (ks.flags & ~7u || ks.n == 0 || ks.n > BYOK_KEYSET_MAX_VERSIONS ||
	    len != o + (size_t)ks.n * KEYSET_ENTRY)
		return -EBADMSG;
	ks.keys = buf + o + (size_t)ks.n * (KEYSET_ENTRY - 32);
	for (uint32_t i = 0; i < ks.n; i++, o += KEYSET_ENTRY - 32) {
		ks.version[i] = (uint32_t)get_le(buf + o, 4);
		ks.created[i] = get_le(buf + o + 4, 8);
		/* Versions strictly increase (as rotation makes them). */
		if (ks.version[i] == 0 || (i && ks.version[i] <= ks.version[i - 1]))
			return -EBADMSG;
	}
	*ret = ks;
	return 0;
}
