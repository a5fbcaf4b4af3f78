/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SoftHSM2, the PKCS#11 module a user might pick instead of vhsm: C_UnwrapKey of an AES-256
 * key under an AES-256 key (CKM_AES_KEY_WRAP_PAD) in a fresh token, measured in this process
 * (SoftHSM2 is a library: no IPC, no process boundary). Each operation is C_UnwrapKey plus
 * C_DestroyObject of the new session object, so the token does not grow. The unwrapped key's
 * value is compared with the original once before and once after the timed run.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include <p11-kit/pkcs11.h>

#include "bench.h"

struct bench_p11 {
	void *dl;
	CK_FUNCTION_LIST_PTR f;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE kek;
	uint8_t value[32];      /* the wrapped key's value */
	uint8_t wrapped[64];
	CK_ULONG wrapped_len;
};

/* PKCS#11 takes PINs as non-const pointers. */
static CK_UTF8CHAR so_pin[] = "bench-so-pin", user_pin[] = "bench-user-pin";
static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static CK_OBJECT_CLASS secret_class = CKO_SECRET_KEY;
static CK_KEY_TYPE aes_type = CKK_AES;
static CK_ULONG aes_len = 32;

static int p11_fail(const char *what, CK_RV rv)
{
	bench_fail("softhsm2: %s: CKR 0x%lx", what, (unsigned long)rv);
	return -EIO;
}

/* Initializes a token in the first free slot and returns a user session on it. */
static int p11_token(struct bench_p11 *p)
{
	CK_SLOT_ID slots[16];
	CK_ULONG n = ELEMENTSOF(slots);
	CK_UTF8CHAR label[32];
	CK_TOKEN_INFO ti;
	CK_RV rv;

	rv = p->f->C_GetSlotList(CK_FALSE, slots, &n);
	if (rv != CKR_OK || n == 0)
		return p11_fail("C_GetSlotList", rv);
	memset(label, ' ', sizeof(label));
	memcpy(label, "vhsm-bench", 10);
	rv = p->f->C_InitToken(slots[0], so_pin, sizeof(so_pin) - 1, label);
	if (rv != CKR_OK)
		return p11_fail("C_InitToken", rv);
	/* SoftHSM2 gives an initialized token a new slot ID: look it up again. */
	n = ELEMENTSOF(slots);
	rv = p->f->C_GetSlotList(CK_TRUE, slots, &n);
	for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++)
		if (p->f->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
		    (ti.flags & CKF_TOKEN_INITIALIZED) && memcmp(ti.label, label, 32) == 0) {
			rv = p->f->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION,
						 NULL, NULL, &p->s);
			if (rv == CKR_OK)
				rv = p->f->C_Login(p->s, CKU_SO, so_pin,
						   sizeof(so_pin) - 1);
			if (rv == CKR_OK)
				rv = p->f->C_InitPIN(p->s, user_pin,
						     sizeof(user_pin) - 1);
			if (rv == CKR_OK)
				rv = p->f->C_Logout(p->s);
			if (rv == CKR_OK)
				rv = p->f->C_Login(p->s, CKU_USER, user_pin,
						   sizeof(user_pin) - 1);
			return rv == CKR_OK ? 0 : p11_fail("open a user session", rv);
		}
	return p11_fail("the initialized token is not listed", rv);
}

/* An AES-256 wrapping key and an extractable AES-256 key, wrapped with it. */
static int p11_keys(struct bench_p11 *p)
{
	CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 }, kwp = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
	CK_ATTRIBUTE kek_t[] = {
		{ CKA_CLASS, &secret_class, sizeof(secret_class) },
		{ CKA_KEY_TYPE, &aes_type, sizeof(aes_type) },
		{ CKA_VALUE_LEN, &aes_len, sizeof(aes_len) },
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_WRAP, &yes, sizeof(yes) },
		{ CKA_UNWRAP, &yes, sizeof(yes) },
	};
	CK_ATTRIBUTE dek_t[] = {
		{ CKA_CLASS, &secret_class, sizeof(secret_class) },
		{ CKA_KEY_TYPE, &aes_type, sizeof(aes_type) },
		{ CKA_VALUE_LEN, &aes_len, sizeof(aes_len) },
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_SENSITIVE, &no, sizeof(no) },
		{ CKA_EXTRACTABLE, &yes, sizeof(yes) },
	};
	CK_ATTRIBUTE val = { CKA_VALUE, p->value, sizeof(p->value) };
	CK_OBJECT_HANDLE dek;
	CK_RV rv;

	rv = p->f->C_GenerateKey(p->s, &gen, kek_t, ELEMENTSOF(kek_t), &p->kek);
	if (rv == CKR_OK)
		rv = p->f->C_GenerateKey(p->s, &gen, dek_t, ELEMENTSOF(dek_t), &dek);
	if (rv != CKR_OK)
		return p11_fail("C_GenerateKey", rv);
	rv = p->f->C_GetAttributeValue(p->s, dek, &val, 1);
	if (rv != CKR_OK || val.ulValueLen != sizeof(p->value))
		return p11_fail("C_GetAttributeValue", rv);
	p->wrapped_len = sizeof(p->wrapped);
	rv = p->f->C_WrapKey(p->s, &kwp, p->kek, dek, p->wrapped, &p->wrapped_len);
	if (rv != CKR_OK)
		return p11_fail("C_WrapKey", rv);
	return p->f->C_DestroyObject(p->s, dek) == CKR_OK ? 0 : -EIO;
}

/* One C_UnwrapKey; with check, the new key's value must be the original. */
static int p11_unwrap(struct bench_p11 *p, bool check)
{
	CK_MECHANISM kwp = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &secret_class, sizeof(secret_class) },
		{ CKA_KEY_TYPE, &aes_type, sizeof(aes_type) },
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_SENSITIVE, &no, sizeof(no) },
		{ CKA_EXTRACTABLE, &yes, sizeof(yes) },
	};
	uint8_t v[32];
	CK_ATTRIBUTE val = { CKA_VALUE, v, sizeof(v) };
	CK_OBJECT_HANDLE key;
	CK_RV rv;
	int r = 0;

	rv = p->f->C_UnwrapKey(p->s, &kwp, p->kek, p->wrapped, p->wrapped_len, t, ELEMENTSOF(t),
			       &key);
	if (rv != CKR_OK)
		return p11_fail("C_UnwrapKey", rv);
	if (check && (p->f->C_GetAttributeValue(p->s, key, &val, 1) != CKR_OK ||
		      val.ulValueLen != sizeof(v) || CRYPTO_memcmp(v, p->value, sizeof(v)) != 0)) {
		bench_fail("softhsm2: C_UnwrapKey returned another key");
		r = -EBADMSG;
	}
	OPENSSL_cleanse(v, sizeof(v));
	rv = p->f->C_DestroyObject(p->s, key);
	return r < 0 ? r : rv == CKR_OK ? 0 : p11_fail("C_DestroyObject", rv);
}

static int p11_open(struct bench_p11 *p, const char *module)
{
	CK_C_GetFunctionList get;
	CK_RV rv;

	p->dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
	if (!p->dl) {
		bench_fail("softhsm2: %s", dlerror());
		return -ENOENT;
	}
	get = (CK_C_GetFunctionList)dlsym(p->dl, "C_GetFunctionList");
	if (!get || get(&p->f) != CKR_OK)
		return p11_fail("C_GetFunctionList", CKR_GENERAL_ERROR);
	rv = p->f->C_Initialize(NULL);
	if (rv != CKR_OK) {
		p->f = NULL;
		return p11_fail("C_Initialize", rv);
	}
	return 0;
}

struct bench_p11 *bench_softhsm2_close(struct bench_p11 *p)
{
	if (!p)
		return NULL;
	if (p->f) {
		if (p->s != CK_INVALID_HANDLE)
			p->f->C_CloseSession(p->s);
		p->f->C_Finalize(NULL);
	}
	if (p->dl)
		dlclose(p->dl);
	OPENSSL_cleanse(p, sizeof(*p));
	free(p);
	return NULL;
}

int bench_softhsm2_open(const char *module, struct bench_p11 **ret)
{
	struct bench_p11 *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	p->s = CK_INVALID_HANDLE;
	r = p11_open(p, module);
	if (r >= 0)
		r = p11_token(p);
	if (r >= 0)
		r = p11_keys(p);
	for (unsigned i = 0; r >= 0 && i < 50; i++) /* warm-up, first one checked */
		r = p11_unwrap(p, i == 0);
	if (r < 0) {
		bench_softhsm2_close(p);
		return r;
	}
	*ret = p;
	return 0;
}

int bench_softhsm2_sample(struct bench_p11 *p, double seconds, double *ret_ops_per_s)
{
	uint64_t t0, deadline, ops = 0;
	double rate;
	int r;

	t0 = now_ns();
	deadline = t0 + (uint64_t)(seconds * NSEC_PER_SEC);
	do {
		r = p11_unwrap(p, false);
		ops++;
	} while (r >= 0 && now_ns() < deadline);
	if (r < 0)
		return r;
	rate = (double)ops * NSEC_PER_SEC / (double)(now_ns() - t0);
	r = p11_unwrap(p, true);
	if (r < 0)
		return r;
	*ret_ops_per_s = rate;
	return 0;
}
