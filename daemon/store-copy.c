/* SPDX-License-Identifier: Apache-2.0 */
/* Sealed copies of one KEK version for LUKS2 tokens (store-copy.h). */
#include <stdio.h>
#include <string.h>

#include "attest.h"
#include "kek-meta.h"
#include "secmem.h"
#include "store-copy.h"
#include "store-seal.h"

static int copy_meta(const char *name, uint32_t version, char *buf, size_t len)
{
	int n = snprintf(buf, len, "{\"kek\":\"%s\",\"kek_version\":%u,\"use\":\"luks2-token\"}",
			 name, version);

	return n > 0 && (size_t)n < len ? n : -EINVAL;
}

int store_seal_copy(struct manager *m, const char *name, uint32_t version,
		    enum seal_profile profile, const uint8_t key[static 32], uint8_t **ret_blob,
		    size_t *ret_len, char *why, size_t whylen)
{
	struct seal_params params;
	struct seal_binding binding;
	char meta[160];
	int r, n;

	if (!store_name_valid(name))
		return -EINVAL;
	n = copy_meta(name, version, meta, sizeof(meta));
	if (n < 0)
		return n;
	r = attest_require(m, false, why, whylen);
	if (r < 0)
		return r;
	return store_seal_now(m, profile, name, meta, (size_t)n, key, 32, "the KEK copy", &params,
			      &binding, ret_blob, ret_len, why, whylen);
}

int store_unseal_copy(struct manager *m, const uint8_t *blob, size_t len, const char *name,
		      uint32_t version, uint8_t **ret_key, char *why, size_t whylen)
{
	_cleanup_secmem_ uint8_t *pt = NULL;
	struct seal_header h;
	char meta[160], what[KEK_NAME_MAX + 40];
	size_t pt_len;
	int r, n;

	n = copy_meta(name, version, meta, sizeof(meta));
	if (n < 0 || seal_parse_header(blob, len, &h) < 0 || strcmp(h.label, name) != 0 ||
	    h.meta_len != (size_t)n || memcmp(h.meta, meta, (size_t)n) != 0) {
		snprintf(why, whylen, "token's sealed copy is not one of KEK %s version %u", name,
			 version);
		return -EBADMSG;
	}
	r = attest_require(m, false, why, whylen);
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "token's sealed copy of KEK %s", name);
	r = store_unseal_now(m, &h, blob, len, what, &pt, &pt_len, why, whylen);
	if (r < 0)
		return r;
	if (pt_len != 32) {
		snprintf(why, whylen, "token's sealed copy of KEK %s has a bad length", name);
		return -EBADMSG;
	}
	*ret_key = TAKE_PTR(pt);
	return 0;
}
