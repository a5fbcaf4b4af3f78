/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Constant-time helpers. Hex digits are computed with arithmetic masks instead of table
 * lookups or branches, so neither the cache nor the branch predictor learns the bytes
 * (the technique of wireguard-tools src/encoding.c; this is an independent implementation).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ct.h"

/* Hides x from the optimiser so that mask arithmetic is not turned back into branches. */
static uint32_t ct_barrier(uint32_t x)
{
	__asm__("" : "+r"(x));
	return x;
}

/* All ones when lo <= c <= hi, else 0. Inputs are below 2^16, so a borrow sets bit 31. */
static uint32_t ct_in_range(uint32_t c, uint32_t lo, uint32_t hi)
{
	uint32_t outside = ((c - lo) | (hi - c)) >> 31;

	return ct_barrier(outside) - 1u;
}

bool ct_memeq(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

/* Lowercase hex digit for a nibble: '0' + v, plus ('a' - '0' - 10) when v > 9. */
static char ct_hex_digit(uint32_t v)
{
	uint32_t above9 = ct_barrier((9u - v) >> 31);

	return (char)('0' + v + ((0u - above9) & (uint32_t)('a' - '0' - 10)));
}

void ct_hex_encode(char *out, const uint8_t *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = ct_hex_digit((uint32_t)in[i] >> 4);
		out[2 * i + 1] = ct_hex_digit((uint32_t)in[i] & 0xfu);
	}
	out[2 * n] = '\0';
}

/* Value of hex digit c (0..15); *err gets all ones or'ed in when c is not a hex digit. */
static uint32_t ct_hex_value(unsigned char ch, uint32_t *err)
{
	uint32_t c = ch;
	uint32_t digit = ct_in_range(c, '0', '9');
	uint32_t upper = ct_in_range(c, 'A', 'F');
	uint32_t lower = ct_in_range(c, 'a', 'f');

	*err |= ~(digit | upper | lower);
	return (digit & (c - '0')) | (upper & (c - 'A' + 10)) | (lower & (c - 'a' + 10));
}

int ct_hex_decode(uint8_t *out, size_t n, const char *in, size_t inlen)
{
	uint32_t err = 0;

	/* Lengths are public, so this early exit leaks nothing. */
	if (n > SIZE_MAX / 2 || inlen != 2 * n) {
		if (n)
			explicit_bzero(out, n);
		return -EBADMSG;
	}
	/* Every character is decoded even after a bad one: the error is only accumulated. */
	for (size_t i = 0; i < n; i++) {
		uint32_t hi = ct_hex_value((unsigned char)in[2 * i], &err);
		uint32_t lo = ct_hex_value((unsigned char)in[2 * i + 1], &err);

		out[i] = (uint8_t)((hi << 4) | lo);
	}
	if (err) {
		explicit_bzero(out, n);
		return -EBADMSG;
	}
	return 0;
}

/*
 * Base64 digit for a 6-bit value, by range masks (A-Z, a-z, 0-9, then c62 and c63: '+' '/'
 * or, URL-safe, '-' '_'). Which alphabet is public; the value is not.
 */
static char ct_base64_digit(uint32_t v, char c62, char c63)
{
	uint32_t upper = ct_in_range(v, 0, 25), lower = ct_in_range(v, 26, 51);
	uint32_t digit = ct_in_range(v, 52, 61), plus = ct_in_range(v, 62, 62);
	uint32_t slash = ct_in_range(v, 63, 63);

	return (char)((upper & (v + 'A')) | (lower & (v - 26 + 'a')) | (digit & (v - 52 + '0')) |
		      (plus & (uint32_t)c62) | (slash & (uint32_t)c63));
}

/* Encodes in[0..n) with the given digits 62 and 63, '=' padding or none; returns the length. */
static size_t ct_base64_encode_alphabet(char *out, const uint8_t *in, size_t n, char c62,
					char c63, bool pad)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t b0 = in[i], b1 = i + 1 < n ? in[i + 1] : 0, b2 = i + 2 < n ? in[i + 2] : 0;
		uint32_t w = b0 << 16 | b1 << 8 | b2;

		out[o++] = ct_base64_digit(w >> 18, c62, c63);
		out[o++] = ct_base64_digit((w >> 12) & 0x3f, c62, c63);
		if (i + 1 < n)
			out[o++] = ct_base64_digit((w >> 6) & 0x3f, c62, c63);
		else if (pad)
			out[o++] = '=';
		if (i + 2 < n)
			out[o++] = ct_base64_digit(w & 0x3f, c62, c63);
		else if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

void ct_base64_encode(char *out, const uint8_t *in, size_t n)
{
	(void)ct_base64_encode_alphabet(out, in, n, '+', '/', true);
}

size_t ct_base64url_encode(char *out, const uint8_t *in, size_t n)
{
	return ct_base64_encode_alphabet(out, in, n, '-', '_', false);
}

/*
 * Value of base64 digit c; *err gets all ones or'ed in when c is not one. With url_too, '-'
 * and '_' are digits 62 and 63 as well.
 */
static uint32_t ct_base64_value(unsigned char ch, bool url_too, uint32_t *err)
{
	uint32_t c = ch, url = 0u - (uint32_t)url_too;
	uint32_t upper = ct_in_range(c, 'A', 'Z'), lower = ct_in_range(c, 'a', 'z');
	uint32_t digit = ct_in_range(c, '0', '9');
	uint32_t plus = ct_in_range(c, '+', '+') | (url & ct_in_range(c, '-', '-'));
	uint32_t slash = ct_in_range(c, '/', '/') | (url & ct_in_range(c, '_', '_'));

	*err |= ~(upper | lower | digit | plus | slash);
	return (upper & (c - 'A')) | (lower & (c - 'a' + 26)) | (digit & (c - '0' + 52)) |
	       (plus & 62u) | (slash & 63u);
}

int ct_base64_decode(uint8_t *out, size_t outcap, const char *in, size_t inlen)
{
	return ct_base64_decode_full(out, outcap, in, inlen, 0);
}

int ct_base64_decode_full(uint8_t *out, size_t outcap, const char *in, size_t inlen,
			  unsigned flags)
{
	bool url_too = flags & CT_BASE64_URL_TOO;
	uint32_t err = 0;
	size_t pad = 0, n, o = 0, padded = inlen;

	/* Length and padding are public. Unpadded text is read as if padded to a multiple of 4. */
	if (inlen % 4 != 0) {
		if (!(flags & CT_BASE64_PAD_OPTIONAL) || inlen % 4 == 1 ||
		    memchr(in, '=', inlen))
			return -EBADMSG;
		padded = inlen + (4 - inlen % 4);
		pad = padded - inlen;
	} else if (inlen >= 1 && in[inlen - 1] == '=')
		pad = inlen >= 2 && in[inlen - 2] == '=' ? 2 : 1;
	n = padded / 4 * 3 - pad;
	if (n > outcap)
		return -EMSGSIZE;
	for (size_t i = 0; i < padded; i += 4) {
		bool last = i + 4 == padded;
		size_t digits = last ? 4 - pad : 4;
		uint32_t w = 0;

		for (size_t k = 0; k < 4; k++)
			w = w << 6 | (k < digits ? ct_base64_value((unsigned char)in[i + k], url_too,
								   &err)
						 : 0);
		out[o++] = (uint8_t)(w >> 16);
		if (digits > 2)
			out[o++] = (uint8_t)(w >> 8);
		if (digits > 3)
			out[o++] = (uint8_t)w;
		/* Canonical form: the bits the padding leaves unused must be zero. */
		if (digits < 4)
			err |= 0u - (uint32_t)((w & (digits == 2 ? 0xffffu : 0xffu)) != 0);
	}
	if (err) {
		if (o)
			explicit_bzero(out, o);
		return -EBADMSG;
	}
	return (int)n;
}

int ct_base64_decode_str(const char *s, uint8_t *out, size_t cap, size_t *ret_len)
{
	int n = ct_base64_decode(out, cap, s, strlen(s));

	if (n < 0)
		return n;
	*ret_len = (size_t)n;
	return 0;
}
