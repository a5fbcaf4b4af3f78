/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Constant-time helpers for secret data: comparison, and hex and base64 (standard and
 * URL-safe) codecs whose timing does not depend on the bytes. The tree's only base64 codec.
 * Library code; never logs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/* True when a and b are equal over n bytes; time depends only on n. */
bool ct_memeq(const void *a, const void *b, size_t n);

/*
 * Writes 2*n lowercase hex digits and a NUL to out (which holds 2*n+1 bytes).
 * Constant time in the data.
 */
void ct_hex_encode(char *out, const uint8_t *in, size_t n);

/*
 * Decodes exactly 2*n hex digits (either case) from in[0..inlen) into out[0..n).
 * Returns 0, or -EBADMSG when inlen != 2*n or a character is not hex (out is then wiped).
 * Constant time in the data.
 */
int ct_hex_decode(uint8_t *out, size_t n, const char *in, size_t inlen) _wur_;

/* Length of the base64 text (with padding, without NUL) for n bytes. */
#define CT_BASE64_LEN(n) ((((n) + 2u) / 3u) * 4u)

/*
 * Writes standard base64 (RFC 4648, '+' '/', '=' padding) of in[0..n) and a NUL to out
 * (CT_BASE64_LEN(n) + 1 bytes). Constant time in the data: used for keyslot secrets.
 */
void ct_base64_encode(char *out, const uint8_t *in, size_t n);

/*
 * Decodes canonical padded base64 from in[0..inlen) into out (room for outcap bytes).
 * Refuses a length that is not a multiple of 4, characters outside the alphabet, padding
 * anywhere but at the end, and non-zero unused bits. Returns the decoded length, or
 * -EBADMSG (malformed) / -EMSGSIZE (does not fit); out is wiped on failure. Constant time
 * in the data (lengths and the padding count are public).
 */
int ct_base64_decode(uint8_t *out, size_t outcap, const char *in, size_t inlen) _wur_;

/* ct_base64_decode() of the NUL-terminated string s: 0 and the decoded length in *ret_len
 * (set only on success), or its -errno. */
int ct_base64_decode_str(const char *s, uint8_t *out, size_t cap, size_t *ret_len) _wur_;

/*
 * The URL-safe alphabet (RFC 4648 section 5: '-' '_') without padding, as Azure Key Vault's
 * BYOK files carry it: writes the text and a NUL to out (CT_BASE64_LEN(n) + 1 bytes are
 * enough). Returns the text's length. Constant time in the data.
 */
size_t ct_base64url_encode(char *out, const uint8_t *in, size_t n);

enum ct_base64_flags {
	CT_BASE64_URL_TOO = 1u << 0,	  /* '-' and '_' accepted as well as '+' and '/' */
	CT_BASE64_PAD_OPTIONAL = 1u << 1, /* unpadded text accepted (padded text still is) */
};

/*
 * ct_base64_decode() with the liberties flags allows, for files written by other tools.
 * Still refused: padding anywhere but at the end, padding on a length that is not a
 * multiple of 4, a length of 1 modulo 4, and non-zero unused bits. Returns as
 * ct_base64_decode().
 */
int ct_base64_decode_full(uint8_t *out, size_t outcap, const char *in, size_t inlen,
			  unsigned flags) _wur_;
