/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The customer's key in a PKCS#11 token, wrapped for an exchange key without its plaintext
 * leaving the token: C_WrapKey with CKM_RSA_AES_KEY_WRAP where the module offers it, else the
 * same bytes composed inside the token (an ephemeral AES-256 session key wraps the target with
 * RFC 5649 KWP, then RSA-OAEP wraps the ephemeral key). docs/byok.md.
 */
#pragma once

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "byok.h"
#include "p11uri.h"

struct p11_wrap_opts {
	const char *module;   /* overrides the URI's module-path */
	bool allow_oaep_sha1; /* fall back to CKM_RSA_AES_KEY_WRAP with SHA-1 OAEP */
	bool verbose;         /* print the mechanisms used to stderr */
};

/*
 * Wraps the AES-256 secret key the URI names for pub. Returns 0 with the ciphertext
 * (RSA part || KWP part, malloc) and the enc it corresponds to, or a negative errno after
 * printing why to stderr.
 */
int p11_wrap_key(const struct p11uri *uri, const struct p11_wrap_opts *o, EVP_PKEY *pub,
		 uint8_t **ret, size_t *ret_len, enum byok_enc *ret_enc);
