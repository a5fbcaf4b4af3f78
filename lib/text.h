/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Text rules shared by everything that accepts a name from outside. Two rules: the text rule
 * (text_name_valid: well-formed UTF-8 without control characters or '/') for wire strings,
 * seal labels and wrapped-key names as containers carry them, and the stricter key-name rule
 * (text_key_name_valid) for what names a key. Every key name passes the text rule. A name ends
 * up in file names, log lines and terminals; untrusted text that is recorded anyway (a reason
 * quoting input) is escaped with text_escape_bytes(). Pure; library code, never logs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/*
 * Decodes the UTF-8 sequence at the start of s[0..n). Returns its length (1..4) and stores
 * its code point in *ret_cp (unless ret_cp is NULL), or returns 0 (ret_cp untouched) when
 * n is 0 or the sequence is not well formed per RFC 3629: a bad lead byte, a missing or
 * wrong continuation byte, an overlong form, a UTF-16 surrogate or a code point above
 * U+10FFFF. Control characters are well formed here; text_name_valid() refuses them.
 */
size_t text_utf8_decode(const uint8_t *s, size_t n, uint32_t *ret_cp);

/*
 * True when s[0..n) is a valid name: 1..max bytes of well-formed UTF-8 without control
 * characters (C0 including NUL, DEL, C1) and without '/'. s is not NUL-terminated (n counts
 * the bytes); it may be NULL only when n is 0.
 */
bool text_name_valid(const uint8_t *s, size_t n, size_t max);

/*
 * The one rule for names of keys: KEKs, DEKs, exchange keys (by the KEK they import), LUKS
 * token "kek" members, the kernel keyring descriptions "vhsm:dek:<name>" and the files
 * <name>.* in the state directory. 1..TEXT_KEY_NAME_MAX characters of [A-Za-z0-9_.-], not
 * starting with '.' or '-': so a name is a safe file name (no '/', no "..", no hidden or
 * option-like name), one token in /proc/keys and in log lines (no space, no control
 * character, no newline), and reads the same in every terminal (ASCII only: no bidi override
 * such as U+202E, no look-alike letters). Identifiers that are not names have rules of their
 * own: a BYOK kid (lib/byok.c) also allows ':' and '/'.
 */
#define TEXT_KEY_NAME_MAX 64u
#define TEXT_KEY_NAME_RULE \
	"names are 1-64 characters of A-Z a-z 0-9 _ . -, not starting with '.' or '-'"
/* Longest text_key_name_error() message, with its NUL. */
#define TEXT_KEY_NAME_ERR_MAX 400u

/* True when the NUL-terminated s is a valid key name (see above); false for NULL. */
bool text_key_name_valid(const char *s);

/*
 * True when s[0..n) is a valid key name; for names that arrive with a length (wire strings,
 * fixed fields). An embedded NUL makes it invalid.
 */
bool text_key_name_valid_n(const char *s, size_t n);

/*
 * The one message for an invalid name, written into out and returned:
 * "invalid KIND name 'X': " TEXT_KEY_NAME_RULE ("invalid name 'X': ..." when kind is NULL),
 * where KIND says what the name is for ("KEK", "DEK", "volume": the caller's own word, at
 * most 16 characters) and X is s[0..n) with every byte outside printable ASCII, and ' and \,
 * shown as \xNN, cut after 64 bytes ("..."). Every tool prints this message for a name the
 * rule refuses; X is safe for terminals and logs whatever s holds.
 */
const char *text_key_name_error(char out[static TEXT_KEY_NAME_ERR_MAX], const char *kind,
				const char *s, size_t n);

/*
 * Writes s[0..n) into out (outlen >= 4 bytes, always NUL-terminated) so that it is safe in a
 * log line, the audit log and a terminal: printable ASCII (the backslash too) stays as it is,
 * other well-formed UTF-8 becomes \uXXXX or \UXXXXXXXX (U+202E, the right-to-left override,
 * becomes \u202e), control characters (C0, DEL, C1) and bytes that are not UTF-8 become \xNN.
 * Text that is safe already, such as text_key_name_error()'s message, passes unchanged, so
 * escaping at every sink never escapes twice (the escape is for safety, not reversible).
 * When out is too small the escape is cut at a character boundary and ends in "...".
 * Returns the length written. s may contain NUL bytes (written as \x00).
 */
size_t text_escape_bytes(const uint8_t *s, size_t n, char *out, size_t outlen);

/* The size of a buffer that always holds text_escape_bytes() of n bytes without cutting. */
#define TEXT_ESCAPE_SIZE(n) (4u * (n) + 1u)

/*
 * A newly allocated string formatted like printf (free() it), or NULL when out of memory.
 * Unlike asprintf(), which leaves its pointer undefined on failure, nothing is left for a
 * cleanup handler to free by mistake.
 */
char *text_printf(const char *fmt, ...) _printf_(1, 2);
