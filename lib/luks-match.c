/* SPDX-License-Identifier: Apache-2.0 */
/* Which KEK a LUKS2 token names (see luks-match.h). */
#include <json-c/json.h>
#include <string.h>

#include "keyring.h"
#include "luks-match.h"

int luks_token_kek(const char *json, size_t len, char *out, size_t outlen)
{
	json_tokener *tok;
	json_object *o, *v;
	char desc[KEYRING_DEK_NAME_MAX + 16];
	int r = -EBADMSG;

	if (len > 64u * 1024u || len > INT32_MAX)
		return -EBADMSG;
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	o = json_tokener_parse_ex(tok, json, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len || !json_object_is_type(o, json_type_object))
		goto out;
	if (!json_object_object_get_ex(o, "type", &v) || !json_object_is_type(v, json_type_string))
		goto out;
	if (strcmp(json_object_get_string(v), "vhsm") != 0) {
		r = -ENOENT;
		goto out;
	}
	if (!json_object_object_get_ex(o, "kek", &v) || !json_object_is_type(v, json_type_string))
		goto out;
	/* The KEK name rule is the DEK name rule (keyring.h). */
	if (keyring_dek_description(json_object_get_string(v), desc, sizeof(desc)) < 0 ||
	    keyring_dek_name(desc, out, outlen) < 0)
		goto out;
	r = 0;
out:
	json_object_put(o);
	json_tokener_free(tok);
	return r;
}
