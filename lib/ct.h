/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Constant-time helpers for secret data: comparison and hex encoding whose timing does not
 * depend on the bytes. Library code; never logs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/* True when a and b are equal over n bytes; time depends only on n. */
bool ct_memeq(const void *a, const void *b, size_t n);

/*
 * Writes 2*n lowercase hex digits and a NUL to out (which holds 2*n+1 bytes).
 * Constant time in the data.
 */
void ct_hex_encode(char *out, const uint8_t *in, size_t n);

/*
 * Decodes exactly 2*n hex digits (either case) from in[0..inlen) into out[0..n).
 * Returns 0, or -EBADMSG when inlen != 2*n or a character is not hex (out is then wiped).
 * Constant time in the data.
 */
int ct_hex_decode(uint8_t *out, size_t n, const char *in, size_t inlen) _wur_;
