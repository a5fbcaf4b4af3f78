/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OpenSSL helpers in one place: _cleanup_(X_freep) for every OpenSSL type the tree frees
 * through a cleanup attribute, and the one DER-to-certificate parser. Library code; never logs
 * (callers drain the error queue with vhsm_log_openssl() where they decide to).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(ASN1_IA5STRING *, ASN1_IA5STRING_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(ASN1_INTEGER *, ASN1_INTEGER_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(ASN1_OBJECT *, ASN1_OBJECT_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(ASN1_OCTET_STRING *, ASN1_OCTET_STRING_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(BIO *, BIO_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(BIGNUM *, BN_free);
/* For private scalars: wipes before freeing. */
DEFINE_TRIVIAL_CLEANUP_FUNC(BIGNUM *, BN_clear_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(BN_CTX *, BN_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EC_GROUP *, EC_GROUP_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EC_POINT *, EC_POINT_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(ECDSA_SIG *, ECDSA_SIG_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_CIPHER *, EVP_CIPHER_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_CIPHER_CTX *, EVP_CIPHER_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_KDF *, EVP_KDF_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_KDF_CTX *, EVP_KDF_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_MD_CTX *, EVP_MD_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY_CTX *, EVP_PKEY_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_PARAM *, OSSL_PARAM_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_PARAM_BLD *, OSSL_PARAM_BLD_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(PKCS8_PRIV_KEY_INFO *, PKCS8_PRIV_KEY_INFO_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(RSA_PSS_PARAMS *, RSA_PSS_PARAMS_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(X509 *, X509_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(X509_ALGOR *, X509_ALGOR_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(X509_CRL *, X509_CRL_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(X509_EXTENSION *, X509_EXTENSION_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(X509_NAME *, X509_NAME_free);

/* For buffers OpenSSL allocated for us (i2d_*, BN_bn2hex, ...): OPENSSL_free(*p). */
static inline void openssl_freep(void *p)
{
	OPENSSL_free(*(void **)p);
}

/*
 * Parses der as exactly one DER certificate that fills all len bytes (1 .. max). Returns the
 * certificate, owned by the caller (X509_free), or NULL when der is NULL, len is 0 or over max,
 * the bytes do not parse, or bytes follow the certificate. OpenSSL's reasons stay in its error
 * queue for the caller to drain. Never logs.
 */
X509 *openssl_x509_from_der(const uint8_t *der, size_t len, size_t max) _wur_;

/*
 * The RSA public key with modulus n and public exponent e (big-endian, untrusted) as DER
 * SubjectPublicKeyInfo into out[0..cap). Returns the length, -EBADMSG when OpenSSL refuses
 * the key, or -EMSGSIZE. Clears OpenSSL's error queue on failure.
 */
int openssl_rsa_spki(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len,
		     uint8_t *out, size_t cap) _wur_;
