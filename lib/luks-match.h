/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which KEK a LUKS2 token names. The vhsm token (type "vhsm", docs/boot-unlock.md) carries
 * the name of the KEK its keyslot secret is wrapped under in "kek"; `kek disable --shred`
 * suspends the active volumes whose header has such a token. Pure; library code, never logs.
 */
#pragma once

#include <stddef.h>

#include "macro.h"

/*
 * Parses one token's JSON (len bytes, not necessarily NUL-terminated). Returns 0 with the KEK
 * name in out (size outlen) for a "vhsm" token, -ENOENT for a token of another type, or
 * -EBADMSG when it is not one strictly valid JSON object (lib/json: a repeated "type" or "kek"
 * is refused, not guessed at) or a vhsm token's "kek" is missing, not a string or not a valid
 * key name. Members other than "type" and "kek" are not looked at: every token type passes.
 */
int luks_token_kek(const char *json, size_t len, char *out, size_t outlen) _wur_;
