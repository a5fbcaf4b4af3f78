/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The mechanisms vhsmd performs for the module, their C_GetMechanismInfo, and the encoding of
 * their parameters as vhsmd's MECH_PARAM (docs/PROTOCOL.md: little-endian u32 fields).
 */
#include <string.h>

#include "p11.h"

#define RSA_BITS 2048, 4096
#define EC_BITS 256, 384
#define AES_BYTES 32, 32

static const struct mech {
	CK_MECHANISM_TYPE type;
	CK_ULONG min, max;
	CK_FLAGS flags;
} mechs[] = {
	{ CKM_RSA_PKCS_KEY_PAIR_GEN, RSA_BITS, CKF_GENERATE_KEY_PAIR },
	{ CKM_EC_KEY_PAIR_GEN, EC_BITS,
	  CKF_GENERATE_KEY_PAIR | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS },
	{ CKM_RSA_PKCS, RSA_BITS, CKF_SIGN | CKF_DECRYPT },
	{ CKM_RSA_PKCS_OAEP, RSA_BITS, CKF_DECRYPT },
	{ CKM_RSA_PKCS_PSS, RSA_BITS, CKF_SIGN },
	{ CKM_SHA256_RSA_PKCS, RSA_BITS, CKF_SIGN },
	{ CKM_SHA384_RSA_PKCS, RSA_BITS, CKF_SIGN },
	{ CKM_SHA512_RSA_PKCS, RSA_BITS, CKF_SIGN },
	{ CKM_SHA256_RSA_PKCS_PSS, RSA_BITS, CKF_SIGN },
	{ CKM_SHA384_RSA_PKCS_PSS, RSA_BITS, CKF_SIGN },
	{ CKM_SHA512_RSA_PKCS_PSS, RSA_BITS, CKF_SIGN },
	{ CKM_ECDSA, EC_BITS, CKF_SIGN | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS },
	{ CKM_ECDSA_SHA256, EC_BITS, CKF_SIGN | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS },
	{ CKM_ECDSA_SHA384, EC_BITS, CKF_SIGN | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS },
	{ CKM_AES_KEY_WRAP_PAD, AES_BYTES, CKF_WRAP | CKF_UNWRAP },
	{ CKM_AES_GCM, AES_BYTES, CKF_ENCRYPT | CKF_DECRYPT },
};

static const struct mech *mech_get(CK_MECHANISM_TYPE type)
{
	for (size_t i = 0; i < ELEMENTSOF(mechs); i++)
		if (mechs[i].type == type)
			return &mechs[i];
	return NULL;
}

const CK_MECHANISM_TYPE *p11_mech_list(size_t *ret_n)
{
	static CK_MECHANISM_TYPE list[ELEMENTSOF(mechs)];

	for (size_t i = 0; i < ELEMENTSOF(mechs); i++)
		list[i] = mechs[i].type;
	*ret_n = ELEMENTSOF(mechs);
	return list;
}

CK_RV p11_mech_info(CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *ret)
{
	const struct mech *m = mech_get(type);

	if (!m)
		return CKR_MECHANISM_INVALID;
	ret->ulMinKeySize = m->min;
	ret->ulMaxKeySize = m->max;
	ret->flags = m->flags | CKF_HW; /* performed by vhsmd, never in this process */
	return CKR_OK;
}

bool p11_mech_multipart(CK_MECHANISM_TYPE mech)
{
	switch (mech) {
	case CKM_SHA256_RSA_PKCS:
	case CKM_SHA384_RSA_PKCS:
	case CKM_SHA512_RSA_PKCS:
	case CKM_SHA256_RSA_PKCS_PSS:
	case CKM_SHA384_RSA_PKCS_PSS:
	case CKM_SHA512_RSA_PKCS_PSS:
	case CKM_ECDSA_SHA256:
	case CKM_ECDSA_SHA384:
		return true;
	default:
		return false;
	}
}

size_t p11_mech_out_max(CK_MECHANISM_TYPE mech, const struct p11_object *o, size_t in_len)
{
	size_t k = (o->bits + 7) / 8;

	if (mech == CKM_AES_GCM)
		return in_len + 16; /* encrypt: ciphertext and the longest tag */
	return o->type == P11_KEY_EC ? 2 * k : k;
}

static void put_u32(uint8_t *p, CK_ULONG v)
{
	p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static bool hash_ok(CK_MECHANISM_TYPE h)
{
	return h == CKM_SHA_1 || h == CKM_SHA224 || h == CKM_SHA256 || h == CKM_SHA384 ||
	       h == CKM_SHA512;
}

static CK_RV param_pss(const CK_MECHANISM *m, uint8_t *param, size_t *ret_len)
{
	const CK_RSA_PKCS_PSS_PARAMS *p = m->pParameter;

	if (!p || m->ulParameterLen != sizeof(*p) || !hash_ok(p->hashAlg) ||
	    p->mgf < CKG_MGF1_SHA1 || p->mgf > CKG_MGF1_SHA224 || p->sLen > 1024)
		return CKR_MECHANISM_PARAM_INVALID;
	put_u32(param, p->hashAlg);
	put_u32(param + 4, p->mgf);
	put_u32(param + 8, p->sLen);
	*ret_len = 12;
	return CKR_OK;
}

static CK_RV param_oaep(const CK_MECHANISM *m, uint8_t *param, size_t *ret_len)
{
	const CK_RSA_PKCS_OAEP_PARAMS *p = m->pParameter;

	if (!p || m->ulParameterLen != sizeof(*p) || !hash_ok(p->hashAlg) ||
	    p->mgf < CKG_MGF1_SHA1 || p->mgf > CKG_MGF1_SHA224 ||
	    (p->source != 0 && p->source != CKZ_DATA_SPECIFIED) ||
	    p->ulSourceDataLen > 1024 - 12 || (p->ulSourceDataLen && !p->pSourceData))
		return CKR_MECHANISM_PARAM_INVALID;
	put_u32(param, p->hashAlg);
	put_u32(param + 4, p->mgf);
	put_u32(param + 8, p->source);
	if (p->ulSourceDataLen)
		memcpy(param + 12, p->pSourceData, p->ulSourceDataLen);
	*ret_len = 12 + p->ulSourceDataLen;
	return CKR_OK;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	uint8_t any = 0;

	for (size_t i = 0; i < len; i++)
		any |= p[i];
	return any == 0;
}

/*
 * GCM: decryption takes the caller's IV; for encryption vhsmd chooses it, and pIv must be a
 * 12-byte buffer of zeros, which receives that IV with the ciphertext (docs/pkcs11.md).
 */
static CK_RV param_gcm(const CK_MECHANISM *m, CK_FLAGS op, uint8_t *param, size_t *ret_len)
{
	const CK_GCM_PARAMS *p = m->pParameter;

	if (!p || m->ulParameterLen != sizeof(*p) || !p->pIv || p->ulIvLen < 1 ||
	    p->ulIvLen > 256 || (p->ulTagBits != 96 && p->ulTagBits != 104 &&
	    p->ulTagBits != 112 && p->ulTagBits != 120 && p->ulTagBits != 128) ||
	    p->ulIvLen + p->ulAADLen > 1024 - 8 || (p->ulAADLen && !p->pAAD))
		return CKR_MECHANISM_PARAM_INVALID;
	if (op == CKF_ENCRYPT && (p->ulIvLen != P11_GCM_IV_SIZE || !all_zero(p->pIv, p->ulIvLen)))
		return CKR_MECHANISM_PARAM_INVALID;
	put_u32(param, p->ulIvLen);
	put_u32(param + 4, p->ulTagBits);
	memcpy(param + 8, p->pIv, p->ulIvLen);
	if (p->ulAADLen)
		memcpy(param + 8 + p->ulIvLen, p->pAAD, p->ulAADLen);
	*ret_len = 8 + p->ulIvLen + p->ulAADLen;
	return CKR_OK;
}

/* The key type a mechanism needs. */
static enum p11_key_type mech_key_type(CK_MECHANISM_TYPE t)
{
	if (t == CKM_ECDSA || t == CKM_ECDSA_SHA256 || t == CKM_ECDSA_SHA384)
		return P11_KEY_EC;
	if (t == CKM_AES_KEY_WRAP_PAD || t == CKM_AES_GCM)
		return P11_KEY_AES;
	return P11_KEY_RSA;
}

static CK_RV key_allows(const struct p11_object *o, CK_FLAGS op)
{
	if (op == CKF_SIGN)
		return o->kind == P11_OBJ_PRIVATE && o->can_sign ? CKR_OK :
								   CKR_KEY_FUNCTION_NOT_PERMITTED;
	if (op == CKF_DECRYPT && o->kind == P11_OBJ_PRIVATE)
		return o->can_decrypt ? CKR_OK : CKR_KEY_FUNCTION_NOT_PERMITTED;
	/* KEKs: vhsmd's ACL decides each use (wrap, unwrap); the object offers them all. */
	return o->kind == P11_OBJ_KEK ? CKR_OK : CKR_KEY_TYPE_INCONSISTENT;
}

CK_RV p11_mech_prepare(const CK_MECHANISM *m, CK_FLAGS op, const struct p11_object *o,
		       uint8_t param[static 1024], size_t *ret_len)
{
	const struct mech *d;
	CK_RV rv;

	if (!m)
		return CKR_ARGUMENTS_BAD;
	d = mech_get(m->mechanism);
	if (!d || !(d->flags & op))
		return CKR_MECHANISM_INVALID;
	if (mech_key_type(m->mechanism) != o->type)
		return CKR_KEY_TYPE_INCONSISTENT;
	rv = key_allows(o, op);
	if (rv != CKR_OK)
		return rv;
	*ret_len = 0;
	switch (m->mechanism) {
	case CKM_RSA_PKCS_PSS:
	case CKM_SHA256_RSA_PKCS_PSS:
	case CKM_SHA384_RSA_PKCS_PSS:
	case CKM_SHA512_RSA_PKCS_PSS:
		return param_pss(m, param, ret_len);
	case CKM_RSA_PKCS_OAEP:
		return param_oaep(m, param, ret_len);
	case CKM_AES_GCM:
		return param_gcm(m, op, param, ret_len);
	case CKM_AES_KEY_WRAP_PAD:
		/* Only RFC 5649's default IV (no parameter) is offered. */
		return m->pParameter || m->ulParameterLen ? CKR_MECHANISM_PARAM_INVALID : CKR_OK;
	default:
		return CKR_OK;
	}
}
