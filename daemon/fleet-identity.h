/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet identity (fleet-identity.c): the TLS client key vhsmd generates for the fleet's
 * KMIP key manager, sealed in the state directory like key pairs and never exported, and the
 * certificate the customer's fleet CA issued for it after verifying an attestation report
 * that binds the key (vhsmctl fleet enroll, vhsm-byok fleet-sign, vhsmctl fleet install-cert).
 */
#pragma once

#include <stddef.h>
#include <openssl/evp.h>

#include "vhsmd.h"

/*
 * The enrolled fleet identity for TLS: the sealed private key (secure heap; caller frees) and
 * the path of the installed certificate chain PEM (in the state directory). -ENOKEY: none
 * enrolled; -EKEYEXPIRED: the certificate has expired (renewal needs a fresh enrollment).
 * Other -errno: the key could not be unsealed (the attestation gate is closed: -EKEYREJECTED)
 * or read; -ENAMETOOLONG when len is too small for the path. Outputs set only on success.
 * Does not log.
 */
int fleet_identity_tls(struct manager *m, EVP_PKEY **ret_key, char *ret_cert_path, size_t len);
