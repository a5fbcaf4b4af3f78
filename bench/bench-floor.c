/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The physical floor of one unwrap: what unwrap_key() computes for a 64-byte DEK under a
 * 12-byte context (SHA-256 of the context, HKDF-SHA256 of a 32-byte KEK with a 32-byte salt,
 * AES-256-GCM decryption with the blob's header as AAD), each through the cheapest correct
 * OpenSSL 3 path: algorithms fetched once, one context kept and re-keyed per call, no
 * allocation, no secure memory, no parsing. For HKDF that is HMAC written out over a kept
 * SHA-256 context; OpenSSL's own EVP_MAC (kept, re-keyed) and EVP_KDF (fetched once, a
 * context per call) are timed beside it as openssl_evp_*_hkdf rows. Every result is checked (HKDF against OpenSSL's
 * EVP_KDF, GCM's tag against lib/aead.h's encryption), so the rows cannot be faster by
 * being wrong. The gap between a row of ours and its floor is our own overhead.
 */
#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "aead.h"
#include "bench.h"

#define FLOOR_BIG 4096u

struct floor_ctx {
	EVP_MD *sha256;
	EVP_MD_CTX *md;
	EVP_KDF *kdf;
	EVP_MAC *hmac;
	EVP_MAC_CTX *mac;
	EVP_CIPHER *gcm;
	EVP_CIPHER_CTX *cipher;
	uint8_t kek[32], salt[32], info[12], want_okm[32];
	uint8_t nonce[12], aad[96], ctx_hash[32];
	uint8_t pt[FLOOR_BIG], ct[FLOOR_BIG], out[FLOOR_BIG], tag[16];
	size_t len; /* payload length of this round */
};

static const char floor_context[] = "bench-volume";

static int floor_sha256_once(void *p)
{
	struct floor_ctx *f = p;
	uint8_t h[32];

	if (EVP_Digest(floor_context, sizeof(floor_context) - 1, h, NULL, f->sha256, NULL) != 1 ||
	    memcmp(h, f->ctx_hash, 32) != 0) {
		bench_fail("floor: SHA-256 failed or differs");
		return -EIO;
	}
	return 0;
}

/* One HMAC-SHA256 on the kept context: key, then the data parts. */
static int floor_hmac(EVP_MAC_CTX *mac, const uint8_t *key, size_t key_len, const uint8_t *d1,
		      size_t l1, const uint8_t *d2, size_t l2, uint8_t out[static 32])
{
	size_t n = 0;

	if (EVP_MAC_init(mac, key, key_len, NULL) != 1 || EVP_MAC_update(mac, d1, l1) != 1 ||
	    (l2 && EVP_MAC_update(mac, d2, l2) != 1) || EVP_MAC_final(mac, out, &n, 32) != 1 ||
	    n != 32)
		return -EIO;
	return 0;
}

/* The derived key must be EVP_KDF's. */
static int floor_hkdf_check(uint8_t okm[static 32], const uint8_t want[static 32], int r)
{
	if (r < 0 || memcmp(okm, want, 32) != 0) {
		bench_fail("floor: HKDF failed or differs from EVP_KDF's");
		r = -EIO;
	}
	OPENSSL_cleanse(okm, 32);
	return r;
}

/* HMAC-SHA256 (RFC 2104) of a key of at most one block on a kept digest context. */
static int floor_md_hmac(EVP_MD_CTX *md, const uint8_t *key, size_t key_len, const uint8_t *d1,
			 size_t l1, const uint8_t *d2, size_t l2, uint8_t out[static 32])
{
	uint8_t ipad[64], opad[64], inner[32];
	unsigned n = 0;
	int ok;

	memset(ipad, 0x36, sizeof(ipad));
	memset(opad, 0x5c, sizeof(opad));
	for (size_t i = 0; i < key_len; i++) {
		ipad[i] ^= key[i];
		opad[i] ^= key[i];
	}
	ok = EVP_DigestInit_ex(md, NULL, NULL) && EVP_DigestUpdate(md, ipad, 64) &&
	     EVP_DigestUpdate(md, d1, l1) && (!l2 || EVP_DigestUpdate(md, d2, l2)) &&
	     EVP_DigestFinal_ex(md, inner, &n) && EVP_DigestInit_ex(md, NULL, NULL) &&
	     EVP_DigestUpdate(md, opad, 64) && EVP_DigestUpdate(md, inner, 32) &&
	     EVP_DigestFinal_ex(md, out, &n);
	OPENSSL_cleanse(ipad, sizeof(ipad));
	OPENSSL_cleanse(opad, sizeof(opad));
	OPENSSL_cleanse(inner, sizeof(inner));
	return ok ? 0 : -EIO;
}

/* HKDF (one output block) over HMAC written out on a kept SHA-256 context: the floor. */
static int floor_hkdf_once(void *p)
{
	static const uint8_t one = 1;
	struct floor_ctx *f = p;
	uint8_t prk[32], okm[32];
	int r;

	r = floor_md_hmac(f->md, f->salt, 32, f->kek, 32, NULL, 0, prk);
	if (r >= 0)
		r = floor_md_hmac(f->md, prk, 32, f->info, sizeof(f->info), &one, 1, okm);
	OPENSSL_cleanse(prk, sizeof(prk));
	/* Clear the digest state (the last output) as a real implementation must. */
	if (r >= 0 && EVP_DigestInit_ex(f->md, NULL, NULL) != 1)
		r = -EIO;
	return floor_hkdf_check(okm, f->want_okm, r);
}

/* HKDF through OpenSSL 3's EVP_KDF, the algorithm fetched once, a context per call. */
static int kdf_hkdf_once(void *p)
{
	struct floor_ctx *f = p;
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_octet_string(OSSL_KDF_PARAM_KEY, f->kek, 32),
		OSSL_PARAM_octet_string(OSSL_KDF_PARAM_SALT, f->salt, 32),
		OSSL_PARAM_octet_string(OSSL_KDF_PARAM_INFO, f->info, sizeof(f->info)),
		OSSL_PARAM_END,
	};
	EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(f->kdf);
	uint8_t okm[32];
	int r = kctx && EVP_KDF_derive(kctx, okm, 32, params) == 1 ? 0 : -EIO;

	EVP_KDF_CTX_free(kctx);
	return floor_hkdf_check(okm, f->want_okm, r);
}

/* HKDF over OpenSSL's EVP_MAC HMAC on a kept context, re-keyed per step. */
static int mac_hkdf_once(void *p)
{
	static const uint8_t one = 1;
	struct floor_ctx *f = p;
	uint8_t prk[32], okm[32];
	int r;

	r = floor_hmac(f->mac, f->salt, 32, f->kek, 32, NULL, 0, prk);
	if (r >= 0)
		r = floor_hmac(f->mac, prk, 32, f->info, sizeof(f->info), &one, 1, okm);
	OPENSSL_cleanse(prk, sizeof(prk));
	return floor_hkdf_check(okm, f->want_okm, r);
}

/* AES-256-GCM decryption of f->len bytes on the kept context, re-keyed per call. */
static int floor_gcm_once(void *p)
{
	struct floor_ctx *f = p;
	uint8_t end[16];
	int n;

	if (EVP_DecryptInit_ex2(f->cipher, NULL, f->kek, f->nonce, NULL) != 1 ||
	    EVP_DecryptUpdate(f->cipher, NULL, &n, f->aad, sizeof(f->aad)) != 1 ||
	    EVP_DecryptUpdate(f->cipher, NULL, &n, f->ctx_hash, 32) != 1 ||
	    EVP_DecryptUpdate(f->cipher, f->out, &n, f->ct, (int)f->len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(f->cipher, EVP_CTRL_GCM_SET_TAG, 16, f->tag) != 1 ||
	    EVP_DecryptFinal_ex(f->cipher, end, &n) != 1 || memcmp(f->out, f->pt, f->len) != 0) {
		bench_fail("floor: AES-256-GCM failed or the tag does not verify");
		return -EIO;
	}
	return 0;
}

/* The reference values: HKDF through EVP_KDF, the ciphertext through lib/aead.h. */
static int floor_reference(struct floor_ctx *f, size_t len)
{
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_octet_string(OSSL_KDF_PARAM_KEY, f->kek, 32),
		OSSL_PARAM_octet_string(OSSL_KDF_PARAM_SALT, f->salt, 32),
		OSSL_PARAM_octet_string(OSSL_KDF_PARAM_INFO, f->info, sizeof(f->info)),
		OSSL_PARAM_END,
	};
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
	EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	int ok = kctx && EVP_KDF_derive(kctx, f->want_okm, 32, params) == 1;

	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	f->len = len;
	if (!ok || EVP_Digest(floor_context, sizeof(floor_context) - 1, f->ctx_hash, NULL,
			      f->sha256, NULL) != 1 ||
	    aead_gcm_encrypt(f->kek, f->nonce, f->aad, sizeof(f->aad), f->ctx_hash, 32, f->pt,
			     len, f->ct, f->tag) < 0) {
		bench_fail("floor: cannot compute the reference values");
		return -EIO;
	}
	return 0;
}

static int floor_init(struct floor_ctx *f)
{
	OSSL_PARAM mp[] = { OSSL_PARAM_utf8_string(OSSL_MAC_PARAM_DIGEST, (char[]){ "SHA256" }, 0),
			    OSSL_PARAM_END };

	for (unsigned i = 0; i < sizeof(f->pt); i++)
		f->pt[i] = (uint8_t)(i * 7 + 1);
	for (unsigned i = 0; i < 32; i++) {
		f->kek[i] = (uint8_t)(0xa5 ^ i);
		f->salt[i] = (uint8_t)(0x3c + i);
	}
	memcpy(f->info, "vhsm-wrap-v2", sizeof(f->info));
	memset(f->nonce, 0x11, sizeof(f->nonce));
	memset(f->aad, 0x22, sizeof(f->aad));
	f->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	f->md = EVP_MD_CTX_new();
	f->kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
	f->hmac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
	f->mac = f->hmac ? EVP_MAC_CTX_new(f->hmac) : NULL;
	f->gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	f->cipher = EVP_CIPHER_CTX_new();
	if (!f->sha256 || !f->md || EVP_DigestInit_ex(f->md, f->sha256, NULL) != 1 || !f->kdf ||
	    !f->mac || EVP_MAC_CTX_set_params(f->mac, mp) != 1 || !f->gcm ||
	    !f->cipher || EVP_DecryptInit_ex2(f->cipher, f->gcm, NULL, NULL, NULL) != 1) {
		bench_fail("floor: OpenSSL lacks SHA-256, HMAC or AES-256-GCM");
		return -EIO;
	}
	return floor_reference(f, 64);
}

static void floor_done(struct floor_ctx *f)
{
	EVP_CIPHER_CTX_free(f->cipher);
	EVP_CIPHER_free(f->gcm);
	EVP_MAC_CTX_free(f->mac);
	EVP_MAC_free(f->hmac);
	EVP_MD_CTX_free(f->md);
	EVP_KDF_free(f->kdf);
	EVP_MD_free(f->sha256);
	OPENSSL_cleanse(f, sizeof(*f));
}

int bench_floor(double *ret_item_us)
{
	static struct floor_ctx f;
	double sha = 0, hkdf = 0, gcm = 0;
	int r;

	r = floor_init(&f);
	if (r >= 0)
		r = micro_run("floor_sha256_context_us_median", floor_sha256_once, &f, &sha);
	if (r >= 0)
		r = micro_run("floor_hkdf_sha256_us_median", floor_hkdf_once, &f, &hkdf);
	if (r >= 0)
		r = micro_run("openssl_evp_mac_hkdf_us_median", mac_hkdf_once, &f, NULL);
	if (r >= 0)
		r = micro_run("openssl_evp_kdf_hkdf_us_median", kdf_hkdf_once, &f, NULL);
	if (r >= 0)
		r = micro_run("floor_aes256gcm_64_us_median", floor_gcm_once, &f, &gcm);
	if (r >= 0)
		r = floor_reference(&f, FLOOR_BIG);
	if (r >= 0)
		r = micro_run("floor_aes256gcm_4096_us_median", floor_gcm_once, &f, NULL);
	if (r >= 0) {
		result("floor_unwrap_item_us", sha + hkdf + gcm, "us");
		*ret_item_us = sha + hkdf + gcm;
	}
	floor_done(&f);
	return r;
}
