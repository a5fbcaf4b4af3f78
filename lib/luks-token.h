/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The LUKS2 token of type "vhsm" (docs/boot-unlock.md): parsing and building its JSON.
 *
 *   {"type":"vhsm","keyslots":["N"],"vhsm_version":1,"kek":"NAME","kek_version":V,
 *    "profile":"strict"|"author","policy_digest":"<64 hex>",
 *    "sealed_kek":"<base64>","wrapped_secret":"<base64>"[,"token_timeout":SECONDS]}
 *
 * sealed_kek is a lib/seal blob (label = KEK name) holding one KEK version, so that a daemon
 * without a KEK store (initrd) can unseal it on this CVM; `vhsmctl kek disable` removes it
 * (withdrawn: sealed_kek_len 0, the member absent), so that such a daemon refuses the volume,
 * and `vhsmctl luks rewrap` puts a new one back; wrapped_secret is a lib/wrap blob of
 * the 64-byte keyslot secret under that version, with the context "vhsm-luks2:<LUKS UUID>".
 * token_timeout (optional, 1..LUKS_TOKEN_TIMEOUT_MAX) is how long the plugin waits for vhsmd
 * on this volume. The token holds no secret in the clear. Pure; fuzzed; library code, never logs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "seal.h"

#define LUKS_TOKEN_TYPE "vhsm"
#define LUKS_TOKEN_VERSION 1u
#define LUKS_TOKEN_JSON_MAX 4096u       /* whole token JSON, bytes */
#define LUKS_TOKEN_SEALED_MAX 2048u     /* sealed KEK copy, bytes (decoded) */
#define LUKS_TOKEN_WRAPPED_MAX 512u     /* wrapped secret, bytes (decoded) */
#define LUKS_TOKEN_KEK_NAME_MAX 64u
#define LUKS_SECRET_SIZE 64u            /* keyslot secret, bytes */
/* The keyslot passphrase is the base64 of the secret (as systemd's tokens do). */
#define LUKS_PASSPHRASE_LEN 88u
#define LUKS_CONTEXT_PREFIX "vhsm-luks2:"
#define LUKS_UUID_MAX 64u
#define LUKS_TOKEN_TIMEOUT_MAX 600u     /* token_timeout, seconds */

struct luks_token {
	unsigned keyslot;
	char kek[LUKS_TOKEN_KEK_NAME_MAX + 1];
	uint32_t kek_version;
	enum seal_profile profile;
	uint8_t policy_digest[32];
	uint8_t sealed_kek[LUKS_TOKEN_SEALED_MAX];
	size_t sealed_kek_len;
	uint8_t wrapped_secret[LUKS_TOKEN_WRAPPED_MAX];
	size_t wrapped_secret_len;
	uint32_t token_timeout; /* seconds; 0: the member is absent (the plugin's default) */
};

/*
 * Parses and checks token JSON json[0..len) (not necessarily NUL-terminated): every member
 * present (sealed_kek and token_timeout may be absent) with its type and length, no unknown member, the blobs well formed and consistent
 * with kek/kek_version/profile. Returns 0, -EMSGSIZE (over LUKS_TOKEN_JSON_MAX) or -EBADMSG
 * with the offending member named in why (why may be NULL).
 */
int luks_token_parse(const char *json, size_t len, struct luks_token *ret, char *why,
		     size_t whylen) _wur_;

/* Builds the JSON of t (checked as luks_token_parse would). Returns 0 and a malloc'ed string,
 * or -EINVAL / -ENOMEM. */
int luks_token_to_json(const struct luks_token *t, char **ret) _wur_;

/* True for a KEK name vhsmd accepts: 1..64 of [A-Za-z0-9_.-], not starting with '.' or '-'. */
bool luks_token_kek_name_valid(const char *name);

/*
 * The wrap context of a volume's keyslot secret: "vhsm-luks2:" + uuid into buf. Returns its
 * length, or -EINVAL for an empty or too long (> LUKS_UUID_MAX) or non-printable uuid.
 */
int luks_token_context(const char *uuid, char *buf, size_t buflen) _wur_;
