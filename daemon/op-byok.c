/* SPDX-License-Identifier: Apache-2.0 */
/*
 * BYOK: export an attested exchange key, import a customer's wrapped KEK with it, and back up
 * an exportable KEK to the customer's RSA key (escrow). docs/byok.md.
 *
 * An exchange key is an RSA-3072 key generated here, for one named KEK, for import only,
 * single use and with an expiry. Its private key exists in clear only in memory during
 * export and import; at rest it is sealed like a KEK (strict profile), so it survives a
 * daemon restart. Spent exchange keys (used, expired, or burnt by a failed unwrap) leave a
 * public tombstone so that a replayed file is refused with a clear reason.
 */
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acl.h"
#include "attest-evidence.h"
#include "attest.h"
#include "byok.h"
#include "clock.h"
#include "json.h"
#include "log.h"
#include "openssl-util.h"
#include "ops.h"
#include "seal.h"
#include "secmem.h"
#include "store-exchange.h"
#include "store-seal.h"
#include "store.h"
#include "text.h"

#define XK_TTL_DEFAULT 3600u
#define XK_TTL_MIN 1u
#define XK_TTL_MAX (7u * 86400u)

static int optional(int r)
{
	return r == -ENOENT ? 0 : r;
}

static bool kek_exists(struct op_ctx *c)
{
	struct kek_meta meta;

	return store_read_meta(c->m, c->key, &meta, NULL) != -ENOENT;
}

/* The private key as DER in secmem. */
static int private_der(EVP_PKEY *k, uint8_t **ret, size_t *ret_len)
{
	int n = i2d_PrivateKey(k, NULL);
	uint8_t *buf, *p;

	if (n <= 0)
		return vhsm_log_openssl(-EIO, "i2d_PrivateKey");
	buf = secmem_alloc((size_t)n);
	if (!buf)
		return -ENOMEM;
	p = buf;
	if (i2d_PrivateKey(k, &p) != n) {
		secmem_free(buf);
		return vhsm_log_openssl(-EIO, "i2d_PrivateKey");
	}
	*ret = buf;
	*ret_len = (size_t)n;
	return 0;
}

/*
 * Fresh evidence whose binding data is the exchange key's (byok_report_data): REPORT_DATA of
 * an SNP report, or the user-data of an HCL report on the vtpm platform.
 */
static int bundle_report(struct op_ctx *c, struct byok_bundle *b)
{
	struct attest_evidence e = {};
	uint8_t data[ATTEST_EVIDENCE_DATA_SIZE];
	char why[512] = "";
	int r;

	r = byok_report_data(b->spki, b->spki_len, b->nonce, b->expires, b->kek, data);
	if (r < 0)
		return op_fail(c, r, "cannot compute REPORT_DATA");
	r = attest_evidence_for(c->m, data, true, &e, why, sizeof(why));
	if (r < 0)
		return op_fail(c, r, "no evidence for the exchange key: %s", why);
	b->report = TAKE_PTR(e.report);
	b->report_len = e.report_len;
	b->certs = TAKE_PTR(e.certs);
	b->certs_len = e.certs_len;
	if (b->certs_len > BYOK_CERTS_MAX)
		return op_fail(c, -EMSGSIZE, "the certificate table is %zu bytes (at most %u fit a "
			       "bundle)", b->certs_len, BYOK_CERTS_MAX);
	return 0;
}

static int exchange_meta_json(const struct byok_bundle *b, char **ret)
{
	char *s = text_printf("{\"kid\":\"%s\",\"kek\":\"%s\",\"created\":%llu,\"expires\":%llu}",
			      b->kid, b->kek, (unsigned long long)b->created,
			      (unsigned long long)b->expires);

	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

static int export_params(struct op_ctx *c, struct byok_bundle *b)
{
	const struct vhsm_wire_field *nf = vhsm_wire_get(c->req, VHSM_TAG_NONCE);
	uint32_t ttl = XK_TTL_DEFAULT;

	if (optional(vhsm_wire_get_u32(c->req, VHSM_TAG_TIMEOUT, &ttl)) < 0 || ttl < XK_TTL_MIN ||
	    ttl > XK_TTL_MAX)
		return op_fail(c, -EINVAL, "the exchange key lifetime must be %u..%u seconds",
			       XK_TTL_MIN, XK_TTL_MAX);
	if (nf && nf->len != BYOK_NONCE_SIZE)
		return op_fail(c, -EINVAL, "the nonce must be %u bytes", BYOK_NONCE_SIZE);
	if (nf)
		memcpy(b->nonce, nf->value, BYOK_NONCE_SIZE);
	else if (RAND_bytes(b->nonce, BYOK_NONCE_SIZE) != 1)
		return op_fail(c, -EIO, "random number generator failed");
	b->created = clock_wall(c->m);
	b->expires = b->created + ttl;
	strcpy(b->kek, c->key);
	return 0;
}

/*
 * gcc 12's analyzer reports the _cleanup_ pointers of the next function as uninitialised on
 * the paths that return through op_fail(), although each is initialised to NULL at its
 * declaration (a false positive of that release; `make analyze` is clean elsewhere).
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-use-of-uninitialized-value"
int op_kek_export_exchange_key(struct op_ctx *c)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *k = NULL;
	_cleanup_secmem_ uint8_t *der = NULL;
	_cleanup_free_ char *meta = NULL, *json = NULL;
	_cleanup_(byok_bundle_done) struct byok_bundle b = {};
	size_t der_len = 0;
	int r;

	r = op_kek_name(c);
	if (r < 0)
		return r;
	if (kek_exists(c))
		return op_fail(c, -EEXIST, "KEK %s already exists; import creates a new KEK", c->key);
	r = export_params(c, &b);
	if (r < 0)
		return r;
	k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)BYOK_RSA_BITS);
	if (!k)
		return op_fail(c, vhsm_log_openssl(-EIO, "RSA keygen"), "RSA key generation failed");
	if ((r = byok_pubkey_spki(k, &b.spki, &b.spki_len)) < 0 ||
	    (r = byok_kid_from_spki(b.spki, b.spki_len, b.kid)) < 0 ||
	    (r = private_der(k, &der, &der_len)) < 0 || (r = exchange_meta_json(&b, &meta)) < 0)
		return r;
	/* Sealing runs the attestation gate first: no exchange key from a CVM that fails it. */
	r = store_exchange_write(c->m, c->key, meta, der, der_len, c->why, sizeof(c->why));
	if (r < 0)
		return r;
	r = bundle_report(c, &b);
	if (r < 0) {
		(void)store_exchange_remove(c->m, c->key);
		return r;
	}
	r = byok_bundle_format(&b, &json);
	if (r < 0)
		return r;
	vhsm_wire_add_str(c->reply, VHSM_TAG_KID, b.kid);
	vhsm_wire_add_str(c->reply, VHSM_TAG_BYOK, json);
	return r;
}
#pragma GCC diagnostic pop

/* ---- import ---- */

struct pending {
	char kid[BYOK_KID_MAX + 1];
	uint64_t expires;
};

/* The exchange key's metadata, as exchange_meta_json() writes it. */
struct pending_json {
	struct pending p;
	const char *kid;
	char kek[BYOK_NAME_MAX + 1];
	uint64_t created;
};

#define PENDING_FIELD(n, t, fn, m, lo, hi)                                                        \
	{ n, t, fn, offsetof(struct pending_json, m), JSON_MANDATORY, lo, hi }
static const struct json_field pending_table[] = {
	PENDING_FIELD("kid", json_type_string, json_dispatch_string, kid, 1, BYOK_KID_MAX),
	PENDING_FIELD("kek", json_type_string, json_dispatch_key_name, kek, 0, 0),
	PENDING_FIELD("created", json_type_int, json_dispatch_uint64, created, 0, INT64_MAX),
	PENDING_FIELD("expires", json_type_int, json_dispatch_uint64, p.expires, 0, INT64_MAX),
	{}
};

static int pending_parse(const char *json, struct pending *ret, char *err, size_t errlen)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	struct pending_json j = {};
	int r;

	r = json_parse(json, strlen(json), SEAL_META_MAX, "exchange key metadata", &o, err,
		       errlen);
	if (r < 0)
		return r;
	r = json_dispatch(o, NULL, pending_table, &j, err, errlen);
	if (r < 0)
		return r;
	strcpy(j.p.kid, j.kid);
	*ret = j.p;
	return 0;
}

/* Spends the pending exchange key: tombstone first, then the sealed private key goes. */
static void exchange_spend(struct op_ctx *c, const char *kid, const char *what)
{
	(void)store_exchange_mark(c->m, kid, what);
	(void)store_exchange_remove(c->m, c->key);
}

/* Checks the file against the pending exchange key; returns its private key on success. */
static int import_exchange_key(struct op_ctx *c, const struct byok_file *f, EVP_PKEY **ret)
{
	_cleanup_secmem_ uint8_t *der = NULL;
	_cleanup_free_ char *meta = NULL;
	char err[JSON_ERR_MAX] = "";
	struct pending p;
	size_t len;
	int r;

	r = store_exchange_read(c->m, c->key, &meta, &der, &len, c->why, sizeof(c->why));
	if (r == -ENOENT)
		return op_fail(c, -ENOKEY, "no exchange key is pending for KEK %s (run kek "
			       "export-exchange-key first)", c->key);
	if (r < 0)
		return r;
	if (pending_parse(meta, &p, err, sizeof(err)) < 0)
		return op_fail(c, -EBADMSG, "sealed exchange key for %s is damaged (%s)", c->key,
			       err);
	if (strcmp(p.kid, f->kid) != 0) /* kids are public */
		return op_fail(c, -ENOKEY, "the BYOK file is for exchange key %s; the exchange key "
			       "pending for KEK %s is %s", f->kid, c->key, p.kid);
	/* Against the latest time seen: a clock moved backwards does not revive an expired
	 * exchange key. */
	if (clock_latest(c->m) >= p.expires) {
		char when[32];

		exchange_spend(c, p.kid, "expired");
		return op_fail(c, -EKEYEXPIRED, "exchange key %s expired at %s; export a new one",
			       p.kid, clock_iso(p.expires, when));
	}
	const unsigned char *q = der;
	*ret = d2i_AutoPrivateKey(NULL, &q, (long)len);
	if (!*ret)
		return op_fail(c, vhsm_log_openssl(-EBADMSG, "exchange key"),
			       "sealed exchange key for %s is damaged", c->key);
	return 0;
}

static int import_flags(struct op_ctx *c, struct kek_meta *meta, enum seal_profile *prof)
{
	char profile[16];
	uint64_t flags = 0;
	uint32_t days = KEK_DEFAULT_RETENTION_DAYS;

	snprintf(profile, sizeof(profile), "%s", store_profile_default(c->m));
	if (optional(vhsm_wire_get_str(c->req, VHSM_TAG_PROFILE, profile, sizeof(profile))) < 0 ||
	    optional(vhsm_wire_get_u64(c->req, VHSM_TAG_FLAGS, &flags)) < 0 ||
	    optional(vhsm_wire_get_u32(c->req, VHSM_TAG_DAYS, &days)) < 0)
		return op_fail(c, -EINVAL, "invalid profile, flags or retention field");
	if (flags & ~(VHSM_KEK_FLAG_EXPORTABLE | VHSM_KEK_FLAG_PURGE_PROTECTION | VHSM_KEK_FLAG_ATTEST_EACH_USE))
		return op_fail(c, -EINVAL, "unknown flags 0x%llx", (unsigned long long)flags);
	*prof = seal_profile_from_string(profile);
	if (*prof < 0)
		return op_fail(c, -EINVAL, "unknown sealing profile '%s' (strict, author, vtpm)", profile);
	if (store_profile_allowed(c->m, *prof, c->why, sizeof(c->why)) < 0)
		return -EOPNOTSUPP;
	if (days < KEK_MIN_RETENTION_DAYS || days > KEK_MAX_RETENTION_DAYS)
		return op_fail(c, -EINVAL, "retention must be %u..%u days", KEK_MIN_RETENTION_DAYS,
			       KEK_MAX_RETENTION_DAYS);
	strcpy(meta->name, c->key);
	meta->state = meta->state_before_delete = KEK_ENABLED;
	meta->created = meta->updated = clock_wall(c->m);
	meta->retention_days = days;
	meta->exportable = flags & VHSM_KEK_FLAG_EXPORTABLE;
	meta->purge_protection = flags & VHSM_KEK_FLAG_PURGE_PROTECTION;
	meta->attest_each_use = flags & VHSM_KEK_FLAG_ATTEST_EACH_USE;
	meta->imported = true;
	return 0;
}

/*
 * The customer's decision wins over the import options: a key set (what vhsm-byok wraps, and
 * every restored backup) carries the KEK's name and flags; options may only add the
 * restrictions purge protection and attest-each-use. A bare 32-byte key (an older
 * vhsm-byok, Azure's tooling, a PKCS#11 token) carries no decision: it is never exportable.
 */
static int import_customer_flags(struct op_ctx *c, const struct byok_keyset *ks,
				 struct kek_meta *meta)
{
	bool want_export = meta->exportable;

	if (!ks) {
		if (want_export)
			return op_fail(c, -EPERM, "this BYOK file holds a bare key without the "
				       "customer's flags (an older vhsm-byok, other tooling or a "
				       "PKCS#11 token): it imports only as not exportable; drop "
				       "--exportable");
		return 0;
	}
	if (want_export && !(ks->flags & BYOK_KEYSET_FLAG_EXPORTABLE))
		return op_fail(c, -EPERM, "the customer wrapped KEK %s as not exportable: "
			       "import it without --exportable (only vhsm-byok wrap --exportable "
			       "makes an exportable KEK)", c->key);
	meta->exportable = ks->flags & BYOK_KEYSET_FLAG_EXPORTABLE;
	meta->purge_protection |= !!(ks->flags & BYOK_KEYSET_FLAG_PURGE_PROTECTION);
	meta->attest_each_use |= !!(ks->flags & BYOK_KEYSET_FLAG_ATTEST_EACH_USE);
	return 0;
}

/* The unwrapped plaintext: a raw AES-256 key (version 1) or a key set (vhsm-byok wrap, or a
 * restored backup). */
static int import_material(struct op_ctx *c, const uint8_t *pt, size_t len, struct kek_meta *meta,
			   const uint8_t **ret_keys)
{
	struct byok_keyset ks;
	int r;

	if (!byok_is_keyset(pt, len)) {
		if (len != KEK_KEY_SIZE)
			return op_fail(c, -EBADMSG, "the wrapped key is %zu bytes; a KEK is an "
				       "AES-256 key (32 bytes)", len);
		r = import_customer_flags(c, NULL, meta);
		if (r < 0)
			return r;
		meta->n_versions = 1;
		meta->versions[0].version = 1;
		meta->versions[0].created = meta->created;
		*ret_keys = pt;
		return 0;
	}
	if (byok_keyset_decode(pt, len, &ks) < 0 || ks.n > KEK_MAX_VERSIONS)
		return op_fail(c, -EBADMSG, "the wrapped key set is malformed");
	/* Wrapped DEKs name their KEK, and the customer named it: a KEK keeps its name. */
	if (strcmp(ks.name, c->key) != 0)
		return op_fail(c, -EINVAL, "the key set is KEK %s; import it under that name",
			       ks.name);
	r = import_customer_flags(c, &ks, meta);
	if (r < 0)
		return r;
	if (ks.retention_days >= KEK_MIN_RETENTION_DAYS && ks.retention_days <= KEK_MAX_RETENTION_DAYS)
		meta->retention_days = ks.retention_days;
	meta->n_versions = ks.n;
	for (uint32_t i = 0; i < ks.n; i++) {
		meta->versions[i].version = ks.version[i];
		meta->versions[i].created = ks.created[i];
	}
	*ret_keys = ks.keys;
	return 0;
}

static int import_parse(struct op_ctx *c, struct byok_file *f)
{
	_cleanup_free_ char *text = malloc(VHSM_WIRE_MAX_TEXT + 1);
	char err[160] = "", spent[128];
	int r;

	if (!text)
		return -ENOMEM;
	r = vhsm_wire_get_str(c->req, VHSM_TAG_BYOK, text, VHSM_WIRE_MAX_TEXT + 1);
	if (r < 0)
		return op_fail(c, -EINVAL, "a BYOK file is required");
	r = byok_file_parse(text, strlen(text), f, err, sizeof(err));
	if (r < 0)
		return op_fail(c, r, "invalid BYOK file: %s", err[0] ? err : strerror(-r));
	if (f->kind == BYOK_KIND_BACKUP)
		return op_fail(c, -EINVAL, "this is a backup wrapped to the customer's key; "
			       "re-wrap it for this CVM with vhsm-byok rewrap");
	if (f->kek[0] && strcmp(f->kek, c->key) != 0)
		return op_fail(c, -EINVAL, "the BYOK file is for KEK %s, not %s", f->kek, c->key);
	/* A replayed file: its exchange key is gone, say so rather than "no such key". */
	if (store_exchange_spent(c->m, f->kid, spent, sizeof(spent)) > 0)
		return op_fail(c, strstr(spent, "expired") ? -EKEYEXPIRED : -EKEYREVOKED,
			       "exchange key %s is spent (%s): exchange keys are single-use, "
			       "export a new one", f->kid, spent);
	return 0;
}

int op_kek_import(struct op_ctx *c)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *xk = NULL;
	_cleanup_secmem_ uint8_t *pt = NULL;
	_cleanup_(byok_file_done) struct byok_file f = {};
	struct kek_meta meta = {};
	enum seal_profile prof = SEAL_PROFILE_STRICT;
	const uint8_t *keys = NULL;
	size_t pt_len;
	int r;

	if ((r = op_kek_name(c)) < 0 || (r = import_flags(c, &meta, &prof)) < 0 ||
	    (r = import_parse(c, &f)) < 0)
		return r;
	if (kek_exists(c))
		return op_fail(c, -EEXIST, "KEK %s already exists", c->key);
	r = import_exchange_key(c, &f, &xk);
	if (r < 0)
		return r;
	r = byok_rsa_aes_unwrap(xk, f.enc, f.ciphertext, f.ciphertext_len, &pt, &pt_len);
	if (r < 0) {
		/* A failed unwrap burns the key: no decryption oracle for repeated tries. */
		exchange_spend(c, f.kid, "burnt by a failed unwrap");
		return op_fail(c, r == -EBADMSG ? -EBADMSG : -EKEYREJECTED, "the BYOK ciphertext "
			       "does not unwrap with exchange key %s (modified or wrapped for "
			       "another key); the exchange key is destroyed", f.kid);
	}
	r = import_material(c, pt, pt_len, &meta, &keys);
	if (r < 0)
		return r;
	/* Spent before the KEK is sealed: a crash between the two must leave the file refused,
	 * never importable a second time once the KEK is deleted. */
	r = store_exchange_mark(c->m, f.kid, "used");
	if (r < 0)
		return op_fail(c, r, "cannot record exchange key %s as spent: %s; nothing imported",
			       f.kid, strerror(-r));
	r = store_write(c->m, &meta, prof, keys, true, NULL, c->why, sizeof(c->why));
	if (r < 0) {
		/* Nothing was stored (a failed directory fsync may still have stored it): only
		 * then may the file be tried again. */
		if (!kek_exists(c))
			(void)store_exchange_unmark(c->m, f.kid);
		return r;
	}
	(void)store_exchange_remove(c->m, c->key);
	c->version = meta.versions[meta.n_versions - 1].version;
	vhsm_wire_add_u32(c->reply, VHSM_TAG_VERSION, c->version);
	return r;
}

/* ---- backup (escrow) ---- */

static int backup_keyset(const struct kek_meta *meta, const uint8_t *keys, uint8_t **ret,
			 size_t *ret_len)
{
	struct byok_keyset ks = { .retention_days = meta->retention_days, .n = meta->n_versions };

	strcpy(ks.name, meta->name);
	ks.flags = (meta->exportable ? BYOK_KEYSET_FLAG_EXPORTABLE : 0) |
		   (meta->purge_protection ? BYOK_KEYSET_FLAG_PURGE_PROTECTION : 0) |
		   (meta->attest_each_use ? BYOK_KEYSET_FLAG_ATTEST_EACH_USE : 0);
	for (uint32_t i = 0; i < meta->n_versions; i++) {
		ks.version[i] = meta->versions[i].version;
		ks.created[i] = meta->versions[i].created;
	}
	return byok_keyset_encode(&ks, keys, ret, ret_len);
}

/*
 * gcc 12's analyzer reports the _cleanup_ pointers of the next function as uninitialised on
 * the paths that return through op_fail(), although each is initialised to NULL at its
 * declaration (a false positive of that release; `make analyze` is clean elsewhere).
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-use-of-uninitialized-value"
static int backup_pubkey(struct op_ctx *c, EVP_PKEY **ret, char *kid)
{
	const struct vhsm_wire_field *pk = vhsm_wire_get(c->req, VHSM_TAG_PUBKEY);
	_cleanup_free_ uint8_t *spki = NULL;
	char fp[65];
	size_t n;

	if (!pk)
		return op_fail(c, -EINVAL, "the customer's RSA public key is required");
	if (byok_pubkey_load(pk->value, pk->len, ret) < 0)
		return op_fail(c, -EINVAL, "not an RSA public key (PEM or DER)");
	if (EVP_PKEY_get_bits(*ret) < (int)BYOK_RSA_BITS)
		return op_fail(c, -EINVAL, "the backup key must be RSA of at least %u bits",
			       BYOK_RSA_BITS);
	if (byok_pubkey_spki(*ret, &spki, &n) < 0 || byok_spki_fingerprint(spki, n, fp) < 0)
		return -EIO;
	snprintf(kid, BYOK_KID_MAX + 1, "vhsm-bk-%.32s", fp);
	return 0;
}
#pragma GCC diagnostic pop

/*
 * Authenticates the backup end to end: fresh evidence (attest-evidence.h) binding the ciphertext,
 * the customer's key (kid) and the KEK name. vhsm-byok rewrap verifies it against the
 * customer's policy, so a file made by anyone else with the customer's public key (which
 * is not secret) is refused.
 */
static int backup_evidence(struct op_ctx *c, struct byok_file *f)
{
	struct attest_evidence e = {};
	uint8_t data[ATTEST_EVIDENCE_DATA_SIZE];
	char why[512] = "";
	int r;

	r = byok_backup_report_data(f->ciphertext, f->ciphertext_len, f->kid, f->kek, data);
	if (r < 0)
		return op_fail(c, r, "cannot compute the backup's REPORT_DATA");
	r = attest_evidence_for(c->m, data, true, &e, why, sizeof(why));
	if (r < 0)
		return op_fail(c, r, "no evidence for the backup: %s", why);
	f->report = TAKE_PTR(e.report);
	f->report_len = e.report_len;
	f->certs = TAKE_PTR(e.certs);
	f->certs_len = e.certs_len;
	if (f->certs_len > BYOK_CERTS_MAX)
		return op_fail(c, -EMSGSIZE, "the certificate table is %zu bytes (at most %u fit a "
			       "backup)", f->certs_len, BYOK_CERTS_MAX);
	return 0;
}

/* The same false positive of gcc 12's analyzer as above (on json, initialised to NULL). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-use-of-uninitialized-value"
int op_kek_backup(struct op_ctx *c)
{
	_cleanup_secmem_ uint8_t *keys = NULL, *set = NULL;
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *pub = NULL;
	_cleanup_free_ char *json = NULL;
	_cleanup_(byok_file_done) struct byok_file f = { .enc = BYOK_ENC_RSA_AES_KEY_WRAP_256,
							 .kind = BYOK_KIND_BACKUP };
	struct kek_meta meta;
	struct seal_params p;
	struct seal_binding b;
	size_t set_len;
	int r;

	r = op_kek_name(c);
	if (r < 0)
		return r;
	r = store_unseal(c->m, c->key, &meta, &p, &b, &keys, c->why, sizeof(c->why));
	if (r == -ENOENT)
		return op_fail(c, -ENOENT, "no KEK named %s", c->key);
	if (r < 0)
		return r;
	if (!meta.exportable)
		return op_fail(c, -EPERM, "KEK %s was not created exportable: it can never leave "
			       "this CVM", c->key);
	/* Disable and delete stop every use; escrowing the KEK would undo that elsewhere. */
	if (meta.state != KEK_ENABLED)
		return op_fail(c, -EKEYREVOKED, "KEK %s is %s: only an enabled KEK is backed up",
			       c->key, kek_state_to_string(meta.state));
	r = backup_pubkey(c, &pub, f.kid);
	if (r < 0)
		return r;
	r = backup_keyset(&meta, keys, &set, &set_len);
	if (r < 0)
		return op_fail(c, r, "cannot encode the key set");
	strcpy(f.kek, c->key);
	r = byok_rsa_aes_wrap(pub, f.enc, set, set_len, &f.ciphertext, &f.ciphertext_len);
	if (r < 0)
		return op_fail(c, r, "wrapping the backup failed");
	r = backup_evidence(c, &f);
	if (r < 0)
		return r;
	r = byok_file_format(&f, "vhsmd " VHSM_VERSION " (backup)", &json);
	if (r < 0)
		return op_fail(c, r, "formatting the backup failed");
	c->version = meta.versions[meta.n_versions - 1].version;
	vhsm_wire_add_str(c->reply, VHSM_TAG_BYOK, json);
	return 0;
}
#pragma GCC diagnostic pop
