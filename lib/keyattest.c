/* SPDX-License-Identifier: Apache-2.0 */
/* Key attestation binding (keyattest.h): REPORT_DATA and the certificate extension. */
#include <errno.h>
#include <openssl/evp.h>
#include <string.h>

#include "keyattest.h"

int key_attest_message(const uint8_t *spki, size_t spki_len, const uint8_t *nonce,
		       size_t nonce_len, uint8_t out[static KEY_ATTEST_MSG_MAX])
{
	unsigned int n = 0;
	size_t off = sizeof(KEY_ATTEST_LABEL); /* with its NUL: the separator */

	if (nonce_len > KEY_ATTEST_NONCE_MAX)
		return -EMSGSIZE;
	memcpy(out, KEY_ATTEST_LABEL, off);
	if (!EVP_Digest(spki, spki_len, out + off, &n, EVP_sha256(), NULL) || n != 32)
		return -EIO;
	off += 32;
	if (nonce_len)
		memcpy(out + off, nonce, nonce_len);
	return (int)(off + nonce_len);
}

int key_attest_report_data(const uint8_t *spki, size_t spki_len, const uint8_t *nonce,
			   size_t nonce_len, uint8_t ret[static 64])
{
	uint8_t msg[KEY_ATTEST_MSG_MAX];
	unsigned int n = 0;
	int len = key_attest_message(spki, spki_len, nonce, nonce_len, msg);

	if (len < 0)
		return len;
	if (!EVP_Digest(msg, (size_t)len, ret, &n, EVP_sha512(), NULL) || n != 64)
		return -EIO;
	return 0;
}

/* The fixed prefix of the DER: lengths are constant, so the layout is too. */
static const uint8_t binding_prefix[] = {
	0x30, 0x82, (KEY_ATTEST_BINDING_SIZE - 4) >> 8, (KEY_ATTEST_BINDING_SIZE - 4) & 0xff,
	0x02, 0x01, 0x01,       /* version 1 */
	0x04, 0x20,             /* spkiSha256 follows */
};
static const uint8_t report_prefix[] = { 0x04, 0x82, KEY_ATTEST_REPORT_SIZE >> 8,
					 KEY_ATTEST_REPORT_SIZE & 0xff };

int key_attest_binding_encode(const uint8_t *spki, size_t spki_len,
			      const uint8_t report[static KEY_ATTEST_REPORT_SIZE],
			      uint8_t out[static KEY_ATTEST_BINDING_SIZE])
{
	unsigned int n = 0;
	size_t off = sizeof(binding_prefix);

	memcpy(out, binding_prefix, off);
	if (!EVP_Digest(spki, spki_len, out + off, &n, EVP_sha256(), NULL) || n != 32)
		return -EIO;
	off += 32;
	memcpy(out + off, report_prefix, sizeof(report_prefix));
	memcpy(out + off + sizeof(report_prefix), report, KEY_ATTEST_REPORT_SIZE);
	return 0;
}

int key_attest_binding_decode(const uint8_t *der, size_t len, const uint8_t **ret_spki_sha256,
			      const uint8_t **ret_report)
{
	size_t off = sizeof(binding_prefix) + 32;

	if (len != KEY_ATTEST_BINDING_SIZE || memcmp(der, binding_prefix, sizeof(binding_prefix)) ||
	    memcmp(der + off, report_prefix, sizeof(report_prefix)))
		return -EBADMSG;
	*ret_spki_sha256 = der + sizeof(binding_prefix);
	*ret_report = der + off + sizeof(report_prefix);
	return 0;
}
