/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Name validation (see text.h). One implementation of the text rule for the wire codec,
 * sealing and wrapping, and one of the key-name rule for everything that names a key, so
 * that a name one of them accepts is never refused by another; and the escape of untrusted
 * text for records.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

size_t text_utf8_decode(const uint8_t *s, size_t n, uint32_t *ret_cp)
{
	uint32_t cp, min;
	size_t len;

	if (n == 0)
		return 0;
	if (s[0] < 0x80) {
		len = 1, cp = s[0], min = 0;
	} else if ((s[0] & 0xe0) == 0xc0) {
		len = 2, cp = s[0] & 0x1fu, min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3, cp = s[0] & 0x0fu, min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4, cp = s[0] & 0x07u, min = 0x10000;
	} else {
		return 0; /* a continuation byte, or a 5- or 6-byte form RFC 3629 removed */
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	/* Overlong forms (lead bytes C0, C1 among them), surrogates, beyond U+10FFFF (F5..F7). */
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	if (ret_cp)
		*ret_cp = cp;
	return len;
}

bool text_name_valid(const uint8_t *s, size_t n, size_t max)
{
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k = text_utf8_decode(s + i, n - i, &cp);

		if (k == 0)
			return false;
		if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || cp == '/')
			return false;
		i += k;
	}
	return true;
}

bool text_key_name_valid_n(const char *s, size_t n)
{
	if (!s || n == 0 || n > TEXT_KEY_NAME_MAX || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

bool text_key_name_valid(const char *s)
{
	return s && text_key_name_valid_n(s, strnlen(s, TEXT_KEY_NAME_MAX + 1));
}

const char *text_key_name_error(char out[static TEXT_KEY_NAME_ERR_MAX], const char *kind,
				const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	/* kind is one of the program's own words ("KEK", "DEK"), never input. */
	o += (size_t)snprintf(out, TEXT_KEY_NAME_ERR_MAX, "invalid %.16s%sname '", kind ? kind : "",
			      kind ? " " : "");
	for (size_t i = 0; s && i < n && i < TEXT_KEY_NAME_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
			out[o++] = (char)c;
			continue;
		}
		out[o++] = '\\', out[o++] = 'x', out[o++] = hex[c >> 4], out[o++] = hex[c & 15];
	}
	if (s && n > TEXT_KEY_NAME_MAX)
		memcpy(out + o, "...", 3), o += 3;
	snprintf(out + o, TEXT_KEY_NAME_ERR_MAX - o, "': %s", TEXT_KEY_NAME_RULE);
	return out;
}

/* The escape of the character at s[0..n) into e (at least 11 bytes); returns bytes used. */
static size_t escape_one(const uint8_t *s, size_t n, char *e, size_t *ret_used)
{
	uint32_t cp = 0; /* set by the decoder whenever k > 0 */
	size_t k = text_utf8_decode(s, n, &cp);

	if (k == 1 && cp >= 0x20 && cp < 0x7f) {
		e[0] = (char)cp, e[1] = 0;
	} else if (k > 1 && cp <= 0xffff && cp >= 0xa0) {
		snprintf(e, 11, "\\u%04x", (unsigned)cp);
	} else if (k > 1 && cp > 0xffff) {
		snprintf(e, 11, "\\U%08x", (unsigned)cp);
	} else {
		/* Control characters, C1 and bytes that are not UTF-8: one byte at a time. */
		snprintf(e, 11, "\\x%02x", s[0]);
		k = 1;
	}
	*ret_used = k;
	return strlen(e);
}

/* The length of the whole escape of s[0..n). */
static size_t escape_len(const uint8_t *s, size_t n)
{
	size_t total = 0;

	for (size_t i = 0; i < n;) {
		char e[11];
		size_t used;

		total += escape_one(s + i, n - i, e, &used);
		i += used;
	}
	return total;
}

size_t text_escape_bytes(const uint8_t *s, size_t n, char *out, size_t outlen)
{
	size_t o = 0, room;

	assert(out && outlen >= 4);
	/* When it does not all fit, leave room for a "..." that says something is missing. */
	room = escape_len(s, n) < outlen ? outlen - 1 : outlen - 4;
	for (size_t i = 0; i < n;) {
		char e[11];
		size_t used, el = escape_one(s + i, n - i, e, &used);

		if (o + el > room) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(out + o, e, el);
		o += el;
		i += used;
	}
	out[o] = 0;
	return o;
}

char *text_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}
