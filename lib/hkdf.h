/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HKDF-SHA256 (RFC 5869), for wrapping keys (lib/wrap.c), sealing keys (lib/seal.c) and the
 * daemon's audit key, and the HMAC-SHA256 it is built on (the audit chain's record MACs). Built from HMAC-SHA256 (RFC 2104) written out over one kept OpenSSL
 * SHA-256 context: OpenSSL 3.0's EVP_KDF HKDF looks HMAC and SHA-256 up by name and parses
 * its parameters on every derivation, which cost several times the hashing itself. The
 * output equals EVP_KDF's HKDF byte for byte (known-answer tests: RFC 5869 A.1-A.3 and
 * comparisons with EVP_KDF, tests/unit/test-hkdf.c). Library code: logs OpenSSL failures at
 * debug level and leaves the OpenSSL error queue empty.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define HKDF_SHA256_LEN 32u
#define HKDF_SHA256_OUT_MAX (255u * HKDF_SHA256_LEN)

/*
 * Derives out_len (1..HKDF_SHA256_OUT_MAX) bytes from ikm (at least one byte) with salt and
 * info (either may be empty: NULL with length 0; an empty salt is HashLen zero bytes, RFC 5869
 * 2.2). Returns 0, -EINVAL for bad arguments, or -EIO (OpenSSL failed; out is then wiped).
 * Every intermediate (PRK, HMAC states) is wiped before returning. Thread-safe.
 */
int hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
		const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len) _wur_;

/*
 * HMAC-SHA256 (RFC 2104) of data under key, the function HKDF is built on, on the same kept
 * context (for the daemon's audit chain, one MAC per record). Either may be empty (NULL with
 * length 0). Returns 0, -EINVAL, or -EIO (OpenSSL failed; out untouched). Thread-safe.
 */
int hkdf_hmac_sha256(const uint8_t *key, size_t key_len, const void *data, size_t len,
		     uint8_t out[static HKDF_SHA256_LEN]) _wur_;

/*
 * SHA-256(p1 || p2 || p3) on the same kept context, without a context made and freed per call
 * (the daemon's audit chain hash and shield key). Any part may be empty (NULL with length 0).
 * The context is cleared before it is given back. Returns 0, -EINVAL, or -EIO (OpenSSL failed;
 * out untouched). Thread-safe.
 */
int hkdf_sha256_digest(const void *p1, size_t l1, const void *p2, size_t l2, const void *p3,
		       size_t l3, uint8_t out[static HKDF_SHA256_LEN]) _wur_;
