/* SPDX-License-Identifier: Apache-2.0 */
/* Key attestation binding (lib/keyattest): REPORT_DATA and the certificate extension's DER. */
#include <errno.h>
#include <openssl/evp.h>
#include <string.h>

#include "keyattest.h"
#include "test.h"

TEST(keyattest_report_data_binds_key_and_nonce)
{
	static const uint8_t spki[] = "a public key", spki2[] = "another public key";
	uint8_t msg[KEY_ATTEST_MSG_MAX], rd[64], rd2[64], want[64], h[32], nonce[64] = { 7 };
	unsigned int n;
	int len;

	/* The message is label || NUL || SHA-256(SPKI) || nonce, REPORT_DATA its SHA-512. */
	len = key_attest_message(spki, sizeof(spki), nonce, 16, msg);
	ASSERT_EQ(len, 19 + 32 + 16);
	ASSERT_MEMEQ(msg, "vhsm-key-attest-v1\0", 19);
	ASSERT_TRUE(EVP_Digest(spki, sizeof(spki), h, &n, EVP_sha256(), NULL));
	ASSERT_MEMEQ(msg + 19, h, 32);
	ASSERT_MEMEQ(msg + 51, nonce, 16);
	ASSERT_TRUE(EVP_Digest(msg, (size_t)len, want, &n, EVP_sha512(), NULL));
	ASSERT_EQ(key_attest_report_data(spki, sizeof(spki), nonce, 16, rd), 0);
	ASSERT_MEMEQ(rd, want, 64);
	/* another key, another nonce, no nonce: other REPORT_DATA */
	ASSERT_EQ(key_attest_report_data(spki2, sizeof(spki2), nonce, 16, rd2), 0);
	ASSERT_MEMNE(rd, rd2, 64);
	ASSERT_EQ(key_attest_report_data(spki, sizeof(spki), nonce, 15, rd2), 0);
	ASSERT_MEMNE(rd, rd2, 64);
	ASSERT_EQ(key_attest_report_data(spki, sizeof(spki), NULL, 0, rd2), 0);
	ASSERT_MEMNE(rd, rd2, 64);
	ASSERT_EQ(key_attest_message(spki, sizeof(spki), nonce, 65, msg), -EMSGSIZE);
	ASSERT_EQ(key_attest_message(spki, sizeof(spki), nonce, 64, msg), 19 + 32 + 64);
}

TEST(keyattest_binding_round_trip_and_tamper)
{
	static const uint8_t spki[] = "spki";
	static uint8_t report[KEY_ATTEST_REPORT_SIZE], der[KEY_ATTEST_BINDING_SIZE];
	const uint8_t *h, *rep;
	uint8_t want[32];
	unsigned int n;

	for (size_t i = 0; i < sizeof(report); i++)
		report[i] = (uint8_t)i;
	ASSERT_EQ(key_attest_binding_encode(spki, sizeof(spki), report, der), 0);
	ASSERT_EQ(der[0], 0x30);
	ASSERT_EQ(key_attest_binding_decode(der, sizeof(der), &h, &rep), 0);
	ASSERT_TRUE(EVP_Digest(spki, sizeof(spki), want, &n, EVP_sha256(), NULL));
	ASSERT_MEMEQ(h, want, 32);
	ASSERT_MEMEQ(rep, report, sizeof(report));
	/* every byte of the fixed structure matters; the values are the caller's to check */
	for (size_t i = 0; i < 9; i++) {
		der[i] ^= 1;
		ASSERT_EQ(key_attest_binding_decode(der, sizeof(der), &h, &rep), -EBADMSG);
		der[i] ^= 1;
	}
	for (size_t i = 41; i < 45; i++) {
		der[i] ^= 1;
		ASSERT_EQ(key_attest_binding_decode(der, sizeof(der), &h, &rep), -EBADMSG);
		der[i] ^= 1;
	}
	ASSERT_EQ(key_attest_binding_decode(der, sizeof(der) - 1, &h, &rep), -EBADMSG);
	ASSERT_EQ(key_attest_binding_decode(der, 0, &h, &rep), -EBADMSG);
}
