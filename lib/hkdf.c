/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HKDF-SHA256 from HMAC-SHA256 (see hkdf.h). One EVP_MAC context with its digest set is made
 * once per process and kept: a copy per call (EVP_MAC_CTX_dup) costs as much as EVP_KDF's own
 * lookups. Calls take it under a mutex, so threads never share a keyed context, and re-key it
 * with a constant before they give it back: the HMAC states and the copy of the key that
 * OpenSSL keeps in the context are overwritten, so no key material outlives a call.
 */
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "hkdf.h"
#include "log.h"

static pthread_mutex_t hmac_lock = PTHREAD_MUTEX_INITIALIZER;
static EVP_MAC_CTX *hmac_kept; /* under hmac_lock; never keyed outside a call */

static void hmac_make(void)
{
	char digest[] = "SHA256";
	OSSL_PARAM params[] = { OSSL_PARAM_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
				OSSL_PARAM_END };
	EVP_MAC *mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
	EVP_MAC_CTX *c = mac ? EVP_MAC_CTX_new(mac) : NULL;

	/* The context holds its own reference to the MAC. */
	EVP_MAC_free(mac);
	if (c && EVP_MAC_CTX_set_params(c, params) != 1)
		c = (EVP_MAC_CTX_free(c), NULL);
	hmac_kept = c;
	ERR_clear_error();
}

/* The kept HMAC-SHA256 context, locked, or NULL (unlocked) when OpenSSL lacks HMAC. */
static EVP_MAC_CTX *hmac_take(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	(void)pthread_once(&once, hmac_make);
	(void)pthread_mutex_lock(&hmac_lock);
	if (!hmac_kept)
		(void)pthread_mutex_unlock(&hmac_lock);
	return hmac_kept;
}

/* Overwrites the keyed state with a constant key's and unlocks. */
static void hmac_give_back(EVP_MAC_CTX *c)
{
	static const uint8_t scrub[HKDF_SHA256_LEN];

	if (EVP_MAC_init(c, scrub, sizeof(scrub), NULL) != 1) {
		/* Cannot happen with a working HMAC; never keep a context we could not clear. */
		EVP_MAC_CTX_free(hmac_kept);
		hmac_kept = NULL;
		ERR_clear_error();
	}
	(void)pthread_mutex_unlock(&hmac_lock);
}

/* out = HMAC(key, d1 || d2 || d3); any d may be empty. True on success. */
static bool hmac3(EVP_MAC_CTX *c, const uint8_t *key, size_t key_len, const uint8_t *d1,
		  size_t l1, const uint8_t *d2, size_t l2, const uint8_t *d3, size_t l3,
		  uint8_t out[static HKDF_SHA256_LEN])
{
	size_t n = 0;

	return EVP_MAC_init(c, key, key_len, NULL) == 1 &&
	       (l1 == 0 || EVP_MAC_update(c, d1, l1) == 1) &&
	       (l2 == 0 || EVP_MAC_update(c, d2, l2) == 1) &&
	       (l3 == 0 || EVP_MAC_update(c, d3, l3) == 1) &&
	       EVP_MAC_final(c, out, &n, HKDF_SHA256_LEN) == 1 && n == HKDF_SHA256_LEN;
}

/* RFC 5869 2.3: T(i) = HMAC(PRK, T(i-1) || info || i), OKM = T(1) || T(2) || ... */
static bool hkdf_expand(EVP_MAC_CTX *c, const uint8_t prk[static HKDF_SHA256_LEN],
			const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
	uint8_t t[HKDF_SHA256_LEN];
	size_t done = 0, t_len = 0;
	bool ok = true;

	for (uint8_t i = 1; ok && done < out_len; i++) {
		size_t n = out_len - done < HKDF_SHA256_LEN ? out_len - done : HKDF_SHA256_LEN;

		ok = hmac3(c, prk, HKDF_SHA256_LEN, t, t_len, info, info_len, &i, 1, t);
		if (ok)
			memcpy(out + done, t, n);
		done += n;
		t_len = HKDF_SHA256_LEN;
	}
	explicit_bzero(t, sizeof(t));
	return ok;
}

int hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
		const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
	static const uint8_t zero_salt[HKDF_SHA256_LEN];
	uint8_t prk[HKDF_SHA256_LEN];
	EVP_MAC_CTX *c;
	bool ok;

	if (!ikm || ikm_len == 0 || (!salt && salt_len > 0) || (!info && info_len > 0) || !out ||
	    out_len == 0 || out_len > HKDF_SHA256_OUT_MAX)
		return -EINVAL;
	c = hmac_take();
	if (!c)
		return vhsm_log_openssl(-EIO, "HMAC-SHA256 context");
	/* RFC 5869 2.2: PRK = HMAC(salt, IKM); no salt is HashLen zero bytes. */
	if (salt_len == 0) {
		salt = zero_salt;
		salt_len = sizeof(zero_salt);
	}
	ok = hmac3(c, salt, salt_len, ikm, ikm_len, NULL, 0, NULL, 0, prk) &&
	     hkdf_expand(c, prk, info, info_len, out, out_len);
	hmac_give_back(c);
	explicit_bzero(prk, sizeof(prk));
	if (!ok) {
		explicit_bzero(out, out_len);
		return vhsm_log_openssl(-EIO, "HKDF-SHA256");
	}
	/* Successful MAC calls queue no errors: the queue is as the caller left it. */
	return 0;
}
