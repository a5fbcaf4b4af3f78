/* SPDX-License-Identifier: Apache-2.0 */
/*
 * LUKS2 "vhsm" token JSON fuzzer: arbitrary bytes to luks_token_parse(). An accepted token must
 * build back to JSON that parses to the same values (the builder and the parser agree).
 */
#include <stdlib.h>
#include <string.h>

#include "luks-token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct luks_token t, u;
	char why[256], *json = NULL;
	int r;

	r = luks_token_parse((const char *)data, size, &t, why, sizeof(why));
	if (r < 0) {
		if (r != -EBADMSG && r != -EMSGSIZE && r != -ENOMEM)
			abort();
		return 0;
	}
	if (size > LUKS_TOKEN_JSON_MAX || luks_token_to_json(&t, &json) < 0)
		abort();
	if (luks_token_parse(json, strlen(json), &u, why, sizeof(why)) < 0 ||
	    u.keyslot != t.keyslot || strcmp(u.kek, t.kek) != 0 || u.kek_version != t.kek_version ||
	    u.profile != t.profile || memcmp(u.policy_digest, t.policy_digest, 32) != 0 ||
	    u.sealed_kek_len != t.sealed_kek_len ||
	    memcmp(u.sealed_kek, t.sealed_kek, t.sealed_kek_len) != 0 ||
	    u.wrapped_secret_len != t.wrapped_secret_len ||
	    memcmp(u.wrapped_secret, t.wrapped_secret, t.wrapped_secret_len) != 0)
		abort();
	free(json);
	return 0;
}
