/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Asymmetric key pairs held by vhsmd (PKCS#11, `vhsmctl key`). One sealed file per key pair,
 * <state>/keypair/<name>.sealed, sealed exactly as KEKs are (lib/seal, the store manifest):
 * the seal header's metadata is the public description (JSON: algorithm, usage, state, ACL,
 * KEY_ID, public key, certificate), the sealed plaintext the private key (PKCS#8 DER). The
 * private key never leaves vhsmd; in memory it lives in OpenSSL's secure heap (EVP_PKEY) and
 * in lib/secmem (DER), and is dropped when the attestation gate closes.
 */
#pragma once

#include <openssl/evp.h>

#include "vhsmd.h"

enum keypair_alg {
	KEYPAIR_RSA2048,
	KEYPAIR_RSA3072,
	KEYPAIR_RSA4096,
	KEYPAIR_EC_P256,
	KEYPAIR_EC_P384,
	_KEYPAIR_ALG_MAX,
	_KEYPAIR_ALG_INVALID = -EINVAL,
};

/* Key pair ACL operations (acl.h syntax: sign, decrypt, read, admin, all). */
#define KEYPAIR_ACL_SIGN ACL_OP_WRAP
#define KEYPAIR_ACL_DECRYPT ACL_OP_UNWRAP
#define KEYPAIR_ACL_READ ACL_OP_READ
#define KEYPAIR_ACL_ADMIN ACL_OP_ADMIN

#define KEYPAIR_USAGE_SIGN (1u << 0)
#define KEYPAIR_USAGE_DECRYPT (1u << 1)

#define KEYPAIR_ID_SIZE 20u           /* SHA-1 */
#define KEYPAIR_SPKI_MAX 1024u        /* DER SubjectPublicKeyInfo (RSA-4096: 550 bytes) */
#define KEYPAIR_CERT_MAX (10u * 1024u) /* stored certificate, DER (fits the seal metadata) */

struct keypair_meta {
	char name[KEK_NAME_MAX + 1];
	enum keypair_alg alg;
	uint32_t usage; /* KEYPAIR_USAGE_* */
	KEY_LIFECYCLE_GROUP;
	uint8_t id[KEYPAIR_ID_SIZE];
	size_t spki_len;
	uint8_t spki[KEYPAIR_SPKI_MAX];
	size_t cert_len;
	uint8_t cert[KEYPAIR_CERT_MAX];
	size_t n_acl;
	struct acl_entry acl[KEK_MAX_ACL];
};

/* ---- keypair-meta.c: names and metadata JSON ---- */
const char *keypair_alg_to_string(enum keypair_alg a); /* "rsa2048" ... "ec-p384" */
enum keypair_alg keypair_alg_from_string(const char *s);
bool keypair_alg_is_rsa(enum keypair_alg a);
/*
 * The stored metadata as JSON (malloc'ed; public). full=false leaves out the public key and
 * certificate (listings). 0 or -ENOMEM.
 */
int keypair_meta_to_json(const struct keypair_meta *meta, bool full, char **ret);
/*
 * Parses stored metadata (strict: every member typed and required, nothing else). 0,
 * -EBADMSG with the member named in err, -EMSGSIZE, -ENOMEM; ret set only on success.
 */
int keypair_meta_parse(const char *json, size_t len, struct keypair_meta *ret, char *err,
		       size_t errlen);

/* ---- keypair-file.c: the sealed files ---- */
/* Sorted names of the stored key pairs (NULL-terminated, strv_free()). 0 or -errno. */
int keypair_store_list(struct manager *m, char ***ret_names);
/*
 * The public metadata of key pair name, checked against the store manifest (rolled-back
 * files are refused) but not unsealed. 0, -ENOENT, -EBADMSG (damaged), -EKEYREJECTED (why).
 */
int keypair_store_read_meta(struct manager *m, const char *name, struct keypair_meta *ret,
			    char *why, size_t whylen);
/*
 * Seals meta + the private key (PKCS#8 DER, der_len bytes) at the current attested state
 * under profile and writes the file atomically (create: -EEXIST when it exists), through
 * the manifest. The gate must be open. 0 or -errno with why filled.
 */
int keypair_store_write(struct manager *m, const struct keypair_meta *meta,
			enum seal_profile profile, const uint8_t *der, size_t der_len, bool create,
			char *why, size_t whylen);
/*
 * Rewrites the metadata of an existing key pair (lifecycle, ACL, certificate), keeping its
 * sealed private key and profile: unseals and seals again. 0 or -errno with why filled.
 */
int keypair_store_update(struct manager *m, const struct keypair_meta *meta, char *why,
			 size_t whylen);
/*
 * Reads name's file once and verifies it against the store manifest, calls check (when not
 * NULL) with its metadata before anything is unsealed (a negative return is returned as is),
 * passes the attestation gate and returns the metadata and private key (a new reference; the
 * caller frees it with EVP_PKEY_free). Parsed metadata and unsealed keys are cached per file
 * content: while the file's bytes are unchanged a use parses nothing and costs no firmware
 * request, but the manifest check and the gate run on every call. *ret_kept (when not NULL)
 * is the cache's keypair_sign()/keypair_decrypt() state for that key: valid until the next
 * call into this store, for the caller's operation only. 0, -ENOENT, -EBADMSG, -EKEYREJECTED
 * (why), check's error, -errno.
 */
struct keypair_kept;
int keypair_store_open(struct manager *m, const char *name,
		       int (*check)(const struct keypair_meta *meta, void *userdata), void *userdata,
		       struct keypair_meta *ret_meta, EVP_PKEY **ret_pkey,
		       struct keypair_kept **ret_kept, char *why, size_t whylen);
/* Removes name's file durably (purge) and forgets its cached key. 0 or -errno. */
int keypair_store_remove(struct manager *m, const char *name);
/* Drops every cached private key (the gate closed; shutdown). */
void keypair_cache_clear(void);
/* OpenSSL's secure heap for private keys (BIGNUMs of parsed and generated keys). */
#define KEYPAIR_SECURE_HEAP (1u << 20)
/*
 * Sets up OpenSSL's secure heap (once, before any key is parsed): 1 locked, 0 allocated but
 * not locked (RLIMIT_MEMLOCK), -ENOMEM when it could not be set up (private keys then live in
 * the ordinary heap, still wiped when freed). Does not log.
 */
int keypair_secure_heap_init(void);

/* ---- keypair.c: generation, KEY_ID, certificate ---- */
/* A new key pair of alg (private parts in OpenSSL's secure heap). 0, -ENOMEM, -EIO. */
int keypair_generate(enum keypair_alg alg, EVP_PKEY **ret);
/*
 * Fills meta->spki and meta->id from pkey: DER SubjectPublicKeyInfo, and KEY_ID = SHA-1 of
 * the public key bits as OpenSC computes CKA_ID (RSA: the modulus, unsigned big-endian; EC:
 * the uncompressed point). 0, -EMSGSIZE, -EIO.
 */
int keypair_set_public(struct keypair_meta *meta, EVP_PKEY *pkey);
/*
 * The private key as PKCS#8 DER in fresh secmem. 0, -ENOMEM, -EIO.
 */
int keypair_private_der(EVP_PKEY *pkey, uint8_t **ret_der, size_t *ret_len);
/* Parses a private key from PKCS#8 DER. 0 or -EBADMSG. */
int keypair_private_parse(const uint8_t *der, size_t len, EVP_PKEY **ret);
/*
 * Makes the self-signed certificate of meta (CN = name, signed by pkey itself, keyUsage per
 * usage) carrying the attestation binding extension (KEYPAIR_BINDING_OID) with binding
 * (DER, from keypair_binding_der), into meta->cert. 0, -EMSGSIZE, -EIO.
 */
int keypair_make_cert(struct keypair_meta *meta, EVP_PKEY *pkey, uint64_t now,
		      const uint8_t *binding, size_t binding_len);
/*
 * Checks that cert (DER) is an X.509 certificate whose public key is meta's. 0, -EBADMSG (not
 * a certificate, why filled), -EKEYREJECTED (another public key).
 */
int keypair_cert_matches(const struct keypair_meta *meta, const uint8_t *cert, size_t len,
			 char *why, size_t whylen);
