/* SPDX-License-Identifier: Apache-2.0 */
/* PKCS#11 wrapping for vhsm-byok; see pkcs11.h. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/bn.h>
#include <p11-kit/pkcs11.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "out.h"
#include "pkcs11.h"
#include "secmem.h"

/* PKCS#11 v3.0 names missing from older headers. */
#ifndef CKM_AES_KEY_WRAP_KWP
#define CKM_AES_KEY_WRAP_KWP 0x210BUL
#endif
struct rsa_aes_key_wrap_params {
	CK_ULONG aes_key_bits;
	CK_RSA_PKCS_OAEP_PARAMS *oaep;
};

#define P11_PIN_MAX 256u

struct p11 {
	void *dl;
	CK_FUNCTION_LIST *f;
	CK_SESSION_HANDLE s;
	bool initialized, session, logged_in;
	CK_OBJECT_HANDLE eph, pub; /* session objects to destroy */
};

static int p11_err(const char *what, CK_RV rv)
{
	out_err("PKCS#11 %s failed: CKR 0x%lx", what, (unsigned long)rv);
	return rv == CKR_PIN_INCORRECT ? -EACCES : -EIO;
}

static void p11_close(struct p11 *p)
{
	if (p->f && p->session) {
		if (p->eph != CK_INVALID_HANDLE)
			(void)p->f->C_DestroyObject(p->s, p->eph);
		if (p->pub != CK_INVALID_HANDLE)
			(void)p->f->C_DestroyObject(p->s, p->pub);
		if (p->logged_in)
			(void)p->f->C_Logout(p->s);
		(void)p->f->C_CloseSession(p->s);
	}
	if (p->f && p->initialized)
		(void)p->f->C_Finalize(NULL);
	if (p->dl)
		dlclose(p->dl);
	*p = (struct p11){};
}

static int p11_load(struct p11 *p, const char *module)
{
	CK_RV (*get)(CK_FUNCTION_LIST **);
	CK_RV rv;

	p->eph = p->pub = CK_INVALID_HANDLE;
	if (!module || !module[0]) {
		out_err("no PKCS#11 module: add module-path= to the URI or "
			"give --pkcs11-module");
		return -EINVAL;
	}
	p->dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
	if (!p->dl) {
		out_err("cannot load %s: %s", module, dlerror());
		return -ENOENT;
	}
	*(void **)&get = dlsym(p->dl, "C_GetFunctionList");
	if (!get || (rv = get(&p->f)) != CKR_OK || !p->f) {
		out_err("%s is not a PKCS#11 module", module);
		return -EINVAL;
	}
	rv = p->f->C_Initialize(NULL);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
		return p11_err("C_Initialize", rv);
	p->initialized = rv == CKR_OK;
	return 0;
}

/* Compares a blank-padded token field with a URI value ("" matches anything). */
static bool field_match(const unsigned char *field, size_t n, const char *want)
{
	size_t l = n;

	if (!want[0])
		return true;
	while (l > 0 && field[l - 1] == ' ')
		l--;
	return strlen(want) == l && memcmp(field, want, l) == 0;
}

static int p11_find_slot(struct p11 *p, const struct p11uri *u, CK_SLOT_ID *ret)
{
	CK_SLOT_ID slots[64];
	CK_ULONG n = 64;
	CK_RV rv = p->f->C_GetSlotList(CK_TRUE, slots, &n);
	int found = 0;

	if (rv != CKR_OK)
		return p11_err("C_GetSlotList", rv);
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		if (p->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		if (field_match(ti.label, sizeof(ti.label), u->token) &&
		    field_match(ti.manufacturerID, sizeof(ti.manufacturerID), u->manufacturer) &&
		    field_match(ti.model, sizeof(ti.model), u->model) &&
		    field_match(ti.serialNumber, sizeof(ti.serialNumber), u->serial)) {
			*ret = slots[i];
			found++;
		}
	}
	if (found != 1) {
		out_err("%s token matches the URI", found ? "more than one"
											: "no");
		return -ENOENT;
	}
	return 0;
}

/* The PIN: pin-source (file:PATH or PATH) or pin-value; read into secmem. */
static int p11_pin(const struct p11uri *u, char **ret)
{
	_cleanup_secmem_ uint8_t *buf = NULL;
	const char *path = u->pin_source;
	size_t len;
	int r;

	if (u->pin_value) {
		*ret = secmem_dup(u->pin_value, strlen(u->pin_value) + 1);
		return *ret ? 0 : -ENOMEM;
	}
	if (!path[0]) {
		*ret = NULL;
		return 0;
	}
	if (strncmp(path, "file:", 5) == 0)
		path += 5;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		out_err("pin-source %s: %s", path, strerror(errno));
		return -errno;
	}
	r = fileio_read_fd_secret(fd, P11_PIN_MAX, &buf, &len);
	close(fd);
	if (r < 0)
		return r;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	*ret = secmem_alloc(len + 1);
	if (!*ret)
		return -ENOMEM;
	memcpy(*ret, buf, len);
	return 0;
}

static int p11_open(struct p11 *p, const struct p11uri *u)
{
	_cleanup_secmem_ char *pin = NULL;
	CK_SLOT_ID slot;
	CK_RV rv;
	int r;

	if ((r = p11_find_slot(p, u, &slot)) < 0)
		return r;
	rv = p->f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &p->s);
	if (rv != CKR_OK)
		return p11_err("C_OpenSession", rv);
	p->session = true;
	if ((r = p11_pin(u, &pin)) < 0)
		return r;
	if (!pin)
		return 0;
	rv = p->f->C_Login(p->s, CKU_USER, (CK_UTF8CHAR *)pin, strlen(pin));
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
		return p11_err("C_Login", rv);
	p->logged_in = rv == CKR_OK;
	return 0;
}

static int p11_find_key(struct p11 *p, const struct p11uri *u, CK_OBJECT_HANDLE *ret)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE t[3] = { { CKA_CLASS, &cls, sizeof(cls) } };
	CK_ULONG nt = 1, n = 0;
	uint8_t label[P11URI_VALUE_MAX], id[P11URI_ID_MAX];
	CK_OBJECT_HANDLE h[2];
	CK_KEY_TYPE kt = 0;
	CK_ULONG vl = 0;
	CK_RV rv;

	if (u->object[0])
		t[nt++] = (CK_ATTRIBUTE){ CKA_LABEL, memcpy(label, u->object, strlen(u->object)),
					  strlen(u->object) };
	if (u->has_id)
		t[nt++] = (CK_ATTRIBUTE){ CKA_ID, memcpy(id, u->id, u->id_len), u->id_len };
	if (nt == 1) {
		out_err("the URI must name the key (object= or id=)");
		return -EINVAL;
	}
	rv = p->f->C_FindObjectsInit(p->s, t, nt);
	if (rv != CKR_OK)
		return p11_err("C_FindObjectsInit", rv);
	rv = p->f->C_FindObjects(p->s, h, 2, &n);
	(void)p->f->C_FindObjectsFinal(p->s);
	if (rv != CKR_OK)
		return p11_err("C_FindObjects", rv);
	if (n != 1) {
		out_err("%s secret key matches the URI", n ? "more than one"
										  : "no");
		return -ENOENT;
	}
	CK_ATTRIBUTE a[2] = { { CKA_KEY_TYPE, &kt, sizeof(kt) }, { CKA_VALUE_LEN, &vl, sizeof(vl) } };
	if (p->f->C_GetAttributeValue(p->s, h[0], a, 2) != CKR_OK || kt != CKK_AES || vl != 32) {
		out_err("the key is not an AES-256 key");
		return -EINVAL;
	}
	*ret = h[0];
	return 0;
}

static bool p11_has_mech(struct p11 *p, CK_MECHANISM_TYPE m)
{
	CK_SESSION_INFO si;
	CK_MECHANISM_INFO mi;

	return p->f->C_GetSessionInfo(p->s, &si) == CKR_OK &&
	       p->f->C_GetMechanismInfo(si.slotID, m, &mi) == CKR_OK && (mi.flags & CKF_WRAP);
}

/* Wraps into a malloc'ed buffer (size query first). */
static CK_RV p11_wrap(struct p11 *p, CK_MECHANISM *m, CK_OBJECT_HANDLE wk, CK_OBJECT_HANDLE k,
		      uint8_t **ret, CK_ULONG *ret_len)
{
	CK_ULONG n = 0;
	CK_RV rv = p->f->C_WrapKey(p->s, m, wk, k, NULL, &n);

	if (rv != CKR_OK)
		return rv;
	*ret = malloc(n ? n : 1);
	if (!*ret)
		return CKR_HOST_MEMORY;
	rv = p->f->C_WrapKey(p->s, m, wk, k, *ret, &n);
	if (rv != CKR_OK) {
		free(*ret);
		*ret = NULL;
		return rv;
	}
	*ret_len = n;
	return CKR_OK;
}

/* The exchange key as a session object (wrap only). */
static int p11_import_pub(struct p11 *p, EVP_PKEY *pub)
{
	BIGNUM *n = NULL, *e = NULL;
	uint8_t nb[1024], eb[16];
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_KEY_TYPE kt = CKK_RSA;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	int r = 0;

	if (!EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_RSA_N, &n) ||
	    !EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_RSA_E, &e) || BN_num_bytes(n) > 1024 ||
	    BN_num_bytes(e) > 16)
		r = -EINVAL;
	int nl = r ? 0 : BN_bn2bin(n, nb), el = r ? 0 : BN_bn2bin(e, eb);
	BN_free(n);
	BN_free(e);
	if (r < 0)
		return r;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },      { CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_TOKEN, &no, sizeof(no) },        { CKA_WRAP, &yes, sizeof(yes) },
		{ CKA_ENCRYPT, &no, sizeof(no) },      { CKA_VERIFY, &no, sizeof(no) },
		{ CKA_MODULUS, nb, (CK_ULONG)nl },     { CKA_PUBLIC_EXPONENT, eb, (CK_ULONG)el },
	};
	CK_RV rv = p->f->C_CreateObject(p->s, t, ELEMENTSOF(t), &p->pub);
	return rv == CKR_OK ? 0 : p11_err("C_CreateObject (exchange public key)", rv);
}

static int p11_ephemeral(struct p11 *p)
{
	CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_ULONG len = 32;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE t[] = {
		{ CKA_TOKEN, &no, sizeof(no) },         { CKA_VALUE_LEN, &len, sizeof(len) },
		{ CKA_WRAP, &yes, sizeof(yes) },        { CKA_EXTRACTABLE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },   { CKA_ENCRYPT, &no, sizeof(no) },
		{ CKA_DECRYPT, &no, sizeof(no) },
	};
	CK_RV rv = p->f->C_GenerateKey(p->s, &m, t, ELEMENTSOF(t), &p->eph);

	return rv == CKR_OK ? 0 : p11_err("C_GenerateKey (ephemeral AES-256)", rv);
}

static void oaep_params(CK_RSA_PKCS_OAEP_PARAMS *o, bool sha1)
{
	*o = (CK_RSA_PKCS_OAEP_PARAMS){ sha1 ? CKM_SHA_1 : CKM_SHA256,
					 sha1 ? CKG_MGF1_SHA1 : CKG_MGF1_SHA256,
					 CKZ_DATA_SPECIFIED, NULL, 0 };
}

/* One C_WrapKey with CKM_RSA_AES_KEY_WRAP. */
static CK_RV p11_wrap_direct(struct p11 *p, CK_OBJECT_HANDLE key, bool sha1, uint8_t **ret,
			     CK_ULONG *ret_len)
{
	CK_RSA_PKCS_OAEP_PARAMS o;
	struct rsa_aes_key_wrap_params w = { 256, &o };
	CK_MECHANISM m = { CKM_RSA_AES_KEY_WRAP, &w, sizeof(w) };

	oaep_params(&o, sha1);
	return p11_wrap(p, &m, p->pub, key, ret, ret_len);
}

/* The composition: KWP(eph, key) inside the token, then OAEP(pub, eph). */
static CK_RV p11_wrap_composed(struct p11 *p, CK_OBJECT_HANDLE key, bool sha1, uint8_t **ret,
			       CK_ULONG *ret_len, bool verbose)
{
	_cleanup_free_ uint8_t *kwp = NULL, *rsa = NULL;
	CK_ULONG kl = 0, rl = 0;
	CK_RSA_PKCS_OAEP_PARAMS o;
	CK_MECHANISM m_kwp = { CKM_AES_KEY_WRAP_KWP, NULL, 0 };
	CK_MECHANISM m_rsa = { CKM_RSA_PKCS_OAEP, &o, sizeof(o) };
	CK_RV rv;

	/* RFC 5649 is CKM_AES_KEY_WRAP_KWP (v3.0); SoftHSM2 implements it as
	 * CKM_AES_KEY_WRAP_PAD (v2.40 left that mechanism's padding loosely defined). */
	if (!p11_has_mech(p, CKM_AES_KEY_WRAP_KWP))
		m_kwp.mechanism = CKM_AES_KEY_WRAP_PAD;
	if (verbose)
		fprintf(stderr, "vhsm-byok: in-token composition: C_WrapKey %s, then "
			"CKM_RSA_PKCS_OAEP (%s)\n", m_kwp.mechanism == CKM_AES_KEY_WRAP_KWP ?
			"CKM_AES_KEY_WRAP_KWP" : "CKM_AES_KEY_WRAP_PAD", sha1 ? "SHA-1" : "SHA-256");
	oaep_params(&o, sha1);
	rv = p11_wrap(p, &m_kwp, p->eph, key, &kwp, &kl);
	if (rv != CKR_OK)
		return rv;
	rv = p11_wrap(p, &m_rsa, p->pub, p->eph, &rsa, &rl);
	if (rv != CKR_OK)
		return rv;
	*ret = malloc(rl + kl);
	if (!*ret)
		return CKR_HOST_MEMORY;
	memcpy(*ret, rsa, rl);
	memcpy(*ret + rl, kwp, kl);
	*ret_len = rl + kl;
	return CKR_OK;
}

static int p11_do_wrap(struct p11 *p, const struct p11_wrap_opts *o, CK_OBJECT_HANDLE key,
		       uint8_t **ret, CK_ULONG *ret_len, enum byok_enc *ret_enc)
{
	bool direct = p11_has_mech(p, CKM_RSA_AES_KEY_WRAP);
	CK_RV rv = CKR_OK;
	int r;

	if (o->verbose)
		fprintf(stderr, "vhsm-byok: token %s CKM_RSA_AES_KEY_WRAP\n",
			direct ? "offers" : "does not offer");
	for (int sha1 = 0; sha1 <= 1; sha1++) {
		if (sha1 && !o->allow_oaep_sha1) {
			out_err("the token cannot wrap with RSA-OAEP SHA-256 "
				"(CKR 0x%lx); --oaep-sha1 allows Azure's original "
				"CKM_RSA_AES_KEY_WRAP with SHA-1 OAEP", (unsigned long)rv);
			return -EOPNOTSUPP;
		}
		if (direct) {
			rv = p11_wrap_direct(p, key, sha1, ret, ret_len);
		} else {
			if (p->eph == CK_INVALID_HANDLE && (r = p11_ephemeral(p)) < 0)
				return r;
			rv = p11_wrap_composed(p, key, sha1, ret, ret_len, o->verbose);
		}
		if (rv == CKR_OK) {
			*ret_enc = sha1 ? BYOK_ENC_CKM_RSA_AES_KEY_WRAP : BYOK_ENC_RSA_AES_KEY_WRAP_256;
			return 0;
		}
		if (rv != CKR_ARGUMENTS_BAD && rv != CKR_MECHANISM_PARAM_INVALID &&
		    rv != CKR_MECHANISM_INVALID)
			return p11_err("C_WrapKey", rv);
	}
	return p11_err("C_WrapKey", rv);
}

int p11_wrap_key(const struct p11uri *uri, const struct p11_wrap_opts *o, EVP_PKEY *pub,
		 uint8_t **ret, size_t *ret_len, enum byok_enc *ret_enc)
{
	struct p11 p = {};
	CK_OBJECT_HANDLE key;
	CK_ULONG n = 0;
	int r;

	r = p11_load(&p, o->module ? o->module : uri->module_path);
	if (r >= 0)
		r = p11_open(&p, uri);
	if (r >= 0)
		r = p11_find_key(&p, uri, &key);
	if (r >= 0)
		r = p11_import_pub(&p, pub);
	if (r >= 0)
		r = p11_do_wrap(&p, o, key, ret, &n, ret_enc);
	if (r >= 0)
		*ret_len = n;
	p11_close(&p);
	return r;
}
