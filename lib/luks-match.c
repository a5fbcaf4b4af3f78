/* SPDX-License-Identifier: Apache-2.0 */
/* Which KEK a LUKS2 token names (see luks-match.h). */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "json.h"
#include "keyring.h"
#include "luks-match.h"
#include "secmem.h"
#include "text.h"

/* The size libcryptsetup allows for a whole LUKS2 JSON area is larger; one token is small. */
#define LUKS_MATCH_TOKEN_MAX (64u * 1024u)

int luks_token_kek(const char *json, size_t len, char *out, size_t outlen)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	const char *s;
	size_t n;

	/* Tokens of every type pass through here, so only the syntax is strict (lib/json);
	 * members are looked up by name, since another type's members are not ours to know. */
	if (json_parse(json, len, LUKS_MATCH_TOKEN_MAX, "token", &o, NULL, 0) < 0)
		return -EBADMSG;
	if (json_member_string(o, "token", "type", 0, &s, &n, NULL, 0) < 0)
		return -EBADMSG;
	if (n != 4 || memcmp(s, "vhsm", 4) != 0)
		return -ENOENT;
	if (json_member_string(o, "token", "kek", 0, &s, &n, NULL, 0) < 0 ||
	    !text_key_name_valid_n(s, n) || n >= outlen)
		return -EBADMSG;
	memcpy(out, s, n + 1);
	return 0;
}

int luks_header_matches_dm_uuid(const char *header_uuid, const char *dm_uuid)
{
	static const char prefix[] = "CRYPT-LUKS2-";
	char hex[33];
	size_t n = 0;

	if (!header_uuid || !dm_uuid || strncmp(dm_uuid, prefix, strlen(prefix)) != 0)
		return -EINVAL;
	dm_uuid += strlen(prefix);
	for (size_t i = 0; i < 32; i++)
		if (!isxdigit((unsigned char)dm_uuid[i]))
			return -EINVAL;
	if (dm_uuid[32] != '-' || dm_uuid[33] == '\0')
		return -EINVAL;
	/* The header's UUID without its dashes, which must sit where RFC 4122 puts them. */
	for (size_t i = 0; header_uuid[i]; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash != (header_uuid[i] == '-') || (!dash && !isxdigit((unsigned char)header_uuid[i])))
			return -EINVAL;
		if (!dash) {
			if (n == 32)
				return -EINVAL;
			hex[n++] = (char)tolower((unsigned char)header_uuid[i]);
		}
	}
	if (n != 32)
		return -EINVAL;
	for (size_t i = 0; i < 32; i++)
		if (hex[i] != tolower((unsigned char)dm_uuid[i]))
			return 0;
	return 1;
}

bool dm_crypt_params_use_dek(const char *params, char *const *deks)
{
	char key[160], want[96];
	CLEANUP_ERASE(key);
	const char *sp = strchr(params, ' '), *end;
	size_t n;

	/* "<cipher> <key> <iv_offset> <device> <offset> ..." */
	if (!sp)
		return false;
	end = strchr(sp + 1, ' ');
	n = end ? (size_t)(end - sp - 1) : strlen(sp + 1);
	if (n >= sizeof(key))
		return false;
	memcpy(key, sp + 1, n);
	key[n] = 0;
	/* ":SIZE:logon:DESCRIPTION"; anything else may be another mapping's key in hex. */
	bool found = false;
	const char *t = key[0] == ':' ? strchr(key + 1, ':') : NULL;
	if (t && strncmp(t, ":" KEYRING_DEK_TYPE ":", strlen(KEYRING_DEK_TYPE) + 2) == 0) {
		t += strlen(KEYRING_DEK_TYPE) + 2;
		for (char *const *d = deks; *d && !found; d++)
			found = keyring_dek_description(*d, want, sizeof(want)) == 0 &&
				strcmp(t, want) == 0;
	}
	return found;
}
