/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Escaping untrusted text for a terminal or a log line. Bytes that come from outside (bundle
 * member names, certificate fields, daemon replies, file contents quoted in an error) must
 * not move the cursor, erase a line, change colours or reorder text: a message that says
 * "refused" must not be made to look like "VERIFIED". Every tool passes such text, or the
 * whole message that quotes it, through text_escape() before printing it.
 *
 * Kept: printable ASCII and well-formed UTF-8 code points that are neither control
 * characters (C0, DEL, C1) nor bidirectional-text controls. Everything else becomes "\\r",
 * "\\n", "\\t" or "\\xHH" (one per byte). A backslash is kept as it is: text that a daemon
 * already escaped (an invalid name quoted in its message) is not escaped twice. Pure;
 * library code, never logs.
 */
#pragma once

#include <stddef.h>

#include "macro.h"

/* A buffer that holds the escaped form of any message of vhsm's tools (truncated past it). */
#define TEXT_ESCAPE_MAX 1024u

/*
 * Writes the escaped form of s[0..n) into out[0..outlen) (outlen >= 8), NUL-terminated. When
 * it does not fit, the output ends in "..." at a character boundary. s may contain NUL bytes
 * (escaped as \x00); s may be NULL only when n is 0. Returns out.
 */
char *text_escape_mem(const void *s, size_t n, char *out, size_t outlen);

/* text_escape_mem() of a NUL-terminated string; NULL becomes "(null)". Returns out. */
char *text_escape(const char *s, char *out, size_t outlen);

/* Escapes s into a buffer that lives until the end of the enclosing block: printf("%s", ESCAPED(s)). */
#define ESCAPED(s) text_escape((s), (char[TEXT_ESCAPE_MAX]){ 0 }, TEXT_ESCAPE_MAX)
