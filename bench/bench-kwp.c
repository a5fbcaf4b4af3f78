/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AES-256 key wrap with padding (RFC 5649) against lib/wrap.h (HKDF-SHA256 + AES-256-GCM).
 * OpenSSL 3.0's "AES-256-WRAP-PAD" cipher runs the generic AES code, not AES-NI; the same
 * algorithm written over "AES-256-ECB" (one EVP block call per step) gets AES-NI. Every
 * operation includes its key setup, as a real wrap or unwrap with a stored KEK would, and
 * every result is compared with the original payload.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "bench.h"
#include "secmem.h"
#include "wrap.h"

#define KWP_MAX 4096u

struct kwp_ctx {
	EVP_CIPHER *wrap_pad;  /* OpenSSL's RFC 5649 cipher */
	EVP_CIPHER *ecb;       /* AES-256-ECB, for the same algorithm over AES-NI */
	uint8_t *key;          /* secmem, 32 bytes */
	size_t len;            /* payload length of this round */
	uint8_t payload[KWP_MAX];
	uint8_t wrapped[KWP_MAX + 16];
	size_t wrapped_len;
	uint8_t out[KWP_MAX + 16];
	uint8_t *gcm;          /* lib/wrap.h blob of the payload */
	size_t gcm_len;
};

static const char kwp_context[] = "bench-volume";

static int kwp_openssl(struct kwp_ctx *k, bool enc, const uint8_t *in, size_t in_len,
		       size_t *ret_len)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int l1 = 0, l2 = 0, ok;

	if (!c)
		return -ENOMEM;
	EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	ok = EVP_CipherInit_ex2(c, k->wrap_pad, k->key, NULL, enc, NULL) &&
	     EVP_CipherUpdate(c, k->out, &l1, in, (int)in_len) &&
	     EVP_CipherFinal_ex(c, k->out + l1, &l2);
	EVP_CIPHER_CTX_free(c);
	if (!ok)
		return -EBADMSG;
	*ret_len = (size_t)(l1 + l2);
	return 0;
}

static int ecb_block(EVP_CIPHER_CTX *c, uint8_t b[static 16])
{
	int l = 0;

	return EVP_DecryptUpdate(c, b, &l, b, 16) && l == 16 ? 0 : -EBADMSG;
}

/* RFC 5649 §4.2 (RFC 3394 §2.2.2 unwrap, index form) with one AES-ECB call per step. */
static int kwp_ecb_unwrap(struct kwp_ctx *k, const uint8_t *in, size_t in_len, size_t *ret_len)
{
	static const uint8_t aiv[4] = { 0xa6, 0x59, 0x59, 0xa6 };
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t b[16], zero[8] = {};
	size_t n = in_len / 8 - 1, mli;
	int r = 0;

	if (!c)
		return -ENOMEM;
	if (in_len % 8 || in_len < 16 || in_len > sizeof(k->out) ||
	    !EVP_DecryptInit_ex2(c, k->ecb, k->key, NULL, NULL) ||
	    !EVP_CIPHER_CTX_set_padding(c, 0)) {
		r = -EBADMSG;
		goto out;
	}
	memcpy(b, in, 8);
	memcpy(k->out, in + 8, 8 * n);
	if (n == 1) {
		memcpy(b + 8, k->out, 8);
		r = ecb_block(c, b);
		memcpy(k->out, b + 8, 8);
	}
	for (unsigned j = 6; n > 1 && r == 0 && j-- > 0;)
		for (size_t i = n; r == 0 && i >= 1; i--) {
			uint64_t t = n * j + i;

			for (unsigned x = 0; x < 8; x++)
				b[7 - x] ^= (uint8_t)(t >> (8 * x));
			memcpy(b + 8, k->out + 8 * (i - 1), 8);
			r = ecb_block(c, b);
			memcpy(k->out + 8 * (i - 1), b + 8, 8);
		}
	mli = (size_t)b[4] << 24 | (size_t)b[5] << 16 | (size_t)b[6] << 8 | b[7];
	if (r == 0 && (CRYPTO_memcmp(b, aiv, 4) != 0 || mli > 8 * n || mli <= 8 * (n - 1) ||
		       CRYPTO_memcmp(k->out + mli, zero, 8 * n - mli) != 0))
		r = -EBADMSG;
	if (r == 0)
		*ret_len = mli;
out:
	OPENSSL_cleanse(b, sizeof(b));
	EVP_CIPHER_CTX_free(c);
	return r;
}

static int check_out(const struct kwp_ctx *k, const uint8_t *p, size_t len, const char *what)
{
	if (len != k->len || CRYPTO_memcmp(p, k->payload, len) != 0) {
		bench_fail("%s returned other bytes", what);
		return -EBADMSG;
	}
	return 0;
}

static int kwp_wrap_once(void *ctx)
{
	struct kwp_ctx *k = ctx;
	size_t len;
	int r = kwp_openssl(k, true, k->payload, k->len, &len);

	return r < 0 ? r : len == k->wrapped_len ? 0 : -EBADMSG;
}

static int kwp_unwrap_once(void *ctx)
{
	struct kwp_ctx *k = ctx;
	size_t len;
	int r = kwp_openssl(k, false, k->wrapped, k->wrapped_len, &len);

	return r < 0 ? r : check_out(k, k->out, len, "AES-256-WRAP-PAD unwrap");
}

static int kwp_ecb_unwrap_once(void *ctx)
{
	struct kwp_ctx *k = ctx;
	size_t len;
	int r = kwp_ecb_unwrap(k, k->wrapped, k->wrapped_len, &len);

	return r < 0 ? r : check_out(k, k->out, len, "KWP over AES-256-ECB");
}

static int gcm_unwrap_once(void *ctx)
{
	struct kwp_ctx *k = ctx;
	_cleanup_secmem_ uint8_t *pt = NULL;
	size_t len;
	int r;

	r = unwrap_key(k->key, WRAP_PURPOSE_GENERIC, k->gcm, k->gcm_len,
		       (const uint8_t *)kwp_context, sizeof(kwp_context) - 1, &pt, &len);
	return r < 0 ? r : check_out(k, pt, len, "unwrap_key");
}

/* Prepares the wrapped forms of a len-byte payload with both schemes. */
static int kwp_round(struct kwp_ctx *k, size_t len)
{
	int r;

	k->len = len;
	for (size_t i = 0; i < len; i++)
		k->payload[i] = (uint8_t)(i * 13 + 5);
	r = kwp_openssl(k, true, k->payload, len, &k->wrapped_len);
	if (r < 0) {
		bench_fail("AES-256-WRAP-PAD wrap failed");
		return r;
	}
	memcpy(k->wrapped, k->out, k->wrapped_len);
	free(k->gcm);
	k->gcm = NULL;
	return wrap_key(k->key, WRAP_PURPOSE_GENERIC, "bench-kek", 1, (const uint8_t *)kwp_context,
			sizeof(kwp_context) - 1, k->payload, len, &k->gcm, &k->gcm_len);
}

int bench_kwp(void)
{
	struct kwp_ctx *k = calloc(1, sizeof(*k));
	int r = -ENOMEM;

	if (!k)
		return r;
	k->wrap_pad = EVP_CIPHER_fetch(NULL, "AES-256-WRAP-PAD", NULL);
	k->ecb = EVP_CIPHER_fetch(NULL, "AES-256-ECB", NULL);
	k->key = secmem_alloc(32);
	if (!k->wrap_pad || !k->ecb || !k->key) {
		bench_fail("OpenSSL lacks AES-256-WRAP-PAD or AES-256-ECB");
		goto out;
	}
	for (unsigned i = 0; i < 32; i++)
		k->key[i] = (uint8_t)(0x5a ^ (i * 3));
	r = kwp_round(k, 64);
	if (r >= 0)
		r = micro_run("kwp_openssl_wrap_us_median", kwp_wrap_once, k, NULL);
	if (r >= 0)
		r = micro_run("kwp_openssl_unwrap_us_median", kwp_unwrap_once, k, NULL);
	if (r >= 0)
		r = micro_run("kwp_aesni_ecb_unwrap_us_median", kwp_ecb_unwrap_once, k, NULL);
	if (r >= 0)
		r = kwp_round(k, KWP_MAX);
	if (r >= 0)
		r = micro_run("kwp_openssl_unwrap_4096_us_median", kwp_unwrap_once, k, NULL);
	if (r >= 0)
		r = micro_run("kwp_aesni_ecb_unwrap_4096_us_median", kwp_ecb_unwrap_once, k, NULL);
	if (r >= 0)
		r = micro_run("unwrap_4096_us_median", gcm_unwrap_once, k, NULL);
out:
	EVP_CIPHER_free(k->wrap_pad);
	EVP_CIPHER_free(k->ecb);
	secmem_free(k->key);
	free(k->gcm);
	OPENSSL_cleanse(k, sizeof(*k));
	free(k);
	return r;
}
