/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AES-256-GCM through EVP (see aead.h). One implementation for sealing, wrapping and the
 * daemon's shield, so that the checks around OpenSSL (lengths that fit its int, a tag that
 * is checked before any plaintext is handed out, an empty error queue) live in one place.
 *
 * One EVP_CIPHER_CTX, set up for AES-256-GCM once per process, is kept and re-keyed per
 * operation: a fresh context per call (allocation, provider context, parameter lookups, and
 * wiping both on free) cost as much as the cipher itself. Calls take it under a mutex and
 * re-key it with a constant key before giving it back, which rebuilds the key schedule and
 * clears GCM's state, so no key material outlives a call.
 */
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "aead.h"
#include "algs.h"
#include "log.h"

static pthread_mutex_t cipher_lock = PTHREAD_MUTEX_INITIALIZER;
static EVP_CIPHER_CTX *cipher_kept; /* under cipher_lock; never keyed outside a call */

static void cipher_make(void)
{
	EVP_CIPHER_CTX *c = algs_aes256_gcm() ? EVP_CIPHER_CTX_new() : NULL;

	if (c && EVP_CipherInit_ex2(c, algs_aes256_gcm(), NULL, NULL, 1, NULL) != 1)
		c = (EVP_CIPHER_CTX_free(c), NULL);
	cipher_kept = c;
	ERR_clear_error();
}

/* The kept AES-256-GCM context, locked, or NULL (unlocked) when OpenSSL lacks the cipher. */
static EVP_CIPHER_CTX *cipher_take(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	(void)pthread_once(&once, cipher_make);
	(void)pthread_mutex_lock(&cipher_lock);
	if (!cipher_kept)
		(void)pthread_mutex_unlock(&cipher_lock);
	return cipher_kept;
}

/* Re-keys the context with a constant key (GCM's state is cleared with it) and unlocks. */
static void cipher_give_back(EVP_CIPHER_CTX *c)
{
	static const uint8_t scrub[AEAD_GCM_KEY_SIZE];

	if (EVP_CipherInit_ex2(c, NULL, scrub, NULL, 1, NULL) != 1) {
		/* Never keep a context that could not be cleared: free it (OpenSSL wipes it). */
		EVP_CIPHER_CTX_free(cipher_kept);
		cipher_kept = NULL;
		ERR_clear_error();
	}
	(void)pthread_mutex_unlock(&cipher_lock);
}

/* One operation's inputs, so that the shared steps take one argument instead of nine. */
struct aead_op {
	const uint8_t *key, *nonce;
	const uint8_t *aad, *aad2, *in;
	size_t aad_len, aad2_len, len;
	uint8_t *out;
};

static int aead_op_check(const struct aead_op *op)
{
	if ((!op->aad && op->aad_len > 0) || (!op->aad2 && op->aad2_len > 0) ||
	    ((!op->in || !op->out) && op->len > 0))
		return -EINVAL;
	/* EVP takes int lengths. */
	if (op->aad_len > INT_MAX || op->aad2_len > INT_MAX || op->len > INT_MAX)
		return -EMSGSIZE;
	return 0;
}

/* Keys the context and feeds it the AAD and the data. True on success. */
static bool aead_op_run(EVP_CIPHER_CTX *c, int enc, const struct aead_op *op)
{
	int n;

	if (EVP_CipherInit_ex2(c, NULL, op->key, op->nonce, enc, NULL) != 1)
		return false;
	/* Empty parts are skipped: EVP has nothing to do for them, and NULL may stand for them. */
	if (op->aad_len > 0 && EVP_CipherUpdate(c, NULL, &n, op->aad, (int)op->aad_len) != 1)
		return false;
	if (op->aad2_len > 0 && EVP_CipherUpdate(c, NULL, &n, op->aad2, (int)op->aad2_len) != 1)
		return false;
	if (op->len == 0)
		return true;
	return EVP_CipherUpdate(c, op->out, &n, op->in, (int)op->len) == 1 && (size_t)n == op->len;
}

int aead_gcm_encrypt(const uint8_t key[static AEAD_GCM_KEY_SIZE],
		     const uint8_t nonce[static AEAD_GCM_NONCE_SIZE], const uint8_t *aad,
		     size_t aad_len, const uint8_t *aad2, size_t aad2_len, const uint8_t *in,
		     size_t len, uint8_t *out, uint8_t tag[static AEAD_GCM_TAG_SIZE])
{
	const struct aead_op op = { .key = key, .nonce = nonce, .aad = aad, .aad_len = aad_len,
				    .aad2 = aad2, .aad2_len = aad2_len, .in = in, .len = len,
				    .out = out };
	uint8_t end[EVP_MAX_BLOCK_LENGTH]; /* GCM's final step writes nothing */
	EVP_CIPHER_CTX *c;
	bool ok;
	int r, n;

	r = aead_op_check(&op);
	if (r < 0)
		return r;
	c = cipher_take();
	if (!c)
		return vhsm_log_openssl(-EIO, "AES-256-GCM context");
	ok = aead_op_run(c, 1, &op) && EVP_CipherFinal_ex(c, end, &n) == 1 && n == 0 &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, AEAD_GCM_TAG_SIZE, tag) == 1;
	cipher_give_back(c);
	if (!ok)
		return vhsm_log_openssl(-EIO, "AES-256-GCM encrypt");
	/* Successful cipher calls queue no errors: the queue is as the caller left it. */
	return 0;
}

int aead_gcm_decrypt(const uint8_t key[static AEAD_GCM_KEY_SIZE],
		     const uint8_t nonce[static AEAD_GCM_NONCE_SIZE], const uint8_t *aad,
		     size_t aad_len, const uint8_t *aad2, size_t aad2_len, const uint8_t *in,
		     size_t len, uint8_t *out, const uint8_t tag[static AEAD_GCM_TAG_SIZE])
{
	const struct aead_op op = { .key = key, .nonce = nonce, .aad = aad, .aad_len = aad_len,
				    .aad2 = aad2, .aad2_len = aad2_len, .in = in, .len = len,
				    .out = out };
	uint8_t end[EVP_MAX_BLOCK_LENGTH], t[AEAD_GCM_TAG_SIZE];
	EVP_CIPHER_CTX *c;
	bool ran, good = false;
	int r, n;

	r = aead_op_check(&op);
	if (r < 0)
		return r;
	/* SET_TAG wants a writable buffer; the tag is public, the copy needs no wiping. */
	memcpy(t, tag, sizeof(t));
	c = cipher_take();
	if (!c)
		return vhsm_log_openssl(-EIO, "AES-256-GCM context");
	ran = aead_op_run(c, 0, &op) &&
	      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, AEAD_GCM_TAG_SIZE, t) == 1;
	/* OpenSSL compares the tag in constant time; a mismatch is the peer's doing, not ours. */
	if (ran)
		good = EVP_CipherFinal_ex(c, end, &n) == 1 && n == 0;
	cipher_give_back(c);
	if (!good && len > 0)
		explicit_bzero(out, len);
	if (!ran)
		return vhsm_log_openssl(-EIO, "AES-256-GCM decrypt");
	if (!good) {
		ERR_clear_error();
		return -EKEYREJECTED;
	}
	return 0;
}
