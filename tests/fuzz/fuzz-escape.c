/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/escape fuzzer. For any bytes, text_escape_mem() must give NUL-terminated, well-formed
 * UTF-8 that fits its buffer and holds no character that moves the cursor or reorders text
 * (checked against this harness's own list: C0, DEL, C1, the bidirectional controls, the line
 * and paragraph separators, the BOM). With room for everything, undoing the escapes gives the
 * input back byte for byte when it holds no backslash (a backslash is kept as it is, so text
 * with one is not reversible); with less room, the output is a prefix of the full one ended
 * by "...".
 */
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool forbidden(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e ||
	       cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
	       cp == 0x2028 || cp == 0x2029 || cp == 0xfeff;
}

static void check_safe(const char *s, size_t outlen)
{
	size_t n = strnlen(s, outlen);

	if (n >= outlen)
		abort();
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k = text_utf8_decode((const uint8_t *)s + i, n - i, &cp);

		if (k == 0 || forbidden(cp))
			abort();
		i += k;
	}
}

static int hex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Undoes the escapes of s into out; returns the length, or aborts on a malformed escape. */
static size_t unescape(const char *s, uint8_t *out)
{
	size_t o = 0;

	for (size_t i = 0; s[i];) {
		if (s[i] != '\\') {
			out[o++] = (uint8_t)s[i++];
			continue;
		}
		switch (s[i + 1]) {
		case 'r': out[o++] = '\r'; i += 2; break;
		case 'n': out[o++] = '\n'; i += 2; break;
		case 't': out[o++] = '\t'; i += 2; break;
		case 'x':
			if (hex(s[i + 2]) < 0 || hex(s[i + 3]) < 0)
				abort();
			out[o++] = (uint8_t)(hex(s[i + 2]) << 4 | hex(s[i + 3]));
			i += 4;
			break;
		default:
			abort();
		}
	}
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t small[] = { 8, 9, 13, 64 };
	size_t full_len = 4 * size + 8; /* at most 4 output bytes per input byte */
	char *full;
	uint8_t *back;

	if (size > 4096)
		return 0;
	full = malloc(full_len);
	back = malloc(size + 1);
	if (!full || !back)
		abort();
	text_escape_mem(data, size, full, full_len);
	check_safe(full, full_len);
	if (!memchr(data, '\\', size) &&
	    (unescape(full, back) != size || memcmp(back, data, size) != 0))
		abort();
	for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
		char out[64];
		size_t n;

		text_escape_mem(data, size, out, small[i]);
		check_safe(out, small[i]);
		n = strlen(out);
		if (strcmp(out, full) == 0)
			continue;
		/* Cut short: a prefix of the full form, then "...". */
		if (n < 3 || memcmp(out + n - 3, "...", 3) != 0 || memcmp(out, full, n - 3) != 0)
			abort();
	}
	free(full);
	free(back);
	return 0;
}
