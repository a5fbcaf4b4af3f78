/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Name validation tests: the RFC 3629 decoder on its boundaries, and the name rule the wire
 * codec, sealing and wrapping share, checked for every code point, every overlong form, every
 * broken continuation and truncation (a superset of the strings in test-wire.c), NUL and the
 * length bounds.
 */
#include <string.h>

#include "test.h"
#include "text.h"

/* Decodes one sequence and returns its length, with the code point in *cp (0xffffffff if
 * the decoder left it alone). */
static size_t decode(const char *s, size_t n, uint32_t *cp)
{
	*cp = UINT32_MAX;
	return text_utf8_decode((const uint8_t *)s, n, cp);
}

TEST(text_utf8_decode_boundaries)
{
	static const struct {
		const char *s;
		size_t len;
		uint32_t cp;
	} good[] = {
		{ "\x00", 1, 0x0 }, /* well formed; names refuse it, not the decoder */
		{ "\x7f", 1, 0x7f },
		{ "\xc2\x80", 2, 0x80 },
		{ "\xdf\xbf", 2, 0x7ff },
		{ "\xe0\xa0\x80", 3, 0x800 },
		{ "\xed\x9f\xbf", 3, 0xd7ff },
		{ "\xee\x80\x80", 3, 0xe000 },
		{ "\xef\xbf\xbf", 3, 0xffff },
		{ "\xf0\x90\x80\x80", 4, 0x10000 },
		{ "\xf4\x8f\xbf\xbf", 4, 0x10ffff },
	};
	uint32_t cp;

	for (size_t i = 0; i < ELEMENTSOF(good); i++) {
		ASSERT_EQ(decode(good[i].s, good[i].len, &cp), good[i].len);
		ASSERT_EQ(cp, good[i].cp);
	}
	/* Only the first sequence counts: trailing bytes are the caller's next step. */
	ASSERT_EQ(decode("\xe2\x82\xac" "abc", 6, &cp), 3);
	ASSERT_EQ(cp, 0x20ac);
	ASSERT_EQ(decode("", 0, &cp), 0);
	ASSERT_EQ(cp, UINT32_MAX);
	ASSERT_EQ(decode("\xc0\x80", 2, &cp), 0);         /* overlong NUL */
	ASSERT_EQ(decode("\xe0\x9f\xbf", 3, &cp), 0);     /* overlong U+07FF */
	ASSERT_EQ(decode("\xf0\x8f\xbf\xbf", 4, &cp), 0); /* overlong U+FFFF */
	ASSERT_EQ(decode("\xed\xa0\x80", 3, &cp), 0);     /* U+D800 */
	ASSERT_EQ(decode("\xed\xbf\xbf", 3, &cp), 0);     /* U+DFFF */
	ASSERT_EQ(decode("\xf4\x90\x80\x80", 4, &cp), 0); /* U+110000 */
	ASSERT_EQ(decode("\xf7\xbf\xbf\xbf", 4, &cp), 0); /* U+1FFFFF */
	ASSERT_EQ(decode("\xf8\x88\x80\x80\x80", 5, &cp), 0);
	ASSERT_EQ(decode("\x80", 1, &cp), 0);
	/* A sequence longer than what is left: the bytes past n are never read. */
	ASSERT_EQ(decode("\xe2\x82\xac", 2, &cp), 0);
	ASSERT_EQ(decode("\xf0\x9f\x98\x80", 3, &cp), 0);
	ASSERT_EQ(cp, UINT32_MAX);
	/* ret_cp is optional */
	ASSERT_EQ(text_utf8_decode((const uint8_t *)"\xc3\xa9", 2, NULL), 2);
}

/*
 * Writes cp in the UTF-8 form of len bytes (1..4) whether or not that form is the shortest or
 * cp is a scalar value: it builds the overlong and out-of-range forms the decoder must refuse.
 */
static void utf8_put(uint8_t *out, uint32_t cp, size_t len)
{
	static const uint8_t lead[] = { 0, 0x00, 0xc0, 0xe0, 0xf0 };

	for (size_t i = len - 1; i > 0; i--, cp >>= 6)
		out[i] = (uint8_t)(0x80 | (cp & 0x3f));
	out[0] = (uint8_t)(lead[len] | cp);
}

static size_t utf8_len(uint32_t cp)
{
	return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

static bool name_char_allowed(uint32_t cp)
{
	return !(cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || cp == '/');
}

/* Every code point, in its shortest form, alone and between two letters. */
TEST(text_name_valid_every_code_point)
{
	uint8_t buf[6];

	for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
		size_t len = utf8_len(cp);
		bool surrogate = cp >= 0xd800 && cp <= 0xdfff, want;
		uint32_t got = UINT32_MAX;

		utf8_put(buf + 1, cp, len);
		want = !surrogate && name_char_allowed(cp);
		if (text_utf8_decode(buf + 1, len, &got) != (surrogate ? 0 : len) ||
		    got != (surrogate ? UINT32_MAX : cp) ||
		    text_name_valid(buf + 1, len, 4) != want) {
			test_fail(__FILE__, __LINE__, "U+%04" PRIX32 " misjudged", cp);
			return;
		}
		buf[0] = 'a', buf[len + 1] = 'z';
		if (text_name_valid(buf, len + 2, 6) != want) {
			test_fail(__FILE__, __LINE__, "a U+%04" PRIX32 " z misjudged", cp);
			return;
		}
	}
}

/* Overlong forms of every code point they can carry, and code points beyond U+10FFFF. */
TEST(text_name_valid_overlong_and_out_of_range)
{
	static const uint32_t limit[] = { 0, 0, 0x80, 0x800, 0x10000 };
	uint8_t buf[4];

	for (size_t len = 2; len <= 4; len++)
		for (uint32_t cp = 0; cp < limit[len]; cp++) {
			utf8_put(buf, cp, len);
			if (text_utf8_decode(buf, len, NULL) != 0 || text_name_valid(buf, len, 4))
				test_fail(__FILE__, __LINE__, "overlong U+%04" PRIX32 " in %zu bytes",
					  cp, len);
		}
	/* F4 90.. up to what the F0..F7 lead bytes encode */
	for (uint32_t cp = 0x110000; cp <= 0x1fffff; cp += 0x3f) {
		utf8_put(buf, cp, 4);
		if (text_utf8_decode(buf, 4, NULL) != 0 || text_name_valid(buf, 4, 4))
			test_fail(__FILE__, __LINE__, "U+%06" PRIX32 " accepted", cp);
	}
	ASSERT_FALSE(test_failed());
}

/* Lone continuation bytes, the lead bytes RFC 3629 removed, and every broken continuation. */
TEST(text_name_valid_broken_sequences)
{
	static const char *const seqs[] = { "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80" };
	uint8_t buf[4];

	for (unsigned b = 0x80; b <= 0xff; b++) {
		buf[0] = (uint8_t)b;
		/* alone, every lead byte but an ASCII one is a truncated or invalid sequence */
		ASSERT_FALSE(text_name_valid(buf, 1, 4));
		if (b >= 0xf8 || b < 0xc0) {
			buf[1] = buf[2] = buf[3] = 0x80;
			ASSERT_FALSE(text_name_valid(buf, 4, 4));
		}
	}
	for (size_t i = 0; i < ELEMENTSOF(seqs); i++) {
		size_t len = strlen(seqs[i]);

		ASSERT_TRUE(text_name_valid((const uint8_t *)seqs[i], len, 4));
		for (size_t cut = 1; cut < len; cut++)
			ASSERT_FALSE(text_name_valid((const uint8_t *)seqs[i], cut, 4));
		/* each continuation byte replaced by every byte that is not one */
		for (size_t pos = 1; pos < len; pos++)
			for (unsigned b = 0; b <= 0xff; b++) {
				if ((b & 0xc0) == 0x80)
					continue;
				memcpy(buf, seqs[i], len);
				buf[pos] = (uint8_t)b;
				ASSERT_FALSE(text_name_valid(buf, len, 4));
			}
	}
}

TEST(text_name_valid_nul_and_length)
{
	uint8_t buf[300];

	/* Counted bytes: a NUL anywhere is refused, also at the end and alone. */
	ASSERT_FALSE(text_name_valid((const uint8_t *)"a\0b", 3, 255));
	ASSERT_FALSE(text_name_valid((const uint8_t *)"ab\0", 3, 255));
	ASSERT_FALSE(text_name_valid((const uint8_t *)"\0", 1, 255));
	ASSERT_FALSE(text_name_valid(NULL, 0, 255));
	ASSERT_FALSE(text_name_valid((const uint8_t *)"a", 0, 255));
	ASSERT_TRUE(text_name_valid((const uint8_t *)"a", 1, 1));

	memset(buf, 'k', sizeof(buf));
	ASSERT_TRUE(text_name_valid(buf, 255, 255));
	ASSERT_FALSE(text_name_valid(buf, 256, 255));
	ASSERT_TRUE(text_name_valid(buf, 300, 300));
	ASSERT_FALSE(text_name_valid(buf, 5, 4));
	/* max counts bytes, not characters */
	ASSERT_TRUE(text_name_valid((const uint8_t *)"\xe2\x82\xac", 3, 3));
	ASSERT_FALSE(text_name_valid((const uint8_t *)"\xe2\x82\xac", 3, 2));
	/* a sequence cut by n is refused even when the buffer holds the rest */
	ASSERT_FALSE(text_name_valid((const uint8_t *)"ab\xe2\x82\xac", 4, 255));
	ASSERT_TRUE(text_name_valid((const uint8_t *)"ab\xe2\x82\xac", 2, 255));
}

TEST(text_key_name_rule)
{
	static const struct {
		const char *s;
		size_t n;
		bool ok;
	} names[] = {
		{ "a", 1, true },
		{ "disk-kek", 8, true },
		{ "Root_KEK.v2", 11, true },
		{ "0", 1, true },
		{ "a.", 2, true },
		{ "a..b", 4, true }, /* never a path: '/' is refused */
		{ "_x", 2, true },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 64, true },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 65, false },
		{ "", 0, false },
		{ ".", 1, false },
		{ "..", 2, false },
		{ ".hidden", 7, false },
		{ "-rf", 3, false },
		{ "a/b", 3, false },
		{ "/", 1, false },
		{ "a b", 3, false },
		{ "a\nb", 3, false },     /* would break /proc/keys and log lines */
		{ "a\tb", 3, false },
		{ "a\x7f", 2, false },
		{ "a\0b", 3, false },
		{ "a\xe2\x80\xae" "b", 5, false }, /* U+202E RIGHT-TO-LEFT OVERRIDE */
		{ "\xc3\xa9t\xc3\xa9", 5, false }, /* well-formed UTF-8, but not ASCII */
		{ "a\xff", 2, false },             /* not UTF-8 */
		{ "a\xc0\xaf", 3, false },         /* overlong '/' */
		{ "a:b", 3, false },               /* a kid may, a name may not */
		{ "a'b", 3, false },
		{ "a\\b", 3, false },
		{ "a\x1b[2J", 6, false },
	};

	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		if (text_key_name_valid_n(names[i].s, names[i].n) != names[i].ok) {
			test_fail(__FILE__, __LINE__, "case %zu: expected %s", i,
				  names[i].ok ? "valid" : "invalid");
			return;
		}
		/* Every valid key name is also a valid name for the text rule. */
		if (names[i].ok)
			ASSERT_TRUE(text_name_valid((const uint8_t *)names[i].s, names[i].n, 255));
		if (memchr(names[i].s, 0, names[i].n) == NULL)
			ASSERT_EQ(text_key_name_valid(names[i].s), names[i].ok);
	}
	ASSERT_FALSE(text_key_name_valid(NULL));
	ASSERT_FALSE(text_key_name_valid_n(NULL, 0));
}

TEST(text_key_name_error_message)
{
	char msg[TEXT_KEY_NAME_ERR_MAX], longname[300];

	ASSERT_STREQ(text_key_name_error(msg, "KEK", "-x", 2),
		     "invalid KEK name '-x': names are 1-64 characters of A-Z a-z 0-9 _ . -, "
		     "not starting with '.' or '-'");
	ASSERT_STREQ(text_key_name_error(msg, NULL, "a/b", 3),
		     "invalid name 'a/b': " TEXT_KEY_NAME_RULE);
	/* Control, bidi, quote and non-UTF-8 bytes never reach a terminal raw. */
	ASSERT_STREQ(text_key_name_error(msg, "DEK", "a\n\xe2\x80\xae'\\\xff", 8),
		     "invalid DEK name 'a\\x0a\\xe2\\x80\\xae\\x27\\x5c\\xff': " TEXT_KEY_NAME_RULE);
	ASSERT_STREQ(text_key_name_error(msg, "KEK", "", 0), "invalid KEK name '': " TEXT_KEY_NAME_RULE);
	/* The longest input: shortened, and the message still fits. */
	memset(longname, 0xff, sizeof(longname));
	text_key_name_error(msg, "0123456789abcdef", longname, sizeof(longname));
	ASSERT_TRUE(strstr(msg, "...': " TEXT_KEY_NAME_RULE) != NULL);
	ASSERT_LT(strlen(msg), sizeof(msg));
}

/* text_escape_bytes() of a NUL-terminated s into a buffer of outlen. */
static const char *esc(const char *s, size_t outlen)
{
	static char out[256];

	if (outlen > sizeof(out))
		return "(test buffer too small)";
	text_escape_bytes((const uint8_t *)s, strlen(s), out, outlen);
	return out;
}

TEST(text_escape_untrusted)
{
	char out[64];

	ASSERT_STREQ(esc("disk-1.key_A", 64), "disk-1.key_A");
	ASSERT_STREQ(esc("a b:c'\"", 64), "a b:c'\"");
	/* the right-to-left override and other non-ASCII: never raw */
	ASSERT_STREQ(esc("evil\xe2\x80\xaegpj.exe", 64), "evil\\u202egpj.exe");
	ASSERT_STREQ(esc("caf\xc3\xa9", 64), "caf\\u00e9");
	ASSERT_STREQ(esc("\xf0\x9f\x94\x91", 64), "\\U0001f511");
	/* control bytes (C0, DEL, C1) and bytes that are not UTF-8 */
	ASSERT_STREQ(esc("a\nb\tc\x1b[31m", 64), "a\\x0ab\\x09c\\x1b[31m");
	ASSERT_STREQ(esc("\x7f\xc2\x85", 64), "\\x7f\\xc2\\x85");
	/* a backslash stays: safe text passes unchanged, so nothing is escaped twice */
	ASSERT_STREQ(esc("back\\slash", 64), "back\\slash");
	ASSERT_STREQ(esc("invalid KEK name 'e\\xe2': names are", 64),
		     "invalid KEK name 'e\\xe2': names are");
	ASSERT_STREQ(esc("\xff\xc0\xaf\xed\xa0\x80", 64), "\\xff\\xc0\\xaf\\xed\\xa0\\x80");
	ASSERT_STREQ(esc("\xe2\x80", 64), "\\xe2\\x80"); /* truncated sequence */
	/* NUL inside */
	ASSERT_EQ(text_escape_bytes((const uint8_t *)"a\0b", 3, out, sizeof(out)), 6u);
	ASSERT_STREQ(out, "a\\x00b");
	/* too small: cut at a character boundary, marked, terminated */
	ASSERT_STREQ(esc("abcdefgh", 8), "abcd...");
	ASSERT_STREQ(esc("abcdefg", 8), "abcdefg");
	ASSERT_STREQ(esc("ab\xe2\x80\xae", 8), "ab...");
	ASSERT_STREQ(esc("\n\n\n", 4), "...");
	ASSERT_STREQ(esc("", 4), "");
	/* the documented worst case fits without cutting */
	ASSERT_EQ(text_escape_bytes((const uint8_t *)"\x01\x02", 2, out, TEXT_ESCAPE_SIZE(2)), 8u);
}
