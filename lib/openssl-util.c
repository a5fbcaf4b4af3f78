/* SPDX-License-Identifier: Apache-2.0 */
/* The one DER-to-certificate parser (see openssl-util.h). */
#include <limits.h>

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
