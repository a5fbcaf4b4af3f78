/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Minimal unit-test harness. Each TEST() registers itself; the runner (test-main.c) runs them
 * all (or those whose name contains argv[1]) and ends with "N passed, N failed".
 * A failing assertion prints file, line and both values, marks the test failed and returns
 * from the test function.
 */
#pragma once

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct test_case {
	const char *name;
	const char *file;
	void (*fn)(void);
	struct test_case *next;
};

void test_register(struct test_case *tc);
void test_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool test_failed(void);

/* Path of a file under the vectors directory ($VHSM_VECTORS); static buffer, valid until the
 * next call. */
const char *test_vector(const char *rel);
/* A fresh empty temporary directory for this test (removed by the runner at exit). */
const char *test_tmpdir(void);
/* Reads a whole file (aborts the test run on error: test data must exist). */
uint8_t *test_read_file(const char *path, size_t *ret_len);
/* HKDF-SHA256 through OpenSSL's own EVP_KDF (test-hkdf.c), for checks of a format that must
 * not depend on lib/hkdf.c. 0 or -1. */
int test_openssl_hkdf(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
		      const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len);

#define TEST(tname)                                                                                \
	static void test_##tname(void);                                                            \
	static struct test_case tc_##tname = { #tname, __FILE__, test_##tname, NULL };            \
	__attribute__((constructor)) static void test_reg_##tname(void)                            \
	{                                                                                          \
		test_register(&tc_##tname);                                                        \
	}                                                                                          \
	static void test_##tname(void)

#define ASSERT_TRUE(x)                                                                             \
	do {                                                                                       \
		if (!(x)) {                                                                        \
			test_fail(__FILE__, __LINE__, "expected true: %s", #x);                    \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define ASSERT_FALSE(x) ASSERT_TRUE(!(x))

#define ASSERT_INT_OP(a, op, b)                                                                    \
	do {                                                                                       \
		long long _a = (long long)(a), _b = (long long)(b);                                \
		if (!(_a op _b)) {                                                                 \
			test_fail(__FILE__, __LINE__, "expected %s %s %s: %lld vs %lld", #a, #op,  \
				  #b, _a, _b);                                                     \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define ASSERT_EQ(a, b) ASSERT_INT_OP(a, ==, b)
#define ASSERT_NE(a, b) ASSERT_INT_OP(a, !=, b)
#define ASSERT_LT(a, b) ASSERT_INT_OP(a, <, b)
#define ASSERT_LE(a, b) ASSERT_INT_OP(a, <=, b)
#define ASSERT_GE(a, b) ASSERT_INT_OP(a, >=, b)
#define ASSERT_GT(a, b) ASSERT_INT_OP(a, >, b)
/* Success means r >= 0 (our functions return 0 or -errno). */
#define ASSERT_OK(r) ASSERT_INT_OP(r, >=, 0)

#define ASSERT_STREQ(a, b)                                                                         \
	do {                                                                                       \
		const char *_a = (a), *_b = (b);                                                   \
		if (!_a || !_b || strcmp(_a, _b) != 0) {                                           \
			test_fail(__FILE__, __LINE__, "expected %s == %s: \"%s\" vs \"%s\"", #a,   \
				  #b, _a ? _a : "(null)", _b ? _b : "(null)");                     \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define ASSERT_MEMEQ(a, b, n)                                                                      \
	do {                                                                                       \
		if (memcmp((a), (b), (n)) != 0) {                                                  \
			test_fail(__FILE__, __LINE__, "expected %zu bytes of %s == %s",            \
				  (size_t)(n), #a, #b);                                            \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define ASSERT_MEMNE(a, b, n)                                                                      \
	do {                                                                                       \
		if (memcmp((a), (b), (n)) == 0) {                                                  \
			test_fail(__FILE__, __LINE__, "expected %s != %s", #a, #b);                \
			return;                                                                    \
		}                                                                                  \
	} while (0)
