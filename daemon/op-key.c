/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key pair operations (KEY_*, docs/PROTOCOL.md): create, list, get, sign, decrypt, the
 * lifecycle (disable, enable, delete, recover, purge, ACL, certificate) and key attestation.
 * Who may do what: the key pair's ACL (sign, decrypt, read, admin; administrators pass), with
 * one refusal for a key pair that does not exist and one the caller may not use. Every use
 * passes the attestation gate (keypair_store_open) and is audited by the dispatcher.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acl.h"
#include "attest-evidence.h"
#include "attest.h"
#include "clock.h"
#include "ct.h"
#include "keyattest.h"
#include "keypair-crypto.h"
#include "keypair.h"
#include "limits.h"
#include "ops.h"
#include "secmem.h"
#include "store-seal.h"
#include "store.h"
#include "text.h"
#include "openssl-util.h"

#define KEY_ACL_ANY_USE (KEYPAIR_ACL_SIGN | KEYPAIR_ACL_DECRYPT | KEYPAIR_ACL_READ)

static const char *op_word(uint32_t op)
{
	return op == KEY_ACL_ANY_USE ? "read" : acl_key_op_name(op);
}

static int key_refuse(struct op_ctx *c, const char *name, uint32_t op)
{
	(void)op_fail(c, -EPERM, "uid %u may not %s key pair %s", (unsigned)c->peer->uid,
		      op_word(op), name);
	return -EPERM;
}

/* A read of name failed with r: administrators learn why, others get the one refusal. */
static int key_not_read(struct op_ctx *c, int r, const char *name, uint32_t op)
{
	if (!c->peer->admin)
		return key_refuse(c, name, op);
	if (r == -ENOENT)
		return op_fail(c, -ENOENT, "no key pair named %s", name);
	if (!c->why[0])
		(void)op_fail(c, r, "key pair %s: %s", name, strerror(-r));
	return r;
}

/* The request's NAME, checked, in c->key. */
static int key_name(struct op_ctx *c)
{
	int r = op_get_name(c, VHSM_TAG_NAME, c->key, sizeof(c->key));

	return r < 0 ? r : op_check_name(c, "key pair", c->key);
}

/* The named key pair's metadata, for a caller allowed op (a mask: any of its bits). */
static int key_meta(struct op_ctx *c, uint32_t op, struct keypair_meta *ret)
{
	int r = key_name(c);

	if (r < 0)
		return r;
	r = keypair_store_read_meta(c->m, c->key, ret, c->why, sizeof(c->why));
	if (r < 0)
		return key_not_read(c, r, c->key, op);
	if (!acl_entries_allow(ret->acl, ret->n_acl, c->peer, op))
		return key_refuse(c, c->key, op);
	return 0;
}

/* key_meta() into a new allocation (free()), the prologue of the handlers that read one. */
static int key_meta_new(struct op_ctx *c, uint32_t op, struct keypair_meta **ret)
{
	_cleanup_free_ struct keypair_meta *meta = malloc(sizeof(*meta));
	int r;

	if (!meta)
		return -ENOMEM;
	r = key_meta(c, op, meta);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(meta);
	return 0;
}

static int reply_json(struct op_ctx *c, const struct keypair_meta *meta)
{
	_cleanup_free_ char *json = NULL;
	int r = keypair_meta_to_json(meta, false, &json);

	if (r < 0)
		return r;
	vhsm_wire_add_str(c->reply, VHSM_TAG_JSON, json);
	return 0;
}

static int reply_key(struct op_ctx *c, const struct keypair_meta *meta)
{
	vhsm_wire_add_data(c->reply, VHSM_TAG_KEY_ID, meta->id, sizeof(meta->id));
	vhsm_wire_add_data(c->reply, VHSM_TAG_PUBKEY, meta->spki, meta->spki_len);
	vhsm_wire_add_data(c->reply, VHSM_TAG_CERT, meta->cert, meta->cert_len);
	return reply_json(c, meta);
}

/* ---- create ---- */

struct create_args {
	enum keypair_alg alg;
	enum seal_profile profile;
	uint64_t flags;
	uint32_t days;
	char acl[4096];
};

static int optional(int r)
{
	return r == -ENOENT ? 0 : r;
}

static int create_args(struct op_ctx *c, struct create_args *a, struct keypair_meta *meta)
{
	char alg[32], profile[16];
	int r;

	snprintf(profile, sizeof(profile), "%s", store_profile_default(c->m));
	r = vhsm_wire_get_str(c->req, VHSM_TAG_KEY_ALG, alg, sizeof(alg));
	if (r < 0 || (a->alg = keypair_alg_from_string(alg)) < 0)
		return op_fail(c, -EINVAL, "KEY_ALG is required: rsa2048, rsa3072, rsa4096, "
			       "ec-p256 or ec-p384");
	a->days = KEK_DEFAULT_RETENTION_DAYS;
	if (vhsm_wire_get_u64(c->req, VHSM_TAG_FLAGS, &a->flags) < 0 ||
	    optional(vhsm_wire_get_u32(c->req, VHSM_TAG_DAYS, &a->days)) < 0 ||
	    optional(vhsm_wire_get_str(c->req, VHSM_TAG_PROFILE, profile, sizeof(profile))) < 0 ||
	    optional(vhsm_wire_get_str(c->req, VHSM_TAG_ACL, a->acl, sizeof(a->acl))) < 0)
		return op_fail(c, -EINVAL, "FLAGS (the usage) is required; invalid retention, "
			       "profile or ACL field");
	if (a->flags & ~(VHSM_KEY_FLAG_SIGN | VHSM_KEY_FLAG_DECRYPT | VHSM_KEY_FLAG_PURGE_PROTECTION))
		return op_fail(c, -EINVAL, "unknown flags 0x%llx", (unsigned long long)a->flags);
	if (!(a->flags & (VHSM_KEY_FLAG_SIGN | VHSM_KEY_FLAG_DECRYPT)))
		return op_fail(c, -EINVAL, "a key pair needs a usage: sign and/or decrypt");
	if ((a->flags & VHSM_KEY_FLAG_DECRYPT) && !keypair_alg_is_rsa(a->alg))
		return op_fail(c, -EINVAL, "%s keys cannot decrypt (RSA only)", alg);
	a->profile = seal_profile_from_string(profile);
	if (a->profile < 0)
		return op_fail(c, -EINVAL, "unknown sealing profile '%s' (strict, author, vtpm)",
			       profile);
	r = store_profile_allowed(c->m, a->profile, c->why, sizeof(c->why));
	if (r < 0)
		return r;
	if (a->days < KEK_MIN_RETENTION_DAYS || a->days > KEK_MAX_RETENTION_DAYS)
		return op_fail(c, -EINVAL, "retention must be %u..%u days", KEK_MIN_RETENTION_DAYS,
			       KEK_MAX_RETENTION_DAYS);
	r = acl_parse_key(a->acl, meta->acl, &meta->n_acl);
	if (r < 0)
		return op_fail(c, -EINVAL, "invalid ACL '%s' (KIND:WHO:sign,decrypt,read,admin,all)",
			       a->acl);
	return 0;
}

/* The report binding the new public key (empty nonce), as the certificate extension: an SNP
 * report only (the extension holds exactly one; `key attest` gives HCL evidence). */
static int create_binding(struct op_ctx *c, const struct keypair_meta *meta,
			  uint8_t binding[static KEY_ATTEST_BINDING_SIZE])
{
	_cleanup_(attest_evidence_done) struct attest_evidence e = {};
	uint8_t msg[KEY_ATTEST_MSG_MAX];
	char why[512] = "";
	int n = key_attest_message(meta->spki, meta->spki_len, NULL, 0, msg), r;

	if (n < 0)
		return n;
	r = attest_evidence_for_message(c->m, msg, (size_t)n, true, &e, why, sizeof(why));
	if (r < 0)
		return op_fail(c, r, "report request for the key attestation failed: %s", why);
	if (e.report_len != SNP_REPORT_SIZE)
		return op_fail(c, -EMSGSIZE, "the key attestation extension holds an SNP report "
			       "only");
	return key_attest_binding_encode(meta->spki, meta->spki_len, e.report, binding);
}

int op_key_create(struct op_ctx *c)
{
	_cleanup_free_ struct keypair_meta *meta = calloc(1, sizeof(*meta));
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
	_cleanup_secmem_ uint8_t *der = NULL;
	uint8_t binding[KEY_ATTEST_BINDING_SIZE];
	struct create_args a = {};
	struct keypair_meta old;
	size_t der_len;
	int r;

	if (!meta)
		return -ENOMEM;
	r = key_name(c);
	if (r < 0)
		return r;
	r = create_args(c, &a, meta);
	if (r < 0)
		return r;
	/* Before the (slow) generation; the write refuses a race too. */
	r = keypair_store_read_meta(c->m, c->key, &old, c->why, sizeof(c->why));
	if (r != -ENOENT)
		return op_fail(c, -EEXIST, "key pair %s already exists%s", c->key,
			       r < 0 ? " (its file is damaged)" : "");
	c->why[0] = 0;
	r = attest_require(c->m, false, c->why, sizeof(c->why));
	if (r < 0)
		return r;
	strcpy(meta->name, c->key);
	meta->alg = a.alg;
	meta->usage = ((a.flags & VHSM_KEY_FLAG_SIGN) ? KEYPAIR_USAGE_SIGN : 0) |
		      ((a.flags & VHSM_KEY_FLAG_DECRYPT) ? KEYPAIR_USAGE_DECRYPT : 0);
	meta->state = meta->state_before_delete = KEK_ENABLED;
	meta->created = meta->updated = clock_wall(c->m);
	meta->retention_days = a.days;
	meta->purge_protection = a.flags & VHSM_KEY_FLAG_PURGE_PROTECTION;
	r = keypair_generate(a.alg, &pkey);
	if (r >= 0)
		r = keypair_set_public(meta, pkey);
	if (r < 0)
		return op_fail(c, r, "key pair generation failed");
	/* On the vtpm platform the fixed-size extension cannot hold an HCL report: the
	 * certificate carries no binding, and KEY_ATTEST gives HCL evidence for the key. */
	if (!c->m->root) {
		r = create_binding(c, meta, binding);
		if (r < 0)
			return r;
	}
	r = keypair_make_cert(meta, pkey, meta->created, c->m->root ? NULL : binding,
			      sizeof(binding));
	if (r >= 0)
		r = keypair_private_der(pkey, &der, &der_len);
	if (r < 0)
		return op_fail(c, r, "certificate or key encoding failed");
	r = keypair_store_write(c->m, meta, a.profile, der, der_len, true, c->why,
				sizeof(c->why));
	if (r < 0)
		return r;
	snprintf(c->why, sizeof(c->why), "%s", keypair_alg_to_string(a.alg));
	return reply_key(c, meta);
}

/* ---- list, get ---- */

/* One listing entry, or NULL when the caller may not see it. */
static char *list_entry(struct op_ctx *c, const char *name, bool first)
{
	_cleanup_free_ struct keypair_meta *meta = malloc(sizeof(*meta));
	_cleanup_free_ char *json = NULL;
	char why[512];

	if (!meta)
		return NULL;
	if (keypair_store_read_meta(c->m, name, meta, why, sizeof(why)) < 0)
		return text_printf("%s{\"name\":\"%s\",\"state\":\"damaged\"}", first ? "" : ",",
				   name);
	if (!acl_entries_allow(meta->acl, meta->n_acl, c->peer, KEY_ACL_ANY_USE))
		return strdup("");
	if (keypair_meta_to_json(meta, false, &json) < 0)
		return NULL;
	return text_printf("%s%s", first ? "" : ",", json);
}

int op_key_list(struct op_ctx *c)
{
	char **names = NULL;
	int r = keypair_store_list(c->m, &names);

	if (r < 0)
		return op_fail(c, r, "cannot list the key pairs: %s", strerror(-r));
	r = op_reply_list(c, names, list_entry);
	strv_free(names);
	return r;
}

int op_key_get(struct op_ctx *c)
{
	_cleanup_free_ struct keypair_meta *meta = NULL;
	int r = key_meta_new(c, KEY_ACL_ANY_USE, &meta);

	if (r < 0)
		return r;
	return reply_key(c, meta);
}

/* ---- sign, decrypt ---- */

struct key_use_check {
	struct op_ctx *c;
	uint32_t op;
	bool refused;
};

/* The ACL on the manifest-checked metadata, before anything is unsealed. */
static int key_use_allowed(const struct keypair_meta *meta, void *userdata)
{
	struct key_use_check *k = userdata;

	if (acl_entries_allow(meta->acl, meta->n_acl, k->c->peer, k->op))
		return 0;
	k->refused = true;
	return -EPERM;
}

static int key_op_args(struct op_ctx *c, struct keypair_op *op)
{
	const struct vhsm_wire_field *in = vhsm_wire_get(c->req, VHSM_TAG_DATA);
	const struct vhsm_wire_field *param = vhsm_wire_get(c->req, VHSM_TAG_MECH_PARAM);

	if (vhsm_wire_get_u32(c->req, VHSM_TAG_MECH, &op->mech) < 0)
		return op_fail(c, -EINVAL, "MECH (a CKM_* mechanism) is required");
	if (!in)
		return op_fail(c, -EINVAL, "DATA is required");
	op->in = in->value;
	op->in_len = in->len;
	op->param = param ? param->value : NULL;
	op->param_len = param ? param->len : 0;
	return 0;
}

/*
 * Opens the named key pair for op, the prologue of sign and decrypt: one read of its file,
 * checked against the manifest; the ACL before the gate and the unseal; state and usage; then
 * the request's mechanism and input into ret_op, and (ret_kept not NULL) the key's kept
 * signing and decryption state (keypair_store_open).
 */
static int key_use(struct op_ctx *c, uint32_t op, uint32_t usage, EVP_PKEY **ret_pkey,
		   struct keypair_kept **ret_kept, struct keypair_op *ret_op)
{
	_cleanup_free_ struct keypair_meta *meta = malloc(sizeof(*meta));
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
	struct key_use_check k = { .c = c, .op = op };
	struct keypair_kept *kept = NULL;
	int r;

	if (!meta)
		return -ENOMEM;
	r = key_name(c);
	if (r < 0)
		return r;
	r = keypair_store_open(c->m, c->key, key_use_allowed, &k, meta, &pkey, &kept, c->why,
			       sizeof(c->why));
	if (k.refused)
		return key_refuse(c, c->key, op);
	if (r < 0)
		return key_not_read(c, r, c->key, op);
	if (meta->state != KEK_ENABLED)
		return op_fail(c, -EKEYREVOKED, "key pair %s is %s", c->key,
			       meta->state == KEK_DISABLED ? "disabled" : "deleted");
	if (!(meta->usage & usage))
		return op_fail(c, -EOPNOTSUPP, "key pair %s is not for %s", c->key,
			       usage == KEYPAIR_USAGE_SIGN ? "signing" : "decryption");
	r = key_op_args(c, ret_op);
	if (r < 0)
		return r;
	if (ret_kept)
		*ret_kept = kept;
	*ret_pkey = TAKE_PTR(pkey);
	return 0;
}

int op_key_sign(struct op_ctx *c)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
	struct keypair_kept *kept = NULL;
	uint8_t sig[KEYPAIR_SIG_MAX];
	struct keypair_op op = {};
	size_t len;
	int r = key_use(c, KEYPAIR_ACL_SIGN, KEYPAIR_USAGE_SIGN, &pkey, &kept, &op);

	if (r < 0)
		return r;
	r = keypair_sign(pkey, kept, &op, sig, &len, c->why, sizeof(c->why));
	if (r < 0)
		return c->why[0] ? r : op_fail(c, r, "signing failed");
	snprintf(c->why, sizeof(c->why), "mechanism 0x%x", op.mech);
	vhsm_wire_add_data(c->reply, VHSM_TAG_DATA, sig, len);
	return 0;
}

int op_key_decrypt(struct op_ctx *c)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
	_cleanup_secmem_ uint8_t *out = NULL;
	struct keypair_kept *kept = NULL;
	struct keypair_op op = {};
	size_t len;
	int r = key_use(c, KEYPAIR_ACL_DECRYPT, KEYPAIR_USAGE_DECRYPT, &pkey, &kept, &op);

	if (r < 0)
		return r;
	out = secmem_alloc((size_t)EVP_PKEY_get_size(pkey));
	if (!out)
		return -ENOMEM;
	r = keypair_decrypt(pkey, kept, &op, out, &len, c->why, sizeof(c->why));
	if (r < 0)
		return c->why[0] ? r : op_fail(c, r, "decryption failed");
	snprintf(c->why, sizeof(c->why), "mechanism 0x%x", op.mech);
	vhsm_wire_add_data(c->reply, VHSM_TAG_DATA, out, len);
	return 0;
}

/* ---- lifecycle ---- */

/* When a soft-deleted key pair's retention ends. */
static uint64_t retention_end(const struct keypair_meta *meta)
{
	return meta->deleted_at + (uint64_t)meta->retention_days * 86400u;
}

static int key_commit(struct op_ctx *c, struct keypair_meta *meta)
{
	int r;

	meta->updated = clock_wall(c->m);
	r = keypair_store_update(c->m, meta, c->why, sizeof(c->why));
	if (r < 0)
		return r;
	return reply_json(c, meta);
}

static int key_set_state(struct op_ctx *c, enum kek_state from, enum kek_state to)
{
	_cleanup_free_ struct keypair_meta *meta = NULL;
	int r = key_meta_new(c, KEYPAIR_ACL_ADMIN, &meta);

	if (r < 0)
		return r;
	if (meta->state == KEK_DELETED)
		return op_fail(c, -EKEYREVOKED, "key pair %s is deleted (recover it first)", c->key);
	if (meta->state != from)
		return op_fail(c, -EALREADY, "key pair %s is already %s", c->key,
			       to == KEK_DISABLED ? "disabled" : "enabled");
	meta->state = to;
	return key_commit(c, meta);
}

int op_key_disable(struct op_ctx *c)
{
	return key_set_state(c, KEK_ENABLED, KEK_DISABLED);
}

int op_key_enable(struct op_ctx *c)
{
	return key_set_state(c, KEK_DISABLED, KEK_ENABLED);
}

int op_key_delete(struct op_ctx *c)
{
	_cleanup_free_ struct keypair_meta *meta = NULL;
	uint32_t days = 0;
	int r = key_meta_new(c, KEYPAIR_ACL_ADMIN, &meta);

	if (r < 0)
		return r;
	if (meta->state == KEK_DELETED)
		return op_fail(c, -EALREADY, "key pair %s is already deleted", c->key);
	r = vhsm_wire_get_u32(c->req, VHSM_TAG_DAYS, &days);
	if (r < 0 && r != -ENOENT)
		return op_fail(c, -EINVAL, "invalid DAYS field");
	if (r == 0) {
		if (days < KEK_MIN_RETENTION_DAYS || days > KEK_MAX_RETENTION_DAYS)
			return op_fail(c, -EINVAL, "retention must be %u..%u days",
				       KEK_MIN_RETENTION_DAYS, KEK_MAX_RETENTION_DAYS);
		if (meta->purge_protection && days < meta->retention_days)
			return op_fail(c, -EPERM, "purge protection: retention cannot be shortened");
		meta->retention_days = days;
	}
	meta->state_before_delete = meta->state;
	meta->state = KEK_DELETED;
	meta->deleted_at = clock_wall(c->m);
	return key_commit(c, meta);
}

int op_key_recover(struct op_ctx *c)
{
	_cleanup_free_ struct keypair_meta *meta = NULL;
	int r = key_meta_new(c, KEYPAIR_ACL_ADMIN, &meta);

	if (r < 0)
		return r;
	if (meta->state != KEK_DELETED)
		return op_fail(c, -EALREADY, "key pair %s is not deleted", c->key);
	/* Against the latest time seen, as for KEKs: a clock set back reopens nothing. */
	clock_observe(c->m, meta->updated);
	if (clock_latest(c->m) >= retention_end(meta))
		return op_fail(c, -EKEYEXPIRED, "key pair %s: the %u-day retention has passed; it "
			       "can only be purged", c->key, meta->retention_days);
	meta->state = meta->state_before_delete;
	meta->deleted_at = 0;
	return key_commit(c, meta);
}

int op_key_purge(struct op_ctx *c)
{
	_cleanup_free_ struct keypair_meta *meta = NULL;
	int r = key_meta_new(c, KEYPAIR_ACL_ADMIN, &meta);

	if (r < 0)
		return r;
	if (meta->state != KEK_DELETED)
		return op_fail(c, -EPERM, "key pair %s must be deleted before it can be purged",
			       c->key);
	/* As for KEKs: a clock moved backwards delays the purge, one moved forwards brings no
	 * purge forward (docs/SECURITY.md, "Guest clock"). */
	uint64_t until = retention_end(meta);
	char when[32], why[320];
	if (meta->purge_protection && clock_wall(c->m) < until)
		return op_fail(c, -EPERM, "purge protection: key pair %s can be purged from %s "
			       "(retention %u days)", c->key, clock_iso(until, when),
			       meta->retention_days);
	if (meta->purge_protection && (r = clock_check_purge(c->m, until, why, sizeof(why))) < 0)
		return op_fail(c, r, "purge protection: key pair %s: %s", c->key, why);
	r = keypair_store_remove(c->m, c->key);
	if (r < 0)
		return op_fail(c, r, "cannot remove key pair %s: %s", c->key, strerror(-r));
	return 0;
}

int op_key_set_acl(struct op_ctx *c)
{
	_cleanup_free_ struct keypair_meta *meta = NULL;
	char acl[4096];
	int r = key_meta_new(c, KEYPAIR_ACL_ADMIN, &meta);

	if (r < 0)
		return r;
	r = vhsm_wire_get_str(c->req, VHSM_TAG_ACL, acl, sizeof(acl));
	if (r == -ENOENT)
		acl[0] = 0; /* clears the ACL */
	else if (r < 0)
		return op_fail(c, -EINVAL, "invalid ACL");
	r = acl_parse_key(acl, meta->acl, &meta->n_acl);
	if (r < 0)
		return op_fail(c, -EINVAL, "invalid ACL '%s': %s", acl, strerror(-r));
	return key_commit(c, meta);
}

int op_key_set_cert(struct op_ctx *c)
{
	_cleanup_free_ struct keypair_meta *meta = NULL;
	const struct vhsm_wire_field *cert = vhsm_wire_get(c->req, VHSM_TAG_CERT);
	int r = key_meta_new(c, KEYPAIR_ACL_ADMIN, &meta);

	if (r < 0)
		return r;
	if (!cert || cert->len == 0)
		return op_fail(c, -EINVAL, "CERT (a DER X.509 certificate) is required");
	if (cert->len > KEYPAIR_CERT_MAX)
		return op_fail(c, -EMSGSIZE, "the certificate is %u bytes; at most %u are stored",
			       (unsigned)cert->len, KEYPAIR_CERT_MAX);
	r = keypair_cert_matches(meta, cert->value, cert->len, c->why, sizeof(c->why));
	if (r < 0)
		return r;
	memcpy(meta->cert, cert->value, cert->len);
	meta->cert_len = cert->len;
	return key_commit(c, meta);
}

/* ---- attestation ---- */

/* gcc 12's -fanalyzer reports the cleanup pointers below as uninitialised on early returns,
 * although each is initialised at its declaration: the false positive op-byok.c describes. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-use-of-uninitialized-value"
int op_key_attest(struct op_ctx *c)
{
	_cleanup_free_ struct keypair_meta *meta = NULL;
	const struct vhsm_wire_field *nonce = vhsm_wire_get(c->req, VHSM_TAG_NONCE);
	uint8_t msg[KEY_ATTEST_MSG_MAX];
	int n, r = key_meta_new(c, KEY_ACL_ANY_USE, &meta);

	if (r < 0)
		return r;
	if (nonce && nonce->len == 0)
		return op_fail(c, -EINVAL, "the nonce must be 1..64 bytes");
	/* Only a CVM that passes its own gate attests keys (its report would pass nowhere). */
	r = attest_require(c->m, false, c->why, sizeof(c->why));
	if (r < 0)
		return r;
	n = key_attest_message(meta->spki, meta->spki_len, nonce ? nonce->value : NULL,
			       nonce ? nonce->len : 0, msg);
	if (n < 0)
		return op_fail(c, n, "key attestation message: %s", strerror(-n));
	r = op_reply_report(c, msg, (size_t)n, true);
	if (r < 0)
		return r;
	vhsm_wire_add_data(c->reply, VHSM_TAG_PUBKEY, meta->spki, meta->spki_len);
	return reply_json(c, meta);
}
#pragma GCC diagnostic pop
