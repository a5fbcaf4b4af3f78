/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one integer parser for command lines, environment variables and small files. Stricter
 * than strtoul(3): the whole string must be the number, so no leading white space, no '+', no
 * '-' for unsigned values (strtoul turns "-1" into ULONG_MAX), no trailing characters, and the
 * range is checked here. Library code; never logs (the caller names the bad option).
 */
#pragma once

#include <stdint.h>

#include "macro.h"

enum parse_flags {
	PARSE_NEWLINE = 1u << 0, /* one trailing '\n' is allowed (file and sysfs contents) */
};

/*
 * Parses s as an unsigned integer in base (10; 16 with an optional "0x"; 0 for C's prefixes)
 * within [min, max]. Returns 0 and sets *ret_value, -EINVAL when s is not such a number
 * (empty, sign, white space, other characters), or -ERANGE when it is out of range.
 */
int parse_uint64_full(const char *s, unsigned base, unsigned flags, uint64_t min, uint64_t max,
		      uint64_t *ret_value) _wur_;

/*
 * Parses s as two decimal unsigned integers separated by exactly one sep, each the whole of its
 * part as parse_uint64() wants it (systemd's "DEV:INODE" in JOURNAL_STREAM). Returns 0 and sets
 * *ret_first and *ret_second, -EINVAL when s is not such a pair, or -ERANGE when a part is over
 * UINT64_MAX. Outputs untouched on failure.
 */
int parse_uint64_pair(const char *s, char sep, uint64_t *ret_first, uint64_t *ret_second) _wur_;

/*
 * Value of the hexadecimal digit c (either case), or -EINVAL. Not constant time: for public
 * text (JSON escapes, measurements, URIs); secrets go through ct_hex_decode().
 */
int parse_hex_digit(char c);

/* A decimal signed integer (optional leading '-') within [min, max]; returns as above. */
int parse_int64(const char *s, int64_t min, int64_t max, int64_t *ret_value) _wur_;

/* Decimal, the whole string, within [min, max]; returns as parse_uint64_full(). */
static inline int parse_uint64(const char *s, uint64_t min, uint64_t max, uint64_t *ret_value)
{
	return parse_uint64_full(s, 10, 0, min, max, ret_value);
}

/* As parse_uint64() for a 32-bit result (max is capped at UINT32_MAX). */
static inline int parse_uint32(const char *s, uint32_t min, uint32_t max, uint32_t *ret_value)
{
	uint64_t v;
	int r = parse_uint64_full(s, 10, 0, min, max, &v);

	if (r < 0)
		return r;
	*ret_value = (uint32_t)v;
	return 0;
}
