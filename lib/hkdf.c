/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HKDF-SHA256 (see hkdf.h) over HMAC-SHA256 (RFC 2104) written out over one kept SHA-256
 * context: HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m)), with K hashed first when it is
 * longer than a block. OpenSSL 3.0's EVP_KDF looks HMAC and SHA-256 up by name and parses its
 * parameters on every derivation, and EVP_MAC's HMAC re-keying allocates, copies and keeps a
 * copy of the key; both cost several times the hashing. The context is taken under a mutex
 * (threads never share a keyed state) and re-initialized before it is given back, so no
 * key-dependent state outlives a call; the pads and intermediates are wiped on the stack.
 */
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "algs.h"
#include "hkdf.h"
#include "log.h"

#define SHA256_BLOCK 64u

static pthread_mutex_t md_lock = PTHREAD_MUTEX_INITIALIZER;
static EVP_MD_CTX *md_kept; /* under md_lock; holds no key-dependent state outside a call */

static void md_make(void)
{
	EVP_MD_CTX *c = algs_sha256() ? EVP_MD_CTX_new() : NULL;

	if (c && EVP_DigestInit_ex(c, algs_sha256(), NULL) != 1)
		c = (EVP_MD_CTX_free(c), NULL);
	md_kept = c;
	ERR_clear_error();
}

/* The kept SHA-256 context, locked, or NULL (unlocked) when OpenSSL lacks SHA-256. */
static EVP_MD_CTX *md_take(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	(void)pthread_once(&once, md_make);
	(void)pthread_mutex_lock(&md_lock);
	if (!md_kept)
		(void)pthread_mutex_unlock(&md_lock);
	return md_kept;
}

/* Re-initializes the context (which clears its state) and unlocks. */
static void md_give_back(EVP_MD_CTX *c)
{
	if (EVP_DigestInit_ex(c, NULL, NULL) != 1) {
		/* Never keep a context that could not be cleared: free it (OpenSSL wipes it). */
		EVP_MD_CTX_free(md_kept);
		md_kept = NULL;
		ERR_clear_error();
	}
	(void)pthread_mutex_unlock(&md_lock);
}

/* One HMAC key, as the block-sized pads. */
struct hmac_key {
	uint8_t ipad[SHA256_BLOCK], opad[SHA256_BLOCK];
};

static void hmac_key_done(struct hmac_key *k)
{
	explicit_bzero(k, sizeof(*k));
}

/* out = SHA-256(p1 || p2 || p3 || p4); any part may be empty. True on success. */
static bool sha256_parts(EVP_MD_CTX *c, const uint8_t *p1, size_t l1, const uint8_t *p2,
			 size_t l2, const uint8_t *p3, size_t l3, const uint8_t *p4, size_t l4,
			 uint8_t out[static HKDF_SHA256_LEN])
{
	unsigned n = 0;

	return EVP_DigestInit_ex(c, NULL, NULL) == 1 &&
	       (l1 == 0 || EVP_DigestUpdate(c, p1, l1) == 1) &&
	       (l2 == 0 || EVP_DigestUpdate(c, p2, l2) == 1) &&
	       (l3 == 0 || EVP_DigestUpdate(c, p3, l3) == 1) &&
	       (l4 == 0 || EVP_DigestUpdate(c, p4, l4) == 1) &&
	       EVP_DigestFinal_ex(c, out, &n) == 1 && n == HKDF_SHA256_LEN;
}

/* RFC 2104 2: a key longer than the block is hashed first; then K ^ ipad and K ^ opad. */
static bool hmac_key_set(EVP_MD_CTX *c, struct hmac_key *k, const uint8_t *key, size_t len)
{
	uint8_t kb[SHA256_BLOCK] = {};

	if (len > SHA256_BLOCK) {
		if (!sha256_parts(c, key, len, NULL, 0, NULL, 0, NULL, 0, kb))
			return false;
	} else if (len > 0) {
		memcpy(kb, key, len);
	}
	for (unsigned i = 0; i < SHA256_BLOCK; i++) {
		k->ipad[i] = kb[i] ^ 0x36;
		k->opad[i] = kb[i] ^ 0x5c;
	}
	explicit_bzero(kb, sizeof(kb));
	return true;
}

/* out = HMAC(k, d1 || d2 || d3). True on success. */
static bool hmac3(EVP_MD_CTX *c, const struct hmac_key *k, const uint8_t *d1, size_t l1,
		  const uint8_t *d2, size_t l2, const uint8_t *d3, size_t l3,
		  uint8_t out[static HKDF_SHA256_LEN])
{
	uint8_t inner[HKDF_SHA256_LEN];
	bool ok = sha256_parts(c, k->ipad, SHA256_BLOCK, d1, l1, d2, l2, d3, l3, inner) &&
		  sha256_parts(c, k->opad, SHA256_BLOCK, inner, sizeof(inner), NULL, 0, NULL, 0,
			       out);

	explicit_bzero(inner, sizeof(inner));
	return ok;
}

/* RFC 5869 2.3: T(i) = HMAC(PRK, T(i-1) || info || i), OKM = T(1) || T(2) || ... */
static bool hkdf_expand(EVP_MD_CTX *c, const uint8_t prk[static HKDF_SHA256_LEN],
			const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
	struct hmac_key k;
	uint8_t t[HKDF_SHA256_LEN];
	size_t done = 0, t_len = 0;
	bool ok = hmac_key_set(c, &k, prk, HKDF_SHA256_LEN);

	for (uint8_t i = 1; ok && done < out_len; i++) {
		size_t n = out_len - done < HKDF_SHA256_LEN ? out_len - done : HKDF_SHA256_LEN;

		ok = hmac3(c, &k, t, t_len, info, info_len, &i, 1, t);
		if (ok)
			memcpy(out + done, t, n);
		done += n;
		t_len = HKDF_SHA256_LEN;
	}
	explicit_bzero(t, sizeof(t));
	hmac_key_done(&k);
	return ok;
}

/* RFC 5869 2.2: PRK = HMAC(salt, IKM). */
static bool hkdf_extract(EVP_MD_CTX *c, const uint8_t *salt, size_t salt_len,
			 const uint8_t *ikm, size_t ikm_len, uint8_t prk[static HKDF_SHA256_LEN])
{
	struct hmac_key k;
	bool ok = hmac_key_set(c, &k, salt, salt_len) &&
		  hmac3(c, &k, ikm, ikm_len, NULL, 0, NULL, 0, prk);

	hmac_key_done(&k);
	return ok;
}

int hkdf_hmac_sha256(const uint8_t *key, size_t key_len, const void *data, size_t len,
		     uint8_t out[static HKDF_SHA256_LEN])
{
	struct hmac_key k;
	uint8_t md[HKDF_SHA256_LEN];
	EVP_MD_CTX *c;
	bool ok;

	if ((!key && key_len > 0) || (!data && len > 0))
		return -EINVAL;
	c = md_take();
	if (!c)
		return vhsm_log_openssl(-EIO, "SHA-256 context");
	ok = hmac_key_set(c, &k, key, key_len) && hmac3(c, &k, data, len, NULL, 0, NULL, 0, md);
	md_give_back(c);
	hmac_key_done(&k);
	if (!ok) {
		explicit_bzero(md, sizeof(md));
		return vhsm_log_openssl(-EIO, "HMAC-SHA256");
	}
	memcpy(out, md, sizeof(md));
	explicit_bzero(md, sizeof(md));
	return 0;
}

int hkdf_sha256_digest(const void *p1, size_t l1, const void *p2, size_t l2, const void *p3,
		       size_t l3, uint8_t out[static HKDF_SHA256_LEN])
{
	uint8_t md[HKDF_SHA256_LEN];
	EVP_MD_CTX *c;
	bool ok;

	if ((!p1 && l1 > 0) || (!p2 && l2 > 0) || (!p3 && l3 > 0))
		return -EINVAL;
	c = md_take();
	if (!c)
		return vhsm_log_openssl(-EIO, "SHA-256 context");
	ok = sha256_parts(c, p1, l1, p2, l2, p3, l3, NULL, 0, md);
	md_give_back(c);
	if (!ok) {
		explicit_bzero(md, sizeof(md));
		return vhsm_log_openssl(-EIO, "SHA-256");
	}
	memcpy(out, md, sizeof(md));
	explicit_bzero(md, sizeof(md));
	return 0;
}

int hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
		const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
	static const uint8_t zero_salt[HKDF_SHA256_LEN];
	uint8_t prk[HKDF_SHA256_LEN];
	EVP_MD_CTX *c;
	bool ok;

	if (!ikm || ikm_len == 0 || (!salt && salt_len > 0) || (!info && info_len > 0) || !out ||
	    out_len == 0 || out_len > HKDF_SHA256_OUT_MAX)
		return -EINVAL;
	c = md_take();
	if (!c)
		return vhsm_log_openssl(-EIO, "SHA-256 context");
	/* No salt is HashLen zero bytes (RFC 5869 2.2). */
	if (salt_len == 0) {
		salt = zero_salt;
		salt_len = sizeof(zero_salt);
	}
	ok = hkdf_extract(c, salt, salt_len, ikm, ikm_len, prk) &&
	     hkdf_expand(c, prk, info, info_len, out, out_len);
	md_give_back(c);
	explicit_bzero(prk, sizeof(prk));
	if (!ok) {
		explicit_bzero(out, out_len);
		return vhsm_log_openssl(-EIO, "HKDF-SHA256");
	}
	/* Successful digest calls queue no errors: the queue is as the caller left it. */
	return 0;
}
