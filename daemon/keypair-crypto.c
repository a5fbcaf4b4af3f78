/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KEY_SIGN and KEY_DECRYPT mechanisms (PKCS#11 2.40 CKM_* values, docs/PROTOCOL.md): each
 * checks the mechanism against the key's type, the parameters and the input length before any
 * private-key operation. RSA PKCS#1 v1.5 decryption is a raw RSA operation followed by the
 * constant-time decoding with implicit rejection of lib/rsa-ir (OpenSSL 3.0 has none).
 */
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keypair-crypto.h"
#include "log.h"
#include "rsa-ir.h"
#include "secmem.h"
#include "openssl-util.h"

#define CKG_MGF1_SHA1 1u
#define CKG_MGF1_SHA256 2u
#define CKG_MGF1_SHA384 3u
#define CKG_MGF1_SHA512 4u
#define CKG_MGF1_SHA224 5u
#define CKZ_DATA_SPECIFIED 1u

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static const EVP_MD *hash_md(uint32_t ckm)
{
	switch (ckm) {
	case KEYPAIR_CKM_SHA_1: return EVP_sha1();
	case KEYPAIR_CKM_SHA224: return EVP_sha224();
	case KEYPAIR_CKM_SHA256: return EVP_sha256();
	case KEYPAIR_CKM_SHA384: return EVP_sha384();
	case KEYPAIR_CKM_SHA512: return EVP_sha512();
	default: return NULL;
	}
}

static const EVP_MD *mgf_md(uint32_t ckg)
{
	switch (ckg) {
	case CKG_MGF1_SHA1: return EVP_sha1();
	case CKG_MGF1_SHA224: return EVP_sha224();
	case CKG_MGF1_SHA256: return EVP_sha256();
	case CKG_MGF1_SHA384: return EVP_sha384();
	case CKG_MGF1_SHA512: return EVP_sha512();
	default: return NULL;
	}
}

/* The message digest of a combined mechanism (CKM_SHA256_RSA_PKCS ...), or NULL. */
static const EVP_MD *mech_md(uint32_t mech)
{
	switch (mech) {
	case KEYPAIR_CKM_SHA256_RSA_PKCS:
	case KEYPAIR_CKM_SHA256_RSA_PKCS_PSS:
	case KEYPAIR_CKM_ECDSA_SHA256:
		return EVP_sha256();
	case KEYPAIR_CKM_SHA384_RSA_PKCS:
	case KEYPAIR_CKM_SHA384_RSA_PKCS_PSS:
	case KEYPAIR_CKM_ECDSA_SHA384:
		return EVP_sha384();
	case KEYPAIR_CKM_SHA512_RSA_PKCS:
	case KEYPAIR_CKM_SHA512_RSA_PKCS_PSS:
		return EVP_sha512();
	default:
		return NULL;
	}
}

static bool mech_is_pss(uint32_t mech)
{
	return mech == KEYPAIR_CKM_RSA_PKCS_PSS || mech == KEYPAIR_CKM_SHA256_RSA_PKCS_PSS ||
	       mech == KEYPAIR_CKM_SHA384_RSA_PKCS_PSS || mech == KEYPAIR_CKM_SHA512_RSA_PKCS_PSS;
}

static bool mech_is_ecdsa(uint32_t mech)
{
	return mech == KEYPAIR_CKM_ECDSA || mech == KEYPAIR_CKM_ECDSA_SHA256 ||
	       mech == KEYPAIR_CKM_ECDSA_SHA384;
}

static bool mech_is_rsa_sign(uint32_t mech)
{
	return mech == KEYPAIR_CKM_RSA_PKCS || mech == KEYPAIR_CKM_SHA256_RSA_PKCS ||
	       mech == KEYPAIR_CKM_SHA384_RSA_PKCS || mech == KEYPAIR_CKM_SHA512_RSA_PKCS ||
	       mech_is_pss(mech);
}

struct keypair_kept {
	EVP_PKEY_CTX *raw;  /* decrypt-initialised, RSA_NO_PADDING */
	uint8_t *ir_key;    /* RSA_IR_KEY_SIZE bytes of secure memory */
	EVP_PKEY_CTX *sign; /* sign-initialised for sign_mech with sign_param */
	uint32_t sign_mech;
	uint8_t sign_param[12];
	size_t sign_param_len;
};

struct keypair_kept *keypair_kept_new(void)
{
	return calloc(1, sizeof(struct keypair_kept));
}

void keypair_kept_free(struct keypair_kept *kept)
{
	if (!kept)
		return;
	EVP_PKEY_CTX_free(kept->raw);
	secmem_free(kept->ir_key);
	EVP_PKEY_CTX_free(kept->sign);
	free(kept);
}

/* PSS parameters: hashAlg, mgf, sLen (and, for combined mechanisms, hashAlg = the mech's). */
static int pss_params(const struct keypair_op *op, const EVP_MD **ret_md, const EVP_MD **ret_mgf,
		      int *ret_slen, char *why, size_t whylen)
{
	const EVP_MD *md, *mgf, *want = mech_md(op->mech);
	uint32_t slen;

	if (op->param_len != 12) {
		snprintf(why, whylen, "PSS needs parameters: hashAlg, mgf, sLen (12 bytes, got %zu)",
			 op->param_len);
		return -EINVAL;
	}
	md = hash_md(le32(op->param));
	mgf = mgf_md(le32(op->param + 4));
	slen = le32(op->param + 8);
	if (!md || !mgf || (want && EVP_MD_get_type(want) != EVP_MD_get_type(md)) ||
	    slen > 1024) {
		snprintf(why, whylen, "invalid PSS parameters: hashAlg 0x%x, mgf 0x%x, sLen %u",
			 le32(op->param), le32(op->param + 4), slen);
		return -EINVAL;
	}
	*ret_md = md;
	*ret_mgf = mgf;
	*ret_slen = (int)slen;
	return 0;
}

/* Sets up ctx (sign-initialised) for an RSA mechanism. */
static int rsa_sign_setup(EVP_PKEY_CTX *ctx, const struct keypair_op *op, char *why,
			  size_t whylen)
{
	const EVP_MD *md, *mgf;
	int slen, r;

	if (!mech_is_pss(op->mech))
		return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0 ? 0 : -EIO;
	r = pss_params(op, &md, &mgf, &slen, why, whylen);
	if (r < 0)
		return r;
	if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
	    (op->mech == KEYPAIR_CKM_RSA_PKCS_PSS && EVP_PKEY_CTX_set_signature_md(ctx, md) <= 0) ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, mgf) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, slen) <= 0) {
		(void)vhsm_log_openssl(-EINVAL, "PSS parameters");
		snprintf(why, whylen, "PSS parameters not usable with this key (sLen %d)", slen);
		return -EINVAL;
	}
	return 0;
}

/* DER ECDSA signature -> r || s, each the size of the group order. */
static int ecdsa_raw(EVP_PKEY *k, const uint8_t *der, size_t len, uint8_t *out, size_t *ret_len)
{
	const uint8_t *p = der;
	_cleanup_(ECDSA_SIG_freep) ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
	size_t n = ((size_t)EVP_PKEY_get_bits(k) + 7) / 8;

	if (!sig || BN_bn2binpad(ECDSA_SIG_get0_r(sig), out, (int)n) < 0 ||
	    BN_bn2binpad(ECDSA_SIG_get0_s(sig), out + n, (int)n) < 0)
		return -EIO;
	*ret_len = 2 * n;
	return 0;
}

/* Which usage errors come first: the mechanism must fit the key's type. */
static int sign_check(const struct keypair_op *op, bool rsa, size_t k, char *why, size_t whylen)
{
	if (rsa ? !mech_is_rsa_sign(op->mech) : !mech_is_ecdsa(op->mech)) {
		snprintf(why, whylen, "mechanism 0x%x cannot sign with an %s key", op->mech,
			 rsa ? "RSA" : "EC");
		return -EOPNOTSUPP;
	}
	if (op->mech == KEYPAIR_CKM_RSA_PKCS && op->in_len > k - 11) {
		snprintf(why, whylen, "CKM_RSA_PKCS signs at most %zu bytes, got %zu", k - 11,
			 op->in_len);
		return -EMSGSIZE;
	}
	if ((op->mech == KEYPAIR_CKM_RSA_PKCS_PSS || op->mech == KEYPAIR_CKM_ECDSA) &&
	    (op->in_len == 0 || op->in_len > 64)) {
		snprintf(why, whylen, "mechanism 0x%x signs a hash (1..64 bytes), got %zu bytes",
			 op->mech, op->in_len);
		return op->in_len ? -EMSGSIZE : -EINVAL;
	}
	if (!mech_is_pss(op->mech) && op->param_len) {
		snprintf(why, whylen, "mechanism 0x%x takes no parameters", op->mech);
		return -EINVAL;
	}
	return 0;
}

/* kept's signing context when it was set up for op's mechanism and parameters, else NULL. */
static EVP_PKEY_CTX *kept_sign(const struct keypair_kept *kept, const struct keypair_op *op)
{
	if (!kept->sign || kept->sign_mech != op->mech || kept->sign_param_len != op->param_len ||
	    (op->param_len && memcmp(kept->sign_param, op->param, op->param_len) != 0))
		return NULL;
	return kept->sign;
}

int keypair_sign(EVP_PKEY *k, struct keypair_kept *kept, const struct keypair_op *op,
		 uint8_t *out, size_t *ret_len, char *why, size_t whylen)
{
	bool rsa = EVP_PKEY_is_a(k, "RSA");
	size_t k_len = (size_t)EVP_PKEY_get_size(k), len = KEYPAIR_SIG_MAX;
	uint8_t sig[KEYPAIR_SIG_MAX];
	const EVP_MD *md = mech_md(op->mech);
	int r = sign_check(op, rsa, rsa ? k_len : 0, why, whylen);

	if (r < 0)
		return r;
	if (md) {
		_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *mc = EVP_MD_CTX_new();
		EVP_PKEY_CTX *pc = NULL;
		if (!mc || EVP_DigestSignInit(mc, &pc, md, NULL, k) <= 0)
			return vhsm_log_openssl(-EIO, "sign init");
		r = rsa ? rsa_sign_setup(pc, op, why, whylen) : 0;
		if (r < 0)
			return r;
		if (EVP_DigestSign(mc, sig, &len, op->in, op->in_len) <= 0)
			return vhsm_log_openssl(-EIO, "sign");
	} else {
		_cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *own = NULL;
		EVP_PKEY_CTX *pc = kept ? kept_sign(kept, op) : NULL;
		if (!pc) {
			own = EVP_PKEY_CTX_new(k, NULL);
			if (!own || EVP_PKEY_sign_init(own) <= 0)
				return vhsm_log_openssl(-EIO, "sign init");
			r = rsa ? rsa_sign_setup(own, op, why, whylen) : 0;
			if (r < 0)
				return r;
			pc = own;
		}
		if (op->mech == KEYPAIR_CKM_RSA_PKCS_PSS &&
		    op->in_len != (size_t)EVP_MD_get_size(hash_md(le32(op->param)))) {
			snprintf(why, whylen, "CKM_RSA_PKCS_PSS: the hash is %zu bytes, hashAlg "
				 "makes %d", op->in_len, EVP_MD_get_size(hash_md(le32(op->param))));
			return -EINVAL;
		}
		if (EVP_PKEY_sign(pc, sig, &len, op->in, op->in_len) <= 0)
			return vhsm_log_openssl(-EIO, "sign");
		if (own && kept && op->param_len <= sizeof(kept->sign_param)) {
			/* Set up and used once: kept for the next call with these parameters. */
			EVP_PKEY_CTX_free(kept->sign);
			kept->sign = TAKE_PTR(own);
			kept->sign_mech = op->mech;
			kept->sign_param_len = op->param_len;
			if (op->param_len)
				memcpy(kept->sign_param, op->param, op->param_len);
		}
	}
	if (!rsa)
		return ecdsa_raw(k, sig, len, out, ret_len);
	memcpy(out, sig, len);
	*ret_len = len;
	return 0;
}

/* OAEP parameters: hashAlg, mgf, source, then the label. */
static int oaep_setup(EVP_PKEY_CTX *ctx, const struct keypair_op *op, char *why, size_t whylen)
{
	const EVP_MD *md, *mgf;
	uint32_t source;
	size_t label_len;

	if (op->param_len < 12) {
		snprintf(why, whylen, "OAEP needs parameters: hashAlg, mgf, source, label (got %zu "
			 "bytes)", op->param_len);
		return -EINVAL;
	}
	md = hash_md(le32(op->param));
	mgf = mgf_md(le32(op->param + 4));
	source = le32(op->param + 8);
	label_len = op->param_len - 12;
	if (!md || !mgf || source > CKZ_DATA_SPECIFIED || (source == 0 && label_len)) {
		snprintf(why, whylen, "invalid OAEP parameters: hashAlg 0x%x, mgf 0x%x, source %u",
			 le32(op->param), le32(op->param + 4), source);
		return -EINVAL;
	}
	if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, mgf) <= 0)
		return vhsm_log_openssl(-EIO, "OAEP set-up");
	if (label_len) {
		uint8_t *l = OPENSSL_memdup(op->param + 12, label_len);
		if (!l || EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, l, (int)label_len) <= 0) {
			OPENSSL_free(l);
			return vhsm_log_openssl(-EIO, "OAEP label");
		}
	}
	return 0;
}

/* The implicit-rejection key: SHA-256 of d as k big-endian bytes. */
static int ir_key(EVP_PKEY *k, size_t klen, uint8_t key[static RSA_IR_KEY_SIZE])
{
	_cleanup_secmem_ uint8_t *d = secmem_alloc(klen);
	_cleanup_secmem_ uint8_t *be = secmem_alloc(klen);
	OSSL_PARAM p[] = { OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_RSA_D, d, klen),
			   OSSL_PARAM_construct_end() };

	if (!d || !be)
		return -ENOMEM;
	if (!EVP_PKEY_get_params(k, p) || !OSSL_PARAM_modified(p))
		return vhsm_log_openssl(-EIO, "RSA private exponent");
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	memcpy(be, d, klen);
#else
	for (size_t i = 0; i < klen; i++) /* OSSL_PARAM integers are native-endian */
		be[i] = d[klen - 1 - i];
#endif
	return rsa_ir_key(be, klen, key);
}

/* A context for the raw RSA private operation with k. */
static int raw_ctx(EVP_PKEY *k, EVP_PKEY_CTX **ret)
{
	_cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(k, NULL);

	if (!pc || EVP_PKEY_decrypt_init(pc) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_NO_PADDING) <= 0)
		return vhsm_log_openssl(-EIO, "RSA set-up");
	*ret = TAKE_PTR(pc);
	return 0;
}

/* kept's context and key for k, made now when it has none yet. */
static int kept_fill(EVP_PKEY *k, size_t klen, struct keypair_kept *kept)
{
	_cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *pc = NULL;
	_cleanup_secmem_ uint8_t *key = NULL;
	int r;

	if (kept->raw && kept->ir_key)
		return 0;
	key = secmem_alloc(RSA_IR_KEY_SIZE);
	if (!key)
		return -ENOMEM;
	r = raw_ctx(k, &pc);
	if (r >= 0)
		r = ir_key(k, klen, key);
	if (r < 0)
		return r;
	EVP_PKEY_CTX_free(kept->raw);
	secmem_free(kept->ir_key);
	kept->raw = TAKE_PTR(pc);
	kept->ir_key = TAKE_PTR(key);
	return 0;
}

/* CKM_RSA_PKCS: the raw RSA operation, then the constant-time decoding with implicit rejection
 * (rsa-ir.h), with kept's context and key or, without kept, ones made for this call. */
static int decrypt_pkcs1(EVP_PKEY *k, struct keypair_kept *kept, const struct keypair_op *op,
			 uint8_t *out, size_t *ret_len)
{
	size_t klen = (size_t)EVP_PKEY_get_size(k), len = klen;
	_cleanup_secmem_ uint8_t *em = secmem_alloc(klen);
	_cleanup_secmem_ uint8_t *own_key = NULL;
	_cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *own = NULL;
	EVP_PKEY_CTX *pc;
	const uint8_t *key;
	int r;

	if (!em)
		return -ENOMEM;
	if (kept) {
		r = kept_fill(k, klen, kept);
		if (r < 0)
			return r;
		pc = kept->raw;
		key = kept->ir_key;
	} else {
		own_key = secmem_alloc(RSA_IR_KEY_SIZE);
		if (!own_key)
			return -ENOMEM;
		r = raw_ctx(k, &own);
		if (r >= 0)
			r = ir_key(k, klen, own_key);
		if (r < 0)
			return r;
		pc = own;
		key = own_key;
	}
	/* Fails only for a ciphertext >= n: public information. */
	if (EVP_PKEY_decrypt(pc, em, &len, op->in, op->in_len) <= 0 || len != klen)
		return vhsm_log_openssl(-EBADMSG, "RSA decryption");
	return rsa_ir_unpad(em, op->in, klen, key, out, ret_len);
}

int keypair_decrypt(EVP_PKEY *k, struct keypair_kept *kept, const struct keypair_op *op,
		    uint8_t *out, size_t *ret_len, char *why, size_t whylen)
{
	_cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *pc = NULL;
	size_t klen = (size_t)EVP_PKEY_get_size(k), len = klen;
	int r;

	if (!EVP_PKEY_is_a(k, "RSA") ||
	    (op->mech != KEYPAIR_CKM_RSA_PKCS && op->mech != KEYPAIR_CKM_RSA_PKCS_OAEP)) {
		snprintf(why, whylen, "mechanism 0x%x cannot decrypt with this key", op->mech);
		return -EOPNOTSUPP;
	}
	if (op->in_len != klen) {
		snprintf(why, whylen, "the ciphertext must be %zu bytes (the modulus), got %zu",
			 klen, op->in_len);
		return op->in_len > klen ? -EMSGSIZE : -EINVAL;
	}
	if (op->mech == KEYPAIR_CKM_RSA_PKCS && op->param_len) {
		snprintf(why, whylen, "CKM_RSA_PKCS takes no parameters");
		return -EINVAL;
	}
	if (op->mech == KEYPAIR_CKM_RSA_PKCS) {
		r = decrypt_pkcs1(k, kept, op, out, ret_len);
		if (r == -EBADMSG)
			snprintf(why, whylen, "the ciphertext is not below the modulus");
		return r;
	}
	pc = EVP_PKEY_CTX_new(k, NULL);
	if (!pc || EVP_PKEY_decrypt_init(pc) <= 0)
		return vhsm_log_openssl(-EIO, "decrypt init");
	r = oaep_setup(pc, op, why, whylen);
	if (r < 0)
		return r;
	if (EVP_PKEY_decrypt(pc, out, &len, op->in, op->in_len) <= 0) {
		(void)vhsm_log_openssl(-EBADMSG, "OAEP decryption");
		snprintf(why, whylen, "OAEP decryption failed (wrong key, label or parameters)");
		return -EBADMSG;
	}
	*ret_len = len;
	return 0;
}
