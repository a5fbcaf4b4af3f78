/* SPDX-License-Identifier: Apache-2.0 */
/* KEY_SIGN / KEY_DECRYPT mechanisms over a key pair's private key (keypair-crypto.c). */
#pragma once

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/* PKCS#11 2.40 mechanism numbers the wire carries (VHSM_TAG_MECH). */
#define KEYPAIR_CKM_RSA_PKCS 0x0001u
#define KEYPAIR_CKM_RSA_PKCS_OAEP 0x0009u
#define KEYPAIR_CKM_RSA_PKCS_PSS 0x000du
#define KEYPAIR_CKM_SHA256_RSA_PKCS 0x0040u
#define KEYPAIR_CKM_SHA384_RSA_PKCS 0x0041u
#define KEYPAIR_CKM_SHA512_RSA_PKCS 0x0042u
#define KEYPAIR_CKM_SHA256_RSA_PKCS_PSS 0x0043u
#define KEYPAIR_CKM_SHA384_RSA_PKCS_PSS 0x0044u
#define KEYPAIR_CKM_SHA512_RSA_PKCS_PSS 0x0045u
#define KEYPAIR_CKM_SHA_1 0x0220u
#define KEYPAIR_CKM_SHA256 0x0250u
#define KEYPAIR_CKM_SHA224 0x0255u
#define KEYPAIR_CKM_SHA384 0x0260u
#define KEYPAIR_CKM_SHA512 0x0270u
#define KEYPAIR_CKM_ECDSA 0x1041u
#define KEYPAIR_CKM_ECDSA_SHA256 0x1044u
#define KEYPAIR_CKM_ECDSA_SHA384 0x1045u

#define KEYPAIR_SIG_MAX 1024u /* RSA-8192 or a DER ECDSA signature */

struct keypair_op {
	uint32_t mech;
	const uint8_t *param; /* MECH_PARAM, may be NULL */
	size_t param_len;
	const uint8_t *in;
	size_t in_len;
};

/*
 * What keypair_decrypt() and keypair_sign() keep for one private key between calls, so that
 * an operation costs the private-key operation (and for CKM_RSA_PKCS decryption the
 * implicit-rejection decoding) only: a context set up for the raw RSA operation and the
 * implicit-rejection key (SHA-256 of d, in secure memory), both made at the key's first such
 * decryption, and the signing context of the last mechanism over a hash and its parameters.
 * The key-pair cache (keypair-file.c) holds one per cached private key and frees it with the
 * key; it is not for concurrent use.
 */
struct keypair_kept;

/* A new, empty keypair_kept, or NULL (out of memory). */
struct keypair_kept *keypair_kept_new(void);
/* Frees kept (NULL is fine), wiping the implicit-rejection key. */
void keypair_kept_free(struct keypair_kept *kept);

/*
 * Signs op->in with k under op->mech into out (KEYPAIR_SIG_MAX bytes). ECDSA signatures are
 * r || s (PKCS#11), not DER. Returns 0, -EOPNOTSUPP (mechanism not for this key type),
 * -EINVAL (bad parameters), -EMSGSIZE (input too long), -EIO; why says which. kept (NULL:
 * nothing kept) must belong to k: the mechanisms over a hash (CKM_RSA_PKCS, CKM_RSA_PKCS_PSS,
 * CKM_ECDSA) reuse its signing context while the mechanism and parameters are the same.
 */
int keypair_sign(EVP_PKEY *k, struct keypair_kept *kept, const struct keypair_op *op,
		 uint8_t *out, size_t *ret_len, char *why, size_t whylen) _wur_;
/*
 * Decrypts op->in (exactly the modulus size) with RSA key k under CKM_RSA_PKCS (implicit
 * rejection: a bad padding yields a synthetic message, never an error) or CKM_RSA_PKCS_OAEP
 * into out (secret memory of the modulus size). Returns 0, -EOPNOTSUPP, -EINVAL, -EMSGSIZE,
 * -EBADMSG (OAEP failed, or a ciphertext not below the modulus), -EIO; why says which.
 * kept (NULL: nothing kept) must belong to k: CKM_RSA_PKCS uses and fills it.
 */
int keypair_decrypt(EVP_PKEY *k, struct keypair_kept *kept, const struct keypair_op *op,
		    uint8_t *out, size_t *ret_len, char *why, size_t whylen) _wur_;
