/* SPDX-License-Identifier: Apache-2.0 */
/* The one DER-to-certificate parser and RSA public key encoder (see openssl-util.h). */
#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#include "openssl-util.h"

X509 *openssl_x509_from_der(const uint8_t *der, size_t len, size_t max)
{
	const unsigned char *p = der;
	X509 *x;

	if (!der || len == 0 || len > max || len > LONG_MAX)
		return NULL;
	x = d2i_X509(NULL, &p, (long)len);
	/* Exactly one certificate: trailing bytes are refused, not ignored. */
	if (x && p != der + len) {
		X509_free(x);
		return NULL;
	}
	return x;
}

int openssl_rsa_spki(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len,
		     uint8_t *out, size_t cap)
{
	_cleanup_(BN_freep) BIGNUM *bn = n_len <= INT_MAX ? BN_bin2bn(n, (int)n_len, NULL) : NULL;
	_cleanup_(BN_freep) BIGNUM *be = e_len <= INT_MAX ? BN_bin2bn(e, (int)e_len, NULL) : NULL;
	_cleanup_(OSSL_PARAM_BLD_freep) OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	_cleanup_(OSSL_PARAM_freep) OSSL_PARAM *params = NULL;
	_cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA",
										    NULL);
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *pk = NULL;
	unsigned char *p = out;

	if (!bn || !be || !bld || !ctx ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) ||
	    !(params = OSSL_PARAM_BLD_to_param(bld)) || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
		ERR_clear_error();
		return -EBADMSG;
	}
	int len = i2d_PUBKEY(pk, NULL);
	if (len <= 0 || (size_t)len > cap) {
		ERR_clear_error();
		return len <= 0 ? -EBADMSG : -EMSGSIZE;
	}
	if (i2d_PUBKEY(pk, &p) != len) {
		ERR_clear_error();
		return -EBADMSG;
	}
	return len;
}
