/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `vhsmctl kek disable` and the initrd (docs/boot-unlock.md): a vhsm token carries a sealed
 * copy of its KEK version so that the initrd's vhsmd, which has no store, can unlock the root
 * volume. The store's "disabled" cannot reach that daemon, so disable takes the copy out of
 * the tokens it finds; `vhsmctl luks rewrap` (with the KEK enabled) puts a new one back. The
 * token keeps its wrapped secret, which only a store holding the enabled KEK unwraps.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "luks-token.h"
#include "luks-withdraw.h"
#include "macro.h"

int luks_withdraw_copies(struct crypt_device *cd, const char *kek, char *why, size_t whylen)
{
	const char *type = crypt_get_type(cd);
	int n = 0;

	if (!type || strcmp(type, CRYPT_LUKS2) != 0) {
		snprintf(why, whylen, "not a LUKS2 header");
		return -ENOTBLK;
	}
	for (int id = 0; id < 32; id++) {
		_cleanup_free_ struct luks_token *t = NULL;
		_cleanup_free_ char *json = NULL;
		const char *cur, *ttype = NULL;
		crypt_token_info ti = crypt_token_status(cd, id, &ttype);
		char pwhy[160];
		int r;

		if (ti != CRYPT_TOKEN_EXTERNAL_UNKNOWN && ti != CRYPT_TOKEN_EXTERNAL)
			continue;
		if (!ttype || strcmp(ttype, LUKS_TOKEN_TYPE) != 0 ||
		    crypt_token_json_get(cd, id, &cur) < 0)
			continue;
		t = calloc(1, sizeof(*t));
		if (!t)
			return -ENOMEM;
		/* A token that does not parse unlocks nowhere: nothing to withdraw. */
		if (luks_token_parse(cur, strlen(cur), t, pwhy, sizeof(pwhy)) < 0 ||
		    strcmp(t->kek, kek) != 0 || t->sealed_kek_len == 0)
			continue;
		t->sealed_kek_len = 0;
		r = luks_token_to_json(t, &json);
		if (r >= 0)
			r = crypt_token_json_set(cd, id, json);
		if (r < 0) {
			snprintf(why, whylen, "cannot rewrite token %d: %s", id, strerror(-r));
			return r;
		}
		n++;
	}
	return n;
}

int luks_withdraw_copies_at(const char *path, const char *kek, char *why, size_t whylen)
{
	struct crypt_device *cd = NULL;
	int r = crypt_init(&cd, path);

	if (r < 0) {
		snprintf(why, whylen, "cannot open: %s", strerror(-r));
		return -ENOTBLK;
	}
	r = crypt_load(cd, CRYPT_LUKS2, NULL);
	if (r < 0) {
		snprintf(why, whylen, "no LUKS2 header");
		crypt_free(cd);
		return -ENOTBLK;
	}
	r = luks_withdraw_copies(cd, kek, why, whylen);
	crypt_free(cd);
	return r;
}
