/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attributes of the module's objects, derived from what vhsmd returned (the public key as DER
 * SubjectPublicKeyInfo, the certificate as DER) and C_GetAttributeValue's rules (PKCS#11 2.40
 * §5.7): per attribute, CK_UNAVAILABLE_INFORMATION with CKR_ATTRIBUTE_SENSITIVE,
 * CKR_ATTRIBUTE_TYPE_INVALID or CKR_BUFFER_TOO_SMALL, every other attribute still filled.
 */
#include <errno.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "p11.h"
#include "openssl-util.h"

/* One attribute's value: small values inline, larger ones malloc'd. */
struct attr_val {
	uint8_t small[sizeof(CK_ULONG)];
	uint8_t *heap;
	const uint8_t *p;
	size_t len;
};

static int val_ulong(struct attr_val *v, CK_ULONG x)
{
	memcpy(v->small, &x, sizeof(x));
	v->p = v->small;
	v->len = sizeof(x);
	return 0;
}

static int val_bool(struct attr_val *v, bool b)
{
	v->small[0] = b ? CK_TRUE : CK_FALSE;
	v->p = v->small;
	v->len = 1;
	return 0;
}

static int val_bytes(struct attr_val *v, const void *p, size_t len)
{
	v->p = p;
	v->len = len;
	return 0;
}

/* Takes a malloc'd (or OPENSSL_malloc'd, copied) buffer. */
static int val_take(struct attr_val *v, uint8_t *p, int len)
{
	if (!p || len < 0)
		return -ENOMEM;
	v->heap = malloc((size_t)len + 1);
	if (!v->heap) {
		OPENSSL_free(p);
		return -ENOMEM;
	}
	memcpy(v->heap, p, (size_t)len);
	OPENSSL_free(p);
	v->p = v->heap;
	v->len = (size_t)len;
	return 0;
}

static EVP_PKEY *spki_key(const struct p11_object *o)
{
	const unsigned char *p = o->spki;

	return o->spki ? d2i_PUBKEY(NULL, &p, (long)o->spki_len) : NULL;
}

static int val_bn(struct attr_val *v, const struct p11_object *o, const char *param)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *k = spki_key(o);
	_cleanup_(BN_freep) BIGNUM *bn = NULL;
	int n;

	if (!k || !EVP_PKEY_get_bn_param(k, param, &bn))
		return -EIO;
	n = BN_num_bytes(bn);
	v->heap = malloc((size_t)n + 1);
	if (!v->heap)
		return -ENOMEM;
	BN_bn2bin(bn, v->heap);
	v->p = v->heap;
	v->len = (size_t)n;
	return 0;
}

/* CKA_EC_PARAMS: the named curve's OID, DER. */
static int val_ec_params(struct attr_val *v, const struct p11_object *o)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *k = spki_key(o);
	char group[64];
	uint8_t *der = NULL;
	int len, nid;

	if (!k || !EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group,
						  sizeof(group), NULL))
		return -EIO;
	nid = OBJ_txt2nid(group);
	if (nid == NID_undef)
		return -EIO;
	len = i2d_ASN1_OBJECT(OBJ_nid2obj(nid), &der);
	return val_take(v, der, len);
}

/* CKA_EC_POINT: the uncompressed point in a DER OCTET STRING (PKCS#11 2.40). */
static int val_ec_point(struct attr_val *v, const struct p11_object *o)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *k = spki_key(o);
	_cleanup_(ASN1_OCTET_STRING_freep) ASN1_OCTET_STRING *s = ASN1_OCTET_STRING_new();
	uint8_t pt[160], *der = NULL;
	size_t n = 0;

	if (!k || !s || !EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pt,
							 sizeof(pt), &n) ||
	    !ASN1_OCTET_STRING_set(s, pt, (int)n))
		return -EIO;
	int len = i2d_ASN1_OCTET_STRING(s, &der);
	return val_take(v, der, len);
}

/* CKA_SUBJECT, CKA_ISSUER, CKA_SERIAL_NUMBER of the certificate (empty without one). */
static int val_cert_field(struct attr_val *v, const struct p11_object *o, CK_ATTRIBUTE_TYPE t)
{
	_cleanup_(X509_freep) X509 *x = o->cert ? openssl_x509_from_der(o->cert, o->cert_len,
									SIZE_MAX)
						: NULL;
	uint8_t *der = NULL;
	int len;

	if (!x)
		return o->cert ? -EIO : val_bytes(v, "", 0);
	if (t == CKA_SUBJECT)
		len = i2d_X509_NAME(X509_get_subject_name(x), &der);
	else if (t == CKA_ISSUER)
		len = i2d_X509_NAME(X509_get_issuer_name(x), &der);
	else
		len = i2d_ASN1_INTEGER(X509_get_serialNumber(x), &der);
	return val_take(v, der, len);
}

CK_OBJECT_CLASS p11_obj_class(const struct p11_object *o)
{
	switch (o->kind) {
	case P11_OBJ_PRIVATE: return CKO_PRIVATE_KEY;
	case P11_OBJ_PUBLIC: return CKO_PUBLIC_KEY;
	case P11_OBJ_CERT: return CKO_CERTIFICATE;
	default: return CKO_SECRET_KEY;
	}
}

static bool is_key(const struct p11_object *o)
{
	return o->kind != P11_OBJ_CERT;
}

/* Attributes every object has. -ENOENT: not one of them. */
static int attr_common(const struct p11_object *o, CK_ATTRIBUTE_TYPE t, struct attr_val *v)
{
	bool private = o->kind == P11_OBJ_PRIVATE || o->kind == P11_OBJ_KEK ||
		       o->kind == P11_OBJ_SESSION_SECRET;

	switch (t) {
	case CKA_CLASS: return val_ulong(v, p11_obj_class(o));
	case CKA_TOKEN: return val_bool(v, o->session == 0);
	case CKA_PRIVATE: return val_bool(v, private);
	case CKA_MODIFIABLE: return val_bool(v, false);
	case CKA_COPYABLE: return val_bool(v, false);
	case CKA_DESTROYABLE: return val_bool(v, true);
	case CKA_LABEL: return val_bytes(v, o->name, strlen(o->name));
	case CKA_ID: return o->kind == P11_OBJ_SESSION_SECRET ? val_bytes(v, "", 0) :
								   val_bytes(v, o->id, o->id_len);
	case CKA_START_DATE:
	case CKA_END_DATE: return val_bytes(v, "", 0);
	default: return -ENOENT;
	}
}

/* Attributes of all keys. */
static int attr_key(const struct p11_object *o, CK_ATTRIBUTE_TYPE t, struct attr_val *v)
{
	bool secret = o->kind == P11_OBJ_KEK || o->kind == P11_OBJ_SESSION_SECRET;
	bool vhsm_made = o->kind != P11_OBJ_SESSION_SECRET;

	switch (t) {
	case CKA_KEY_TYPE:
		return val_ulong(v, o->type == P11_KEY_RSA ? CKK_RSA :
				    o->type == P11_KEY_EC  ? CKK_EC : CKK_AES);
	case CKA_DERIVE: return val_bool(v, false);
	case CKA_LOCAL: return val_bool(v, vhsm_made);
	case CKA_KEY_GEN_MECHANISM:
		return val_ulong(v, !vhsm_made || secret ? CK_UNAVAILABLE_INFORMATION :
				    o->type == P11_KEY_RSA ? CKM_RSA_PKCS_KEY_PAIR_GEN :
							     CKM_EC_KEY_PAIR_GEN);
	case CKA_ALLOWED_MECHANISMS: return -ENOENT;
	case CKA_SUBJECT: return secret ? -ENOENT : val_cert_field(v, o, t);
	case CKA_PUBLIC_KEY_INFO:
		return secret ? -ENOENT : val_bytes(v, o->spki, o->spki_len);
	case CKA_MODULUS:
	case CKA_PUBLIC_EXPONENT:
		if (o->type != P11_KEY_RSA || secret)
			return -ENOENT;
		return val_bn(v, o, t == CKA_MODULUS ? OSSL_PKEY_PARAM_RSA_N : OSSL_PKEY_PARAM_RSA_E);
	case CKA_MODULUS_BITS: return o->type == P11_KEY_RSA ? val_ulong(v, o->bits) : -ENOENT;
	case CKA_EC_PARAMS: return o->type == P11_KEY_EC ? val_ec_params(v, o) : -ENOENT;
	case CKA_EC_POINT: return o->type == P11_KEY_EC ? val_ec_point(v, o) : -ENOENT;
	default: return -ENOENT;
	}
}

/* Private and secret keys: what never leaves vhsmd is sensitive (-EPERM). */
static int attr_private(const struct p11_object *o, CK_ATTRIBUTE_TYPE t, struct attr_val *v)
{
	bool kek = o->kind == P11_OBJ_KEK, sess = o->kind == P11_OBJ_SESSION_SECRET;
	bool sensitive = sess ? o->sensitive : true, extractable = sess ? o->extractable : false;

	switch (t) {
	case CKA_SENSITIVE: return val_bool(v, sensitive);
	case CKA_EXTRACTABLE: return val_bool(v, extractable);
	case CKA_ALWAYS_SENSITIVE: return val_bool(v, !sess);
	case CKA_NEVER_EXTRACTABLE: return val_bool(v, !sess);
	case CKA_WRAP_WITH_TRUSTED: return val_bool(v, false);
	case CKA_ALWAYS_AUTHENTICATE: return val_bool(v, false);
	case CKA_SIGN: return val_bool(v, o->kind == P11_OBJ_PRIVATE && o->can_sign);
	case CKA_SIGN_RECOVER: return val_bool(v, false);
	case CKA_DECRYPT: return val_bool(v, kek || (o->kind == P11_OBJ_PRIVATE && o->can_decrypt));
	case CKA_UNWRAP: return val_bool(v, kek);
	case CKA_ENCRYPT:
	case CKA_WRAP: return kek || sess ? val_bool(v, kek) : -ENOENT;
	case CKA_VERIFY: return kek || sess ? val_bool(v, false) : -ENOENT;
	case CKA_TRUSTED: return kek || sess ? val_bool(v, false) : -ENOENT;
	case CKA_VALUE_LEN: return kek || sess ? val_ulong(v, o->bits / 8) : -ENOENT;
	case CKA_VALUE:
		if (sess && !sensitive && extractable)
			return val_bytes(v, o->secret, o->secret_len);
		return -EPERM;
	case CKA_PRIVATE_EXPONENT:
	case CKA_PRIME_1:
	case CKA_PRIME_2:
	case CKA_EXPONENT_1:
	case CKA_EXPONENT_2:
	case CKA_COEFFICIENT:
		return o->type == P11_KEY_RSA && !kek && !sess ? -EPERM : -ENOENT;
	default: return -ENOENT;
	}
}

static int attr_public(const struct p11_object *o, CK_ATTRIBUTE_TYPE t, struct attr_val *v)
{
	switch (t) {
	case CKA_ENCRYPT: return val_bool(v, o->can_decrypt);
	case CKA_VERIFY: return val_bool(v, o->can_sign);
	case CKA_VERIFY_RECOVER:
	case CKA_WRAP:
	case CKA_TRUSTED: return val_bool(v, false);
	default: return -ENOENT;
	}
}

static int attr_cert(const struct p11_object *o, CK_ATTRIBUTE_TYPE t, struct attr_val *v)
{
	switch (t) {
	case CKA_CERTIFICATE_TYPE: return val_ulong(v, CKC_X_509);
	case CKA_TRUSTED: return val_bool(v, false);
	case CKA_CERTIFICATE_CATEGORY: return val_ulong(v, 0); /* unspecified */
	case CKA_VALUE: return val_bytes(v, o->cert, o->cert_len);
	case CKA_SUBJECT:
	case CKA_ISSUER:
	case CKA_SERIAL_NUMBER: return val_cert_field(v, o, t);
	case CKA_URL:
	case CKA_HASH_OF_SUBJECT_PUBLIC_KEY:
	case CKA_HASH_OF_ISSUER_PUBLIC_KEY: return val_bytes(v, "", 0);
	case CKA_JAVA_MIDP_SECURITY_DOMAIN: return val_ulong(v, 0);
	case CKA_NAME_HASH_ALGORITHM: return val_ulong(v, CKM_SHA_1);
	default: return -ENOENT;
	}
}

/* 0 with v filled, -ENOENT (no such attribute), -EPERM (sensitive), -EIO/-ENOMEM. */
static int attr_value(const struct p11_object *o, CK_ATTRIBUTE_TYPE t, struct attr_val *v)
{
	int r = attr_common(o, t, v);

	if (r != -ENOENT)
		return r;
	if (o->kind == P11_OBJ_CERT)
		return attr_cert(o, t, v);
	if (o->kind == P11_OBJ_PUBLIC) {
		r = attr_public(o, t, v);
		if (r != -ENOENT)
			return r;
	} else {
		r = attr_private(o, t, v);
		if (r != -ENOENT)
			return r;
	}
	return is_key(o) ? attr_key(o, t, v) : -ENOENT;
}

CK_RV p11_attr_get(const struct p11_object *o, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	CK_RV rv = CKR_OK;

	for (CK_ULONG i = 0; i < n; i++) {
		struct attr_val v = {};
		int r = attr_value(o, t[i].type, &v);
		if (r == -ENOENT || r == -EPERM) {
			t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			rv = r == -EPERM ? CKR_ATTRIBUTE_SENSITIVE : CKR_ATTRIBUTE_TYPE_INVALID;
		} else if (r < 0) {
			free(v.heap);
			return r == -ENOMEM ? CKR_HOST_MEMORY : CKR_GENERAL_ERROR;
		} else if (!t[i].pValue) {
			t[i].ulValueLen = v.len;
		} else if (t[i].ulValueLen < v.len) {
			t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			rv = CKR_BUFFER_TOO_SMALL;
		} else {
			memcpy(t[i].pValue, v.p, v.len);
			t[i].ulValueLen = v.len;
		}
		free(v.heap);
	}
	return rv;
}

bool p11_attr_match(const struct p11_object *o, const CK_ATTRIBUTE *t, CK_ULONG n)
{
	for (CK_ULONG i = 0; i < n; i++) {
		struct attr_val v = {};
		bool eq = attr_value(o, t[i].type, &v) == 0 && v.len == t[i].ulValueLen &&
			  (v.len == 0 || (t[i].pValue && memcmp(v.p, t[i].pValue, v.len) == 0));
		free(v.heap);
		if (!eq)
			return false;
	}
	return true;
}
