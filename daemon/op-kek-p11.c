/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AES operations under a KEK for PKCS#11 secret-key objects: KEK_WRAP_KWP / KEK_UNWRAP_KWP
 * (RFC 5649) and KEK_GCM_ENCRYPT / KEK_GCM_DECRYPT, under the KEK's ACL (wrap for the first,
 * unwrap for the second of each pair), its state and the attestation gate, audited by the
 * dispatcher. The AES key is derived from the KEK version per mechanism (lib/p11-aes.h).
 * Encryption uses the newest version; decryption the requested one, or else tries each
 * version from the newest (both modes authenticate, so a wrong version only fails).
 * vhsmd chooses every GCM encryption's IV (96 bits from OpenSSL's DRBG, returned as GCM_IV):
 * a caller's IV is refused, so no IV is used twice under a key by a caller's choice, and
 * encryption gives no keystream of someone else's ciphertext. GCM encryption still needs wrap
 * and unwrap, as when it took the caller's IV (docs/PROTOCOL.md).
 */
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "acl.h"
#include "kek-file.h"
#include "ops.h"
#include "p11-aes.h"
#include "secmem.h"
#include "store.h"

/* The refusal of GCM encryption to a caller who may wrap but not unwrap. */
static int gcm_refuse(struct op_ctx *c)
{
	(void)op_fail(c, -EPERM, "uid %u may not gcm-encrypt under KEK %s: with the caller's IV "
		      "it can decrypt, so it needs unwrap as well as wrap",
		      (unsigned)c->peer->uid, c->key);
	return -EPERM;
}

/* Opens the KEK named in the request for op (and unwrap too when also_unwrap): ACL, enabled. */
static int p11_kek_open(struct op_ctx *c, uint32_t op, bool also_unwrap, struct kek_meta *meta,
			uint8_t **keys)
{
	struct seal_params p;
	int r = op_kek_name(c);

	if (r < 0)
		return r;
	r = kek_precheck(c, c->key, op);
	if (r < 0)
		return r;
	if (also_unwrap && !c->peer->admin) {
		/* The caller may wrap with this KEK (precheck): no oracle left to hide. */
		r = store_read_meta(c->m, c->key, meta, NULL);
		if (r < 0 || !acl_allows(meta, c->peer, ACL_OP_UNWRAP))
			return gcm_refuse(c);
	}
	r = store_unseal(c->m, c->key, meta, &p, NULL, keys, c->why, sizeof(c->why));
	if (r == -ENOENT)
		return kek_not_found(c, -ENOKEY, c->key, op);
	if (r < 0)
		return r;
	if (!acl_allows(meta, c->peer, op))
		return kek_refuse(c, c->key, op);
	if (also_unwrap && !acl_allows(meta, c->peer, ACL_OP_UNWRAP))
		return gcm_refuse(c);
	if (meta->state != KEK_ENABLED)
		return op_fail(c, -EKEYREVOKED, "KEK %s is %s", c->key,
			       kek_state_to_string(meta->state));
	return 0;
}

#define GCM_IV_SIZE 12u /* the IV vhsmd chooses for an encryption */

/* GCM parameters: ivLen u32, tagBits u32, IV, AAD. */
struct gcm_param {
	const uint8_t *iv, *aad;
	size_t iv_len, aad_len, tag_len;
	uint8_t chosen_iv[GCM_IV_SIZE]; /* encryption: vhsmd's IV, iv points here */
};

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * The request's GCM parameters. For an encryption the IV field must be 12 zero bytes (the
 * place of the IV vhsmd chooses, as PKCS#11 passes it); any other IV is refused.
 */
static int gcm_param(struct op_ctx *c, bool encrypt, struct gcm_param *g)
{
	const struct vhsm_wire_field *f = vhsm_wire_get(c->req, VHSM_TAG_MECH_PARAM);
	uint32_t iv_len, tag_bits;

	if (!f || f->len < 8)
		return op_fail(c, -EINVAL, "MECH_PARAM (GCM: ivLen, tagBits, IV, AAD) is required");
	iv_len = le32(f->value);
	tag_bits = le32(f->value + 4);
	if (iv_len < P11_AES_GCM_IV_MIN || iv_len > P11_AES_GCM_IV_MAX || iv_len > f->len - 8)
		return op_fail(c, -EINVAL, "GCM IV of %u bytes: %u..%u bytes, within the parameters",
			       iv_len, P11_AES_GCM_IV_MIN, P11_AES_GCM_IV_MAX);
	if (tag_bits % 8 || tag_bits < 8 * P11_AES_GCM_TAG_MIN || tag_bits > 128)
		return op_fail(c, -EINVAL, "GCM tag of %u bits: 96..128 in steps of 8", tag_bits);
	g->iv = f->value + 8;
	g->iv_len = iv_len;
	if (encrypt) {
		uint8_t any = 0;
		for (size_t i = 0; i < iv_len; i++)
			any |= g->iv[i];
		if (iv_len != GCM_IV_SIZE || any)
			return op_fail(c, -EINVAL, "vhsmd chooses the GCM IV of an encryption: send "
				       "ivLen 12 and 12 zero bytes (got %u bytes%s); it is returned "
				       "in GCM_IV", iv_len, any ? ", not all zero" : "");
		if (RAND_bytes(g->chosen_iv, sizeof(g->chosen_iv)) != 1)
			return op_fail(c, -EIO, "no random GCM IV: the DRBG failed");
		g->iv = g->chosen_iv;
	}
	g->aad = f->value + 8 + iv_len;
	g->aad_len = f->len - 8 - iv_len;
	g->tag_len = tag_bits / 8;
	return 0;
}

static const uint8_t *version_key(const struct kek_meta *meta, const uint8_t *keys, uint32_t v)
{
	for (uint32_t i = 0; i < meta->n_versions; i++)
		if (meta->versions[i].version == v)
			return keys + (size_t)i * KEK_KEY_SIZE;
	return NULL;
}

/* One operation with one KEK version's derived key. */
static int p11_crypt(uint16_t op, const uint8_t *kek, const struct gcm_param *g,
		     const uint8_t *in, size_t len, uint8_t *out, size_t *ret_len)
{
	_cleanup_secmem_ uint8_t *key = secmem_alloc(32);
	bool kwp = op == VHSM_OP_KEK_WRAP_KWP || op == VHSM_OP_KEK_UNWRAP_KWP;
	int r;

	if (!key)
		return -ENOMEM;
	r = p11_aes_derive(kek, kwp ? P11_AES_KWP : P11_AES_GCM, key);
	if (r < 0)
		return r;
	switch (op) {
	case VHSM_OP_KEK_WRAP_KWP: return p11_aes_kwp_wrap(key, 32, in, len, out, ret_len);
	case VHSM_OP_KEK_UNWRAP_KWP: return p11_aes_kwp_unwrap(key, 32, in, len, out, ret_len);
	default:
		return p11_aes_gcm(key, op == VHSM_OP_KEK_GCM_ENCRYPT, g->iv, g->iv_len, g->aad,
				   g->aad_len, g->tag_len, in, len, out, ret_len);
	}
}

/* Decryption: the requested version, or each from the newest. */
static int p11_decrypt(struct op_ctx *c, uint16_t op, const struct kek_meta *meta,
		       const uint8_t *keys, const struct gcm_param *g, const uint8_t *in,
		       size_t len, uint8_t *out, size_t *ret_len)
{
	uint32_t v = 0;
	int r = vhsm_wire_get_u32(c->req, VHSM_TAG_VERSION, &v);

	if (r < 0 && r != -ENOENT)
		return op_fail(c, -EINVAL, "invalid VERSION field");
	if (r == 0) {
		const uint8_t *k = version_key(meta, keys, v);
		if (!k)
			return op_fail(c, -ENOKEY, "KEK %s has no version %u", c->key, v);
		r = p11_crypt(op, k, g, in, len, out, ret_len);
	} else {
		r = -EBADMSG;
		for (uint32_t i = meta->n_versions; i-- > 0 && r == -EBADMSG;) {
			v = meta->versions[i].version;
			r = p11_crypt(op, keys + (size_t)i * KEK_KEY_SIZE, g, in, len, out, ret_len);
		}
	}
	if (r == -EBADMSG)
		return op_fail(c, -EBADMSG, "%s under KEK %s failed: not made by it, or modified",
			       op == VHSM_OP_KEK_UNWRAP_KWP ? "unwrapping" : "decryption", c->key);
	if (r < 0)
		return op_fail(c, r, "the input is not a valid %s (%zu bytes)",
			       op == VHSM_OP_KEK_UNWRAP_KWP ? "RFC 5649 wrapped key" : "GCM ciphertext",
			       len);
	c->version = v;
	return 0;
}

static int p11_op(struct op_ctx *c, uint16_t op)
{
	_cleanup_secmem_ uint8_t *keys = NULL, *out = NULL;
	const struct vhsm_wire_field *data = vhsm_wire_get(c->req, VHSM_TAG_DATA);
	bool enc = op == VHSM_OP_KEK_WRAP_KWP || op == VHSM_OP_KEK_GCM_ENCRYPT;
	bool gcm = op == VHSM_OP_KEK_GCM_ENCRYPT || op == VHSM_OP_KEK_GCM_DECRYPT;
	struct gcm_param g = {};
	struct kek_meta meta;
	size_t len = 0;
	int r;

	r = p11_kek_open(c, enc ? ACL_OP_WRAP : ACL_OP_UNWRAP, op == VHSM_OP_KEK_GCM_ENCRYPT,
			 &meta, &keys);
	if (r < 0)
		return r;
	if (!data || data->len == 0)
		return op_fail(c, -EINVAL, "DATA is required");
	if (op == VHSM_OP_KEK_WRAP_KWP && data->len > P11_AES_KWP_MAX)
		return op_fail(c, -EMSGSIZE, "a key to wrap is at most %u bytes, got %u",
			       P11_AES_KWP_MAX, (unsigned)data->len);
	if (gcm && data->len > VHSM_WIRE_MAX_DATA - 16)
		return op_fail(c, -EMSGSIZE, "GCM data is at most %u bytes",
			       VHSM_WIRE_MAX_DATA - 16);
	if (gcm && (r = gcm_param(c, op == VHSM_OP_KEK_GCM_ENCRYPT, &g)) < 0)
		return r;
	out = secmem_alloc(data->len + 16);
	if (!out)
		return -ENOMEM;
	if (enc) {
		/* Nothing is encrypted under a KEK whose sealed file would not bring it back. */
		r = kek_file_verify(c->m, c->key, c->why, sizeof(c->why));
		if (r < 0)
			return r;
		c->version = meta.versions[meta.n_versions - 1].version;
		r = p11_crypt(op, keys + (size_t)(meta.n_versions - 1) * KEK_KEY_SIZE, &g,
			      data->value, data->len, out, &len);
		if (r < 0)
			return op_fail(c, r, "encryption failed: %s", strerror(-r));
	} else {
		r = p11_decrypt(c, op, &meta, keys, &g, data->value, data->len, out, &len);
		if (r < 0)
			return r;
	}
	vhsm_wire_add_data(c->reply, VHSM_TAG_DATA, out, len);
	vhsm_wire_add_u32(c->reply, VHSM_TAG_VERSION, c->version);
	if (op == VHSM_OP_KEK_GCM_ENCRYPT)
		vhsm_wire_add_data(c->reply, VHSM_TAG_GCM_IV, g.iv, g.iv_len);
	return 0;
}

int op_kek_wrap_kwp(struct op_ctx *c)
{
	return p11_op(c, VHSM_OP_KEK_WRAP_KWP);
}

int op_kek_unwrap_kwp(struct op_ctx *c)
{
	return p11_op(c, VHSM_OP_KEK_UNWRAP_KWP);
}

int op_kek_gcm_encrypt(struct op_ctx *c)
{
	return p11_op(c, VHSM_OP_KEK_GCM_ENCRYPT);
}

int op_kek_gcm_decrypt(struct op_ctx *c)
{
	return p11_op(c, VHSM_OP_KEK_GCM_DECRYPT);
}
