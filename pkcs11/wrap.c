/* SPDX-License-Identifier: Apache-2.0 */
/*
 * C_WrapKey and C_UnwrapKey with CKM_AES_KEY_WRAP_PAD (RFC 5649) under a vhsm KEK: the KEK
 * stays in vhsmd (KEK_WRAP_KWP, KEK_UNWRAP_KWP). The key wrapped or unwrapped is the
 * application's own: a session secret key held in this process in locked memory
 * (docs/pkcs11.md "Unwrapped keys").
 */
#include <errno.h>
#include <string.h>

#include "p11.h"
#include "secmem.h"
#include "wire-client.h"

#define KWP_MAX_KEY 64u

/* The KEK's name and the key's value (a secmem copy) under the module lock. */
static CK_RV wrap_objects(struct p11_session *s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE kek,
			  CK_OBJECT_HANDLE key, char name[static 128], uint8_t **ret_key,
			  size_t *ret_len)
{
	uint8_t param[1024];
	size_t plen;
	struct p11_object *w, *k;
	CK_RV rv;

	p11_lock();
	w = p11_object_find(kek);
	k = p11_object_find(key);
	if (!w || (w->session && w->session != s->handle))
		rv = CKR_WRAPPING_KEY_HANDLE_INVALID;
	else if (!k || (k->session && k->session != s->handle))
		rv = CKR_KEY_HANDLE_INVALID;
	else if (!p11_logged_in())
		rv = CKR_USER_NOT_LOGGED_IN;
	else if (w->kind != P11_OBJ_KEK)
		rv = CKR_WRAPPING_KEY_TYPE_INCONSISTENT;
	else if (k->kind != P11_OBJ_SESSION_SECRET)
		rv = CKR_KEY_NOT_WRAPPABLE; /* vhsmd's own keys never leave it */
	else if (!k->extractable)
		rv = CKR_KEY_UNEXTRACTABLE;
	else
		rv = p11_mech_prepare(m, CKF_WRAP, w, param, &plen);
	if (rv == CKR_OK) {
		memcpy(name, w->name, sizeof(w->name));
		*ret_key = secmem_dup(k->secret, k->secret_len);
		*ret_len = k->secret_len;
		if (!*ret_key)
			rv = CKR_HOST_MEMORY;
	}
	p11_unlock();
	return rv;
}

/* One KWP request; the reply's DATA is copied to out. */
static CK_RV kwp_request(uint16_t op, const char *name, const uint8_t *in,
			 size_t len, uint8_t *out, size_t *outlen)
{
	const struct vhsm_wire_field *f;
	struct vhsm_wire_builder *b;
	struct vhsm_client *c = NULL;
	CK_RV rv;
	int r;

	r = p11_conn_get(&c);
	if (r == 0) {
		b = vhsm_client_begin(c, op);
		vhsm_wire_add_str(b, VHSM_TAG_NAME, name);
		vhsm_wire_add_data(b, VHSM_TAG_DATA, in, len);
		r = p11_call(c, op, VHSM_CLIENT_TIMEOUT_MS);
	}
	if (r < 0)
		rv = op == VHSM_OP_KEK_UNWRAP_KWP && r == -EBADMSG ? CKR_WRAPPED_KEY_INVALID :
								      p11_rv_from_errno(r);
	else if (!(f = vhsm_wire_get(&c->msg, VHSM_TAG_DATA)) || f->len > *outlen)
		rv = CKR_DEVICE_ERROR;
	else {
		memcpy(out, f->value, f->len);
		*outlen = f->len;
		rv = CKR_OK;
	}
	p11_conn_put(c);
	return rv;
}

CK_RV vhsm_C_WrapKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE wrapping,
		     CK_OBJECT_HANDLE key, CK_BYTE_PTR out, CK_ULONG_PTR outlen)
{
	_cleanup_secmem_ uint8_t *value = NULL;
	struct p11_session *s;
	char name[128];
	size_t len = 0, need, got;
	CK_RV rv = p11_session_get(h, &s);

	if (rv != CKR_OK)
		return rv;
	if (!m || !outlen)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = wrap_objects(s, m, wrapping, key, name, &value, &len);
	need = (len + 7) / 8 * 8 + 8; /* RFC 5649: padded to 8 bytes, plus the 8-byte block */
	if (rv == CKR_OK && !out)
		*outlen = need;
	else if (rv == CKR_OK && *outlen < need) {
		*outlen = need;
		rv = CKR_BUFFER_TOO_SMALL;
	} else if (rv == CKR_OK) {
		got = *outlen;
		rv = kwp_request(VHSM_OP_KEK_WRAP_KWP, name, value, len, out, &got);
		if (rv == CKR_OK)
			*outlen = got;
	}
	p11_session_put(s);
	return rv;
}

/* The session key's properties from the application's template. */
static CK_RV unwrap_template(const CK_ATTRIBUTE *t, CK_ULONG n, char label[static 128],
			     bool *sensitive, bool *extractable)
{
	CK_ULONG cls = CKO_SECRET_KEY, type = CKK_AES;
	bool token;
	CK_RV rv;

	if (p11_tmpl_find(t, n, CKA_CLASS) && (rv = p11_tmpl_ulong(t, n, CKA_CLASS, &cls)))
		return rv;
	if (p11_tmpl_find(t, n, CKA_KEY_TYPE) && (rv = p11_tmpl_ulong(t, n, CKA_KEY_TYPE, &type)))
		return rv;
	if (cls != CKO_SECRET_KEY || (type != CKK_AES && type != CKK_GENERIC_SECRET))
		return CKR_TEMPLATE_INCONSISTENT;
	if ((rv = p11_tmpl_bool(t, n, CKA_TOKEN, false, &token)) ||
	    (rv = p11_tmpl_bool(t, n, CKA_SENSITIVE, true, sensitive)) ||
	    (rv = p11_tmpl_bool(t, n, CKA_EXTRACTABLE, true, extractable)))
		return rv;
	if (token)
		return CKR_TEMPLATE_INCONSISTENT; /* vhsmd stores no keys unwrapped this way */
	label[0] = 0;
	if (p11_tmpl_find(t, n, CKA_LABEL))
		return p11_tmpl_label(t, n, label, 128);
	return CKR_OK;
}

CK_RV vhsm_C_UnwrapKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE unwrapping,
		       CK_BYTE_PTR in, CK_ULONG inlen, CK_ATTRIBUTE_PTR t, CK_ULONG n,
		       CK_OBJECT_HANDLE_PTR ret)
{
	_cleanup_secmem_ uint8_t *value = NULL;
	struct p11_session *s;
	struct p11_object *w;
	uint8_t param[1024];
	char name[128], label[128];
	size_t plen, len = KWP_MAX_KEY;
	bool sensitive = true, extractable = true;
	CK_RV rv = p11_session_get(h, &s);

	if (rv != CKR_OK)
		return rv;
	if (!m || !ret || !in || (!t && n))
		rv = CKR_ARGUMENTS_BAD;
	else if (inlen < 16 || inlen > KWP_MAX_KEY + 8 || inlen % 8)
		rv = CKR_WRAPPED_KEY_LEN_RANGE;
	else
		rv = unwrap_template(t, n, label, &sensitive, &extractable);
	if (rv == CKR_OK) {
		p11_lock();
		w = p11_object_find(unwrapping);
		if (!w || (w->session && w->session != h))
			rv = CKR_UNWRAPPING_KEY_HANDLE_INVALID;
		else if (!p11_logged_in())
			rv = CKR_USER_NOT_LOGGED_IN;
		else if (w->kind != P11_OBJ_KEK)
			rv = CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT;
		else
			rv = p11_mech_prepare(m, CKF_UNWRAP, w, param, &plen);
		if (rv == CKR_OK)
			memcpy(name, w->name, sizeof(name));
		p11_unlock();
	}
	if (rv == CKR_OK && !(value = secmem_alloc(KWP_MAX_KEY)))
		rv = CKR_HOST_MEMORY;
	if (rv == CKR_OK)
		rv = kwp_request(VHSM_OP_KEK_UNWRAP_KWP, name, in, inlen, value, &len);
	if (rv == CKR_OK) {
		p11_lock();
		rv = p11_object_add_secret(h, TAKE_PTR(value), len, label, sensitive, extractable,
					   ret);
		p11_unlock();
	}
	p11_session_put(s);
	return rv;
}
