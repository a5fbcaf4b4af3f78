/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the collateral importer's parsing (certificates, CRLs, PEM, THIM JSON, base64, GHCB
 * tables) without writing: whatever it accepts must have counted at least one entry. */
#include <stdlib.h>

#include "collateral.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct collateral_added a = {};
	char err[256];

	if (collateral_import(NULL, data, size, &a, err, sizeof(err)) < 0)
		return 0;
	if (a.vcek + a.ask + a.asvk + a.ark + a.crl == 0)
		abort();
	return 0;
}
