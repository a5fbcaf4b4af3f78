/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet identity (fleet-identity.c): the TLS client key vhsmd generates for the fleet's
 * KMIP key manager, and the certificate the customer's fleet CA issued for it after verifying
 * an attestation report that binds the key (vhsmctl fleet enroll, vhsm-byok fleet-sign,
 * vhsmctl fleet install-cert; docs/fleet.md "Enrollment").
 *
 * <state>/fleet/identity.sealed holds the private key (PKCS#8 DER) sealed exactly as key pairs
 * and KEKs are (store_seal_now, label "fleet-identity", listed in the store manifest as
 * fleet/identity.sealed so an older file put back is refused); its public metadata (JSON:
 * name, alg, created, spki) is authenticated by the seal. No operation exports the private
 * key. <state>/fleet/identity.pem holds the installed certificate chain (public), checked
 * against the sealed key whenever it is used.
 */
#pragma once

#include <stddef.h>
#include <openssl/evp.h>

#include "fleet-enroll.h"
#include "keypair.h"
#include "vhsmd.h"

#define FLEET_IDENTITY_LABEL "fleet-identity"
#define FLEET_IDENTITY_SEALED "fleet/identity.sealed"
#define FLEET_IDENTITY_CERT "fleet/identity.pem"

struct fleet_identity {
	char name[FLEET_NAME_MAX + 1]; /* the CN requested at enrollment */
	enum keypair_alg alg;          /* KEYPAIR_EC_P256 or KEYPAIR_RSA3072 */
	uint64_t created;
	size_t spki_len;
	uint8_t spki[KEYPAIR_SPKI_MAX];
};

/*
 * The enrolled fleet identity for TLS: the sealed private key (secure heap; caller frees) and
 * the path of the installed certificate chain PEM, through the state directory's fd
 * ("/proc/self/fd/N/fleet/identity.pem": valid while m's state fd is open). -ENOKEY: none
 * enrolled, or no certificate installed; -EKEYEXPIRED: the certificate has expired at vhsmd's
 * clock (renewal needs a fresh enrollment); -EKEYREJECTED: the installed certificate is not
 * the sealed key's, or the key could not be unsealed (the attestation gate is closed); other
 * -errno: a file could not be read or is damaged; -ENAMETOOLONG when len is too small for the
 * path. On failure why says which, naming what the administrator can do. Outputs set only on
 * success. Does not log.
 */
int fleet_identity_tls(struct manager *m, EVP_PKEY **ret_key, char *ret_cert_path, size_t len,
		       char *why, size_t whylen);

/*
 * The identity's public metadata, checked against the store manifest but not unsealed. 0,
 * -ENOKEY (no identity), -EBADMSG (damaged), -EKEYREJECTED (rolled back), with why filled.
 */
int fleet_identity_read(struct manager *m, struct fleet_identity *ret, char *why,
			size_t whylen);

/*
 * Generates a new key of alg for name, seals it at the current attested state (strict
 * profile) and replaces the identity through the manifest; an installed certificate (of the
 * old key) is removed. The gate must be open. 0 with the identity and its private key (caller
 * frees), or -errno with why filled.
 */
int fleet_identity_create(struct manager *m, const char *name, enum keypair_alg alg,
			  struct fleet_identity *ret, EVP_PKEY **ret_key, char *why,
			  size_t whylen);

/*
 * Unseals the identity: 0 with its metadata and private key (caller frees), -ENOKEY, or
 * -errno with why filled (gate closed, rolled back, damaged).
 */
int fleet_identity_open(struct manager *m, struct fleet_identity *ret, EVP_PKEY **ret_key,
			char *why, size_t whylen);

/* Seals the identity again with a new name (same key). 0 or -errno with why filled. */
int fleet_identity_rename(struct manager *m, const char *name, char *why, size_t whylen);

/* Replaces the installed certificate chain (checked by the caller) atomically. 0 or -errno. */
int fleet_identity_cert_write(struct manager *m, const uint8_t *pem, size_t len);

/* The installed chain (malloc'ed): 0, -ENOENT (none installed) or -errno. */
int fleet_identity_cert_read(struct manager *m, uint8_t **ret, size_t *ret_len);
