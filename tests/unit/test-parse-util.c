/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for parse-util: whole-string integers with their range checked. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "parse-util.h"
#include "test.h"

TEST(parse_uint64_accepts_whole_numbers)
{
	uint64_t v = 7;

	ASSERT_EQ(parse_uint64("0", 0, 10, &v), 0);
	ASSERT_EQ(v, 0);
	ASSERT_EQ(parse_uint64("604800", 1, 604800, &v), 0);
	ASSERT_EQ(v, 604800);
	ASSERT_EQ(parse_uint64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	ASSERT_TRUE(v == UINT64_MAX);
	ASSERT_EQ(parse_uint64_full("ff", 16, 0, 0, UINT64_MAX, &v), 0);
	ASSERT_EQ(v, 255);
	ASSERT_EQ(parse_uint64_full("0x1F", 16, 0, 0, UINT64_MAX, &v), 0);
	ASSERT_EQ(v, 31);
	ASSERT_EQ(parse_uint64_full("0x10", 0, 0, 0, UINT64_MAX, &v), 0);
	ASSERT_EQ(v, 16);
	ASSERT_EQ(parse_uint64_full("42\n", 10, PARSE_NEWLINE, 0, 100, &v), 0);
	ASSERT_EQ(v, 42);
}

TEST(parse_uint64_refuses_what_strtoul_would_take)
{
	static const char *const bad[] = {
		"", " 5", "+5", "-1", "-0", "5 ", "5x", "0x", "1e3", "\n", "5\n", "12\n\n", "x5",
	};
	uint64_t v = 7;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_EQ(parse_uint64(bad[i], 0, UINT64_MAX, &v), -EINVAL);
		ASSERT_EQ(v, 7); /* untouched on failure */
	}
	/* A newline only where allowed, and only one. */
	ASSERT_EQ(parse_uint64_full("5\n\n", 10, PARSE_NEWLINE, 0, 10, &v), -EINVAL);
	ASSERT_EQ(parse_uint64_full("ff", 10, 0, 0, UINT64_MAX, &v), -EINVAL);
	ASSERT_EQ(parse_uint64_full("5", 8, 0, 0, UINT64_MAX, &v), -EINVAL);
	ASSERT_EQ(parse_uint64(NULL, 0, 1, &v), -EINVAL);
	ASSERT_EQ(v, 7);
}

TEST(parse_uint_ranges)
{
	uint64_t v = 7;
	uint32_t u = 7;

	ASSERT_EQ(parse_uint64("0", 1, 10, &v), -ERANGE);
	ASSERT_EQ(parse_uint64("11", 1, 10, &v), -ERANGE);
	ASSERT_EQ(parse_uint64("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
	ASSERT_EQ(v, 7);
	ASSERT_EQ(parse_uint32("4294967295", 0, UINT32_MAX, &u), 0);
	ASSERT_TRUE(u == UINT32_MAX);
	u = 7;
	ASSERT_EQ(parse_uint32("4294967296", 0, UINT32_MAX, &u), -ERANGE);
	ASSERT_EQ(parse_uint32("4294967295", 0, UINT32_MAX - 1, &u), -ERANGE);
	ASSERT_EQ(u, 7);
}

TEST(parse_int64_signed)
{
	int64_t v = 7;

	ASSERT_EQ(parse_int64("-2147483648", INT32_MIN, INT32_MAX, &v), 0);
	ASSERT_EQ(v, INT32_MIN);
	ASSERT_EQ(parse_int64("2147483647", INT32_MIN, INT32_MAX, &v), 0);
	ASSERT_EQ(v, INT32_MAX);
	v = 7;
	ASSERT_EQ(parse_int64("2147483648", INT32_MIN, INT32_MAX, &v), -ERANGE);
	ASSERT_EQ(parse_int64("-9223372036854775809", INT64_MIN, INT64_MAX, &v), -ERANGE);
	ASSERT_EQ(parse_int64("-", INT64_MIN, INT64_MAX, &v), -EINVAL);
	ASSERT_EQ(parse_int64("--1", INT64_MIN, INT64_MAX, &v), -EINVAL);
	ASSERT_EQ(parse_int64("+1", INT64_MIN, INT64_MAX, &v), -EINVAL);
	ASSERT_EQ(parse_int64(" 1", INT64_MIN, INT64_MAX, &v), -EINVAL);
	ASSERT_EQ(parse_int64("1 ", INT64_MIN, INT64_MAX, &v), -EINVAL);
	ASSERT_EQ(v, 7);
}

TEST(parse_hex_digit_both_cases_only)
{
	static const char digits[] = "0123456789abcdef", upper[] = "ABCDEF";

	for (int i = 0; i < 16; i++)
		ASSERT_EQ(parse_hex_digit(digits[i]), i);
	for (int i = 0; i < 6; i++)
		ASSERT_EQ(parse_hex_digit(upper[i]), 10 + i);
	for (int c = 0; c < 256; c++) {
		if (c < 128 && strchr("0123456789abcdefABCDEF", c) && c != 0)
			continue;
		ASSERT_EQ(parse_hex_digit((char)c), -EINVAL);
	}
}

TEST(parse_uint64_pair_whole_pair_only)
{
	uint64_t a = 7, b = 9;

	ASSERT_EQ(parse_uint64_pair("8:12345", ':', &a, &b), 0);
	ASSERT_EQ(a, 8);
	ASSERT_EQ(b, 12345);
	ASSERT_EQ(parse_uint64_pair("0:18446744073709551615", ':', &a, &b), 0);
	ASSERT_EQ(a, 0);
	ASSERT_TRUE(b == UINT64_MAX);
	ASSERT_EQ(parse_uint64_pair("0000000000000000000000001:2", ':', &a, &b), 0);
	ASSERT_EQ(a, 1);
	ASSERT_EQ(b, 2);

	a = 7;
	b = 9;
	ASSERT_EQ(parse_uint64_pair("18446744073709551616:1", ':', &a, &b), -ERANGE);
	ASSERT_EQ(parse_uint64_pair("1:18446744073709551616", ':', &a, &b), -ERANGE);
	ASSERT_EQ(parse_uint64_pair("", ':', &a, &b), -EINVAL);
	ASSERT_EQ(parse_uint64_pair("12", ':', &a, &b), -EINVAL);
	ASSERT_EQ(parse_uint64_pair(":12", ':', &a, &b), -EINVAL);
	ASSERT_EQ(parse_uint64_pair("12:", ':', &a, &b), -EINVAL);
	ASSERT_EQ(parse_uint64_pair("1:2:3", ':', &a, &b), -EINVAL);
	ASSERT_EQ(parse_uint64_pair(" 1:2", ':', &a, &b), -EINVAL);
	ASSERT_EQ(parse_uint64_pair("1: 2", ':', &a, &b), -EINVAL);
	ASSERT_EQ(parse_uint64_pair("-1:2", ':', &a, &b), -EINVAL);
	ASSERT_EQ(parse_uint64_pair("1:+2", ':', &a, &b), -EINVAL);
	ASSERT_EQ(parse_uint64_pair("1:2x", ':', &a, &b), -EINVAL);
	ASSERT_EQ(parse_uint64_pair("1;2", ':', &a, &b), -EINVAL);
	ASSERT_EQ(parse_uint64_pair("1:2", '\0', &a, &b), -EINVAL);
	ASSERT_EQ(parse_uint64_pair(NULL, ':', &a, &b), -EINVAL);
	ASSERT_EQ(a, 7);
	ASSERT_EQ(b, 9);
}
