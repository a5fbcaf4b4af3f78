/* SPDX-License-Identifier: Apache-2.0 */
/* The one integer parser (see parse-util.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "parse-util.h"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Whether a number in base may start with c (hex digits count in base 16 only). */
static bool is_first_digit(char c, unsigned base)
{
	return is_digit(c) ||
	       (base == 16 && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')));
}

/* What may follow the number: nothing, or with PARSE_NEWLINE one '\n'. */
static bool rest_ok(const char *e, unsigned flags)
{
	return *e == '\0' || ((flags & PARSE_NEWLINE) && e[0] == '\n' && e[1] == '\0');
}

int parse_uint64_full(const char *s, unsigned base, unsigned flags, uint64_t min, uint64_t max,
		      uint64_t *ret_value)
{
	unsigned long long v;
	char *e;

	if (!s || !ret_value || (base != 0 && base != 10 && base != 16))
		return -EINVAL;
	/* strtoull would skip white space and accept a sign (and negate with '-'). */
	if (!is_first_digit(s[0], base))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &e, (int)base);
	if (e == s || !rest_ok(e, flags))
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	if (errno != 0)
		return -EINVAL;
	*ret_value = v;
	return 0;
}

/* The n bytes at s as one decimal number, every byte a digit; overflow is -ERANGE. */
static int parse_decimal_span(const char *s, size_t n, uint64_t *ret_value)
{
	uint64_t v = 0;

	if (n == 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned d;

		if (!is_digit(s[i]))
			return -EINVAL;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*ret_value = v;
	return 0;
}

int parse_uint64_pair(const char *s, char sep, uint64_t *ret_first, uint64_t *ret_second)
{
	const char *m;
	uint64_t a, b;
	int r;

	if (!s || !ret_first || !ret_second || sep == '\0' || is_digit(sep))
		return -EINVAL;
	m = strchr(s, sep);
	if (!m)
		return -EINVAL;
	r = parse_decimal_span(s, (size_t)(m - s), &a);
	if (r < 0)
		return r;
	r = parse_decimal_span(m + 1, strlen(m + 1), &b);
	if (r < 0)
		return r;
	*ret_first = a;
	*ret_second = b;
	return 0;
}

int parse_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -EINVAL;
}

int parse_int64(const char *s, int64_t min, int64_t max, int64_t *ret_value)
{
	long long v;
	char *e;

	if (!s || !ret_value)
		return -EINVAL;
	if (!is_digit(s[s[0] == '-']))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &e, 10);
	if (e == s || *e != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	if (errno != 0)
		return -EINVAL;
	*ret_value = v;
	return 0;
}
