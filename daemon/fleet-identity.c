/* SPDX-License-Identifier: Apache-2.0 */
/* The fleet identity: see fleet-identity.h. */
#include <errno.h>

#include "fleet-identity.h"

int fleet_identity_tls(struct manager *m, EVP_PKEY **ret_key, char *ret_cert_path, size_t len)
{
	(void) m;
	(void) ret_key;
	(void) ret_cert_path;
	(void) len;
	return -ENOKEY; /* enrollment not yet implemented: nothing is ever enrolled */
}
