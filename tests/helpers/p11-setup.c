/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test helper: prepares a PKCS#11 token (SoftHSM2) for the BYOK tests without a PIN on argv.
 *   p11-setup MODULE init LABEL SO-PIN-FILE PIN-FILE
 *   p11-setup MODULE genkey LABEL PIN-FILE KEY-LABEL      AES-256, sensitive, extractable
 *   p11-setup MODULE mechs LABEL                          wrap mechanisms of interest
 * genkey then checks that the key's value cannot be read out (CKA_SENSITIVE).
 */
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static CK_FUNCTION_LIST *f;

static void die(const char *what, CK_RV rv)
{
	fprintf(stderr, "p11-setup: %s: CKR 0x%lx\n", what, (unsigned long)rv);
	exit(1);
}

static size_t read_pin(const char *path, char *buf, size_t cap)
{
	FILE *fp = fopen(path, "re");
	size_t n;

	if (!fp || !fgets(buf, (int)cap, fp))
		die(path, 0);
	fclose(fp);
	n = strcspn(buf, "\r\n");
	buf[n] = 0;
	return n;
}

static CK_SLOT_ID find_slot(const char *label, int want_free)
{
	CK_SLOT_ID s[32];
	CK_ULONG n = 32;
	CK_TOKEN_INFO ti;
	char l[33];

	if (f->C_GetSlotList(CK_TRUE, s, &n) != CKR_OK)
		die("C_GetSlotList", 0);
	for (CK_ULONG i = 0; i < n; i++) {
		if (f->C_GetTokenInfo(s[i], &ti) != CKR_OK)
			continue;
		if (want_free && !(ti.flags & CKF_TOKEN_INITIALIZED))
			return s[i];
		memcpy(l, ti.label, 32);
		l[32] = 0;
		for (int j = 31; j >= 0 && l[j] == ' '; j--)
			l[j] = 0;
		if (!want_free && strcmp(l, label) == 0)
			return s[i];
	}
	die("no such token", 0);
	return 0;
}

static CK_SESSION_HANDLE login(CK_SLOT_ID slot, CK_USER_TYPE who, const char *pinfile)
{
	CK_SESSION_HANDLE s;
	char pin[256];
	size_t n = read_pin(pinfile, pin, sizeof(pin));
	CK_RV rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);

	if (rv != CKR_OK)
		die("C_OpenSession", rv);
	if ((rv = f->C_Login(s, who, (CK_UTF8CHAR *)pin, n)) != CKR_OK)
		die("C_Login", rv);
	return s;
}

int main(int argc, char **argv)
{
	CK_RV (*get)(CK_FUNCTION_LIST **);
	void *dl;

	if (argc < 4 || !(dl = dlopen(argv[1], RTLD_NOW)))
		die("usage or module", 0);
	*(void **)&get = dlsym(dl, "C_GetFunctionList");
	if (!get || get(&f) != CKR_OK || f->C_Initialize(NULL) != CKR_OK)
		die("C_Initialize", 0);
	if (strcmp(argv[2], "init") == 0 && argc == 6) {
		CK_UTF8CHAR label[32];
		char so[256];
		size_t n = read_pin(argv[4], so, sizeof(so));
		CK_SLOT_ID slot = find_slot(NULL, 1);
		memset(label, ' ', 32);
		memcpy(label, argv[3], strlen(argv[3]) < 32 ? strlen(argv[3]) : 32);
		CK_RV rv = f->C_InitToken(slot, (CK_UTF8CHAR *)so, n, label);
		if (rv != CKR_OK)
			die("C_InitToken", rv);
		slot = find_slot(argv[3], 0);
		CK_SESSION_HANDLE s = login(slot, CKU_SO, argv[4]);
		char pin[256];
		n = read_pin(argv[5], pin, sizeof(pin));
		if ((rv = f->C_InitPIN(s, (CK_UTF8CHAR *)pin, n)) != CKR_OK)
			die("C_InitPIN", rv);
	} else if (strcmp(argv[2], "genkey") == 0 && argc == 6) {
		CK_SESSION_HANDLE s = login(find_slot(argv[3], 0), CKU_USER, argv[4]);
		CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
		CK_ULONG len = 32;
		CK_BBOOL yes = CK_TRUE;
		CK_OBJECT_HANDLE k;
		unsigned char id[1] = { 1 };
		CK_ATTRIBUTE t[] = {
			{ CKA_TOKEN, &yes, sizeof(yes) },   { CKA_VALUE_LEN, &len, sizeof(len) },
			{ CKA_SENSITIVE, &yes, sizeof(yes) }, { CKA_EXTRACTABLE, &yes, sizeof(yes) },
			{ CKA_LABEL, argv[5], strlen(argv[5]) }, { CKA_ID, id, 1 },
		};
		CK_RV rv = f->C_GenerateKey(s, &m, t, sizeof(t) / sizeof(t[0]), &k);
		if (rv != CKR_OK)
			die("C_GenerateKey", rv);
		uint8_t v[64];
		CK_ATTRIBUTE a = { CKA_VALUE, v, sizeof(v) };
		rv = f->C_GetAttributeValue(s, k, &a, 1);
		if (rv != CKR_ATTRIBUTE_SENSITIVE)
			die("the key's value is readable", rv);
		printf("generated sensitive AES-256 key '%s' (value not readable: CKR 0x%lx)\n",
		       argv[5], (unsigned long)rv);
	} else if (strcmp(argv[2], "mechs") == 0) {
		static const struct { CK_MECHANISM_TYPE m; const char *n; } ms[] = {
			{ CKM_RSA_AES_KEY_WRAP, "CKM_RSA_AES_KEY_WRAP" },
			{ CKM_RSA_PKCS_OAEP, "CKM_RSA_PKCS_OAEP" },
			{ CKM_AES_KEY_WRAP, "CKM_AES_KEY_WRAP" },
			{ CKM_AES_KEY_WRAP_PAD, "CKM_AES_KEY_WRAP_PAD" },
			{ 0x210BUL, "CKM_AES_KEY_WRAP_KWP" },
		};
		CK_SLOT_ID slot = find_slot(argv[3], 0);
		for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
			CK_MECHANISM_INFO mi;
			CK_RV rv = f->C_GetMechanismInfo(slot, ms[i].m, &mi);
			printf("%-22s %s\n", ms[i].n, rv != CKR_OK ? "not supported"
			       : (mi.flags & CKF_WRAP) ? "wrap" : "supported (no wrap)");
		}
	} else {
		die("usage", 0);
	}
	f->C_Finalize(NULL);
	return 0;
}
