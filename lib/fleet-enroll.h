/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attested fleet enrollment (docs/fleet.md, "Enrollment"): vhsmd's fleet TLS key is bound to a
 * fresh SEV-SNP report, the customer's signer (vhsm-byok fleet-sign) checks the binding and
 * issues a short-lived clientAuth certificate, and vhsmd installs it (vhsmctl fleet
 * install-cert). Pure functions over untrusted bytes; never log.
 *
 *   REPORT_DATA = SHA-512("vhsm-fleet-enroll-v1" || 0x00 || SHA-256(SPKI DER)
 *                         || u8 nonce length || nonce || u64 expires, big-endian)
 *
 * where SPKI is the CSR's public key and expires the second (Unix time) after which the
 * enrollment request is no longer signed. The label keeps the report apart from every other
 * report vhsmd makes (key attestation, BYOK exchange keys, backups).
 */
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define FLEET_ENROLL_LABEL "vhsm-fleet-enroll-v1"
#define FLEET_ENROLL_NONCE_MAX 64u
#define FLEET_ENROLL_MSG_MAX (sizeof(FLEET_ENROLL_LABEL) + 32u + 1u + FLEET_ENROLL_NONCE_MAX + 8u)
/* An enrollment request is signed within this time of its creation (vhsmd's choice). */
#define FLEET_ENROLL_TTL_SEC (15u * 60u)
/* The signer refuses an expiry further away than this (a report that stays "fresh" for days
 * is not fresh). */
#define FLEET_ENROLL_TTL_MAX_SEC (24u * 3600u)
#define FLEET_NAME_MAX 64u         /* the identity's CN */
#define FLEET_CSR_MAX (8u * 1024u) /* DER */
#define FLEET_CHAIN_MAX (16u * 1024u) /* PEM certificate chain */
#define FLEET_CHAIN_CERTS_MAX 8u
/* Renewal is due when less than this fraction (1/N) of the certificate's lifetime is left. */
#define FLEET_RENEW_FRACTION 3u

/* The message whose SHA-512 is REPORT_DATA into out. Returns its length, -EMSGSIZE, -EIO. */
int fleet_enroll_message(const uint8_t *spki, size_t spki_len, const uint8_t *nonce,
			 size_t nonce_len, uint64_t expires,
			 uint8_t out[static FLEET_ENROLL_MSG_MAX]) _wur_;
/* REPORT_DATA for spki, nonce and expires: 0, -EMSGSIZE, -EIO. */
int fleet_enroll_report_data(const uint8_t *spki, size_t spki_len, const uint8_t *nonce,
			     size_t nonce_len, uint64_t expires, uint8_t ret[static 64]) _wur_;

/* true when name is a valid identity CN: 1..FLEET_NAME_MAX of [A-Za-z0-9._-], not starting
 * with '.' or '-'. */
bool fleet_name_valid(const char *name);

/*
 * A PKCS#10 request for pkey with subject CN=cn, signed by pkey (SHA-256), as DER in *ret_der
 * (malloc'ed). 0, -EINVAL (cn), -ENOMEM, -EIO.
 */
int fleet_csr_make(EVP_PKEY *pkey, const char *cn, uint8_t **ret_der, size_t *ret_len) _wur_;

/*
 * Parses a PKCS#10 request (DER, or PEM "CERTIFICATE REQUEST") and checks its self-signature.
 * Returns 0 with the request (caller frees with X509_REQ_free), its CN (valid per
 * fleet_name_valid) and its SPKI DER (malloc'ed); -EBADMSG (not a request, no or bad CN, why
 * filled) or -EKEYREJECTED (the signature does not verify: tampered). Outputs set only on
 * success.
 */
int fleet_csr_parse(const uint8_t *buf, size_t len, X509_REQ **ret_req, char *ret_cn,
		    size_t cnlen, uint8_t **ret_spki, size_t *ret_spki_len, char *why,
		    size_t whylen) _wur_;

struct fleet_cert_info {
	char subject[256]; /* RFC 2253 */
	char issuer[256];
	char serial[80];   /* hex */
	uint64_t not_before, not_after; /* Unix time */
	bool renewal_due;  /* less than 1/FLEET_RENEW_FRACTION of the lifetime left at now */
};

/*
 * Checks a certificate chain (PEM, the leaf first, then intermediates and optionally the CA)
 * for the fleet identity whose public key is spki: the leaf carries exactly that key, the
 * clientAuth extended key usage, is no CA, is valid at now, and chains (X.509 path
 * validation at now) to a self-signed CA in ca (PEM, may be NULL) or, without ca, to the
 * chain's own last certificate when that is self-signed. Returns 0 with *ret filled, or
 * -EBADMSG (not a PEM chain, too many certificates), -EKEYREJECTED (another key, no
 * clientAuth, a CA certificate, does not chain), -EKEYEXPIRED (expired or not yet valid),
 * with why naming the cause; -ENOMEM.
 */
int fleet_cert_check(const uint8_t *chain, size_t chain_len, const uint8_t *ca, size_t ca_len,
		     const uint8_t *spki, size_t spki_len, uint64_t now,
		     struct fleet_cert_info *ret, char *why, size_t whylen) _wur_;

/* 0 when the chain's leaf carries spki, -EKEYREJECTED when another key, -EBADMSG, -ENOMEM. */
int fleet_cert_key_matches(const uint8_t *chain, size_t chain_len, const uint8_t *spki,
			   size_t spki_len) _wur_;

/* The leaf's facts at now (no chain checks): 0, -EBADMSG, -ENOMEM. */
int fleet_cert_info(const uint8_t *chain, size_t chain_len, uint64_t now,
		    struct fleet_cert_info *ret) _wur_;
