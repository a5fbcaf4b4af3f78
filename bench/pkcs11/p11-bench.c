/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One PKCS#11 operation compared across modules in one process: the vhsm module (the first
 * target), SoftHSM2 in process, SoftHSM2 behind `p11-kit server` (p11-kit-client.so), and with
 * --floor the bare OpenSSL operation in this process (the cost no implementation can avoid).
 *   p11-bench [--pairs N] [--slice SECONDS] [--floor] OP KEY-LABEL TARGET...
 *   TARGET: NAME=MODULE:TOKEN-LABEL:PIN-FILE[:CIPHERTEXT-FILE]
 * OP: rsa-decrypt (CKM_RSA_PKCS), rsa-sign-pss (CKM_RSA_PKCS_PSS, SHA-256), ecdsa-sign
 * (CKM_ECDSA), kwp-unwrap (CKM_AES_KEY_WRAP_PAD of a 32-byte key under the AES key KEY-LABEL,
 * wrapped once with C_WrapKey of a session key, then unwrapped and destroyed per operation).
 * rsa-decrypt reads each target's ciphertext from its CIPHERTEXT-FILE and, when $P11_BENCH_PT
 * names the plaintext, checks every target's warm-up decryption against it.
 *
 * Every other target is compared with the first by the harness's paired samples (harness.h):
 * N pairs of SLICE-second samples, first target then the other, alternating, and the median of
 * the per-pair ratios of the rates with their minimum and maximum. Prints, for OP's row name
 * pkcs11_OP (dashes as underscores):
 *   pkcs11_OP_ops_per_s_NAME: median of NAME's samples (ops/s)
 *   pkcs11_OP_vhsm_vs_NAME: RATIO x (min, max, pairs; what)   (FIRST / NAME)
 *   pkcs11_OP_cpu_us_per_op_NAME: CPU time per operation over all of NAME's samples: this
 *     process, plus the server's: for the first target the one listening on $VHSM_SOCKET
 *     (vhsmd), for p11-kit-client.so the children of the one listening on
 *     $P11_KIT_SERVER_ADDRESS (SO_PEERCRED; the run time of all their threads,
 *     /proc/PID/task/TID/schedstat); not printed when the server is not found;
 *   pkcs11_OP_server_cpu_us_per_op_NAME: the server's part of that.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <p11-kit/pkcs11.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../harness.h"
#include "openssl-util.h"

#define TARGETS_MAX 8

enum kind { DECRYPT, SIGN, UNWRAP };

struct target {
	char name[32];
	CK_FUNCTION_LIST *f;         /* NULL: the OpenSSL floor */
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE key;
	CK_MECHANISM m;
	CK_BYTE in[512];
	CK_ULONG in_len;
	EVP_PKEY_CTX *floor;         /* the floor's kept context */
	pid_t server;                /* the process doing the work elsewhere (vhsmd), or 0 */
	bool children;               /* ... in the server's child processes (p11-kit server) */
	bool cpu_known;              /* all of its work is in this process or server */
	struct samples rates;
	double ops, cpu_ns, server_ns;
};

static const char *op_name;
static enum kind kind;
static double slice = 0.3;
static struct target targets[TARGETS_MAX];
static unsigned n_targets;

static _Noreturn void die(const struct target *t, const char *what, CK_RV rv)
{
	if (rv)
		fprintf(stderr, "p11-bench: %s: %s: CKR 0x%lx\n", t ? t->name : "-", what,
			(unsigned long)rv);
	else
		fprintf(stderr, "p11-bench: %s: %s\n", t ? t->name : "-", what);
	exit(1);
}

static CK_OBJECT_HANDLE find(struct target *t, CK_OBJECT_CLASS cls, const char *label)
{
	CK_ATTRIBUTE a[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)(uintptr_t)label, strlen(label) },
	};
	CK_OBJECT_HANDLE o;
	CK_ULONG n = 0;
	CK_RV rv;

	if ((rv = t->f->C_FindObjectsInit(t->s, a, 2)) || (rv = t->f->C_FindObjects(t->s, &o, 1, &n)) ||
	    (rv = t->f->C_FindObjectsFinal(t->s)))
		die(t, "find", rv);
	if (n != 1)
		die(t, label, CKR_OBJECT_HANDLE_INVALID);
	return o;
}

static void open_token(struct target *t, const char *module, const char *label,
		       const char *pinfile)
{
	CK_RV (*get)(CK_FUNCTION_LIST_PTR_PTR);
	CK_SLOT_ID slots[32];
	CK_ULONG n = 32;
	char pin[128] = "";
	FILE *fp = fopen(pinfile, "re");
	void *dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
	CK_RV rv;

	if (!dl || !(get = (CK_RV(*)(CK_FUNCTION_LIST_PTR_PTR))dlsym(dl, "C_GetFunctionList")) ||
	    get(&t->f) != CKR_OK)
		die(t, module, 0);
	if (!fp)
		die(t, pinfile, 0);
	if (!fgets(pin, sizeof(pin), fp))
		pin[0] = 0; /* an empty file: no PIN (vhsm) */
	fclose(fp);
	pin[strcspn(pin, "\n")] = 0;
	if ((rv = t->f->C_Initialize(NULL)) || (rv = t->f->C_GetSlotList(CK_TRUE, slots, &n)))
		die(t, "init", rv);
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		if (t->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK ||
		    strncmp((char *)ti.label, label, strlen(label)) != 0 ||
		    (strlen(label) < 32 && ti.label[strlen(label)] != ' '))
			continue;
		if ((rv = t->f->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
					      NULL, &t->s)))
			die(t, "open", rv);
		rv = t->f->C_Login(t->s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
		if (rv && rv != CKR_USER_ALREADY_LOGGED_IN)
			die(t, "login", rv);
		return;
	}
	die(t, label, CKR_TOKEN_NOT_PRESENT);
}

/* One operation; the output's length in *ret_len (when not NULL). */
static void run_one(struct target *t, CK_BYTE *out, CK_ULONG *ret_len)
{
	CK_BYTE buf[512];
	CK_ULONG n = sizeof(buf);
	size_t fn = sizeof(buf);
	CK_RV rv;

	if (!t->f) {
		int ok = kind == DECRYPT ? EVP_PKEY_decrypt(t->floor, buf, &fn, t->in, t->in_len)
					 : EVP_PKEY_sign(t->floor, buf, &fn, t->in, t->in_len);
		if (ok <= 0)
			die(t, "OpenSSL operation", 0);
		n = fn;
	} else if (kind == DECRYPT) {
		if ((rv = t->f->C_DecryptInit(t->s, &t->m, t->key)) ||
		    (rv = t->f->C_Decrypt(t->s, t->in, t->in_len, buf, &n)))
			die(t, "decrypt", rv);
	} else if (kind == SIGN) {
		if ((rv = t->f->C_SignInit(t->s, &t->m, t->key)) ||
		    (rv = t->f->C_Sign(t->s, t->in, t->in_len, buf, &n)))
			die(t, "sign", rv);
	} else {
		CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
		CK_KEY_TYPE kt = CKK_AES;
		CK_BBOOL no = CK_FALSE;
		CK_ATTRIBUTE a[] = { { CKA_CLASS, &cls, sizeof(cls) },
				     { CKA_KEY_TYPE, &kt, sizeof(kt) },
				     { CKA_TOKEN, &no, sizeof(no) },
				     { CKA_SENSITIVE, &no, sizeof(no) } };
		CK_OBJECT_HANDLE k;
		if ((rv = t->f->C_UnwrapKey(t->s, &t->m, t->key, t->in, t->in_len, a, 4, &k)) ||
		    (rv = t->f->C_DestroyObject(t->s, k)))
			die(t, "unwrap", rv);
		n = 0;
	}
	if (out)
		memcpy(out, buf, n);
	if (ret_len)
		*ret_len = n;
}

static void read_file(struct target *t, const char *path, CK_BYTE *buf, CK_ULONG *len)
{
	FILE *fp = fopen(path, "re");

	if (!fp)
		die(t, path, 0);
	*len = fread(buf, 1, *len, fp);
	fclose(fp);
}

static void setup_p11(struct target *t, const char *label, const char *ct)
{
	if (kind == UNWRAP) {
		CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
		CK_KEY_TYPE kt = CKK_AES;
		CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
		CK_BYTE value[32];
		CK_ATTRIBUTE a[] = { { CKA_CLASS, &cls, sizeof(cls) },
				     { CKA_KEY_TYPE, &kt, sizeof(kt) },
				     { CKA_TOKEN, &no, sizeof(no) },
				     { CKA_EXTRACTABLE, &yes, sizeof(yes) },
				     { CKA_VALUE, value, sizeof(value) } };
		CK_OBJECT_HANDLE k;
		CK_RV rv;
		t->key = find(t, CKO_SECRET_KEY, label);
		t->m.mechanism = CKM_AES_KEY_WRAP_PAD;
		memset(value, 0x5a, sizeof(value));
		t->in_len = sizeof(t->in);
		if ((rv = t->f->C_CreateObject(t->s, a, 5, &k)) ||
		    (rv = t->f->C_WrapKey(t->s, &t->m, t->key, k, t->in, &t->in_len)))
			die(t, "wrap", rv);
		return;
	}
	t->key = find(t, CKO_PRIVATE_KEY, label);
	if (strcmp(op_name, "rsa-sign-pss") == 0) {
		static CK_RSA_PKCS_PSS_PARAMS pss = { CKM_SHA256, CKG_MGF1_SHA256, 32 };
		t->m = (CK_MECHANISM){ CKM_RSA_PKCS_PSS, &pss, sizeof(pss) };
		t->in_len = 32;
	} else if (strcmp(op_name, "ecdsa-sign") == 0) {
		t->m.mechanism = CKM_ECDSA;
		t->in_len = 32;
	} else {
		t->m.mechanism = CKM_RSA_PKCS;
		if (!ct)
			die(t, "rsa-decrypt needs a CIPHERTEXT-FILE", 0);
		t->in_len = sizeof(t->in);
		read_file(t, ct, t->in, &t->in_len);
	}
	memset(t->in, 0x3c, kind == SIGN ? t->in_len : 0);
}

/* The floor: the same private-key operation with OpenSSL on a key of the same size made here,
 * one context kept (the cheapest correct path). RSA decryption is the raw private operation
 * (RSA_NO_PADDING): what any PKCS#1 v1.5 decryption computes before its padding check. */
static void setup_floor(struct target *t)
{
	EVP_PKEY *k = kind == SIGN && strcmp(op_name, "ecdsa-sign") == 0 ? EVP_EC_gen("P-256")
									  : EVP_RSA_gen(3072);
	int ok;

	snprintf(t->name, sizeof(t->name), "floor");
	t->cpu_known = true;
	if (!k || kind == UNWRAP || !(t->floor = EVP_PKEY_CTX_new(k, NULL)))
		die(t, "no floor for this operation", 0);
	if (kind == DECRYPT) {
		_cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *enc = EVP_PKEY_CTX_new(k, NULL);
		size_t len = sizeof(t->in);
		CK_BYTE pt[32];
		memset(pt, 0x3c, sizeof(pt));
		ok = enc && EVP_PKEY_encrypt_init(enc) > 0 &&
		     EVP_PKEY_CTX_set_rsa_padding(enc, RSA_PKCS1_PADDING) > 0 &&
		     EVP_PKEY_encrypt(enc, t->in, &len, pt, sizeof(pt)) > 0 &&
		     EVP_PKEY_decrypt_init(t->floor) > 0 &&
		     EVP_PKEY_CTX_set_rsa_padding(t->floor, RSA_NO_PADDING) > 0;
		t->in_len = len;
	} else {
		ok = EVP_PKEY_sign_init(t->floor) > 0;
		if (ok && EVP_PKEY_is_a(k, "RSA"))
			ok = EVP_PKEY_CTX_set_rsa_padding(t->floor, RSA_PKCS1_PSS_PADDING) > 0 &&
			     EVP_PKEY_CTX_set_signature_md(t->floor, EVP_sha256()) > 0 &&
			     EVP_PKEY_CTX_set_rsa_mgf1_md(t->floor, EVP_sha256()) > 0 &&
			     EVP_PKEY_CTX_set_rsa_pss_saltlen(t->floor, 32) > 0;
		t->in_len = 32;
		memset(t->in, 0x3c, t->in_len);
	}
	EVP_PKEY_free(k);
	if (!ok)
		die(t, "OpenSSL set-up", 0);
}

/* The pid of the server listening on the unix socket path (type SOCK_*), or 0. */
static pid_t socket_server(const char *path, int type)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ucred uc = {};
	socklen_t len = sizeof(uc);
	int fd;

	if (!path || strlen(path) >= sizeof(sa.sun_path))
		return 0;
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		uc.pid = 0;
	close(fd);
	return uc.pid;
}

/* Run time of every thread of pid (ns, /proc/PID/task/TID/schedstat), or 0. */
static double process_cpu_ns(pid_t pid)
{
	char path[64];
	double sum = 0;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = pid > 0 ? opendir(path) : NULL;
	while (d && (de = readdir(d))) {
		unsigned long long ns;
		int tfd, fd;
		FILE *fp;
		if (de->d_name[0] == '.')
			continue;
		tfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		fd = tfd >= 0 ? openat(tfd, "schedstat", O_RDONLY | O_CLOEXEC) : -1;
		if (tfd >= 0)
			close(tfd);
		fp = fd >= 0 ? fdopen(fd, "re") : NULL;
		if (!fp && fd >= 0)
			close(fd);
		if (fp && fscanf(fp, "%llu", &ns) == 1)
			sum += (double)ns;
		if (fp)
			fclose(fp);
	}
	if (d)
		closedir(d);
	return sum;
}

/* The server's run time: its own, and with children that of its child processes too (p11-kit
 * server forks one per client connection). */
static double server_cpu_ns(const struct target *t)
{
	char path[64];
	double sum = process_cpu_ns(t->server);
	FILE *fp;
	int child;

	if (!t->children || t->server <= 0)
		return sum;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)t->server, (int)t->server);
	fp = fopen(path, "re");
	while (fp && fscanf(fp, "%d", &child) == 1)
		sum += process_cpu_ns(child);
	if (fp)
		fclose(fp);
	return sum;
}

static double cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* One sample: operations for `slice` seconds; the rate in *ret. */
static int sample(void *ctx, double *ret)
{
	struct target *t = ctx;
	double c0 = cpu_ns(), s0 = server_cpu_ns(t), secs, s1;
	uint64_t t0 = now_ns(), stop = t0 + (uint64_t)(slice * 1e9);
	unsigned long n = 0;

	do {
		run_one(t, NULL, NULL);
		n++;
	} while (now_ns() < stop);
	secs = (double)(now_ns() - t0) / 1e9;
	s1 = server_cpu_ns(t);
	t->cpu_ns += cpu_ns() - c0 + s1 - s0;
	t->server_ns += s1 - s0;
	t->ops += (double)n;
	*ret = (double)n / secs;
	return samples_push(&t->rates, *ret);
}

static const char *what(const struct target *t)
{
	if (strcmp(t->name, "softhsm2") == 0)
		return "SoftHSM2 in process";
	if (strcmp(t->name, "p11kit") == 0)
		return "SoftHSM2 behind p11-kit server";
	if (strcmp(t->name, "floor") == 0)
		return "the bare OpenSSL operation in process";
	return t->name;
}

/* Warm-up: one operation that must work, and for decryption give the plaintext. */
static void warm_up(struct target *t)
{
	const char *ptf = getenv("P11_BENCH_PT");
	CK_BYTE out[512], pt[512];
	CK_ULONG n, pt_len = sizeof(pt);

	run_one(t, out, &n);
	if (kind != DECRYPT || !t->f || !ptf)
		return;
	read_file(t, ptf, pt, &pt_len);
	if (n != pt_len || memcmp(out, pt, n) != 0)
		die(t, "the decryption is not the plaintext", 0);
}

/* Opens NAME=MODULE:TOKEN-LABEL:PIN-FILE[:CIPHERTEXT-FILE] and finds the key label. */
static void add_target(const char *spec, const char *label)
{
	struct target *t = &targets[n_targets];
	char *s = strdup(spec), *eq = s ? strchr(s, '=') : NULL, *f[4] = {};
	unsigned nf = 0;

	if (!eq || n_targets == TARGETS_MAX)
		die(NULL, "TARGET: NAME=MODULE:TOKEN-LABEL:PIN-FILE[:CIPHERTEXT-FILE]", 0);
	*eq = 0;
	snprintf(t->name, sizeof(t->name), "%s", s);
	for (char *p = eq + 1, *save = NULL; nf < 4 && (f[nf] = strtok_r(p, ":", &save)); p = NULL)
		nf++;
	if (nf < 3)
		die(t, "TARGET: NAME=MODULE:TOKEN-LABEL:PIN-FILE[:CIPHERTEXT-FILE]", 0);
	open_token(t, f[0], f[1], f[2]);
	/* The first target is vhsm: its work is in this process and in vhsmd. p11-kit server
	 * forks a child per client connection; SoftHSM2 works in this process. */
	if (n_targets == 0) {
		t->server = socket_server(getenv("VHSM_SOCKET"), SOCK_SEQPACKET);
		t->cpu_known = t->server > 0;
	} else if (strstr(f[0], "p11-kit-client")) {
		const char *a = getenv("P11_KIT_SERVER_ADDRESS");
		t->server = a && strncmp(a, "unix:path=", 10) == 0
				    ? socket_server(a + 10, SOCK_STREAM) : 0;
		t->children = true;
		t->cpu_known = t->server > 0;
	} else {
		t->cpu_known = true;
	}
	setup_p11(t, label, f[3]);
	n_targets++;
	free(s);
}

static void print_row(const char *suffix, const char *name, double v, const char *unit)
{
	char row[128];

	snprintf(row, sizeof(row), "pkcs11_%s_%s_%s", op_name, suffix, name);
	for (char *p = row; *p; p++)
		if (*p == '-')
			*p = '_';
	result(row, v, unit);
}

int main(int argc, char **argv)
{
	unsigned pairs = 11;
	bool floor = false;
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--pairs") == 0 && i + 1 < argc)
			pairs = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--slice") == 0 && i + 1 < argc)
			slice = strtod(argv[++i], NULL);
		else if (strcmp(argv[i], "--floor") == 0)
			floor = true;
		else
			break;
	}
	if (argc - i < 3 || pairs == 0 || !(slice > 0) || argc - i - 2 > TARGETS_MAX - 1) {
		fprintf(stderr, "usage: p11-bench [--pairs N] [--slice SECONDS] [--floor] OP "
				"KEY-LABEL NAME=MODULE:TOKEN-LABEL:PIN-FILE[:CIPHERTEXT-FILE]...\n");
		return 2;
	}
	op_name = argv[i];
	if (strcmp(op_name, "rsa-decrypt") == 0)
		kind = DECRYPT;
	else if (strcmp(op_name, "kwp-unwrap") == 0)
		kind = UNWRAP;
	else if (strcmp(op_name, "rsa-sign-pss") == 0 || strcmp(op_name, "ecdsa-sign") == 0)
		kind = SIGN;
	else
		die(NULL, op_name, CKR_MECHANISM_INVALID);
	for (int k = i + 2; k < argc; k++)
		add_target(argv[k], argv[i + 1]);
	if (floor)
		setup_floor(&targets[n_targets++]);
	for (unsigned k = 0; k < n_targets; k++)
		warm_up(&targets[k]);

	for (unsigned k = 1; k < n_targets; k++) {
		struct target *a = &targets[0], *b = &targets[k];
		struct paired p;
		char row[128];
		if (paired_run(pairs, sample, a, sample, b, &p) < 0)
			return 1;
		snprintf(row, sizeof(row), "pkcs11_%s_%s_vs_%s", op_name, a->name, b->name);
		for (char *c = row; *c; c++)
			if (*c == '-')
				*c = '_';
		result_ratio(row, &p, what(b));
		fprintf(stderr, "bench: pkcs11 %s: %s against %s done\n", op_name, a->name,
			b->name);
	}
	for (unsigned k = 0; k < n_targets; k++)
		print_row("ops_per_s", targets[k].name, samples_median(&targets[k].rates), "ops/s");
	for (unsigned k = 0; k < n_targets; k++)
		if (targets[k].cpu_known && targets[k].ops > 0)
			print_row("cpu_us_per_op", targets[k].name,
				  targets[k].cpu_ns / targets[k].ops / 1000.0, "us");
	for (unsigned k = 0; k < n_targets; k++)
		if (targets[k].server > 0 && targets[k].ops > 0)
			print_row("server_cpu_us_per_op", targets[k].name,
				  targets[k].server_ns / targets[k].ops / 1000.0, "us");
	for (unsigned k = 0; k < n_targets; k++) {
		samples_done(&targets[k].rates);
		EVP_PKEY_CTX_free(targets[k].floor);
		if (targets[k].f)
			targets[k].f->C_Finalize(NULL);
	}
	return 0;
}
