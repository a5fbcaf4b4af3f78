/* SPDX-License-Identifier: Apache-2.0 */
/*
 * C_Sign*, C_Decrypt*, C_Encrypt*: each operation is one KEY_SIGN, KEY_DECRYPT,
 * KEK_GCM_ENCRYPT or KEK_GCM_DECRYPT request; the key never leaves vhsmd. Multi-part calls
 * (the hash-and-sign mechanisms, AES-GCM) collect their input here and send it at Final,
 * as AES-GCM must anyway (PKCS#11 2.40 returns its output at Final).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "p11.h"
#include "secmem.h"
#include "wire-client.h"

static CK_RV op_init(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key,
		     enum p11_op_kind kind, CK_FLAGS use)
{
	struct p11_session *s;
	struct p11_object *o;
	CK_RV rv = p11_session_get(h, &s);

	if (rv != CKR_OK)
		return rv;
	p11_lock();
	o = p11_object_find(key);
	if (s->op != P11_OP_NONE)
		rv = CKR_OPERATION_ACTIVE;
	else if (!m)
		rv = CKR_ARGUMENTS_BAD;
	else if (!o || (o->session && o->session != h))
		rv = CKR_KEY_HANDLE_INVALID;
	else if (!p11_logged_in())
		rv = CKR_USER_NOT_LOGGED_IN;
	else
		rv = p11_mech_prepare(m, use, o, s->op_param, &s->op_param_len);
	if (rv == CKR_OK) {
		s->op = kind;
		s->op_key = key;
		s->op_mech = m->mechanism;
		s->op_len = 0;
		s->op_iv_out = kind == P11_OP_ENCRYPT && m->mechanism == CKM_AES_GCM
				       ? ((const CK_GCM_PARAMS *)m->pParameter)->pIv
				       : NULL;
	}
	p11_unlock();
	p11_session_put(s);
	return rv;
}

static uint16_t op_code(const struct p11_session *s)
{
	switch (s->op) {
	case P11_OP_SIGN: return VHSM_OP_KEY_SIGN;
	case P11_OP_ENCRYPT: return VHSM_OP_KEK_GCM_ENCRYPT;
	default:
		return s->op_mech == CKM_AES_GCM ? VHSM_OP_KEK_GCM_DECRYPT : VHSM_OP_KEY_DECRYPT;
	}
}

/* The key's name and the largest output, under the module lock. */
static CK_RV op_key(struct p11_session *s, size_t in_len, char name[static 128], size_t *ret_max)
{
	struct p11_object *o;
	CK_RV rv = CKR_OK;

	p11_lock();
	o = p11_object_find(s->op_key);
	if (!o)
		rv = CKR_KEY_HANDLE_INVALID;
	else {
		memcpy(name, o->name, sizeof(o->name));
		*ret_max = p11_mech_out_max(s->op_mech, o, in_len);
		if (s->op == P11_OP_DECRYPT && s->op_mech != CKM_AES_GCM && in_len != *ret_max)
			rv = CKR_ENCRYPTED_DATA_LEN_RANGE;
	}
	p11_unlock();
	return rv;
}

/* One request to vhsmd for the session's operation; copies the result into out. */
static CK_RV op_request(struct p11_session *s, const char *name, const uint8_t *in, size_t len,
			CK_BYTE_PTR out, CK_ULONG_PTR outlen)
{
	const struct vhsm_wire_field *f, *iv = NULL;
	struct vhsm_wire_builder *b;
	struct vhsm_client *c = NULL;
	uint16_t op = op_code(s);
	CK_RV rv;
	int r;

	r = p11_conn_get(&c);
	if (r == 0) {
		b = vhsm_client_begin(c, op);
		vhsm_wire_add_str(b, VHSM_TAG_NAME, name);
		if (op == VHSM_OP_KEY_SIGN || op == VHSM_OP_KEY_DECRYPT)
			vhsm_wire_add_u32(b, VHSM_TAG_MECH, (uint32_t)s->op_mech);
		vhsm_wire_add_data(b, VHSM_TAG_DATA, in, len);
		if (s->op_param_len)
			vhsm_wire_add_data(b, VHSM_TAG_MECH_PARAM, s->op_param, s->op_param_len);
		r = p11_call(c, op, VHSM_CLIENT_TIMEOUT_MS);
	}
	if (r < 0)
		rv = op == VHSM_OP_KEY_DECRYPT && r == -EBADMSG ? CKR_ENCRYPTED_DATA_INVALID :
		     op == VHSM_OP_KEK_GCM_DECRYPT && r == -EBADMSG ? CKR_ENCRYPTED_DATA_INVALID :
								       p11_rv_from_errno(r);
	else if (!(f = vhsm_wire_get(&c->msg, VHSM_TAG_DATA)))
		rv = CKR_DEVICE_ERROR;
	else if (s->op_iv_out && !(iv = vhsm_wire_get(&c->msg, VHSM_TAG_GCM_IV)))
		rv = CKR_DEVICE_ERROR;
	else if (iv && iv->len != P11_GCM_IV_SIZE)
		rv = CKR_DEVICE_ERROR;
	else if (f->len > *outlen) {
		*outlen = f->len;
		rv = CKR_BUFFER_TOO_SMALL;
	} else {
		memcpy(out, f->value, f->len);
		*outlen = f->len;
		if (iv)
			memcpy(s->op_iv_out, iv->value, iv->len);
		rv = CKR_OK;
	}
	p11_conn_put(c);
	return rv;
}

/*
 * The single-part call and Final: a size query (out NULL) or a buffer too small keeps the
 * operation; everything else ends it.
 */
static CK_RV op_run(struct p11_session *s, const uint8_t *in, size_t len, CK_BYTE_PTR out,
		    CK_ULONG_PTR outlen)
{
	char name[128];
	size_t max = 0;
	CK_RV rv;

	if (!outlen)
		return CKR_ARGUMENTS_BAD;
	if (len > P11_DATA_MAX)
		rv = s->op == P11_OP_DECRYPT ? CKR_ENCRYPTED_DATA_LEN_RANGE : CKR_DATA_LEN_RANGE;
	else
		rv = op_key(s, len, name, &max);
	if (rv == CKR_OK && !out) {
		*outlen = max;
		return CKR_OK;
	}
	if (rv == CKR_OK && *outlen < max && s->op != P11_OP_DECRYPT) {
		*outlen = max;
		return CKR_BUFFER_TOO_SMALL;
	}
	if (rv == CKR_OK && *outlen < max && s->op_mech != CKM_AES_GCM) {
		*outlen = max; /* RSA: the plaintext's length is known only after decrypting */
		return CKR_BUFFER_TOO_SMALL;
	}
	if (rv == CKR_OK) {
		rv = op_request(s, name, in, len, out, outlen);
		if (rv == CKR_BUFFER_TOO_SMALL)
			return rv;
	}
	p11_session_op_reset(s);
	return rv;
}

static CK_RV single(CK_SESSION_HANDLE h, enum p11_op_kind kind, CK_BYTE_PTR in, CK_ULONG inlen,
		    CK_BYTE_PTR out, CK_ULONG_PTR outlen)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(h, &s);

	if (rv != CKR_OK)
		return rv;
	if (s->op != kind)
		rv = CKR_OPERATION_NOT_INITIALIZED;
	else if (!in && inlen > 0) {
		rv = CKR_ARGUMENTS_BAD;
		p11_session_op_reset(s);
	} else if (s->op_len > 0) {
		rv = CKR_OPERATION_ACTIVE; /* a multi-part operation is under way */
	} else
		rv = op_run(s, in, inlen, out, outlen);
	p11_session_put(s);
	return rv;
}

static CK_RV update(CK_SESSION_HANDLE h, enum p11_op_kind kind, CK_BYTE_PTR in, CK_ULONG inlen)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(h, &s);

	if (rv != CKR_OK)
		return rv;
	if (s->op != kind)
		rv = CKR_OPERATION_NOT_INITIALIZED;
	else if (!p11_mech_multipart(s->op_mech) && s->op_mech != CKM_AES_GCM)
		rv = CKR_FUNCTION_NOT_SUPPORTED; /* single-part mechanisms (PKCS#11 2.40 §2) */
	else if (!in && inlen > 0)
		rv = CKR_ARGUMENTS_BAD;
	else if (inlen > P11_DATA_MAX - s->op_len)
		rv = kind == P11_OP_DECRYPT ? CKR_ENCRYPTED_DATA_LEN_RANGE : CKR_DATA_LEN_RANGE;
	else if (!s->op_buf && !(s->op_buf = secmem_alloc(P11_DATA_MAX)))
		rv = CKR_HOST_MEMORY;
	if (rv == CKR_OK && inlen > 0) {
		memcpy(s->op_buf + s->op_len, in, inlen);
		s->op_len += inlen;
	}
	if (rv != CKR_OK && rv != CKR_OPERATION_NOT_INITIALIZED)
		p11_session_op_reset(s);
	p11_session_put(s);
	return rv;
}

/* C_EncryptUpdate and C_DecryptUpdate: the input is collected, the output comes at Final. */
static CK_RV update_no_output(CK_SESSION_HANDLE h, enum p11_op_kind kind, CK_BYTE_PTR in,
			      CK_ULONG inlen, CK_ULONG_PTR outlen)
{
	CK_RV rv;

	if (!outlen)
		return p11_check_init() ?: CKR_ARGUMENTS_BAD;
	rv = update(h, kind, in, inlen);
	if (rv == CKR_OK)
		*outlen = 0;
	return rv;
}

static CK_RV final(CK_SESSION_HANDLE h, enum p11_op_kind kind, CK_BYTE_PTR out,
		   CK_ULONG_PTR outlen)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(h, &s);

	if (rv != CKR_OK)
		return rv;
	if (s->op != kind)
		rv = CKR_OPERATION_NOT_INITIALIZED;
	else if (!p11_mech_multipart(s->op_mech) && s->op_mech != CKM_AES_GCM)
		rv = CKR_FUNCTION_NOT_SUPPORTED;
	else
		rv = op_run(s, s->op_buf ? s->op_buf : (const uint8_t *)"", s->op_len, out, outlen);
	p11_session_put(s);
	return rv;
}

CK_RV vhsm_C_SignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key)
{
	return op_init(h, m, key, P11_OP_SIGN, CKF_SIGN);
}

CK_RV vhsm_C_Sign(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
		  CK_ULONG_PTR outlen)
{
	return single(h, P11_OP_SIGN, in, inlen, out, outlen);
}

CK_RV vhsm_C_SignUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen)
{
	return update(h, P11_OP_SIGN, in, inlen);
}

CK_RV vhsm_C_SignFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR outlen)
{
	return final(h, P11_OP_SIGN, out, outlen);
}

CK_RV vhsm_C_DecryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key)
{
	return op_init(h, m, key, P11_OP_DECRYPT, CKF_DECRYPT);
}

CK_RV vhsm_C_Decrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
		     CK_ULONG_PTR outlen)
{
	return single(h, P11_OP_DECRYPT, in, inlen, out, outlen);
}

/* AES-GCM decryption releases nothing before the tag is checked: output comes at Final. */
CK_RV vhsm_C_DecryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
			   CK_ULONG_PTR outlen)
{
	(void)out;
	return update_no_output(h, P11_OP_DECRYPT, in, inlen, outlen);
}

CK_RV vhsm_C_DecryptFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR outlen)
{
	return final(h, P11_OP_DECRYPT, out, outlen);
}

CK_RV vhsm_C_EncryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key)
{
	return op_init(h, m, key, P11_OP_ENCRYPT, CKF_ENCRYPT);
}

CK_RV vhsm_C_Encrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
		     CK_ULONG_PTR outlen)
{
	return single(h, P11_OP_ENCRYPT, in, inlen, out, outlen);
}

CK_RV vhsm_C_EncryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
			   CK_ULONG_PTR outlen)
{
	(void)out;
	return update_no_output(h, P11_OP_ENCRYPT, in, inlen, outlen);
}

CK_RV vhsm_C_EncryptFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR outlen)
{
	return final(h, P11_OP_ENCRYPT, out, outlen);
}
