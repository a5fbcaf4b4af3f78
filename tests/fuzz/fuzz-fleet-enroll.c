/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes the fleet enrollment parsers (lib/fleet-enroll): the first byte picks the CSR parser
 * (DER or PEM) or the certificate-chain checks (chain, then an optional CA after a NUL).
 * Whatever a CSR parse accepts must name a valid identity and carry a public key.
 */
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "fleet-enroll.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t spki[] = { 0x30, 0x59 };
	char cn[FLEET_NAME_MAX + 1], why[512];
	struct fleet_cert_info info;
	X509_REQ *req = NULL;
	uint8_t *key = NULL;
	size_t key_len = 0;

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		if (fleet_csr_parse(data + 1, size - 1, &req, cn, sizeof(cn), &key, &key_len, why,
				    sizeof(why)) < 0)
			return 0;
		if (!req || !fleet_name_valid(cn) || !key || key_len == 0)
			abort();
		X509_REQ_free(req);
		free(key);
		return 0;
	}
	const uint8_t *nul = memchr(data + 1, 0, size - 1);
	size_t chain_len = nul ? (size_t)(nul - data - 1) : size - 1;
	const uint8_t *ca = nul ? nul + 1 : NULL;
	size_t ca_len = nul ? size - 2 - chain_len : 0;
	/* No certificate carries this two-byte "key": the checks never accept. */
	if (fleet_cert_check(data + 1, chain_len, ca, ca_len, spki, sizeof(spki), 1900000000u,
			     &info, why, sizeof(why)) >= 0)
		abort();
	if (fleet_cert_info(data + 1, chain_len, 1900000000u, &info) > 0)
		abort();
	return 0;
}
