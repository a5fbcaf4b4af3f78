/* SPDX-License-Identifier: Apache-2.0 */
/* Which KEK a LUKS2 token names (see luks-match.h). */
#include <string.h>

#include "json.h"
#include "luks-match.h"
#include "text.h"

/* The size libcryptsetup allows for a whole LUKS2 JSON area is larger; one token is small. */
#define LUKS_MATCH_TOKEN_MAX (64u * 1024u)

/* A string member's value, or NULL when it is absent or not a string. */
static const char *member_string(struct json_object *o, const char *key, size_t *ret_len)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	*ret_len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

int luks_token_kek(const char *json, size_t len, char *out, size_t outlen)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	const char *s;
	size_t n;

	/* Tokens of every type pass through here, so only the syntax is strict (lib/json);
	 * members are looked up by name, since another type's members are not ours to know. */
	if (json_parse(json, len, LUKS_MATCH_TOKEN_MAX, "token", &o, NULL, 0) < 0)
		return -EBADMSG;
	s = member_string(o, "type", &n);
	if (!s)
		return -EBADMSG;
	if (n != 4 || memcmp(s, "vhsm", 4) != 0)
		return -ENOENT;
	s = member_string(o, "kek", &n);
	if (!s || !text_key_name_valid_n(s, n) || n >= outlen)
		return -EBADMSG;
	memcpy(out, s, n + 1);
	return 0;
}
