/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AES-256-GCM through EVP (see aead.h). One implementation for sealing, wrapping and the
 * daemon's shield, so that the checks around OpenSSL (lengths that fit its int, a tag that
 * is checked before any plaintext is handed out, an empty error queue) live in one place.
 */
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "aead.h"
#include "algs.h"
#include "log.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_CIPHER_CTX *, EVP_CIPHER_CTX_free);

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

	if (!algs_aes256_gcm())
		return false;
	if (EVP_CipherInit_ex2(c, algs_aes256_gcm(), op->key, op->nonce, enc, NULL) != 1)
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
	_cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *c = NULL;
	uint8_t end[EVP_MAX_BLOCK_LENGTH]; /* GCM's final step writes nothing */
	int r, n;

	r = aead_op_check(&op);
	if (r < 0)
		return r;
	c = EVP_CIPHER_CTX_new();
	if (!c || !aead_op_run(c, 1, &op) || EVP_CipherFinal_ex(c, end, &n) != 1 || n != 0 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, AEAD_GCM_TAG_SIZE, tag) != 1)
		return vhsm_log_openssl(-EIO, "AES-256-GCM encrypt");
	ERR_clear_error();
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
	_cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *c = NULL;
	uint8_t end[EVP_MAX_BLOCK_LENGTH], t[AEAD_GCM_TAG_SIZE];
	int r, n;

	r = aead_op_check(&op);
	if (r < 0)
		return r;
	/* SET_TAG wants a writable buffer; the tag is public, the copy needs no wiping. */
	memcpy(t, tag, sizeof(t));
	c = EVP_CIPHER_CTX_new();
	if (!c || !aead_op_run(c, 0, &op) ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, AEAD_GCM_TAG_SIZE, t) != 1) {
		if (len > 0)
			explicit_bzero(out, len);
		return vhsm_log_openssl(-EIO, "AES-256-GCM decrypt");
	}
	/* OpenSSL compares the tag in constant time; a mismatch is the peer's doing, not ours. */
	if (EVP_CipherFinal_ex(c, end, &n) != 1 || n != 0) {
		if (len > 0)
			explicit_bzero(out, len);
		ERR_clear_error();
		return -EKEYREJECTED;
	}
	ERR_clear_error();
	return 0;
}
