/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Escaping untrusted text: the bundle member name that made a refused bundle look verified
 * on a terminal comes out inert, every control byte and bidirectional control is escaped,
 * printable UTF-8 is kept, malformed UTF-8 is escaped byte by byte, and truncation never
 * splits an escape.
 */
#include <string.h>

#include "escape.h"
#include "test.h"

static void assert_inert(const char *s)
{
	for (const char *p = s; *p; p++) {
		ASSERT_TRUE((unsigned char)*p >= 0x20 && *p != 0x7f);
		ASSERT_TRUE((unsigned char)*p != 0xc2 || ((unsigned char)p[1] >= 0xa0));
	}
}

TEST(escape_terminal_attack)
{
	char out[TEXT_ESCAPE_MAX];

	text_escape("\r\x1b[2Kresult: VERIFIED\x1b[8m", out, sizeof(out));
	ASSERT_STREQ(out, "\\r\\x1b[2Kresult: VERIFIED\\x1b[8m");
	assert_inert(out);
	text_escape("a\nb\tc\\d\x7f\x01", out, sizeof(out));
	ASSERT_STREQ(out, "a\\nb\\tc\\d\\x7f\\x01"); /* a backslash is not a control */
	/* C1 CSI (U+009B) and the right-to-left override (U+202E) are controls. */
	text_escape("x\xc2\x9b" "2Ky\xe2\x80\xae", out, sizeof(out));
	ASSERT_STREQ(out, "x\\xc2\\x9b2Ky\\xe2\\x80\\xae");
	assert_inert(out);
}

TEST(escape_keeps_printable_text)
{
	char out[TEXT_ESCAPE_MAX];

	ASSERT_STREQ(text_escape("KEK k1 (vhsm-xk-00ff) at 2026-12-06T21:00:00Z", out, sizeof(out)),
		     "KEK k1 (vhsm-xk-00ff) at 2026-12-06T21:00:00Z");
	ASSERT_STREQ(text_escape("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91", out, sizeof(out)),
		     "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91");
	ASSERT_STREQ(text_escape(NULL, out, sizeof(out)), "(null)");
	ASSERT_STREQ(text_escape("", out, sizeof(out)), "");
}

TEST(escape_malformed_utf8_and_nul)
{
	char out[TEXT_ESCAPE_MAX];

	/* Overlong, truncated and surrogate forms: every byte escaped on its own. */
	ASSERT_STREQ(text_escape("\xc0\x8a|\xe2\x82|\xed\xa0\x80", out, sizeof(out)),
		     "\\xc0\\x8a|\\xe2\\x82|\\xed\\xa0\\x80");
	ASSERT_STREQ(text_escape_mem("a\0b", 3, out, sizeof(out)), "a\\x00b");
}

TEST(escape_truncation)
{
	char out[12], big[3000];

	ASSERT_STREQ(text_escape("abcdefghijklmnop", out, sizeof(out)), "abcdefgh...");
	/* An escape is never cut in half. */
	ASSERT_STREQ(text_escape("abcdef\x1b\x1b\x1b", out, sizeof(out)), "abcdef...");
	ASSERT_STREQ(text_escape("abcdefgh", out, sizeof(out)), "abcdefgh");
	memset(big, 0x1b, sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	char *e = ESCAPED(big);
	ASSERT_TRUE(strlen(e) < TEXT_ESCAPE_MAX);
	ASSERT_TRUE(strlen(e) > TEXT_ESCAPE_MAX - 8);
	ASSERT_STREQ(e + strlen(e) - 3, "...");
	assert_inert(e);
	ASSERT_STREQ(text_escape("abc", out, 4), "");
}
