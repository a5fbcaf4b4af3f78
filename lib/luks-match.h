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
 * -EBADMSG when it is not a JSON object or a vhsm token's "kek" is missing, not a string or
 * not a valid KEK name.
 */
int luks_token_kek(const char *json, size_t len, char *out, size_t outlen) _wur_;
