/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for openssl-util: the one DER-to-certificate parser and the cleanup helpers. */
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>

#include "amd-cert.h"
#include "openssl-util.h"
#include "test.h"

TEST(openssl_x509_from_der_exact)
{
	size_t len = 0;
	const uint8_t *der = amd_root_der(SNP_PRODUCT_MILAN, AMD_ROOT_ARK, &len);
	_cleanup_free_ uint8_t *longer = NULL;

	ASSERT_TRUE(der != NULL);
	{
		_cleanup_(X509_freep) X509 *x = openssl_x509_from_der(der, len, AMD_CERT_MAX);
		ASSERT_TRUE(x != NULL);
	}
	/* One byte short, one byte of trailing data, a limit one byte too small: refused. */
	ASSERT_TRUE(openssl_x509_from_der(der, len - 1, AMD_CERT_MAX) == NULL);
	longer = malloc(len + 1);
	ASSERT_TRUE(longer != NULL);
	memcpy(longer, der, len);
	longer[len] = 0;
	ASSERT_TRUE(openssl_x509_from_der(longer, len + 1, AMD_CERT_MAX) == NULL);
	ASSERT_TRUE(openssl_x509_from_der(der, len, len - 1) == NULL);
	{
		_cleanup_(X509_freep) X509 *x = openssl_x509_from_der(der, len, len);
		ASSERT_TRUE(x != NULL);
	}
	ASSERT_TRUE(openssl_x509_from_der(NULL, len, AMD_CERT_MAX) == NULL);
	ASSERT_TRUE(openssl_x509_from_der(der, 0, AMD_CERT_MAX) == NULL);
	ERR_clear_error();
}

TEST(openssl_cleanup_helpers_accept_null)
{
	/* Each helper skips NULL, so a cleanup on an unassigned variable is safe. */
	{
		_cleanup_(X509_freep) X509 *x = NULL;
		_cleanup_(EVP_PKEY_freep) EVP_PKEY *k = NULL;
		_cleanup_(BN_clear_freep) BIGNUM *b = NULL;
		_cleanup_(openssl_freep) unsigned char *buf = NULL;
		(void)x, (void)k, (void)b, (void)buf;
	}
	{
		_cleanup_(BN_clear_freep) BIGNUM *b = BN_secure_new();
		_cleanup_(openssl_freep) char *hex = NULL;
		ASSERT_TRUE(b != NULL);
		ASSERT_TRUE(BN_set_word(b, 0x1234));
		hex = BN_bn2hex(b);
		ASSERT_STREQ(hex, "1234");
	}
}
