/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The administrator's workflow through PKCS#11: C_GenerateKeyPair (KEY_CREATE), C_CreateObject
 * for a key pair's certificate (KEY_SET_CERT) or a session secret key, C_DestroyObject
 * (KEY_DELETE). vhsmd decides who may: KEY_CREATE is for administrators, the others need the
 * key's admin permission.
 */
#include <errno.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <string.h>

#include "openssl-util.h"
#include "p11.h"
#include "secmem.h"
#include "text.h"
#include "wire-client.h"

/* DER OIDs of the named curves vhsmd offers. */
static const uint8_t oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const uint8_t oid_p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };

/* One request with a NAME and an optional data field. */
static CK_RV name_request(uint16_t op, const char *name,
			     uint16_t tag, const void *data, size_t len)
{
	struct vhsm_wire_builder *b;
	struct vhsm_client *c = NULL;
	int r;

	r = p11_conn_get(&c);
	if (r == 0) {
		b = vhsm_client_begin(c, op);
		vhsm_wire_add_str(b, VHSM_TAG_NAME, name);
		if (tag)
			vhsm_wire_add_data(b, tag, data, len);
		r = p11_call(c, op, VHSM_CLIENT_TIMEOUT_MS);
	}
	p11_conn_put(c);
	return r == -EEXIST ? CKR_ATTRIBUTE_VALUE_INVALID : p11_rv_from_errno(r);
}

/* Token objects need a logged-in read/write session. */
static CK_RV may_write(const struct p11_session *s)
{
	if (!(s->flags & CKF_RW_SESSION))
		return CKR_SESSION_READ_ONLY;
	return p11_logged_in() ? CKR_OK : CKR_USER_NOT_LOGGED_IN;
}

/* The handle of a token object of that kind and name after a refresh. */
static CK_RV handle_of(struct p11_session *s, enum p11_obj_kind kind, const char *name,
		       CK_OBJECT_HANDLE *ret)
{
	_cleanup_free_ CK_OBJECT_HANDLE *all = NULL;
	size_t n = 0;
	CK_RV rv = p11_objects_update();

	if (rv != CKR_OK)
		return rv;
	p11_lock();
	rv = p11_objects_visible(s->handle, &all, &n);
	for (size_t i = 0; rv == CKR_OK && i < n; i++) {
		const struct p11_object *o = p11_object_find(all[i]);
		if (o->kind == kind && strcmp(o->name, name) == 0) {
			*ret = o->handle;
			p11_unlock();
			return CKR_OK;
		}
	}
	p11_unlock();
	return rv == CKR_OK ? CKR_GENERAL_ERROR : rv;
}

/* The name of the key pair whose public key the certificate holds. */
static CK_RV cert_owner(struct p11_session *s, const uint8_t *der, size_t len, char *name)
{
	_cleanup_free_ CK_OBJECT_HANDLE *all = NULL;
	X509 *x = openssl_x509_from_der(der, len, SIZE_MAX);
	uint8_t *spki = NULL;
	int spki_len;
	size_t n = 0;
	CK_RV rv = CKR_ATTRIBUTE_VALUE_INVALID;

	if (!x)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);
	X509_free(x);
	if (spki_len <= 0)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	p11_lock();
	if (p11_objects_visible(s->handle, &all, &n) == CKR_OK)
		for (size_t i = 0; i < n; i++) {
			const struct p11_object *o = p11_object_find(all[i]);
			if (o->kind == P11_OBJ_PRIVATE && o->spki_len == (size_t)spki_len &&
			    memcmp(o->spki, spki, o->spki_len) == 0) {
				memcpy(name, o->name, sizeof(o->name));
				rv = CKR_OK;
				break;
			}
		}
	p11_unlock();
	OPENSSL_free(spki);
	return rv;
}

static CK_RV create_cert(struct p11_session *s, CK_ATTRIBUTE_PTR t, CK_ULONG n,
			 CK_OBJECT_HANDLE_PTR ret)
{
	const CK_ATTRIBUTE *v = p11_tmpl_find(t, n, CKA_VALUE);
	CK_ULONG type = CKC_X_509;
	char name[128];
	CK_RV rv;

	if (p11_tmpl_find(t, n, CKA_CERTIFICATE_TYPE) &&
	    (rv = p11_tmpl_ulong(t, n, CKA_CERTIFICATE_TYPE, &type)) != CKR_OK)
		return rv;
	if (type != CKC_X_509)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (!v || !v->pValue || v->ulValueLen == 0 || v->ulValueLen > 16384)
		return v ? CKR_ATTRIBUTE_VALUE_INVALID : CKR_TEMPLATE_INCOMPLETE;
	/* Refresh first: the key pair may be new since the last C_FindObjectsInit. */
	rv = p11_objects_update();
	if (rv != CKR_OK)
		return rv;
	rv = cert_owner(s, v->pValue, v->ulValueLen, name);
	if (rv != CKR_OK)
		return rv; /* a certificate for no key pair of vhsmd's: nothing to store it with */
	rv = name_request(VHSM_OP_KEY_SET_CERT, name, VHSM_TAG_CERT, v->pValue,
			     v->ulValueLen);
	return rv == CKR_OK ? handle_of(s, P11_OBJ_CERT, name, ret) : rv;
}

/* A secret key the application brings for C_WrapKey: a session object in locked memory. */
static CK_RV create_secret(struct p11_session *s, CK_ATTRIBUTE_PTR t, CK_ULONG n,
			   CK_OBJECT_HANDLE_PTR ret)
{
	const CK_ATTRIBUTE *v = p11_tmpl_find(t, n, CKA_VALUE);
	bool token, sensitive, extractable;
	char label[128] = "";
	uint8_t *secret;
	CK_RV rv;

	if ((rv = p11_tmpl_bool(t, n, CKA_TOKEN, false, &token)) != CKR_OK ||
	    (rv = p11_tmpl_bool(t, n, CKA_SENSITIVE, true, &sensitive)) != CKR_OK ||
	    (rv = p11_tmpl_bool(t, n, CKA_EXTRACTABLE, true, &extractable)) != CKR_OK)
		return rv;
	if (token)
		return CKR_TEMPLATE_INCONSISTENT; /* vhsmd stores no keys handed in this way */
	if (!v || !v->pValue || v->ulValueLen < 16 || v->ulValueLen > 64)
		return v ? CKR_ATTRIBUTE_VALUE_INVALID : CKR_TEMPLATE_INCOMPLETE;
	if (p11_tmpl_find(t, n, CKA_LABEL) &&
	    (rv = p11_tmpl_label(t, n, label, sizeof(label))) != CKR_OK)
		return rv;
	secret = secmem_dup(v->pValue, v->ulValueLen);
	if (!secret)
		return CKR_HOST_MEMORY;
	p11_lock();
	rv = p11_object_add_secret(s->handle, secret, v->ulValueLen, label, sensitive, extractable,
				   ret);
	p11_unlock();
	return rv;
}

CK_RV vhsm_C_CreateObject(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n,
			  CK_OBJECT_HANDLE_PTR ret)
{
	struct p11_session *s;
	CK_ULONG cls;
	CK_RV rv = p11_session_get(h, &s);

	if (rv != CKR_OK)
		return rv;
	if (!ret || (!t && n > 0))
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = p11_tmpl_ulong(t, n, CKA_CLASS, &cls);
	if (rv == CKR_OK && cls == CKO_CERTIFICATE) {
		rv = may_write(s);
		if (rv == CKR_OK)
			rv = create_cert(s, t, n, ret);
	} else if (rv == CKR_OK && cls == CKO_SECRET_KEY) {
		rv = p11_logged_in() ? create_secret(s, t, n, ret) : CKR_USER_NOT_LOGGED_IN;
	} else if (rv == CKR_OK) {
		rv = CKR_ATTRIBUTE_VALUE_INVALID; /* keys are generated inside vhsmd */
	}
	p11_session_put(s);
	return rv;
}

CK_RV vhsm_C_DestroyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE oh)
{
	struct p11_session *s;
	struct p11_object *o;
	enum p11_obj_kind kind = _P11_OBJ_KIND_MAX;
	char name[128] = "";
	CK_RV rv = p11_session_get(h, &s);

	if (rv != CKR_OK)
		return rv;
	p11_lock();
	o = p11_object_find(oh);
	if (!o || (o->session && o->session != h))
		rv = CKR_OBJECT_HANDLE_INVALID;
	else if (o->kind == P11_OBJ_SESSION_SECRET)
		p11_object_drop(o);
	else {
		kind = o->kind;
		memcpy(name, o->name, sizeof(name));
	}
	p11_unlock();
	if (rv == CKR_OK && kind == P11_OBJ_PRIVATE) {
		rv = may_write(s);
		/* The key pair goes (soft delete: vhsmctl key recover undoes it in time). */
		if (rv == CKR_OK)
			rv = name_request(VHSM_OP_KEY_DELETE, name, 0, NULL, 0);
		if (rv == CKR_OK) {
			p11_lock();
			if ((o = p11_object_find(oh)))
				p11_object_drop(o);
			p11_unlock();
		}
	} else if (rv == CKR_OK && kind != _P11_OBJ_KIND_MAX) {
		/* A key pair's certificate and public key go with the key pair; KEKs are
		 * managed with vhsmctl kek. */
		rv = CKR_ACTION_PROHIBITED;
	}
	p11_session_put(s);
	return rv;
}

/* vhsmd's algorithm name for the mechanism and templates. */
static CK_RV keygen_alg(CK_MECHANISM_TYPE m, const CK_ATTRIBUTE *pub, CK_ULONG npub,
			const char **ret)
{
	const CK_ATTRIBUTE *a;
	CK_ULONG bits;
	CK_RV rv;

	if (m == CKM_EC_KEY_PAIR_GEN) {
		a = p11_tmpl_find(pub, npub, CKA_EC_PARAMS);
		if (!a || !a->pValue)
			return CKR_TEMPLATE_INCOMPLETE;
		if (a->ulValueLen == sizeof(oid_p256) && memcmp(a->pValue, oid_p256, a->ulValueLen) == 0)
			*ret = "ec-p256";
		else if (a->ulValueLen == sizeof(oid_p384) &&
			 memcmp(a->pValue, oid_p384, a->ulValueLen) == 0)
			*ret = "ec-p384";
		else
			return CKR_CURVE_NOT_SUPPORTED;
		return CKR_OK;
	}
	if (m != CKM_RSA_PKCS_KEY_PAIR_GEN)
		return CKR_MECHANISM_INVALID;
	a = p11_tmpl_find(pub, npub, CKA_PUBLIC_EXPONENT);
	if (a && !(a->ulValueLen == 3 && memcmp(a->pValue, "\x01\x00\x01", 3) == 0))
		return CKR_ATTRIBUTE_VALUE_INVALID; /* vhsmd uses 65537 only */
	rv = p11_tmpl_ulong(pub, npub, CKA_MODULUS_BITS, &bits);
	if (rv != CKR_OK)
		return rv;
	*ret = bits == 2048 ? "rsa2048" : bits == 3072 ? "rsa3072" : bits == 4096 ? "rsa4096" : NULL;
	return *ret ? CKR_OK : CKR_KEY_SIZE_RANGE;
}

/* Usage from the private template: sign and decrypt unless it asks for less. */
static CK_RV keygen_flags(const CK_ATTRIBUTE *priv, CK_ULONG n, bool ec, uint64_t *ret)
{
	bool sign, decrypt, sensitive, extractable;
	CK_RV rv;

	if ((rv = p11_tmpl_bool(priv, n, CKA_SIGN, true, &sign)) != CKR_OK ||
	    (rv = p11_tmpl_bool(priv, n, CKA_DECRYPT, !ec, &decrypt)) != CKR_OK ||
	    (rv = p11_tmpl_bool(priv, n, CKA_SENSITIVE, true, &sensitive)) != CKR_OK ||
	    (rv = p11_tmpl_bool(priv, n, CKA_EXTRACTABLE, false, &extractable)) != CKR_OK)
		return rv;
	if (!sensitive || extractable)
		return CKR_ATTRIBUTE_VALUE_INVALID; /* private keys never leave vhsmd */
	if (ec)
		decrypt = false; /* ECDH is not offered */
	if (!sign && !decrypt)
		return CKR_TEMPLATE_INCONSISTENT;
	*ret = (sign ? VHSM_KEY_FLAG_SIGN : 0) | (decrypt ? VHSM_KEY_FLAG_DECRYPT : 0);
	return CKR_OK;
}

static CK_RV keygen_request(const char *name, const char *alg,
			    uint64_t flags)
{
	struct vhsm_wire_builder *b;
	struct vhsm_client *c = NULL;
	int r;

	r = p11_conn_get(&c);
	if (r == 0) {
		b = vhsm_client_begin(c, VHSM_OP_KEY_CREATE);
		vhsm_wire_add_str(b, VHSM_TAG_NAME, name);
		vhsm_wire_add_str(b, VHSM_TAG_KEY_ALG, alg);
		vhsm_wire_add_u64(b, VHSM_TAG_FLAGS, flags);
		r = p11_call(c, VHSM_OP_KEY_CREATE, VHSM_CLIENT_TIMEOUT_MS);
	}
	p11_conn_put(c);
	if (r == -EEXIST || r == -EINVAL)
		return CKR_ATTRIBUTE_VALUE_INVALID; /* the label names an existing or invalid key */
	return p11_rv_from_errno(r);
}

CK_RV vhsm_C_GenerateKeyPair(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR pub,
			     CK_ULONG npub, CK_ATTRIBUTE_PTR priv, CK_ULONG npriv,
			     CK_OBJECT_HANDLE_PTR ret_pub, CK_OBJECT_HANDLE_PTR ret_priv)
{
	struct p11_session *s;
	const char *alg = NULL;
	char name[128];
	uint64_t flags = 0;
	CK_RV rv = p11_session_get(h, &s);

	if (rv != CKR_OK)
		return rv;
	if (!m || !ret_pub || !ret_priv || (!pub && npub) || (!priv && npriv))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = may_write(s);
	if (rv == CKR_OK)
		rv = keygen_alg(m->mechanism, pub, npub, &alg);
	if (rv == CKR_OK)
		rv = keygen_flags(priv, npriv, m->mechanism == CKM_EC_KEY_PAIR_GEN, &flags);
	if (rv == CKR_OK) {
		/* The label names the key in vhsmd; CKA_ID is vhsmd's (SHA-1 of the key). */
		rv = p11_tmpl_label(priv, npriv, name, sizeof(name));
		if (rv == CKR_TEMPLATE_INCOMPLETE)
			rv = p11_tmpl_label(pub, npub, name, sizeof(name));
		if (rv == CKR_OK && !text_key_name_valid(name))
			rv = CKR_ATTRIBUTE_VALUE_INVALID;
	}
	if (rv == CKR_OK)
		rv = keygen_request(name, alg, flags);
	if (rv == CKR_OK)
		rv = handle_of(s, P11_OBJ_PRIVATE, name, ret_priv);
	if (rv == CKR_OK)
		rv = handle_of(s, P11_OBJ_PUBLIC, name, ret_pub);
	p11_session_put(s);
	return rv;
}
