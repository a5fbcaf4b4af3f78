/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bring your own key (BYOK): the exchange-key evidence bundle, the BYOK transfer file in the
 * shape of Azure Key Vault's BYOK tooling, the CKM_RSA_AES_KEY_WRAP scheme (RSA-OAEP of an
 * ephemeral AES-256 key, then AES-256-KWP (RFC 5649) of the target key) and the key-set
 * format that carries a KEK's versions and metadata (escrow backups). docs/byok.md.
 *
 * The parsers are pure and fuzzed (tests/fuzz/fuzz-byok-json.c): every input is untrusted.
 * Library code; logs at debug level at most.
 */
#pragma once

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define BYOK_KID_PREFIX "vhsm-xk-"
#define BYOK_KID_MAX 128u
#define BYOK_NAME_MAX 64u
#define BYOK_NONCE_SIZE 32u
#define BYOK_RSA_BITS 3072u
#define BYOK_SPKI_MAX 2048u
#define BYOK_CERTS_MAX (24u * 1024u)
#define BYOK_CIPHERTEXT_MAX (8u * 1024u)
/* A "report" member: an SNP report (1184 bytes) or, on the vtpm platform, an Azure HCL report
 * (lib/report-evidence.h, at most HCL_REPORT_MAX bytes). */
#define BYOK_REPORT_MAX (64u * 1024u)
/* A bundle or BYOK file: the report's base64 (~88 KiB) and certificates' (~33 KiB) and more. */
#define BYOK_JSON_MAX (160u * 1024u)
#define BYOK_AES_KEY_SIZE 32u
#define BYOK_REPORT_DATA_LABEL "vhsm-exchange-key-v1"
#define BYOK_BACKUP_REPORT_DATA_LABEL "vhsm-backup-v1"

/* The "enc" member: which OAEP digest wraps the ephemeral AES key. */
enum byok_enc {
	BYOK_ENC_RSA_AES_KEY_WRAP_256, /* "RSA_AES_KEY_WRAP_256": OAEP SHA-256/MGF1-SHA-256 */
	BYOK_ENC_CKM_RSA_AES_KEY_WRAP, /* "CKM_RSA_AES_KEY_WRAP": OAEP SHA-1/MGF1-SHA-1 (Azure's
					* original; for tokens that do only SHA-1 OAEP) */
	_BYOK_ENC_MAX,
	_BYOK_ENC_INVALID = -EINVAL,
};
const char *byok_enc_to_string(enum byok_enc e);
enum byok_enc byok_enc_from_string(const char *s);

/* ---- exchange-key evidence bundle (vhsmd -> customer) ---- */
struct byok_bundle {
	char kid[BYOK_KID_MAX + 1];
	char kek[BYOK_NAME_MAX + 1]; /* the KEK name the exchange key imports */
	uint64_t created, expires;   /* seconds since the epoch */
	uint8_t nonce[BYOK_NONCE_SIZE];
	uint8_t *spki;               /* DER SubjectPublicKeyInfo (malloc) */
	size_t spki_len;
	uint8_t *report;             /* SNP or HCL report (malloc; lib/report-evidence opens it) */
	size_t report_len;
	uint8_t *certs;              /* GHCB certificate table (malloc), may be NULL */
	size_t certs_len;
};
void byok_bundle_done(struct byok_bundle *b);

/*
 * Parses a bundle JSON (untrusted). Checks presence, type and length of every member; does
 * not verify anything cryptographic. Returns 0 (caller calls byok_bundle_done) or -EBADMSG
 * with the offending member named in err, -EMSGSIZE, -ENOMEM.
 */
int byok_bundle_parse(const char *json, size_t len, struct byok_bundle *ret, char *err,
		      size_t errlen) _wur_;
/* Formats a bundle as JSON (malloc'ed string in *ret). 0 or -ENOMEM. */
int byok_bundle_format(const struct byok_bundle *b, char **ret) _wur_;

/* kid = "vhsm-xk-" + hex(SHA-256(spki)[0..16)). out holds BYOK_KID_MAX + 1. 0 or -EIO. */
int byok_kid_from_spki(const uint8_t *spki, size_t len, char *out) _wur_;
/*
 * REPORT_DATA of the exchange-key report:
 *   SHA-512("vhsm-exchange-key-v1" || 0x00 || SHA-256(spki) || nonce[32] || u64le(expires)
 *           || u8 len(kek) || kek)
 * 0 or -EIO / -EINVAL.
 */
int byok_report_data(const uint8_t *spki, size_t spki_len, const uint8_t nonce[static 32],
		     uint64_t expires, const char *kek, uint8_t out[static 64]) _wur_;

/*
 * REPORT_DATA of a backup's report (vhsmd at `kek backup`), checked by vhsm-byok rewrap:
 *   SHA-512("vhsm-backup-v1" || 0x00 || SHA-256(ciphertext) || u8 len(kid) || kid
 *           || u8 len(kek) || kek)
 * so the report vouches for exactly this ciphertext, wrapped to this customer key (kid) for
 * this KEK. 0 or -EINVAL / -EIO.
 */
int byok_backup_report_data(const uint8_t *ct, size_t ct_len, const char *kid, const char *kek,
			    uint8_t out[static 64]) _wur_;

/* ---- BYOK transfer file (customer -> vhsmd), Azure's shape ---- */
enum byok_kind { BYOK_KIND_IMPORT, BYOK_KIND_BACKUP };
struct byok_file {
	char kid[BYOK_KID_MAX + 1];  /* header.kid: the exchange key (or backup key) id */
	enum byok_enc enc;
	enum byok_kind kind;         /* from the optional "vhsm" member */
	char kek[BYOK_NAME_MAX + 1]; /* "vhsm".kek, "" when absent */
	uint8_t *ciphertext;         /* malloc */
	size_t ciphertext_len;
	/* A backup's evidence ("vhsm".report, "vhsm".certificates; malloc, NULL when absent):
	 * a report of the CVM that made the backup whose REPORT_DATA binds this ciphertext
	 * (byok_backup_report_data). */
	uint8_t *report;
	size_t report_len;
	uint8_t *certs;
	size_t certs_len;
};
void byok_file_done(struct byok_file *f);
/* Parses a BYOK file (untrusted). 0, -EBADMSG (err names the member), -EMSGSIZE, -ENOMEM. */
int byok_file_parse(const char *json, size_t len, struct byok_file *ret, char *err,
		    size_t errlen) _wur_;
/* Formats a BYOK file (generator: free text). 0 or -ENOMEM. */
int byok_file_format(const struct byok_file *f, const char *generator, char **ret) _wur_;

/* ---- CKM_RSA_AES_KEY_WRAP with OpenSSL 3 EVP ---- */
/*
 * Wraps pt (1..4096 bytes) for the RSA public key pub: a fresh AES-256 key k,
 * out = RSA-OAEP(pub, k) || AES-256-KWP(k, pt). Returns 0 with a malloc'ed output.
 */
int byok_rsa_aes_wrap(EVP_PKEY *pub, enum byok_enc enc, const uint8_t *pt, size_t pt_len,
		      uint8_t **ret, size_t *ret_len) _wur_;
/*
 * Unwraps with the RSA private key priv. Returns 0 with the plaintext in fresh secmem, or
 * -EBADMSG (length) / -EKEYREJECTED (wrong key, modified ciphertext).
 */
int byok_rsa_aes_unwrap(EVP_PKEY *priv, enum byok_enc enc, const uint8_t *ct, size_t ct_len,
			uint8_t **ret, size_t *ret_len) _wur_;
/* AES-256-KWP (RFC 5649) of pt under key; used by the PKCS#11 composition check too. */
int byok_kwp(bool enc, const uint8_t key[static 32], const uint8_t *in, size_t in_len,
	     uint8_t *out, size_t *out_len) _wur_;

/* Loads an RSA public key from PEM or DER (SPKI). 0, -EBADMSG, -EMSGSIZE. */
int byok_pubkey_load(const uint8_t *buf, size_t len, EVP_PKEY **ret) _wur_;
/* DER SPKI of pkey (malloc). */
int byok_pubkey_spki(EVP_PKEY *pkey, uint8_t **ret, size_t *ret_len) _wur_;
/* Hex SHA-256 of the SPKI (65 bytes). */
int byok_spki_fingerprint(const uint8_t *spki, size_t len, char out[static 65]) _wur_;

/* ---- key set: a KEK's versions and metadata, the plaintext of backups ----
 *   "VHSMKS01" | u8 len(name) | name | u8 flags | u32le retention_days | u32le n |
 *   n * (u32le version | u64le created) | n * key[32]
 */
#define BYOK_KEYSET_MAX_VERSIONS 64u
#define BYOK_KEYSET_FLAG_EXPORTABLE (1u << 0)
#define BYOK_KEYSET_FLAG_PURGE_PROTECTION (1u << 1)
#define BYOK_KEYSET_FLAG_ATTEST_EACH_USE (1u << 2)
struct byok_keyset {
	char name[BYOK_NAME_MAX + 1];
	uint8_t flags;
	uint32_t retention_days;
	uint32_t n;
	uint32_t version[BYOK_KEYSET_MAX_VERSIONS];
	uint64_t created[BYOK_KEYSET_MAX_VERSIONS];
	const uint8_t *keys; /* n * 32 bytes: points into the encoded buffer (secmem) */
};
/* True when buf starts like a key set (else it is a raw key). */
bool byok_is_keyset(const uint8_t *buf, size_t len);
/* Encodes into fresh secmem (keys: n * 32 bytes). 0, -EINVAL, -ENOMEM. */
int byok_keyset_encode(const struct byok_keyset *ks, const uint8_t *keys, uint8_t **ret,
		       size_t *ret_len) _wur_;
/* Decodes (untrusted); ret->keys points into buf. 0 or -EBADMSG. */
int byok_keyset_decode(const uint8_t *buf, size_t len, struct byok_keyset *ret) _wur_;
