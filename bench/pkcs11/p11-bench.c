/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One PKCS#11 operation in a loop, against any module: the vhsm module, SoftHSM2 in process,
 * or SoftHSM2 behind `p11-kit server` (p11-kit-client.so). Prints "<ops> ops/s" for one timed
 * round; bench/pkcs11/run.sh pairs rounds of the three and reports medians and ratios.
 *   p11-bench MODULE TOKEN-LABEL PIN-FILE OP KEY-LABEL SECONDS
 * OP: rsa-decrypt (CKM_RSA_PKCS), rsa-sign-pss (CKM_RSA_PKCS_PSS, SHA-256), ecdsa-sign
 * (CKM_ECDSA), kwp-unwrap (CKM_AES_KEY_WRAP_PAD of a 32-byte key under the AES key KEY-LABEL,
 * wrapped once with C_WrapKey of a session key, then unwrapped and destroyed per operation).
 * A warm-up operation must succeed before the timed round; rsa-decrypt reads its ciphertext
 * (made with openssl from the public key) from $P11_BENCH_CT.
 */
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static CK_FUNCTION_LIST *f;
static CK_SESSION_HANDLE s;

static void die(const char *what, CK_RV rv)
{
	fprintf(stderr, "p11-bench: %s: CKR 0x%lx\n", what, (unsigned long)rv);
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static CK_OBJECT_HANDLE find(CK_OBJECT_CLASS cls, const char *label)
{
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)(uintptr_t)label, strlen(label) },
	};
	CK_OBJECT_HANDLE o;
	CK_ULONG n = 0;
	CK_RV rv;

	if ((rv = f->C_FindObjectsInit(s, t, 2)) || (rv = f->C_FindObjects(s, &o, 1, &n)) ||
	    (rv = f->C_FindObjectsFinal(s)))
		die("find", rv);
	if (n != 1)
		die(label, CKR_OBJECT_HANDLE_INVALID);
	return o;
}

static void open_token(const char *module, const char *label, const char *pinfile)
{
	CK_RV (*get)(CK_FUNCTION_LIST_PTR_PTR);
	CK_SLOT_ID slots[32];
	CK_ULONG n = 32;
	char pin[128] = "";
	FILE *fp = fopen(pinfile, "re");
	void *dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
	CK_RV rv;

	if (!dl || !(get = (CK_RV(*)(CK_FUNCTION_LIST_PTR_PTR))dlsym(dl, "C_GetFunctionList")) ||
	    get(&f) != CKR_OK)
		die(module, 0);
	if (!fp)
		die(pinfile, 0);
	if (!fgets(pin, sizeof(pin), fp))
		pin[0] = 0; /* an empty file: no PIN (vhsm) */
	fclose(fp);
	pin[strcspn(pin, "\n")] = 0;
	if ((rv = f->C_Initialize(NULL)) || (rv = f->C_GetSlotList(CK_TRUE, slots, &n)))
		die("init", rv);
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK ||
		    strncmp((char *)ti.label, label, strlen(label)) != 0 ||
		    (strlen(label) < 32 && ti.label[strlen(label)] != ' '))
			continue;
		if ((rv = f->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
					   &s)))
			die("open", rv);
		rv = f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
		if (rv && rv != CKR_USER_ALREADY_LOGGED_IN)
			die("login", rv);
		return;
	}
	die(label, CKR_TOKEN_NOT_PRESENT);
}

struct op {
	CK_OBJECT_HANDLE key;
	CK_MECHANISM m;
	CK_BYTE in[512], out[512];
	CK_ULONG in_len;
	int kind; /* 0 decrypt, 1 sign, 2 unwrap */
};

static void run_one(struct op *o)
{
	CK_ULONG n = sizeof(o->out);
	CK_RV rv;

	if (o->kind == 0) {
		if ((rv = f->C_DecryptInit(s, &o->m, o->key)) ||
		    (rv = f->C_Decrypt(s, o->in, o->in_len, o->out, &n)))
			die("decrypt", rv);
	} else if (o->kind == 1) {
		if ((rv = f->C_SignInit(s, &o->m, o->key)) ||
		    (rv = f->C_Sign(s, o->in, o->in_len, o->out, &n)))
			die("sign", rv);
	} else {
		CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
		CK_KEY_TYPE kt = CKK_AES;
		CK_BBOOL no = CK_FALSE;
		CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) },
				     { CKA_KEY_TYPE, &kt, sizeof(kt) },
				     { CKA_TOKEN, &no, sizeof(no) },
				     { CKA_SENSITIVE, &no, sizeof(no) } };
		CK_OBJECT_HANDLE k;
		if ((rv = f->C_UnwrapKey(s, &o->m, o->key, o->in, o->in_len, t, 4, &k)) ||
		    (rv = f->C_DestroyObject(s, k)))
			die("unwrap", rv);
	}
}

static void setup(struct op *o, const char *op, const char *label)
{
	memset(o, 0, sizeof(*o));
	if (strcmp(op, "kwp-unwrap") == 0) {
		CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
		CK_KEY_TYPE kt = CKK_AES;
		CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
		CK_BYTE value[32];
		CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) },
				     { CKA_KEY_TYPE, &kt, sizeof(kt) },
				     { CKA_TOKEN, &no, sizeof(no) },
				     { CKA_EXTRACTABLE, &yes, sizeof(yes) },
				     { CKA_VALUE, value, sizeof(value) } };
		CK_OBJECT_HANDLE k;
		CK_RV rv;
		o->kind = 2;
		o->key = find(CKO_SECRET_KEY, label);
		o->m.mechanism = CKM_AES_KEY_WRAP_PAD;
		memset(value, 0x5a, sizeof(value));
		o->in_len = sizeof(o->in);
		if ((rv = f->C_CreateObject(s, t, 5, &k)) ||
		    (rv = f->C_WrapKey(s, &o->m, o->key, k, o->in, &o->in_len)))
			die("wrap", rv);
		return;
	}
	o->key = find(CKO_PRIVATE_KEY, label);
	if (strcmp(op, "rsa-sign-pss") == 0) {
		static CK_RSA_PKCS_PSS_PARAMS pss = { CKM_SHA256, CKG_MGF1_SHA256, 32 };
		o->kind = 1;
		o->m = (CK_MECHANISM){ CKM_RSA_PKCS_PSS, &pss, sizeof(pss) };
		o->in_len = 32;
	} else if (strcmp(op, "ecdsa-sign") == 0) {
		o->kind = 1;
		o->m.mechanism = CKM_ECDSA;
		o->in_len = 32;
	} else if (strcmp(op, "rsa-decrypt") == 0) {
		const char *ct = getenv("P11_BENCH_CT");
		FILE *fp = ct ? fopen(ct, "re") : NULL;
		o->kind = 0;
		o->m.mechanism = CKM_RSA_PKCS;
		if (!fp)
			die("P11_BENCH_CT", 0);
		o->in_len = fread(o->in, 1, sizeof(o->in), fp);
		fclose(fp);
	} else {
		die(op, CKR_MECHANISM_INVALID);
	}
}

int main(int argc, char **argv)
{
	struct op o;
	double t0, secs;
	unsigned long n = 0;

	if (argc != 7) {
		fprintf(stderr, "usage: p11-bench MODULE TOKEN PIN-FILE OP KEY SECONDS\n");
		return 2;
	}
	secs = atof(argv[6]);
	open_token(argv[1], argv[2], argv[3]);
	setup(&o, argv[4], argv[5]);
	run_one(&o); /* warm-up, and the check that it works at all */
	t0 = now();
	do {
		run_one(&o);
		n++;
	} while (now() - t0 < secs);
	printf("%.1f ops/s\n", (double)n / (now() - t0));
	f->C_Finalize(NULL);
	return 0;
}
