/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which KEK a LUKS2 token names. The vhsm token (type "vhsm", docs/boot-unlock.md) carries
 * the name of the KEK its keyslot secret is wrapped under in "kek"; `kek disable --shred`
 * suspends the active volumes whose header has such a token. Pure; library code, never logs.
 */
#pragma once

#include <stdbool.h>
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

/*
 * Whether header_uuid, the UUID in a LUKS2 header ("8-4-4-4-12" hex), is the UUID the kernel
 * recorded for an active mapping in its dm uuid ("CRYPT-LUKS2-<32 hex>-<name>", as cryptsetup
 * sets it when it opens a LUKS2 volume). The header is on a disk the host can edit; the dm
 * uuid is the kernel's view. Returns 1 when they match, 0 when they differ, -EINVAL when
 * dm_uuid is not a LUKS2 mapping's or header_uuid is not a UUID.
 */
int luks_header_matches_dm_uuid(const char *header_uuid, const char *dm_uuid) _wur_;

/*
 * Whether the parameters of a dm-crypt table line ("<cipher> <key> <iv_offset> <device>
 * <offset> ...", the kernel's view of an active mapping) key it with the kernel keyring key
 * "vhsm:<dek>" (":SIZE:logon:vhsm:<dek>") of one of deks (NULL-terminated). A hex key, another
 * key type or another description is no match. Wipes its copy of the key field.
 */
bool dm_crypt_params_use_dek(const char *params, char *const *deks);
