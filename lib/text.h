/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Text rules shared by everything that accepts a name from outside: KEK names on the wire,
 * seal labels and wrapped-key names. A name ends up in file names, log lines and terminals,
 * so all of them follow the one rule below. Pure; library code, never logs.
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
