/* SPDX-License-Identifier: Apache-2.0 */
/* Escaping untrusted text for terminals and logs (see escape.h). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "escape.h"
#include "text.h"

/* Code points that change how a terminal shows the rest of the line. */
static bool cp_is_control(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) ||
	       (cp >= 0x200e && cp <= 0x200f) || /* LRM, RLM */
	       (cp >= 0x202a && cp <= 0x202e) || /* LRE .. RLO */
	       (cp >= 0x2066 && cp <= 0x2069) || /* LRI .. PDI */
	       cp == 0x061c || cp == 0x2028 || cp == 0x2029 || cp == 0xfeff;
}

/* The escaped form of one character (k bytes at p) into buf; returns its length. */
static size_t escape_one(const uint8_t *p, size_t k, bool keep, char *buf)
{
	size_t n = 0;

	if (keep) {
		memcpy(buf, p, k);
		return k;
	}
	for (size_t i = 0; i < k; i++) {
		const char *named = p[i] == '\r' ? "\\r" : p[i] == '\n' ? "\\n" : p[i] == '\t' ? "\\t"
				  : p[i] == '\\' ? "\\\\" : NULL;
		if (named) {
			memcpy(buf + n, named, 2);
			n += 2;
		} else {
			snprintf(buf + n, 5, "\\x%02x", p[i]);
			n += 4;
		}
	}
	return n;
}

char *text_escape_mem(const void *s, size_t n, char *out, size_t outlen)
{
	const uint8_t *p = s;
	size_t o = 0;

	if (outlen < 8) {
		if (outlen)
			out[0] = 0;
		return out;
	}
	for (size_t i = 0; i < n;) {
		char buf[16];
		uint32_t cp = 0;
		size_t k = text_utf8_decode(p + i, n - i, &cp);
		bool keep = k > 0 && !cp_is_control(cp);
		size_t m = escape_one(p + i, k ? k : 1, keep, buf);

		/* Room for this character, and for "..." if more follows. */
		if (o + m + (i + (k ? k : 1) < n ? 3 : 0) > outlen - 1) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(out + o, buf, m);
		o += m;
		i += k ? k : 1;
	}
	out[o] = 0;
	return out;
}

char *text_escape(const char *s, char *out, size_t outlen)
{
	if (!s)
		return text_escape_mem("(null)", 6, out, outlen);
	return text_escape_mem(s, strlen(s), out, outlen);
}
