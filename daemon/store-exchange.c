/* SPDX-License-Identifier: Apache-2.0 */
/* BYOK exchange keys (store-exchange.h): sealed like KEKs, in <state>/exchange/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest.h"
#include "secmem.h"
#include "store-exchange.h"
#include "store-file.h"
#include "store-seal.h"

int store_exchange_write(struct manager *m, const char *kek, const char *meta_json,
			 const uint8_t *pt, size_t pt_len, char *why, size_t whylen)
{
	_cleanup_free_ uint8_t *blob = NULL;
	struct seal_params params;
	struct seal_binding binding;
	char label[SEAL_LABEL_MAX + 1], rel[STORE_REL_MAX];
	size_t len;
	int r;

	r = store_rel("exchange", kek, ".sealed", rel);
	if (r < 0)
		return r;
	r = attest_require(m, false, why, whylen);
	if (r < 0)
		return r;
	/* Always the strict profile: an exchange key lives minutes to hours on this CVM. */
	snprintf(label, sizeof(label), "exchange:%s", kek);
	r = store_seal_now(m, SEAL_PROFILE_STRICT, label, meta_json, strlen(meta_json), pt,
			   pt_len, "the exchange key", &params, &binding, &blob, &len, why, whylen);
	if (r < 0)
		return r;
	return store_file_write(m, rel, blob, len, false, NULL, why, whylen);
}

int store_exchange_read(struct manager *m, const char *kek, char **ret_meta, uint8_t **ret_pt,
			size_t *ret_len, char *why, size_t whylen)
{
	_cleanup_free_ uint8_t *blob = NULL;
	_cleanup_secmem_ uint8_t *pt = NULL;
	struct seal_header h;
	char label[SEAL_LABEL_MAX + 1], rel[STORE_REL_MAX];
	size_t len, pt_len;
	char *meta;
	int r;

	r = store_rel("exchange", kek, ".sealed", rel);
	if (r < 0)
		return r;
	r = store_file_read(m, rel, &blob, &len, why, whylen);
	if (r < 0)
		return r;
	snprintf(label, sizeof(label), "exchange:%s", kek);
	if (seal_parse_header(blob, len, &h) < 0 || strcmp(h.label, label) != 0) {
		snprintf(why, whylen, "sealed exchange key for %s is damaged", kek);
		return -EBADMSG;
	}
	r = attest_require(m, false, why, whylen);
	if (r < 0)
		return r;
	r = store_unseal_now(m, &h, blob, len, "the sealed exchange key", &pt, &pt_len, why,
			     whylen);
	if (r < 0)
		return r;
	meta = strndup((const char *)h.meta, h.meta_len);
	if (!meta)
		return -ENOMEM;
	*ret_meta = meta;
	*ret_pt = TAKE_PTR(pt);
	*ret_len = pt_len;
	return 0;
}

int store_exchange_remove(struct manager *m, const char *kek)
{
	char rel[STORE_REL_MAX];
	int r;

	r = store_rel("exchange", kek, ".sealed", rel);
	if (r < 0)
		return r;
	return store_file_remove(m, rel);
}

int store_exchange_mark(struct manager *m, const char *kid, const char *what)
{
	char rel[STORE_REL_MAX];
	int r;

	r = store_rel("exchange", kid, ".spent", rel);
	if (r < 0)
		return r;
	return store_file_put_plain(m, rel, what, strlen(what));
}

int store_exchange_unmark(struct manager *m, const char *kid)
{
	char rel[STORE_REL_MAX];
	int r;

	r = store_rel("exchange", kid, ".spent", rel);
	if (r < 0)
		return r;
	return store_file_remove_plain(m, rel);
}

int store_exchange_spent(struct manager *m, const char *kid, char *buf, size_t len)
{
	_cleanup_free_ uint8_t *data = NULL;
	char rel[STORE_REL_MAX];
	size_t n;
	int r;

	r = store_rel("exchange", kid, ".spent", rel);
	if (r < 0)
		return r;
	if (store_file_get_plain(m, rel, 256, &data, &n) < 0)
		return 0;
	snprintf(buf, len, "%.*s", (int)n, (const char *)data);
	return 1;
}
