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
